"""Measure the MP3 files `gansynth.io.write_audio` writes (run: .venv/bin/python scripts/measure_mp3.py).

1. soundfile's own knobs at 16 kHz: what `compression_level` gives with and without
   `bitrate_mode="CONSTANT"` (libsndfile 1.2 maps a level c to top - c * (top - bottom) kbps).
2. Every bitrate `write_audio` accepts, at 16, 22.05, 44.1 and 48 kHz: the real bitrate of 10 s
   of audio (file bytes * 8 / 10 s), the decoded length and level against the input's.
3. The shipped model's notes (16 kHz) through each MPEG-2 bitrate: SNR below 6 kHz once LAME's
   0.95 input scale is undone, the basis of the 64 kbps default.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from gansynth.io import MP3_VERSIONS, write_audio

SECONDS = 10


def test_signal(sample_rate: int) -> np.ndarray:
    """10 s of two partials and a little noise, peak ~0.5."""
    t = np.arange(SECONDS * sample_rate) / sample_rate
    noise = np.random.default_rng(0).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 1320 * t)
            + 0.02 * noise).astype(np.float32)


def kbps_of(path: Path, seconds: float) -> float:
    return os.path.getsize(path) * 8 / seconds / 1000


def soundfile_levels(folder: Path) -> None:
    audio, path = test_signal(16000), folder / "level.mp3"
    print("soundfile compression_level at 16 kHz (10 s):")
    for mode in (None, "CONSTANT"):
        cells = []
        for level in (0.0, 0.25, 0.5, 0.75):
            sf.write(path, audio, 16000, format="MP3", subtype="MPEG_LAYER_III",
                     compression_level=level, bitrate_mode=mode)
            cells.append(f"{level:g}: {kbps_of(path, SECONDS):.1f}")
        print(f"  bitrate_mode={mode!s:8}  level: measured kbps  " + "  ".join(cells))


def bitrates(folder: Path) -> None:
    print("write_audio(..., bitrate_kbps=B), 10 s mono: B -> bytes * 8 / 10 s, decoded - input "
          "length, decoded / input level")
    for rate in (16000, 22050, 44100, 48000):
        audio, path = test_signal(rate), folder / f"b{rate}.mp3"
        name, allowed, _ = MP3_VERSIONS[rate]
        print(f"  {rate} Hz, {name}:")
        for kbps in allowed:
            write_audio(path, audio, rate, bitrate_kbps=kbps)
            back, _ = sf.read(path, dtype="float32")
            extra = back.shape[0] - audio.shape[0]
            # in time (no extra samples): the decoded level against the input's
            level = f"x {np.dot(back, audio) / np.dot(audio, audio):.3f}" if extra == 0 else "(delayed)"
            print(f"    {kbps:3d} kbps -> {kbps_of(path, SECONDS):6.1f} kbps, decoded {extra:+5d} "
                  f"samples, level {level}")


def model_snr(folder: Path) -> None:
    from gansynth.synth import Synthesizer

    synth = Synthesizer.load()
    audio = np.concatenate([synth.note(pitch, seed=i) for i, pitch in enumerate((36, 48, 60, 72, 84))])
    audio = (audio * 0.89 / np.abs(audio).max()).astype(np.float32)
    freqs = np.fft.rfftfreq(audio.size, 1 / synth.sample_rate)
    band = freqs < 6000
    reference = np.fft.rfft(audio)[band]
    path = folder / "notes.mp3"
    print(f"shipped model, 5 notes ({audio.size / synth.sample_rate:.0f} s, 16 kHz): SNR below 6 kHz")
    cells = []
    for kbps in MP3_VERSIONS[synth.sample_rate][1][1:]:
        write_audio(path, audio, synth.sample_rate, bitrate_kbps=kbps)
        back, _ = sf.read(path, dtype="float32")
        lag = int(np.argmax(np.correlate(back[:8000], audio[:8000], "full"))) - 7999  # 0 at >= 40 kbps
        decoded = np.fft.rfft(back[lag:lag + audio.size] / 0.95)[band]
        snr = 10 * np.log10(np.sum(np.abs(reference) ** 2) / np.sum(np.abs(decoded - reference) ** 2))
        cells.append(f"{kbps}: {snr:.1f} dB")
    print("  " + "  ".join(cells))


def main() -> None:
    print(f"soundfile {sf.__version__}, libsndfile {sf.__libsndfile_version__}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        soundfile_levels(folder)
        bitrates(folder)
        model_snr(folder)


if __name__ == "__main__":
    main()
