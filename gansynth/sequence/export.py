"""The sequence model's inference file: plain tensors + config, loaded strictly and safely.

File layout (written and read by `gansynth.model_file`, i.e. ``torch.load(weights_only=True)``):

    format          "gansynth-lstm"
    format_version  2 (version 1 named this key "version"; such files are refused)
    config          the resolved `SequenceExperimentConfig` as a plain dict
    vocab           the token names, id order (checked against the tokenizer rebuilt from config)
    state_dict      the `LstmLanguageModel` weights (nothing missing, nothing unexpected)
    metrics         plain floats measured at export (e.g. validation perplexity), may be empty

Loading never executes code from the file; any deviation is one `BadInputError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from gansynth.config import SequenceExperimentConfig, config_from_dict, config_to_dict
from gansynth.errors import BadInputError, ConfigError
from gansynth.model_file import read_model_file, strict_load, write_model_file
from gansynth.sequence.model import LstmLanguageModel
from gansynth.sequence.tokenizer import EventTokenizer

T = TypeVar("T")

FORMAT = "gansynth-lstm"
FORMAT_VERSION = 2
KEYS = frozenset({"format", "format_version", "config", "vocab", "state_dict", "metrics"})
WHAT = "gansynth sequence model file"


@dataclass
class SequenceModel:
    """A loaded model with its tokenizer and the config it was trained with."""

    model: LstmLanguageModel
    tokenizer: EventTokenizer
    config: SequenceExperimentConfig
    metrics: dict[str, float]


def plain_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's weights as contiguous CPU tensors, ready for `write_model_file`."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


def read_config_and_metrics(path: Path, payload: dict[str, Any], cls: type[T], what: str
                            ) -> tuple[T, dict[str, float]]:
    """The config (a `cls`) and the metrics of a model file's payload; either one malformed is
    a BadInputError naming `path` and `what` the file is."""
    try:
        config = config_from_dict(cls, payload["config"])
    except ConfigError as err:
        raise BadInputError(f"{path}: invalid config in {what}: {err}") from err
    metrics = payload["metrics"]
    if not isinstance(metrics, dict) or not all(isinstance(v, float) for v in metrics.values()):
        raise BadInputError(f"{path}: metrics in {what} are not a mapping of numbers")
    return config, dict(metrics)


def export_sequence_model(path: str | os.PathLike[str], model: LstmLanguageModel,
                          tokenizer: EventTokenizer, config: SequenceExperimentConfig,
                          metrics: dict[str, float] | None = None) -> None:
    """Write the inference file (atomically): weights as contiguous CPU tensors + config."""
    write_model_file(path, FORMAT, FORMAT_VERSION, {
        "config": config_to_dict(config),
        "vocab": list(tokenizer.vocab),
        "state_dict": plain_state(model),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
    })


def load_sequence_model(path: str | os.PathLike[str],
                        map_location: str | torch.device = "cpu") -> SequenceModel:
    """Read an exported sequence model; the model is returned in eval mode on `map_location`."""
    p = Path(path)
    payload = read_model_file(p, FORMAT, FORMAT_VERSION, KEYS, WHAT,
                              hint="; export one with `gansynth train-sequence`")
    config, metrics = read_config_and_metrics(p, payload, SequenceExperimentConfig, WHAT)
    tokenizer = EventTokenizer(config.tokenizer)
    if payload["vocab"] != tokenizer.vocab:
        raise BadInputError(f"{p}: the file's vocabulary differs from the tokenizer its config "
                            "describes (different miditok version?)")
    model = LstmLanguageModel.from_config(len(tokenizer), config.model)
    strict_load(model, payload["state_dict"], p, "weights")
    model.to(map_location).eval()
    return SequenceModel(model, tokenizer, config, metrics)
