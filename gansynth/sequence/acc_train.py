"""`gansynth train-accompaniment`: multi-part MIDI corpus -> melody / accompaniment segments ->
Lightning fit (resumable) -> exported accompaniment model.

Data: every style folder of `data.styles` under `data.midi_dir` (`gansynth corpus
build-music21 --sets bach palestrina monteverdi quartets`) is read and split by file, per style
(`gansynth.sequence.corpus.split_files`); pieces with fewer than two parts are skipped and
counted. Each piece becomes melody and accompaniment voices (`gansynth.sequence.parts`), cut
into segments: training segments start every `data.hop_beats` beats and are transposed, melody
and accompaniment together, by a random whole number of semitones each time they are drawn;
held-out segments do not overlap and are never transposed. Segments whose melody or
accompaniment is silent are left out.

Loss per segment: the categorical negative log-likelihood of every accompanying voice's token at
every step. The best checkpoint has the lowest held-out loss.

Run folder layout (as `gansynth train-autoencoder`):

    config.yaml            the resolved config
    checkpoints/last.ckpt  Lightning checkpoint to resume from;  checkpoints/best.ckpt
    logs/version_N/        CSV metrics per step / epoch
    samples/               epoch_EEEE_<style>.mid: held-out melodies with the model's accompaniment
    model.pt               the exported best weights and held-out metrics
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import Dataset

from gansynth.config import (
    AccompanimentExperimentConfig,
    config_from_dict,
    config_to_dict,
    save_config,
)
from gansynth.errors import BadInputError
from gansynth.score import Score, score_from_notes
from gansynth.sequence.acc_export import build_accompaniment, export_accompaniment
from gansynth.sequence.accompaniment import AccompanimentNet, accompaniment_loss
from gansynth.sequence.corpus import read_midi_folder, split_files
from gansynth.sequence.lightning import SampleWriter, SplitDataModule, scheduled_adamw
from gansynth.sequence.parts import (
    STYLE_NAMES,
    cut_voices,
    families_of,
    piece_parts,
    voices_to_notes,
)
from gansynth.sequence.roll import transpose_voices
from gansynth.sequence.train import TrainResult, fit_sequence_module, prepare_run

SAMPLE_VELOCITY = 80


@dataclass
class AccompanimentSegments:
    """Segments of one side of the split: melody (N, T), accompaniment (N, T, V) tokens, style
    (N,) and instrument families (N, V) of each segment, and the piece (N,) it came from (an
    index into `names`)."""

    melody: np.ndarray
    accompaniment: np.ndarray
    style: np.ndarray
    families: np.ndarray
    piece: np.ndarray
    names: list[str]

    def __len__(self) -> int:
        return len(self.melody)


@dataclass
class AccompanimentCorpus:
    train: AccompanimentSegments
    valid: AccompanimentSegments
    styles: tuple[str, ...]
    skipped: Counter[str]

    def describe(self) -> str:
        counts = Counter(int(s) for s in self.train.style)
        per_style = ", ".join(f"{STYLE_NAMES.get(s, s)} {counts[i]}" for i, s in enumerate(self.styles))
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return (f"{len(self.train.names)} train pieces ({len(self.train)} segments: {per_style}), "
                f"{len(self.valid.names)} valid pieces ({len(self.valid)} segments); skipped: {skipped}")


def _segments(pieces: list[tuple[str, int, Any]], steps: int, hop: int, voices: int
              ) -> AccompanimentSegments:
    melody, acc, style, families, owner = [], [], [], [], []
    for k, (_, style_id, parts) in enumerate(pieces):
        m = cut_voices(parts.melody, steps, hop)
        a = cut_voices(parts.accompaniment, steps, hop)
        keep = (m >= 2).any(axis=1) & (a >= 2).any(axis=(1, 2))
        melody.append(m[keep])
        acc.append(a[keep])
        style.append(np.full(int(keep.sum()), style_id))
        families.append(np.repeat(families_of(parts.programs)[None], int(keep.sum()), axis=0))
        owner.append(np.full(int(keep.sum()), k))
    return AccompanimentSegments(
        np.concatenate([np.zeros((0, steps), np.int64), *melody]).astype(np.int16),
        np.concatenate([np.zeros((0, steps, voices), np.int64), *acc]).astype(np.int16),
        np.concatenate([np.zeros(0, np.int64), *style]),
        np.concatenate([np.zeros((0, voices), np.int64), *families]),
        np.concatenate([np.zeros(0, np.int64), *owner]),
        [name for name, _, _ in pieces])


def build_accompaniment_corpus(config: AccompanimentExperimentConfig,
                               midi_dir: str | os.PathLike[str] | None = None) -> AccompanimentCorpus:
    """Read each style folder of `data.midi_dir` (or `midi_dir`), split it by file and cut it
    into melody / accompaniment segments."""
    data, roll = config.data, config.roll
    root = Path(midi_dir if midi_dir is not None else data.midi_dir)
    train: list[tuple[str, int, Any]] = []
    valid: list[tuple[str, int, Any]] = []
    skipped: Counter[str] = Counter()
    for style_id, style in enumerate(data.styles):
        folder = root / style
        if not folder.is_dir():
            raise BadInputError(f"{folder}: style folder not found (build it with `gansynth corpus "
                                f"build-music21 --out {root} --sets {style}`)")
        read = read_midi_folder(folder, data.max_files)
        skipped.update(read.skipped)
        parts = []
        for name, score in zip(read.names, read.pieces, strict=True):
            piece = piece_parts(score, roll)
            if piece is None:
                skipped["fewer than two parts"] += 1
                continue
            parts.append((f"{style}/{name}", style_id, piece))
        if len(parts) < 2:
            raise BadInputError(f"{folder}: {len(parts)} multi-part piece(s); need at least 2")
        train_idx, valid_idx = split_files(len(parts), data.valid_fraction, data.split_seed)
        train += [parts[i] for i in train_idx]
        valid += [parts[i] for i in valid_idx]
    hop = data.hop_beats * roll.steps_per_beat
    return AccompanimentCorpus(_segments(train, roll.steps, hop, roll.voices),
                               _segments(valid, roll.steps, roll.steps, roll.voices),
                               tuple(data.styles), skipped)


class AccompanimentSet(Dataset[tuple[torch.Tensor, ...]]):
    """Segments as (melody (T,), accompaniment (T, V), style (), families (V,)) int64 tensors.
    transpose: inclusive semitone range of a random shift per draw (seeded; (0, 0): none),
    applied to melody and accompaniment together. count: draws per epoch at random indices
    (0: each segment once)."""

    def __init__(self, segments: AccompanimentSegments, pitches: int,
                 transpose_range: tuple[int, int] = (0, 0), seed: int = 0, count: int = 0) -> None:
        self.segments = segments
        self.pitches = pitches
        self.transpose_range = transpose_range
        self.rng = np.random.default_rng(seed)
        self.count = count

    def __len__(self) -> int:
        return self.count or len(self.segments)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        s = self.segments
        if self.count:
            index = int(self.rng.integers(0, len(s)))
        both = np.concatenate([s.melody[index][:, None], s.accompaniment[index]], axis=1).astype(np.int64)
        low, high = self.transpose_range
        if (low, high) != (0, 0):
            both = transpose_voices(both, int(self.rng.integers(low, high + 1)), self.pitches)
        both = np.ascontiguousarray(both)
        return (torch.from_numpy(both[:, 0].copy()), torch.from_numpy(both[:, 1:].copy()),
                torch.tensor(int(s.style[index])), torch.from_numpy(s.families[index].astype(np.int64)))


def accompaniment_data(corpus: AccompanimentCorpus, config: AccompanimentExperimentConfig
                       ) -> SplitDataModule:
    """Training segments transposed at random (`data.transpose`), held-out ones as they are."""
    train, roll = config.train, config.roll
    return SplitDataModule(
        AccompanimentSet(corpus.train, roll.pitches, config.data.transpose, train.seed,
                         train.windows_per_epoch),
        AccompanimentSet(corpus.valid, roll.pitches), train.batch_size)


class AccompanimentLightningModule(L.LightningModule):
    """Training of `AccompanimentNet`; `config` is a plain dict of `AccompanimentExperimentConfig`."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = config_from_dict(AccompanimentExperimentConfig, config)
        self.model = build_accompaniment(self.config)
        self._val: list[tuple[float, int]] = []

    def _loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        melody, acc, style, families = batch
        return accompaniment_loss(self.model(melody, acc, style, families), acc)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self.log("train_loss", loss, prog_bar=True, batch_size=batch[0].shape[0])
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val = []

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._val.append((float(self._loss(batch)) * batch[0].shape[0], batch[0].shape[0]))

    def on_validation_epoch_end(self) -> None:
        count = max(1, sum(n for _, n in self._val))
        self.log("val_loss", sum(v for v, _ in self._val) / count, prog_bar=True)

    def configure_optimizers(self) -> Any:
        return scheduled_adamw(self.model.parameters(), self.config.train,
                               int(self.trainer.estimated_stepping_batches))


