"""GAN networks (plain `nn.Module`s, no Lightning): equalized-lr layers, generator, discriminator,
and `build`, which makes both from an `ExperimentConfig`."""

from gansynth.models.build import build_discriminator, build_generator
from gansynth.models.discriminator import Discriminator
from gansynth.models.generator import Generator
from gansynth.models.layers import EqualizedConv2d, EqualizedLinear, MinibatchStd, PixelNorm

__all__ = [
    "Discriminator",
    "EqualizedConv2d",
    "EqualizedLinear",
    "Generator",
    "MinibatchStd",
    "PixelNorm",
    "build_discriminator",
    "build_generator",
]
