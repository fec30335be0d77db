"""The note classifier that is gansynth's yardstick (docs/evaluation.md): a small CNN over a note's
log-mel spectrogram that predicts its pitch (MIDI pitch_min..pitch_max) and its NSynth instrument
family, as the GANSynth paper judged its models with an NSynth pitch classifier.

Features (`note_features`): the first 1.1 s of a 16 kHz note, Hann STFT (n_fft 2048, hop 512, no
padding: 32 frames), power through GANSynth's mel filterbank (1024 mel bins over 0-8 kHz), natural
log, minus the note's own maximum (so a gain does not change them) and floored at -16 (about
-70 dB), then average-pooled 4 (time) x 2 (mel) -> (1, 8, 512). The penultimate layer's 256 values are the
embedding in which `gansynth evaluate` measures FID.

The shipped model is trained by `gansynth train-classifier` on a GM dataset (docs/models.md has
its card); its file is a `model_file` like every model here, loaded with weights_only=True and
strict state-dict loading.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gansynth.config import NSYNTH_FAMILIES
from gansynth.errors import BadInputError
from gansynth.model_file import read_model_file, strict_load, write_model_file

FORMAT = "gansynth-classifier"
FORMAT_VERSION = 1
KEYS = frozenset({"format", "format_version", "pitch_min", "pitch_max", "families", "state_dict",
                  "metrics"})
DEFAULT_CLASSIFIER_PATH = (Path(__file__).resolve().parent.parent / "data" / "models"
                           / "note_classifier.pt")
SAMPLE_RATE = 16000
N_FFT, HOP, FRAMES = 2048, 512, 32
SEGMENT = N_FFT + (FRAMES - 1) * HOP  # 17920 samples: the first 1.12 s of a note
FLOOR = -16.0  # natural-log power under the note's peak, about -70 dB
POOL = (4, 2)  # (frames, mel bins) averaged
FEATURE_SHAPE = (1, FRAMES // POOL[0], N_FFT // 2 // POOL[1])  # (channels, frames, mel bins)
EMBEDDING = 256


@functools.lru_cache(maxsize=1)
def _mel_and_window() -> tuple[torch.Tensor, torch.Tensor]:
    from gansynth.spectral.mel import linear_to_mel_matrix

    mel = torch.from_numpy(linear_to_mel_matrix(N_FFT // 2, SAMPLE_RATE)).float()  # (1024, 1024)
    return mel, torch.hann_window(N_FFT)


@torch.no_grad()
def note_features(audio: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(B, samples) float audio at 16 kHz (at least 1.12 s; shorter is zero-padded) ->
    (B, 1, 8, 512) float32 features (see the module docstring)."""
    waves = torch.as_tensor(np.asarray(audio, dtype=np.float32) if isinstance(audio, np.ndarray)
                            else audio).float().cpu()
    if waves.dim() != 2:
        raise ValueError(f"audio must be (B, samples), got {tuple(waves.shape)}")
    waves = F.pad(waves[:, :SEGMENT], (0, max(0, SEGMENT - waves.shape[1])))  # (B, SEGMENT)
    mel, window = _mel_and_window()
    spec = torch.stft(waves, n_fft=N_FFT, hop_length=HOP, window=window, center=False,
                      return_complex=True)[:, 1:, :]  # (B, 1024, 32): DC dropped
    power = spec.abs().square().transpose(1, 2) @ mel  # (B, 32, 1024) mel power
    logmel = torch.log(power + 1e-10)
    logmel = (logmel - logmel.amax(dim=(1, 2), keepdim=True)).clamp(min=FLOOR)
    return F.avg_pool2d(logmel[:, None], POOL) / -FLOOR + 0.5  # (B, 1, 8, 512) in [-0.5, 0.5]


