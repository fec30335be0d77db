"""Progressive discriminator (critic + auxiliary pitch classifier) of GANSynth (DESIGN.md section 3).

Mirror of the generator. At the active block k the input spectrogram goes through a 1x1
from-spectrogram conv (+ leaky ReLU) to C_k channels; block k > 0 is two 3x3 convs (C_k -> C_k ->
C_{k-1}, leaky ReLU 0.2) then 2x average pooling; during a transition (alpha < 1) the result is
blended with the 2x average-pooled input passed through block k-1's from-spectrogram conv. Block 0
(the last one applied) is: minibatch std as one extra channel, a 3x3 conv, a start_shape (2, 16)
valid conv down to 1x1, then one dense layer (gain 1) to the real/fake score and one dense layer
(gain 1) to the pitch logits. No pixel norm in D.

With `projection_weight` w > 0 (`model.projection_weight`, Miyato and Koyama 2018) the score also
holds the projection term w * <embed(pitch), features>: a learned vector per pitch class (an
equalized dense layer on the one-hot), dotted with the head's features. The auxiliary classifier
stays; its loss weight is `train.aux_weight` (0 uses the projection alone).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gansynth.config import PAPER_GAN_CHANNELS, check_channels
from gansynth.errors import ConfigError
from gansynth.models.layers import (
    LEAKY_SLOPE,
    ConvAct,
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStd,
    blend,
    block_shape,
    fully_new,
    one_hot,
)


class DiscriminatorBlock(nn.Module):
    """(B, in, H, W) -> (B, out, H/2, W/2): two 3x3 convs with leaky ReLU, then 2x average pool."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = ConvAct(in_channels, in_channels, 3, 1, pixel_norm=False)
        self.conv1 = ConvAct(in_channels, out_channels, 3, 1, pixel_norm=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.conv1(self.conv0(x)), 2)


class DiscriminatorHead(nn.Module):
    """Block 0: (B, C, *start_shape) -> (score (B,), pitch logits (B, num_pitches))."""

    def __init__(self, channels: int, num_pitches: int, start_shape: tuple[int, int],
                 mbstd_group: int, projection_weight: float = 0.0) -> None:
        super().__init__()
        self.num_pitches = num_pitches
        self.projection_weight = projection_weight
        self.embed = (EqualizedLinear(num_pitches, channels, gain=1.0, bias=False)
                      if projection_weight > 0 else None)
        self.mbstd = MinibatchStd(mbstd_group)
        self.conv0 = ConvAct(channels + 1, channels, 3, 1, pixel_norm=False)
        self.conv1 = ConvAct(channels, channels, start_shape, 0, pixel_norm=False)  # valid: -> 1x1
        self.score = EqualizedLinear(channels, 1, gain=1.0)
        self.pitch = EqualizedLinear(channels, num_pitches, gain=1.0)

    def forward(self, x: torch.Tensor, pitch: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """pitch: (B,) class indices, needed with a projection term."""
        x = self.conv1(self.conv0(self.mbstd(x)))  # (B, C, 1, 1)
        features = x.flatten(1)  # (B, C)
        score = self.score(features).squeeze(1)  # (B,)
        if self.embed is not None:
            if pitch is None:
                raise ValueError("a discriminator with a projection term needs the pitch classes")
            onehot = one_hot(pitch, self.num_pitches, features.dtype)  # (B, num_pitches)
            score = score + self.projection_weight * (self.embed(onehot) * features).sum(dim=1)
        return score, self.pitch(features)


class Discriminator(nn.Module):
    """(spectrogram, block, alpha) -> (score (B,), pitch logits (B, num_pitches)).

    channels: the same resolution -> channels table as the generator's.
    mbstd_group: group size of the minibatch standard deviation (whole batch when larger).
    """

    def __init__(self, num_pitches: int = 61, channels: tuple[int, ...] = PAPER_GAN_CHANNELS,
                 start_shape: tuple[int, int] = (2, 16), in_channels: int = 2,
                 mbstd_group: int = 4, projection_weight: float = 0.0) -> None:
        super().__init__()
        if num_pitches < 1 or in_channels < 1 or mbstd_group < 1:
            raise ConfigError(f"discriminator num_pitches, in_channels and mbstd_group must be >= 1, "
                              f"got {num_pitches}, {in_channels}, {mbstd_group}")
        self.num_pitches = num_pitches
        self.channels = check_channels(channels)
        self.start_shape = (int(start_shape[0]), int(start_shape[1]))
        self.in_channels = in_channels
        self.from_specgram = nn.ModuleList(
            EqualizedConv2d(in_channels, c, 1) for c in self.channels)
        # blocks[0] is the head; blocks[k] maps resolution k (C_k) down to resolution k-1 (C_{k-1})
        self.blocks = nn.ModuleList(
            [DiscriminatorHead(self.channels[0], num_pitches, self.start_shape, mbstd_group, projection_weight)]
            + [DiscriminatorBlock(self.channels[k], self.channels[k - 1])
               for k in range(1, len(self.channels))])

    @property
    def num_blocks(self) -> int:
        return len(self.channels)

    def input_shape(self, block: int) -> tuple[int, int, int]:
        """(channels, frames, bins) expected at `block`."""
        return (self.in_channels, *block_shape(self.start_shape, block))

    def _from_specgram(self, x: torch.Tensor, block: int) -> torch.Tensor:
        return F.leaky_relu(self.from_specgram[block](x), LEAKY_SLOPE)

    def forward(self, x: torch.Tensor, block: int, alpha: float | torch.Tensor = 1.0,
                pitch: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, in_channels, 2 * 2^block, 16 * 2^block); block: highest active block
        0..num_blocks-1; alpha in [0, 1] (float, scalar or (B,) tensor) fades the new block in on
        the input side (1: new block only; ignored at block 0); pitch: (B,) class indices (used
        by the projection term only).
        Returns score (B,) and pitch logits (B, num_pitches).
        """
        if not 0 <= block < self.num_blocks:
            raise ValueError(f"block must be in 0..{self.num_blocks - 1}, got {block}")
        expected = self.input_shape(block)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"discriminator input at block {block} must be (B, {', '.join(map(str, expected))}), "
                             f"got {tuple(x.shape)}")
        h = self._from_specgram(x, block)  # (B, C_block, frames, bins)
        if block > 0:
            h = self.blocks[block](h)  # (B, C_{block-1}, frames / 2, bins / 2)
            if not fully_new(alpha):
                old = self._from_specgram(F.avg_pool2d(x, 2), block - 1)
                h = blend(alpha, h, old)
            for k in range(block - 1, 0, -1):
                h = self.blocks[k](h)
        score, logits = self.blocks[0](h, pitch)
        return score, logits
