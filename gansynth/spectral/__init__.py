"""The GANSynth spectral representation: STFT, phase/IF, mel, normalizer."""

from gansynth.config import SpectralConfig
from gansynth.spectral.normalizer import Normalizer
from gansynth.spectral.transform import (
    SpectralTransform,
    get_transform,
    specgrams_to_waves,
    waves_to_specgrams,
)

__all__ = [
    "Normalizer",
    "SpectralConfig",
    "SpectralTransform",
    "get_transform",
    "specgrams_to_waves",
    "waves_to_specgrams",
]
