"""A small in-memory datamodule of synthesized harmonic notes, for training tests that must not
depend on the fixture dataset (same batch contract as NoteDataModule)."""

from __future__ import annotations

import math

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from gansynth.config import SpectralConfig
from gansynth.spectral import waves_to_specgrams


def harmonic_tones(pitches: list[int], length: int, sample_rate: int, seed: int = 0) -> torch.Tensor:
    """(N, length) float32 notes: a few harmonics with random phases and a decaying envelope."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float64) / sample_rate
    notes = []
    for pitch in pitches:
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        note = torch.zeros(length, dtype=torch.float64)
        for k in range(1, 6):
            if k * f0 < sample_rate / 2:
                phase = float(torch.rand((), generator=gen)) * 2 * math.pi
                note += torch.sin(2 * math.pi * k * f0 * t + phase) / k
        note *= torch.clamp(t / 0.01, max=1.0) * torch.exp(-2.0 * t)
        notes.append(0.5 * note / note.abs().max())
    return torch.stack(notes).float()


class ToneDataset(Dataset[dict[str, torch.Tensor]]):
    def __init__(self, specgrams: torch.Tensor, pitches: torch.Tensor) -> None:
        self.specgrams = specgrams
        self.pitches = pitches

    def __len__(self) -> int:
        return len(self.pitches)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"specgram": self.specgrams[index], "pitch": self.pitches[index],
                "velocity": torch.tensor(100), "index": torch.tensor(index)}


class ToneDataModule(L.LightningDataModule):
    """`count` notes at pitches cycling through `pitches`; raw (2, frames, bins) features."""

    def __init__(self, spectral: SpectralConfig, batch_size: int, pitches: tuple[int, ...] = (48, 60, 72),
                 count: int = 12, pitch_min: int = 24, pitch_max: int = 84) -> None:
        super().__init__()
        self.spectral = spectral
        self.batch_size = batch_size
        self.pitch_list = [pitches[i % len(pitches)] for i in range(count)]
        self.pitch_min, self.pitch_max = pitch_min, pitch_max
        self.dataset: ToneDataset | None = None

    def setup(self, stage: str) -> None:
        if self.dataset is None:
            waves = harmonic_tones(self.pitch_list, self.spectral.audio_length, self.spectral.sample_rate)
            specgrams = waves_to_specgrams(waves, self.spectral)
            self.dataset = ToneDataset(specgrams, torch.tensor(self.pitch_list))

    def train_dataset(self) -> ToneDataset:
        self.setup("fit")
        assert self.dataset is not None
        return self.dataset

    def train_dataloader(self) -> DataLoader[dict[str, torch.Tensor]]:
        return DataLoader(self.train_dataset(), batch_size=self.batch_size, shuffle=True, drop_last=True)

    def pitch_distribution(self) -> torch.Tensor:
        counts = torch.zeros(self.pitch_max - self.pitch_min + 1)
        for p in self.pitch_list:
            counts[p - self.pitch_min] += 1
        return counts / counts.sum()
