"""The note-source contract shared by every NSynth-style reader (docs/data.md): a note's metadata
(`NoteMeta`), its validation, the audio fitting every reader applies, the `NoteSource` interface,
the count of bad notes skipped, and the split CSV and filters that select notes.

A source turns a dataset into a list of `NoteMeta` and loads one note's audio as (note_length,)
float32 mono at `sample_rate`, resampling, cropping or padding it; both come from `SpectralConfig`
(4 s at 16 kHz by default, as NSynth). Problems a user can cause raise `BadInputError` naming the
file and the fix, or with `skip_bad` are skipped and counted in a `BadDataReport`. A note whose
audio is more than `LENGTH_TOLERANCE_S` shorter or longer than the note length is padded or cropped
and counted in the same report ("short audio", "long audio"); with `strict` it is bad data.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gansynth.config import NSYNTH_FAMILIES, NSYNTH_SOURCES, DataConfig, SpectralConfig
from gansynth.errors import BadInputError
from gansynth.io import atomic_path, resample

NSYNTH_QUALITIES = ("bright", "dark", "distortion", "fast_decay", "long_release", "multiphonic",
                    "nonlinear_env", "percussive", "reverb", "tempo-synced")
# NSynth's audio format, which the default spectral config matches: 4 s of 16 kHz mono
NSYNTH_SPECTRAL = SpectralConfig()
# Audio within this of the note length is fitted without a word: NSynth notes are exactly 4 s, and
# resampling or an encoder may add or drop a few samples. 10 ms is less than one STFT hop (16 ms in
# the `base` layout, 32 ms in `hires`), so at most the last frame of the features changes. Audio
# further off is padded or cropped and counted as "short audio" / "long audio" (strict: refused).
LENGTH_TOLERANCE_S = 0.01
SHORT_AUDIO, LONG_AUDIO = "short audio", "long audio"


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
    """Counts of notes skipped (with `skip_bad`) by reason, the notes kept but padded or cropped to
    the note length (`fitted`: note id -> "short audio" / "long audio"), and a few example messages."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    fitted: dict[str, str] = field(default_factory=dict)

    def add(self, reason: str, message: str) -> None:
        """Count one skipped note."""
        self.counts[reason] += 1
        if len(self.examples) < 5:
            self.examples.append(message)

    def add_fitted(self, note_str: str, reason: str, message: str) -> None:
        """Count one note padded ("short audio") or cropped ("long audio"); each note once."""
        if note_str in self.fitted:
            return
        self.fitted[note_str] = reason
        if len(self.examples) < 5:
            self.examples.append(message)

    @property
    def total(self) -> int:
        """Notes skipped."""
        return sum(self.counts.values())

    def summary(self) -> str:
        parts = []
        if self.counts:
            reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(self.counts.items()))
            parts.append(f"skipped {self.total} bad notes ({reasons})")
        fitted = Counter(self.fitted.values())
        for verb, reason in (("zero-padded", SHORT_AUDIO), ("cropped", LONG_AUDIO)):
            if fitted[reason]:
                parts.append(f"{verb} {fitted[reason]} notes ({reason})")
        return ", ".join(parts) or "no bad notes"


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
                            "(0..127); fix the entry or set data.skip_bad")
    if not 0 <= meta.velocity <= 127:
        raise BadInputError(f"{where}: note {note_str!r} has velocity {meta.velocity}, not a MIDI "
                            "velocity (0..127); fix the entry or set data.skip_bad")
    if meta.instrument_family_str not in NSYNTH_FAMILIES:
        raise BadInputError(f"{where}: note {note_str!r} has family {meta.instrument_family_str!r}, "
                            f"not one of {NSYNTH_FAMILIES}")
    if meta.instrument_source_str not in NSYNTH_SOURCES:
        raise BadInputError(f"{where}: note {note_str!r} has source {meta.instrument_source_str!r}, "
                            f"not one of {NSYNTH_SOURCES}")
    if meta.sample_rate <= 0:
        raise BadInputError(f"{where}: note {note_str!r} has sample_rate {meta.sample_rate}")
    return meta


# ---------------------------------------------------------------------------------------------
# audio and the source interface


def length_problem(samples: int, rate: int, target_rate: int, length: int) -> str | None:
    """"short audio" / "long audio" when `samples` at `rate` Hz, resampled to `target_rate`, is more
    than `LENGTH_TOLERANCE_S` away from `length` samples; None when it fits."""
    fitted = round(samples * target_rate / rate)
    slack = round(LENGTH_TOLERANCE_S * target_rate)
    if fitted < length - slack:
        return SHORT_AUDIO
    if fitted > length + slack:
        return LONG_AUDIO
    return None


