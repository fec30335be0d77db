"""Test signals: harmonic notes with an attack and decay, high-passed white noise, a steady sine."""

from __future__ import annotations

import numpy as np

SR = 16000
LENGTH = 64000


def harmonic_note(midi_pitch: float, length: int = LENGTH, sr: int = SR, seed: int = 0) -> np.ndarray:
    """(length,) float64 harmonic tone: 10 ms linear attack, exponential decay, partials 1/k."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / sr
    f0 = 440.0 * 2 ** ((midi_pitch - 69) / 12)
    wave = np.zeros(length)
    for k in range(1, 16):
        if k * f0 < 0.45 * sr:
            wave += np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k
    wave *= np.minimum(t / 0.01, 1.0) * np.exp(-1.2 * t)
    return 0.5 * wave / np.abs(wave).max()


def highpassed_noise(length: int = LENGTH, sr: int = SR, cutoff_hz: float = 50.0,
                     seed: int = 0) -> np.ndarray:
    """(length,) float64 white noise with everything below `cutoff_hz` removed (FFT brick wall)."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(length))
    spectrum[np.fft.rfftfreq(length, 1 / sr) < cutoff_hz] = 0
    noise = np.fft.irfft(spectrum, n=length)
    return 0.3 * noise / np.abs(noise).max()


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    err = reference - estimate
    return float(10 * np.log10(np.sum(reference ** 2) / np.sum(err ** 2)))
