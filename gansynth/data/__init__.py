"""NSynth-style note datasets: readers (JSON/WAV, TFRecord), the General MIDI SoundFont builder,
the feature cache and the Lightning DataModule (docs/data.md).

Kept light on import: the submodules load torch, librosa or FluidSynth only when used.
"""

from __future__ import annotations

from pathlib import Path

FIXTURE_DIR: Path = Path(__file__).resolve().parents[2] / "data" / "fixtures" / "gm_tiny"

__all__ = ["FIXTURE_DIR"]
