from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gansynth.data import FIXTURE_DIR
from gansynth.evaluate import measured_pitch, pitch_report, pyin_by_octave, real_notes

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


def test_pyin_by_octave_counts_hits_per_band() -> None:
    audios = [tone(30), tone(31), tone(50), np.zeros(SR * 2, dtype=np.float32)]
    report = pitch_report(audios, [30, 30, 50, 50], SR)  # 31 is a semitone off, the last is silent
    assert pyin_by_octave(report, 24, 60) == {"24-35": 0.5, "48-59": 0.5}


def test_real_notes_from_the_fixture_respect_range_and_count() -> None:
    audios, pitches, names = real_notes(FIXTURE_DIR, 40, 70, count=5, sample_rate=SR, note_length=64000, seed=1)
    assert len(audios) == len(pitches) == len(names) == 5
    assert all(40 <= p <= 70 for p in pitches)
    assert all(a.shape == (64000,) for a in audios)
    again = real_notes(FIXTURE_DIR, 40, 70, count=5, sample_rate=SR, note_length=64000, seed=1)[2]
    assert again == names


# -- the whole report, with the shipped classifier ----------------------------------------------


def test_real_notes_are_closer_to_real_notes_than_noise_and_sines(tmp_path: Path) -> None:
    """Two halves of one set of real notes (TimGM6mb, a SoundFont the classifier never heard)
    against each other, against white noise and against pure sines at the same pitches."""
    from gansynth.classifier import load_classifier
    from gansynth.data.gm import build_gm
    from gansynth.evaluate import note_embeddings, set_distance
    from tests.conftest import require_system
    from tests.data.conftest import TIMGM, small_settings

    require_system(TIMGM.is_file(), f"the TimGM6mb SoundFont ({TIMGM})")
    build_gm(small_settings(programs=(0, 24, 40, 56, 71, 73), pitches=tuple(range(36, 85, 4)),
                            velocities=(100,)), tmp_path / "gm", workers=1, progress=False)
    audios, pitches, _ = real_notes(tmp_path / "gm", 24, 84, count=1000, sample_rate=SR,
                                    note_length=64000)
    real = np.stack(audios)
    half_a, half_b = real[0::2], real[1::2]
    rng = np.random.default_rng(0)
    noise = (0.1 * rng.standard_normal(half_b.shape)).astype(np.float32)
    t = np.arange(3 * SR) / SR
    sines = np.stack([np.pad(0.3 * np.sin(2 * np.pi * 440.0 * 2 ** ((p - 69) / 12) * t), (0, SR))
                      for p in pitches[1::2]]).astype(np.float32)
    classifier = load_classifier()
    reference = note_embeddings(classifier, half_a)
    fid_real, ndb_real, k = set_distance(reference, note_embeddings(classifier, half_b), ndb_k=5)
    fid_noise, ndb_noise, _ = set_distance(reference, note_embeddings(classifier, noise), ndb_k=5)
    fid_sine, ndb_sine, _ = set_distance(reference, note_embeddings(classifier, sines), ndb_k=5)
    assert len(real) >= 70 and k == 5
    assert fid_real < 0.5 * fid_noise and fid_real < 0.5 * fid_sine
    assert ndb_real <= 1 < min(ndb_noise, ndb_sine)


def test_evaluate_command_writes_both_sides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from gansynth.cli import main

    out = tmp_path / "eval.json"
    assert main(["evaluate", "--real", str(FIXTURE_DIR), "--split", "valid", "--notes", "8",
                 "--pyin-notes", "2", "--quiet", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    keys = {"pitch_accuracy", "pitch_entropy", "fid", "ndb", "pyin_accuracy", "pyin_by_octave",
            "hiband_energy", "release_level"}
    for side in ("generated", "real"):
        assert keys <= set(report[side]) and report[side]["notes"] == 8
        assert report[side]["pyin_notes"] == 2
        assert report[side]["fid"] is not None and report[side]["ndb"] is not None
    assert 0 <= report["real"]["pitch_accuracy"] <= 1 and report["real"]["pitch_entropy"] >= 0
    text = capsys.readouterr().out
    assert "FID (classifier embedding)" in text and "train-split notes against the valid notes" in text
