"""Corpus: recursive MIDI folders with bad files, file-level split, augmentation, token streams."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gansynth.config import SequenceDataConfig
from gansynth.errors import BadInputError, ConfigError
from gansynth.score import Note, score_from_midi, score_from_notes, score_to_midi
from gansynth.sequence.corpus import (
    augment_score,
    build_token_corpus,
    read_midi_folder,
    split_files,
)
from gansynth.sequence.tokenizer import EventTokenizer


def make_corpus(folder: Path, example_midi: list[Path], copies: int = 2) -> Path:
    """`copies` copies of each example in nested folders, plus one corrupt, one empty, one
    drums-only and one non-MIDI file."""
    for c in range(copies):
        sub = folder / f"part{c}" / "nested"
        sub.mkdir(parents=True)
        for path in example_midi:
            shutil.copy(path, sub / path.name.replace(".mid", ".MID" if c else ".mid"))
    (folder / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06 broken")
    score_to_midi(score_from_notes([]), folder / "empty.midi")
    score_to_midi(score_from_notes([Note(36, 100, 0.0, 0.1, is_drum=True)]), folder / "drums.mid")
    (folder / "notes.txt").write_text("not MIDI")
    return folder


def test_read_folder_skips_and_counts_bad_files(tmp_path: Path, example_midi: list[Path]) -> None:
    folder = read_midi_folder(make_corpus(tmp_path, example_midi))
    assert len(folder.pieces) == 2 * len(example_midi)
    assert folder.skipped == {"corrupt or without notes": 2, "drums only": 1}
    assert all(name.startswith("part") for name in folder.names)
    with pytest.raises(BadInputError, match="MIDI folder not found"):
        read_midi_folder(tmp_path / "missing")
    (tmp_path / "only_text").mkdir()
    with pytest.raises(BadInputError, match="no .mid or .midi files"):
        read_midi_folder(tmp_path / "only_text")


def test_split_is_by_file_seeded_and_disjoint() -> None:
    train, valid = split_files(50, 0.2, seed=3)
    assert len(valid) == 10 and len(train) == 40
    assert sorted(train + valid) == list(range(50))
    assert split_files(50, 0.2, seed=3) == (train, valid)
    assert split_files(50, 0.2, seed=4) != (train, valid)
    assert len(split_files(2, 0.01, seed=0)[1]) == 1  # each side gets a file


def test_augmentation_transposes_and_stretches(example_midi: list[Path]) -> None:
    score = score_from_midi(example_midi[0])
    notes = score.notes
    rng = np.random.default_rng(0)
    shifts, stretches = set(), set()
    for _ in range(30):
        aug = augment_score(score, rng, (-3, 3), (0.8, 1.25), (21, 108))
        assert [a.track for a in aug.notes] == [n.track for n in notes]
        shift = aug.notes[0].pitch - notes[0].pitch
        stretch = aug.end_s / score.end_s
        # one shift and one stretch for every note (the order of the notes is kept)
        assert [a.pitch - n.pitch for a, n in zip(aug.notes, notes, strict=True)] == [shift] * len(notes)
        np.testing.assert_allclose([a.start_s for a in aug.notes], [n.start_s * stretch for n in notes])
        np.testing.assert_allclose([a.end_s for a in aug.notes], [n.end_s * stretch for n in notes])
        assert -3 <= shift <= 3 and 0.8 <= stretch <= 1.25
        shifts.add(shift)
        stretches.add(round(stretch, 3))
    assert len(shifts) > 3 and len(stretches) > 10
    # never pushed outside the pitch range
    high = augment_score(score, rng, (50, 60), (1.0, 1.0), (21, 108))
    assert max(n.pitch for n in high.notes) <= 108
    # drums are dropped, not transposed
    drums = score_from_notes([Note(60, 90, 0.0, 1.0), Note(36, 90, 0.0, 0.1, track=1, is_drum=True)])
    assert [n.is_drum for n in augment_score(drums, rng, (1, 1), (1.0, 1.0), (21, 108)).notes] == [False]


def test_token_corpus(tmp_path: Path, example_midi: list[Path], tokenizer: EventTokenizer) -> None:
    folder = make_corpus(tmp_path, example_midi)
    data = SequenceDataConfig(midi_dir=str(folder), valid_fraction=0.25, augment_copies=2)
    corpus = build_token_corpus(tokenizer, data)
    n_files = 2 * len(example_midi)
    assert len(corpus.valid_names) == round(n_files * 0.25)
    assert not set(corpus.valid_names) & set(corpus.train_names)
    assert len(corpus.train) == 3 * len(corpus.train_names)  # original + 2 augmented copies
    for s in corpus.train + corpus.valid:
        assert s[0] == tokenizer.bos_id and s[-1] == tokenizer.eos_id and len(s) > 50
    assert corpus.skipped == {"corrupt or without notes": 2, "drums only": 1}
    assert [len(s.notes) for s in corpus.valid_scores] == [
        len(score_from_midi(next(folder.rglob(name))).notes) for name in corpus.valid_names]
    again = build_token_corpus(tokenizer, data)
    assert all(np.array_equal(a, b) for a, b in zip(corpus.train, again.train, strict=True))
    plain = build_token_corpus(tokenizer, data, augment=False)
    assert len(plain.train) == len(corpus.train_names)
    assert "train files" in corpus.describe()


def test_every_lstm_recipe_loads() -> None:
    from gansynth.config import SequenceExperimentConfig, load_config

    recipes = sorted((Path(__file__).resolve().parents[2] / "recipes").glob("lstm_*.yaml"))
    assert len(recipes) >= 2
    for recipe in recipes:
        config = load_config(SequenceExperimentConfig, recipe)
        assert config.model.hidden_size > 0, recipe


def test_velocity_augmentation_scales_and_jitters(example_midi: list[Path]) -> None:
    score = score_from_midi(example_midi[0])
    rng = np.random.default_rng(1)
    plain = augment_score(score, np.random.default_rng(1), (0, 0), (1.0, 1.0), (21, 108))
    assert [n.velocity for n in plain.notes] == [n.velocity for n in score.notes]
    levels = []
    for _ in range(20):
        aug = augment_score(score, rng, (0, 0), (1.0, 1.0), (21, 108), (0.5, 1.3), 6)
        ratios = np.array([a.velocity / n.velocity for a, n in zip(aug.notes, score.notes, strict=True)])
        assert all(1 <= a.velocity <= 127 for a in aug.notes)
        assert 0.5 - 7 / 90 <= ratios.min() and ratios.max() <= 1.3 + 7 / 90
        assert len({a.velocity for a in aug.notes}) > 1  # the jitter is per note
        levels.append(float(np.median(ratios)))
    assert max(levels) - min(levels) > 0.3  # the scale is per copy
    with pytest.raises(ConfigError):
        SequenceDataConfig(velocity_scale=(1.2, 1.0))
    with pytest.raises(ConfigError):
        SequenceDataConfig(velocity_jitter=-1)
