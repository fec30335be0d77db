"""Build and run a GAN training: the library behind `gansynth train` (one place turns an
`ExperimentConfig` into datamodule, module, callbacks, loggers and a Lightning Trainer).

Run folder layout (config.output):
    config.yaml                 resolved config of the latest start/resume
    checkpoints/last.ckpt       resume point (+ img{N}.ckpt every checkpoint interval)
    logs/csv/version_K/metrics.csv, logs/tensorboard/version_K/   one version per start/resume
    samples/img{N}/             EMA samples (PNG + WAV) and samples/samples.csv

`train` returns only a module that reached `schedule.max_images`; a run stopped earlier (SIGINT,
SIGTERM) is saved at the end of the batch under way and raises `TrainingInterrupted`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import lightning as L
import torch

from gansynth.config import DataConfig, ExperimentConfig, config_to_dict, save_config
from gansynth.errors import BadInputError, ConfigError, GansynthError
from gansynth.training.callbacks import (
    LAST_NAME,
    AtomicCheckpoint,
    ImagesProgressBar,
    SampleLogger,
    StopOnSignal,
)
from gansynth.training.checkpoint_file import read_training_checkpoint
from gansynth.training.module import GANSynthModule, fit_normalizer
from gansynth.training.sampling import ResumableDataModule

MULTI_DEVICE_STRATEGY = "ddp_find_unused_parameters_true"
CallbackT = TypeVar("CallbackT", bound=L.Callback)


class RunExistsError(ConfigError):
    """A new run was asked for in an output folder that already holds one."""


class TrainingInterrupted(GansynthError):
    """Training stopped before `schedule.max_images` (a signal, or another stop request).

    signum: the signal (None: stopped otherwise); images_seen: images of the saved checkpoint
    (or, when nothing was saved, of the stopping point); checkpoint: the checkpoint to resume
    from, or None when none was written.
    """

    def __init__(self, signum: int | None, images_seen: int, max_images: int, checkpoint: Path | None) -> None:
        self.signum, self.images_seen, self.max_images, self.checkpoint = signum, images_seen, max_images, checkpoint
        what = signal.Signals(signum).name if signum is not None else "training stopped"
        saved = f"checkpoint {checkpoint}" if checkpoint is not None else "no checkpoint was written"
        super().__init__(f"{what} at {images_seen} of {max_images} images; {saved}")


# Lightning and torch notices that are noise on a gansynth user's terminal: (message start, category)
NOISE_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # torch deprecated LeafSpec, which Lightning's own code still uses
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),
    # our steps per log are counted across epochs, so a short epoch loses no log rows
    (r"The number of training batches \(\d+\) is smaller than the logging interval", UserWarning),
    # our sampler continues from the images seen, mid-epoch too (ResumableDataModule)
    (r"You're resuming from a checkpoint that ended before the epoch ended", UserWarning),
    # the module checks the pitches of each batch on the host (GANSynthModule.on_before_batch_transfer)
    (r"You have overridden `on_before_batch_transfer` in `LightningModule`", UserWarning),
)
# log records of these Lightning loggers that contain one of these texts are dropped: promotional
# tips, and the SIGTERM notice that `gansynth train`'s stop line replaces
NOISE_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.trainer.connectors.signal_connector")
NOISE_LOG_TEXTS = ("💡 Tip:", "Received SIGTERM")


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in NOISE_LOG_TEXTS)


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Inside the block, drop the NOISE_WARNINGS and NOISE_LOG_TEXTS notices; every other warning,
    log record and error passes as before."""
    drop = _DropNoise()
    loggers = [logging.getLogger(name) for name in NOISE_LOGGERS]
    with warnings.catch_warnings():
        for message, category in NOISE_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        for logger in loggers:
            logger.addFilter(drop)
        try:
            yield
        finally:
            for logger in loggers:
                logger.removeFilter(drop)


def run_paths(config: ExperimentConfig) -> dict[str, Path]:
    """Folders and files of a run: root, checkpoints, last checkpoint, logs, samples."""
    root = Path(config.output)
    return {"root": root, "checkpoints": root / "checkpoints", "last": root / "checkpoints" / LAST_NAME,
            "logs": root / "logs", "samples": root / "samples"}