def length_message(where: str, reason: str, samples: int, rate: int, target_rate: int, length: int,
                   strict: bool) -> str:
    """The one-line message of a note whose audio is short or long (see `length_problem`)."""
    short = reason == SHORT_AUDIO
    found = (f"{where}: {reason}: {samples} samples at {rate} Hz ({samples / rate:.3f} s), expected "
             f"{length / target_rate:.3f} s (spectral.audio_length {length} at {target_rate} Hz)")
    if strict:
        return (f"{found} (strict mode); regenerate the file, set data.skip_bad, or unset data.strict "
                f"to {'zero-pad' if short else 'crop'} it on load")
    return f"{found}; {'zero-padded' if short else 'cropped'} at the end (data.strict refuses it)"


def fit_audio(audio: np.ndarray, sample_rate: int, where: str, strict: bool, target_rate: int,
              length: int) -> np.ndarray:
    """(samples,) or (samples, channels) float audio -> (length,) float32 mono at `target_rate`.

    Channels are averaged; another sample rate is resampled (librosa, soxr) unless `strict`,
    which raises; the result is cropped or zero-padded at the end to `length`. With `strict`, audio
    more than `LENGTH_TOLERANCE_S` short or long (`length_problem`) raises too.
    """
    if strict:
        problem = length_problem(audio.shape[0], sample_rate, target_rate, length)
        if problem:
            raise BadInputError(length_message(where, problem, audio.shape[0], sample_rate,
                                               target_rate, length, strict=True))
    if audio.ndim == 2:
        audio = audio.mean(axis=1)
    if sample_rate != target_rate:
        if strict:
            raise BadInputError(f"{where}: sample rate {sample_rate} Hz, expected {target_rate} Hz "
                                "(strict mode); resample the file or unset data.strict to resample on load")
        audio = resample(audio, sample_rate, target_rate)
    audio = np.asarray(audio, dtype=np.float32)[:length]
    if audio.shape[0] < length:
        audio = np.pad(audio, (0, length - audio.shape[0]))
    if not np.all(np.isfinite(audio)):
        raise BadInputError(f"{where}: audio contains NaN or Inf; regenerate the file")
    return audio


class NoteSource:
    """A list of notes plus `load_audio(i) -> (note_length,) float32` at `sample_rate` (abstract).

    strict: refuse audio at another sample rate instead of resampling it, and audio more than
    `LENGTH_TOLERANCE_S` shorter or longer than `note_length` instead of padding or cropping it.
    report: notes skipped as bad, and notes padded or cropped (`BadDataReport.fitted`).
    """

    path: Path
    notes: list[NoteMeta]
    report: BadDataReport
    strict: bool = False
    sample_rate: int = NSYNTH_SPECTRAL.sample_rate
    note_length: int = NSYNTH_SPECTRAL.audio_length

    def fit(self, audio: np.ndarray, rate: int, where: str, note_str: str | None = None) -> np.ndarray:
        """`fit_audio` to this source's sample rate and note length; a note (`note_str`) padded or
        cropped by more than the tolerance is counted in `report.fitted`."""
        if note_str is not None and not self.strict:
            self.check_length(note_str, audio.shape[0], rate, where, None)
        return fit_audio(audio, rate, where, self.strict, self.sample_rate, self.note_length)

    def check_length(self, note_str: str, samples: int, rate: int, where: str,
                     skip: BadDataReport | None) -> bool:
        """Check a note's audio length (`samples` at `rate` Hz) before it is loaded.

        Short or long audio is counted in `report.fitted` and kept (True), or with `strict` is bad
        data: it raises, or with `skip` (the report under `skip_bad`) is counted as skipped (False).
        """
        problem = length_problem(samples, rate, self.sample_rate, self.note_length)
        if problem is None:
            return True
        message = length_message(where, problem, samples, rate, self.sample_rate, self.note_length,
                                 self.strict)
        if self.strict:
            fail_or_skip(skip, problem, message)
            return False
        self.report.add_fitted(note_str, problem, message)
        return True

    def __len__(self) -> int:
        return len(self.notes)

    def load_audio(self, i: int) -> np.ndarray:
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A short string that changes when the dataset changes (for the feature cache)."""
        raise NotImplementedError


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
