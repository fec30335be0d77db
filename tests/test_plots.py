from __future__ import annotations

import numpy as np

from gansynth.cli import main
from gansynth.io import write_audio
from gansynth.plots import log_spectrogram


def test_log_spectrogram_peak_bin_is_the_tone() -> None:
    sr, freq = 16000, 1000.0
    audio = np.sin(2 * np.pi * freq * np.arange(sr) / sr)
    db = log_spectrogram(audio, n_fft=1024, hop=256)
    assert db.shape == (1 + (sr - 1024) // 256, 513)
    assert db.max() == 0.0 and db.min() >= -100.0
    assert int(db.mean(axis=0).argmax()) == round(freq * 1024 / sr)


def test_spectrogram_command_writes_png_and_rejects_bad_audio(tmp_path, capsys) -> None:
    wav = tmp_path / "tone.wav"
    write_audio(wav, 0.3 * np.sin(np.arange(16000) / 3.0), 16000)
    png = tmp_path / "tone.png"
    assert main(["spectrogram", str(wav), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage")
    assert main(["spectrogram", str(bad), "-o", str(tmp_path / "bad.png")]) == 2
    err = capsys.readouterr().err
    assert "bad.wav" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad.png").exists()
