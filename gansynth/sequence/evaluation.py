"""Held-out perplexity (model, unigram and bigram baselines) and score statistics.

Perplexity is exp(mean negative log-likelihood per token) over every token after the leading
BOS of each held-out stream (EOS included), each stream read from the start; the baselines
predict exactly the same tokens:

- unigram: add-one smoothed token frequencies of the training streams;
- bigram: P(t | prev) = (count(prev, t) + mu * P_unigram(t)) / (count(prev) + mu), mu = 1.

Score statistics of a set of pieces (`gansynth.score.Score`s, pitched notes only):

- pitch-class histogram (12 bins, notes counted once) and its total-variation distance
  0.5 * sum |p - q| between two sets (0: identical, 1: disjoint);
- note density: notes per second of music (first onset to last release, summed over pieces);
- polyphony: mean number of notes sounding, weighted by time, over the time when any sounds;
- velocity: mean and standard deviation over all notes (the dynamics a corpus carries).

`evaluate_sequence_model` puts it together (`gansynth evaluate-sequence`); `primer_study`
measures how continuations follow a primer's dynamics (in-key share across primer velocities)
and tempo (median gap between onsets, `gansynth evaluate-sequence --primer`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.nn import functional as F

from gansynth.score import Note, Score, median_onset_gap, score_from_notes
from gansynth.sequence.corpus import TokenCorpus
from gansynth.sequence.export import SequenceModel
from gansynth.sequence.model import LstmLanguageModel


@torch.no_grad()
def model_perplexity(model: LstmLanguageModel, streams: Sequence[np.ndarray]) -> float:
    """Perplexity of the model on full streams (each (T,) int, starting with BOS)."""
    model.eval()
    device = next(model.parameters()).device
    nll, count = 0.0, 0
    for s in streams:
        ids = torch.as_tensor(np.asarray(s), dtype=torch.long, device=device)[None]  # (1, T)
        logits, _ = model(ids[:, :-1])  # (1, T - 1, V)
        nll += float(F.cross_entropy(logits[0], ids[0, 1:], reduction="sum"))
        count += ids.shape[1] - 1
    return math.exp(nll / max(count, 1))


def _unigram(train: Sequence[np.ndarray], vocab_size: int) -> np.ndarray:
    counts = np.ones(vocab_size)
    for s in train:
        counts += np.bincount(np.asarray(s[1:]), minlength=vocab_size)
    return counts / counts.sum()


def unigram_perplexity(train: Sequence[np.ndarray], valid: Sequence[np.ndarray],
                       vocab_size: int) -> float:
    """Perplexity of add-one smoothed token frequencies of `train` on `valid`."""
    log_p = np.log(_unigram(train, vocab_size))
    targets = np.concatenate([np.asarray(s[1:]) for s in valid])
    return float(np.exp(-log_p[targets].mean()))


def bigram_perplexity(train: Sequence[np.ndarray], valid: Sequence[np.ndarray], vocab_size: int,
                      mu: float = 1.0) -> float:
    """Perplexity of a bigram model (Dirichlet-smoothed towards the unigram) on `valid`."""
    unigram = _unigram(train, vocab_size)
    pairs = np.zeros((vocab_size, vocab_size))
    for s in train:
        s = np.asarray(s)
        np.add.at(pairs, (s[:-1], s[1:]), 1.0)
    probs = (pairs + mu * unigram[None]) / (pairs.sum(axis=1, keepdims=True) + mu)
    prev = np.concatenate([np.asarray(s[:-1]) for s in valid])
    nxt = np.concatenate([np.asarray(s[1:]) for s in valid])
    return float(np.exp(-np.log(probs[prev, nxt]).mean()))


@dataclass(frozen=True)
class ScoreStats:
    """Statistics of a set of pieces: pitch_classes (12,) sums to 1; density in notes / s;
    polyphony in sounding notes; notes and seconds in total; velocity mean and deviation over
    all notes."""

    pitch_classes: np.ndarray
    density: float
    polyphony: float
    notes: int
    seconds: float
    velocity_mean: float = 0.0
    velocity_std: float = 0.0


def _note_arrays(score: Score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, pitch) of the pitched notes of `score`: (N,) float64 s, float64 s, int64."""
    notes = score.pitched_notes()
    return (np.array([n.start_s for n in notes], np.float64),
            np.array([n.end_s for n in notes], np.float64),
            np.array([n.pitch for n in notes], np.int64))


