"""Benchmarks behind `gansynth bench ...`: each prints figures measured side by side in one run."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping

import torch

from gansynth import checks

MAX_BATCH = 4096
MAX_REPEATS = 100


def check_whole_args(args: argparse.Namespace, limits: Mapping[str, tuple[int | None, int | None]]
                     ) -> None:
    """Refuse, before any work, a whole-number option outside its (low, high) range; None
    values (options left unset) pass. `limits` maps argparse dest names to ranges."""
    for name, (low, high) in limits.items():
        value = getattr(args, name)
        if value is not None:
            checks.whole(value, "--" + name.replace("_", "-"), low, high)


def best_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 1) -> float:
    """Best wall time in seconds over `repeats` calls of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def sync(device: torch.device) -> None:
    """Wait for the work queued on `device` (a GPU runs asynchronously; the CPU does not)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(n: int, device: torch.device, repeats: int, dtype: torch.dtype = torch.float32,
                  min_seconds: float = 0.0) -> float:
    """Measured GFLOP/s of an (n, n) @ (n, n) matmul (2 n^3 operations) in `dtype` on `device`:
    the best of `repeats` timings, each of as many matmuls as fill `min_seconds` (at least one)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    torch.matmul(a, b)
    sync(device)
    start = time.perf_counter()
    torch.matmul(a, b)
    sync(device)
    calls = max(1, int(min_seconds / max(time.perf_counter() - start, 1e-9)))

    def step() -> None:
        for _ in range(calls):
            torch.matmul(a, b)
        sync(device)

    return calls * 2 * n**3 / best_time(step, repeats=repeats, warmup=0) / 1e9
