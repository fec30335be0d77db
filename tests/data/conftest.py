"""Shared data-test fixtures: one small GM dataset rendered with the real FluidSynth per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gansynth.data.gm import GMBuildSettings, build_gm
from tests.conftest import require_system

TIMGM = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
SMALL_PROGRAMS = (0, 40, 73)  # piano, violin, flute
SMALL_PITCHES = (36, 48, 60, 72, 84, 127)  # 127: above 8 kHz, silent after the 16 kHz resampling
SMALL_VELOCITIES = (60, 127)



@pytest.fixture
def timgm() -> Path:
    """The TimGM6mb SoundFont (see `require_system`)."""
    require_system(TIMGM.is_file(), f"the TimGM6mb SoundFont ({TIMGM})")
    return TIMGM


def small_settings(**changes: object) -> GMBuildSettings:
    fields: dict[str, object] = {"soundfont": str(TIMGM), "programs": SMALL_PROGRAMS,
                                 "pitches": SMALL_PITCHES, "velocities": SMALL_VELOCITIES}
    fields.update(changes)
    return GMBuildSettings(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def gm_small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset built by the GM builder in this test run (read-only: copy it to modify it)."""
    require_system(TIMGM.is_file(), f"the TimGM6mb SoundFont ({TIMGM})")
    out = tmp_path_factory.mktemp("gm") / "small"
    build_gm(small_settings(), out, workers=1, progress=False)
    return out


@pytest.fixture
def gm_copy(gm_small: Path, tmp_path: Path) -> Path:
    """A private, writable copy of `gm_small`."""
    dest = tmp_path / "ds"
    shutil.copytree(gm_small, dest)
    return dest


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Path:
    """A private, writable copy of the committed fixture dataset."""
    from gansynth.data import FIXTURE_DIR

    dest = tmp_path / "fixture"
    shutil.copytree(FIXTURE_DIR, dest)
    return dest