def _device_count(config: ExperimentConfig) -> int:
    t = config.trainer
    if isinstance(t.devices, int):
        return t.devices
    if t.devices not in ("auto", "-1"):
        return len([d for d in str(t.devices).split(",") if d.strip()])
    if t.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.cuda.device_count()
    return 1


def resolve_strategy(config: ExperimentConfig) -> str:
    """The Lightning strategy: "auto" becomes DDP with unused-parameter detection on more than one
    device (inactive resolution blocks and the frozen network of each step get no gradient)."""
    t = config.trainer
    if t.strategy == "auto" and _device_count(config) * t.num_nodes > 1:
        return MULTI_DEVICE_STRATEGY
    return t.strategy


def build_trainer(config: ExperimentConfig, callbacks: Sequence[L.Callback] = (),
                  progress_bar: bool = True, **trainer_kwargs: Any) -> L.Trainer:
    """A Lightning Trainer for `config`: our stop-on-signal, checkpoint and sample callbacks (in
    that order), CSV + TensorBoard loggers, no Lightning checkpointing, no epoch/step limit (the
    image cap stops training), and no sampler replacement (serve data through
    `ResumableDataModule`)."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    paths = run_paths(config)
    t, tr = config.train, config.trainer
    devices = _device_count(config) * tr.num_nodes
    steps_per_log = max(1, t.log_every_images // (t.batch_size * max(devices, 1)))
    all_callbacks: list[L.Callback] = [
        StopOnSignal(),
        AtomicCheckpoint(paths["checkpoints"], t.checkpoint_every_images),
        SampleLogger(paths["samples"], t.sample_every_images, t.num_samples, seed=t.seed),
        *([ImagesProgressBar()] if progress_bar else []),
        *callbacks,
    ]
    kwargs: dict[str, Any] = dict(
        accelerator=tr.accelerator, devices=tr.devices, num_nodes=tr.num_nodes,
        strategy=resolve_strategy(config), precision=tr.precision, benchmark=tr.benchmark,
        max_epochs=-1, max_steps=-1, limit_val_batches=0, num_sanity_val_steps=0,
        use_distributed_sampler=False,  # ResumableSampler shards the data itself
        enable_checkpointing=False, enable_progress_bar=progress_bar, enable_model_summary=progress_bar,
        log_every_n_steps=steps_per_log, callbacks=all_callbacks,
        logger=[CSVLogger(paths["logs"], name="csv"), TensorBoardLogger(paths["logs"], name="tensorboard")],
        default_root_dir=str(paths["root"]),
    )
    kwargs.update(trainer_kwargs)
    try:
        return L.Trainer(**kwargs)
    except (ValueError, TypeError) as err:  # Lightning's message names the bad trainer setting
        raise ConfigError(f"trainer settings {dict((k, kwargs[k]) for k in ('accelerator', 'devices', 'num_nodes', 'strategy', 'precision'))}: {err}") from err


def _callback(trainer: L.Trainer, cls: type[CallbackT]) -> CallbackT:
    """The trainer's callback of type `cls` (`build_trainer` adds one of each of ours)."""
    found = [c for c in trainer.callbacks if isinstance(c, cls)]  # type: ignore[attr-defined]
    assert len(found) == 1, f"expected one {cls.__name__}, found {len(found)}"
    return found[0]


def check_resume_checkpoint(path: Path, config: ExperimentConfig) -> int:
    """Validate a checkpoint before resuming from it; returns its images seen.

    Raises BadInputError for a file that is not a gansynth training checkpoint (or would run code
    when loaded) and ConfigError when its networks or spectral settings differ from `config`'s.
    """
    ckpt = read_training_checkpoint(path)
    saved, current = config_to_dict(ckpt.config), config_to_dict(config)
    for section in ("spectral", "model"):
        if saved[section] != current[section]:
            raise ConfigError(f"{path} was trained with {section} = {saved[section]}, but the config "
                              f"has {current[section]}; resume with the same {section} settings")
    for key in ("pitch_min", "pitch_max"):
        if saved["data"][key] != current["data"][key]:
            raise ConfigError(f"{path} was trained with data.{key} = {saved['data'][key]}, "
                              f"the config has {current['data'][key]}")
    return ckpt.images_seen


