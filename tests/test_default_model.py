"""The shipped default model, end to end through the CLI: it loads strictly, and its notes,
interpolations and MIDI renders are real, finite, correctly framed audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from gansynth.checkpoint import DEFAULT_MODEL_PATH, load_model
from gansynth.cli import main
from gansynth.score import score_from_midi

REPO = Path(__file__).resolve().parent.parent
PEAK = 10 ** (-1 / 20)  # -1 dBFS
LSB = 1 / 32768


def read_checked(path: Path, sample_rate: int) -> np.ndarray:
    info = sf.info(str(path))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_16", sample_rate, 1)
    audio, _ = sf.read(str(path), dtype="float32")
    assert np.all(np.isfinite(audio))
    assert np.max(np.abs(audio)) <= PEAK + LSB
    return audio


def test_default_model_is_shipped_small_and_loads_strictly() -> None:
    assert DEFAULT_MODEL_PATH.is_file()
    assert DEFAULT_MODEL_PATH.stat().st_size <= 25 * 2**20
    model = load_model(None)
    assert (model.sample_rate, model.note_length, model.pitch_min, model.pitch_max) == (16000, 64000, 24, 84)
    z = torch.randn(2, model.latent_dim, generator=torch.Generator().manual_seed(0))
    audio = model.generate(z, torch.tensor([48, 72]))
    assert audio.shape == (2, 64000)
    assert torch.isfinite(audio).all()
    assert torch.equal(audio, model.generate(z, torch.tensor([48, 72])))  # eval mode, deterministic
    assert audio.abs().amax(dim=1).min() > 1e-3  # not silent
    # issue 14: no 4-8 channel blocks at high resolution any more
    assert min(model.config.model.channels) >= 12, model.config.model.channels


def test_note_and_interpolate_with_the_default_model(tmp_path: Path) -> None:
    note = tmp_path / "c4.wav"
    assert main(["note", "--pitch", "60", "--seed", "7", "-o", str(note)]) == 0
    audio = read_checked(note, 16000)
    assert audio.shape[0] >= 16000 and np.max(np.abs(audio)) > 1e-3
    interp = tmp_path / "interp.wav"
    assert main(["interpolate", "--pitch", "60", "--seeds", "1", "2", "--steps", "3", "-o", str(interp)]) == 0
    assert read_checked(interp, 16000).shape[0] > audio.shape[0]


def test_render_demo_midi_with_the_default_model(tmp_path: Path) -> None:
    midi = REPO / "data" / "midi" / "demo.mid"
    out = tmp_path / "demo.wav"
    assert main(["render", str(midi), "-o", str(out), "--quiet"]) == 0
    audio = read_checked(out, 16000)
    last_end = max(n.end_s for n in score_from_midi(midi).pitched_notes())
    assert audio.shape[0] == round(last_end * 16000) + round(0.2 * 16000)  # + default release
    assert np.max(np.abs(audio)) == pytest.approx(PEAK, abs=2 * LSB)  # normalized to -1 dBFS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.wav"]
