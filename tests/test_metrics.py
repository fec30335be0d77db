"""gansynth.metrics against independent references: scipy's sqrtm and chi-square test, the
closed forms of Gaussians, and signals whose answer is known (sines, white noise, silence)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import linalg, stats

from gansynth import metrics
from gansynth.errors import BadInputError

SR = 16000
SECONDS = 4.0
TIME = np.arange(int(SECONDS * SR)) / SR  # (64000,) s


def random_spd(seed: int, dims: int, low: float, high: float) -> np.ndarray:
    """A (dims, dims) covariance with eigenvalues in [low, high] and random eigenvectors."""
    rng = np.random.default_rng(seed)
    rotation, _ = np.linalg.qr(rng.standard_normal((dims, dims)))
    return (rotation * rng.uniform(low, high, dims)) @ rotation.T


def mixture(rng: np.random.Generator, count: int, means: np.ndarray,
            weights: np.ndarray) -> np.ndarray:
    """(count, D) draws of a Gaussian mixture: component means (C, D), std 0.5, weights (C,)."""
    component = rng.choice(len(means), size=count, p=weights)
    return means[component] + 0.5 * rng.standard_normal((count, means.shape[1]))


def sine(freq_hz: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq_hz * TIME)


# -- Frechet distance ------------------------------------------------------------------------


def test_gaussian_frechet_matches_scipy_sqrtm_and_the_diagonal_closed_form() -> None:
    cov_a, cov_b = random_spd(1, 6, 0.3, 3.0), random_spd(2, 6, 0.3, 3.0)  # do not commute
    mu_a, mu_b = np.arange(6.0), np.ones(6)
    reference = (np.sum((mu_a - mu_b) ** 2)
                 + np.trace(cov_a + cov_b - 2 * linalg.sqrtm(cov_a @ cov_b).real))
    assert metrics.gaussian_frechet(mu_a, cov_a, mu_b, cov_b) == pytest.approx(reference, rel=1e-9)
    # diagonal covariances: sum of (mu_a - mu_b)^2 + (sigma_a - sigma_b)^2 per dimension
    sigma_a, sigma_b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 2.0, 0.0])
    expected = 4.0 + (2.0**2 + 0.0 + 0.5**2)
    got = metrics.gaussian_frechet(np.zeros(3), np.diag(sigma_a**2), np.full(3, 2 / math.sqrt(3)),
                                   np.diag(sigma_b**2))
    assert got == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_of_gaussian_samples_matches_the_true_parameters() -> None:
    dims, count = 8, 20000
    cov_a, cov_b = random_spd(10, dims, 0.5, 2.0), random_spd(11, dims, 0.5, 2.0)
    mu_a, mu_b = np.zeros(dims), np.full(dims, 0.25)
    rng = np.random.default_rng(0)
    a = rng.multivariate_normal(mu_a, cov_a, count)
    b = rng.multivariate_normal(mu_b, cov_b, count)
    true = metrics.gaussian_frechet(mu_a, cov_a, mu_b, cov_b)  # about 1.17
    # Spread of the estimate: the mean term alone has std 2 sqrt(d' (S_a + S_b) d / N) ~ 0.016
    # (d = mu_a - mu_b) and bias tr(S_a + S_b) / N ~ 0.001; over 40 seeds the whole estimate
    # had std 0.019 and bias +0.005. 0.1 is about 5 standard deviations.
    assert metrics.frechet_distance(a, b) == pytest.approx(true, abs=0.1)


def test_frechet_distance_is_zero_for_one_set_and_symmetric() -> None:
    rng = np.random.default_rng(3)
    a = rng.standard_normal((500, 16)) @ random_spd(4, 16, 0.1, 5.0)
    b = rng.standard_normal((300, 16)) + 1.0
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert metrics.frechet_distance(a, b) == pytest.approx(metrics.frechet_distance(b, a),
                                                           rel=1e-9)
    # more dimensions than samples: singular covariances still give a finite, non-negative value
    wide = rng.standard_normal((10, 64))
    assert 0.0 < metrics.frechet_distance(wide, wide + 0.1) < math.inf


@pytest.mark.parametrize(("a", "b", "message"), [
    (np.zeros((1, 4)), np.zeros((5, 4)), "need at least 2 rows"),
    (np.zeros((5, 4)), np.zeros((5, 3)), "feature sizes differ"),
    (np.zeros(5), np.zeros((5, 1)), r"real \(N, D\) array"),
    (np.full((3, 2), np.nan), np.zeros((3, 2)), "NaN"),
])
def test_frechet_distance_refuses_bad_inputs(a: np.ndarray, b: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        metrics.frechet_distance(a, b)
    assert isinstance(caught.value, BadInputError)  # one CLI line, as every user error


# -- NDB -------------------------------------------------------------------------------------


def test_kmeans_is_deterministic_for_a_seed_and_finds_separated_blobs() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    truth = np.repeat(np.arange(4), 100)
    points = centres[truth] + rng.standard_normal((400, 2))
    centroids, labels = metrics.kmeans(points, 4, seed=7)
    again, labels_again = metrics.kmeans(points, 4, seed=7)
    np.testing.assert_array_equal(centroids, again)
    np.testing.assert_array_equal(labels, labels_again)
    # every found cluster is exactly one true blob
    for blob in range(4):
        assert len(set(labels[truth == blob].tolist())) == 1
    assert len(set(labels.tolist())) == 4
    # Lloyd's fixed point: each centroid is the mean of its points
    for cluster in range(4):
        np.testing.assert_allclose(centroids[cluster], points[labels == cluster].mean(axis=0),
                                   atol=1e-12)
    np.testing.assert_array_equal(metrics.nearest_centroid(points, centroids), labels)


def test_two_proportion_p_values_match_the_chi_square_test_of_the_2x2_table() -> None:
    # the pooled z-test is the 2x2 chi-square test without continuity correction (z^2 = chi^2)
    counts_a, n_a, counts_b, n_b = np.array([50, 7, 0, 33]), 100, np.array([80, 12, 0, 41]), 150
    got = metrics.two_proportion_p_values(counts_a / n_a, n_a, counts_b / n_b, n_b)
    for index in (0, 1, 3):
        table = [[counts_a[index], n_a - counts_a[index]], [counts_b[index], n_b - counts_b[index]]]
        expected = stats.chi2_contingency(table, correction=False).pvalue
        assert got[index] == pytest.approx(expected, rel=1e-9)
    assert got[2] == 1.0  # empty on both sides: no evidence of a difference


def test_ndb_of_one_distribution_is_near_zero_and_of_another_is_large() -> None:
    rng = np.random.default_rng(0)
    means = np.random.default_rng(5).normal(0.0, 3.0, (10, 16))  # 10 modes in 16-D
    weights = np.full(10, 0.1)
    real = mixture(rng, 3000, means, weights)
    same = metrics.ndb(real, mixture(rng, 3000, means, weights), k=50, alpha=0.05)
    # Under the null each bin is a false positive with probability alpha, so NDB ~ Bin(50, 0.05):
    # mean 2.5, P(NDB > 5) ~ 4% (over 20 seeds we saw 0..4). 0.1 k = 5.
    assert same.k == 50 and same.ndb <= 5 and same.ndb_over_k == same.ndb / 50
    assert same.real_share.shape == same.generated_share.shape == same.p_values.shape == (50,)
    assert same.real_share.sum() == pytest.approx(1.0) and same.generated_share.sum() == pytest.approx(1.0)
    # mode dropping: the generator covers only half the modes, at twice the weight
    collapsed = mixture(rng, 3000, means, np.r_[np.full(5, 0.2), np.zeros(5)])
    different = metrics.ndb(real, collapsed, k=50, alpha=0.05)
    assert different.ndb >= 25  # >= 0.5 k (over 20 seeds: 47..50)
    # deterministic for a seed
    again = metrics.ndb(real, collapsed, k=50, alpha=0.05)
    assert again.ndb == different.ndb
    np.testing.assert_array_equal(again.p_values, different.p_values)


def test_ndb_clamps_k_to_the_real_samples_and_refuses_empty_inputs() -> None:
    rng = np.random.default_rng(1)
    result = metrics.ndb(rng.standard_normal((8, 3)), rng.standard_normal((20, 3)), k=50)
    assert result.k == 8 and result.real_share.shape == (8,)
    with pytest.raises(ValueError, match="need at least 1 rows"):
        metrics.ndb(np.zeros((0, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="need at least 1 rows"):
        metrics.ndb(np.zeros((5, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match="feature sizes differ"):
        metrics.ndb(np.zeros((5, 3)), np.zeros((5, 4)))
    # duplicates only: k-means++ still seeds k centroids, every share is equal on both sides
    flat = metrics.ndb(np.ones((10, 2)), np.ones((10, 2)), k=3)
    assert flat.ndb == 0


# -- classifier outputs ----------------------------------------------------------------------


def test_pitch_entropy_of_one_hot_is_zero_and_of_uniform_is_log_classes() -> None:
    classes = 61
    one_hot = np.eye(classes)[np.arange(10) % classes]
    assert metrics.pitch_entropy(one_hot) == 0.0
    assert metrics.pitch_entropy(np.full((10, classes), 1 / classes)) == pytest.approx(math.log(classes))
    halves = np.array([[0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])  # ln 2 and 0: mean ln 2 / 2
    assert metrics.pitch_entropy(halves) == pytest.approx(math.log(2) / 2)
    with pytest.raises(ValueError, match="summing to 1"):
        metrics.pitch_entropy(np.array([[2.0, -1.0]]))


def test_pitch_accuracy_counts_argmax_hits() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1]])
    assert metrics.pitch_accuracy(probs, np.array([0, 1, 2, 1])) == 0.75
    with pytest.raises(ValueError, match=r"labels must lie in 0..2"):
        metrics.pitch_accuracy(probs, np.array([0, 1, 2, 3]))


# -- signal checks ---------------------------------------------------------------------------


def test_hiband_energy_of_sines_noise_and_silence() -> None:
    assert metrics.hiband_energy(sine(1000.0), SR) < 1e-6
    assert metrics.hiband_energy(sine(7500.0), SR) > 1 - 1e-6
    noise = np.random.default_rng(0).standard_normal((4, TIME.size))
    shares = metrics.hiband_energy(noise, SR)
    assert isinstance(shares, np.ndarray) and shares.shape == (4,)
    # (8000 - 7000) / 8000 = 0.125; with bins of 15.6 Hz the bins at or above 7000 Hz hold
    # 129 / 1024 of white noise's power; the estimate from 247 frames spreads by ~0.002
    np.testing.assert_allclose(shares, 129 / 1024, atol=0.008)
    assert metrics.hiband_energy(np.zeros(TIME.size), SR) == 0.0


def test_release_level_db_of_stopped_decaying_and_sustained_tones() -> None:
    tone = sine(440.0)
    assert metrics.release_level_db(tone * (TIME < 3.0), SR) < -60.0  # stops at the release
    assert metrics.release_level_db(tone, SR) == pytest.approx(0.0, abs=0.05)  # keeps sounding
    assert metrics.release_level_db(tone * np.where(TIME < 3.5, 1.0, 0.5), SR) == pytest.approx(
        -6.02, abs=0.05)
    # exponential release with time constant tau from 3 s: the tail [3.5, 4) over the held
    # level is tau / (2 * 0.5 s) * (exp(-1 / tau) - exp(-2 / tau)) in power
    tau = 0.1
    decaying = tone * np.where(TIME < 3.0, 1.0, np.exp(-(TIME - 3.0) / tau))
    expected = 10 * math.log10(tau / 1.0 * (math.exp(-1 / tau) - math.exp(-2 / tau)))  # -53.4
    assert metrics.release_level_db(decaying, SR) == pytest.approx(expected, abs=0.1)
    assert metrics.release_level_db(np.zeros(TIME.size), SR) == -120.0  # silence: the floor
    levels = metrics.release_level_db(np.stack([tone, tone * (TIME < 3.0)]), SR)
    np.testing.assert_allclose(levels, [0.0, -120.0], atol=0.05)
    with pytest.raises(ValueError, match="tail ends at 4 s"):
        metrics.release_level_db(tone[: 3 * SR], SR)


def test_spectral_flatness_db_of_noise_sine_and_silence() -> None:
    noise = np.random.default_rng(0).standard_normal((4, TIME.size))
    flatness = metrics.spectral_flatness_db(noise, SR)
    # Periodogram bins of white noise are exponential: E[ln P] = ln E[P] - Euler gamma, so the
    # expected flatness is 10 log10(exp(-0.5772)) = -2.507 dB; the 2 chi-square(1) bins (DC,
    # Nyquist) and the spread of the frame mean shift it by ~0.01 dB. Per note the mean of
    # ~175 overlapping frames spreads by ~0.015 dB.
    np.testing.assert_allclose(flatness, -2.51, atol=0.1)
    assert metrics.spectral_flatness_db(sine(441.3), SR) < -60.0
    # scale-free: a quieter copy reads the same
    assert metrics.spectral_flatness_db(1e-3 * noise[0], SR) == pytest.approx(
        np.asarray(flatness)[0], abs=1e-9)
    assert metrics.spectral_flatness_db(np.zeros(TIME.size), SR) == -100.0  # silence: the floor


def test_signal_checks_refuse_bad_audio() -> None:
    with pytest.raises(ValueError, match="NaN"):
        metrics.hiband_energy(np.full(1000, np.nan), SR)
    with pytest.raises(ValueError, match="floats"):
        metrics.spectral_flatness_db(np.zeros((2, 2, 100)), SR)
