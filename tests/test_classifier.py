"""The note classifier: features that a gain does not change, a training run that learns, a file
that loads strictly with identical output, and the shipped classifier's accuracy on real notes
from another SoundFont than the one it was trained on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gansynth.classifier import (
    DEFAULT_CLASSIFIER_PATH,
    FEATURE_SHAPE,
    load_classifier,
    note_features,
)
from gansynth.data import FIXTURE_DIR
from gansynth.errors import BadInputError
from gansynth.evaluate import real_notes
from tests.conftest import require_system
from tests.data.conftest import TIMGM, small_settings

SR = 16000


def tone(midi: float, seconds: float = 2.0, harmonics: int = 8) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    return sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, harmonics + 1)
               if k * f0 < SR / 2).astype(np.float32)


def test_features_shape_range_and_gain_invariance() -> None:
    short = np.pad(tone(60, seconds=0.5), (0, int(1.5 * SR)))  # as note_features pads it
    audio = np.stack([tone(48), tone(72), short])
    features = note_features(audio)
    assert features.shape == (3, *FEATURE_SHAPE)
    assert float(features.min()) >= -0.5 and float(features.max()) <= 0.5
    np.testing.assert_allclose(note_features(audio * 0.01), features, atol=1e-4)
    # a higher pitch moves the energy up the mel axis
    centroid = (features[:, 0].mean(1) + 0.5).numpy() @ np.arange(FEATURE_SHAPE[2])
    assert centroid[1] > centroid[0]
    with pytest.raises(ValueError, match="audio must be"):
        note_features(np.zeros(100, np.float32))


def test_training_learns_and_the_file_loads_identically(tmp_path: Path) -> None:
    from gansynth.classifier_train import train_classifier
    from gansynth.data.gm import build_gm

    require_system(TIMGM.is_file(), f"the TimGM6mb SoundFont ({TIMGM})")
    dataset = tmp_path / "gm"  # split by note, so that train, valid and test all have notes
    build_gm(small_settings(pitches=tuple(range(36, 85, 2)), velocities=(100,), split_by="note"),
             dataset, workers=1, progress=False)
    out = tmp_path / "classifier.pt"
    epochs: list[float] = []
    trained = train_classifier(dataset, out, epochs=6, batch_size=16, lr=3e-3, pitch_min=24,
                               pitch_max=84, progress=False,
                               on_epoch=lambda e, loss, p, f: epochs.append(loss))
    assert epochs[-1] < epochs[0]  # it learns
    loaded = load_classifier(out)
    assert (loaded.pitch_min, loaded.pitch_max) == (24, 84)
    assert set(loaded.metrics) >= {"test_pitch_accuracy", "test_family_accuracy"}
    audio = np.stack([tone(48), tone(60)])
    for a, b in zip(trained.classify(audio), loaded.classify(audio), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    pitch, family, embedding = loaded.classify(audio)
    assert pitch.shape == (2, 61) and family.shape == (2, 11) and embedding.shape == (2, 256)
    np.testing.assert_allclose(pitch.sum(1), 1.0, atol=1e-6)


def test_a_wrong_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not a gansynth note classifier file"):
        load_classifier(Path(__file__))
    bad = tmp_path / "c.pt"
    torch.save({"format": "gansynth-classifier", "format_version": 1}, bad)
    with pytest.raises(BadInputError, match="lacks"):
        load_classifier(bad)


@pytest.mark.skipif(not DEFAULT_CLASSIFIER_PATH.is_file(), reason="no shipped classifier yet")
def test_shipped_classifier_hits_real_notes_of_another_soundfont() -> None:
    """The fixture's notes come from TimGM6mb, not the FluidR3_GM set it was trained on."""
    classifier = load_classifier()
    assert classifier.metrics["test_pitch_accuracy"] >= 0.9
    audios, pitches, _ = real_notes(FIXTURE_DIR, 24, 84, count=32, sample_rate=SR, note_length=64000)
    probs, _, _ = classifier.classify(np.stack(audios))
    predicted = probs.argmax(1) + classifier.pitch_min
    assert np.mean(predicted == np.array(pitches)) >= 0.8
    assert DEFAULT_CLASSIFIER_PATH.stat().st_size <= 10 * 2**20
