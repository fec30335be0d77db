"""The Lightning DataModule: wiring only (a note source, the filters, the cache or the live
transform, a DataLoader).

Batches are dicts: "specgram" (B, 2, frames, bins) float32 RAW features from `waves_to_specgrams`
(not normalized), "pitch" (B,) int64 MIDI pitch, "velocity" (B,) int64, "index" (B,) int64 (the
note's position in the dataset, i.e. in `examples.json` order / TFRecord order).
`train_dataloader` shuffles with its own seeded generator; it is for use on its own (benchmarks,
normalizer fitting). GAN training serves the same dataset through
`gansynth.training.sampling.ResumableDataModule`, whose sampler resumes mid-epoch and gives each
DDP rank its own share of every epoch; the trainer runs with `use_distributed_sampler=False`, so
Lightning never swaps in a `DistributedSampler`.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from gansynth.config import DataConfig, SpectralConfig
from gansynth.data.cache import FeatureCache, open_cache
from gansynth.data.notes import (
    SHORT_AUDIO,
    BadDataReport,
    FilterReport,
    NoteMeta,
    NoteSource,
    fail_or_skip,
    select_notes,
)
from gansynth.data.sources import open_source
from gansynth.errors import BadInputError


class NoteDataset(Dataset[dict[str, torch.Tensor]]):
    """Selected notes of a source; features from `cache` when given, else computed from audio."""

    def __init__(self, source: NoteSource, indices: Sequence[int], spectral: SpectralConfig,
                 cache: FeatureCache | None = None) -> None:
        self.source = source
        self.indices = list(indices)
        self.spectral = spectral
        self.cache = cache

    def __len__(self) -> int:
        return len(self.indices)

    def specgram(self, k: int) -> torch.Tensor:
        """(2, frames, bins) float32 raw features of the k-th selected note."""
        i = self.indices[k]
        if self.cache is not None:
            return torch.from_numpy(self.cache.get(self.source.notes[i].note_str))
        from gansynth.spectral import waves_to_specgrams

        audio = torch.from_numpy(self.source.load_audio(i))[None]  # (1, audio_length)
        with torch.no_grad():
            return waves_to_specgrams(audio, self.spectral)[0]

    def __getitem__(self, k: int) -> dict[str, torch.Tensor]:
        i = self.indices[k]
        meta = self.source.notes[i]
        return {"specgram": self.specgram(k),
                "pitch": torch.tensor(meta.pitch, dtype=torch.int64),
                "velocity": torch.tensor(meta.velocity, dtype=torch.int64),
                "index": torch.tensor(i, dtype=torch.int64)}


class NoteDataModule(L.LightningDataModule):
    """NSynth-style notes for GAN training (see module docstring for the batch layout).

    data: which notes and how to read them; spectral: the feature config; batch_size: per process
    (per rank under DDP); seed: the shuffling seed when not distributed.
    """

    def __init__(self, data: DataConfig, spectral: SpectralConfig, batch_size: int,
                 seed: int = 0) -> None:
        super().__init__()
        if batch_size < 1:
            raise BadInputError(f"batch size must be >= 1, got {batch_size}")
        self.data = data
        self.spectral = spectral
        self.batch_size = batch_size
        self.seed = seed
        self.source: NoteSource | None = None
        self.cache: FeatureCache | None = None
        self.indices: list[int] = []
        self.filter_report = FilterReport()
        self.bad_report = BadDataReport()
        self._train: NoteDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        """Read the metadata, apply the filters, open the cache (once; later calls are no-ops)."""
        if self._train is not None:
            return
        d = self.data
        source = open_source(d.path, skip_bad=d.skip_bad, strict=d.strict, check_audio=d.cache is None,
                             sample_rate=self.spectral.sample_rate, note_length=self.spectral.audio_length)
        self.bad_report = source.report
        indices, self.filter_report = select_notes(source.notes, d, source.path)
        if d.cache is not None:
            self.cache = open_cache(d.cache, self.spectral, source)
            missing = [i for i in indices if source.notes[i].note_str not in self.cache.rows]
            known_bad = [i for i in missing if source.notes[i].note_str in self.cache.bad]
            if d.skip_bad and known_bad:
                for i in known_bad:
                    self.bad_report.add("bad audio (cache)", f"{source.notes[i].note_str}: unreadable "
                                        "when the cache was built")
                indices = [i for i in indices if i not in set(known_bad)]
                missing = [i for i in missing if i not in set(known_bad)]
            if missing:
                raise BadInputError(
                    f"{self.cache.folder}: the cache lacks {len(missing)} of the selected notes "
                    f"(e.g. {source.notes[missing[0]].note_str}); rebuild it (`gansynth data cache`) "
                    "with the same data filters and spectral config as this run")
            indices = self._count_fitted(indices, source, self.cache)
        if len(indices) < self.batch_size:
            raise BadInputError(f"{d.path}: only {len(indices)} notes selected ({self.filter_report.summary()}), "
                                f"fewer than the batch size {self.batch_size}; widen the data filters "
                                "or lower the batch size")
        self.source = source
        self.indices = indices
        self._train = NoteDataset(source, indices, self.spectral, self.cache)

    def _count_fitted(self, indices: list[int], source: NoteSource, cache: FeatureCache) -> list[int]:
        """Count the selected notes the cache's build padded or cropped (short or long audio) in
        `bad_report`; with data.strict they are bad data (an error, or skipped with skip_bad)."""
        kept = []
        for i in indices:
            note_str = source.notes[i].note_str
            reason = cache.fitted.get(note_str)
            if reason is None:
                kept.append(i)
                continue
            message = (f"{cache.folder}: note {note_str} had {reason} when the cache was built "
                       f"({'zero-padded' if reason == SHORT_AUDIO else 'cropped'} to the note length)")
            if self.data.strict:
                fail_or_skip(self.bad_report if self.data.skip_bad else None, reason,
                             f"{message}; data.strict refuses it: regenerate the file and the cache, "
                             "or set data.skip_bad")
                continue
            self.bad_report.add_fitted(note_str, reason, message)
            kept.append(i)
        return kept

    @property
    def notes(self) -> list[NoteMeta]:
        """The selected training notes (after setup)."""
        assert self.source is not None, "call setup() first"
        return [self.source.notes[i] for i in self.indices]

    def train_dataset(self) -> NoteDataset:
        if self._train is None:
            self.setup("fit")
        assert self._train is not None
        return self._train

    def train_dataloader(self) -> DataLoader[dict[str, torch.Tensor]]:
        """Shuffled, drop_last batches of `batch_size` dicts (see module docstring)."""
        workers = self.data.num_workers
        return DataLoader(self.train_dataset(), batch_size=self.batch_size, shuffle=True, drop_last=True,
                          num_workers=workers, persistent_workers=workers > 0,
                          generator=torch.Generator().manual_seed(self.seed))

    def _pitches(self) -> np.ndarray:
        """(notes,) int64 MIDI pitch of every training note, in dataset order."""
        dataset = self.train_dataset()
        return np.array([dataset.source.notes[i].pitch for i in dataset.indices], dtype=np.int64)

    def sample_weights(self) -> torch.Tensor | None:
        """(notes,) float64 drawing weight of every training note (`data.pitch_balance`,
        `data.oversample_below` and `oversample_factor`), or None when notes are drawn uniformly."""
        d = self.data
        if not d.weighted:
            return None
        pitches = self._pitches()
        counts = np.bincount(pitches - d.pitch_min, minlength=d.pitch_max - d.pitch_min + 1)
        weights = counts[pitches - d.pitch_min].astype(np.float64) ** -d.pitch_balance
        weights[pitches < d.oversample_below] *= d.oversample_factor
        return torch.from_numpy(weights / weights.sum())

    def pitch_distribution(self) -> torch.Tensor:
        """(pitch_max - pitch_min + 1,) float32 probabilities of the pitches training draws
        (index = pitch - pitch_min): the notes' own distribution, or the weighted one."""
        d = self.data
        pitches = self._pitches()
        weights = self.sample_weights()
        counts = np.bincount(pitches - d.pitch_min, weights=None if weights is None else weights.numpy(),
                             minlength=d.pitch_max - d.pitch_min + 1)
        return torch.from_numpy(counts / counts.sum()).float()

    def summary(self) -> str:
        """One line: notes kept, filters, bad notes skipped, notes padded or cropped to the note
        length, features from cache or audio."""
        where = f"cache {self.cache.folder}" if self.cache else "audio (live transform)"
        return f"{self.data.path}: {self.filter_report.summary()}; {self.bad_report.summary()}; features from {where}"
