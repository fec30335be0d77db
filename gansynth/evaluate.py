"""Evaluation of a note model: pitch accuracy with pyin, side by side with real notes
(the library behind `gansynth evaluate` and the model card in docs/models.md). Every function
takes the sample rate of the audio it measures: the model's `SpectralConfig` decides it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gansynth import checks
from gansynth.checkpoint import GeneratorModel, load_model
from gansynth.classifier import Classifier
from gansynth.errors import BadInputError
from gansynth.io import atomic_path, check_output

MAX_NOTES = 10_000  # notes measured on each side
# pyin search range: MIDI 22 (29 Hz) .. 96 (2093 Hz), wider than the 24..84 of the models so that
# octave errors show up as misses rather than being clipped away
PYIN_MIDI_RANGE = (22, 96)


def measured_pitch(audio: np.ndarray, sample_rate: int, start_s: float = 0.1,
                   end_s: float = 1.1) -> float | None:
    """Median pyin f0 (in MIDI pitch, fractional) over the voiced frames of [start_s, end_s);
    None when fewer than 3 frames are voiced. audio: (samples,) float at `sample_rate` Hz."""
    import librosa

    segment = np.asarray(audio[int(start_s * sample_rate):int(end_s * sample_rate)], dtype=np.float32)
    f0, voiced, _ = librosa.pyin(segment, fmin=float(librosa.midi_to_hz(PYIN_MIDI_RANGE[0])),
                                 fmax=float(librosa.midi_to_hz(PYIN_MIDI_RANGE[1])), sr=sample_rate,
                                 frame_length=2048, resolution=0.25)
    if int(voiced.sum()) < 3:
        return None
    return float(np.median(librosa.hz_to_midi(f0[voiced])))


@dataclass(frozen=True)
class PitchReport:
    """Fraction of notes whose measured pitch is within `tolerance` semitones of the asked one."""

    hits: int
    total: int
    unvoiced: int
    tolerance: float
    pitches: tuple[int, ...] = ()  # asked pitch of every note
    missed: tuple[int, ...] = ()  # asked pitch of every miss (unvoiced ones included)

    @property
    def accuracy(self) -> float:
        return self.hits / self.total if self.total else 0.0


def pitch_report(audios: Sequence[np.ndarray], pitches: Sequence[int], sample_rate: int,
                 tolerance: float = 0.5, desc: str | None = None) -> PitchReport:
    """pyin over each note; an unvoiced note counts as a miss. `desc` shows a progress bar."""
    from tqdm import tqdm

    hits = unvoiced = 0
    missed: list[int] = []
    pairs = list(zip(audios, pitches, strict=True))
    for audio, pitch in tqdm(pairs, desc=desc, disable=desc is None):
        measured = measured_pitch(audio, sample_rate)
        if measured is None:
            unvoiced += 1
        elif abs(measured - pitch) <= tolerance:
            hits += 1
            continue
        missed.append(int(pitch))
    return PitchReport(hits, len(pitches), unvoiced, tolerance, tuple(int(p) for p in pitches), tuple(missed))


def real_notes(dataset: str | os.PathLike[str], pitch_min: int, pitch_max: int, count: int,
               sample_rate: int, note_length: int, split: str | None = None, seed: int = 0
               ) -> tuple[list[np.ndarray], list[int], list[str]]:
    """Up to `count` notes of an NSynth-style dataset with pitch in range (and of `split`),
    drawn at random (seeded), as (note_length,) float32 at `sample_rate`. Returns (audios,
    pitches, note_strs)."""
    from gansynth.config import DataConfig
    from gansynth.data.notes import select_notes

    count = checks.whole(count, "notes", 1, MAX_NOTES)
    seed = checks.seed(seed)
    from gansynth.data.sources import open_source

    source = open_source(dataset, sample_rate=sample_rate, note_length=note_length)
    selection = DataConfig(path=str(dataset), split=split, pitch_min=pitch_min, pitch_max=pitch_max)
    chosen, _ = select_notes(source.notes, selection, Path(dataset))
    if not chosen:
        raise BadInputError(f"{dataset}: no notes with pitch {pitch_min}..{pitch_max}"
                            + (f" in split {split!r}" if split else ""))
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(chosen, size=min(count, len(chosen)), replace=False).tolist())
    return ([source.load_audio(i) for i in picked], [source.notes[i].pitch for i in picked],
            [source.notes[i].note_str for i in picked])


def generated_notes(model_path: str | None, count: int, seed: int = 0
                    ) -> tuple[list[np.ndarray], list[int], GeneratorModel]:
    """`count` notes from the model: pitches spread evenly over its range, one latent per note
    (seeded). Returns (audios, pitches, model)."""
    import torch

    count = checks.whole(count, "notes", 1, MAX_NOTES)
    seed = checks.seed(seed)
    model = load_model(model_path)
    pitches = np.round(np.linspace(model.pitch_min, model.pitch_max, count)).astype(int).tolist()
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(count, model.latent_dim, generator=generator)
    audios: list[np.ndarray] = []
    for start in range(0, count, 16):
        batch = model.generate(z[start:start + 16], torch.tensor(pitches[start:start + 16]))
        audios.extend(batch.cpu().numpy())
    return audios, pitches, model


def comparison_figure(path: str | os.PathLike[str], generated: Sequence[np.ndarray],
                      real: Sequence[np.ndarray], titles: Sequence[str], sample_rate: int) -> None:
    """Two rows of log-magnitude spectrograms (audio at `sample_rate`): generated above, real below.
    Written as PNG; `path` must end in .png."""
    check_output(path, (".png",), "figure")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gansynth.plots import log_spectrogram

    cols = len(generated)
    fig, axes = plt.subplots(2, cols, figsize=(3 * cols, 6), constrained_layout=True, squeeze=False)
    for row, (label, audios) in enumerate((("generated", generated), ("real GM", real))):
        for col, audio in enumerate(audios):
            ax = axes[row][col]
            ax.imshow(log_spectrogram(audio).T, origin="lower", aspect="auto", cmap="magma",
                      extent=(0.0, len(audio) / sample_rate, 0.0, sample_rate / 2000), vmin=-90, vmax=0)
            ax.set_title(f"{label}: {titles[col]}", fontsize=9)
            ax.set_xlabel("s")
            if col == 0:
                ax.set_ylabel("kHz")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=70, format="png")
    plt.close(fig)


# ---------------------------------------------------------------------------------------------
# the whole report: classifier metrics, pyin and signal checks, generated beside real


@dataclass(frozen=True)
class SideReport:
    """The figures of one set of notes (docs/evaluation.md). For the generated side, `fid` and
    `ndb` compare it with the real notes; for the real side they are the real-vs-real baseline
    (held-out real notes against the same number of training-split real notes), or None when
    the dataset has no other split to compare with."""

    notes: int
    pitch_accuracy: float
    pitch_entropy: float
    family_entropy: float
    fid: float | None
    ndb: int | None
    ndb_k: int
    pyin_accuracy: float
    pyin_notes: int
    pyin_by_octave: dict[str, float]
    hiband_energy: float
    release_level: float
    spectral_flatness: float


def pyin_by_octave(report: PitchReport, pitch_min: int, pitch_max: int) -> dict[str, float]:
    """Share of hits per octave band of 12 pitches from pitch_min ("24-35": 0.5, ...); bands
    without notes are left out."""
    out = {}
    for low in range(pitch_min, pitch_max + 1, 12):
        high = min(low + 11, pitch_max)
        total = sum(low <= p <= high for p in report.pitches)
        misses = sum(low <= p <= high for p in report.missed)
        if total:
            out[f"{low}-{high}"] = (total - misses) / total
    return out


def note_embeddings(classifier: Classifier, audios: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(classifier embeddings (N, 256), NDB features (N, 4096): the flattened log-mel features)
    of audios (N, samples) at 16 kHz."""
    from gansynth.classifier import note_features

    features = note_features(audios)
    return classifier.classify_features(features)[2], features.flatten(1).double().numpy()


