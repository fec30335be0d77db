"""`gansynth train` and `gansynth export`: thin CLI wrappers over gansynth.training.run.train
and gansynth.checkpoint.export_model."""

from __future__ import annotations

import argparse

TRAINER_OPTIONS = ("accelerator", "devices", "num_nodes", "strategy", "precision")


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


def _train(args: argparse.Namespace) -> int:
    from gansynth.config import ExperimentConfig, load_config
    from gansynth.errors import ConfigError
    from gansynth.training.run import RunExistsError, train

    overrides = list(args.overrides)
    for name in TRAINER_OPTIONS:
        value = getattr(args, f"trainer_{name}")
        if value is not None:
            overrides.append(f"trainer.{name}={value}")
    config = load_config(ExperimentConfig, args.config, overrides)
    try:
        module = train(config, resume=args.resume, progress_bar=not args.no_progress_bar)
    except RunExistsError as err:
        raise ConfigError(f"{err} (--resume continues it)") from err
    if module.global_rank == 0:
        print(f"trained to {module.images_seen} images; checkpoints in {config.output}/checkpoints")
    return 0


def _export(args: argparse.Namespace) -> int:
    from gansynth.checkpoint import export_model

    path = export_model(args.checkpoint, args.output)
    print(f"wrote {path}")
    return 0
