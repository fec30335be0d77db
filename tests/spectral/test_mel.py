"""IF-Mel: the filterbank against an independent construction, and the round-trip quality."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gansynth.config import SpectralConfig
from gansynth.spectral import get_transform, specgrams_to_waves, waves_to_specgrams
from gansynth.spectral.mel import linear_to_mel_matrix, mel_to_linear_matrix
from tests.spectral.signals import harmonic_note, highpassed_noise


def reference_mel_matrix(bins: int, sr: int) -> np.ndarray:
    """Scalar loop construction from the definition in DESIGN.md section 3."""
    def to_mel(f: float) -> float:
        return 1127.0 * math.log(1.0 + f / 700.0)

    def to_hz(m: float) -> float:
        return 700.0 * (math.exp(m / 1127.0) - 1.0)

    nyquist = sr / 2
    min_width = 1.5 * nyquist / bins
    top = to_mel(nyquist)
    out = np.zeros((bins, bins))
    for j in range(bins):
        lo, mid, hi = (top * (j + k) / (bins + 1) for k in range(3))
        if to_hz(hi) - to_hz(lo) < min_width:
            # widen to min_width Hz, symmetric in mel: solve to_hz(mid + d) - to_hz(mid - d) = min_width
            d = 1127.0 * math.asinh(0.5 * min_width / (to_hz(mid) + 700.0))
            lo, hi = mid - d, mid + d
        for i in range(1, bins):  # row 0 (0 Hz) stays zero
            m = to_mel(nyquist * i / (bins - 1))
            out[i, j] = max(0.0, min((m - lo) / (mid - lo), (hi - m) / (hi - mid)))
    return out


@pytest.mark.parametrize("bins", [512, 1024])
def test_mel_matrix_matches_independent_construction(bins: int) -> None:
    ours = linear_to_mel_matrix(bins, 16000)
    ref = reference_mel_matrix(bins, 16000)
    assert ours.shape == (bins, bins)
    assert np.abs(ours - ref).max() < 1e-9
    assert np.all(ours[0] == 0)  # DC row zeroed
    # every mel band but the first (centred next to 0 Hz, whose only bin is the zeroed DC row)
    # picks up some linear bin
    assert np.all(ours[:, 1:].sum(axis=0) > 0)


def test_mel_inverse_matrix_definition() -> None:
    w = linear_to_mel_matrix(512, 16000)
    m = mel_to_linear_matrix(512, 16000)
    colsum = (w @ w.T).sum(axis=0)
    assert np.allclose(m * np.where(colsum > 1e-8, colsum, 1.0)[None, :], w.T)


def spectral_convergence(waves: torch.Tensor, restored: torch.Tensor, config: SpectralConfig) -> torch.Tensor:
    """|| |S| - |S'| ||_F / || |S| ||_F per example, on the linear STFT, away from the tapered end."""
    linear = SpectralConfig(representation="if", layout=config.layout)
    mag = torch.exp(waves_to_specgrams(waves, linear)[:, 0])
    mag_back = torch.exp(waves_to_specgrams(restored, linear)[:, 0])
    keep = config.frames - config.n_fft // config.hop
    diff = (mag - mag_back)[:, :keep].flatten(1)
    return torch.linalg.norm(diff, dim=1) / torch.linalg.norm(mag[:, :keep].flatten(1), dim=1)


@pytest.mark.parametrize("layout", ["hires", "base"])
def test_if_mel_round_trip_quality(layout: str) -> None:
    """IF-Mel is lossy (mel bands wider than linear bins at high frequencies average them).
    Measured spectral convergence on these notes: 0.13-0.33 (docs/spectral.md); a wrong inverse
    matrix (W or a normalized W^T) gives 0.49-1.4 on the same notes."""
    config = SpectralConfig(representation="if-mel", layout=layout)
    tones = np.stack([harmonic_note(p, seed=i) for i, p in enumerate((45, 60, 72, 84, 96))])
    waves = torch.from_numpy(np.concatenate([tones, highpassed_noise()[None]]).astype(np.float32))
    restored = specgrams_to_waves(waves_to_specgrams(waves, config), config)
    sc = spectral_convergence(waves, restored, config)
    assert torch.all(sc[:5] < 0.4), sc
    assert sc[5] < 0.7, sc


def test_if_mel_channels_are_log_mel_power_and_mel_if() -> None:
    config = SpectralConfig(representation="if-mel", layout="base")
    wave = torch.from_numpy(harmonic_note(60).astype(np.float32))[None]
    linear = waves_to_specgrams(wave, SpectralConfig(representation="if", layout="base"))
    mel = waves_to_specgrams(wave, config)
    w = get_transform(config).to_mel
    expected_logmel = torch.log(torch.exp(2 * linear[:, 0]) @ w + 1e-6)
    # (|S| + 1e-6)^2 differs from |S|^2 only in near-silent bands
    loud = expected_logmel > expected_logmel.max() - 12
    assert loud.sum() > 1000
    assert torch.allclose(mel[:, 0][loud], expected_logmel[loud], atol=1e-3)
    assert mel[:, 1].abs().max() <= 1.0 + 1e-6  # mel IF is a wrapped phase step / pi
