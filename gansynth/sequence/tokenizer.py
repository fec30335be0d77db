"""`Score` <-> Performance-RNN style event tokens.

Vocabulary (miditok `MIDILike`, configured by `SequenceTokenizerConfig`):

- ``PAD``, ``BOS``, ``EOS``: special tokens (a training stream is ``BOS ... EOS``);
- ``NoteOn_p`` / ``NoteOff_p`` for every pitch p in [pitch_low, pitch_high];
- ``Velocity_v``: num_velocities bins; in MIDILike order a Velocity token follows its NoteOn;
- ``TimeShift_b.f.r``: advance the clock by b beats + f/r beat, 1 step .. max_shift_seconds.

Time is counted in beats: a `gansynth.score.Score` holds seconds and its tempo map, and the
tokenizer places every note on a grid of `steps_per_second / 2` steps per quarter-note beat
(`Score.beats`). The config's seconds are seconds at the reference tempo of 120 bpm (one beat =
0.5 s): a TimeShift of 0.5 "s" is one beat at any tempo. `decode(ids, qpm)` plays the beats back
at `qpm` quarter notes per minute and keeps that tempo in the score, so a primer at 72 bpm is
continued at 72 bpm and its MIDI file says so. All non-drum tracks are merged into one stream. Decoding goes
through miditok after dropping specials, ids outside the vocabulary, and NoteOn / Velocity tokens
that are not a NoteOn-Velocity pair; any id stream decodes to a valid score (unmatched NoteOffs
are ignored, unreleased notes last `max_note_seconds`, empty streams give a score without notes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gansynth.config import SequenceTokenizerConfig
from gansynth.io import atomic_path
from gansynth.score import Note, Score, score_from_notes

REFERENCE_BPM = 120.0
SECONDS_PER_BEAT = 60.0 / REFERENCE_BPM
TRACK_NAME = "Piano"  # the one track of a decoded score (program 0)

# token kinds (TokenTable.kind)
SPECIAL, NOTE_ON, NOTE_OFF, VELOCITY, TIME_SHIFT = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class TokenTable:
    """Per-id meaning of the vocabulary, for masks during sampling.

    kind: (V,) int64, one of SPECIAL, NOTE_ON, NOTE_OFF, VELOCITY, TIME_SHIFT;
    value: (V,) int64, the pitch (notes), the velocity, or the time steps of a TimeShift.
    """

    kind: np.ndarray
    value: np.ndarray


class EventTokenizer:
    """`Score` <-> token ids, a thin layer over a configured miditok `MIDILike` tokenizer."""

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

    def _grid_score(self, score: Score) -> Any:
        """The pitched notes of `score` merged into one track of a symusic score (its stubs are
        incomplete, hence Any) with `steps_per_beat` ticks per beat: onsets and durations in
        beats (`Score.beats`) rounded to the tick grid (durations to at least one tick),
        velocities clipped to 1..127. Notes are in (onset, pitch) order, ties in score order."""
        from symusic import Note as SymNote
        from symusic import Score as SymScore
        from symusic import Tempo, Track

        grid: Any = SymScore(self.steps_per_beat)
        grid.tempos.append(Tempo(0, REFERENCE_BPM))
        track: Any = Track(TRACK_NAME, 0, False)
        ticks = self.steps_per_beat
        for n in sorted(score.pitched_notes(), key=lambda n: (n.start_s, n.pitch)):
            start, end = score.beats(n.start_s) * ticks, score.beats(n.end_s) * ticks
            track.notes.append(SymNote(int(round(start)), max(1, int(round(end - start))),
                                       n.pitch, max(1, min(127, n.velocity))))
        grid.tracks.append(track)
        return grid

    def encode(self, score: Score) -> list[int]:
        """Token ids of the pitched notes of `score`, all tracks merged (no BOS / EOS). Drum
        notes and notes outside the pitch range are dropped; times are quantized to
        1 / steps_per_beat beat; velocities to num_velocities bins."""
        if not score.pitched_notes():
            return []
        tokens = self._miditok.encode(self._grid_score(score))
        return list(tokens[0].ids) if tokens else []

    def decode(self, ids: Sequence[int] | np.ndarray, qpm: float = REFERENCE_BPM) -> Score:
        """A `Score` from any ids: one piano track (index 0, program 0, named "Piano"; no track
        when there are no notes), the beats played at `qpm` quarter notes per minute (the
        score's tempo), velocities in 1..127, path "<tokens>".

        Specials, ids outside [0, V), a NoteOn not followed by a Velocity and a Velocity not
        after a NoteOn are dropped first; zero-length notes are lengthened to one time step, so
        the result always writes as a standard MIDI file (`gansynth.score.score_to_midi`).
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
        decoded: Any = self._miditok.decode([clean])  # a symusic score, `steps_per_beat` tpq
        seconds_per_tick = 60.0 / qpm / self.steps_per_beat
        notes = [Note(int(n.pitch), max(1, min(127, int(n.velocity))), n.time * seconds_per_tick,
                      (n.time + max(1, n.duration)) * seconds_per_tick)
                 for track in decoded.tracks for n in track.notes]
        return score_from_notes(notes, path="<tokens>", track_names={0: TRACK_NAME},
                                tempos=[(0.0, float(qpm))])

    def save_params(self, path: str | os.PathLike[str]) -> None:
        """Write miditok's own JSON description of the tokenizer (for use outside gansynth)."""
        final = Path(path)
        with atomic_path(final) as tmp:
            self._miditok.save(tmp)