def _sounding_time(start: np.ndarray, end: np.ndarray) -> tuple[float, float]:
    """(integral of the number of sounding notes over time, time with >= 1 note sounding), in s,
    of notes from start to end (both (N,) s)."""
    times = np.concatenate([start, end])
    steps = np.concatenate([np.ones(len(start)), -np.ones(len(start))])
    order = np.lexsort((steps, times))  # releases before onsets at equal times
    times, steps = times[order], steps[order]
    count = np.cumsum(steps)[:-1]  # notes sounding on each segment
    lengths = np.diff(times)
    return float((count * lengths).sum()), float(lengths[count > 0].sum())


def score_stats(pieces: Sequence[Score]) -> ScoreStats:
    """Pitch-class histogram, note density and polyphony of pieces taken together (drum notes
    left out)."""
    histogram = np.zeros(12)
    notes, seconds, weighted, sounding = 0, 0.0, 0.0, 0.0
    velocities = np.array([n.velocity for piece in pieces for n in piece.pitched_notes()], np.float64)
    for piece in pieces:
        start, end, pitch = _note_arrays(piece)
        if len(pitch) == 0:
            continue
        histogram += np.bincount(pitch % 12, minlength=12)
        notes += len(pitch)
        seconds += float(end.max() - start.min())
        w, t = _sounding_time(start, end)
        weighted += w
        sounding += t
    total = histogram.sum()
    return ScoreStats(pitch_classes=histogram / total if total else histogram,
                      density=notes / seconds if seconds else 0.0,
                      polyphony=weighted / sounding if sounding else 0.0,
                      notes=notes, seconds=seconds,
                      velocity_mean=float(velocities.mean()) if len(velocities) else 0.0,
                      velocity_std=float(velocities.std()) if len(velocities) else 0.0)


def pitch_class_distance(a: ScoreStats, b: ScoreStats) -> float:
    """Total-variation distance between the two pitch-class histograms, in [0, 1]."""
    return 0.5 * float(np.abs(a.pitch_classes - b.pitch_classes).sum())


@dataclass(frozen=True)
class EvaluationReport:
    """What `evaluate_sequence_model` measured; `format()` gives the side-by-side table.

    held_out / training / generated: statistics of the held-out pieces, of the training streams
    (augmented copies included: what the model learned from) and of the generated pieces.
    """

    valid_files: int
    valid_tokens: int
    model_perplexity: float
    unigram_perplexity: float
    bigram_perplexity: float
    held_out: ScoreStats
    training: ScoreStats
    generated: ScoreStats
    pieces: tuple[int, int, int]

    def format(self) -> str:
        sets = (self.held_out, self.training, self.generated)
        lines = [
            f"{'held-out files / tokens':<30} {self.valid_files} / {self.valid_tokens}",
            f"{'perplexity: LSTM':<30} {self.model_perplexity:.3f}",
            f"{'perplexity: unigram baseline':<30} {self.unigram_perplexity:.3f}",
            f"{'perplexity: bigram baseline':<30} {self.bigram_perplexity:.3f}",
            "",
            f"{'statistic':<30} {'held-out':>10} {'training':>10} {'generated':>10}",
            f"{'pieces':<30}" + "".join(f" {n:>10}" for n in self.pieces),
            f"{'notes':<30}" + "".join(f" {s.notes:>10}" for s in sets),
            f"{'note density (notes/s)':<30}" + "".join(f" {s.density:>10.3f}" for s in sets),
            f"{'polyphony (sounding notes)':<30}" + "".join(f" {s.polyphony:>10.3f}" for s in sets),
            f"{'velocity mean':<30}" + "".join(f" {s.velocity_mean:>10.1f}" for s in sets),
            f"{'velocity deviation':<30}" + "".join(f" {s.velocity_std:>10.1f}" for s in sets),
            f"{'pitch-class TV to held-out':<30} {0.0:>10.3f}"
            f" {pitch_class_distance(self.training, self.held_out):>10.3f}"
            f" {pitch_class_distance(self.generated, self.held_out):>10.3f}",
            f"{'pitch-class TV to training':<30}"
            f" {pitch_class_distance(self.held_out, self.training):>10.3f} {0.0:>10.3f}"
            f" {pitch_class_distance(self.generated, self.training):>10.3f}",
        ]
        return "\n".join(lines)


