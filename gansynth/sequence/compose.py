"""Compose scores with a loaded sequence model, and play them through the GAN renderer.

The Python side of `gansynth compose`; scores in and out are `gansynth.score.Score`s:

    loaded = load_sequence_model(DEFAULT_MODEL)
    scores = compose(loaded, SamplingOptions(seconds=30), primer=score_from_midi("a.mid"), seed=1)
    score_to_midi(scores[0], "b.mid")
    render_to_audio(Synthesizer.load(), scores[0], "b.wav", timbre=3)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gansynth.errors import BadInputError
from gansynth.io import write_audio
from gansynth.score import Score
from gansynth.sequence.export import SequenceModel
from gansynth.sequence.sampling import SamplingOptions, blend_tokens, continue_tokens

if TYPE_CHECKING:
    from gansynth.synth import Synthesizer


def compose(loaded: SequenceModel, options: SamplingOptions, *, primer: Score | None = None,
            blend: tuple[Score, Score] | None = None, num: int = 1, seed: int = 0) -> list[Score]:
    """`num` new scores (one batch): free, continuing `primer` (the score starts with the
    primer), or generated from the mean state of the two `blend` pieces. Each is one piano track
    on the tokenizer's time grid (see `EventTokenizer.decode`); the primer and blend pieces are
    read with all their pitched tracks merged."""
    if primer is not None and blend is not None:
        raise BadInputError("give a primer or two pieces to blend, not both")
    tokenizer = loaded.tokenizer
    for piece in ([primer] if primer is not None else []) + list(blend or ()):
        if not piece.pitched_notes():
            raise BadInputError(f"{piece.path}: a primer or blend piece needs pitched notes; it "
                                "has none (drum notes are not modelled)")
    if blend is not None:
        first, second = (tokenizer.encode(piece) for piece in blend)
        samples = blend_tokens(loaded.model, tokenizer, first, second, options, num=num, seed=seed)
        prefix: list[int] = []
    else:
        prefix = tokenizer.encode(primer) if primer is not None else []
        samples = continue_tokens(loaded.model, tokenizer, prefix, options, num=num, seed=seed)
    return [tokenizer.decode(prefix + ids) for ids in samples]


def render_to_audio(synth: Synthesizer, score: Score, audio_path: str | os.PathLike[str],
                    timbre: int = 0, progress: bool = False) -> float:
    """Render a score through `gansynth.render.render_score` with the timbre seed `timbre` (a
    composed score has one track; in other scores track i gets `timbre + i`) and write it (WAV or
    FLAC by suffix, atomically). Returns the audio length in seconds."""
    from gansynth.render import render_score

    result = render_score(synth, score, seed=timbre, timbres={0: timbre}, progress=progress)
    write_audio(audio_path, result.audio, result.sample_rate)
    return float(result.audio.shape[0] / result.sample_rate)
