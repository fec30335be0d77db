"""Training of the note classifier (`gansynth train-classifier`): features of an NSynth-style
dataset's notes, a plain seeded Adam loop on the train split, the epoch with the best validation
accuracy kept, and held-out test accuracies (on instruments it never saw, with the GM builder's
split by instrument) stored in the file."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gansynth import checks
from gansynth.classifier import Classifier, NoteClassifier, export_classifier, note_features
from gansynth.config import NSYNTH_FAMILIES, DataConfig
from gansynth.errors import BadInputError


@dataclass
class NoteSet:
    """Features (N, 1, 8, 512), pitch class (N,) (pitch - pitch_min), family index (N,), and the
    instrument of each note."""

    features: torch.Tensor
    pitch: torch.Tensor
    family: torch.Tensor
    instruments: list[str]


def read_split(dataset: str | os.PathLike[str], split: str, pitch_min: int, pitch_max: int,
               progress: bool = True) -> NoteSet:
    """The notes of `split` (the dataset's splits.csv) with pitch in range, as features."""
    from tqdm import tqdm

    from gansynth.data.notes import select_notes
    from gansynth.data.sources import open_source

    source = open_source(dataset)
    selection = DataConfig(path=str(dataset), split=split, pitch_min=pitch_min, pitch_max=pitch_max)
    chosen, _ = select_notes(source.notes, selection, Path(dataset))
    if not chosen:
        raise BadInputError(f"{dataset}: no notes in split {split!r} with pitch {pitch_min}..{pitch_max}")
    features = []
    for start in tqdm(range(0, len(chosen), 256), desc=f"features ({split})", disable=not progress,
                      leave=False):
        batch = np.stack([source.load_audio(i) for i in chosen[start:start + 256]])
        features.append(note_features(batch))
    notes = [source.notes[i] for i in chosen]
    return NoteSet(torch.cat(features), torch.tensor([m.pitch - pitch_min for m in notes]),
                   torch.tensor([NSYNTH_FAMILIES.index(m.instrument_family_str) for m in notes]),
                   [m.instrument_str for m in notes])


@torch.no_grad()
def accuracies(model: NoteClassifier, notes: NoteSet) -> tuple[float, float]:
    """(pitch accuracy, family accuracy) of the model on `notes`."""
    model.eval()
    hits_p = hits_f = 0
    for start in range(0, len(notes.pitch), 256):
        logits_p, logits_f, _ = model(notes.features[start:start + 256])
        hits_p += int((logits_p.argmax(-1) == notes.pitch[start:start + 256]).sum())
        hits_f += int((logits_f.argmax(-1) == notes.family[start:start + 256]).sum())
    return hits_p / len(notes.pitch), hits_f / len(notes.pitch)


def train_classifier(dataset: str | os.PathLike[str], out: str | os.PathLike[str], epochs: int = 8,
                     batch_size: int = 64, lr: float = 2e-3, seed: int = 0, pitch_min: int = 24,
                     pitch_max: int = 84, progress: bool = True,
                     on_epoch: Callable[[int, float, float, float], None] | None = None) -> Classifier:
    """Train on the dataset's train split, keep the epoch with the best valid pitch + family
    accuracy, measure the test split, write the classifier file to `out` and return it.
    on_epoch(epoch, train loss, valid pitch accuracy, valid family accuracy) reports progress."""
    from gansynth.io import check_output

    epochs = checks.whole(epochs, "epochs", 1, 1000)
    batch_size = checks.whole(batch_size, "batch size", 1, 4096)
    lr = checks.finite(lr, "learning rate", above=0.0, high=1.0)
    check_output(out, (".pt",), "classifier file")
    torch.manual_seed(checks.seed(seed))
    train = read_split(dataset, "train", pitch_min, pitch_max, progress)
    valid = read_split(dataset, "valid", pitch_min, pitch_max, progress)
    test = read_split(dataset, "test", pitch_min, pitch_max, progress)
    model = NoteClassifier(pitch_max - pitch_min + 1, len(NSYNTH_FAMILIES))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * ((len(train.pitch) + batch_size - 1) // batch_size))
    generator = torch.Generator().manual_seed(seed)
    best, best_state = -1.0, copy.deepcopy(model.state_dict())
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train.pitch), generator=generator)
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            logits_p, logits_f, _ = model(train.features[idx])
            loss = F.cross_entropy(logits_p, train.pitch[idx]) + F.cross_entropy(logits_f, train.family[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss) * len(idx)
        pitch_acc, family_acc = accuracies(model, valid)
        if on_epoch is not None:
            on_epoch(epoch, total / len(order), pitch_acc, family_acc)
        if pitch_acc + family_acc > best:
            best, best_state = pitch_acc + family_acc, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    test_pitch, test_family = accuracies(model, test)
    valid_pitch, valid_family = accuracies(model, valid)
    metrics = {"test_pitch_accuracy": test_pitch, "test_family_accuracy": test_family,
               "valid_pitch_accuracy": valid_pitch, "valid_family_accuracy": valid_family,
               "train_notes": float(len(train.pitch)), "valid_notes": float(len(valid.pitch)),
               "test_notes": float(len(test.pitch)), "test_instruments": float(len(set(test.instruments))),
               "epochs": float(epochs)}
    classifier = Classifier(model.eval(), pitch_min, pitch_max, NSYNTH_FAMILIES, metrics)
    export_classifier(out, classifier)
    return classifier
