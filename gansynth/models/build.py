"""The one place that builds the GAN's networks from an `ExperimentConfig` (training, export and
loading all call these)."""

from __future__ import annotations

from gansynth.config import ExperimentConfig
from gansynth.models.conditioning import pitch_templates
from gansynth.models.discriminator import Discriminator
from gansynth.models.generator import Generator


def build_generator(config: ExperimentConfig) -> Generator:
    """The generator described by `config` (fresh weights; pitch templates when
    `model.pitch_templates`, rebuilt from the spectral config, never stored)."""
    m = config.model
    templates = (pitch_templates(config.spectral, config.data.pitch_min, config.data.pitch_max)
                 if m.pitch_templates else None)
    return Generator(m.latent_dim, config.num_pitches, m.channels, config.start_shape, templates=templates)


def build_discriminator(config: ExperimentConfig) -> Discriminator:
    """The discriminator described by `config` (fresh weights)."""
    m = config.model
    return Discriminator(config.num_pitches, m.channels, config.start_shape, mbstd_group=m.mbstd_group,
                         projection_weight=m.projection_weight)
