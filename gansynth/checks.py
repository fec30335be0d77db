"""Checks of values a user gives, in one place: each raises `BadInputError` with one line naming
the value and the allowed range (or, for `device`, what this machine has). The library calls them where a value enters it (the
`Synthesizer`, `render_score`, sampling options, evaluation, benchmarks); the CLI only parses."""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING

from gansynth.errors import BadInputError

if TYPE_CHECKING:
    import torch

SEED_MAX = 2**63 - 1  # seeds seed torch and numpy generators: a non-negative signed 64-bit int


def finite(value: float, name: str, low: float | None = None, high: float | None = None,
           above: float | None = None) -> float:
    """`value` as a float that is finite and within [low, high] (and > above, when given)."""
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise BadInputError(f"{name} must be a number, got {value!r}") from err
    if not math.isfinite(number):
        raise BadInputError(f"{name} must be a finite number, got {value}")
    if above is not None and not number > above:
        raise BadInputError(f"{name} must be greater than {above:g}, got {value}")
    if (low is not None and number < low) or (high is not None and number > high):
        raise BadInputError(f"{name} must lie in {_range(low, high)}, got {value}")
    return number


def whole(value: int, name: str, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int within [low, high] (either bound may be None: open)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        number = operator.index(value)
    except TypeError as err:
        raise BadInputError(f"{name} must be a whole number, got {value!r}") from err
    if (low is not None and number < low) or (high is not None and number > high):
        raise BadInputError(f"{name} must lie in {_range(low, high)}, got {value}")
    return number


def seed(value: int, name: str = "seed") -> int:
    """A seed: a whole number in 0..2**63 - 1."""
    return whole(value, name, 0, SEED_MAX)


def device(name: str | torch.device) -> torch.device:
    """A torch device a user named, checked: a known device type, and CUDA only where this
    torch has it and a GPU is visible. Raises BadInputError naming the device."""
    import torch

    device = name
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise BadInputError(f"device {device!r} is not a torch device (e.g. cpu, cuda, cuda:1)") from err
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise BadInputError(f"device {device!r}: this torch has no usable CUDA GPU "
                                f"(torch {torch.__version__}); use cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise BadInputError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s)")
    elif parsed.type not in ("cpu", "mps", "xpu"):
        raise BadInputError(f"device {device!r} is not supported here; use cpu or cuda")
    return parsed


def _range(low: float | None, high: float | None) -> str:
    def text(bound: float | None) -> str:
        return "" if bound is None else str(bound) if isinstance(bound, int) else f"{bound:g}"

    return f"{text(low)}..{text(high)}"
