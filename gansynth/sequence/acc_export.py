"""The accompaniment model's inference file: plain tensors + config, loaded strictly and safely.

File layout (written and read by `gansynth.model_file`, i.e. ``torch.load(weights_only=True)``):

    format          "gansynth-accompaniment"
    format_version  1
    config          the resolved `AccompanimentExperimentConfig` as a plain dict (its
                    data.styles name the styles, in the order of the style embedding)
    state_dict      the `AccompanimentNet` weights (nothing missing, nothing unexpected)
    metrics         plain floats measured at export (e.g. held-out loss), may be empty

Loading never executes code from the file; any deviation is one `BadInputError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from gansynth.config import AccompanimentExperimentConfig, config_to_dict
from gansynth.model_file import read_model_file, strict_load, write_model_file
from gansynth.sequence.accompaniment import AccompanimentNet
from gansynth.sequence.export import plain_state, read_config_and_metrics

FORMAT = "gansynth-accompaniment"
FORMAT_VERSION = 1
KEYS = frozenset({"format", "format_version", "config", "state_dict", "metrics"})
WHAT = "gansynth accompaniment model file"
DEFAULT_ACCOMPANIMENT_PATH = (Path(__file__).resolve().parent.parent.parent / "data" / "models"
                              / "accompaniment_default.pt")


@dataclass
class AccompanimentModel:
    """A loaded accompaniment model with its config and export metrics."""

    model: AccompanimentNet
    config: AccompanimentExperimentConfig
    metrics: dict[str, float]


def build_accompaniment(config: AccompanimentExperimentConfig) -> AccompanimentNet:
    roll = config.roll
    return AccompanimentNet(roll.pitches, roll.voices, len(config.data.styles), roll.steps_per_beat,
                            config.model)


def export_accompaniment(path: str | os.PathLike[str], model: AccompanimentNet,
                         config: AccompanimentExperimentConfig,
                         metrics: dict[str, float] | None = None) -> None:
    """Write the inference file (atomically): weights as contiguous CPU tensors + config."""
    write_model_file(path, FORMAT, FORMAT_VERSION, {
        "config": config_to_dict(config),
        "state_dict": plain_state(model),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
    })


def load_accompaniment(path: str | os.PathLike[str] | None = None,
                       map_location: str | torch.device = "cpu") -> AccompanimentModel:
    """Read an exported accompaniment model (default: the shipped one); eval mode on `map_location`."""
    p = Path(path) if path is not None else DEFAULT_ACCOMPANIMENT_PATH
    payload = read_model_file(p, FORMAT, FORMAT_VERSION, KEYS, WHAT,
                              hint="; export one with `gansynth train-accompaniment`")
    config, metrics = read_config_and_metrics(p, payload, AccompanimentExperimentConfig, WHAT)
    model = build_accompaniment(config)
    strict_load(model, payload["state_dict"], p, "weights")
    model.to(map_location).eval()
    return AccompanimentModel(model, config, metrics)
