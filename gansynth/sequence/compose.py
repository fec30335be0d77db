"""Compose scores with a loaded sequence model, and play them through the GAN renderer.

The Python side of `gansynth compose`; scores in and out are `gansynth.score.Score`s:

    loaded = load_sequence_model(DEFAULT_MODEL)
    scores = compose(loaded, SamplingOptions(seconds=30), primer=score_from_midi("a.mid"), seed=1)
    score_to_midi(scores[0], "b.mid")
    render_to_audio(Synthesizer.load(), scores[0], "b.mp3", timbre=3, bitrate_kbps=96)
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from gansynth.errors import BadInputError
from gansynth.io import check_audio_settings, write_audio
from gansynth.score import Score, score_from_notes
from gansynth.sequence.export import SequenceModel
from gansynth.sequence.sampling import (
    MAX_SECONDS,
    SamplingOptions,
    blend_tokens,
    continue_tokens,
    prime_state,
)
from gansynth.sequence.tokenizer import NOTE_ON, REFERENCE_BPM, VELOCITY

if TYPE_CHECKING:
    from gansynth.synth import Synthesizer


@torch.no_grad()
def model_velocity(loaded: SequenceModel, pitch: int = 60) -> int:
    """The velocity the model finds likeliest for a first note (of `pitch`, or the nearest in its
    range): the level its training corpus played at."""
    tokenizer = loaded.tokenizer
    table = tokenizer.table
    ons = np.nonzero(table.kind == NOTE_ON)[0]
    note_on = int(ons[np.argmin(np.abs(table.value[ons] - pitch))])
    logits = loaded.model.logits_from_state(prime_state(loaded.model, tokenizer, [note_on]))[0]
    velocities = np.nonzero(table.kind == VELOCITY)[0]
    best = velocities[int(torch.argmax(logits[torch.as_tensor(velocities)]))]
    return int(table.value[best])


def _scaled_velocities(score: Score, factor: float) -> Score:
    notes = [replace(n, velocity=int(np.clip(round(n.velocity * factor), 1, 127))) for n in score.notes]
    return score_from_notes(notes, path=score.path, track_names={t.index: t.name for t in score.tracks},
                            tempos=score.tempos)


def compose(loaded: SequenceModel, options: SamplingOptions, *, primer: Score | None = None,
            blend: tuple[Score, Score] | None = None, num: int = 1, seed: int = 0,
            match_dynamics: bool = True) -> list[Score]:
    """`num` new scores (one batch): free, continuing `primer` (the score starts with the
    primer), or generated from the mean LSTM state of the two `blend` pieces. Each is one piano
    track on the tokenizer's beat grid (see `EventTokenizer.decode`); the primer and blend
    pieces are read with all their pitched tracks merged.

    Tempo: time is counted in beats, and a continuation is played at the primer's starting tempo
    (`Score.qpm`; 120 without a primer), which the score keeps; `options.seconds` is real time at
    that tempo. match_dynamics: the primer is shown to the model at the model's own level
    (`model_velocity`, by scaling its velocities so that their median lands there) and the
    output is scaled back, so a primer played softer or louder than the training corpus
    continues as well as one at its level and the continuation keeps the primer's dynamics.
    """
    if primer is not None and blend is not None:
        raise BadInputError("give a primer or two pieces to blend, not both")
    tokenizer = loaded.tokenizer
    for piece in ([primer] if primer is not None else []) + list(blend or ()):
        if not piece.pitched_notes():
            raise BadInputError(f"{piece.path}: a primer or blend piece needs pitched notes; it "
                                "has none (drum notes are not modelled)")
    qpm = primer.qpm if primer is not None else REFERENCE_BPM
    reference_seconds = options.seconds * qpm / REFERENCE_BPM  # the model's clock: 120 bpm
    if reference_seconds > MAX_SECONDS:
        raise BadInputError(f"{options.seconds:g} s at the primer's {qpm:g} bpm is more than "
                            f"{MAX_SECONDS:g} s of music at 120 bpm; ask for fewer seconds")
    model_options = replace(options, seconds=reference_seconds)
    factor = 1.0
    if primer is not None and match_dynamics:
        factor = model_velocity(loaded) / float(np.median([n.velocity for n in primer.pitched_notes()]))
    if blend is not None:
        first, second = (tokenizer.encode(piece) for piece in blend)
        samples = blend_tokens(loaded.model, tokenizer, first, second, model_options, num=num, seed=seed)
        prefix: list[int] = []
    else:
        prefix = tokenizer.encode(_scaled_velocities(primer, factor)) if primer is not None else []
        samples = continue_tokens(loaded.model, tokenizer, prefix, model_options, num=num, seed=seed)
    scores = [tokenizer.decode(prefix + ids, qpm=qpm) for ids in samples]
    return [_scaled_velocities(score, 1.0 / factor) if factor != 1.0 else score for score in scores]


def render_to_audio(synth: Synthesizer, score: Score, audio_path: str | os.PathLike[str],
                    timbre: int = 0, progress: bool = False, bitrate_kbps: int | None = None,
                    timbre_by: str = "track") -> float:
    """Render a score through `gansynth.render.render_score` with the timbre seed `timbre` (a
    composed score has one track; in other scores track i gets `timbre + i`; with timbre_by
    "family", each track's timbre is searched for its GM program's instrument family, from
    seed `timbre`) and write it (WAV, FLAC or MP3 at `bitrate_kbps` by suffix, atomically; see
    `gansynth.io.write_audio`). The output settings are checked before rendering. Returns the
    audio length in seconds."""
    from gansynth.render import render_score

    check_audio_settings(audio_path, synth.sample_rate, bitrate_kbps)
    pinned = {} if timbre_by == "family" else {0: timbre}
    result = render_score(synth, score, seed=timbre, timbre_by=timbre_by, timbres=pinned,
                          progress=progress)
    write_audio(audio_path, result.audio, result.sample_rate, bitrate_kbps=bitrate_kbps)
    return float(result.audio.shape[0] / result.sample_rate)
