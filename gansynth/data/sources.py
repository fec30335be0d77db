"""Open a note dataset by what its path is: an NSynth JSON/WAV folder or a TFRecord file."""

from __future__ import annotations

import os
from pathlib import Path

from gansynth.data.notes import NSYNTH_SPECTRAL, NoteSource
from gansynth.errors import BadInputError


def open_source(path: str | os.PathLike[str], skip_bad: bool = False, strict: bool = False,
                check_audio: bool = True, sample_rate: int = NSYNTH_SPECTRAL.sample_rate,
                note_length: int = NSYNTH_SPECTRAL.audio_length) -> NoteSource:
    """An NSynth folder or TFRecord file (chosen by what `path` is) whose `load_audio` gives
    (note_length,) float32 at `sample_rate` (pass the model's `SpectralConfig` values)."""
    p = Path(path)
    if p.is_dir():
        from gansynth.data.nsynth import NSynthFolder

        return NSynthFolder(p, skip_bad=skip_bad, strict=strict, check_audio=check_audio,
                            sample_rate=sample_rate, note_length=note_length)
    if p.is_file():
        from gansynth.data.tfrecord import NSynthTFRecord

        return NSynthTFRecord(p, skip_bad=skip_bad, strict=strict, sample_rate=sample_rate,
                              note_length=note_length)
    raise BadInputError(f"{p}: dataset not found; data.path must be an NSynth-style folder "
                        "(examples.json + audio/) or a .tfrecord file (build one with "
                        "`gansynth data build-gm`)")
