"""NSynth note metadata and the JSON/WAV reader, plus the filters and split CSV shared by every
note source (docs/data.md).

Layout: `<folder>/examples.json` maps each `note_str` to its metadata; `<folder>/audio/<note_str>.wav`
holds 4 s of 16 kHz mono 16-bit PCM. A source turns that into a list of `NoteMeta` and loads one
note's audio as (64000,) float32, resampling, cropping or padding it. Problems a user can cause raise
`BadInputError` naming the file and the fix, or with `skip_bad` are skipped and counted in a
`BadDataReport`.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gansynth.config import NSYNTH_FAMILIES, NSYNTH_SOURCES, DataConfig
from gansynth.errors import BadInputError
from gansynth.io import resample

NSYNTH_QUALITIES = ("bright", "dark", "distortion", "fast_decay", "long_release", "multiphonic",
                    "nonlinear_env", "percussive", "reverb", "tempo-synced")
SAMPLE_RATE = 16000
NOTE_LENGTH = 64000  # samples: 4 s at 16 kHz


@dataclass(frozen=True)
class NoteMeta:
    """Every NSynth metadata field of one note (ids as in NSynth's examples.json)."""

    note_str: str
    note: int
    pitch: int
    velocity: int
    instrument: int
    instrument_str: str
    instrument_family: int
    instrument_family_str: str
    instrument_source: int
    instrument_source_str: str
    qualities: tuple[int, ...]
    qualities_str: tuple[str, ...]
    sample_rate: int

    def to_json(self) -> dict[str, Any]:
        """The note's examples.json entry (lists, not tuples)."""
        out = asdict(self)
        out["qualities"] = list(self.qualities)
        out["qualities_str"] = list(self.qualities_str)
        return out


@dataclass
class BadDataReport:
    """Counts of notes skipped (with `skip_bad`) by reason, with a few example messages."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, reason: str, message: str) -> None:
        self.counts[reason] += 1
        if len(self.examples) < 5:
            self.examples.append(message)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        if not self.counts:
            return "no bad notes"
        parts = ", ".join(f"{n} {reason}" for reason, n in sorted(self.counts.items()))
        return f"skipped {self.total} bad notes ({parts})"


def fail_or_skip(report: BadDataReport | None, reason: str, message: str) -> None:
    """Raise BadInputError(message) unless a report is given (skip_bad), which counts it."""
    if report is None:
        raise BadInputError(message)
    report.add(reason, message)


# ---------------------------------------------------------------------------------------------
# metadata validation


_INT_FIELDS = ("note", "pitch", "velocity", "instrument", "instrument_family", "instrument_source",
               "sample_rate")
_STR_FIELDS = ("instrument_str", "instrument_family_str", "instrument_source_str")


def note_from_fields(note_str: str, fields: dict[str, Any], where: str) -> NoteMeta:
    """Validate one note's metadata dict (JSON entry or decoded TFRecord) into a `NoteMeta`.

    Raises BadInputError naming `where` and the field on a missing or wrong value.
    """
    def need(name: str) -> Any:
        if name not in fields:
            raise BadInputError(f"{where}: note {note_str!r} lacks the field {name!r}; "
                                "every NSynth field is required (docs/data.md)")
        return fields[name]

    values: dict[str, Any] = {}
    for name in _INT_FIELDS:
        value = need(name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise BadInputError(f"{where}: note {note_str!r} field {name!r} must be an integer, got {value!r}")
        values[name] = int(value)
    for name in _STR_FIELDS:
        value = need(name)
        if not isinstance(value, str):
            raise BadInputError(f"{where}: note {note_str!r} field {name!r} must be a string, got {value!r}")
        values[name] = value
    qualities = need("qualities")
    qualities_str = need("qualities_str")
    if not isinstance(qualities, (list, tuple)) or not isinstance(qualities_str, (list, tuple)):
        raise BadInputError(f"{where}: note {note_str!r}: qualities and qualities_str must be lists")
    meta = NoteMeta(note_str=note_str, qualities=tuple(int(q) for q in qualities),
                    qualities_str=tuple(str(q) for q in qualities_str), **values)
    if "note_str" in fields and fields["note_str"] != note_str:
        raise BadInputError(f"{where}: entry {note_str!r} has note_str {fields['note_str']!r}; "
                            "the key and note_str must be equal")
    if not 0 <= meta.pitch <= 127:
        raise BadInputError(f"{where}: note {note_str!r} has pitch {meta.pitch}, not a MIDI pitch "
                            "(0..127); fix the entry or use --skip-bad")
    if not 0 <= meta.velocity <= 127:
        raise BadInputError(f"{where}: note {note_str!r} has velocity {meta.velocity}, not a MIDI "
                            "velocity (0..127); fix the entry or use --skip-bad")
    if meta.instrument_family_str not in NSYNTH_FAMILIES:
        raise BadInputError(f"{where}: note {note_str!r} has family {meta.instrument_family_str!r}, "
                            f"not one of {NSYNTH_FAMILIES}")
    if meta.instrument_source_str not in NSYNTH_SOURCES:
        raise BadInputError(f"{where}: note {note_str!r} has source {meta.instrument_source_str!r}, "
                            f"not one of {NSYNTH_SOURCES}")
    if meta.sample_rate <= 0:
        raise BadInputError(f"{where}: note {note_str!r} has sample_rate {meta.sample_rate}")
    return meta


def _no_duplicate_keys(where: str, report: BadDataReport | None):  # type: ignore[no-untyped-def]
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                if isinstance(value, dict) and "pitch" in value:  # a duplicated note id
                    fail_or_skip(report, "duplicate id",
                                 f"{where}: note id {key!r} appears twice; ids must be unique "
                                 "(remove one entry, or use --skip-bad to keep the first)")
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
                            "(examples.json + audio/*.wav) or a .tfrecord file")
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


def fit_audio(audio: np.ndarray, sample_rate: int, where: str, strict: bool,
              target_rate: int = SAMPLE_RATE, length: int = NOTE_LENGTH) -> np.ndarray:
    """(samples,) or (samples, channels) float audio -> (length,) float32 mono at `target_rate`.

    Channels are averaged; another sample rate is resampled (librosa, soxr) unless `strict`,
    which raises; the result is cropped or zero-padded at the end to `length`.
    """
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if sample_rate != target_rate:
        if strict:
            raise BadInputError(f"{where}: sample rate {sample_rate} Hz, expected {target_rate} Hz "
                                "(strict mode); resample the file or drop --strict to resample on load")
        audio = resample(audio, sample_rate, target_rate)
    audio = np.asarray(audio, dtype=np.float32)[:length]
    if audio.shape[0] < length:
        audio = np.pad(audio, (0, length - audio.shape[0]))
    if not np.all(np.isfinite(audio)):
        raise BadInputError(f"{where}: audio contains NaN or Inf; regenerate the file")
    return audio


def read_wav(path: Path, strict: bool = False) -> np.ndarray:
    """One note's WAV -> (64000,) float32 in [-1, 1] at 16 kHz (see `fit_audio`)."""
    import soundfile as sf

    if not path.is_file():
        raise BadInputError(f"{path}: audio file missing; restore it, remove its entry from "
                            "examples.json, or use --skip-bad")
    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise BadInputError(f"{path}: not a readable audio file ({err}); regenerate it or use "
                            "--skip-bad") from err
    return fit_audio(audio, rate, str(path), strict)


def check_wav(path: Path, strict: bool) -> None:
    """Cheap header check of one WAV (exists, decodable header, rate allowed), raising BadInputError."""
    import soundfile as sf

    if not path.is_file():
        raise BadInputError(f"{path}: audio file missing; restore it, remove its entry from "
                            "examples.json, or use --skip-bad")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError) as err:
        raise BadInputError(f"{path}: not a readable audio file ({err}); regenerate it or use "
                            "--skip-bad") from err
    if info.frames == 0:
        raise BadInputError(f"{path}: audio file has no samples; regenerate it or use --skip-bad")
    if strict and info.samplerate != SAMPLE_RATE:
        raise BadInputError(f"{path}: sample rate {info.samplerate} Hz, expected {SAMPLE_RATE} Hz "
                            "(strict mode); resample the file or drop --strict to resample on load")


