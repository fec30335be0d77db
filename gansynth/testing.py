"""A deterministic stand-in for the GAN behind the `NoteModel` interface, for tests and plumbing checks.

`ToneModel.generate` returns an analytic harmonic note: fundamental at the asked MIDI pitch,
harmonic weights set by the latent (the "timbre"), a linear attack then an exponential decay.
Every value is a closed-form function of (z, pitch, sample index), so rendering math (placement,
envelope, gains, mixing) can be checked exactly against it.
"""

from __future__ import annotations

import math

import torch


def midi_to_hz(pitch: torch.Tensor | float) -> torch.Tensor:
    """Equal-tempered frequency in Hz of MIDI pitch(es), A4 = 69 = 440 Hz."""
    return 440.0 * 2.0 ** ((torch.as_tensor(pitch, dtype=torch.float64) - 69.0) / 12.0)


class ToneModel:
    """Harmonic tone generator with the `NoteModel` attributes and methods.

    note (B, note_length) = level * shape(t) * sum_k w_k sin(2 pi k f0 t) / sum_k w_k, where
    w_k = 1 + |z_k| for k = 1..harmonics (z_{k-1} of the latent) and
    shape(t) = min(t / attack_s, 1) * exp(-t / decay_s); harmonics above Nyquist get weight 0.
    """

    def __init__(self, sample_rate: int = 16000, note_length: int = 64000, latent_dim: int = 16,
                 pitch_min: int = 24, pitch_max: int = 84, harmonics: int = 6,
                 level: float = 0.5, attack_s: float = 0.01, decay_s: float = 1.5,
                 output_gain: float | None = 1.0) -> None:
        if harmonics > latent_dim:
            raise ValueError("ToneModel: harmonics must not exceed latent_dim")
        self.sample_rate = sample_rate
        self.note_length = note_length
        self.latent_dim = latent_dim
        self.pitch_min = pitch_min
        self.pitch_max = pitch_max
        self.harmonics = harmonics
        self.level = level
        self.attack_s = attack_s
        self.decay_s = decay_s
        # the output calibration it declares (see `Synthesizer.output_gain`): 1.0 keeps its notes
        # as they are (they peak at or below `level`); None lets the Synthesizer measure one
        self.output_gain = output_gain
        self.calls = 0  # model calls, to check batching
        self.notes_generated = 0

    def amplitude_shape(self) -> torch.Tensor:
        """(note_length,) float64 amplitude shape of every note."""
        t = torch.arange(self.note_length, dtype=torch.float64) / self.sample_rate
        return torch.clamp(t / self.attack_s, max=1.0) * torch.exp(-t / self.decay_s)

    def generate(self, z: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) float32, pitch: (B,) int64 MIDI pitch -> (B, note_length) float32."""
        assert z.ndim == 2 and z.shape[1] == self.latent_dim, z.shape
        assert pitch.shape == (z.shape[0],) and pitch.dtype == torch.int64, (pitch.shape, pitch.dtype)
        assert bool(((pitch >= self.pitch_min) & (pitch <= self.pitch_max)).all()), pitch
        self.calls += 1
        self.notes_generated += z.shape[0]
        t = torch.arange(self.note_length, dtype=torch.float64) / self.sample_rate  # (T,)
        f0 = midi_to_hz(pitch.cpu())[:, None]  # (B, 1)
        k = torch.arange(1, self.harmonics + 1, dtype=torch.float64)  # (K,)
        weights = 1.0 + z[:, : self.harmonics].abs().cpu().double()  # (B, K)
        weights = weights * (k[None, :] * f0 < self.sample_rate / 2)
        phase = 2 * math.pi * f0[:, :, None] * k[None, :, None] * t[None, None, :]  # (B, K, T)
        tone = (weights[:, :, None] * torch.sin(phase)).sum(dim=1) / weights.sum(dim=1, keepdim=True)
        note = self.level * tone * self.amplitude_shape()[None, :]
        return note.to(torch.float32).to(z.device)

    def flops_per_note(self) -> int:
        """About 4 operations per harmonic per sample plus the shape."""
        return (4 * self.harmonics + 3) * self.note_length

    def to(self, device: str | torch.device) -> ToneModel:
        return self
