"""Spectrogram pictures of audio files (`gansynth spectrogram`, `make demo`)."""

from __future__ import annotations

import os

import numpy as np

from gansynth.errors import BadInputError
from gansynth.io import atomic_path, check_output, require_file


def log_spectrogram(audio: np.ndarray, n_fft: int = 1024, hop: int = 256) -> np.ndarray:
    """audio: (samples,) float -> (frames, n_fft // 2 + 1) magnitude in dB (peak 0 dB, floor -100)."""
    if audio.shape[0] < n_fft:
        audio = np.pad(audio, (0, n_fft - audio.shape[0]))
    frames = 1 + (audio.shape[0] - n_fft) // hop
    window = np.hanning(n_fft + 1)[:-1]
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]  # (frames, n_fft)
    mag = np.abs(np.fft.rfft(audio[index] * window, axis=1))
    db = 20 * np.log10(mag + 1e-10)
    return np.maximum(db - db.max(), -100.0)


def save_spectrogram_png(audio_path: str | os.PathLike[str], out_path: str | os.PathLike[str],
                         title: str | None = None) -> None:
    """Read a WAV/FLAC (mixed to mono) and write its log-magnitude spectrogram as a PNG.
    The output is checked (.png, writable) before the audio is read."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile as sf

    out = check_output(out_path, (".png",), "spectrogram picture")
    src = require_file(audio_path, "audio file")
    try:
        audio, sample_rate = sf.read(str(src), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise BadInputError(f"{src}: not a readable audio file ({err})") from err
    mono = audio.mean(axis=1)
    db = log_spectrogram(mono)
    fig, ax = plt.subplots(figsize=(12, 4), constrained_layout=True)
    extent = (0.0, mono.shape[0] / sample_rate, 0.0, sample_rate / 2000)
    shown = ax.imshow(db.T, origin="lower", aspect="auto", cmap="magma", extent=extent, vmin=-90, vmax=0)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("frequency (kHz)")
    ax.set_title(title or src.name)
    fig.colorbar(shown, ax=ax, label="dB")
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
