"""Speed settings of GAN training that are neither network nor loss (docs/training.md, "Fast
training"): `torch.compile` with a fallback to eager execution, and the overrides of a larger
batch with its learning rate and EMA decay scaled.

Compiling does not change the training math; a larger batch does. (Lazy regularization, which
does too, is `train.reg_interval` in the LightningModule.)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from gansynth.config import GANTrainConfig

log = logging.getLogger(__name__)

# torch.compile recompiles a network for every resolution block and fade-in, training mode and
# grad mode; the default limit (8 per code object) would send the later blocks back to eager
RECOMPILE_LIMIT = 64


def _is_compile_error(err: BaseException) -> bool:
    """True for errors raised by torch.compile's machinery (Dynamo, AOTAutograd, Inductor and its
    C++ toolchain), as opposed to errors of the network's own code, which must propagate."""
    module = type(err).__module__ or ""
    return module.startswith(("torch._dynamo", "torch._inductor", "torch._functorch", "torch._subclasses"))


class CompiledNetwork:
    """Calls `torch.compile(net, backend=backend)`, or `net` itself once compiling failed.

    Compilation happens at the first call with new shapes or flags; when it fails (no C++
    compiler, a Python torch.compile does not support, a backend error) a warning names the
    cause, and this and every later call run eagerly. An error of the network's own (a wrong
    input shape) propagates as it would without compilation.
    """

    def __init__(self, net: nn.Module, backend: str = "inductor") -> None:
        self.net = net
        self.backend = backend
        self.compiled: Callable[..., Any] | None = None
        self.failure: str | None = None
        try:
            dynamo_config = torch._dynamo.config
            dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, RECOMPILE_LIMIT)
            dynamo_config.accumulated_recompile_limit = max(dynamo_config.accumulated_recompile_limit,
                                                            4 * RECOMPILE_LIMIT)
            self.compiled = torch.compile(net, backend=backend)
        except Exception as err:  # torch.compile refuses this Python or platform outright
            self._fall_back(err)

    def _fall_back(self, err: BaseException) -> None:
        self.compiled = None
        root: BaseException = err  # Dynamo wraps a backend's error (inner_exception) or chains it
        for _ in range(8):
            inner = getattr(root, "inner_exception", None) or root.__cause__
            if not isinstance(inner, BaseException) or inner is root:
                break
            root = inner
        lines = [line.strip() for line in str(root).splitlines() if line.strip()]
        self.failure = f"{type(root).__name__}: {lines[0] if lines else ''}"
        log.warning("torch.compile (backend %s) of %s failed, training on eagerly: %s", self.backend,
                    type(self.net).__name__, self.failure)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as err:
                if not _is_compile_error(err):
                    raise
                self._fall_back(err)
        return self.net(*args, **kwargs)


def scaled_batch_overrides(train: GANTrainConfig, batch_size: int) -> list[str]:
    """Config overrides that train with `batch_size` instead of `train.batch_size` (the larger
    batch of a GPU), keeping the other settings' meaning per image:

    - train.lr scaled by sqrt(batch_size / batch_size_before) (the square-root rule for Adam:
      the gradient's noise falls by that factor, so the step can grow by it);
    - train.ema_decay raised to the power batch_size / batch_size_before, so the EMA generator's
      half-life stays the same number of images;
    - the schedule is counted in images already, so it needs no change.

    This changes the training math (an option, docs/training.md "Fast training").
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    factor = batch_size / train.batch_size
    return [f"train.batch_size={batch_size}", f"train.lr={train.lr * math.sqrt(factor):.6g}",
            f"train.ema_decay={train.ema_decay ** factor:.6g}"]