def segments_score(melody: np.ndarray, accompaniment: np.ndarray, programs: list[int],
                   config: AccompanimentExperimentConfig, qpm: float = 90.0) -> Score:
    """Segments (N, T) and (N, T, V) played one after another: the melody as track 0, voice v
    as track v + 1 with `programs[v]`, at `qpm`."""
    roll = config.roll
    melody_flat = melody.reshape(-1)
    acc_flat = accompaniment.reshape(-1, accompaniment.shape[-1])

    def seconds(beats: float) -> float:
        return beats * 60.0 / qpm

    notes = voices_to_notes(melody_flat, roll, 0, 0, SAMPLE_VELOCITY, seconds)
    for v in range(acc_flat.shape[1]):
        notes += voices_to_notes(acc_flat[:, v], roll, v + 1, programs[v], SAMPLE_VELOCITY, seconds)
    names = {0: "Melody", **{v + 1: f"Voice {v + 1}" for v in range(acc_flat.shape[1])}}
    return score_from_notes(notes, path="<accompaniment>", track_names=names, tempos=[(0.0, qpm)])


def training_samples(config: AccompanimentExperimentConfig, valid: AccompanimentSegments
                     ) -> Callable[[AccompanimentNet], list[tuple[str, Score]]]:
    """The sample maker of `SampleWriter`: for each style, up to 4 consecutive held-out segments
    of one piece with the model's accompaniment (temperature 1, seeded)."""
    seed = config.train.seed

    def make(model: AccompanimentNet) -> list[tuple[str, Score]]:
        out = []
        device = next(model.parameters()).device
        for style_id, style in enumerate(config.data.styles):
            picks = np.nonzero(valid.style == style_id)[0]
            if len(picks) == 0:
                continue
            picks = picks[valid.piece[picks] == valid.piece[picks[0]]][:4]
            generator = torch.Generator(device=device).manual_seed(seed)
            tokens = model.generate(torch.as_tensor(valid.melody[picks].astype(np.int64), device=device),
                                    torch.as_tensor(valid.style[picks], device=device),
                                    torch.as_tensor(valid.families[picks], device=device),
                                    1.0, generator).cpu().numpy()
            out.append((STYLE_NAMES.get(style, style),
                        segments_score(valid.melody[picks], tokens, [0] * model.voices, config)))
        return out

    return make


