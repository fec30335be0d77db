"""The sequence model's inference file: plain tensors + config, loaded strictly and safely.

File layout (a `torch.save` dict, read back with ``torch.load(weights_only=True)``):

    format      "gansynth-lstm"
    version     1
    config      the resolved `SequenceExperimentConfig` as a plain dict
    vocab       the token names, id order (checked against the tokenizer rebuilt from config)
    state_dict  the `LstmLanguageModel` weights (loaded with strict=True)
    metrics     plain floats measured at export (e.g. validation perplexity), may be empty

Loading never executes code from the file; any deviation is one `BadInputError`.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gansynth.config import SequenceExperimentConfig, config_from_dict, config_to_dict
from gansynth.errors import BadInputError, ConfigError
from gansynth.io import atomic_path
from gansynth.sequence.model import LstmLanguageModel
from gansynth.sequence.tokenizer import EventTokenizer

FORMAT = "gansynth-lstm"
VERSION = 1
KEYS = frozenset({"format", "version", "config", "vocab", "state_dict", "metrics"})


@dataclass
class SequenceModel:
    """A loaded model with its tokenizer and the config it was trained with."""

    model: LstmLanguageModel
    tokenizer: EventTokenizer
    config: SequenceExperimentConfig
    metrics: dict[str, float]


def export_sequence_model(path: str | os.PathLike[str], model: LstmLanguageModel,
                          tokenizer: EventTokenizer, config: SequenceExperimentConfig,
                          metrics: dict[str, float] | None = None) -> None:
    """Write the inference file (atomically): weights as contiguous CPU tensors + config."""
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "config": config_to_dict(config),
        "vocab": list(tokenizer.vocab),
        "state_dict": {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()},
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_sequence_model(path: str | os.PathLike[str],
                        map_location: str | torch.device = "cpu") -> SequenceModel:
    """Read an exported sequence model; the model is returned in eval mode."""
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"{p}: sequence model file not found")
    try:
        payload = torch.load(p, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as err:
        raise BadInputError(f"{p}: not a gansynth sequence model file (cannot be read by "
                            f"torch.load: {str(err).splitlines()[0]})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise BadInputError(f"{p}: not a gansynth sequence model file (format is not {FORMAT!r}); "
                            "export one with `gansynth train-sequence`")
    if set(payload) != KEYS:
        raise BadInputError(f"{p}: unexpected keys {sorted(set(payload) ^ KEYS)} in sequence model file")
    if payload["version"] != VERSION:
        raise BadInputError(f"{p}: sequence model format version {payload['version']}, this gansynth "
                            f"reads version {VERSION}")
    try:
        config = config_from_dict(SequenceExperimentConfig, payload["config"])
    except ConfigError as err:
        raise BadInputError(f"{p}: invalid config in sequence model file: {err}") from err
    tokenizer = EventTokenizer(config.tokenizer)
    if list(payload["vocab"]) != tokenizer.vocab:
        raise BadInputError(f"{p}: the file's vocabulary differs from the tokenizer its config "
                            "describes (different miditok version?)")
    model = LstmLanguageModel.from_config(len(tokenizer), config.model)
    if not isinstance(payload["state_dict"], dict):
        raise BadInputError(f"{p}: state_dict in sequence model file is not a mapping of tensors")
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as err:
        detail = " ".join(str(err).split())
        raise BadInputError(f"{p}: weights do not match the model config: {detail}") from err
    model.to(map_location).eval()
    return SequenceModel(model, tokenizer, config, dict(payload["metrics"]))
