"""Figure for docs/spectral.md: the representations of one harmonic note.

    .venv/bin/python scripts/plot_spectral.py [-o docs/img/spectral_note.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gansynth.config import SpectralConfig  # noqa: E402
from gansynth.spectral import waves_to_specgrams  # noqa: E402


def harmonic_note(midi_pitch: int, sr: int = 16000, length: int = 64000) -> np.ndarray:
    """NSynth-like note: held 3 s, released over the last second."""
    t = np.arange(length) / sr
    f0 = 440.0 * 2 ** ((midi_pitch - 69) / 12)
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k ** 1.3 for k in range(1, 12) if k * f0 < 7500)
    envelope = np.minimum(t / 0.02, 1.0) * np.exp(-0.6 * t) * np.clip((4.0 - t) / 1.0, 0, 1) ** 2
    return (0.5 * wave * envelope / np.abs(wave * envelope).max()).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-o", "--out", default="docs/img/spectral_note.png")
    args = parser.parse_args()
    wave = torch.from_numpy(harmonic_note(55))[None]
    panels = []
    for representation, names in (("if", ("log magnitude", "instantaneous frequency")),
                                  ("if-mel", ("log mel power", "mel instantaneous frequency"))):
        spec = waves_to_specgrams(wave, SpectralConfig(representation=representation))[0].numpy()
        panels += [(f"{names[0]} ({representation}, hires)", spec[0], "magma"),
                   (f"{names[1]} ({representation}, hires)", spec[1], "twilight")]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True)
    for ax, (title, image, cmap) in zip(axes.flat, panels):
        shown = ax.imshow(image.T, origin="lower", aspect="auto", cmap=cmap, interpolation="nearest")
        ax.set_title(title)
        ax.set_xlabel("frame (hop 512 = 32 ms)")
        ax.set_ylabel("bin (linear: 7.8 Hz each)" if "mel" not in title else "mel band")
        fig.colorbar(shown, ax=ax)
    fig.suptitle("A harmonic note (G3, 196 Hz, held 3 s, released 1 s) in GANSynth's representations")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
