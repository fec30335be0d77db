from __future__ import annotations

import numpy as np

from gansynth.data import FIXTURE_DIR
from gansynth.evaluate import measured_pitch, octave_rows, pitch_report, real_notes

SR = 16000


def tone(midi: float, seconds: float = 1.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    return (0.3 * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))).astype(np.float32)


def test_measured_pitch_of_tones_and_silence() -> None:
    for midi in (30, 45, 60.3, 80):
        measured = measured_pitch(tone(midi), SR)
        assert measured is not None and abs(measured - midi) < 0.25
    assert measured_pitch(np.zeros(SR * 2, dtype=np.float32), SR) is None


def test_pitch_report_counts_hits_misses_and_unvoiced() -> None:
    audios = [tone(60), tone(61), tone(72), np.zeros(SR * 2, dtype=np.float32)]
    report = pitch_report(audios, [60, 60, 60, 60], SR)
    assert (report.hits, report.total, report.unvoiced) == (1, 4, 1)
    assert report.accuracy == 0.25
    assert report.pitches == (60, 60, 60, 60) and report.missed == (60, 60, 60)


def test_octave_rows_count_hits_per_band() -> None:
    audios = [tone(30), tone(31), tone(50), np.zeros(SR * 2, dtype=np.float32)]
    report = pitch_report(audios, [30, 30, 50, 50], SR)  # 31 is a semitone off, the last is silent
    rows = octave_rows([report, report], 24, 60)
    assert [row.split() for row in rows] == [["MIDI", "24-35:", "1/2", "1/2"], ["MIDI", "36-47:", "-", "-"],
                                             ["MIDI", "48-59:", "1/2", "1/2"], ["MIDI", "60-60:", "-", "-"]]


def test_real_notes_from_the_fixture_respect_range_and_count() -> None:
    audios, pitches, names = real_notes(FIXTURE_DIR, 40, 70, count=5, sample_rate=SR, note_length=64000, seed=1)
    assert len(audios) == len(pitches) == len(names) == 5
    assert all(40 <= p <= 70 for p in pitches)
    assert all(a.shape == (64000,) for a in audios)
    again = real_notes(FIXTURE_DIR, 40, 70, count=5, sample_rate=SR, note_length=64000, seed=1)[2]
    assert again == names
