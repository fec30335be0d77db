"""Tokenizer: vocabulary layout, round trip on real MIDI, and robust decoding of any id stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from symusic import Score

from gansynth.config import SequenceTokenizerConfig
from gansynth.errors import BadInputError
from gansynth.sequence.tokenizer import (
    NOTE_OFF,
    NOTE_ON,
    TIME_SHIFT,
    VELOCITY,
    EventTokenizer,
    Notes,
    notes_from_midi,
    write_midi,
)


def test_vocabulary_is_performance_rnn_like(tokenizer: EventTokenizer) -> None:
    cfg = tokenizer.config
    kind, value = tokenizer.table.kind, tokenizer.table.value
    pitches = cfg.pitch_high - cfg.pitch_low + 1
    assert (kind == NOTE_ON).sum() == pitches and (kind == NOTE_OFF).sum() == pitches
    assert (kind == VELOCITY).sum() == cfg.num_velocities
    shifts = np.sort(value[kind == TIME_SHIFT])
    # one token per step from one step up to max_shift_seconds
    assert shifts.tolist() == list(range(1, int(cfg.max_shift_seconds * cfg.steps_per_second) + 1))
    assert {tokenizer.vocab[i] for i in (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id)} == {
        "PAD_None", "BOS_None", "EOS_None"}


def test_round_trip_on_real_midi_preserves_notes(tokenizer: EventTokenizer,
                                                 example_midi: list[Path]) -> None:
    step = tokenizer.seconds_per_step
    vel_bin = 127 / tokenizer.config.num_velocities
    max_note = tokenizer.config.max_note_seconds
    for path in example_midi:
        original = notes_from_midi(path)
        decoded = tokenizer.decode_notes(tokenizer.encode(original))
        # Unison duplicates (same onset and pitch in two voices) collapse to one note. Where two
        # notes of one pitch overlap, a NoteOff does not say which one it ends (FIFO), so only
        # their onsets are compared; every other duration must survive up to one time step.
        want: dict[tuple[int, int], tuple[float | None, int]] = {}
        for o, d, p, v in zip(original.onset, original.duration, original.pitch, original.velocity,
                              strict=True):
            same = (original.pitch == p) & (original.onset + original.duration > o) & (
                original.onset < o + d)
            key = (int(round(o / step)), int(p))
            want[key] = (min(d, max_note) if same.sum() == 1 and key not in want else None, int(v))
        got = {(int(round(o / step)), int(p)): (d, int(v)) for o, d, p, v in
               zip(decoded.onset, decoded.duration, decoded.pitch, decoded.velocity, strict=True)}
        assert len(decoded) == len(got) and len(want) > 20
        assert set(got) == set(want), path
        checked = 0
        for key, (dur, vel) in want.items():
            assert abs(got[key][1] - vel) <= vel_bin, (path, key)
            if dur is not None:
                assert abs(got[key][0] - dur) <= step + 1e-6, (path, key, got[key], dur)
                checked += 1
        assert checked > 0.9 * len(want)


def test_round_trip_maps_tempo_to_absolute_time(tokenizer: EventTokenizer, tmp_path: Path) -> None:
    """A score at 60 bpm: tokens hold seconds, so decoded onsets match in seconds."""
    score = Score(480)
    from symusic import Note, Tempo, Track

    score.tempos.append(Tempo(0, 60.0))
    track = Track("x", 0, False)
    for i, pitch in enumerate((60, 64, 67)):
        track.notes.append(Note(i * 480, 240, pitch, 100))  # one note per second, 0.5 s long
    score.tracks.append(track)
    write_midi(tmp_path / "slow.mid", score)
    decoded = tokenizer.decode_notes(tokenizer.encode(notes_from_midi(tmp_path / "slow.mid")))
    np.testing.assert_allclose(decoded.onset, [0.0, 1.0, 2.0], atol=1e-6)
    np.testing.assert_allclose(decoded.duration, [0.5, 0.5, 0.5], atol=1e-6)


def test_random_token_streams_always_decode_to_valid_midi(tokenizer: EventTokenizer,
                                                          tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vocab = len(tokenizer)
    max_note = tokenizer.config.max_note_seconds
    for i in range(300):
        length = int(rng.integers(0, 400))
        ids = rng.integers(-5, vocab + 5, size=length)  # includes ids outside the vocabulary
        if i % 3 == 0:  # streams made only of note events stress unmatched on/off
            notes = np.flatnonzero(np.isin(tokenizer.table.kind, (NOTE_ON, NOTE_OFF, VELOCITY)))
            ids = rng.choice(notes, size=length)
        score = tokenizer.decode(ids)
        parsed = Score.from_midi(score.dumps_midi())
        assert len(parsed.tracks) <= 1
        for track in parsed.tracks:
            arr = track.notes.numpy()
            assert np.all(arr["duration"] > 0)
            assert np.all((arr["pitch"] >= tokenizer.config.pitch_low)
                          & (arr["pitch"] <= tokenizer.config.pitch_high))
            assert np.all((arr["velocity"] >= 1) & (arr["velocity"] <= 127))
        decoded = tokenizer.decode_notes(ids)
        assert np.all(decoded.duration <= max_note + 1e-6)
        if i < 20:  # through a real file as well
            write_midi(tmp_path / "random.mid", score)
            assert Score(str(tmp_path / "random.mid")).note_num() == score.note_num()


def test_empty_stream_decodes_to_empty_valid_midi(tokenizer: EventTokenizer) -> None:
    score = tokenizer.decode([])
    assert Score.from_midi(score.dumps_midi()).note_num() == 0
    assert tokenizer.encode(Notes.from_arrays(*(np.zeros(0),) * 4)) == []


def test_notes_outside_pitch_range_are_dropped() -> None:
    tok = EventTokenizer(SequenceTokenizerConfig(pitch_low=48, pitch_high=72))
    notes = Notes.from_arrays(np.array([0.0, 0.5, 1.0]), np.full(3, 0.25), np.array([40, 60, 80]),
                              np.full(3, 90))
    assert tok.decode_notes(tok.encode(notes)).pitch.tolist() == [60]


def test_bad_midi_is_one_clear_error(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd\x00\x00 this is not a MIDI file")
    with pytest.raises(BadInputError, match="corrupt.mid: not a valid MIDI file"):
        notes_from_midi(corrupt)
    with pytest.raises(BadInputError, match="missing.mid: MIDI file not found"):
        notes_from_midi(tmp_path / "missing.mid")


def test_note_on_needs_its_velocity(tokenizer: EventTokenizer) -> None:
    v = {name: i for i, name in enumerate(tokenizer.vocab)}
    shift = v["TimeShift_1.0.16"]  # one beat: 0.5 s
    lone = [v["NoteOn_60"], shift, v["NoteOff_60"]]
    assert len(tokenizer.decode_notes(lone)) == 0
    paired = [v["NoteOn_60"], v["NoteOn_62"], v["Velocity_87"], v["Velocity_55"], shift,
              v["NoteOff_60"], v["NoteOff_62"]]
    notes = tokenizer.decode_notes(paired)
    assert notes.pitch.tolist() == [62] and notes.velocity.tolist() == [87]
    np.testing.assert_allclose(notes.duration, [0.5])
