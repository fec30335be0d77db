"""`gansynth train-sequence`: corpus -> Lightning fit (resumable) -> exported model.

Run folder layout:

    config.yaml            the resolved config
    checkpoints/last.ckpt  Lightning checkpoint to resume from (optimizer, schedule, epoch)
    checkpoints/best.ckpt  the checkpoint with the lowest validation loss
    logs/version_N/        CSV metrics per step / epoch (one version per run or resume)
    model.pt               the exported best weights (see `export`), with its metrics
    tokenizer.json         miditok's description of the tokenizer
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch

from gansynth.config import SequenceExperimentConfig, save_config
from gansynth.errors import BadInputError
from gansynth.model_file import load_plain
from gansynth.sequence.corpus import TokenCorpus, build_token_corpus
from gansynth.sequence.evaluation import bigram_perplexity, model_perplexity, unigram_perplexity
from gansynth.sequence.export import export_sequence_model
from gansynth.sequence.lightning import SequenceDataModule, SequenceLightningModule
from gansynth.sequence.tokenizer import EventTokenizer


@dataclass(frozen=True)
class TrainResult:
    """Where the run wrote its files and what it measured (perplexities on the valid split)."""

    model_path: Path
    last_checkpoint: Path
    metrics: dict[str, float]


def _best_state(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The `LstmLanguageModel` weights of a Lightning checkpoint (read by `load_plain`)."""
    payload = load_plain(checkpoint, "Lightning checkpoint")
    if not isinstance(payload, dict) or not isinstance(payload.get("state_dict"), dict):
        raise BadInputError(f"{checkpoint}: not a Lightning checkpoint (no state_dict)")
    prefix = "model."
    return {k[len(prefix):]: v for k, v in payload["state_dict"].items() if k.startswith(prefix)}


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
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    if resume is not None and not Path(resume).is_file():
        raise BadInputError(f"{resume}: checkpoint to resume from not found")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = config.train
    if train.num_threads:
        torch.set_num_threads(train.num_threads)
    L.seed_everything(train.seed, workers=True, verbose=False)
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
    checkpoints = ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor="val_loss",
                                  mode="min", save_top_k=1, save_last=True)
    trainer = L.Trainer(
        accelerator="auto", devices=1, max_epochs=train.max_epochs,
        max_time=timedelta(minutes=train.max_minutes) if train.max_minutes else None,
        gradient_clip_val=train.grad_clip or None, callbacks=[checkpoints],
        logger=CSVLogger(out, name="logs"), log_every_n_steps=train.log_every_n_steps,
        enable_progress_bar=progress, enable_model_summary=False, num_sanity_val_steps=0,
        deterministic=True)
    started = time.perf_counter()
    trainer.fit(module, datamodule=data, ckpt_path=str(resume) if resume is not None else None)
    seconds = time.perf_counter() - started

    best = Path(checkpoints.best_model_path) if checkpoints.best_model_path else None
    model = module.model.cpu()
    if best is not None and best.is_file():
        model.load_state_dict(_best_state(best), strict=True)
    metrics = {
        "val_perplexity": model_perplexity(model, corpus.valid),
        "unigram_perplexity": unigram_perplexity(corpus.train, corpus.valid, len(tokenizer)),
        "bigram_perplexity": bigram_perplexity(corpus.train, corpus.valid, len(tokenizer)),
        "train_seconds": seconds,
        "epochs": float(trainer.current_epoch),
        "steps": float(trainer.global_step),
        "train_tokens": float(corpus.train_tokens),
        "valid_tokens": float(corpus.valid_tokens),
    }
    model_path = out / "model.pt"
    export_sequence_model(model_path, model, tokenizer, config, metrics)
    return TrainResult(model_path, out / "checkpoints" / "last.ckpt", metrics)
