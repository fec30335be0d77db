"""Benchmarks behind `gansynth bench ...`: each prints figures measured side by side in one run."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping

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
