"""The layout of a GAN training checkpoint (`.ckpt`), in one place: what `GANSynthModule` adds to
Lightning's checkpoint and the one reader that the resume check and `gansynth export` use.

A `.ckpt` is Lightning's dict; gansynth relies on these entries:

    hyper_parameters["config"]   the resolved `ExperimentConfig` as a plain dict
    state_dict                   module weights: "generator.*", "generator_ema.*",
                                 "discriminator.*", "normalizer.a", "normalizer.b", "pitch_probs"
    gansynth                     {"images_seen", "stage" (0..2*blocks-2 at save time),
                                  "world_size", "torch_rng", "numpy_rng", "python_rng",
                                  "last_penalty" (float tensor, with train.reg_interval > 1:
                                  the penalty last computed, logged on the steps without one)}

Checkpoints written before "stage" was stored get it recomputed from the schedule on reading.
Every file is read with `torch.load(weights_only=True)`: reading never runs code from it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gansynth.config import ExperimentConfig, config_from_dict
from gansynth.errors import BadInputError, ConfigError
from gansynth.model_file import load_plain
from gansynth.training.schedule import progress

STATE_KEY = "gansynth"
WHAT = "gansynth training checkpoint"


@dataclass(frozen=True)
class TrainingCheckpoint:
    """What gansynth reads of a training checkpoint. state_dict: the module's weights (CPU)."""

    path: Path
    config: ExperimentConfig
    state_dict: dict[str, torch.Tensor]
    images_seen: int
    stage: int

    def weights(self, prefix: str) -> dict[str, torch.Tensor]:
        """The entries of `state_dict` under `prefix` (e.g. "generator_ema."), prefix removed."""
        return {k[len(prefix):]: v for k, v in self.state_dict.items() if k.startswith(prefix)}


def stage_of(config: ExperimentConfig, images_seen: int) -> int:
    """The schedule stage after `images_seen` images under `config`."""
    s = config.schedule
    blocks = len(config.model.channels)
    return progress(images_seen, s.lengths(blocks), blocks, s.max_images).stage


def training_state(checkpoint: dict[str, Any], where: str | os.PathLike[str]) -> dict[str, Any]:
    """The gansynth entry of a checkpoint dict, checked: a dict with a non-negative int
    "images_seen". Raises BadInputError naming `where`."""
    state = checkpoint.get(STATE_KEY)
    seen = state.get("images_seen") if isinstance(state, dict) else None
    if not isinstance(state, dict) or isinstance(seen, bool) or not isinstance(seen, int) or seen < 0:
        raise BadInputError(f"{where}: not a {WHAT} (no training state; pass a .ckpt written by "
                            "`gansynth train`)")
    return state


def read_training_checkpoint(path: str | os.PathLike[str]) -> TrainingCheckpoint:
    """Read and check a training checkpoint; any deviation from the layout above raises
    BadInputError naming the file."""
    p = Path(path)
    ckpt = load_plain(p, WHAT)
    if not isinstance(ckpt, dict):
        raise BadInputError(f"{p}: not a {WHAT}")
    hparams = ckpt.get("hyper_parameters")
    weights = ckpt.get("state_dict")
    if not isinstance(hparams, dict) or not isinstance(hparams.get("config"), dict) or not isinstance(weights, dict):
        raise BadInputError(f"{p}: not a {WHAT} (no state_dict or stored config); pass a .ckpt "
                            "written by `gansynth train`")
    state = training_state(ckpt, p)
    try:
        config = config_from_dict(ExperimentConfig, hparams["config"])
    except ConfigError as err:
        raise BadInputError(f"{p}: invalid stored config ({err})") from err
    images_seen = int(state["images_seen"])
    stage = state.get("stage")
    if not isinstance(stage, int):
        stage = stage_of(config, images_seen)
    return TrainingCheckpoint(p, config, weights, images_seen, stage)
