"""Data order as a pure function of (seed, images seen): exact resume, also in the middle of an
epoch, and one shard per rank under DDP.

Lightning restarts a plain DataLoader from the beginning of the epoch when it resumes, and a
shuffling sampler draws a fresh order, so a resumed run would see other batches than an
uninterrupted one. `ResumableSampler` instead derives epoch and offset from the training's own
image count: epoch e is the permutation seeded by (seed, e); rank r of W takes every W-th index of
it; the iterator starts after the batches already trained on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from gansynth.training.module import step_seed


class ResumableSampler(Sampler[int]):
    """Indices of one rank's share of an epoch, starting where training stands.

    size: dataset length; batch_size: per rank; position: returns the images seen so far (summed
    over ranks), read when an epoch's iterator starts. Every rank gets size // world // batch_size
    full batches per epoch (the remainder of the permutation is left out, as with drop_last).
    """

    def __init__(self, size: int, batch_size: int, seed: int, position: Callable[[], int],
                 rank: int = 0, world: int = 1, weights: torch.Tensor | None = None) -> None:
        if not 0 <= rank < world:
            raise ValueError(f"rank {rank} is not in 0..{world - 1}")
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.position = position
        self.rank = rank
        self.world = world
        self.batches_per_epoch = size // world // batch_size
        if weights is not None and weights.shape != (size,):
            raise ValueError(f"sampling weights must be ({size},), got {tuple(weights.shape)}")
        self.weights = weights
        if self.batches_per_epoch < 1:
            raise ValueError(f"{size} examples give no full batch of {batch_size} on each of {world} ranks")

    def __len__(self) -> int:
        return self.batches_per_epoch * self.batch_size

    def epoch_and_offset(self) -> tuple[int, int]:
        """(epoch, batches of it already trained on) at the current position."""
        global_batches = self.position() // (self.batch_size * self.world)
        return divmod(global_batches, self.batches_per_epoch)

    def epoch_indices(self, epoch: int) -> list[int]:
        """This rank's indices of `epoch`, in order (length len(self)): a permutation, or with
        `weights` `size` draws with replacement in proportion to them."""
        gen = torch.Generator().manual_seed(step_seed(self.seed, -1, epoch, 4))
        if self.weights is None:
            perm = torch.randperm(self.size, generator=gen)
        else:
            perm = torch.multinomial(self.weights.double(), self.size, replacement=True, generator=gen)
        return perm[self.rank::self.world][: len(self)].tolist()

    def __iter__(self) -> Iterator[int]:
        epoch, offset = self.epoch_and_offset()
        return iter(self.epoch_indices(epoch)[offset * self.batch_size:])


class ResumableDataModule(L.LightningDataModule):
    """Wraps a datamodule that offers `train_dataset()` (and optionally `pitch_distribution()` and
    `sample_weights()`, the drawing weights of its notes),
    serving its dataset with a `ResumableSampler` (use with `Trainer(use_distributed_sampler=False)`).

    inner: e.g. `NoteDataModule`; batch_size: per rank; position: images seen so far;
    pin_memory: serve batches in pinned host memory when the trainer runs on a GPU.
    """

    def __init__(self, inner: L.LightningDataModule, batch_size: int, seed: int,
                 position: Callable[[], int], num_workers: int = 0, pin_memory: bool = True) -> None:
        super().__init__()
        if not callable(getattr(inner, "train_dataset", None)):
            raise TypeError(f"{type(inner).__name__} has no train_dataset() to wrap")
        self.inner: Any = inner  # duck-typed: train_dataset(), pitch_distribution()
        self.batch_size = batch_size
        self.seed = seed
        self.position = position
        self.num_workers = num_workers
        self.pin_memory = pin_memory

    def prepare_data(self) -> None:
        self.inner.prepare_data()

    def setup(self, stage: str) -> None:
        self.inner.setup(stage)

    def dataset(self) -> Dataset[Any]:
        dataset: Dataset[Any] = self.inner.train_dataset()
        return dataset

    def train_dataloader(self) -> DataLoader[Any]:
        dataset = self.dataset()
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)
        get_weights = getattr(self.inner, "sample_weights", None)
        weights = get_weights() if callable(get_weights) else None
        sampler = ResumableSampler(len(dataset), self.batch_size, self.seed, self.position, rank, world,  # type: ignore[arg-type]
                                   weights=weights)
        on_gpu = self.trainer is not None and self.trainer.strategy.root_device.type == "cuda"
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                          pin_memory=self.pin_memory and on_gpu)

    def pitch_distribution(self) -> torch.Tensor:
        """The wrapped datamodule's pitch distribution."""
        probs: torch.Tensor = self.inner.pitch_distribution()
        return probs
