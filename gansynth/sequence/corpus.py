"""A MIDI folder -> scores -> file-level train/valid split -> augmented token streams.

The split is by file (never by window), fixed by `data.split_seed`, so every window of a held-out
piece stays held out. Augmented copies of each training file are transposed by a whole number of
semitones (kept inside the pitch range) and stretched in time by a random factor; the validation
streams are never augmented. Each stream is ``BOS tokens... EOS`` (np.int64).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gansynth.config import SequenceDataConfig
from gansynth.errors import BadInputError
from gansynth.score import Score, score_from_midi, score_from_notes
from gansynth.sequence.tokenizer import EventTokenizer

MIDI_SUFFIXES = (".mid", ".midi")


def find_midi_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Every .mid / .midi file under `folder` (recursive, any case), sorted."""
    root = Path(folder)
    if not root.is_dir():
        raise BadInputError(f"{root}: MIDI folder not found (for the built-in corpus, build it "
                            "there with `gansynth corpus build-music21`)")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


@dataclass
class MidiFolder:
    """The readable pieces of a folder: names relative to it, their scores, skips by reason."""

    names: list[str]
    pieces: list[Score]
    skipped: Counter[str] = field(default_factory=Counter)


def read_midi_folder(folder: str | os.PathLike[str], max_files: int = 0) -> MidiFolder:
    """Read every MIDI file of `folder` (progress bar); corrupt, empty and drums-only files are
    skipped and counted. max_files: read at most this many (0: all)."""
    root = Path(folder)
    paths = find_midi_files(root)[: max_files or None]
    if not paths:
        raise BadInputError(f"{root}: no .mid or .midi files found")
    out = MidiFolder([], [])
    for path in tqdm(paths, desc="reading MIDI", unit="file", disable=len(paths) < 50):
        try:
            score = score_from_midi(path)
        except BadInputError:
            out.skipped["corrupt or without notes"] += 1
            continue
        if not score.pitched_notes():
            out.skipped["drums only"] += 1
            continue
        out.names.append(path.relative_to(root).as_posix())
        out.pieces.append(score)
    if len(out.pieces) < 2:
        raise BadInputError(f"{root}: {len(out.pieces)} readable MIDI file(s) with notes; need at "
                            "least 2 (one for training, one for validation)")
    return out


def split_files(count: int, valid_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, valid) of a seeded file-level split; each side gets at least one file."""
    order = np.random.default_rng(seed).permutation(count)
    n_valid = min(count - 1, max(1, int(round(count * valid_fraction))))
    return sorted(order[n_valid:].tolist()), sorted(order[:n_valid].tolist())


def augment_score(score: Score, rng: np.random.Generator, transpose: tuple[int, int],
                  tempo_stretch: tuple[float, float], pitch_range: tuple[int, int],
                  velocity_scale: tuple[float, float] = (1.0, 1.0), velocity_jitter: int = 0) -> Score:
    """A randomly transposed and time-stretched copy of the pitched notes of `score` (drums
    dropped): every pitch moves by one whole number of semitones drawn from `transpose` (kept
    inside pitch_range when possible), every start and end time is multiplied by one factor
    drawn from `tempo_stretch`. The tempo map is kept, so onsets and durations in beats scale by
    the same factor (as they did on the old absolute clock for a 120 bpm corpus).

    Velocities (only drawn when asked, so corpora without it stay as they were): every velocity
    is multiplied by one factor drawn from `velocity_scale`, then each note's moves by its own
    whole number drawn from -velocity_jitter..velocity_jitter, kept in 1..127."""
    notes = score.pitched_notes()
    if not notes:
        return score_from_notes((), path=score.path)
    pitches = [n.pitch for n in notes]
    low = max(transpose[0], pitch_range[0] - min(pitches))
    high = min(transpose[1], pitch_range[1] - max(pitches))
    shift = int(rng.integers(low, high + 1)) if low <= high else 0
    stretch = float(rng.uniform(*tempo_stretch))
    velocities = [n.velocity for n in notes]
    if velocity_scale != (1.0, 1.0) or velocity_jitter:
        factor = float(rng.uniform(*velocity_scale))
        jitter = rng.integers(-velocity_jitter, velocity_jitter + 1, len(notes))
        velocities = np.clip(np.round(np.array(velocities) * factor) + jitter, 1, 127).astype(int).tolist()
    moved = [replace(n, pitch=n.pitch + shift, start_s=n.start_s * stretch, end_s=n.end_s * stretch,
                     velocity=v) for n, v in zip(notes, velocities, strict=True)]
    names = {t.index: t.name for t in score.tracks}
    return score_from_notes(moved, path=score.path, track_names=names, tempos=score.tempos)


@dataclass
class TokenCorpus:
    """Token streams of a MIDI folder split by file.

    train: streams of the training files and their augmented copies; valid: one stream per
    held-out file (not augmented); *_names: file names (relative to the folder) per piece;
    valid_scores: the held-out pieces as read.
    """

    train: list[np.ndarray]
    valid: list[np.ndarray]
    train_names: list[str]
    valid_names: list[str]
    valid_scores: list[Score]
    skipped: Counter[str]

    @property
    def train_tokens(self) -> int:
        return int(sum(len(s) for s in self.train))

    @property
    def valid_tokens(self) -> int:
        return int(sum(len(s) for s in self.valid))

    def describe(self) -> str:
        skipped = ", ".join(f"{n} {why}" for why, n in sorted(self.skipped.items())) or "none"
        return (f"{len(self.train_names)} train files ({len(self.train)} streams with augmentation, "
                f"{self.train_tokens} tokens), {len(self.valid_names)} valid files "
                f"({self.valid_tokens} tokens); skipped: {skipped}")


def stream(tokenizer: EventTokenizer, score: Score) -> np.ndarray:
    """``BOS + encode(score) + EOS`` as an int64 array of shape (T,)."""
    return np.asarray([tokenizer.bos_id, *tokenizer.encode(score), tokenizer.eos_id], np.int64)


def build_token_corpus(tokenizer: EventTokenizer, data: SequenceDataConfig,
                       midi_dir: str | os.PathLike[str] | None = None,
                       augment: bool = True) -> TokenCorpus:
    """Read, split, augment and tokenize a MIDI folder (`data.midi_dir` unless `midi_dir`).

    augment: False skips the augmented copies (the originals are still in `train`).
    """
    folder = read_midi_folder(midi_dir if midi_dir is not None else data.midi_dir, data.max_files)
    train_idx, valid_idx = split_files(len(folder.pieces), data.valid_fraction, data.split_seed)
    rng = np.random.default_rng(data.split_seed + 1)
    pitch_range = (tokenizer.config.pitch_low, tokenizer.config.pitch_high)
    copies = data.augment_copies if augment else 0
    train: list[np.ndarray] = []
    for i in tqdm(train_idx, desc="tokenizing train", unit="file", disable=len(train_idx) < 50):
        train.append(stream(tokenizer, folder.pieces[i]))
        for _ in range(copies):
            piece = augment_score(folder.pieces[i], rng, data.transpose, data.tempo_stretch,
                                  pitch_range, data.velocity_scale, data.velocity_jitter)
            train.append(stream(tokenizer, piece))
    valid = [stream(tokenizer, folder.pieces[i]) for i in valid_idx]
    return TokenCorpus(train=[s for s in train if len(s) > 2], valid=[s for s in valid if len(s) > 2],
                       train_names=[folder.names[i] for i in train_idx],
                       valid_names=[folder.names[i] for i in valid_idx],
                       valid_scores=[folder.pieces[i] for i in valid_idx], skipped=folder.skipped)