def evaluate_sequence_model(loaded: SequenceModel, corpus: TokenCorpus, samples: int = 16,
                            seconds: float = 30.0, temperature: float = 1.0,
                            seed: int = 0) -> EvaluationReport:
    """Held-out perplexities (model and baselines) and statistics of `samples` unconditional
    pieces of `seconds` each vs the corpus. Corpus pieces are decoded from their tokens, so every
    column shares the tokenizer's quantization."""
    from gansynth.sequence.sampling import SamplingOptions, continue_tokens

    tokenizer = loaded.tokenizer
    vocab = len(tokenizer)
    options = SamplingOptions(seconds=seconds, temperature=temperature)
    generated = continue_tokens(loaded.model, tokenizer, [], options, num=samples, seed=seed)
    return EvaluationReport(
        valid_files=len(corpus.valid), valid_tokens=corpus.valid_tokens,
        model_perplexity=model_perplexity(loaded.model, corpus.valid),
        unigram_perplexity=unigram_perplexity(corpus.train, corpus.valid, vocab),
        bigram_perplexity=bigram_perplexity(corpus.train, corpus.valid, vocab),
        held_out=score_stats([tokenizer.decode(s) for s in corpus.valid]),
        training=score_stats([tokenizer.decode(s) for s in corpus.train]),
        generated=score_stats([tokenizer.decode(ids) for ids in generated]),
        pieces=(len(corpus.valid), len(corpus.train), samples))


# Krumhansl-Kessler key profiles (probe-tone ratings), C major and C minor
KEY_PROFILES = np.array([
    [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88],
    [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]])
