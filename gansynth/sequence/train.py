"""`gansynth train-sequence`: corpus -> Lightning fit (resumable) -> exported model.

Run folder layout:

    config.yaml            the resolved config
    checkpoints/last.ckpt  Lightning checkpoint to resume from (optimizer, schedule, epoch)
    checkpoints/best.ckpt  the checkpoint with the lowest validation loss
    logs/version_N/        CSV metrics per step / epoch (one version per run or resume)
    model.pt               the exported best weights (see `export`), with its metrics
    samples/               epoch_EEEE_sample_K.mid: unconditional samples written during training
                           (train.sample_every_epochs, train.num_samples, train.sample_seconds)
    tokenizer.json         miditok's description of the tokenizer
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import torch

from gansynth.config import SequenceExperimentConfig, SequenceTrainConfig, save_config
from gansynth.errors import BadInputError
from gansynth.model_file import load_plain
from gansynth.score import Score
from gansynth.sequence.corpus import TokenCorpus, build_token_corpus
from gansynth.sequence.evaluation import bigram_perplexity, model_perplexity, unigram_perplexity
from gansynth.sequence.export import export_sequence_model
from gansynth.sequence.lightning import SampleWriter, SequenceDataModule, SequenceLightningModule
from gansynth.sequence.sampling import SamplingOptions, continue_tokens
from gansynth.sequence.tokenizer import EventTokenizer


@dataclass(frozen=True)
class TrainResult:
    """Where the run wrote its files and what it measured (perplexities on the valid split)."""

    model_path: Path
    last_checkpoint: Path
    metrics: dict[str, float]


def checkpoint_weights(checkpoint: Path, prefix: str = "model.") -> dict[str, torch.Tensor]:
    """The network weights (keys under `prefix`, prefix removed) of a Lightning checkpoint (read
    by `load_plain`)."""
    payload = load_plain(checkpoint, "Lightning checkpoint")
    if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict):
        raise BadInputError(f"{checkpoint}: not a Lightning checkpoint (no state_dict)")
    return {k[len(prefix):]: v for k, v in payload["state_dict"].items() if k.startswith(prefix)}


@dataclass
class FitOutcome:
    """What `fit_sequence_module` leaves: the best checkpoint (None if none was written), the
    epochs and steps run and the training wall time."""

    best: Path | None
    epochs: int
    steps: int
    seconds: float


def fit_sequence_module(module: Any, data: Any, out: Path, train: SequenceTrainConfig,
                        resume: str | os.PathLike[str] | None, progress: bool,
                        callbacks: Sequence[Any] = (), monitor: str = "val_loss",
                        mode: str = "min") -> FitOutcome:
    """Fit a sequence LightningModule into `out` (checkpoints/best.ckpt by `monitor`, lowest or
    highest by `mode`, checkpoints/last.ckpt, CSV logs under logs/), resuming from `resume`
    when given; the network is then loaded with the best checkpoint's weights (`module.model`,
    on the CPU)."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    checkpoints = ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor=monitor,
                                  mode=mode, save_top_k=1)
    # Lightning's save_last only writes last.ckpt when a best checkpoint is written in the same
    # epoch, so a run whose best epoch was early would resume from there: the latest epoch gets
    # its own checkpoint, overwritten every epoch.
    latest = ModelCheckpoint(dirpath=out / "checkpoints", filename="last", monitor=None, save_top_k=1,
                             enable_version_counter=False)
    trainer = L.Trainer(
        accelerator="auto", devices=1, max_epochs=train.max_epochs,
        max_time=timedelta(minutes=train.max_minutes) if train.max_minutes else None,
        gradient_clip_val=train.grad_clip or None, callbacks=[checkpoints, latest, *callbacks],
        logger=CSVLogger(out, name="logs"), log_every_n_steps=train.log_every_n_steps,
        enable_progress_bar=progress, enable_model_summary=False, num_sanity_val_steps=0,
        deterministic=True, precision=cast(Any, train.precision))  # checked by the config
    started = time.perf_counter()
    trainer.fit(module, datamodule=data, ckpt_path=str(resume) if resume is not None else None)
    seconds = time.perf_counter() - started
    best = Path(checkpoints.best_model_path) if checkpoints.best_model_path else None
    module.model.cpu()
    if best is not None and best.is_file():
        module.model.load_state_dict(checkpoint_weights(best), strict=True)
    return FitOutcome(best, int(trainer.current_epoch), int(trainer.global_step), seconds)


