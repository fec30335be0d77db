"""`gansynth train` and `gansynth export`: thin CLI wrappers over gansynth.training.run.train
and gansynth.checkpoint.export_model.

A recipe given to `gansynth train` (with its command-line overrides) must set `data.path` and
fields of the `model` and `schedule` sections (REQUIRED_SETTINGS): the defaults of those are the
paper's networks and 11M-image schedule, which an empty or mistyped recipe would otherwise train
without a word. A run stopped by SIGINT / SIGTERM prints one line saying where it stopped and how
to continue, and exits 130 / 143.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gansynth.config import ExperimentConfig

TRAINER_OPTIONS = ("accelerator", "devices", "num_nodes", "strategy", "precision")
# what a training recipe must set: data.path, and at least one field of each section
REQUIRED_SETTINGS = ("data.path", "model", "schedule")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    train = subparsers.add_parser(
        "train", help="train the progressive GAN from a recipe",
        description="Train the GANSynth GAN. Fields of the recipe can be overridden with "
                    "section.field=value (e.g. train.batch_size=16 output=runs/x). Multi-device: "
                    "--trainer.devices 4 [--trainer.num_nodes 2] uses DDP; see docs/training.md.")
    train.add_argument("--config", required=True, metavar="RECIPE.yaml", help="recipe YAML (recipes/*.yaml)")
    train.add_argument("overrides", nargs="*", metavar="section.field=value", help="config field overrides")
    train.add_argument("--resume", nargs="?", const=True, default=False, metavar="CKPT",
                       help="continue the run in the output folder (from checkpoints/last.ckpt, or CKPT)")
    for name in TRAINER_OPTIONS:
        train.add_argument(f"--trainer.{name}", dest=f"trainer_{name}", default=None,
                           help=f"Lightning Trainer {name} (same as the override trainer.{name}=...)")
    train.add_argument("--no-progress-bar", action="store_true", help="hide Lightning's progress bar")
    train.set_defaults(handler=_train)

    export = subparsers.add_parser(
        "export", help="write the inference file of a training checkpoint",
        description="Strip a training checkpoint (.ckpt) to the inference file: format version, "
                    "resolved config, EMA generator weights and normalizer.")
    export.add_argument("checkpoint", metavar="RUN.ckpt", help="training checkpoint (e.g. runs/x/checkpoints/last.ckpt)")
    export.add_argument("-o", "--output", required=True, metavar="MODEL.pt", help="inference file to write")
    export.set_defaults(handler=_export)


def check_recipe(path: str, overrides: list[str]) -> None:
    """Raise ConfigError naming `path` and what is missing unless the recipe, with `overrides`,
    sets everything in REQUIRED_SETTINGS."""
    from gansynth.config_io import merge_dicts, parse_overrides, read_yaml
    from gansynth.errors import ConfigError

    data: dict[str, Any] = merge_dicts(read_yaml(path), parse_overrides(overrides))
    missing = []
    for setting in REQUIRED_SETTINGS:
        node: Any = data
        for part in setting.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None or node == {}:
            missing.append(setting)
    if missing:
        raise ConfigError(f"{path}: the recipe does not set {', '.join(missing)}; a training recipe must set "
                          "data.path and the model and schedule sections (their defaults are the paper's "
                          "networks and 11M-image schedule), as recipes/gm_small.yaml does")


def describe_training(config: ExperimentConfig, recipe: str) -> str:
    """One line: what `config` trains (networks, resolution, images, output)."""
    from gansynth.models import build_discriminator, build_generator

    def count(module: Any) -> str:
        return f"{sum(p.numel() for p in module.parameters()):,}"

    s = config.spectral
    counts = config.schedule.stage_image_counts
    per_stage = f"{config.schedule.stage_images:,}" if not counts else "/".join(f"{c:,}" for c in counts)
    return (f"training {recipe}: generator {count(build_generator(config))} and discriminator "
            f"{count(build_discriminator(config))} parameters, {len(config.model.channels)} blocks up to "
            f"{s.frames} x {s.bins} {s.representation}, {config.schedule.max_images:,} images "
            f"({per_stage} per stage, batch {config.train.batch_size}) "
            f"from {config.data.path} into {config.output}")


def _train(args: argparse.Namespace) -> int:
    from lightning.pytorch.utilities import rank_zero_only

    from gansynth.config import ExperimentConfig, load_config
    from gansynth.errors import ConfigError
    from gansynth.training.run import RunExistsError, TrainingInterrupted, train

    overrides = list(args.overrides)
    for name in TRAINER_OPTIONS:
        value = getattr(args, f"trainer_{name}")
        if value is not None:
            overrides.append(f"trainer.{name}={value}")
    check_recipe(args.config, overrides)
    config = load_config(ExperimentConfig, args.config, overrides)
    rank_zero = getattr(rank_zero_only, "rank", 0) == 0  # launched ranks > 0 stay quiet
    if rank_zero:
        print(describe_training(config, args.config), flush=True)
    try:
        module = train(config, resume=args.resume, progress_bar=not args.no_progress_bar,
                       on_data=(lambda line: print(f"data: {line}", flush=True)) if rank_zero else None)
    except RunExistsError as err:
        raise ConfigError(f"{err} (--resume continues it)") from err
    except TrainingInterrupted as stop:
        if rank_zero:
            again = shlex.join(["gansynth", "train", "--config", args.config, *overrides,
                                *(["--no-progress-bar"] if args.no_progress_bar else []), "--resume"])
            hint = f"; continue with: {again}" if stop.checkpoint is not None else "; start it again"
            print(f"gansynth: stopped: {stop}{hint}", file=sys.stderr)
        return 128 + stop.signum if stop.signum is not None else 1
    if module.global_rank == 0:
        print(f"trained to {module.images_seen} images; checkpoints in {config.output}/checkpoints")
    return 0


def _export(args: argparse.Namespace) -> int:
    from gansynth.checkpoint import export_model

    path = export_model(args.checkpoint, args.output)
    print(f"wrote {path}")
    return 0
