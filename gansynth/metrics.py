"""Metric functions of the paper-style evaluation (issue 12), pure NumPy: Frechet distance of
feature sets, NDB (number of statistically different bins), pitch entropy and accuracy of
classifier outputs, and signal checks on note audio. No I/O, no models, no downloads; the
caller extracts features (classifier embeddings, log spectrograms) and passes arrays.

Definitions, units and known limits: docs/evaluation.md, section "Metrics"."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gansynth.errors import BadInputError

TINY_POWER = 1e-12  # mean-square level of silence (-120 dB re full scale)


class MetricInputError(BadInputError, ValueError):
    """An input a metric cannot measure (too few samples, wrong shape, non-finite values).
    Also a ValueError, so that callers outside the project can catch it as one."""


# -- Frechet distance ------------------------------------------------------------------------


def gaussian_frechet(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray,
                     cov_b: np.ndarray) -> float:
    """Frechet (2-Wasserstein squared) distance between N(mu_a, cov_a) and N(mu_b, cov_b):
    ||mu_a - mu_b||^2 + Tr(cov_a + cov_b - 2 (cov_a cov_b)^(1/2)).

    mu_*: (D,); cov_*: (D, D) symmetric positive semi-definite. Units: squared feature units.
    Tr((A B)^(1/2)) is computed as Tr((A^(1/2) B A^(1/2))^(1/2)) (same eigenvalues), a
    symmetric PSD matrix whose eigenvalues are real: no complex sqrtm, tiny negative
    eigenvalues from rounding are clipped to 0, and so is a result of -1e-12."""
    mu_a, mu_b = _vector(mu_a, "mu_a"), _vector(mu_b, "mu_b")
    cov_a, cov_b = _square(cov_a, "cov_a"), _square(cov_b, "cov_b")
    dims = {mu_a.shape[0], mu_b.shape[0], cov_a.shape[0], cov_b.shape[0]}
    if len(dims) != 1:
        raise MetricInputError(f"Frechet distance: dimensions differ (mu_a {mu_a.shape}, "
                               f"cov_a {cov_a.shape}, mu_b {mu_b.shape}, cov_b {cov_b.shape})")
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a  # (D, D), symmetric PSD
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_root = float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())
    diff = mu_a - mu_b
    distance = float(diff @ diff) + float(np.trace(cov_a) + np.trace(cov_b)) - 2.0 * trace_root
    if not math.isfinite(distance):
        raise MetricInputError("Frechet distance is not finite: the covariances overflow float64; "
                               "scale the features down")
    return max(distance, 0.0)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID-style distance between two feature sets: the Frechet distance of the Gaussians fitted
    to them (sample mean, sample covariance with N - 1).

    features_a: (N, D), features_b: (M, D), N, M >= 2 (D may exceed N: the covariance is then
    singular, which the closed form handles, but the estimate is biased upwards: use
    N >> D). Returns squared feature units; 0 for identical sets; symmetric."""
    a = _features(features_a, "features_a", least=2)
    b = _features(features_b, "features_b", least=2)
    if a.shape[1] != b.shape[1]:
        raise MetricInputError(f"Frechet distance: feature sizes differ ({a.shape[1]} vs "
                               f"{b.shape[1]}); extract both sets with the same network")
    return gaussian_frechet(a.mean(axis=0), np.atleast_2d(np.cov(a, rowvar=False)),
                            b.mean(axis=0), np.atleast_2d(np.cov(b, rowvar=False)))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (D, D) via eigh; negative rounding
    eigenvalues are clipped to 0."""
    eigenvalues, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ vectors.T


# -- NDB: number of statistically different bins ---------------------------------------------


@dataclass(frozen=True)
class NDBResult:
    """NDB of a generated set against a real one. Arrays have length k (one entry per bin)."""

    ndb: int  # bins whose real and generated shares differ at level alpha
    k: int  # bins used (the asked k, clamped to the number of real samples)
    ndb_over_k: float  # ndb / k: 0 is best; alpha is what two samples of one distribution get
    real_share: np.ndarray  # (k,) fraction of real samples in each bin, sums to 1
    generated_share: np.ndarray  # (k,) fraction of generated samples in each bin, sums to 1
    p_values: np.ndarray  # (k,) two-sided p-values of the two-proportion z-test


def ndb(real: np.ndarray, generated: np.ndarray, k: int = 50, alpha: float = 0.05,
        seed: int = 0) -> NDBResult:
    """NDB (Richardson & Weiss 2018, "On GANs and GMMs"): cluster the real samples into k bins
    with k-means, put each generated sample in the bin of its nearest centroid, and count the
    bins where a two-proportion z-test (pooled proportion, two-sided) rejects equal shares at
    level alpha.

    real: (N, D), generated: (M, D) feature vectors (e.g. flattened log-magnitude
    spectrograms), same D, finite. k is clamped to N (k-means cannot make more bins than
    points); NDB needs many samples per bin to have power (the paper: k = 50..200 with
    thousands of samples). The clustering depends on `seed` and is deterministic for it."""
    real_x = _features(real, "real", least=1)
    generated_x = _features(generated, "generated", least=1)
    if real_x.shape[1] != generated_x.shape[1]:
        raise MetricInputError(f"NDB: feature sizes differ (real {real_x.shape[1]}, generated "
                               f"{generated_x.shape[1]})")
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise MetricInputError(f"NDB: k must be a whole number >= 1, got {k!r}")
    if not 0.0 < alpha < 1.0:
        raise MetricInputError(f"NDB: alpha must lie in (0, 1), got {alpha}")
    bins = min(int(k), real_x.shape[0])
    centroids, real_labels = kmeans(real_x, bins, seed=seed)
    generated_labels = nearest_centroid(generated_x, centroids)
    n_real, n_generated = real_x.shape[0], generated_x.shape[0]
    real_share = np.bincount(real_labels, minlength=bins) / n_real  # (k,)
    generated_share = np.bincount(generated_labels, minlength=bins) / n_generated  # (k,)
    p_values = two_proportion_p_values(real_share, n_real, generated_share, n_generated)
    count = int((p_values < alpha).sum())
    return NDBResult(ndb=count, k=bins, ndb_over_k=count / bins, real_share=real_share,
                     generated_share=generated_share, p_values=p_values)


def two_proportion_p_values(share_a: np.ndarray, n_a: int, share_b: np.ndarray,
                            n_b: int) -> np.ndarray:
    """Two-sided p-values of the pooled two-proportion z-test, elementwise.

    share_*: (k,) proportions in [0, 1] out of n_* trials. z = (p_a - p_b) / sqrt(p (1 - p)
    (1/n_a + 1/n_b)) with the pooled p = (n_a p_a + n_b p_b) / (n_a + n_b); p-value =
    erfc(|z| / sqrt(2)). A bin empty (or full) on both sides has no variance: p-value 1."""
    share_a, share_b = np.asarray(share_a, dtype=np.float64), np.asarray(share_b, dtype=np.float64)
    pooled = (n_a * share_a + n_b * share_b) / (n_a + n_b)
    std_error = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    z = np.divide(share_a - share_b, std_error, out=np.zeros_like(pooled), where=std_error > 0)
    return np.array([math.erfc(abs(float(value)) / math.sqrt(2.0)) for value in z])


def kmeans(points: np.ndarray, k: int, seed: int = 0, max_iter: int = 100
           ) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding, then Lloyd iterations until no label changes (or max_iter).

    points: (N, D) with N >= k >= 1. Returns centroids (k, D) float64 and labels (N,) int64.
    Deterministic for a seed. A cluster left empty by an update is moved onto the point
    farthest from its own centroid."""
    x = _features(points, "points", least=1)
    if not 1 <= k <= x.shape[0]:
        raise MetricInputError(f"k-means: k must lie in 1..{x.shape[0]} (the number of points), "
                               f"got {k}")
    rng = np.random.default_rng(seed)
    centroids = _kmeans_plus_plus(x, k, rng)
    labels = np.full(x.shape[0], -1, dtype=np.int64)
    for _ in range(max_iter):
        distances = _squared_distances(x, centroids)  # (N, k)
        new_labels = distances.argmin(axis=1)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        counts = np.bincount(labels, minlength=k)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, x)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
        own = distances[np.arange(x.shape[0]), labels]  # (N,) distance to own centroid
        for empty in np.flatnonzero(~filled):
            farthest = int(own.argmax())
            centroids[empty] = x[farthest]
            own[farthest] = -1.0
    return centroids, labels


