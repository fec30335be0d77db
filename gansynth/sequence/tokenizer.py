"""MIDI <-> notes <-> Performance-RNN style event tokens.

Vocabulary (miditok `MIDILike`, configured by `SequenceTokenizerConfig`):

- ``PAD``, ``BOS``, ``EOS``: special tokens (a training stream is ``BOS ... EOS``);
- ``NoteOn_p`` / ``NoteOff_p`` for every pitch p in [pitch_low, pitch_high];
- ``Velocity_v``: num_velocities bins; in MIDILike order a Velocity token follows its NoteOn;
- ``TimeShift_b.f.r``: advance the clock by b beats + f/r beat, 1 step .. max_shift_seconds.

Time is absolute: every score is mapped to seconds, then to a fixed clock of 120 bpm (one beat
= 0.5 s, `steps_per_second / 2` ticks per beat), so tempo changes in the source become timing
in the tokens (as in Performance RNN). Decoding goes through miditok after dropping specials,
ids outside the vocabulary, and NoteOn / Velocity tokens that are not a NoteOn-Velocity pair;
any id stream decodes to a valid score (unmatched NoteOffs are ignored, unreleased notes last
`max_note_seconds`, empty streams give an empty track).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from symusic import Note, Score, Tempo, Track

from gansynth.config import SequenceTokenizerConfig
from gansynth.io import atomic_path

REFERENCE_BPM = 120.0
SECONDS_PER_BEAT = 60.0 / REFERENCE_BPM

MidiScore = Any  # a symusic Score (its type stubs are incomplete)

# token kinds (TokenTable.kind)
SPECIAL, NOTE_ON, NOTE_OFF, VELOCITY, TIME_SHIFT = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Notes:
    """A flat list of notes in seconds, all tracks merged (drums dropped), sorted by onset.

    onset, duration: (N,) float64 seconds; pitch, velocity: (N,) int64 MIDI values.
    """

    onset: np.ndarray
    duration: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray

    def __len__(self) -> int:
        return int(self.onset.shape[0])

    @property
    def end(self) -> float:
        """Time in seconds at which the last note ends (0 for no notes)."""
        return float((self.onset + self.duration).max()) if len(self) else 0.0

    @staticmethod
    def from_arrays(onset: np.ndarray, duration: np.ndarray, pitch: np.ndarray,
                    velocity: np.ndarray) -> Notes:
        order = np.lexsort((np.asarray(pitch), np.asarray(onset)))
        return Notes(np.asarray(onset, np.float64)[order], np.asarray(duration, np.float64)[order],
                     np.asarray(pitch, np.int64)[order], np.asarray(velocity, np.int64)[order])


def notes_from_score(score: MidiScore) -> Notes:
    """Merge every non-drum track of a symusic score into one `Notes` list in seconds."""
    seconds = score.to("second")
    parts: list[dict[str, np.ndarray]] = [t.notes.numpy() for t in seconds.tracks
                                          if not t.is_drum and len(t.notes)]
    if not parts:
        empty = np.zeros(0)
        return Notes.from_arrays(empty, empty, empty, empty)
    return Notes.from_arrays(*(np.concatenate([p[key] for p in parts])
                               for key in ("time", "duration", "pitch", "velocity")))


def notes_from_midi(path: str | os.PathLike[str]) -> Notes:
    """Read a MIDI file (through `gansynth.score`: tempo map and sustain pedal applied) into
    merged `Notes` in seconds, drums dropped. A missing, unreadable or empty file is a
    `BadInputError` naming it."""
    from gansynth.score import score_from_midi

    pitched = score_from_midi(path).pitched_notes()
    return Notes.from_arrays(np.array([n.start_s for n in pitched]),
                             np.array([n.end_s - n.start_s for n in pitched]),
                             np.array([n.pitch for n in pitched]),
                             np.array([n.velocity for n in pitched]))


def score_from_notes(notes: Notes, ticks_per_quarter: int = 480) -> MidiScore:
    """One piano track at 120 bpm holding `notes` (seconds rounded to the tick grid)."""
    score: MidiScore = Score(ticks_per_quarter)
    score.tempos.append(Tempo(0, REFERENCE_BPM))
    track: Any = Track("Piano", 0, False)
    ticks_per_second = ticks_per_quarter / SECONDS_PER_BEAT
    for onset, duration, pitch, velocity in zip(notes.onset, notes.duration, notes.pitch,
                                                notes.velocity, strict=True):
        track.notes.append(Note(int(round(onset * ticks_per_second)),
                                max(1, int(round(duration * ticks_per_second))),
                                int(pitch), int(np.clip(velocity, 1, 127))))
    score.tracks.append(track)
    return score


def write_midi(path: str | os.PathLike[str], score: MidiScore) -> None:
    """Write a symusic score as a standard MIDI file, atomically."""
    with atomic_path(path) as tmp:
        score.dump_midi(str(tmp))


@dataclass(frozen=True)
class TokenTable:
    """Per-id meaning of the vocabulary, for masks during sampling.

    kind: (V,) int64, one of SPECIAL, NOTE_ON, NOTE_OFF, VELOCITY, TIME_SHIFT;
    value: (V,) int64, the pitch (notes), the velocity, or the time steps of a TimeShift.
    """

    kind: np.ndarray
    value: np.ndarray


class EventTokenizer:
    """Notes <-> token ids, a thin layer over a configured miditok `MIDILike` tokenizer."""

    def __init__(self, config: SequenceTokenizerConfig) -> None:
        from miditok import MIDILike, TokenizerConfig

        self.config = config
        self.steps_per_beat = config.steps_per_second // 2
        max_beats = int(config.max_note_seconds / SECONDS_PER_BEAT)
        max_frames = int(round((config.max_note_seconds / SECONDS_PER_BEAT - max_beats)
                               * self.steps_per_beat))
        self._miditok = MIDILike(TokenizerConfig(
            pitch_range=(config.pitch_low, config.pitch_high),
            beat_res={(0, int(config.max_shift_seconds / SECONDS_PER_BEAT)): self.steps_per_beat},
            num_velocities=config.num_velocities,
            special_tokens=["PAD", "BOS", "EOS"],
            use_velocities=True, use_time_signatures=False, use_tempos=False, use_programs=False,
            use_pitchdrum_tokens=False, remove_duplicated_notes=True,
            programs=[0],  # one merged piano track (also keeps miditok's decoding state small)
            max_duration=(max_beats, max_frames, self.steps_per_beat),
        ))
        vocab: dict[str, int] = self._miditok.vocab
        self.vocab: list[str] = [name for name, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
        self.pad_id, self.bos_id, self.eos_id = vocab["PAD_None"], vocab["BOS_None"], vocab["EOS_None"]
        self.table = self._token_table()

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def seconds_per_step(self) -> float:
        return 1.0 / self.config.steps_per_second

    def _token_table(self) -> TokenTable:
        kinds = {"NoteOn": NOTE_ON, "NoteOff": NOTE_OFF, "Velocity": VELOCITY, "TimeShift": TIME_SHIFT}
        kind = np.zeros(len(self.vocab), np.int64)
        value = np.zeros(len(self.vocab), np.int64)
        for i, name in enumerate(self.vocab):
            type_, _, raw = name.partition("_")
            kind[i] = kinds.get(type_, SPECIAL)
            if kind[i] == TIME_SHIFT:
                beats, frames, res = (int(x) for x in raw.split("."))
                value[i] = (beats * res + frames) * self.steps_per_beat // res
            elif kind[i] != SPECIAL:
                value[i] = int(raw)
        return TokenTable(kind, value)

    def _grid_score(self, notes: Notes) -> MidiScore:
        """Notes on the tokenizer's tick grid: `steps_per_beat` ticks per 0.5 s beat."""
        return score_from_notes(notes, ticks_per_quarter=self.steps_per_beat)

    def encode(self, notes: Notes) -> list[int]:
        """Token ids of `notes` (no BOS / EOS). Notes outside the pitch range are dropped; times
        are quantized to 1 / steps_per_second s; velocities to num_velocities bins."""
        if len(notes) == 0:
            return []
        tokens = self._miditok.encode(self._grid_score(notes))
        return list(tokens[0].ids) if tokens else []

    def decode(self, ids: Sequence[int] | np.ndarray) -> MidiScore:
        """A score (one piano track, 120 bpm, `steps_per_beat` ticks per quarter) from any ids.

        Specials, ids outside [0, V), a NoteOn not followed by a Velocity and a Velocity not
        after a NoteOn are dropped first; the result always writes and parses as a standard MIDI
        file. Zero-length notes are lengthened to one time step.
        """
        kind = self.table.kind
        valid = [int(i) for i in np.asarray(ids, dtype=np.int64).reshape(-1)
                 if 0 <= i < len(self.vocab) and kind[i] != SPECIAL]
        clean: list[int] = []
        for i, token in enumerate(valid):
            if kind[token] == NOTE_ON and (i + 1 == len(valid) or kind[valid[i + 1]] != VELOCITY):
                continue
            if kind[token] == VELOCITY and (not clean or kind[clean[-1]] != NOTE_ON):
                continue
            clean.append(token)
        decoded: MidiScore = self._miditok.decode([clean])
        score: MidiScore = Score(self.steps_per_beat)
        score.tempos.append(Tempo(0, REFERENCE_BPM))
        track: Any = Track("Piano", 0, False)
        for source in decoded.tracks:
            for note in source.notes:
                track.notes.append(Note(note.time, max(1, note.duration), note.pitch,
                                        max(1, min(127, note.velocity))))
        track.notes.sort()
        score.tracks.append(track)
        return score

    def decode_notes(self, ids: Sequence[int] | np.ndarray) -> Notes:
        """`decode` followed by `notes_from_score`."""
        return notes_from_score(self.decode(ids))

    def save_params(self, path: str | os.PathLike[str]) -> None:
        """Write miditok's own JSON description of the tokenizer (for use outside gansynth)."""
        final = Path(path)
        with atomic_path(final) as tmp:
            self._miditok.save(tmp)