def make_datamodule(config: ExperimentConfig) -> L.LightningDataModule:
    """The NoteDataModule of `config.data` at `config.spectral`."""
    from gansynth.data.datamodule import NoteDataModule

    return NoteDataModule(config.data, config.spectral, config.train.batch_size, seed=config.train.seed)


def train(config: ExperimentConfig, resume: bool | str | os.PathLike[str] = False,
          datamodule: L.LightningDataModule | None = None, callbacks: Sequence[L.Callback] = (),
          progress_bar: bool = True, on_data: Callable[[str], None] | None = None,
          **trainer_kwargs: Any) -> GANSynthModule:
    """Train (or, with `resume`, continue) the GAN of `config` until `schedule.max_images`.

    on_data: called once, before training, with the datamodule's one-line summary (notes kept,
    filters, bad notes skipped, notes padded or cropped to the note length), for the caller to
    show; the library prints nothing.

    resume: False starts a new run (refused if the output folder already holds one); True
    continues from `<output>/checkpoints/last.ckpt`; a path continues from that checkpoint.
    Returns the trained module (on rank 0 of a multi-process run it holds the final weights).
    SIGINT or SIGTERM stop training at the end of the batch under way, which is saved to
    `<output>/checkpoints/last.ckpt`; then, as whenever training stops before
    `schedule.max_images`, TrainingInterrupted is raised.
    """
    paths = run_paths(config)
    ckpt_path: Path | None = None
    if resume:
        ckpt_path = paths["last"] if resume is True else Path(resume)
        if not ckpt_path.is_file():
            raise BadInputError(f"{ckpt_path}: no checkpoint to resume from; start a new run instead")
        check_resume_checkpoint(ckpt_path, config)
    elif paths["last"].exists():
        raise RunExistsError(f"{paths['root']} already holds a training run ({paths['last']}); resume "
                             "it or set output=<new folder>")
    L.seed_everything(config.train.seed, workers=True, verbose=False)
    paths["root"].mkdir(parents=True, exist_ok=True)
    if int(os.environ.get("LOCAL_RANK", "0")) == 0 and int(os.environ.get("NODE_RANK", "0")) == 0:
        save_config(config, paths["root"] / "config.yaml")
    dm = datamodule if datamodule is not None else make_datamodule(config)
    normalizer = None
    summary = getattr(dm, "summary", None)
    if on_data is not None and callable(summary):
        dm.setup("fit")  # reads the metadata once; Lightning's own setup call is then a no-op
        on_data(str(summary()))
    if config.train.normalizer == "fitted" and ckpt_path is None:
        dm.setup("fit")
        normalizer = fit_normalizer(dm.train_dataloader(), config.train.normalizer_batches)
    module = GANSynthModule(config, normalizer)
    data_config = getattr(dm, "data", None)
    workers = data_config.num_workers if isinstance(data_config, DataConfig) else 0
    loader = ResumableDataModule(dm, config.train.batch_size, config.train.seed,
                                 position=lambda: module.images_seen, num_workers=workers,
                                 pin_memory=config.train.pin_memory)
    with quiet_lightning():
        trainer = build_trainer(config, callbacks, progress_bar=progress_bar, **trainer_kwargs)
        stop = _callback(trainer, StopOnSignal)
        saver = _callback(trainer, AtomicCheckpoint)
        with stop.catching():
            try:
                # weights_only: a checkpoint holds plain data only, and loading one never runs code from it
                trainer.fit(module, datamodule=loader, weights_only=True,
                            ckpt_path=str(ckpt_path) if ckpt_path is not None else None)
            except SystemExit:  # Lightning's exits after SIGTERM (at a batch end) and a second Ctrl-C
                if stop.signum is None and not trainer.received_sigterm:
                    raise
                stop.signum = stop.signum if stop.signum is not None else signal.SIGTERM
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        # DDP: left to the interpreter's exit, gloo's worker threads can abort it (SIGABRT,
        # "terminate called without an active exception"); every rank gets here after fit
        torch.distributed.destroy_process_group()
    if not module.progress().done:
        saved = paths["last"] if saver.saved_at > 0 and paths["last"].is_file() else None
        raise TrainingInterrupted(stop.signum, saver.saved_at if saved else module.images_seen,
                                  config.schedule.max_images, saved)
    return module
