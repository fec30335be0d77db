"""Data loading throughput (examples/s): WAV decode + spectral transform against the feature cache."""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from gansynth.bench import MAX_BATCH, MAX_REPEATS, check_whole_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default=None, help="NSynth-style folder (default: the gm_tiny fixture)")
    parser.add_argument("--notes", type=int, default=64, help="notes read per pass (default 64)")
    parser.add_argument("--layout", default="hires", choices=["hires", "base"])
    parser.add_argument("--representation", default="if-mel", choices=["phase", "if", "if-mel"])
    parser.add_argument("--batch", type=int, default=8, help="DataLoader batch size (default 8)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers (default 0)")
    parser.add_argument("--repeats", type=int, default=3)


def _examples_per_second(loader: torch.utils.data.DataLoader, notes: int, repeats: int) -> float:  # type: ignore[type-arg]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        count = 0
        while count < notes:
            for batch in loader:
                count += int(batch["pitch"].shape[0])
                if count >= notes:
                    break
        best = min(best, time.perf_counter() - start)
    return notes / best


def run(args: argparse.Namespace) -> None:
    from gansynth.config import DataConfig, SpectralConfig
    from gansynth.data import FIXTURE_DIR
    from gansynth.data.cache import build_cache
    from gansynth.data.datamodule import NoteDataModule
    from gansynth.data.notes import select_notes
    from gansynth.data.sources import open_source

    check_whole_args(args, {"notes": (1, 100_000), "batch": (1, MAX_BATCH), "workers": (0, 64),
                            "repeats": (1, MAX_REPEATS)})

    spectral = SpectralConfig(representation=args.representation, layout=args.layout)
    path = args.dataset or str(FIXTURE_DIR)
    data = DataConfig(path=path, pitch_min=0, pitch_max=127, num_workers=args.workers)
    with tempfile.TemporaryDirectory(prefix="gansynth-bench-") as tmp:
        source = open_source(path, check_audio=False, sample_rate=spectral.sample_rate,
                             note_length=spectral.audio_length)
        indices, _ = select_notes(source.notes, data, source.path)
        start = time.perf_counter()
        build_cache(source, indices, spectral, tmp, progress=False)
        cache_seconds = time.perf_counter() - start
        live = NoteDataModule(data, spectral, args.batch)
        cached = NoteDataModule(DataConfig(path=path, pitch_min=0, pitch_max=127, cache=tmp,
                                           num_workers=args.workers), spectral, args.batch)
        live_rate = _examples_per_second(live.train_dataloader(), args.notes, args.repeats)
        cached_rate = _examples_per_second(cached.train_dataloader(), args.notes, args.repeats)
    print(f"data bench: {path} ({len(indices)} notes), {args.notes} notes per pass, batch {args.batch}, "
          f"{args.workers} workers, {spectral.representation}/{spectral.layout} {spectral.shape}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"  WAV decode + transform : {live_rate:9.1f} examples/s")
    print(f"  feature cache (mmap)   : {cached_rate:9.1f} examples/s")
    print(f"  ratio cache / live     : {cached_rate / live_rate:9.2f}x")
    print(f"  building the cache     : {len(indices) / cache_seconds:9.1f} notes/s ({cache_seconds:.2f} s)")
