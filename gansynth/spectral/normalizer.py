"""Per-channel affine normalizer of spectrograms: normalized = a * x + b.

`Normalizer.prespecified()` has GANSynth's constants; `Normalizer.fit(batches)` fits magenta's
range normalizer per channel from data (the channel's [min, max] mapped to [-margin, margin]).
Saved and loaded as plain tensors (`state_dict` / `from_state_dict`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from gansynth.errors import BadInputError

# GANSynth's prespecified constants: (magnitude a, IF a), (magnitude b, IF b)
PRESPECIFIED_A = (0.0661371661726, 0.8)
PRESPECIFIED_B = (0.113718730221, 0.0)


class Normalizer(nn.Module):
    """a, b: (2,) float32, one pair per channel of a (B, 2, frames, bins) spectrogram."""

    a: torch.Tensor
    b: torch.Tensor

    def __init__(self, a: torch.Tensor | tuple[float, float], b: torch.Tensor | tuple[float, float]) -> None:
        super().__init__()
        a_t = torch.as_tensor(a, dtype=torch.float32).reshape(-1)
        b_t = torch.as_tensor(b, dtype=torch.float32).reshape(-1)
        if a_t.shape != (2,) or b_t.shape != (2,):
            raise ValueError(f"normalizer a and b must have 2 values each, got {tuple(a_t.shape)}, {tuple(b_t.shape)}")
        if not torch.all(torch.isfinite(a_t)) or not torch.all(a_t != 0) or not torch.all(torch.isfinite(b_t)):
            raise ValueError("normalizer a must be finite and non-zero, b finite")
        self.register_buffer("a", a_t)
        self.register_buffer("b", b_t)

    @classmethod
    def prespecified(cls) -> Normalizer:
        return cls(PRESPECIFIED_A, PRESPECIFIED_B)

    @classmethod
    def fit(cls, batches: Iterable[torch.Tensor], margin: float = 0.8) -> Normalizer:
        """Fit from (B, 2, frames, bins) spectrogram batches: each channel's [min, max] maps to
        [-margin, margin]."""
        lo = torch.full((2,), float("inf"))
        hi = torch.full((2,), float("-inf"))
        for batch in batches:
            flat = batch.detach().float().transpose(0, 1).reshape(2, -1).cpu()
            lo = torch.minimum(lo, flat.min(dim=1).values)
            hi = torch.maximum(hi, flat.max(dim=1).values)
        if not torch.all(torch.isfinite(lo)):
            raise BadInputError("cannot fit a normalizer: no spectrograms were given")
        span = (hi - lo).clamp(min=1e-6)
        a = margin * 2.0 / span
        b = margin * (-2.0 * lo / span - 1.0)
        return cls(a, b)

    def forward(self, specgrams: torch.Tensor) -> torch.Tensor:
        """(B, 2, frames, bins) raw -> normalized."""
        return specgrams * self.a.view(1, 2, 1, 1) + self.b.view(1, 2, 1, 1)

    def denormalize(self, normalized: torch.Tensor) -> torch.Tensor:
        """(B, 2, frames, bins) normalized -> raw."""
        return (normalized - self.b.view(1, 2, 1, 1)) / self.a.view(1, 2, 1, 1)

    def to_plain(self) -> dict[str, torch.Tensor]:
        """Plain tensors for saving."""
        return {"a": self.a.detach().cpu().clone(), "b": self.b.detach().cpu().clone()}

    @classmethod
    def from_plain(cls, state: dict[str, torch.Tensor]) -> Normalizer:
        if not isinstance(state, dict) or set(state) != {"a", "b"}:
            raise BadInputError(f"normalizer state must hold exactly the tensors 'a' and 'b', got {sorted(state) if isinstance(state, dict) else type(state).__name__}")
        return cls(state["a"], state["b"])