def nearest_centroid(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index (N,) int64 of the nearest centroid (Euclidean) for points (N, D), centroids (k, D)."""
    return _squared_distances(np.asarray(points, dtype=np.float64),
                              np.asarray(centroids, dtype=np.float64)).argmin(axis=1)


def _kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ (Arthur & Vassilvitskii 2007): each new centroid is a point drawn with
    probability proportional to its squared distance to the nearest chosen one. (k, D)."""
    centroids = np.empty((k, x.shape[1]), dtype=np.float64)
    centroids[0] = x[rng.integers(x.shape[0])]
    nearest = _squared_distances(x, centroids[:1])[:, 0]  # (N,)
    for index in range(1, k):
        total = float(nearest.sum())
        # all points coincide with chosen centroids (duplicates): any point will do
        chosen = (int(rng.integers(x.shape[0])) if total <= 0.0
                  else int(rng.choice(x.shape[0], p=nearest / total)))
        centroids[index] = x[chosen]
        nearest = np.minimum(nearest, _squared_distances(x, centroids[index:index + 1])[:, 0])
    return centroids


def _squared_distances(x: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (N, k) of x (N, D) to centroids (k, D), clipped at 0."""
    squared = ((x * x).sum(axis=1)[:, None] - 2.0 * (x @ centroids.T)
               + (centroids * centroids).sum(axis=1)[None, :])
    return np.maximum(squared, 0.0)


# -- classifier outputs ----------------------------------------------------------------------


def pitch_entropy(probs: np.ndarray) -> float:
    """Mean over notes of the entropy (nats) of each row of a softmax: -sum_c p log p, with
    0 log 0 = 0. probs: (N, C), rows non-negative summing to 1 (within 1e-3). 0 for one-hot
    rows, ln C for uniform ones; the paper reports it as "PE" (lower: clearer pitch)."""
    p = _probabilities(probs)
    logs = np.log(np.where(p > 0, p, 1.0))
    return float(-(p * logs).sum(axis=1).mean())


def pitch_accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of notes whose most likely class (argmax of probs (N, C)) equals labels (N,),
    integer class indices in 0..C-1. In [0, 1]."""
    p = _probabilities(probs)
    truth = np.asarray(labels)
    if truth.shape != (p.shape[0],) or not np.issubdtype(truth.dtype, np.integer):
        raise MetricInputError(f"pitch accuracy: labels must be ({p.shape[0]},) integers, got "
                               f"{truth.shape} {truth.dtype}")
    if truth.min() < 0 or truth.max() >= p.shape[1]:
        raise MetricInputError(f"pitch accuracy: labels must lie in 0..{p.shape[1] - 1}, got "
                               f"{truth.min()}..{truth.max()}")
    return float((p.argmax(axis=1) == truth).mean())


def _probabilities(probs: np.ndarray) -> np.ndarray:
    p = _features(probs, "probs", least=1)
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, rtol=0.0, atol=1e-3):
        raise MetricInputError("probs must be non-negative rows summing to 1 (a softmax, not "
                               "logits)")
    return p


# -- signal checks on audio ------------------------------------------------------------------
# audio: (samples,) -> float, or (B, samples) -> (B,) float64 array; any float scale (the
# checks are ratios), at `sample_rate` Hz.


def hiband_energy(audio: np.ndarray, sample_rate: int, cutoff_hz: float = 7000.0,
                  n_fft: int = 1024, hop: int = 256) -> float | np.ndarray:
    """Share (0..1) of the note's spectral energy at or above cutoff_hz: one-sided power
    (Parseval weights: interior bins twice, DC and Nyquist once) summed over all STFT frames
    of the whole note (Hann window of n_fft, hop; 64 ms / 16 ms at 16 kHz). 0 for silence.
    White noise gives about (sample_rate / 2 - cutoff_hz) / (sample_rate / 2)."""
    _positive(cutoff_hz, "cutoff_hz")

    def one(note: np.ndarray) -> float:
        spectrogram = _power_spectrogram(note, n_fft, hop)  # (frames, bins)
        if _frame_mean_square(spectrogram).mean() <= TINY_POWER:
            return 0.0
        power = (spectrogram * _one_sided_weights(n_fft)).sum(axis=0)  # (bins,)
        high = _bin_frequencies(n_fft, sample_rate) >= cutoff_hz
        return float(power[high].sum() / power.sum())

    return _per_note(one, audio)


def release_level_db(audio: np.ndarray, sample_rate: int, hold_end_s: float = 3.0,
                     release_s: float = 1.0, tail_s: float = 0.5, held_start_s: float = 0.1,
                     floor_db: float = -120.0) -> float | np.ndarray:
    """Level (dB) of the note's tail relative to its held part: 10 log10(mean square of the
    tail / mean square of the held part), floored at floor_db.

    NSynth notes are held for hold_end_s = 3 s and released in the last release_s = 1 s of a
    4 s note. Held part: [held_start_s, hold_end_s) = [0.1, 3.0) s (skips the onset). Tail:
    the last tail_s of the note, [hold_end_s + release_s - tail_s, hold_end_s + release_s) =
    [3.5, 4.0) s. A note that stops at the release reads floor_db; one that keeps sounding
    ~0 dB. A silent note reads floor_db; a silent held part with a sounding tail reads high
    (the held level is floored at -120 dB re full scale)."""
    end_s = hold_end_s + release_s
    if not 0.0 <= held_start_s < hold_end_s or not 0.0 < tail_s <= release_s:
        raise MetricInputError(f"release level: need 0 <= held_start_s < hold_end_s and "
                               f"0 < tail_s <= release_s, got {held_start_s}, {hold_end_s}, "
                               f"{tail_s}, {release_s}")
    held = slice(round(held_start_s * sample_rate), round(hold_end_s * sample_rate))
    tail = slice(round((end_s - tail_s) * sample_rate), round(end_s * sample_rate))

    def one(note: np.ndarray) -> float:
        if note.shape[0] < tail.stop:
            raise MetricInputError(f"release level: the note has {note.shape[0]} samples, the "
                                   f"tail ends at {end_s:g} s = {tail.stop} samples")
        held_ms = max(float(np.mean(note[held] ** 2)), TINY_POWER)
        ratio = float(np.mean(note[tail] ** 2)) / held_ms
        return max(10.0 * math.log10(ratio), floor_db) if ratio > 0 else floor_db

    return _per_note(one, audio)


def spectral_flatness_db(audio: np.ndarray, sample_rate: int, held_start_s: float = 0.1,
                         hold_end_s: float = 3.0, n_fft: int = 1024, hop: int = 256,
                         floor_db: float = -100.0) -> float | np.ndarray:
    """Mean over the STFT frames of the held part [held_start_s, hold_end_s) of each frame's
    spectral flatness 10 log10(geometric mean / arithmetic mean of the power spectrum) (dB,
    <= 0). Hann window of n_fft, hop; all n_fft / 2 + 1 bins. Each bin's power is floored at
    the frame's arithmetic mean times 10^(floor_db / 10), so the result is >= floor_db and
    does not depend on the level. 0 dB: flat spectrum; white noise reads about -2.5 dB (the
    periodogram's exponential spread: 10 log10(exp(-Euler gamma))); a sine reads near
    floor_db. Silent frames (mean square below -120 dB re full scale) are skipped; a silent
    note reads floor_db."""
    held = slice(round(held_start_s * sample_rate), round(hold_end_s * sample_rate))
    if not 0 <= held.start < held.stop:
        raise MetricInputError(f"spectral flatness: need 0 <= held_start_s < hold_end_s, got "
                               f"{held_start_s}, {hold_end_s}")
    floor = 10.0 ** (floor_db / 10.0)

    def one(note: np.ndarray) -> float:
        power = _power_spectrogram(note[held], n_fft, hop)  # (frames, bins)
        sounding = _frame_mean_square(power) > TINY_POWER
        if not sounding.any():
            return floor_db
        power = power[sounding]
        mean = power.mean(axis=1, keepdims=True)  # (frames, 1)
        power = np.maximum(power, mean * floor)
        flatness = np.exp(np.log(power).mean(axis=1)) / power.mean(axis=1)  # (frames,)
        return float(np.mean(10.0 * np.log10(flatness)))

    return _per_note(one, audio)


def _power_spectrogram(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|rfft|^2 of Hann-windowed (periodic) frames: audio (samples,) -> (frames, n_fft/2 + 1).
    Frames start at 0, hop, ... and lie wholly inside the audio (no padding), except that
    audio shorter than n_fft is zero-padded to one frame."""
    if n_fft < 2 or n_fft % 2 or hop < 1:
        raise MetricInputError(f"STFT: need an even n_fft >= 2 and hop >= 1, got {n_fft}, {hop}")
    x = np.asarray(audio, dtype=np.float64)
    if x.shape[0] < n_fft:
        x = np.pad(x, (0, n_fft - x.shape[0]))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]  # (frames, n_fft)
    spectrum = np.fft.rfft(frames * np.hanning(n_fft + 1)[:-1], axis=1)  # (frames, bins)
    return spectrum.real ** 2 + spectrum.imag ** 2


def _frame_mean_square(power: np.ndarray) -> np.ndarray:
    """Window-weighted mean square sum_n (w x)^2 / sum_n w^2 of each frame (frames,), from its
    one-sided power spectrum (frames, n_fft/2 + 1) by Parseval: sum_k |X_k|^2 = n_fft sum_n
    (w x)^2 over all n_fft bins (n_fft even, as the helper requires)."""
    n_fft = 2 * (power.shape[-1] - 1)
    window = np.hanning(n_fft + 1)[:-1]
    return (power * _one_sided_weights(n_fft)).sum(axis=-1) / (n_fft * float(window @ window))


def _one_sided_weights(n_fft: int) -> np.ndarray:
    """(n_fft/2 + 1,) weights that make a one-sided power spectrum sum to the two-sided one."""
    weights = np.full(n_fft // 2 + 1, 2.0)
    weights[[0, -1]] = 1.0  # DC and Nyquist (n_fft is even)
    return weights


def _bin_frequencies(n_fft: int, sample_rate: int) -> np.ndarray:
    """Centre frequency (Hz) of each rfft bin, (n_fft/2 + 1,)."""
    return np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)


def _per_note(measure: Callable[[np.ndarray], float], audio: np.ndarray) -> float | np.ndarray:
    """Apply a per-note measure to (samples,) -> float or (B, samples) -> (B,) float64."""
    x = np.asarray(audio)
    if x.ndim not in (1, 2) or x.shape[-1] == 0 or not np.issubdtype(x.dtype, np.floating):
        raise MetricInputError(f"audio must be (samples,) or (B, samples) floats, got "
                               f"{x.shape} {x.dtype}")
    if not np.isfinite(x).all():
        raise MetricInputError("audio holds NaN or infinite samples")
    if x.ndim == 1:
        return measure(x)
    return np.array([measure(note) for note in x], dtype=np.float64)


# -- input checks ----------------------------------------------------------------------------


def _features(values: np.ndarray, name: str, least: int) -> np.ndarray:
    """values as a finite float64 (N, D) array with N >= least."""
    x = np.asarray(values)
    if x.ndim != 2 or not (np.issubdtype(x.dtype, np.number) and not np.iscomplexobj(x)):
        raise MetricInputError(f"{name} must be a real (N, D) array, got shape {x.shape} "
                               f"{x.dtype}")
    if x.shape[0] < least or x.shape[1] == 0:
        raise MetricInputError(f"{name} has {x.shape[0]} rows of {x.shape[1]} values; need at "
                               f"least {least} rows of at least 1 value")
    x = x.astype(np.float64, copy=False)
    if not np.isfinite(x).all():
        raise MetricInputError(f"{name} holds NaN or infinite values")
    return x


def _vector(values: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or not np.isfinite(x).all():
        raise MetricInputError(f"{name} must be a finite (D,) vector, got shape {x.shape}")
    return x


def _square(values: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != x.shape[1] or not np.isfinite(x).all():
        raise MetricInputError(f"{name} must be a finite (D, D) matrix, got shape {x.shape}")
    return x


def _positive(value: float, name: str) -> None:
    if not (math.isfinite(value) and value > 0):
        raise MetricInputError(f"{name} must be a positive number, got {value}")
