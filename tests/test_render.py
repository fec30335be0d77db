"""Score rendering checked exactly against the analytic ToneModel: placement, envelope, velocity,
mixing, timbres, octave folding, drums, output length, peak level, resampling, cache, memory."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from gansynth.errors import BadInputError
from gansynth.render import fold_pitch, render_score
from gansynth.score import Note
from gansynth.synth import Synthesizer, latent_from_seed
from gansynth.testing import ToneModel

SR = 16000
ATTACK, RELEASE = 32, 1600  # 2 ms and 0.1 s at 16 kHz
PEAK = 10 ** (-1 / 20)


def make_synth(**kwargs: int) -> Synthesizer:
    return Synthesizer(ToneModel(note_length=16000), attack_s=0.002, release_s=0.1, **kwargs)


def expected_note(seed: int, pitch: int, velocity: int, hold: int) -> np.ndarray:
    """Independent expectation of one rendered note before the global gain."""
    model = ToneModel(note_length=16000)
    raw = model.generate(latent_from_seed(seed, 16)[None], torch.tensor([pitch])).double().numpy()[0]
    hold = min(hold, 16000 - RELEASE)
    i = np.arange(hold + RELEASE)
    env = np.where(i < ATTACK, 0.5 - 0.5 * np.cos(np.pi * i / ATTACK), 1.0)
    env *= np.where(i < hold, 1.0, 0.5 + 0.5 * np.cos(np.pi * (i - hold + 1) / RELEASE))
    return raw[: hold + RELEASE] * env * (velocity / 127) ** 2


def render(notes: list[Note], synth: Synthesizer | None = None, **options: object) -> tuple:
    result = render_score(synth or make_synth(), notes, progress=False, **options)  # type: ignore[arg-type]
    return result.audio, result.report


def test_placement_envelope_velocity_and_mix_are_exact() -> None:
    notes = [Note(60, 100, 0.1234, 0.5, track=0), Note(67, 40, 0.30007, 0.41, track=1),
             Note(48, 127, 0.9, 2.5, track=0)]  # held past the 1 s model note: capped
    audio, report = render(notes, normalize=False, peak_dbfs=0.0)
    assert report.gain == 1.0  # peak under 0 dBFS: untouched, so the sum is checked directly
    expected = np.zeros(audio.shape[0])
    for n in notes:
        onset = round(n.start_s * SR)
        note = expected_note(n.track, n.pitch, n.velocity, round(n.end_s * SR) - onset)
        expected[onset:onset + note.shape[0]] += note
    np.testing.assert_allclose(audio, expected, atol=2e-6)
    first = round(0.1234 * SR)
    assert np.all(audio[: first + 1] == 0.0) and audio[first + 1] != 0.0  # envelope starts at 0
    # release of the first note begins exactly at its end sample: same as the raw tone up to there
    assert report.notes_rendered == 3 and report.unique_pairs == 3


def test_output_length_is_last_end_plus_release() -> None:
    notes = [Note(60, 100, 0.0, 3.7), Note(62, 100, 0.5, 0.75)]  # 3.7 s > the model's 1 s note
    audio, report = render(notes)
    assert audio.shape == (round(3.7 * SR) + RELEASE,)
    assert report.duration_s == pytest.approx(3.7 + 0.1)
    assert audio[-1] == 0.0  # the release reaches zero, nothing cut off


def test_peak_is_one_global_gain_to_minus_1_dbfs() -> None:
    chord = [Note(p, 127, 0.0, 0.5, track=t) for t in range(4) for p in (48, 52, 55, 60)]
    quiet = [Note(72, 20, 1.0, 1.5, track=5)]
    limited, raw_report = render(chord + quiet, normalize=False, peak_dbfs=0.0)
    assert raw_report.gain < 0.5  # the raw sum is far over full scale
    raw = limited / raw_report.gain
    audio, report = render(chord + quiet)
    assert np.max(np.abs(audio)) <= PEAK
    assert report.peak_dbfs == pytest.approx(-1.0, abs=1e-4)
    # one gain for everything, so the quiet note keeps its level relative to the chord
    np.testing.assert_allclose(audio, raw * report.gain, atol=1e-6)
    # without normalize, a quiet mix is left alone; a loud one is only lowered
    soft, soft_report = render(quiet, normalize=False)
    assert soft_report.gain == 1.0 and np.max(np.abs(soft)) < PEAK
    _, loud_report = render(chord, normalize=False)
    assert loud_report.gain < 1.0 and loud_report.peak_dbfs == pytest.approx(-1.0, abs=1e-4)


def test_velocity_gain_curve_in_the_mix() -> None:
    loud, _ = render([Note(60, 127, 0.0, 0.5)], normalize=False)
    soft, _ = render([Note(60, 64, 0.0, 0.5)], normalize=False)
    assert np.max(np.abs(soft)) / np.max(np.abs(loud)) == pytest.approx((64 / 127) ** 2, rel=1e-5)


def test_timbre_per_track_is_deterministic_and_overridable() -> None:
    notes = [Note(60, 100, 0.0, 0.5, track=0, program=0), Note(60, 100, 1.0, 1.5, track=1, program=0)]
    a, report = render(notes, normalize=False)
    b, _ = render(notes, normalize=False)
    assert np.array_equal(a, b)
    assert report.track_timbres == {0: "seed 0", 1: "seed 1"}
    first, second = a[:9600], a[16000:25600]
    assert not np.allclose(first, second, atol=1e-4)  # tracks sound different
    same, _ = render(notes, normalize=False, timbres={1: 0})
    np.testing.assert_allclose(same[:9600], same[16000:25600], atol=1e-6)
    by_program, report_p = render(notes, normalize=False, timbre_by="program", seed=5)
    assert report_p.track_timbres == {0: "seed 5", 1: "seed 5"} and report_p.unique_pairs == 1
    z = latent_from_seed(1, 16)
    given, _ = render(notes, normalize=False, timbres={0: z})
    np.testing.assert_allclose(given[:9600], second, atol=1e-6)


def test_timbre_drift() -> None:
    notes = [Note(60, 100, t, t + 0.5) for t in (0.0, 2.0, 4.0)]
    plain, _ = render(notes, normalize=False)
    drift, report = render(notes, normalize=False, drift_s=4.0, drift_steps=2)
    # t=0: waypoint 0 = the track's own timbre; t=2: halfway (slerp); t=4: waypoint 1
    np.testing.assert_allclose(drift[:16000], plain[:16000], atol=1e-6)
    assert not np.allclose(drift[32000:48000], plain[32000:48000], atol=1e-4)
    assert not np.allclose(drift[64000:80000], plain[64000:80000], atol=1e-4)
    assert report.unique_pairs == 3


def test_out_of_range_pitches_are_folded_or_dropped() -> None:
    assert fold_pitch(100, 24, 84) == 76 and fold_pitch(10, 24, 84) == 34
    assert fold_pitch(60, 62, 70) is None  # no octave of 60 lands in 62..70
    notes = [Note(100, 100, 0.0, 0.5), Note(10, 100, 1.0, 1.5), Note(60, 100, 2.0, 2.5)]
    audio, report = render(notes, normalize=False)
    assert (report.notes_moved, report.notes_dropped, report.notes_rendered) == (2, 0, 3)
    folded, _ = render([Note(76, 100, 0.0, 0.5), Note(34, 100, 1.0, 1.5), Note(60, 100, 2.0, 2.5)],
                       normalize=False)
    np.testing.assert_array_equal(audio, folded)
    _, dropped = render(notes, drop_out_of_range=True)
    assert (dropped.notes_moved, dropped.notes_dropped, dropped.notes_rendered) == (0, 2, 1)
    assert any("2 notes outside" in line and "dropped" in line for line in dropped.summary())
    with pytest.raises(BadInputError, match="all 1 pitched notes are outside"):
        render([Note(100, 100, 0.0, 0.5)], drop_out_of_range=True)


def test_drum_tracks_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    notes = [Note(60, 100, 0.0, 0.5, track=0), Note(36, 100, 0.0, 0.1, track=9, is_drum=True),
             Note(38, 100, 0.5, 0.6, track=9, is_drum=True)]
    with caplog.at_level(logging.WARNING, logger="gansynth.render"):
        audio, report = render(notes, normalize=False)
    assert "skipping drum track(s) 9 (2 notes)" in caplog.text
    assert report.drum_tracks_skipped == (9,) and report.drum_notes_skipped == 2
    alone, _ = render(notes[:1], normalize=False)
    np.testing.assert_array_equal(audio, alone)
    with pytest.raises(BadInputError, match="only drum notes"):
        render(notes[1:])


@pytest.mark.parametrize("rate", [44100, 48000])
def test_resampled_render(rate: int) -> None:
    notes = [Note(60, 100, 0.0, 0.5), Note(67, 127, 0.25, 1.0, track=1)]
    native, _ = render(notes)
    audio, report = render(notes, sample_rate=rate)
    assert report.sample_rate == rate
    assert audio.shape == (math.ceil(native.shape[0] * rate / SR),)
    assert np.max(np.abs(audio)) <= PEAK and report.peak_dbfs == pytest.approx(-1.0, abs=1e-4)


def test_unique_pairs_generated_once_in_batches_and_cached() -> None:
    model = ToneModel(note_length=16000)
    synth = Synthesizer(model, batch_size=4, release_s=0.1)
    notes = [Note(48 + (i % 5), 100, 0.1 * i, 0.1 * i + 0.2, track=i % 2) for i in range(40)]
    render(notes, synth)
    _, report = render(notes, synth)
    assert report.unique_pairs == 10  # 2 tracks x 5 pitches
    assert model.notes_generated == 10 and model.calls == 3  # once, in batches of 4
    assert report.generated == 0  # second render: all from the cache


def test_five_minute_multitrack_render_memory(tmp_path: Path) -> None:
    """A 5-minute, 4-track MIDI file (2400 notes, 4 s model notes) in a fresh process: peak RSS
    (torch import included) stays under 2 GB."""
    script = textwrap.dedent(f"""
        import resource, sys
        from gansynth.render import render_score
        from gansynth.score import Note, notes_to_midi
        from gansynth.synth import Synthesizer
        from gansynth.testing import ToneModel
        notes = [Note(36 + (i * 7 + t * 5) % 60, 60 + i % 60, i * 0.5, i * 0.5 + 0.4 + t * 0.3,
                      track=t, program=t * 8) for t in range(4) for i in range(600)]
        path = {str(tmp_path / "long.mid")!r}
        notes_to_midi(notes, path)
        result = render_score(Synthesizer(ToneModel(harmonics=2)), path, progress=False, sample_rate=48000)
        assert result.report.notes_rendered == 2400, result.report
        print(result.audio.shape[0] / result.sample_rate)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    duration_s, peak_bytes = out.stdout.split()
    assert float(duration_s) >= 300.0
    assert int(peak_bytes) < 2 * 2**30, f"peak RSS {int(peak_bytes) / 2**20:.0f} MiB"
