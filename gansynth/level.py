"""A note model's output level, in one place: the velocity curve, the seeded latents, and the
fixed calibration that makes velocity alone set a note's level (docs/usage.md, "Output level").

The calibration of a model is the gain that puts the loudest of its probe notes (PROBE_PITCHES
pitches spread over its range x timbre seeds PROBE_SEEDS, at velocity 127, raw and full length)
at LEVEL_DBFS. `gansynth export` stores it in the model file; the `Synthesizer` measures it for a
model that has none.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch

from gansynth import checks

LEVEL_DBFS = -1.0
PROBE_PITCHES = 7
PROBE_SEEDS = (0, 1, 2, 3)


@runtime_checkable
class NoteModel(Protocol):
    """What rendering needs from a note model (read-only attributes + two methods)."""

    @property
    def sample_rate(self) -> int: ...

    @property
    def note_length(self) -> int:
        """Samples per generated note (64000 = 4 s at 16 kHz)."""
        ...

    @property
    def latent_dim(self) -> int: ...

    @property
    def pitch_min(self) -> int: ...

    @property
    def pitch_max(self) -> int: ...

    def generate(self, z: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) float32, pitch: (B,) int64 MIDI pitch -> (B, note_length) float32 audio."""
        ...

    def flops_per_note(self) -> int:
        """Floating-point operations of generating one note (for benchmarks)."""
        ...


def velocity_to_gain(velocity: int | float | np.ndarray) -> np.ndarray:
    """Linear gain of a MIDI velocity (0..127): (velocity / 127) ** 2, a 40 dB range
    (127: 0 dB, 100: -4.2 dB, 64: -11.9 dB, 32: -24.0 dB, 1: -84 dB)."""
    v = np.clip(np.asarray(velocity, dtype=np.float64), 0.0, 127.0)
    return (v / 127.0) ** 2


def latent_from_seed(seed: int, latent_dim: int, index: int = 0) -> torch.Tensor:
    """The `index`-th latent drawn from N(0, 1) by a CPU generator seeded with `seed`: (latent_dim,).

    Same seed -> same latent on every machine; index 0 is the seed's own timbre, later indices
    are the waypoints of a timbre drift.
    """
    gen = torch.Generator().manual_seed(checks.seed(seed))
    return torch.randn(index + 1, latent_dim, generator=gen)[index]


def probe_notes(pitch_min: int, pitch_max: int) -> list[tuple[int, int]]:
    """The (pitch, seed) pairs that calibrate a model with this pitch range."""
    pitches = np.unique(np.round(np.linspace(pitch_min, pitch_max, PROBE_PITCHES))).astype(int)
    return [(int(p), seed) for seed in PROBE_SEEDS for p in pitches]


@torch.no_grad()
def measure_output_gain(model: NoteModel, device: torch.device | str = "cpu", batch: int = 8) -> float:
    """LEVEL_DBFS (as a linear level) over the largest raw peak of the model's probe notes; 1.0
    for a model whose probe notes are all silent."""
    pairs = probe_notes(model.pitch_min, model.pitch_max)
    peak = 0.0
    for start in range(0, len(pairs), batch):
        chunk = pairs[start:start + batch]
        z = torch.stack([latent_from_seed(seed, model.latent_dim) for _, seed in chunk]).to(device)
        pitch = torch.tensor([p for p, _ in chunk], dtype=torch.int64, device=device)
        audio = model.generate(z, pitch)  # (B, note_length)
        peak = max(peak, float(audio.abs().max()))
    return 10 ** (LEVEL_DBFS / 20) / peak if peak > 0 else 1.0
