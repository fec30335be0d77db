"""The sequence auto-encoder's inference file: plain tensors + config, loaded strictly and safely.

File layout (written and read by `gansynth.model_file`, i.e. ``torch.load(weights_only=True)``):

    format          "gansynth-autoencoder"
    format_version  1
    config          the resolved `AutoencoderExperimentConfig` as a plain dict
    state_dict      the `SequenceAutoencoder` weights (nothing missing, nothing unexpected)
    latent_mean     (latent,) mean of the training segments' embeddings
    latent_std      (latent,) their standard deviation (random embeddings are drawn from
                    N(latent_mean, latent_std^2) per dimension)
    metrics         plain floats measured at export (e.g. held-out reconstruction F1), may be empty

Loading never executes code from the file; any deviation is one `BadInputError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from gansynth.config import AutoencoderExperimentConfig, config_to_dict
from gansynth.errors import BadInputError
from gansynth.model_file import read_model_file, strict_load, write_model_file
from gansynth.sequence.autoencoder import SequenceAutoencoder
from gansynth.sequence.export import plain_state, read_config_and_metrics

FORMAT = "gansynth-autoencoder"
FORMAT_VERSION = 1
KEYS = frozenset({"format", "format_version", "config", "state_dict", "latent_mean", "latent_std",
                  "metrics"})
WHAT = "gansynth sequence auto-encoder file"


@dataclass
class AutoencoderModel:
    """A loaded auto-encoder with its config, latent statistics and export metrics."""

    model: SequenceAutoencoder
    config: AutoencoderExperimentConfig
    latent_mean: torch.Tensor
    latent_std: torch.Tensor
    metrics: dict[str, float]


def build_autoencoder(config: AutoencoderExperimentConfig) -> SequenceAutoencoder:
    return SequenceAutoencoder(config.roll.pitches, config.roll.steps, config.roll.voices, config.model)


def export_autoencoder(path: str | os.PathLike[str], model: SequenceAutoencoder,
                       config: AutoencoderExperimentConfig, latent_mean: torch.Tensor,
                       latent_std: torch.Tensor, metrics: dict[str, float] | None = None) -> None:
    """Write the inference file (atomically): weights as contiguous CPU tensors + config."""
    write_model_file(path, FORMAT, FORMAT_VERSION, {
        "config": config_to_dict(config),
        "state_dict": plain_state(model),
        "latent_mean": latent_mean.detach().cpu().float().contiguous().clone(),
        "latent_std": latent_std.detach().cpu().float().contiguous().clone(),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
    })


def load_autoencoder(path: str | os.PathLike[str],
                     map_location: str | torch.device = "cpu") -> AutoencoderModel:
    """Read an exported auto-encoder; the model is returned in eval mode on `map_location`."""
    p = Path(path)
    payload = read_model_file(p, FORMAT, FORMAT_VERSION, KEYS, WHAT,
                              hint="; export one with `gansynth train-autoencoder`")
    config, metrics = read_config_and_metrics(p, payload, AutoencoderExperimentConfig, WHAT)
    stats = [payload["latent_mean"], payload["latent_std"]]
    if not all(isinstance(s, torch.Tensor) and s.shape == (config.model.latent_dim,)
               and bool(torch.isfinite(s).all()) for s in stats) or not bool((stats[1] > 0).all()):
        raise BadInputError(f"{p}: latent statistics in {WHAT} are not {config.model.latent_dim} finite "
                            "numbers (with positive deviations)")
    model = build_autoencoder(config)
    strict_load(model, payload["state_dict"], p, "weights")
    model.to(map_location).eval()
    return AutoencoderModel(model, config, stats[0].float(), stats[1].float(), metrics)
