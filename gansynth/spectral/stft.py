"""Framing, STFT and inverse STFT with GANSynth's padding, and phase <-> instantaneous frequency.

Stateless functions on batched tensors. GANSynth pads only at the front of the audio and never at
the end, so the last samples are covered by a single tapering window; `istft` therefore divides
by the actual window-square envelope (with a floor) instead of relying on `torch.istft`, whose
`center=False` window-sum check refuses this framing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def stft(waves: torch.Tensor, window: torch.Tensor, n_fft: int, hop: int, pad: int) -> torch.Tensor:
    """Complex STFT without the DC bin.

    waves: (B, samples) float; window: (n_fft,) analysis window.
    Returns (B, frames, n_fft // 2) complex: bins 1..n_fft/2 (Nyquist kept), time on axis 1.
    """
    padded = F.pad(waves, (pad, 0))  # (B, pad + samples): all padding at the front
    spec = torch.stft(padded, n_fft=n_fft, hop_length=hop, window=window, center=False,
                      return_complex=True)  # (B, n_fft/2 + 1, frames)
    return spec[:, 1:, :].transpose(1, 2)  # (B, frames, bins)


def overlap_add(segments: torch.Tensor, hop: int) -> torch.Tensor:
    """Sum frames placed every `hop` samples.

    segments: (B, frames, n) with n a multiple of hop. Returns (B, (frames - 1) * hop + n).
    Done as n / hop shifted slice additions (cheaper than `F.fold`'s im2col on CPU).
    """
    batch, frames, n = segments.shape
    if n % hop:
        raise ValueError(f"frame length {n} is not a multiple of the hop {hop}")
    parts = n // hop
    out = segments.new_zeros(batch, frames + parts - 1, hop)
    chunks = segments.reshape(batch, frames, parts, hop)
    for k in range(parts):
        out[:, k:k + frames] += chunks[:, :, k]
    return out.reshape(batch, -1)


def window_envelope(window: torch.Tensor, frames: int, hop: int) -> torch.Tensor:
    """Overlap-added squared window: (frames - 1) * hop + n_fft samples."""
    sq = (window * window).expand(1, frames, window.shape[0])
    return overlap_add(sq, hop)[0]


def istft(spec: torch.Tensor, window: torch.Tensor, n_fft: int, hop: int, pad: int,
          length: int, envelope_floor: float = 0.1) -> torch.Tensor:
    """Inverse of `stft`: least-squares overlap-add, then the front padding is cropped.

    spec: (B, frames, n_fft // 2) complex, DC bin absent (a zero one is put back).
    Returns (B, length) float. Where the window envelope falls below `envelope_floor` times its
    steady-state value (only the last few hundred samples, under the final window's taper) the
    division uses that floor, which fades the very end smoothly instead of amplifying noise.
    """
    batch, frames, _ = spec.shape
    full = F.pad(spec, (1, 0))  # (B, frames, n_fft/2 + 1): zero DC bin back in front
    segments = torch.fft.irfft(full, n=n_fft, dim=-1) * window  # (B, frames, n_fft)
    total = (frames - 1) * hop + n_fft
    summed = overlap_add(segments, hop)  # (B, total)
    envelope = window_envelope(window, frames, hop)
    steady = envelope[pad:pad + length].max() if total > pad else envelope.max()
    waves = summed / envelope.clamp(min=float(envelope_floor * steady))
    return waves[:, pad:pad + length]


def wrap_phase(phase: torch.Tensor) -> torch.Tensor:
    """Map angles to [-pi, pi) (radians)."""
    return torch.remainder(phase + math.pi, 2 * math.pi) - math.pi


def phase_to_ifreq(phase: torch.Tensor, dim: int = -2) -> torch.Tensor:
    """Instantaneous frequency from phase: unwrap along time, difference, keep the first frame's
    phase as its own value, divide by pi.

    phase: (..., frames, bins) radians. Returns the same shape, values in [-1, 1].
    The unwrapped difference is the wrapped difference of consecutive phases (as numpy.unwrap
    makes every step lie in [-pi, pi]), which is what is computed here.
    """
    first = phase.narrow(dim, 0, 1)
    step = wrap_phase(torch.diff(phase, dim=dim))
    # numpy.unwrap keeps +pi (not -pi) for a positive step of exactly pi
    raw = torch.diff(phase, dim=dim)
    step = torch.where((step == -math.pi) & (raw > 0), torch.full_like(step, math.pi), step)
    return torch.cat([first, step], dim=dim) / math.pi


def ifreq_to_phase(ifreq: torch.Tensor, dim: int = -2) -> torch.Tensor:
    """Inverse of `phase_to_ifreq`: cumulative sum of IF * pi along time (unwrapped radians)."""
    return torch.cumsum(ifreq * math.pi, dim=dim)