KEY_NAMES = [f"{name} {mode}" for mode in ("major", "minor")
             for name in ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")]


def key_from_histogram(histogram: np.ndarray) -> int:
    """The key (0-11: C..B major, 12-23: C..B minor, see KEY_NAMES) whose Krumhansl-Kessler
    profile correlates best with a (12,) pitch-class histogram; -1 for an empty one."""
    if not histogram.any():
        return -1
    scores = [np.corrcoef(histogram, np.roll(KEY_PROFILES[mode], tonic))[0, 1]
              for mode in (0, 1) for tonic in range(12)]
    return int(np.nanargmax(scores))


def estimate_key(notes: Sequence[Note]) -> int:
    """The key (see `key_from_histogram`) of the duration-weighted pitch-class histogram of
    `notes` (Krumhansl-Schmuckler); -1 without notes."""
    histogram = np.zeros(12)
    for n in notes:
        histogram[n.pitch % 12] += max(n.end_s - n.start_s, 1e-3)
    return key_from_histogram(histogram)


def _restyled(primer: Score, velocity: int | None = None, qpm: float | None = None) -> Score:
    """The primer with every velocity set to `velocity` and / or its beats played at `qpm`."""
    tempo = qpm or primer.qpm

    def at(seconds: float) -> float:
        return primer.beats(seconds) * 60.0 / tempo if qpm else seconds

    notes = [replace(n, velocity=velocity or n.velocity, start_s=at(n.start_s), end_s=at(n.end_s))
             for n in primer.pitched_notes()]
    return score_from_notes(notes, path=primer.path, tempos=[(0.0, tempo)])


@dataclass(frozen=True)
class PrimerStudy:
    """How continuations follow a primer's dynamics and tempo (`primer_study`).

    by_velocity: (velocity, in-key share with dynamics matching, without) per primer velocity;
    by_tempo: (qpm, primer's median onset gap s, continuations' median gap s with pace
    matching, without) per tempo.
    """

    key: str
    samples: int
    by_velocity: list[tuple[int, float, float]]
    by_tempo: list[tuple[float, float, float, float]]
    random_in_key: float = math.nan

    def format(self) -> str:
        lines = [f"primer key (Krumhansl-Schmuckler): {self.key}; {self.samples} continuations per row",
                 f"baselines: random notes of the primer's scale, in key {self.random_in_key:.3f}; "
                 "the primer repeated, in key 1.000 and gap ratio 1.00 by construction",
                 "", f"{'primer velocity':<18} {'in key (matched)':>18} {'in key (as is)':>16}"]
        lines += [f"{v:<18} {a:>18.3f} {b:>16.3f}" for v, a, b in self.by_velocity]
        lines += ["", f"{'primer tempo (bpm)':<20} {'primer gap (s)':>15} {'continuation gap (s)':>21} "
                  f"{'ratio':>7} {'ratio (as is)':>14}"]
        lines += [f"{q:<20g} {p:>15.3f} {c:>21.3f} {c / p:>7.2f} {a / p:>14.2f}" for q, p, c, a in self.by_tempo]
        return "\n".join(lines)


def primer_study(loaded: SequenceModel, primer: Score, velocities: Sequence[int] = (50, 70, 90, 110),
                 tempos: Sequence[float] = (60.0, 90.0, 120.0, 180.0), samples: int = 8,
                 seconds: float = 20.0, temperature: float = 1.0, seed: int = 0) -> PrimerStudy:
    """Continue the primer played at each velocity (every note at it), with and without dynamics
    matching (`compose`'s match_dynamics), and at each tempo (its beats at that bpm), with and
    without pace matching (match_pace). A continuation is in key when its estimated key equals
    the primer's; the tempo rows compare median gaps between onsets of the primer and of the
    continuations (notes after the primer)."""
    from gansynth.sequence.compose import compose
    from gansynth.sequence.sampling import SamplingOptions

    options = SamplingOptions(seconds=seconds, temperature=temperature)
    key = estimate_key(primer.pitched_notes())

    def continuations(piece: Score, match: bool, pace: bool = True) -> list[list[Note]]:
        scores = compose(loaded, options, primer=piece, num=samples, seed=seed, match_dynamics=match,
                         match_pace=pace)
        end = piece.end_s - 1e-6
        return [[n for n in s.notes if n.start_s >= end] for s in scores]

    by_velocity = []
    for velocity in velocities:
        piece = _restyled(primer, velocity=velocity)
        shares = [float(np.mean([estimate_key(c) == key for c in continuations(piece, match)]))
                  for match in (True, False)]
        by_velocity.append((int(velocity), shares[0], shares[1]))
    by_tempo = []
    for qpm in tempos:
        piece = _restyled(primer, qpm=qpm)
        gaps = [float(np.nanmedian([median_onset_gap(c) for c in continuations(piece, True, pace)]))
                for pace in (True, False)]
        by_tempo.append((float(qpm), median_onset_gap(piece.pitched_notes()), gaps[0], gaps[1]))
    return PrimerStudy(KEY_NAMES[key] if key >= 0 else "none", samples, by_velocity, by_tempo,
                       random_in_key=random_scale_in_key(primer, key, samples, seconds, seed))


MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)  # natural minor


def random_scale_in_key(primer: Score, key: int, samples: int, seconds: float, seed: int) -> float:
    """The baseline of `primer_study`: the share of `samples` pieces of random notes, drawn
    uniformly from the primer's scale (the estimated key's major or natural minor scale) within
    the primer's pitch range, one at a time at the primer's median onset gap for `seconds`,
    whose estimated key is the primer's."""
    if key < 0:
        return math.nan
    pitches = [n.pitch for n in primer.pitched_notes()]
    scale = MAJOR_SCALE if key < 12 else MINOR_SCALE
    allowed = [p for p in range(min(pitches), max(pitches) + 1) if (p - key % 12) % 12 in scale]
    gap = median_onset_gap(primer.pitched_notes())
    gap = gap if math.isfinite(gap) and gap > 0 else 0.5
    count = max(1, int(seconds / gap))
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(samples):
        chosen = rng.choice(allowed, count)
        notes = [Note(int(p), 90, i * gap, (i + 1) * gap) for i, p in enumerate(chosen)]
        hits += estimate_key(notes) == key
    return hits / samples