def set_distance(reference: tuple[np.ndarray, np.ndarray], other: tuple[np.ndarray, np.ndarray],
                 ndb_k: int = 50, seed: int = 0) -> tuple[float, int, int]:
    """(FID in the classifier's embedding, NDB, bins) of `other` against `reference`, each given
    as `note_embeddings`; NDB's bins are k-means clusters of the reference's features."""
    from gansynth import metrics

    result = metrics.ndb(reference[1], other[1], k=ndb_k, seed=seed)
    return metrics.frechet_distance(reference[0], other[0]), result.ndb, result.k


def side_report(classifier: Classifier, audios: np.ndarray, pitches: Sequence[int],
                sample_rate: int, pyin_notes: int, desc: str | None = None
                ) -> tuple[SideReport, tuple[np.ndarray, np.ndarray]]:
    """The figures of one set of notes, audios (N, samples) at `sample_rate` (16 kHz for the
    classifier) with their asked pitches; FID and NDB are left None (see `set_distance`).
    Also returns the set's `note_embeddings`, so the classifier runs once per set."""
    from gansynth import metrics
    from gansynth.classifier import note_features

    labels = np.asarray(pitches) - classifier.pitch_min
    features = note_features(audios)
    pitch_probs, family_probs, embeddings = classifier.classify_features(features)
    # pyin is slow: it tracks `pyin_notes` notes spread evenly over the set (generated sets are
    # ordered by pitch, so the first ones would all be low notes)
    pick = np.unique(np.round(np.linspace(0, len(audios) - 1, min(pyin_notes, len(audios)))).astype(int))
    pyin = pitch_report([audios[i] for i in pick], [pitches[i] for i in pick], sample_rate, desc=desc)
    report = SideReport(
        notes=len(audios), pitch_accuracy=metrics.pitch_accuracy(pitch_probs, labels),
        pitch_entropy=metrics.pitch_entropy(pitch_probs),
        family_entropy=metrics.pitch_entropy(family_probs), fid=None, ndb=None, ndb_k=0,
        pyin_accuracy=pyin.accuracy, pyin_notes=pyin.total,
        pyin_by_octave=pyin_by_octave(pyin, classifier.pitch_min, classifier.pitch_max),
        hiband_energy=float(np.mean(metrics.hiband_energy(audios, sample_rate))),
        release_level=float(np.mean(metrics.release_level_db(audios, sample_rate))),
        spectral_flatness=float(np.mean(metrics.spectral_flatness_db(audios, sample_rate))))
    return report, (embeddings, features.flatten(1).double().numpy())
