"""Synthesizer with the analytic ToneModel: envelope, velocity curve, seeds, batching, cache, slerp,
resampling."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gansynth.errors import BadInputError
from gansynth.synth import (
    NoteModel,
    Synthesizer,
    latent_from_seed,
    note_envelope,
    slerp,
    velocity_to_gain,
)
from gansynth.testing import ToneModel, midi_to_hz

SR = 16000


def small_model() -> ToneModel:
    return ToneModel(note_length=16000)  # 1 s notes keep the tests fast


def raised_cosine_envelope(hold: int, attack: int, release: int) -> np.ndarray:
    """Independent closed form of the documented envelope."""
    i = np.arange(hold + release)
    rise = np.where(i < attack, 0.5 - 0.5 * np.cos(np.pi * i / max(attack, 1)), 1.0)
    j = i - hold + 1
    fall = np.where(i < hold, 1.0, 0.5 + 0.5 * np.cos(np.pi * j / release))
    return rise * fall


def test_tone_model_is_a_note_model() -> None:
    assert isinstance(small_model(), NoteModel)


def test_velocity_curve() -> None:
    assert velocity_to_gain(127) == pytest.approx(1.0)
    assert velocity_to_gain(0) == 0.0
    for v in (1, 32, 64, 100):
        assert 20 * math.log10(float(velocity_to_gain(v))) == pytest.approx(40 * math.log10(v / 127))
    gains = velocity_to_gain(np.arange(128))
    assert np.all(np.diff(gains) > 0)


@pytest.mark.parametrize(("hold", "attack", "release"), [(100, 32, 50), (10, 32, 50), (0, 0, 7)])
def test_envelope_shape_and_smoothness(hold: int, attack: int, release: int) -> None:
    env = note_envelope(hold, attack, release)
    assert env.shape == (hold + release,) and env.dtype == np.float32
    np.testing.assert_allclose(env, raised_cosine_envelope(hold, attack, release), atol=1e-6)
    assert env[-1] == pytest.approx(0.0, abs=1e-7)
    if attack:
        assert env[0] == 0.0
    if hold > attack:
        assert np.all(env[attack:hold] == 1.0)
    # no clicks: the largest step is the raised cosine's slope, pi / (2 * ramp length)
    bound = sum(math.pi / (2 * n) for n in (attack, release) if n)
    before = 0.0 if attack else env[0]  # without an attack the note starts at full level
    assert np.max(np.abs(np.diff(np.concatenate([[before], env, [0.0]])))) <= bound + 1e-6


def test_note_is_model_output_times_envelope_and_gain() -> None:
    model = small_model()
    synth = Synthesizer(model, attack_s=0.002, release_s=0.1)
    audio = synth.note(60, seed=7, velocity=64, duration=0.25)
    hold, attack, release = 4000, 32, 1600
    assert audio.shape == (hold + release,)
    z = latent_from_seed(7, model.latent_dim)
    raw = model.generate(z[None], torch.tensor([60])).numpy()[0]
    gain = (64 / 127) ** 2 * synth.output_gain  # velocity curve on the model's fixed calibration
    expected = raw[: hold + release] * raised_cosine_envelope(hold, attack, release) * gain
    np.testing.assert_allclose(audio, expected, atol=1e-6)
    # the note's pitch is the asked one: strongest FFT bin at f0 (all harmonics weigh >= 1 ... but
    # the fundamental is present): check the spectral peak is at a harmonic of f0
    spectrum = np.abs(np.fft.rfft(raw))
    peak_hz = np.argmax(spectrum) * SR / raw.shape[0]
    f0 = float(midi_to_hz(60))
    assert min(abs(peak_hz - k * f0) for k in range(1, 7)) < 2.0


def test_duration_is_capped_by_note_length() -> None:
    synth = Synthesizer(small_model(), release_s=0.1)
    assert synth.note(60, duration=10.0).shape == (16000,)
    assert synth.note(60).shape == (16000,)  # full note: hold L - R, then release
    assert synth.note(60, duration=0.0).shape == (1600,)


def test_seeds_are_deterministic_and_distinct() -> None:
    synth = Synthesizer(small_model())
    a1 = synth.note(48, seed=1)
    synth.cache.clear()
    a2 = Synthesizer(small_model()).note(48, seed=1)
    assert np.array_equal(a1, a2)
    assert not np.allclose(a1, synth.note(48, seed=2))
    z = latent_from_seed(1, 16)
    assert np.array_equal(synth.note(48, z=z), a1)
    assert torch.equal(latent_from_seed(3, 16), latent_from_seed(3, 16))
    with pytest.raises(BadInputError, match="seed or a latent"):
        synth.note(48, seed=1, z=z)


def test_batching_and_cache() -> None:
    model = small_model()
    synth = Synthesizer(model, batch_size=4)
    pitches = [40, 41, 42, 43, 44, 45, 46, 47, 48, 40]  # 9 unique (seed 0, pitch) pairs
    out = synth.notes(pitches, 0)
    assert len(out) == 10 and np.array_equal(out[0], out[-1])
    assert model.notes_generated == 9 and model.calls == 3  # ceil(9 / 4)
    synth.notes(pitches, 0, velocities=50)
    assert model.notes_generated == 9  # all from the cache
    # bounded cache: room for 3 notes (3 * 16000 float32)
    small = Synthesizer(small_model(), cache_bytes=3 * 16000 * 4)
    small.notes(pitches, 0)
    assert len(small.cache) == 3 and small.cache.bytes <= small.cache.max_bytes


def test_pitch_range_is_checked() -> None:
    synth = Synthesizer(small_model())
    with pytest.raises(BadInputError, match="pitch 100 is outside the model's range 24..84"):
        synth.note(100)


def test_slerp_and_interpolate() -> None:
    a, b = latent_from_seed(1, 16), latent_from_seed(2, 16)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-6)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-6)
    # unit ends: the midpoint is on the great circle, a unit vector at half the angle from each
    a, b = a / a.norm(), b / b.norm()
    mid = slerp(a, b, 0.5)
    assert float(mid.norm()) == pytest.approx(1.0, abs=1e-5)
    def angle(x: torch.Tensor, y: torch.Tensor) -> float:
        return float(torch.acos((x @ y) / (x.norm() * y.norm())))
    assert angle(a, mid) == pytest.approx(angle(a, b) / 2, abs=1e-4)
    assert angle(mid, b) == pytest.approx(angle(a, b) / 2, abs=1e-4)
    assert torch.allclose(slerp(a, a, 0.3), a, atol=1e-6)  # parallel: no NaN

    synth = Synthesizer(small_model())
    steps = synth.interpolate(1, 2, 60, steps=5)
    assert steps.shape == (5, 16000)
    np.testing.assert_allclose(steps[0], synth.note(60, seed=1), atol=1e-6)
    np.testing.assert_allclose(steps[-1], synth.note(60, seed=2), atol=1e-6)
    with pytest.raises(BadInputError, match="interpolation steps must lie in 2..1024, got 1"):
        synth.interpolate(1, 2, 60, steps=1)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_resampled_output(rate: int) -> None:
    synth = Synthesizer(small_model(), sample_rate=rate)
    audio = synth.note(69, seed=0, duration=0.5)  # A4, 440 Hz fundamental
    native = Synthesizer(small_model()).note(69, seed=0, duration=0.5)
    assert audio.dtype == np.float32
    assert audio.shape == (math.ceil(native.shape[0] * rate / SR),)
    # the same sound: its spectrum peaks at the same frequency
    def peak_hz(x: np.ndarray, sr: int) -> float:
        return float(np.argmax(np.abs(np.fft.rfft(x))) * sr / x.shape[0])
    assert peak_hz(audio, rate) == pytest.approx(peak_hz(native, SR), abs=3.0)