class NoteSource:
    """A list of notes plus `load_audio(i) -> (64000,) float32` (abstract)."""

    path: Path
    notes: list[NoteMeta]
    report: BadDataReport

    def __len__(self) -> int:
        return len(self.notes)

    def load_audio(self, i: int) -> np.ndarray:
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A short string that changes when the dataset changes (for the feature cache)."""
        raise NotImplementedError


class NSynthFolder(NoteSource):
    """An NSynth JSON/WAV folder: `examples.json` + `audio/<note_str>.wav`.

    skip_bad: skip and count notes whose metadata is malformed or duplicated, and (with
    `check_audio`) whose WAV is missing or unreadable; otherwise the first problem raises.
    strict: refuse WAVs at another sample rate instead of resampling them.
    """

    def __init__(self, path: str | os.PathLike[str], skip_bad: bool = False, strict: bool = False,
                 check_audio: bool = True) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise BadInputError(f"{self.path}: dataset folder not found")
        self.strict = strict
        self.report = BadDataReport()
        report = self.report if skip_bad else None
        notes = read_examples_json(self.path / "examples.json", report)
        if check_audio:
            kept = []
            for meta in notes:
                try:
                    check_wav(self.wav_path(meta), strict)
                    kept.append(meta)
                except BadInputError as err:
                    fail_or_skip(report, "bad audio", str(err))
            notes = kept
        self.notes = notes

    def wav_path(self, meta: NoteMeta) -> Path:
        return self.path / "audio" / f"{meta.note_str}.wav"

    def load_audio(self, i: int) -> np.ndarray:
        """Note i's audio: (64000,) float32 at 16 kHz."""
        return read_wav(self.wav_path(self.notes[i]), self.strict)

    def fingerprint(self) -> str:
        import hashlib

        digest = hashlib.sha256((self.path / "examples.json").read_bytes()).hexdigest()
        return f"examples.json sha256 {digest[:16]}"


