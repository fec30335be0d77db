"""Progressive generator of GANSynth (DESIGN.md section 3).

Input: latent z (B, 256) ~ N(0, 1) and a pitch class index, one-hot (61) and concatenated, pixel
normalized. Block 0 maps that 1x1 vector to the start shape (2 x 16) with a (2, 16) convolution
and then a 3x3 one; block k > 0 is 2x nearest upsampling + two 3x3 convolutions. Every conv is
followed by leaky ReLU (0.2) then pixel norm. Each block has a 1x1 to-spectrogram conv (gain 1) to
2 channels with tanh. Resolution of block k: (2 * 2^k) frames x (16 * 2^k) bins.

The first (2, 16) convolution is implemented as magenta does it: an equalized conv with kernel
start_shape over the 1x1 input zero-padded by (kh - 1, kw - 1) on each side (a "full"
convolution), so its fan-in for the equalized-lr scale is (256 + 61) * 2 * 16.

With `templates` (gansynth.models.conditioning, `model.pitch_templates`), every block also takes
the asked pitch's template, average-pooled to its resolution, as 2 extra input channels: beside
the upsampled features for block k > 0, beside the (2, 16) conv's output in block 0.

The network has no state about the current resolution: `block` and `alpha` are forward arguments.
All blocks exist from construction on (DDP needs the full parameter set on every rank).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gansynth.config import PAPER_GAN_CHANNELS, check_channels
from gansynth.errors import ConfigError
from gansynth.models.layers import (
    ConvAct,
    EqualizedConv2d,
    PixelNorm,
    blend,
    block_shape,
    fully_new,
    one_hot,
)


class GeneratorBlock(nn.Module):
    """Block 0: (B, in, 1, 1) -> (B, out, *start_shape) by a padded start_shape conv then a 3x3.
    Block k > 0: (B, in, H, W) -> (B, out, 2H, 2W) by nearest upsampling then two 3x3 convs."""

    def __init__(self, in_channels: int, out_channels: int, first: bool,
                 start_shape: tuple[int, int], cond_channels: int = 0) -> None:
        super().__init__()
        self.first = first
        if first:
            kh, kw = start_shape
            self.conv0 = ConvAct(in_channels, out_channels, (kh, kw), (kh - 1, kw - 1), pixel_norm=True)
            self.conv1 = ConvAct(out_channels + cond_channels, out_channels, 3, 1, pixel_norm=True)
        else:
            self.conv0 = ConvAct(in_channels + cond_channels, out_channels, 3, 1, pixel_norm=True)
            self.conv1 = ConvAct(out_channels, out_channels, 3, 1, pixel_norm=True)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """cond: (B, cond_channels, H_out, W_out) template at this block's resolution, or None."""
        if self.first:
            x = self.conv0(x)
            return self.conv1(x if cond is None else torch.cat([x, cond.to(x.dtype)], dim=1))
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        if cond is not None:
            x = torch.cat([x, cond.to(x.dtype)], dim=1)
        return self.conv1(self.conv0(x))


class Generator(nn.Module):
    """(z, pitch class, block, alpha) -> spectrogram in tanh range.

    channels: feature channels per resolution block (paper: 256, 256, 256, 256, 128, 64, 32 for
    2x16 .. 128x1024); a shorter table gives fewer blocks.
    templates: optional (num_pitches, C, frames, bins) pitch templates at full resolution, kept as
    a non-persistent buffer (not in the state dict); None is the paper's generator.
    """

    templates: torch.Tensor | None

    def __init__(self, latent_dim: int = 256, num_pitches: int = 61,
                 channels: tuple[int, ...] = PAPER_GAN_CHANNELS, start_shape: tuple[int, int] = (2, 16),
                 out_channels: int = 2, templates: torch.Tensor | None = None) -> None:
        super().__init__()
        if latent_dim < 1 or num_pitches < 1 or out_channels < 1:
            raise ConfigError(f"generator latent_dim, num_pitches and out_channels must be >= 1, got "
                              f"{latent_dim}, {num_pitches}, {out_channels}")
        self.latent_dim = latent_dim
        self.num_pitches = num_pitches
        self.channels = check_channels(channels)
        self.start_shape = (int(start_shape[0]), int(start_shape[1]))
        self.out_channels = out_channels
        self.input_norm = PixelNorm()
        cond_channels = 0
        if templates is not None:
            full = block_shape(self.start_shape, len(self.channels) - 1)
            if templates.dim() != 4 or templates.shape[0] != num_pitches or tuple(templates.shape[2:]) != full:
                raise ConfigError(f"pitch templates must be ({num_pitches}, C, {full[0]}, {full[1]}), "
                                  f"got {tuple(templates.shape)}")
            cond_channels = templates.shape[1]
        self.register_buffer("templates", templates, persistent=False)
        in_ch = [latent_dim + num_pitches, *self.channels[:-1]]
        self.blocks = nn.ModuleList(
            GeneratorBlock(cin, cout, first=k == 0, start_shape=self.start_shape, cond_channels=cond_channels)
            for k, (cin, cout) in enumerate(zip(in_ch, self.channels, strict=True)))
        self.to_specgram = nn.ModuleList(
            EqualizedConv2d(c, out_channels, 1, gain=1.0) for c in self.channels)

    @property
    def num_blocks(self) -> int:
        return len(self.channels)

    def output_shape(self, block: int) -> tuple[int, int, int]:
        """(channels, frames, bins) of the output at `block`."""
        return (self.out_channels, *block_shape(self.start_shape, block))

    def forward(self, z: torch.Tensor, pitch: torch.Tensor, block: int,
                alpha: float | torch.Tensor = 1.0) -> torch.Tensor:
        """z: (B, latent_dim) float; pitch: (B,) int64 class index 0..num_pitches-1; block: highest
        active block 0..num_blocks-1; alpha in [0, 1] (float, scalar or (B,) tensor) blends block's
        output with the 2x nearest-upsampled output of block-1 (1: new block only; ignored at block 0).
        Returns (B, out_channels, 2 * 2^block, 16 * 2^block) in (-1, 1).
        """
        if not 0 <= block < self.num_blocks:
            raise ValueError(f"block must be in 0..{self.num_blocks - 1}, got {block}")
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be (B, {self.latent_dim}), got {tuple(z.shape)}")
        if pitch.shape != (z.shape[0],):
            raise ValueError(f"pitch must be ({z.shape[0]},) class indices, got {tuple(pitch.shape)}")
        pitch_onehot = one_hot(pitch, self.num_pitches, z.dtype)  # (B, num_pitches)
        x = self.input_norm(torch.cat([z, pitch_onehot], dim=1))[:, :, None, None]  # (B, latent+pitches, 1, 1)
        templates = None if self.templates is None else self.templates[pitch.long()]  # (B, C, frames, bins)
        prev = x
        for k in range(block + 1):
            prev = x
            cond = None
            if templates is not None:
                factor = 2 ** (self.num_blocks - 1 - k)
                cond = F.avg_pool2d(templates, factor) if factor > 1 else templates  # (B, C, frames_k, bins_k)
            x = self.blocks[k](x, cond)  # (B, C_k, frames_k, bins_k)
        new = torch.tanh(self.to_specgram[block](x))  # (B, 2, frames, bins)
        if block == 0 or fully_new(alpha):
            return new
        old = torch.tanh(self.to_specgram[block - 1](prev))  # (B, 2, frames / 2, bins / 2)
        old = F.interpolate(old, scale_factor=2.0, mode="nearest")
        return blend(alpha, new, old)
