"""Spectral transform throughput (notes/s, forward + inverse) against librosa's STFT/ISTFT."""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from gansynth import checks
from gansynth.bench import MAX_BATCH, MAX_REPEATS, best_time, check_whole_args
from gansynth.config import SpectralConfig
from gansynth.spectral import get_transform


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=64, help="notes per batch (default 64)")
    parser.add_argument("--layout", default="hires", choices=["hires", "base"])
    parser.add_argument("--representation", default="if", choices=["phase", "if", "if-mel"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quality", action="store_true",
                        help="also print round-trip SNR / spectral convergence on test notes")


QUALITY_PITCHES = (45, 52, 60, 69, 76, 84, 96, 108)


def harmonic_notes(pitches: tuple[int, ...], length: int, sample_rate: int) -> np.ndarray:
    """(len(pitches), length) float32 harmonic notes at the given MIDI pitches: 1/k partials below
    0.45 sr, 10 ms linear attack, exponential decay, peak 0.5."""
    t = np.arange(length) / sample_rate
    notes = []
    for pitch in pitches:
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        wave = sum(np.sin(2 * math.pi * k * f0 * t) / k for k in range(1, 16) if k * f0 < 0.45 * sample_rate)
        wave = wave * np.minimum(t / 0.01, 1.0) * np.exp(-1.2 * t)
        notes.append(0.5 * wave / np.abs(wave).max())
    return np.stack(notes).astype(np.float32)


def _highpassed_noise(length: int, sample_rate: int, cutoff_hz: float = 50.0) -> np.ndarray:
    spectrum = np.fft.rfft(np.random.default_rng(0).standard_normal(length))
    spectrum[np.fft.rfftfreq(length, 1 / sample_rate) < cutoff_hz] = 0
    noise = np.fft.irfft(spectrum, n=length)
    return (0.3 * noise / np.abs(noise).max()).astype(np.float32)


def print_round_trip_quality(layout: str) -> None:
    """waves -> specgrams -> waves: SNR for `phase` and `if` (away from the last n_fft samples,
    where the final window tapers), spectral convergence for the lossy `if-mel`."""
    base = SpectralConfig(representation="if", layout=layout)
    signals = np.concatenate([harmonic_notes(QUALITY_PITCHES, base.audio_length, base.sample_rate),
                              _highpassed_noise(base.audio_length, base.sample_rate)[None]])
    waves = torch.from_numpy(signals)
    judged = base.audio_length - base.n_fft
    names = [f"MIDI {p}" for p in QUALITY_PITCHES] + ["noise > 50 Hz"]
    print(f"round trip ({layout}): " + ", ".join(names))
    with torch.no_grad():
        for representation in ("phase", "if"):
            transform = get_transform(SpectralConfig(representation=representation, layout=layout))
            back = transform.inverse(transform(waves))
            err = (waves - back)[:, :judged].pow(2).sum(dim=1)
            snr = 10 * torch.log10(waves[:, :judged].pow(2).sum(dim=1) / err)
            print(f"  {representation:6s} SNR dB : " + " ".join(f"{v:6.1f}" for v in snr.tolist()))
        mel = get_transform(SpectralConfig(representation="if-mel", layout=layout))
        back = mel.inverse(mel(waves))
        linear = get_transform(base)
        keep = base.frames - base.n_fft // base.hop
        mag, mag_back = (torch.exp(linear(x)[:, 0, :keep]).flatten(1) for x in (waves, back))
        sc = torch.linalg.norm(mag - mag_back, dim=1) / torch.linalg.norm(mag, dim=1)
        print("  if-mel spectral convergence: " + " ".join(f"{v:6.3f}" for v in sc.tolist()))


def run(args: argparse.Namespace) -> None:
    import librosa

    check_whole_args(args, {"batch": (1, MAX_BATCH), "repeats": (1, MAX_REPEATS)})
    config = SpectralConfig(representation=args.representation, layout=args.layout)
    device = checks.device(args.device)
    pitches = tuple(np.random.default_rng(0).integers(24, 85, size=args.batch).tolist())
    waves_np = harmonic_notes(pitches, config.audio_length, config.sample_rate)
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
    if args.quality:
        print_round_trip_quality(args.layout)
