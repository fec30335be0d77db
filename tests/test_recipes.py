"""Every recipe in recipes/ loads as exactly one kind of config, the paper recipe keeps the paper's
settings, and the networks of the small recipes build and run at full resolution."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gansynth.config import (
    PAPER_GAN_CHANNELS,
    AccompanimentExperimentConfig,
    AutoencoderExperimentConfig,
    ExperimentConfig,
    SequenceExperimentConfig,
    load_config,
)
from gansynth.errors import ConfigError
from gansynth.models import build_discriminator, build_generator

RECIPES = sorted((Path(__file__).resolve().parent.parent / "recipes").glob("*.yaml"))
SMALL_GAN = ("debug", "gm_small")
SMALL_LSTM = ("lstm_debug", "lstm_default")
AUTOENCODERS = ("autoencoder_debug", "autoencoder_default")
ACCOMPANIMENT = ("accompaniment_debug", "accompaniment_default")


def recipe(name: str) -> Path:
    return next(p for p in RECIPES if p.stem == name)


def test_the_recipes_are_there() -> None:
    names = {p.stem for p in RECIPES}
    assert {"gansynth_paper", *SMALL_GAN, *SMALL_LSTM, *AUTOENCODERS, *ACCOMPANIMENT} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_loads_as_exactly_one_kind(path: Path) -> None:
    kinds = []
    for cls in (ExperimentConfig, SequenceExperimentConfig, AutoencoderExperimentConfig,
                AccompanimentExperimentConfig):
        try:
            load_config(cls, path)
        except ConfigError:
            continue
        kinds.append(cls)
    assert len(kinds) == 1, f"{path.name} loads as {[k.__name__ for k in kinds]}"
    assert (kinds[0] is SequenceExperimentConfig) == path.stem.startswith("lstm_")
    assert (kinds[0] is AutoencoderExperimentConfig) == path.stem.startswith("autoencoder_")
    assert (kinds[0] is AccompanimentExperimentConfig) == path.stem.startswith("accompaniment_")


def test_paper_recipe_keeps_the_papers_settings() -> None:
    config = load_config(ExperimentConfig, recipe("gansynth_paper"))
    assert config.spectral.representation == "if-mel" and config.spectral.shape == (2, 128, 1024)
    assert config.model.channels == PAPER_GAN_CHANNELS and config.model.latent_dim == 256
    assert not config.model.pitch_templates
    assert (config.data.pitch_min, config.data.pitch_max, config.num_pitches) == (24, 84, 61)
    assert config.start_shape == (2, 16)
    assert (config.schedule.stage_images, config.schedule.max_images) == (800_000, 11_000_000)
    t = config.train
    assert (t.batch_size, t.lr, tuple(t.betas), t.ema_decay) == (8, 8e-4, (0.0, 0.99), 0.999)
    assert (t.gp_weight, t.drift_weight, t.aux_weight) == (10.0, 0.001, 10.0)


@pytest.mark.parametrize("name", SMALL_GAN)
def test_small_gan_recipes_build_and_run_at_full_resolution(name: str) -> None:
    config = load_config(ExperimentConfig, recipe(name))
    generator, discriminator = build_generator(config).eval(), build_discriminator(config).eval()
    last = generator.num_blocks - 1
    pitch = torch.tensor([0, config.num_pitches - 1])
    with torch.no_grad():
        spec = generator(torch.randn(2, config.model.latent_dim), pitch, last)
        score, logits = discriminator(spec, last)
    assert spec.shape == (2, *config.spectral.shape)
    assert bool(torch.isfinite(spec).all()) and float(spec.abs().max()) < 1.0
    assert score.shape == (2,) and logits.shape == (2, config.num_pitches)
    assert (generator.templates is not None) == config.model.pitch_templates


@pytest.mark.parametrize("name", SMALL_LSTM)
def test_small_lstm_recipes_build_and_run(name: str) -> None:
    from gansynth.sequence.model import LstmLanguageModel
    from gansynth.sequence.tokenizer import EventTokenizer

    config = load_config(SequenceExperimentConfig, recipe(name))
    vocab = len(EventTokenizer(config.tokenizer))
    model = LstmLanguageModel.from_config(vocab, config.model).eval()
    tokens = torch.randint(0, vocab, (2, 12))
    with torch.no_grad():
        logits, _ = model(tokens)
    assert logits.shape == (2, 12, vocab) and bool(torch.isfinite(logits).all())
