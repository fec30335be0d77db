"""MIDI <-> scores: timing in seconds, tracks/programs, sustain pedal, in-memory scores, and
rejected files."""

from __future__ import annotations

from pathlib import Path

import pytest
from symusic import ControlChange, Tempo, Track
from symusic import Note as SymNote
from symusic import Score as SymScore

from gansynth.errors import BadInputError
from gansynth.score import (
    Note,
    apply_sustain,
    notes_from_midi,
    notes_to_midi,
    score_from_midi,
    score_from_notes,
    score_to_midi,
)

TPQ = 480  # at 120 qpm one tick is 1/960 s


def write_symusic_midi(path: Path, tracks: list[Track], tempos: list[Tempo] | None = None) -> Path:
    score = SymScore(TPQ)
    for tempo in tempos or [Tempo(0, qpm=120.0)]:
        score.tempos.append(tempo)
    score.tracks.extend(tracks)
    score.dump_midi(str(path))
    return path


def test_notes_to_midi_round_trip(tmp_path: Path) -> None:
    notes = [Note(60, 100, 0.0, 0.5, 0, 0), Note(64, 50, 0.25, 1.0, 0, 0),
             Note(40, 127, 1.0, 3.0, 1, 33), Note(38, 90, 0.5, 0.6, 2, 0, True)]
    path = tmp_path / "rt.mid"
    notes_to_midi(notes, path)
    score = score_from_midi(path)
    back = sorted(score.notes, key=lambda n: (n.start_s, n.track, n.pitch))
    assert len(back) == len(notes)
    for a, b in zip(sorted(notes, key=lambda n: (n.start_s, n.track, n.pitch)), back, strict=True):
        assert (a.pitch, a.velocity, a.track, a.program, a.is_drum) == (
            b.pitch, b.velocity, b.track, b.program, b.is_drum)
        assert b.start_s == pytest.approx(a.start_s, abs=1e-3)
        assert b.end_s == pytest.approx(a.end_s, abs=1e-3)
    assert [t.num_notes for t in score.tracks] == [2, 1, 1]
    assert score.end_s == pytest.approx(3.0, abs=1e-3)


def test_score_from_notes_sorts_and_describes_tracks() -> None:
    notes = [Note(64, 80, 1.0, 2.0, 1, 33), Note(60, 100, 0.0, 0.5, 0, 0), Note(62, 90, 0.0, 1.0, 1, 33),
             Note(36, 120, 0.5, 0.6, 9, 0, True)]
    score = score_from_notes(notes, track_names={1: "bass"})
    assert score.path == "<notes>"
    assert [(n.start_s, n.track, n.pitch) for n in score.notes] == [
        (0.0, 0, 60), (0.0, 1, 62), (0.5, 9, 36), (1.0, 1, 64)]
    assert [(t.index, t.name, t.program, t.is_drum, t.num_notes) for t in score.tracks] == [
        (0, "track 0", 0, False, 1), (1, "bass", 33, False, 2), (9, "track 9", 0, True, 1)]
    assert score.end_s == 2.0 and len(score.pitched_notes()) == 3
    empty = score_from_notes([], path="<empty>")
    assert empty.notes == () and empty.tracks == () and empty.end_s == 0.0
    with pytest.raises(BadInputError, match="^<empty>: MIDI file has no notes"):
        empty.require_pitched()


def test_score_to_midi_round_trip_keeps_tracks(tmp_path: Path) -> None:
    score = score_from_notes([Note(60, 100, 0.0, 0.5), Note(43, 70, 0.25, 1.75, 1, 32),
                              Note(42, 110, 1.0, 1.1, 2, 0, True)],
                             track_names={0: "lead", 1: "bass", 2: "kit"})
    path = tmp_path / "score.mid"
    score_to_midi(score, path)
    back = score_from_midi(path)
    assert back.path == str(path)
    assert [(t.name, t.program, t.is_drum, t.num_notes) for t in back.tracks] == [
        (t.name, t.program, t.is_drum, t.num_notes) for t in score.tracks]
    assert [(n.pitch, n.velocity, n.track) for n in back.notes] == [
        (n.pitch, n.velocity, n.track) for n in score.notes]
    for a, b in zip(score.notes, back.notes, strict=True):
        assert b.start_s == pytest.approx(a.start_s, abs=1e-3) and b.end_s == pytest.approx(a.end_s, abs=1e-3)
    # written atomically: nothing but the file itself, and a missing folder is one clear error
    assert [p.name for p in tmp_path.iterdir()] == ["score.mid"]
    with pytest.raises(BadInputError, match="does not exist"):
        score_to_midi(score, tmp_path / "missing" / "x.mid")


