"""Spectral transform throughput (notes/s, forward + inverse) against librosa's STFT/ISTFT."""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from gansynth.bench import best_time
from gansynth.config import SpectralConfig
from gansynth.spectral import get_transform


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=64, help="notes per batch (default 64)")
    parser.add_argument("--layout", default="hires", choices=["hires", "base"])
    parser.add_argument("--representation", default="if", choices=["phase", "if", "if-mel"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")


def harmonic_notes(batch: int, length: int, sample_rate: int, seed: int = 0) -> np.ndarray:
    """(batch, length) float32 harmonic notes with an attack and decay at random pitches."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / sample_rate
    notes = np.zeros((batch, length), dtype=np.float64)
    for i in range(batch):
        f0 = 440.0 * 2 ** ((rng.integers(24, 85) - 69) / 12)
        for k in range(1, 8):
            if k * f0 < sample_rate / 2:
                notes[i] += np.sin(2 * math.pi * k * f0 * t + rng.uniform(0, 2 * math.pi)) / k
        notes[i] *= np.minimum(t / 0.01, 1.0) * np.exp(-1.5 * t)
    return (0.3 * notes / np.abs(notes).max(axis=1, keepdims=True)).astype(np.float32)


def run(args: argparse.Namespace) -> None:
    import librosa

    config = SpectralConfig(representation=args.representation, layout=args.layout)
    device = torch.device(args.device)
    waves_np = harmonic_notes(args.batch, config.audio_length, config.sample_rate)
    waves = torch.from_numpy(waves_np).to(device)
    transform = get_transform(config, device)

    def ours() -> None:
        with torch.no_grad():
            out = transform.inverse(transform(waves))
        if device.type == "cuda":
            torch.cuda.synchronize()
        assert out.shape == waves.shape

    window = np.hanning(config.n_fft + 1)[:-1].astype(np.float32)  # periodic Hann

    def reference() -> None:
        padded = np.pad(waves_np, ((0, 0), (config.pad, 0)))
        spec = librosa.stft(padded, n_fft=config.n_fft, hop_length=config.hop, window=window,
                            center=False)
        mag, phase = np.abs(spec), np.angle(spec)
        back = librosa.istft(mag * np.exp(1j * phase), n_fft=config.n_fft, hop_length=config.hop,
                             window=window, center=False, length=padded.shape[1])
        assert back.shape == padded.shape

    t_ours = best_time(ours, repeats=args.repeats)
    t_ref = best_time(reference, repeats=args.repeats)
    print(f"spectral bench: {args.batch} notes x {config.audio_length} samples, "
          f"{config.representation}/{config.layout} (n_fft {config.n_fft}, hop {config.hop}), "
          f"torch threads {torch.get_num_threads()}, device {device}")
    print(f"  gansynth forward+inverse : {args.batch / t_ours:9.1f} notes/s  ({t_ours * 1e3:.1f} ms/batch)")
    print(f"  librosa stft+istft       : {args.batch / t_ref:9.1f} notes/s  ({t_ref * 1e3:.1f} ms/batch)")
    print(f"  ratio gansynth / librosa : {t_ref / t_ours:9.3g}x")
