"""Test defaults: CPU only, seeded, small thread count, no network."""

from __future__ import annotations

import os
import random
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # the suite runs subprocesses side by side

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture
def repo_root() -> Path:
    return REPO


def require_system(present: bool, what: str) -> None:
    """Skip a test whose system package (FluidSynth, a SoundFont) is not installed, except under
    `make test` (GANSYNTH_SYSTEM_PACKAGES=1), which installed them: there the test fails instead,
    so that it never skips silently."""
    if present:
        return
    message = f"{what} is not installed (scripts/system-packages.sh installs it)"
    if os.environ.get("GANSYNTH_SYSTEM_PACKAGES") == "1":
        pytest.fail(message)
    pytest.skip(message)