def prepare_run(out_dir: str | os.PathLike[str], train: SequenceTrainConfig,
                resume: str | os.PathLike[str] | None) -> Path:
    """Check the checkpoint to resume from, create the run folder, set torch's threads and seed
    everything (Lightning's `seed_everything`); returns the run folder."""
    import lightning as L

    if resume is not None and not Path(resume).is_file():
        raise BadInputError(f"{resume}: checkpoint to resume from not found")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if train.num_threads:
        torch.set_num_threads(train.num_threads)
    L.seed_everything(train.seed, workers=True, verbose=False)
    return out


def train_sequence(config: SequenceExperimentConfig, out_dir: str | os.PathLike[str],
                   resume: str | os.PathLike[str] | None = None, progress: bool = True,
                   corpus: TokenCorpus | None = None,
                   on_corpus: Callable[[TokenCorpus], None] | None = None) -> TrainResult:
    """Train the LSTM on `config.data.midi_dir` into `out_dir`, then export the best weights.

    resume: a Lightning checkpoint (e.g. ``out_dir/checkpoints/last.ckpt``) to continue from.
    progress: show Lightning's progress bar.
    corpus: prepared token streams (skips reading the folder; tests use this).
    on_corpus: called with the corpus once it is ready, before training (the CLI prints its
    `describe()` there).
    """
    train = config.train
    out = prepare_run(out_dir, train, resume)
    tokenizer = EventTokenizer(config.tokenizer)
    if corpus is None:
        corpus = build_token_corpus(tokenizer, config.data)
    if on_corpus is not None:
        on_corpus(corpus)
    save_config(config, out / "config.yaml")
    tokenizer.save_params(out / "tokenizer.json")

    data = SequenceDataModule(corpus.train, corpus.valid, config.data.window, train.batch_size,
                              tokenizer.pad_id, seed=train.seed,
                              windows_per_epoch=train.windows_per_epoch)
    module = SequenceLightningModule.from_experiment(config, len(tokenizer), tokenizer.pad_id)
    def samples(model: Any) -> list[tuple[str, Score]]:
        options = SamplingOptions(seconds=train.sample_seconds)
        pieces = continue_tokens(model, tokenizer, [], options, num=train.num_samples, seed=train.seed)
        return [(f"sample_{i}", tokenizer.decode(ids)) for i, ids in enumerate(pieces)]

    writer = SampleWriter(out / "samples", train.sample_every_epochs if train.num_samples else 0, samples)
    fit = fit_sequence_module(module, data, out, train, resume, progress, callbacks=[writer])
    model = module.model
    metrics = {
        "val_perplexity": model_perplexity(model, corpus.valid),
        "unigram_perplexity": unigram_perplexity(corpus.train, corpus.valid, len(tokenizer)),
        "bigram_perplexity": bigram_perplexity(corpus.train, corpus.valid, len(tokenizer)),
        "train_seconds": fit.seconds,
        "epochs": float(fit.epochs),
        "steps": float(fit.steps),
        "train_tokens": float(corpus.train_tokens),
        "valid_tokens": float(corpus.valid_tokens),
    }
    model_path = out / "model.pt"
    export_sequence_model(model_path, model, tokenizer, config, metrics)
    return TrainResult(model_path, out / "checkpoints" / "last.ckpt", metrics)
