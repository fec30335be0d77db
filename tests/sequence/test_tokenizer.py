"""Tokenizer: vocabulary layout, Score round trip on real MIDI, and robust decoding of any id stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from symusic import Note as SymNote
from symusic import Score as SymScore
from symusic import Tempo, Track

from gansynth.config import SequenceTokenizerConfig
from gansynth.score import Note, score_from_midi, score_from_notes, score_to_midi
from gansynth.sequence.tokenizer import NOTE_OFF, NOTE_ON, TIME_SHIFT, VELOCITY, EventTokenizer


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


def test_tokens_of_a_shipped_file_are_stable(tokenizer: EventTokenizer,
                                            example_midi: list[Path]) -> None:
    """The shipped LSTM was trained on these ids: a change of tokenization (or of miditok's
    vocabulary order) would silently break it."""
    chorale = next(p for p in example_midi if p.name == "chorale_bwv10_7.mid")
    ids = tokenizer.encode(score_from_midi(chorale))
    assert len(ids) == 672
    assert ids[:24] == [37, 189, 40, 189, 49, 189, 56, 189, 226, 125, 128, 137, 144, 39, 189, 42,
                        189, 47, 189, 59, 189, 226, 127, 130]


def test_round_trip_on_real_midi_preserves_notes(tokenizer: EventTokenizer,
                                                 example_midi: list[Path]) -> None:
    step = tokenizer.seconds_per_step
    vel_bin = 127 / tokenizer.config.num_velocities
    max_note = tokenizer.config.max_note_seconds
    for path in example_midi:
        original = score_from_midi(path).pitched_notes()
        decoded = tokenizer.decode(tokenizer.encode(score_from_midi(path)))
        assert [t.program for t in decoded.tracks] == [0] and {n.track for n in decoded.notes} == {0}
        # Unison duplicates (same onset and pitch in two voices) collapse to one note. Where two
        # notes of one pitch overlap, a NoteOff does not say which one it ends (FIFO), so only
        # their onsets are compared; every other duration must survive up to one time step.
        want: dict[tuple[int, int], tuple[float | None, int]] = {}
        for n in original:
            overlapping = sum(1 for m in original
                              if m.pitch == n.pitch and m.end_s > n.start_s and m.start_s < n.end_s)
            key = (int(round(n.start_s / step)), n.pitch)
            want[key] = (min(n.duration_s, max_note) if overlapping == 1 and key not in want else None,
                         n.velocity)
        got = {(int(round(n.start_s / step)), n.pitch): (n.duration_s, n.velocity)
               for n in decoded.notes}
        assert len(decoded.notes) == len(got) and len(want) > 20
        assert set(got) == set(want), path
        checked = 0
        for key, (dur, vel) in want.items():
            assert abs(got[key][1] - vel) <= vel_bin, (path, key)
            if dur is not None:
                assert abs(got[key][0] - dur) <= step + 1e-6, (path, key, got[key], dur)
                checked += 1
        assert checked > 0.9 * len(want)


def test_round_trip_at_the_files_tempo(tokenizer: EventTokenizer, tmp_path: Path) -> None:
    """A MIDI file at 60 bpm: tokens hold beats, and decoded at the file's tempo the onsets
    match in seconds."""
    score = SymScore(480)
    score.tempos.append(Tempo(0, 60.0))
    track = Track("x", 0, False)
    for i, pitch in enumerate((60, 64, 67)):
        track.notes.append(SymNote(i * 480, 240, pitch, 100))  # one note per second, 0.5 s long
    score.tracks.append(track)
    score.dump_midi(str(tmp_path / "slow.mid"))
    slow = score_from_midi(tmp_path / "slow.mid")
    assert slow.qpm == 60.0
    decoded = tokenizer.decode(tokenizer.encode(slow), qpm=slow.qpm)
    np.testing.assert_allclose([n.start_s for n in decoded.notes], [0.0, 1.0, 2.0], atol=1e-6)
    np.testing.assert_allclose([n.duration_s for n in decoded.notes], [0.5, 0.5, 0.5], atol=1e-6)


def test_tracks_are_merged_and_drums_dropped(tokenizer: EventTokenizer) -> None:
    melody = [Note(72, 100, 0.0, 0.5, track=0, program=40), Note(74, 100, 0.5, 1.0, track=0, program=40)]
    bass = [Note(48, 80, 0.0, 1.0, track=1, program=33)]
    drums = [Note(36, 120, 0.0, 0.1, track=2, is_drum=True), Note(38, 120, 0.5, 0.6, track=2, is_drum=True)]
    ids = tokenizer.encode(score_from_notes(melody + bass + drums))
    one_track = [Note(n.pitch, n.velocity, n.start_s, n.end_s) for n in melody + bass]
    assert ids == tokenizer.encode(score_from_notes(one_track))
    assert sorted(n.pitch for n in tokenizer.decode(ids).notes) == [48, 72, 74]
    assert tokenizer.encode(score_from_notes(drums)) == []


def test_random_token_streams_always_decode_to_valid_midi(tokenizer: EventTokenizer,
                                                          tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vocab = len(tokenizer)
    cfg = tokenizer.config
    for i in range(300):
        length = int(rng.integers(0, 400))
        ids = rng.integers(-5, vocab + 5, size=length)  # includes ids outside the vocabulary
        if i % 3 == 0:  # streams made only of note events stress unmatched on/off
            notes = np.flatnonzero(np.isin(tokenizer.table.kind, (NOTE_ON, NOTE_OFF, VELOCITY)))
            ids = rng.choice(notes, size=length)
        score = tokenizer.decode(ids)
        assert len(score.tracks) <= 1 and all(t.num_notes == len(score.notes) for t in score.tracks)
        for n in score.notes:
            assert 0 < n.duration_s <= cfg.max_note_seconds + 1e-6
            assert cfg.pitch_low <= n.pitch <= cfg.pitch_high and 1 <= n.velocity <= 127
            assert (n.track, n.program, n.is_drum) == (0, 0, False)
        if i < 20:  # through a real file as well
            score_to_midi(score, tmp_path / "random.mid")
            assert SymScore(str(tmp_path / "random.mid")).note_num() == len(score.notes)
            if score.notes:
                back = score_from_midi(tmp_path / "random.mid", sustain=False)
                assert [(n.pitch, n.velocity) for n in back.notes] == [
                    (n.pitch, n.velocity) for n in score.notes]
                np.testing.assert_allclose([n.start_s for n in back.notes],
                                           [n.start_s for n in score.notes], atol=1e-3)


def test_empty_stream_decodes_to_empty_valid_midi(tokenizer: EventTokenizer, tmp_path: Path) -> None:
    score = tokenizer.decode([])
    assert score.notes == () and score.end_s == 0.0
    score_to_midi(score, tmp_path / "empty.mid")
    assert SymScore(str(tmp_path / "empty.mid")).note_num() == 0
    assert tokenizer.encode(score) == []


def test_notes_outside_pitch_range_are_dropped() -> None:
    tok = EventTokenizer(SequenceTokenizerConfig(pitch_low=48, pitch_high=72))
    score = score_from_notes([Note(40, 90, 0.0, 0.25), Note(60, 90, 0.5, 0.75), Note(80, 90, 1.0, 1.25)])
    assert [n.pitch for n in tok.decode(tok.encode(score)).notes] == [60]


def test_note_on_needs_its_velocity(tokenizer: EventTokenizer) -> None:
    v = {name: i for i, name in enumerate(tokenizer.vocab)}
    shift = v["TimeShift_1.0.16"]  # one beat: 0.5 s
    lone = [v["NoteOn_60"], shift, v["NoteOff_60"]]
    assert tokenizer.decode(lone).notes == ()
    paired = [v["NoteOn_60"], v["NoteOn_62"], v["Velocity_87"], v["Velocity_55"], shift,
              v["NoteOff_60"], v["NoteOff_62"]]
    notes = tokenizer.decode(paired).notes
    assert [(n.pitch, n.velocity) for n in notes] == [(62, 87)]
    assert notes[0].duration_s == pytest.approx(0.5)


def test_time_is_counted_in_beats_and_decoded_at_a_tempo(tokenizer: EventTokenizer) -> None:
    beats = [(0.0, 1.0, 60), (1.0, 1.5, 64), (1.5, 3.0, 67)]
    at_120 = score_from_notes([Note(p, 80, s * 0.5, e * 0.5) for s, e, p in beats])
    at_72 = score_from_notes([Note(p, 80, s * 60 / 72, e * 60 / 72) for s, e, p in beats],
                             tempos=[(0.0, 72.0)])
    ids = tokenizer.encode(at_120)
    assert tokenizer.encode(at_72) == ids  # the same beats, whatever the tempo
    back = tokenizer.decode(ids, qpm=72.0)
    assert back.qpm == 72.0
    assert [(n.pitch, round(n.start_s, 6), round(n.end_s, 6)) for n in back.notes] == \
        [(n.pitch, round(n.start_s, 6), round(n.end_s, 6)) for n in at_72.notes]