class NoteClassifier(nn.Module):
    """(B, 1, 8, 512) features -> pitch logits (B, num_pitches), family logits (B, num_families)
    and the embedding (B, 256). Four conv blocks (3x3, batch norm, ReLU; the first two end in a
    2x max pool along frequency) take the mel axis to 128 bins but keep its position (pitch is
    where the partials are, and a semitone is a few mel bins); the time axis is averaged and one
    dense layer makes the embedding."""

    def __init__(self, num_pitches: int = 61, num_families: int = len(NSYNTH_FAMILIES)) -> None:
        super().__init__()
        channels = (1, 8, 16, 32, 32)
        layers: list[nn.Module] = []
        for block, (cin, cout) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
            if block < 2:
                layers.append(nn.MaxPool2d((1, 2)))
        self.convs = nn.Sequential(*layers)  # (B, 32, 8, 128)
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(32 * 128, EMBEDDING), nn.ReLU())
        self.dropout = nn.Dropout(0.3)
        self.pitch = nn.Linear(EMBEDDING, num_pitches)
        self.family = nn.Linear(EMBEDDING, num_families)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.convs(features).mean(dim=2)  # (B, 32, 128): time averaged
        embedding = self.embed(x)  # (B, 256)
        hidden = self.dropout(embedding)
        return self.pitch(hidden), self.family(hidden), embedding


@dataclass
class Classifier:
    """A loaded classifier: the network (eval mode), its pitch range, family names and the
    held-out figures measured when it was trained."""

    model: NoteClassifier
    pitch_min: int
    pitch_max: int
    families: tuple[str, ...]
    metrics: dict[str, float]

    @torch.no_grad()
    def classify(self, audio: torch.Tensor | np.ndarray, batch: int = 64
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B, samples) audio at 16 kHz -> pitch probabilities (B, P) over pitch_min..pitch_max,
        family probabilities (B, F) and embeddings (B, 256), float64."""
        return self.classify_features(note_features(audio), batch)

    @torch.no_grad()
    def classify_features(self, features: torch.Tensor, batch: int = 64
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`classify` of features already made by `note_features`: (B, 1, 8, 512)."""
        pitch, family, embedding = [], [], []
        for start in range(0, len(features), batch):
            logits_p, logits_f, emb = self.model(features[start:start + batch])
            pitch.append(logits_p.softmax(-1).double().numpy())
            family.append(logits_f.softmax(-1).double().numpy())
            embedding.append(emb.double().numpy())
        return np.concatenate(pitch), np.concatenate(family), np.concatenate(embedding)


def export_classifier(path: str | os.PathLike[str], classifier: Classifier) -> Path:
    """Write the classifier file (weights as contiguous CPU tensors), atomically."""
    state = {k: v.detach().cpu().contiguous().clone() for k, v in classifier.model.state_dict().items()}
    return write_model_file(path, FORMAT, FORMAT_VERSION, {
        "pitch_min": classifier.pitch_min, "pitch_max": classifier.pitch_max,
        "families": list(classifier.families), "state_dict": state,
        "metrics": {k: float(v) for k, v in classifier.metrics.items()}})


def load_classifier(path: str | os.PathLike[str] | None = None) -> Classifier:
    """Load a classifier file (None: the shipped one), strictly; eval mode."""
    p = Path(path) if path is not None else DEFAULT_CLASSIFIER_PATH
    data = read_model_file(p, FORMAT, FORMAT_VERSION, KEYS, "gansynth note classifier file",
                           hint="; `gansynth train-classifier` makes one")
    pitch_min, pitch_max, families = data["pitch_min"], data["pitch_max"], data["families"]
    if not (isinstance(pitch_min, int) and isinstance(pitch_max, int) and pitch_min <= pitch_max
            and isinstance(families, list) and all(isinstance(f, str) for f in families)):
        raise BadInputError(f"{p}: invalid pitch range or family names in the classifier file")
    model = NoteClassifier(pitch_max - pitch_min + 1, len(families))
    strict_load(model, data["state_dict"], p, "the classifier weights")
    metrics = data["metrics"] if isinstance(data["metrics"], dict) else {}
    return Classifier(model.eval(), pitch_min, pitch_max, tuple(families),
                      {str(k): float(v) for k, v in metrics.items()})
