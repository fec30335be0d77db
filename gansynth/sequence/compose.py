"""Compose scores with a loaded sequence model, and play them through the GAN renderer.

The Python side of `gansynth compose`:

    loaded = load_sequence_model(DEFAULT_MODEL)
    scores = compose(loaded, SamplingOptions(seconds=30), primer=notes_from_midi("a.mid"), seed=1)
    write_midi("b.mid", scores[0])
    render_midi(Synthesizer.load(), "b.mid", "b.wav", timbre=3)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gansynth.errors import BadInputError
from gansynth.io import write_audio
from gansynth.sequence.export import SequenceModel
from gansynth.sequence.sampling import SamplingOptions, blend_tokens, continue_tokens
from gansynth.sequence.tokenizer import MidiScore, Notes

if TYPE_CHECKING:
    from gansynth.synth import Synthesizer


def compose(loaded: SequenceModel, options: SamplingOptions, *, primer: Notes | None = None,
            blend: tuple[Notes, Notes] | None = None, num: int = 1, seed: int = 0) -> list[MidiScore]:
    """`num` new scores (one batch): free, continuing `primer` (the score starts with the
    primer), or generated from the mean state of the two `blend` pieces."""
    if primer is not None and blend is not None:
        raise BadInputError("give a primer or two pieces to blend, not both")
    tokenizer = loaded.tokenizer
    for piece in ([primer] if primer is not None else []) + list(blend or ()):
        if len(piece) == 0:
            raise BadInputError("a primer or blend piece has no notes")
    if blend is not None:
        first, second = (tokenizer.encode(piece) for piece in blend)
        samples = blend_tokens(loaded.model, tokenizer, first, second, options, num=num, seed=seed)
        prefix: list[int] = []
    else:
        prefix = tokenizer.encode(primer) if primer is not None else []
        samples = continue_tokens(loaded.model, tokenizer, prefix, options, num=num, seed=seed)
    return [tokenizer.decode(prefix + ids) for ids in samples]


def render_midi(synth: Synthesizer, midi_path: str | os.PathLike[str], audio_path: str | os.PathLike[str],
                timbre: int = 0, progress: bool = False) -> float:
    """Render a composed MIDI file through `gansynth.render.render_score` with one timbre seed
    and write it (WAV or FLAC by suffix, atomically). Returns the audio length in seconds."""
    from gansynth.render import render_score

    result = render_score(synth, midi_path, seed=timbre, timbres={0: timbre}, progress=progress)
    write_audio(audio_path, result.audio, result.sample_rate)
    return float(result.audio.shape[0] / result.sample_rate)
