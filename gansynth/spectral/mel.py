"""Mel filterbanks of GANSynth's IF-Mel representation (NumPy, float64, built once per config).

The construction follows magenta's `linear_to_mel_weight_matrix`: mel = 1127 ln(1 + f / 700);
as many mel bands as linear bins over 0 Hz .. Nyquist; the linear axis is taken as
`linspace(0, nyquist, bins)` with its first (0 Hz) row zeroed; bands narrower than 1.5 linear
bins are widened to that width around their centre.
"""

from __future__ import annotations

import functools

import numpy as np

MEL_BREAK_HZ = 700.0
MEL_HIGH_Q = 1127.0


def hz_to_mel(freq_hz: np.ndarray | float) -> np.ndarray:
    return MEL_HIGH_Q * np.log1p(np.asarray(freq_hz, dtype=np.float64) / MEL_BREAK_HZ)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return MEL_BREAK_HZ * np.expm1(np.asarray(mel, dtype=np.float64) / MEL_HIGH_Q)


@functools.lru_cache(maxsize=8)
def linear_to_mel_matrix(bins: int, sample_rate: int, min_width_bins: float = 1.5) -> np.ndarray:
    """W: (bins, bins) float64; mel_power = linear_power @ W.

    Row i is linear bin i (row 0 is zero), column j is mel band j.
    """
    nyquist = sample_rate / 2.0
    linear_hz = np.linspace(0.0, nyquist, bins)[1:]  # the first row is zeroed below
    linear_mel = hz_to_mel(linear_hz)[:, None]  # (bins - 1, 1)
    edges = np.linspace(hz_to_mel(0.0), hz_to_mel(nyquist), bins + 2)
    lower, center, upper = edges[:-2].copy(), edges[1:-1], edges[2:].copy()
    min_width_hz = min_width_bins * nyquist / bins
    center_hz = mel_to_hz(center)
    narrow = (mel_to_hz(upper) - mel_to_hz(lower)) < min_width_hz
    # half width in mel of a band min_width_hz wide centred at center_hz
    rhs = 0.5 * min_width_hz / (center_hz + MEL_BREAK_HZ)
    half = MEL_HIGH_Q * np.arcsinh(rhs)
    lower[narrow] = center[narrow] - half[narrow]
    upper[narrow] = center[narrow] + half[narrow]
    rising = (linear_mel - lower) / (center - lower)
    falling = (upper - linear_mel) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (bins - 1, bins)
    return np.pad(weights, ((1, 0), (0, 0)))


@functools.lru_cache(maxsize=8)
def mel_to_linear_matrix(bins: int, sample_rate: int, min_width_bins: float = 1.5) -> np.ndarray:
    """M = W^T diag(1 / colsum(W W^T)), tiny sums left as they are: (bins, bins) float64;
    linear_power ~= mel_power @ M."""
    w = linear_to_mel_matrix(bins, sample_rate, min_width_bins)
    sums = (w @ w.T).sum(axis=0)
    scale = np.where(np.abs(sums) > 1e-8, 1.0 / np.where(sums == 0, 1.0, sums), sums)
    return w.T @ np.diag(scale)
