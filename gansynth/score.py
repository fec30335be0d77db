"""MIDI files <-> scores of notes in seconds, through `symusic` (never a hand-written parser).

The one note model of the project: the renderer and the sequence model both read, build and
write `Score`s of `Note`s. A `Note` carries everything rendering needs: pitch, velocity, start and
end in seconds (tempo changes applied), the track it came from, its General MIDI program and
whether it is a drum note. The sustain pedal (CC64, value >= 64 = down) extends every note
released while the pedal is down until the pedal comes up, or until the same pitch is struck
again on that track, whichever is first.
"""

from __future__ import annotations

import bisect
import functools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gansynth.errors import BadInputError

DEFAULT_QPM = 120.0  # MIDI's tempo when a file sets none
SUSTAIN_CC = 64
PEDAL_DOWN = 64  # CC64 values >= this mean "pedal down"


@dataclass(frozen=True)
class Note:
    """One note. Times in seconds from the start of the file; `track` indexes `Score.tracks`."""

    pitch: int
    velocity: int
    start_s: float
    end_s: float
    track: int = 0
    program: int = 0
    is_drum: bool = False

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class TrackInfo:
    """A track as read from the file: its index, name, GM program, drum flag and note count."""

    index: int
    name: str
    program: int
    is_drum: bool
    num_notes: int


@dataclass(frozen=True)
class Score:
    """Notes sorted by start, then track, then pitch, and the tracks they belong to.

    path: the MIDI file it was read from, or a label in angle brackets (e.g. "<notes>") for a
    score built in memory; messages about the score name it.
    tempos: the tempo map, (start in seconds, quarter notes per minute) in time order; empty
    means a constant DEFAULT_QPM. `beats` and `seconds` convert through it.
    """

    path: str
    notes: tuple[Note, ...]
    tracks: tuple[TrackInfo, ...]
    tempos: tuple[tuple[float, float], ...] = ()

    @property
    def qpm(self) -> float:
        """The tempo at the start (quarter notes per minute)."""
        return self._tempo_map[0][1]

    @functools.cached_property
    def _tempo_map(self) -> list[tuple[float, float, float]]:
        """(start seconds, qpm, start beats) of every tempo segment; the first starts at 0
        (computed once per score)."""
        tempos = [t for t in self.tempos if t[1] > 0] or [(0.0, DEFAULT_QPM)]
        out = [(0.0, tempos[0][1], 0.0)]
        for start, qpm in tempos[1:]:
            if start <= out[-1][0]:
                out[-1] = (out[-1][0], qpm, out[-1][2])
                continue
            prev_s, prev_qpm, prev_b = out[-1]
            out.append((start, qpm, prev_b + (start - prev_s) * prev_qpm / 60.0))
        return out

    def beats(self, seconds: float) -> float:
        """Quarter-note beats from the start at time `seconds`, through the tempo map."""
        segments = self._tempo_map
        i = max(0, bisect.bisect_right([s[0] for s in segments], seconds) - 1)
        start, qpm, beat = segments[i]
        return beat + (seconds - start) * qpm / 60.0

    def seconds(self, beats: float) -> float:
        """Time in seconds of the beat position `beats`, through the tempo map."""
        segments = self._tempo_map
        i = max(0, bisect.bisect_right([s[2] for s in segments], beats) - 1)
        start, qpm, beat = segments[i]
        return start + (beats - beat) * 60.0 / qpm

    @property
    def end_s(self) -> float:
        """End of the last note in seconds (0.0 for a score without notes)."""
        return max((n.end_s for n in self.notes), default=0.0)

    def pitched_notes(self) -> list[Note]:
        return [n for n in self.notes if not n.is_drum]

    def require_pitched(self) -> None:
        """Raise BadInputError naming the file if it has no pitched (non-drum) notes."""
        if not self.notes:
            raise BadInputError(f"{self.path}: MIDI file has no notes; nothing to render")
        if not self.pitched_notes():
            raise BadInputError(
                f"{self.path}: MIDI file has only drum notes (channel 10); gansynth renders pitched "
                "instruments only")


