"""The NSynth JSON/WAV reader (docs/data.md), which reads FLAC as well.

Layout: `<folder>/examples.json` maps each `note_str` to its metadata; `<folder>/audio/<note_str>.wav`
or `<folder>/audio/<note_str>.flac` holds the note's audio (NSynth: 4 s of 16 kHz mono 16-bit PCM;
FLAC stores the same samples in 30-40% of the bytes). A folder may mix the two, one file per note:
a note with both files is refused (`find_note_audio`). `NSynthFolder` is a `NoteSource`: its notes
are validated `NoteMeta`, and `load_audio` fits each file to the source's sample rate and note
length (see `gansynth.data.notes`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from gansynth.data.notes import (
    NSYNTH_SPECTRAL,
    BadDataReport,
    NoteMeta,
    NoteSource,
    fail_or_skip,
    fit_audio,
    note_from_fields,
)
from gansynth.errors import BadInputError


def _no_duplicate_keys(where: str, report: BadDataReport | None):  # type: ignore[no-untyped-def]
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                if isinstance(value, dict) and "pitch" in value:  # a duplicated note id
                    fail_or_skip(report, "duplicate id",
                                 f"{where}: note id {key!r} appears twice; ids must be unique "
                                 "(remove one entry, or set data.skip_bad to keep the first)")
                    continue
                raise BadInputError(f"{where}: key {key!r} appears twice in one JSON object")
            out[key] = value
        return out
    return hook


def read_examples_json(path: str | os.PathLike[str],
                       report: BadDataReport | None = None) -> list[NoteMeta]:
    """Parse an NSynth `examples.json` into notes in file order.

    report: None -> the first problem raises BadInputError; a report -> bad entries are skipped
    and counted there. A file that is not valid JSON always raises.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"{p}: examples.json not found; point data.path at an NSynth-style folder "
                            "(examples.json + audio/*.wav or *.flac) or a .tfrecord file")
    try:
        data = json.loads(p.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_keys(str(p), report))
    except json.JSONDecodeError as err:
        raise BadInputError(f"{p}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
                            "repair or regenerate the file") from err
    except UnicodeDecodeError as err:
        raise BadInputError(f"{p}: not UTF-8 text; is this really examples.json?") from err
    if not isinstance(data, dict):
        raise BadInputError(f"{p}: expected a JSON object mapping note_str to metadata")
    notes = []
    for note_str, fields in data.items():
        try:
            if not isinstance(fields, dict):
                raise BadInputError(f"{p}: entry {note_str!r} is not an object of metadata fields")
            notes.append(note_from_fields(note_str, fields, str(p)))
        except BadInputError as err:
            fail_or_skip(report, "bad metadata", str(err))
    return notes


# ---------------------------------------------------------------------------------------------
# audio

# the audio files a note may have, in the order they are named in messages (libsndfile reads both)
AUDIO_FORMATS = ("wav", "flac")


def find_note_audio(audio_dir: Path, note_str: str) -> Path:
    """The audio file of one note: `<audio_dir>/<note_str>.wav` or `.flac`, whichever exists.

    Raises BadInputError naming both paths when neither exists, or when both do: a folder may mix
    WAV and FLAC, but which of two files is the note is not guessed (they may differ).
    """
    wav, flac = (audio_dir / f"{note_str}.{ext}" for ext in AUDIO_FORMATS)
    found = [path for path in (wav, flac) if path.is_file()]
    if len(found) == 1:
        return found[0]
    if found:
        raise BadInputError(f"{wav} and {flac.name}: two audio files for one note; delete one of them "
                            "(a folder may mix WAV and FLAC, one file per note)")
    raise BadInputError(f"{wav} (or {flac.name}): audio file missing; restore it, remove its entry from "
                        "examples.json, or set data.skip_bad")


def _read_samples(path: Path) -> tuple[np.ndarray, int]:
    """One WAV or FLAC file's samples as float32 (samples,) or (samples, channels) and its rate.

    16-bit PCM reads as int16 / 32768 from either format, so a FLAC copy of a WAV gives the same
    floats."""
    import soundfile as sf

    if not path.is_file():
        raise BadInputError(f"{path}: audio file missing; restore it, remove its entry from "
                            "examples.json, or set data.skip_bad")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise BadInputError(f"{path}: not a readable audio file ({err}); regenerate it or set "
                            "data.skip_bad") from err
    return audio, int(rate)


