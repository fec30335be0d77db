"""Lightning wiring for the LSTM: windowed datasets, a DataModule and the LightningModule.

The LightningModule only wires the loss (token cross-entropy, PAD ignored), AdamW with weight
decay on weight matrices (not on biases or layer norm) and a plateau learning-rate schedule,
and logging; the network is `LstmLanguageModel`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from gansynth.config import (
    SequenceExperimentConfig,
    SequenceTrainConfig,
    config_from_dict,
    config_to_dict,
)
from gansynth.score import Score, score_to_midi
from gansynth.sequence.model import LstmLanguageModel


class TokenWindows(Dataset[torch.Tensor]):
    """Windows of ``window + 1`` tokens (inputs and shifted targets) over concatenated streams.

    random_offset: True draws each window's start inside its slot from a seeded generator
    (training); False gives fixed consecutive windows (validation). Short tails are PAD-filled.
    count: windows per epoch, each at a uniformly random start (needs random_offset; 0: one
    window per slot, i.e. one pass over the tokens).
    """

    def __init__(self, streams: list[np.ndarray], window: int, pad_id: int,
                 random_offset: bool, seed: int = 0, count: int = 0) -> None:
        self.tokens = np.concatenate(streams) if streams else np.zeros(0, np.int64)
        self.window = window
        self.pad_id = pad_id
        self.random_offset = random_offset
        self.rng = np.random.default_rng(seed)
        self.slots = max(1, math.ceil((len(self.tokens) - 1) / window))
        self.count = count if count and random_offset else self.slots

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> torch.Tensor:
        last_start = max(0, len(self.tokens) - self.window - 1)
        if self.count != self.slots:
            start = int(self.rng.integers(0, last_start + 1))
        elif self.random_offset:
            start = min(index * self.window + int(self.rng.integers(0, self.window)), last_start)
        else:
            start = index * self.window
        chunk = self.tokens[start: start + self.window + 1]
        out = np.full(self.window + 1, self.pad_id, np.int64)
        out[: len(chunk)] = chunk
        return torch.from_numpy(out)  # (window + 1,)


class SplitDataModule(L.LightningDataModule):
    """Loaders over a prepared train set (shuffled) and valid set, `batch_size` items a batch."""

    def __init__(self, train_set: Dataset[Any], valid_set: Dataset[Any], batch_size: int) -> None:
        super().__init__()
        self.train_set = train_set
        self.valid_set = valid_set
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader[Any]:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader[Any]:
        return DataLoader(self.valid_set, batch_size=self.batch_size, shuffle=False)


def scheduled_adamw(parameters: Iterable[torch.nn.Parameter], train: SequenceTrainConfig,
                    total_steps: int) -> dict[str, Any]:
    """Lightning's optimizer dict: AdamW at `train.learning_rate` with `train.weight_decay` and
    the schedule `train.lr_schedule`: "plateau" halves the rate when val_loss has not improved
    for `train.lr_patience` epochs; "cosine" lowers it along a half cosine to
    learning_rate x lr_final over `total_steps` optimizer steps (then holds it)."""
    optimizer = torch.optim.AdamW(parameters, lr=train.learning_rate, weight_decay=train.weight_decay)
    if train.lr_schedule == "cosine":
        horizon, final = max(1, total_steps), train.lr_final

        def factor(step: int) -> float:
            return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * min(step, horizon) / horizon))

        cosine = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": cosine, "interval": "step"}}
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=train.lr_patience)
    return {"optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss", "interval": "epoch"}}


class SequenceDataModule(SplitDataModule):
    """Train / valid loaders over prepared token streams (see `corpus.build_token_corpus`)."""

    def __init__(self, train: list[np.ndarray], valid: list[np.ndarray], window: int,
                 batch_size: int, pad_id: int, seed: int = 0, windows_per_epoch: int = 0) -> None:
        super().__init__(TokenWindows(train, window, pad_id, random_offset=True, seed=seed,
                                      count=windows_per_epoch),
                         TokenWindows(valid, window, pad_id, random_offset=False), batch_size)


class SequenceLightningModule(L.LightningModule):
    """Training of `LstmLanguageModel`; `config` is a plain dict of `SequenceExperimentConfig`."""

    def __init__(self, config: dict[str, Any], vocab_size: int, pad_id: int) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = config_from_dict(SequenceExperimentConfig, config)
        self.pad_id = pad_id
        self.model = LstmLanguageModel.from_config(vocab_size, self.config.model)
        self._val_nll = 0.0
        self._val_tokens = 0

    @staticmethod
    def from_experiment(config: SequenceExperimentConfig, vocab_size: int,
                        pad_id: int) -> SequenceLightningModule:
        return SequenceLightningModule(config_to_dict(config), vocab_size, pad_id)

    def _nll(self, batch: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Summed negative log-likelihood (nats) of the targets of (B, T + 1) windows, and their count."""
        inputs, targets = batch[:, :-1], batch[:, 1:]  # (B, T) each
        logits, _ = self.model(inputs)  # (B, T, V)
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                              ignore_index=self.pad_id, reduction="sum")
        return nll, int((targets != self.pad_id).sum())

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        nll, count = self._nll(batch)
        loss = nll / max(count, 1)
        self.log("train_loss", loss, prog_bar=True, batch_size=batch.shape[0])
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_nll, self._val_tokens = 0.0, 0

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        nll, count = self._nll(batch)
        self._val_nll += float(nll)
        self._val_tokens += count

    def on_validation_epoch_end(self) -> None:
        loss = self._val_nll / max(self._val_tokens, 1)
        self.log("val_loss", loss, prog_bar=True)
        self.log("val_ppl", math.exp(min(loss, 50.0)), prog_bar=True)

    def configure_optimizers(self) -> Any:
        train = self.config.train
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": train.weight_decay},
             {"params": no_decay, "weight_decay": 0.0}], lr=train.learning_rate)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss", "interval": "epoch"}}


class SampleWriter(L.Callback):
    """Writes sample MIDI files during training: every `every_epochs` epochs (0: never),
    ``folder/epoch_EEEE_<name>.mid`` for each (name, score) that `make(model)` returns; the
    network is in eval mode meanwhile. Files are written atomically (`score_to_midi`)."""

    def __init__(self, folder: Path, every_epochs: int, make: Callable[[Any], list[tuple[str, Score]]]) -> None:
        super().__init__()
        self.folder = folder
        self.every_epochs = every_epochs
        self.make = make

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        epoch = trainer.current_epoch + 1
        if not self.every_epochs or epoch % self.every_epochs or trainer.sanity_checking:
            return
        model: Any = pl_module.model
        was_training = model.training
        model.eval()
        try:
            scores = self.make(model)
        finally:
            model.train(was_training)
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, score in scores:
            score_to_midi(score, self.folder / f"epoch_{epoch:04d}_{name}.mid")
