from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from gansynth.errors import BadInputError
from gansynth.io import atomic_path, write_audio


def test_atomic_path_renames_on_success_and_cleans_up_on_error(tmp_path) -> None:
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "failed.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_write_audio_formats_and_refusals(tmp_path) -> None:
    audio = (0.5 * np.sin(np.arange(1600) / 5)).astype(np.float32)
    for name in ("a.wav", "a.flac"):
        write_audio(tmp_path / name, audio, 16000)
        back, sr = sf.read(tmp_path / name, dtype="float32")
        assert sr == 16000 and back.shape == audio.shape
        assert np.abs(back - audio).max() < 1e-4
    with pytest.raises(BadInputError, match="unsupported audio extension '.ogg'; use .wav, .flac, .mp3"):
        write_audio(tmp_path / "a.ogg", audio, 16000)
    with pytest.raises(BadInputError, match="NaN"):
        write_audio(tmp_path / "b.wav", np.full(10, np.nan), 16000)
    with pytest.raises(BadInputError, match="does not exist"):
        write_audio(tmp_path / "missing" / "c.wav", audio, 16000)
    assert not (tmp_path / "b.wav").exists()
