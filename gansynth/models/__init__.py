"""GAN networks (plain `nn.Module`s, no Lightning): equalized-lr layers, generator, discriminator."""

from gansynth.models.discriminator import Discriminator
from gansynth.models.generator import PAPER_CHANNELS, Generator
from gansynth.models.layers import EqualizedConv2d, EqualizedLinear, MinibatchStd, PixelNorm

__all__ = [
    "PAPER_CHANNELS",
    "Discriminator",
    "EqualizedConv2d",
    "EqualizedLinear",
    "Generator",
    "MinibatchStd",
    "PixelNorm",
]