@torch.no_grad()
def held_out_loss(model: AccompanimentNet, segments: AccompanimentSegments, batch: int = 256) -> float:
    """Mean negative log-likelihood (nats) per held-out segment."""
    model.eval()
    total = 0.0
    data = AccompanimentSet(segments, model.pitches)
    for start in range(0, len(data), batch):
        items = [data[i] for i in range(start, min(len(data), start + batch))]
        melody, acc, style, families = (torch.stack(x) for x in zip(*items, strict=True))
        total += float(accompaniment_loss(model(melody, acc, style, families), acc)) * len(items)
    return total / max(1, len(data))


def train_accompaniment(config: AccompanimentExperimentConfig, out_dir: str | os.PathLike[str],
                        resume: str | os.PathLike[str] | None = None, progress: bool = True,
                        corpus: AccompanimentCorpus | None = None,
                        on_corpus: Callable[[AccompanimentCorpus], None] | None = None) -> TrainResult:
    """Train the accompaniment model on `config.data.midi_dir` into `out_dir` and export the
    best weights with the held-out loss.

    resume: a Lightning checkpoint to continue from; corpus: prepared segments (tests);
    on_corpus: called with the corpus before training (the CLI prints its `describe()`).
    """
    train = config.train
    out = prepare_run(out_dir, train, resume)
    if corpus is None:
        corpus = build_accompaniment_corpus(config)
    if len(corpus.train) == 0 or len(corpus.valid) == 0:
        raise BadInputError(f"{config.data.midi_dir}: no melody / accompaniment segments on one side "
                            f"of the split ({len(corpus.train)} train, {len(corpus.valid)} valid)")
    if on_corpus is not None:
        on_corpus(corpus)
    save_config(config, out / "config.yaml")
    module = AccompanimentLightningModule(config_to_dict(config))
    writer = SampleWriter(out / "samples", train.sample_every_epochs if train.num_samples else 0,
                          training_samples(config, corpus.valid))
    fit = fit_sequence_module(module, accompaniment_data(corpus, config), out, train, resume,
                              progress, callbacks=[writer])
    metrics = {
        "valid_nll": held_out_loss(module.model, corpus.valid),
        "train_seconds": fit.seconds,
        "epochs": float(fit.epochs),
        "steps": float(fit.steps),
        "train_segments": float(len(corpus.train)),
        "valid_segments": float(len(corpus.valid)),
    }
    model_path = out / "model.pt"
    export_accompaniment(model_path, module.model, config, metrics)
    return TrainResult(model_path, out / "checkpoints" / "last.ckpt", metrics)