def read_audio_file(path: Path, strict: bool = False, sample_rate: int = NSYNTH_SPECTRAL.sample_rate,
                    length: int = NSYNTH_SPECTRAL.audio_length) -> np.ndarray:
    """One note's WAV or FLAC file -> (length,) float32 in [-1, 1] at `sample_rate` (see `fit_audio`)."""
    audio, rate = _read_samples(path)
    return fit_audio(audio, rate, str(path), strict, sample_rate, length)


def check_audio_file(path: Path, strict: bool, sample_rate: int) -> tuple[int, int]:
    """Cheap header check of one WAV or FLAC file (exists, decodable header; with `strict`, at
    `sample_rate`), raising BadInputError. Returns its (frames, sample rate)."""
    import soundfile as sf

    if not path.is_file():
        raise BadInputError(f"{path}: audio file missing; restore it, remove its entry from "
                            "examples.json, or set data.skip_bad")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise BadInputError(f"{path}: not a readable audio file ({err}); regenerate it or set "
                            "data.skip_bad") from err
    if info.frames == 0:
        raise BadInputError(f"{path}: audio file has no samples; regenerate it or set data.skip_bad")
    if strict and info.samplerate != sample_rate:
        raise BadInputError(f"{path}: sample rate {info.samplerate} Hz, expected {sample_rate} Hz "
                            "(strict mode); resample the file or unset data.strict to resample on load")
    return int(info.frames), int(info.samplerate)


class NSynthFolder(NoteSource):
    """An NSynth JSON/WAV folder: `examples.json` + `audio/<note_str>.wav` or `.flac` per note.

    skip_bad: skip and count notes whose metadata is malformed or duplicated, and (with
    `check_audio`) whose audio file is missing, unreadable or doubled (a .wav and a .flac);
    otherwise the first problem raises.
    check_audio: check every audio file's header when opened (cheap): missing or unreadable files,
    and short or long audio, counted in `report` (`NoteSource.check_length`).
    strict: refuse audio at another sample rate, or short or long, instead of fitting it.
    sample_rate, note_length: what `load_audio` returns (the model's `SpectralConfig`).
    """

    def __init__(self, path: str | os.PathLike[str], skip_bad: bool = False, strict: bool = False,
                 check_audio: bool = True, sample_rate: int = NSYNTH_SPECTRAL.sample_rate,
                 note_length: int = NSYNTH_SPECTRAL.audio_length) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise BadInputError(f"{self.path}: dataset folder not found")
        self.strict = strict
        self.sample_rate, self.note_length = sample_rate, note_length
        self.report = BadDataReport()
        report = self.report if skip_bad else None
        notes = read_examples_json(self.path / "examples.json", report)
        if check_audio:
            kept = []
            for meta in notes:
                try:
                    path = self.audio_path(meta)
                    frames, rate = check_audio_file(path, strict, sample_rate)
                except BadInputError as err:
                    fail_or_skip(report, "bad audio", str(err))
                    continue
                if self.check_length(meta.note_str, frames, rate, str(path), report):
                    kept.append(meta)
            notes = kept
        self.notes = notes

    def audio_path(self, meta: NoteMeta) -> Path:
        """The note's audio file, .wav or .flac (BadInputError if neither or both exist)."""
        return find_note_audio(self.path / "audio", meta.note_str)

    def load_audio(self, i: int) -> np.ndarray:
        """Note i's audio: (note_length,) float32 at `sample_rate`."""
        path = self.audio_path(self.notes[i])
        audio, rate = _read_samples(path)
        return self.fit(audio, rate, str(path), self.notes[i].note_str)

    def fingerprint(self) -> str:
        import hashlib

        digest = hashlib.sha256((self.path / "examples.json").read_bytes()).hexdigest()
        return f"examples.json sha256 {digest[:16]}"
