"""Training test fixtures: one torch thread (the runners share 2 cores; several threads per
process slow tiny convolutions down under contention), the gm_tiny feature cache built once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from gansynth.config import ExperimentConfig, load_config

REPO = Path(__file__).resolve().parents[2]
DEBUG_RECIPE = REPO / "recipes" / "debug.yaml"


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def gm_tiny_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Feature cache of data/fixtures/gm_tiny for the debug recipe's spectral config."""
    from gansynth.data.cache import build_cache
    from gansynth.data.notes import select_notes
    from gansynth.data.sources import open_source

    config = load_config(ExperimentConfig, DEBUG_RECIPE)
    folder = tmp_path_factory.mktemp("gm_tiny_cache")
    data = config.data
    source = open_source(str(REPO / data.path), check_audio=False,
                         sample_rate=config.spectral.sample_rate, note_length=config.spectral.audio_length)
    indices, _ = select_notes(source.notes, data, source.path)
    build_cache(source, indices, config.spectral, folder, progress=False)
    return str(folder)


def debug_config(output: Path, cache: str, *overrides: str) -> ExperimentConfig:
    """The debug recipe with the fixture data path made absolute, the cache and `overrides`."""
    return load_config(ExperimentConfig, DEBUG_RECIPE,
                       [f"output={output}", f"data.path={REPO / 'data/fixtures/gm_tiny'}",
                        f"data.cache={cache}", *overrides])


def subprocess_env() -> dict[str, str]:
    """Environment for training subprocesses: repo importable, one thread, no GPU, free port."""
    env = {k: v for k, v in os.environ.items() if k not in ("MASTER_PORT", "MASTER_ADDR", "LOCAL_RANK",
                                                               "NODE_RANK", "WORLD_SIZE", "RANK")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    return env
