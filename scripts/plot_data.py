"""Figures for docs/data.md: spectrograms of a few notes the GM builder made (the gm_tiny fixture).

Run: .venv/bin/python scripts/plot_data.py  ->  docs/img/data_notes.png
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from gansynth.config import SpectralConfig  # noqa: E402
from gansynth.data import FIXTURE_DIR  # noqa: E402
from gansynth.data.nsynth import NSynthFolder  # noqa: E402
from gansynth.io import atomic_path  # noqa: E402
from gansynth.spectral import waves_to_specgrams  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "img"
NOTES = ("keyboard_acoustic_000-048-127", "bass_electronic_033-036-127", "flute_acoustic_073-072-127",
         "synth_lead_synthetic_081-060-127")


def main() -> None:
    source = NSynthFolder(FIXTURE_DIR)
    names = [m.note_str for m in source.notes]
    config = SpectralConfig(representation="if-mel", layout="hires")
    fig, axes = plt.subplots(2, len(NOTES), figsize=(4 * len(NOTES), 6.5), sharex=True, sharey=True)
    for col, note_str in enumerate(NOTES):
        audio = torch.from_numpy(source.load_audio(names.index(note_str)))[None]
        spec = waves_to_specgrams(audio, config)[0].numpy()  # (2, 128 frames, 1024 mel bins)
        extent = (0.0, 4.0, 0.0, float(spec.shape[2]))
        axes[0, col].imshow(spec[0].T, origin="lower", aspect="auto", extent=extent, cmap="magma",
                            vmin=float(np.percentile(spec[0], 5)), vmax=float(spec[0].max()))
        axes[1, col].imshow(spec[1].T, origin="lower", aspect="auto", extent=extent, cmap="twilight",
                            vmin=-1, vmax=1)
        axes[0, col].set_title(note_str, fontsize=9)
        axes[1, col].set_xlabel("time (s)")
        for row in range(2):
            axes[row, col].axvline(3.0, color="white", lw=0.8, ls="--")
    axes[0, 0].set_ylabel("log mel power\nmel bin")
    axes[1, 0].set_ylabel("mel IF / pi\nmel bin")
    fig.suptitle("GM builder notes (TimGM6mb, fixture gm_tiny), IF-Mel hires features; "
                 "dashed: note-off at 3 s", fontsize=10)
    fig.tight_layout()
    with atomic_path(OUT / "data_notes.png") as tmp:
        fig.savefig(tmp, dpi=90)
    print(OUT / "data_notes.png")


if __name__ == "__main__":
    main()