def _pedal_intervals(controls: Iterable[tuple[float, int, int]], end_s: float) -> list[tuple[float, float]]:
    """(down_s, up_s) intervals of the sustain pedal from (time_s, number, value) controls."""
    intervals: list[tuple[float, float]] = []
    down_at: float | None = None
    for time_s, number, value in sorted(controls, key=lambda c: c[0]):
        if number != SUSTAIN_CC:
            continue
        if value >= PEDAL_DOWN and down_at is None:
            down_at = time_s
        elif value < PEDAL_DOWN and down_at is not None:
            intervals.append((down_at, time_s))
            down_at = None
    if down_at is not None:  # never released: hold to the end of the file
        intervals.append((down_at, max(end_s, down_at)))
    return intervals


def apply_sustain(notes: Sequence[Note], pedals: Sequence[tuple[float, float]]) -> list[Note]:
    """Extend notes of ONE track by its sustain-pedal intervals.

    A note whose end falls inside a pedal-down interval [down, up) now ends at `up`, or at the next
    onset of the same pitch in `notes` if that comes first (a re-struck key stops the old sound);
    a note never gets shorter.
    """
    if not pedals:
        return list(notes)
    downs = [d for d, _ in pedals]
    onsets_by_pitch: dict[int, list[float]] = {}
    for n in notes:
        onsets_by_pitch.setdefault(n.pitch, []).append(n.start_s)
    for onsets in onsets_by_pitch.values():
        onsets.sort()
    out = []
    for n in notes:
        i = bisect.bisect_right(downs, n.end_s) - 1
        end = n.end_s
        if i >= 0 and pedals[i][0] <= n.end_s < pedals[i][1]:
            end = pedals[i][1]
            onsets = onsets_by_pitch[n.pitch]
            j = bisect.bisect_right(onsets, n.start_s)
            if j < len(onsets) and onsets[j] < end:
                end = max(n.end_s, onsets[j])
        out.append(Note(n.pitch, n.velocity, n.start_s, end, n.track, n.program, n.is_drum))
    return out


def score_from_midi(path: str | os.PathLike[str], sustain: bool = True) -> Score:
    """Read a MIDI file into a `Score` (times in seconds, tempo map applied).

    sustain: extend notes held by the sustain pedal (CC64), see `apply_sustain`.
    Raises BadInputError naming the file if it is missing, not a readable MIDI file, or has no notes.
    Drum notes are kept (is_drum=True); `Score.require_pitched` rejects drums-only files.
    """
    from symusic import Score as SymScore

    from gansynth.io import require_file

    file = require_file(path, "MIDI file")
    try:
        ticks: Any = SymScore(str(file))  # symusic's stubs are incomplete
        sym = ticks.to("second")
    except (RuntimeError, ValueError, OSError) as err:
        raise BadInputError(f"{file}: not a valid MIDI file ({err})") from err
    file_end = float(sym.end())
    notes: list[Note] = []
    tracks: list[TrackInfo] = []
    for index, track in enumerate(sym.tracks):
        program, is_drum = int(track.program), bool(track.is_drum)
        track_notes = [
            Note(int(n.pitch), int(n.velocity), float(n.time), float(n.time + n.duration),
                 index, program, is_drum)
            for n in track.notes if n.velocity > 0
        ]
        if sustain:
            controls = [(float(c.time), int(c.number), int(c.value)) for c in track.controls]
            track_notes = apply_sustain(track_notes, _pedal_intervals(controls, file_end))
        notes.extend(track_notes)
        tracks.append(TrackInfo(index, str(track.name), program, is_drum, len(track_notes)))
    if not notes:
        raise BadInputError(f"{file}: MIDI file has no notes; nothing to render")
    notes.sort(key=lambda n: (n.start_s, n.track, n.pitch))
    tempos = tuple((float(t.time), float(t.qpm)) for t in sym.tempos if float(t.qpm) > 0)
    return Score(str(file), tuple(notes), tuple(tracks), tempos)


