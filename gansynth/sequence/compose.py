"""Compose scores with a loaded sequence model, and play them through the GAN renderer.

The Python side of `gansynth compose`; scores in and out are `gansynth.score.Score`s:

    loaded = load_sequence_model(DEFAULT_MODEL)
    scores = compose(loaded, SamplingOptions(seconds=30), primer=score_from_midi("a.mid"), seed=1)
    score_to_midi(scores[0], "b.mid")
    render_to_audio(Synthesizer.load(), scores[0], "b.mp3", timbre=3, bitrate_kbps=96)
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import torch

from gansynth.errors import BadInputError
from gansynth.io import check_audio_settings, write_audio
from gansynth.score import Score, median_onset_gap, score_from_notes
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


# Pace matching: the metrical levels a primer can be shown at (a primer's beat counted as this
# many of the model's beats), tried in this order (ties keep the earlier), and the probes that
# choose one: this long, drawn with the output's seed plus PACE_PROBE_SEED, so that the output is
# a fresh draw at the chosen level rather than the probe that chose it.
PACE_LEVELS = (1.0, 0.5, 2.0)
PACE_PROBE_SECONDS = 8.0
PACE_PROBE_SAMPLES = 4
PACE_PROBE_SEED = 7919


def _restyled(score: Score, velocity_factor: float = 1.0,
              tempos: list[tuple[float, float]] | None = None) -> Score:
    """The score with every velocity multiplied by velocity_factor (kept in 1..127) and / or its
    notes (seconds unchanged) under the tempo map `tempos` (None: the score's own)."""
    notes = [replace(n, velocity=int(np.clip(round(n.velocity * velocity_factor), 1, 127)))
             for n in score.notes] if velocity_factor != 1.0 else list(score.notes)
    return score_from_notes(notes, path=score.path, track_names={t.index: t.name for t in score.tracks},
                            tempos=score.tempos if tempos is None else tempos)


def _level_tempos(score: Score, level: float) -> list[tuple[float, float]]:
    """The score's tempo map with every tempo multiplied by `level`: its beat counts `level` beats."""
    return [(t, q * level) for t, q in score.tempos or ((0.0, score.qpm),)]


def _at_level(score: Score, level: float) -> Score:
    """The score (seconds unchanged) with each beat counted as `level` beats."""
    return _restyled(score, tempos=_level_tempos(score, level))


def _reference_seconds(seconds: float, primer: Score, level: float) -> float:
    """`seconds` at the primer's tempo, each of its beats read as `level` beats, in seconds of
    the model's clock (REFERENCE_BPM)."""
    return seconds * primer.qpm * level / REFERENCE_BPM


def _continuations(loaded: SequenceModel, options: SamplingOptions, primer: Score, level: float,
                   velocity_factor: float, num: int, seed: int) -> list[Score]:
    """`num` scores that start with `primer` and continue it, the primer shown to the model with
    its velocities times velocity_factor and each of its beats counted as `level` beats;
    returned at the primer's (starting) tempo and dynamics."""
    tokenizer = loaded.tokenizer
    qpm = primer.qpm * level  # the tempo at which the model's beats are played back
    reference_seconds = _reference_seconds(options.seconds, primer, level)
    if reference_seconds > MAX_SECONDS:
        raise BadInputError(f"{options.seconds:g} s at the primer's {primer.qpm:g} bpm is more than "
                            f"{MAX_SECONDS:g} s of music at 120 bpm; ask for fewer seconds")
    prefix = tokenizer.encode(_restyled(primer, velocity_factor, _level_tempos(primer, level)))
    samples = continue_tokens(loaded.model, tokenizer, prefix, replace(options, seconds=reference_seconds),
                              num=num, seed=seed)
    return [_restyled(tokenizer.decode(prefix + ids, qpm=qpm), 1.0 / velocity_factor, [(0.0, primer.qpm)])
            for ids in samples]


def choose_pace(loaded: SequenceModel, options: SamplingOptions, primer: Score, velocity_factor: float = 1.0,
                seed: int = 0) -> float:
    """The metrical level (one of PACE_LEVELS) at which the model continues `primer` with the
    primer's median gap between onsets: probe continuations at each level, and the level whose
    median continuation gap is nearest the primer's (in ratio) wins. 1 when the primer has fewer
    than two onset times; a level at which `options.seconds` would be more than MAX_SECONDS of
    music at 120 bpm is not tried."""
    gap = median_onset_gap(primer.pitched_notes())
    if not math.isfinite(gap) or gap <= 0:
        return 1.0
    probe = replace(options, seconds=min(options.seconds, PACE_PROBE_SECONDS))
    end = primer.end_s - 1e-6
    best, best_error = 1.0, math.inf
    for level in PACE_LEVELS:
        if level != 1.0 and _reference_seconds(options.seconds, primer, level) > MAX_SECONDS:
            continue  # the output would be more music than sampling allows at this level
        scores = _continuations(loaded, probe, primer, level, velocity_factor, PACE_PROBE_SAMPLES,
                                seed + PACE_PROBE_SEED)
        gaps = [median_onset_gap([n for n in s.notes if n.start_s >= end]) for s in scores]
        gaps = [g for g in gaps if math.isfinite(g) and g > 0]
        error = abs(math.log(float(np.median(gaps)) / gap)) if gaps else math.inf
        if error < best_error:
            best, best_error = level, error
    return best


def compose(loaded: SequenceModel, options: SamplingOptions, *, primer: Score | None = None,
            blend: tuple[Score, Score] | None = None, num: int = 1, seed: int = 0,
            match_dynamics: bool = True, match_pace: bool = True) -> list[Score]:
    """`num` new scores (one batch): free, continuing `primer` (the score starts with the
    primer), or generated from the mean LSTM state of the two `blend` pieces. Each is one piano
    track on the tokenizer's beat grid (see `EventTokenizer.decode`); the primer and blend
    pieces are read with all their pitched tracks merged.

    Tempo: time is counted in beats, and a continuation is played at the primer's starting tempo
    (`Score.qpm`; 120 without a primer), which the score keeps; `options.seconds` is real time at
    that tempo. match_pace: the model has a pace of its own (a quarter-note chorale is continued
    in eighths), so the primer is shown to it at the metrical level (`choose_pace`: its beat as
    1, 1/2 or 2 of the model's beats) at which short probe continuations keep the primer's median
    gap between onsets; the output is a fresh draw at that level, played back at the primer's
    tempo. match_dynamics: the primer is shown to the model at the model's own level
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
    if primer is not None:
        factor = 1.0
        if match_dynamics:
            factor = model_velocity(loaded) / float(np.median([n.velocity for n in primer.pitched_notes()]))
        level = choose_pace(loaded, options, primer, factor, seed) if match_pace else 1.0
        return _continuations(loaded, options, primer, level, factor, num, seed)
    if blend is not None:
        first, second = (tokenizer.encode(piece) for piece in blend)
        samples = blend_tokens(loaded.model, tokenizer, first, second, options, num=num, seed=seed)
    else:
        samples = continue_tokens(loaded.model, tokenizer, [], options, num=num, seed=seed)
    return [tokenizer.decode(ids, qpm=REFERENCE_BPM) for ids in samples]


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
