"""Shapes, round trips, the analytic IF check and an independent NumPy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gansynth.config import SpectralConfig
from gansynth.spectral import SpectralTransform, specgrams_to_waves, waves_to_specgrams
from tests.spectral.signals import LENGTH, SR, harmonic_note, highpassed_noise, snr_db

LAYOUT_SHAPES = {"hires": (128, 1024), "base": (256, 512)}


@pytest.mark.parametrize("representation", ["phase", "if", "if-mel"])
@pytest.mark.parametrize("layout", ["hires", "base"])
def test_shapes(representation: str, layout: str) -> None:
    config = SpectralConfig(representation=representation, layout=layout)
    waves = torch.zeros(3, LENGTH)
    specgrams = waves_to_specgrams(waves, config)
    frames, bins = LAYOUT_SHAPES[layout]
    assert specgrams.shape == (3, 2, frames, bins)
    assert config.shape == (2, frames, bins)
    assert specgrams.dtype == torch.float32
    assert specgrams_to_waves(specgrams, config).shape == (3, LENGTH)


def _round_trip(waves: np.ndarray, config: SpectralConfig) -> np.ndarray:
    batch = torch.from_numpy(waves.astype(np.float32))
    return specgrams_to_waves(waves_to_specgrams(batch, config), config).numpy()


@pytest.mark.parametrize("representation", ["phase", "if"])
@pytest.mark.parametrize("layout", ["hires", "base"])
def test_round_trip_snr_over_60db(representation: str, layout: str) -> None:
    config = SpectralConfig(representation=representation, layout=layout)
    # fundamentals from 110 Hz up: the dropped DC bin's main lobe takes away content near 0 Hz,
    # which a low note's attack transient has (pitch 24 reaches only ~48 dB, see docs/spectral.md)
    signals = [harmonic_note(p, seed=i) for i, p in enumerate((45, 52, 60, 69, 76, 84, 96, 108))]
    signals.append(highpassed_noise(seed=1))
    waves = np.stack(signals)
    back = _round_trip(waves, config)
    judged = LENGTH - config.n_fft  # the final window tapers to zero: GANSynth pads only in front
    for original, restored in zip(waves, back):
        assert snr_db(original[:judged].astype(np.float32), restored[:judged]) >= 60.0


@pytest.mark.parametrize("representation", ["phase", "if", "if-mel"])
def test_silence_gives_finite_values(representation: str) -> None:
    config = SpectralConfig(representation=representation)
    specgrams = waves_to_specgrams(torch.zeros(2, LENGTH), config)
    assert torch.isfinite(specgrams).all()
    assert torch.allclose(specgrams[:, 0], torch.full_like(specgrams[:, 0], math.log(1e-6)), atol=1e-3)
    back = specgrams_to_waves(specgrams, config)
    assert torch.isfinite(back).all()
    assert back.abs().max() < 1e-4


@pytest.mark.parametrize("layout", ["hires", "base"])
def test_if_of_a_steady_sinusoid_is_the_phase_advance_per_hop(layout: str) -> None:
    config = SpectralConfig(representation="if", layout=layout)
    freq = 1234.5
    t = np.arange(LENGTH) / SR
    wave = torch.from_numpy((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32))[None]
    specgrams = waves_to_specgrams(wave, config)[0]  # (2, frames, bins)
    steady = slice(config.pad // config.hop + 1, config.frames - config.n_fft // config.hop)
    strongest = int(specgrams[0, steady].mean(dim=0).argmax())
    advance = 2 * np.pi * freq * config.hop / SR
    expected = (advance + np.pi) % (2 * np.pi) - np.pi
    measured = specgrams[1, steady, strongest].numpy()
    assert np.allclose(measured, expected / np.pi, atol=2e-3)
    # the strongest bin (DC dropped: column k is bin k + 1) is the sinusoid's bin
    assert strongest + 1 == round(freq * config.n_fft / SR)


def numpy_reference(wave: np.ndarray, config: SpectralConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent forward transform: numpy.fft on explicit frames, numpy.unwrap for IF."""
    n_fft, hop = config.n_fft, config.hop
    padded = np.concatenate([np.zeros(config.pad), wave])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = np.stack([padded[i * hop:i * hop + n_fft] * window for i in range(config.frames)])
    spec = np.fft.rfft(frames, axis=1)[:, 1:]  # (frames, bins), DC dropped
    logmag = np.log(np.abs(spec) + 1e-6)
    phase = np.angle(spec)
    unwrapped = np.unwrap(phase, axis=0)
    ifreq = np.concatenate([unwrapped[:1], np.diff(unwrapped, axis=0)], axis=0) / np.pi
    return logmag, phase / np.pi, ifreq


@pytest.mark.parametrize("layout", ["hires", "base"])
def test_forward_matches_numpy_reference_float32(layout: str) -> None:
    wave = harmonic_note(57, seed=3)
    ref_logmag, ref_phase, ref_if = numpy_reference(wave, SpectralConfig(layout=layout))
    energetic = ref_logmag > ref_logmag.max() - 7.0  # bins within ~60 dB of the peak
    assert energetic.sum() > 500
    for representation, ref in (("phase", ref_phase), ("if", ref_if)):
        config = SpectralConfig(representation=representation, layout=layout)
        ours = waves_to_specgrams(torch.from_numpy(wave.astype(np.float32))[None], config)[0].numpy()
        assert np.abs(ours[0] - ref_logmag)[energetic].max() < 1e-4
        diff = ours[1] - ref
        if representation == "phase":  # +pi and -pi are the same angle
            diff = (diff + 1) % 2 - 1
        assert np.abs(diff)[energetic].max() < 1e-4


def test_forward_matches_numpy_reference_float64_everywhere() -> None:
    wave = highpassed_noise(seed=5)
    config = SpectralConfig(representation="if", layout="hires")
    ref_logmag, _, ref_if = numpy_reference(wave, config)
    ours = SpectralTransform(config)(torch.from_numpy(wave)[None])[0].numpy()
    assert ours.dtype == np.float64
    assert np.abs(ours[0] - ref_logmag).max() < 1e-8
    assert np.abs(ours[1] - ref_if).max() < 1e-8


@pytest.mark.parametrize("representation", ["phase", "if"])
def test_inverse_is_differentiable(representation: str) -> None:
    config = SpectralConfig(representation=representation, layout="base")
    specgrams = waves_to_specgrams(torch.from_numpy(harmonic_note(60).astype(np.float32))[None], config)
    specgrams.requires_grad_(True)
    waves = specgrams_to_waves(specgrams, config)
    waves.pow(2).sum().backward()
    assert specgrams.grad is not None
    assert torch.isfinite(specgrams.grad).all()
    assert specgrams.grad.abs().sum() > 0


def test_wrong_input_shape_is_refused() -> None:
    config = SpectralConfig()
    with pytest.raises(ValueError, match="64000"):
        waves_to_specgrams(torch.zeros(2, 1000), config)
    with pytest.raises(ValueError, match="spectrograms of shape"):
        specgrams_to_waves(torch.zeros(2, 2, 64, 1024), config)