def median_onset_gap(notes: Sequence[Note]) -> float:
    """Median gap in seconds between consecutive distinct onset times (nan with fewer than 2)."""
    onsets = np.unique(np.round([n.start_s for n in notes], 4))
    return float(np.median(np.diff(onsets))) if len(onsets) > 1 else math.nan


def score_from_notes(notes: Iterable[Note], path: str = "<notes>",
                     track_names: Mapping[int, str] | None = None,
                     tempos: Sequence[tuple[float, float]] = ()) -> Score:
    """A `Score` built in memory from notes (sorted here), with one `TrackInfo` per track index
    used; a track takes its program and drum flag from its first note and its name from
    `track_names` (default "track N"). tempos: the tempo map (see `Score`; empty: 120 qpm)."""
    ordered = tuple(sorted(notes, key=lambda n: (n.start_s, n.track, n.pitch)))
    names = track_names or {}
    first: dict[int, Note] = {}
    counts: dict[int, int] = {}
    for n in ordered:
        first.setdefault(n.track, n)
        counts[n.track] = counts.get(n.track, 0) + 1
    tracks = tuple(TrackInfo(i, names.get(i, f"track {i}"), first[i].program, first[i].is_drum,
                             counts[i]) for i in sorted(first))
    return Score(path, ordered, tracks, tuple((float(t), float(q)) for t, q in tempos))


def notes_from_midi(path: str | os.PathLike[str], sustain: bool = True) -> list[Note]:
    """The notes of a MIDI file, see `score_from_midi`."""
    return list(score_from_midi(path, sustain).notes)


def notes_to_midi(notes: Sequence[Note], path: str | os.PathLike[str], qpm: float = 120.0,
                  tpq: int = 480, track_names: Mapping[int, str] | None = None) -> None:
    """Write notes to a standard MIDI file (one MIDI track per `Note.track`), atomically.

    Times are converted to ticks at a constant tempo `qpm` (quarter notes per minute) with `tpq`
    ticks per quarter; drum tracks go to channel 10 (symusic's `is_drum`).
    """
    from symusic import Note as SymNote
    from symusic import Score as SymScore
    from symusic import Tempo, Track

    from gansynth.io import atomic_path

    ticks_per_s = tpq * qpm / 60.0
    sym: Any = SymScore(tpq)  # symusic's stubs are incomplete
    sym.tempos.append(Tempo(0, qpm=qpm))
    names = track_names or {}
    by_track: dict[int, list[Note]] = {}
    for n in notes:
        by_track.setdefault(n.track, []).append(n)
    for index in sorted(by_track):
        first = by_track[index][0]
        track: Any = Track(name=names.get(index, f"track {index}"), program=first.program,
                      is_drum=first.is_drum)
        for n in by_track[index]:
            start = round(n.start_s * ticks_per_s)
            end = max(start + 1, round(n.end_s * ticks_per_s))
            track.notes.append(SymNote(start, end - start, n.pitch, n.velocity))
        sym.tracks.append(track)
    with atomic_path(path) as tmp:
        sym.dump_midi(str(tmp))


def score_to_midi(score: Score, path: str | os.PathLike[str], qpm: float | None = None,
                  tpq: int = 480) -> None:
    """Write a score to a standard MIDI file, atomically, keeping its track names (see
    `notes_to_midi`). qpm: the tempo written (default: the score's starting tempo, `Score.qpm`).
    A score read back with `score_from_midi` has the same notes up to the tick grid
    (1 / (tpq * qpm / 60) s, about 1 ms by default)."""
    notes_to_midi(score.notes, path, qpm=score.qpm if qpm is None else qpm, tpq=tpq,
                  track_names={t.index: t.name for t in score.tracks})
