"""Differentiable augmentation of the discriminator's input that keeps pitch (DiffAugment, Zhao et
al. 2020, adapted to spectrograms; docs/training.md "Sample-efficient training").

The same random transform family is applied to real and fake spectrograms, and to penalty inputs,
each example with its own draw, and both channels (magnitude and IF) of an example alike; the
generator learns through it, so it is never pushed to produce augmented notes. Only time and
masking are changed: a shift along frequency would change the pitch, so there is none.

Ops (`train.augment` is a comma-separated list of them, applied in this order):
    time_shift   shift along frames by up to 1/8 of them either way, zero-filled
    time_cutout  zero a random band of 1/4 of the frames
    freq_cutout  zero a random band of 1/8 of the bins
Zero is the middle of the normalized range in both channels. Fractions are of the block's
resolution, so the ops work at every block.
"""

from __future__ import annotations

import torch

from gansynth.config import AUGMENT_OPS

SHIFT_FRACTION = 1 / 8
TIME_CUTOUT_FRACTION = 1 / 4
FREQ_CUTOUT_FRACTION = 1 / 8


def parse_policy(policy: str) -> tuple[str, ...]:
    """"time_shift,freq_cutout" -> ("time_shift", "freq_cutout"); "" -> (). Raises ValueError
    naming an unknown op."""
    ops = tuple(op.strip() for op in policy.split(",") if op.strip())
    for op in ops:
        if op not in AUGMENT_OPS:
            raise ValueError(f"augmentation {op!r} is not one of {AUGMENT_OPS}")
    return ops


def _band_mask(size: int, width: int, batch: int, generator: torch.Generator,
               device: torch.device) -> torch.Tensor:
    """(batch, size) float mask: 1 outside a band of `width` at a random start per example, 0 in it."""
    start = torch.randint(0, size - width + 1, (batch, 1), generator=generator).to(device)
    index = torch.arange(size, device=device)[None, :]
    return ((index < start) | (index >= start + width)).float()


def augment(x: torch.Tensor, ops: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """x: (B, C, frames, bins) normalized spectrograms -> same shape, augmented by `ops` with
    per-example random parameters drawn from `generator` (a CPU generator: the draws do not
    depend on the device). Differentiable in x."""
    if not ops:
        return x
    batch, _, frames, bins = x.shape
    device = x.device
    if "time_shift" in ops:
        limit = max(1, int(frames * SHIFT_FRACTION))
        shift = torch.randint(-limit, limit + 1, (batch,), generator=generator).to(device)
        source = torch.arange(frames, device=device)[None, :] - shift[:, None]  # (B, frames)
        valid = ((source >= 0) & (source < frames)).to(x.dtype)
        index = source.clamp(0, frames - 1)[:, None, :, None].expand(-1, x.shape[1], -1, bins)
        x = torch.gather(x, 2, index) * valid[:, None, :, None]
    if "time_cutout" in ops:
        width = max(1, int(frames * TIME_CUTOUT_FRACTION))
        x = x * _band_mask(frames, width, batch, generator, device).to(x.dtype)[:, None, :, None]
    if "freq_cutout" in ops:
        width = max(1, int(bins * FREQ_CUTOUT_FRACTION))
        x = x * _band_mask(bins, width, batch, generator, device).to(x.dtype)[:, None, None, :]
    return x
