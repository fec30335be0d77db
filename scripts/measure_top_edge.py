"""Where a model's energy above 7 kHz comes from: the top edge of the spectrogram, or elsewhere.

    .venv/bin/python scripts/measure_top_edge.py --real DATASET MODEL.pt [MODEL.pt ...]

For each model, 8 notes (MIDI 36, 48, 60, 72, twice; latents from seed 0) and, for reference, 8
real notes of DATASET (every 25th of its first 200 audio files):
- the mean normalized log magnitude (what G outputs and D sees) of the last 8 mel bins, over
  frames 10-59 (0.3-1.9 s);
- the share of each note's energy (first 3 s, one FFT) in 7.0-7.9 kHz and in 7.9-8.0 kHz, the
  band the last two mel bins cover; mean over the notes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from gansynth.spectral.transform import specgrams_to_waves, waves_to_specgrams
from gansynth.synth import Synthesizer

PITCHES = [36, 48, 60, 72] * 2
FRAMES = slice(10, 60)
SECONDS = 3.0


def band_shares(audio: np.ndarray, rate: int) -> tuple[float, float]:
    n = int(SECONDS * rate)
    power = np.abs(np.fft.rfft(audio[:, :n], axis=1)) ** 2  # (notes, n // 2 + 1)
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    total = power.sum(axis=1)
    mid = power[:, (freqs >= 7000) & (freqs < 7900)].sum(axis=1) / total
    top = power[:, freqs >= 7900].sum(axis=1) / total
    return float(mid.mean()), float(top.mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", required=True, help="NSynth-style dataset folder (audio/*.wav)")
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    print(f"{'':44} {'last 8 mel bins (normalized), frames 10-59':>48}   7-7.9 kHz  7.9-8 kHz")
    model = None
    for path in args.models:
        synth = Synthesizer.load(path)
        model = synth.model
        torch.manual_seed(0)
        z = torch.randn(len(PITCHES), model.latent_dim)
        pitch = torch.tensor(PITCHES)
        with torch.no_grad():  # one generator pass: G's normalized output, then its audio
            raw = model.generator(z, pitch - model.pitch_min, model.generator.num_blocks - 1, 1.0)
            audio = specgrams_to_waves(model.normalizer.denormalize(raw), model.spectral).numpy()
        top = raw[:, 0, FRAMES, -8:].mean(dim=(0, 1)).numpy()
        mid, edge = band_shares(audio, model.spectral.sample_rate)
        print(f"{Path(path).name:44} {' '.join(f'{v:+.2f}' for v in top):>48}   {mid:9.4f}  {edge:9.4f}")
    assert model is not None
    files = sorted(Path(args.real, "audio").glob("*.wav"))[:200:25]
    if not files:
        parser.error(f"{args.real}: no audio/*.wav")
    length = model.spectral.audio_length
    real = np.stack([sf.read(f, dtype="float32")[0][:length] for f in files])
    specgrams = model.normalizer(waves_to_specgrams(torch.from_numpy(real), model.spectral))
    top = specgrams[:, 0, FRAMES, -8:].mean(dim=(0, 1)).numpy()
    mid, edge = band_shares(real, model.spectral.sample_rate)
    print(f"{'real: ' + Path(args.real).name:44} {' '.join(f'{v:+.2f}' for v in top):>48}   {mid:9.4f}  {edge:9.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