def open_source(path: str | os.PathLike[str], skip_bad: bool = False, strict: bool = False,
                check_audio: bool = True) -> NoteSource:
    """An NSynth folder or TFRecord file (chosen by what `path` is)."""
    p = Path(path)
    if p.is_dir():
        return NSynthFolder(p, skip_bad=skip_bad, strict=strict, check_audio=check_audio)
    if p.is_file():
        from gansynth.data.tfrecord import NSynthTFRecord

        return NSynthTFRecord(p, skip_bad=skip_bad, strict=strict)
    raise BadInputError(f"{p}: dataset not found; data.path must be an NSynth-style folder "
                        "(examples.json + audio/) or a .tfrecord file (build one with "
                        "`gansynth data build-gm`)")


# ---------------------------------------------------------------------------------------------
# splits and filters


def read_split_csv(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read an `id,split` CSV (header row optional) into {note_str: split}."""
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"{p}: split CSV not found; set data.split_csv or data.split: null")
    splits: dict[str, str] = {}
    with p.open(newline="", encoding="utf-8") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or (line_no == 1 and [c.strip() for c in row[:2]] == ["id", "split"]):
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise BadInputError(f"{p}:{line_no}: expected 'id,split', got {','.join(row)!r}")
            note_id, split = row[0].strip(), row[1].strip()
            if note_id in splits:
                raise BadInputError(f"{p}:{line_no}: id {note_id!r} appears twice; each id must "
                                    "have exactly one split")
            splits[note_id] = split
    return splits


def write_split_csv(path: str | os.PathLike[str], splits: Iterable[tuple[str, str]]) -> None:
    """Write `id,split` rows (with a header) atomically."""
    from gansynth.io import atomic_path

    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "split"])
        writer.writerows(splits)


@dataclass
class FilterReport:
    """How many notes each filter left out, in the order the filters apply."""

    total: int = 0
    kept: int = 0
    left_out: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = ", ".join(f"{n} by {name}" for name, n in self.left_out.items() if n)
        return f"kept {self.kept} of {self.total} notes" + (f" (left out {parts})" if parts else "")


def select_notes(notes: Sequence[NoteMeta], data: DataConfig,
                 dataset_path: Path | None = None) -> tuple[list[int], FilterReport]:
    """Indices of `notes` that pass `data`'s filters: pitch range, sources, families, velocities,
    and split (from `data.split_csv`, or `<dataset_path>/splits.csv`)."""
    checks: list[tuple[str, Any]] = [
        (f"pitch outside {data.pitch_min}-{data.pitch_max}",
         lambda m: data.pitch_min <= m.pitch <= data.pitch_max),
    ]
    if data.instrument_sources:
        checks.append(("instrument source", lambda m: m.instrument_source_str in data.instrument_sources))
    if data.families:
        checks.append(("family", lambda m: m.instrument_family_str in data.families))
    if data.velocities:
        checks.append(("velocity", lambda m: m.velocity in data.velocities))
    if data.split is not None:
        csv_path = Path(data.split_csv) if data.split_csv else None
        if csv_path is None:
            if dataset_path is None or not dataset_path.is_dir():
                raise BadInputError(f"data.split {data.split!r} needs data.split_csv (an id,split CSV)")
            csv_path = dataset_path / "splits.csv"
        splits = read_split_csv(csv_path)
        names = set(splits.values())
        if data.split not in names:
            raise BadInputError(f"{csv_path}: no note is in split {data.split!r}; splits there: "
                                f"{', '.join(sorted(names)) or 'none'}")
        checks.append((f"split != {data.split}", lambda m: splits.get(m.note_str) == data.split))
    report = FilterReport(total=len(notes))
    indices = list(range(len(notes)))
    for name, keep in checks:
        before = len(indices)
        indices = [i for i in indices if keep(notes[i])]
        report.left_out[name] = before - len(indices)
    report.kept = len(indices)
    return indices, report
