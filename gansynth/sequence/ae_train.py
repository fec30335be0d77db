"""`gansynth train-autoencoder`: MIDI corpus -> piano-roll segments -> Lightning fit (resumable)
-> exported auto-encoder.

Data: the same MIDI folders, reader and file-level split as the LSTM (`gansynth.sequence.corpus`);
every piece becomes a roll and its segments voice tokens (`gansynth.sequence.roll`). Training
segments start every `data.hop_beats` beats and are transposed by a random whole number of
semitones each time they are drawn; held-out segments do not overlap and are never transposed.
Segments without a note are left out.

Loss per segment: categorical negative log-likelihood of every voice's token at every step, plus
(variational) kl_weight x max(KL - free_bits, 0). Reconstruction F1 is measured against the
segment's roll, so notes beyond the voices count as missed.

Run folder layout (as `gansynth train-sequence`):

    config.yaml            the resolved config
    checkpoints/last.ckpt  Lightning checkpoint to resume from;  checkpoints/best.ckpt: highest
                           held-out reconstruction F1 (val_f1)
    logs/version_N/        CSV metrics per step / epoch
    samples/               epoch_EEEE_random_K.mid (random embeddings) and
                           epoch_EEEE_reconstruction.mid (held-out segments, original then decoded)
    model.pt               the exported best weights, latent statistics and metrics
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import Dataset

from gansynth.config import (
    AutoencoderExperimentConfig,
    config_from_dict,
    config_to_dict,
    save_config,
)
from gansynth.errors import BadInputError
from gansynth.score import Score
from gansynth.sequence.ae_export import build_autoencoder, export_autoencoder
from gansynth.sequence.autoencoder import (
    SequenceAutoencoder,
    decode_rolls,
    encode_rolls,
    kl_divergence,
    reconstruction_loss,
    segment_f1,
)
from gansynth.sequence.corpus import read_midi_folder, split_files
from gansynth.sequence.lightning import SampleWriter, SplitDataModule, scheduled_adamw
from gansynth.sequence.roll import (
    ONSET,
    rolls_to_score,
    score_roll,
    segments,
    transpose_voices,
    voices_from_rolls,
)
from gansynth.sequence.train import TrainResult, fit_sequence_module, prepare_run

VALID_F1_SEGMENTS = 128  # held-out segments, evenly spaced through them, decoded for val_f1 after each epoch


@dataclass
class SegmentCorpus:
    """Segments of a MIDI folder split by file: train (N, T, V) voice tokens (overlapping, from
    the training files), valid (M, T, 2, P) bool rolls (not overlapping, from the held-out
    files), valid_piece (M,) int: the index in valid_names of each held-out segment's piece."""

    train: np.ndarray
    valid: np.ndarray
    valid_piece: np.ndarray
    train_names: list[str]
    valid_names: list[str]
    skipped: Counter[str]

    def describe(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return (f"{len(self.train_names)} train files ({len(self.train)} segments), "
                f"{len(self.valid_names)} valid files ({len(self.valid)} segments); skipped: {skipped}")

    def valid_groups(self) -> np.ndarray:
        """(M,) str: the top folder of each held-out segment's file ("(top folder)" for a file
        directly in the corpus folder)."""
        folders = [name.split("/")[0] if "/" in name else "(top folder)" for name in self.valid_names]
        return np.array(folders, dtype=str)[self.valid_piece]


def _with_notes(rolls: np.ndarray) -> np.ndarray:
    return rolls[rolls[:, :, ONSET].any(axis=(1, 2))]


def build_segment_corpus(config: AutoencoderExperimentConfig,
                         midi_dir: str | os.PathLike[str] | None = None) -> SegmentCorpus:
    """Read and split a MIDI folder (`data.midi_dir` unless `midi_dir`) into segments."""
    data, roll = config.data, config.roll
    folder = read_midi_folder(midi_dir if midi_dir is not None else data.midi_dir, data.max_files)
    train_idx, valid_idx = split_files(len(folder.pieces), data.valid_fraction, data.split_seed)
    empty = np.zeros((0, roll.steps, 2, roll.pitches), bool)

    def cut(indices: list[int], hop: int) -> tuple[np.ndarray, np.ndarray]:
        parts = [_with_notes(segments(score_roll(folder.pieces[i], roll), roll, hop)) for i in indices]
        owner = [np.full(len(part), k) for k, part in enumerate(parts)]
        return np.concatenate([empty, *parts]), np.concatenate([np.zeros(0, np.int64), *owner])

    train, _ = cut(train_idx, data.hop_beats * roll.steps_per_beat)
    valid, valid_piece = cut(valid_idx, roll.steps)
    return SegmentCorpus(train=voices_from_rolls(train, roll.voices).astype(np.int16), valid=valid,
                         valid_piece=valid_piece,
                         train_names=[folder.names[i] for i in train_idx],
                         valid_names=[folder.names[i] for i in valid_idx], skipped=folder.skipped)


class SegmentSet(Dataset[torch.Tensor]):
    """Voice-token segments as (T, V) int64 tensors. transpose: inclusive semitone range of a
    random shift per draw (seeded; (0, 0): none) within `pitches`. count: draws per epoch at
    random indices (0: each segment once)."""

    def __init__(self, tokens: np.ndarray, pitches: int, transpose_range: tuple[int, int] = (0, 0),
                 seed: int = 0, count: int = 0) -> None:
        self.tokens = tokens
        self.pitches = pitches
        self.transpose_range = transpose_range
        self.rng = np.random.default_rng(seed)
        self.count = count

    def __len__(self) -> int:
        return self.count or len(self.tokens)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.count:
            index = int(self.rng.integers(0, len(self.tokens)))
        segment = self.tokens[index].astype(np.int64)
        low, high = self.transpose_range
        if (low, high) != (0, 0):
            segment = transpose_voices(segment, int(self.rng.integers(low, high + 1)), self.pitches)
        return torch.from_numpy(np.ascontiguousarray(segment))


def autoencoder_data(corpus: SegmentCorpus, config: AutoencoderExperimentConfig) -> SplitDataModule:
    """Training segments transposed at random (`data.transpose`), held-out ones as they are."""
    train, roll = config.train, config.roll
    return SplitDataModule(
        SegmentSet(corpus.train, roll.pitches, config.data.transpose, train.seed, train.windows_per_epoch),
        SegmentSet(voices_from_rolls(corpus.valid, roll.voices), roll.pitches), train.batch_size)


class AutoencoderLightningModule(L.LightningModule):
    """Training of `SequenceAutoencoder`; `config` is a plain dict of `AutoencoderExperimentConfig`."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = config_from_dict(AutoencoderExperimentConfig, config)
        self.model = build_autoencoder(self.config)
        self._val: list[tuple[float, float, int]] = []
        self.f1_segments: np.ndarray | None = None  # held-out rolls whose F1 is logged (val_f1)

    def _losses(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(loss, reconstruction NLL, KL) per segment, batch means."""
        logits, mean, logvar = self.model(batch)
        rec = reconstruction_loss(logits, batch)
        if logvar is None:
            return rec, rec, torch.zeros_like(rec)
        kl = kl_divergence(mean, logvar).mean()
        model = self.config.model
        return rec + model.kl_weight * (kl - model.free_bits).clamp(min=0.0), rec, kl

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss, rec, kl = self._losses(batch)
        size = batch.shape[0]
        self.log("train_loss", loss, prog_bar=True, batch_size=size)
        self.log("train_rec", rec, batch_size=size)
        self.log("train_kl", kl, batch_size=size)
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val = []

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        loss, rec, kl = self._losses(batch)
        self._val.append((float(loss) * batch.shape[0], float(rec) * batch.shape[0], batch.shape[0]))

    def on_validation_epoch_end(self) -> None:
        count = max(1, sum(n for _, _, n in self._val))
        self.log("val_loss", sum(v for v, _, _ in self._val) / count, prog_bar=True)
        self.log("val_rec", sum(r for _, r, _ in self._val) / count)
        if self.f1_segments is not None and len(self.f1_segments):
            was_training = self.model.training
            f1, _ = segment_f1(self.model, self.f1_segments)
            self.model.train(was_training)
            self.log("val_f1", f1, prog_bar=True)

    def configure_optimizers(self) -> Any:
        return scheduled_adamw(self.model.parameters(), self.config.train,
                               int(self.trainer.estimated_stepping_batches))


@torch.no_grad()
def latent_statistics(model: SequenceAutoencoder, tokens: np.ndarray, limit: int = 4096,
                      batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and standard deviation (latent,) of the embeddings of up to `limit`
    voice-token segments (evenly spaced through `tokens` (N, T, V))."""
    model.eval()
    device = next(model.parameters()).device
    picks = tokens[np.linspace(0, len(tokens) - 1, min(limit, len(tokens))).astype(int)].astype(np.int64)
    means = torch.cat([model.encode(torch.as_tensor(picks[i: i + batch], device=device))[0]
                       for i in range(0, len(picks), batch)]).cpu()
    return means.mean(dim=0), means.std(dim=0).clamp(min=1e-4)


def training_samples(config: AutoencoderExperimentConfig, valid: np.ndarray
                     ) -> Callable[[SequenceAutoencoder], list[tuple[str, Score]]]:
    """The sample maker of `SampleWriter`: `num_samples` pieces of two segments from random
    embeddings (N(0, I) when variational, else N(0, 1) scaled to the current embeddings of the
    held-out segments), and held-out segments, originals then their reconstructions."""
    train, roll = config.train, config.roll
    shown = valid[: min(4, len(valid))]

    def make(model: SequenceAutoencoder) -> list[tuple[str, Score]]:
        generator = torch.Generator().manual_seed(train.seed)
        noise = torch.randn(train.num_samples * 2, model.latent_dim, generator=generator)
        if not model.variational and len(shown):
            held_out = encode_rolls(model, valid).cpu()
            noise = held_out.mean(dim=0) + held_out.std(dim=0) * noise
        device = next(model.parameters()).device
        out = [(f"random_{k}", rolls_to_score(decode_rolls(model, noise[2 * k: 2 * k + 2].to(device)), roll))
               for k in range(train.num_samples)]
        if len(shown):
            decoded = decode_rolls(model, encode_rolls(model, shown))
            out.append(("reconstruction", rolls_to_score(np.concatenate([shown, decoded]), roll)))
        return out

    return make


def train_autoencoder(config: AutoencoderExperimentConfig, out_dir: str | os.PathLike[str],
                      resume: str | os.PathLike[str] | None = None, progress: bool = True,
                      corpus: SegmentCorpus | None = None,
                      on_corpus: Callable[[SegmentCorpus], None] | None = None) -> TrainResult:
    """Train the auto-encoder on `config.data.midi_dir` into `out_dir`, then export the best
    weights with the latent statistics of the training segments and the held-out metrics.

    resume: a Lightning checkpoint to continue from; corpus: prepared segments (tests);
    on_corpus: called with the corpus before training (the CLI prints its `describe()`).
    """
    train = config.train
    out = prepare_run(out_dir, train, resume)
    if corpus is None:
        corpus = build_segment_corpus(config)
    if len(corpus.train) == 0 or len(corpus.valid) == 0:
        raise BadInputError(f"{config.data.midi_dir}: no segments with notes in the pitch range "
                            f"MIDI {config.roll.pitch_low}..{config.roll.pitch_high} on one side of the "
                            f"split ({len(corpus.train)} train, {len(corpus.valid)} valid)")
    if on_corpus is not None:
        on_corpus(corpus)
    save_config(config, out / "config.yaml")
    module = AutoencoderLightningModule(config_to_dict(config))
    module.f1_segments = corpus.valid[np.unique(np.linspace(0, len(corpus.valid) - 1, VALID_F1_SEGMENTS).astype(int))]
    writer = SampleWriter(out / "samples", train.sample_every_epochs if train.num_samples else 0,
                          training_samples(config, corpus.valid))
    fit = fit_sequence_module(module, autoencoder_data(corpus, config), out, train, resume,
                              progress, callbacks=[writer], monitor="val_f1", mode="max")
    model = module.model
    f1_mean, f1_pooled = segment_f1(model, corpus.valid)
    mean, std = latent_statistics(model, corpus.train)
    metrics = {
        "valid_f1": f1_mean,
        "valid_f1_pooled": f1_pooled,
        "train_seconds": fit.seconds,
        "epochs": float(fit.epochs),
        "steps": float(fit.steps),
        "train_segments": float(len(corpus.train)),
        "valid_segments": float(len(corpus.valid)),
    }
    model_path = out / "model.pt"
    export_autoencoder(model_path, model, config, mean, std, metrics)
    return TrainResult(model_path, out / "checkpoints" / "last.ckpt", metrics)