def test_tempo_changes_are_applied(tmp_path: Path) -> None:
    track = Track(name="t", program=0)
    track.notes.append(SymNote(0, TPQ, 60, 100))  # one quarter at 120 qpm = 0.5 s
    track.notes.append(SymNote(2 * TPQ, TPQ, 62, 100))  # after the change to 60 qpm at tick 960
    path = write_symusic_midi(tmp_path / "tempo.mid", [track],
                      [Tempo(0, qpm=120.0), Tempo(2 * TPQ, qpm=60.0)])
    notes = notes_from_midi(path)
    assert notes[0].start_s == pytest.approx(0.0) and notes[0].end_s == pytest.approx(0.5)
    assert notes[1].start_s == pytest.approx(1.0) and notes[1].end_s == pytest.approx(2.0)


def _pedal_track() -> Track:
    track = Track(name="piano", program=0)
    track.notes.append(SymNote(0, 240, 60, 100))  # 0 .. 0.25 s, released while pedal down
    track.notes.append(SymNote(0, 240, 64, 100))  # same, but E is re-struck at 0.5 s
    track.notes.append(SymNote(480, 96, 64, 80))  # 0.5 .. 0.6 s
    track.notes.append(SymNote(2000, 100, 67, 90))  # after the pedal: unchanged
    track.controls.append(ControlChange(10, 64, 127))  # down at ~0.0104 s
    track.controls.append(ControlChange(960, 64, 0))  # up at 1.0 s
    return track


def test_sustain_pedal_extends_notes(tmp_path: Path) -> None:
    path = write_symusic_midi(tmp_path / "pedal.mid", [_pedal_track()])
    by = {(n.pitch, round(n.start_s, 3)): n for n in notes_from_midi(path)}
    assert by[(60, 0.0)].end_s == pytest.approx(1.0)  # held to pedal up
    assert by[(64, 0.0)].end_s == pytest.approx(0.5)  # cut by the re-struck E
    assert by[(64, 0.5)].end_s == pytest.approx(1.0)
    assert by[(67, round(2000 / 960, 3))].end_s == pytest.approx(2100 / 960)
    raw = {(n.pitch, round(n.start_s, 3)): n for n in notes_from_midi(path, sustain=False)}
    assert raw[(60, 0.0)].end_s == pytest.approx(0.25)


def test_pedal_never_released_holds_to_file_end() -> None:
    notes = [Note(60, 100, 0.0, 0.2), Note(62, 100, 1.0, 3.0)]
    held = apply_sustain(notes, [(0.1, 3.0)])
    assert held[0].end_s == 3.0 and held[1].end_s == 3.0
    # a note released before the pedal goes down is unchanged
    assert apply_sustain([Note(60, 100, 0.0, 0.05)], [(0.1, 3.0)])[0].end_s == 0.05


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="nope.mid: MIDI file not found"):
        score_from_midi(tmp_path / "nope.mid")


def corrupt_midi_bytes() -> bytes:
    """A hand-written type-0 MIDI file whose note-on has a data byte over 127 (0xE4)."""
    events = bytes([0x00, 0x90, 0x3C, 0xE4,  # note on, pitch 60, velocity 228: invalid
                    0x60, 0x80, 0x3C, 0x40,  # note off
                    0x00, 0xFF, 0x2F, 0x00])  # end of track
    header = b"MThd" + (6).to_bytes(4, "big") + bytes([0, 0, 0, 1, 0x01, 0xE0])
    return header + b"MTrk" + len(events).to_bytes(4, "big") + events


def test_corrupt_and_empty_files(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(corrupt_midi_bytes())
    with pytest.raises(BadInputError, match=r"corrupt.mid: not a valid MIDI file \(.*velocity"):
        score_from_midi(corrupt)
    zero = tmp_path / "zero.mid"
    zero.write_bytes(b"")
    with pytest.raises(BadInputError, match="zero.mid: not a valid MIDI file"):
        score_from_midi(zero)
    text = tmp_path / "text.mid"
    text.write_text("not midi at all, just text")
    with pytest.raises(BadInputError, match="text.mid: not a valid MIDI file"):
        score_from_midi(text)
    # a valid file without notes
    empty = write_symusic_midi(tmp_path / "empty.mid", [Track(name="silent", program=0)])
    with pytest.raises(BadInputError, match="empty.mid: MIDI file has no notes"):
        score_from_midi(empty)


def test_drums_only_is_rejected_for_rendering(tmp_path: Path) -> None:
    drums = Track(name="drums", program=0, is_drum=True)
    drums.notes.append(SymNote(0, 120, 36, 100))
    path = write_symusic_midi(tmp_path / "drums.mid", [drums])
    score = score_from_midi(path)
    assert score.notes[0].is_drum and score.tracks[0].is_drum
    with pytest.raises(BadInputError, match="drums.mid: MIDI file has only drum notes"):
        score.require_pitched()
