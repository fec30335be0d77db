"""Evaluation: perplexities (model and baselines) and score statistics on hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from gansynth.score import Note, score_from_notes
from gansynth.sequence.evaluation import (
    bigram_perplexity,
    model_perplexity,
    pitch_class_distance,
    score_stats,
    unigram_perplexity,
)
from gansynth.sequence.model import LstmLanguageModel


def test_baseline_perplexities() -> None:
    # tokens 1..4 equally often: unigram perplexity ~ 4 (add-one over 6 ids lifts it a little)
    cycle = np.array([0, *([1, 2, 3, 4] * 200)])
    uni = unigram_perplexity([cycle], [cycle], vocab_size=6)
    assert 4.0 < uni < 4.1
    # the same cycle is fully predictable from the previous token
    bi = bigram_perplexity([cycle], [cycle], vocab_size=6)
    assert 1.0 < bi < 1.02
    # a held-out order the bigram never saw costs more than the unigram's guess
    reverse = np.array([0, *([4, 3, 2, 1] * 50)])
    assert bigram_perplexity([cycle], [reverse], vocab_size=6) > uni


def test_model_perplexity_is_exp_mean_nll() -> None:
    model = LstmLanguageModel(12, 8, 16, 2, 0.0).eval()
    streams = [np.array([1, 5, 3, 7, 2]), np.array([1, 4, 4, 9, 10, 11, 2])]
    nll, count = 0.0, 0
    for s in streams:
        ids = torch.as_tensor(s)[None]
        logits, _ = model(ids[:, :-1])
        nll += F.cross_entropy(logits[0], ids[0, 1:], reduction="sum").item()
        count += len(s) - 1
    assert math.isclose(model_perplexity(model, streams), math.exp(nll / count), rel_tol=1e-6)


def test_score_stats() -> None:
    # C4 from 0 to 2 s, E4 from 1 to 3 s, C5 from 5 to 6 s (a 2 s rest before it); the drum
    # notes of another track are left out
    piece = score_from_notes([Note(60, 90, 0.0, 2.0), Note(64, 90, 1.0, 3.0), Note(72, 90, 5.0, 6.0),
                              Note(36, 10, 0.0, 9.0, track=1, is_drum=True)])
    stats = score_stats([piece])
    assert stats.notes == 3 and stats.seconds == 6.0
    np.testing.assert_allclose(stats.pitch_classes[[0, 4]], [2 / 3, 1 / 3])
    assert math.isclose(stats.density, 3 / 6.0)
    assert math.isclose(stats.polyphony, (2 + 2 * 1 + 1) / 4.0)  # 5 note-seconds over 4 s sounding
    other = score_stats([score_from_notes([Note(67, 90, 0.0, 1.0)]), score_from_notes([])])
    assert other.notes == 1 and other.density == 1.0
    assert pitch_class_distance(stats, other) == 1.0
    assert pitch_class_distance(stats, stats) == 0.0
    assert (stats.velocity_mean, stats.velocity_std) == (90.0, 0.0)  # the drum note is left out
    loud_soft = score_stats([score_from_notes([Note(60, 40, 0.0, 1.0), Note(62, 100, 1.0, 2.0)])])
    assert (loud_soft.velocity_mean, loud_soft.velocity_std) == (70.0, 30.0)


def test_key_estimate_and_the_random_scale_baseline() -> None:
    import math

    from gansynth.score import Note, score_from_notes
    from gansynth.sequence.evaluation import KEY_NAMES, estimate_key, random_scale_in_key

    c_major = [Note(p, 90, i * 0.5, (i + 1) * 0.5) for i, p in enumerate([60, 64, 67, 72, 67, 64, 60, 62,
                                                                            65, 69, 71, 67, 60])]
    key = estimate_key(c_major)
    assert KEY_NAMES[key] == "C major"
    g_major = [Note(n.pitch + 7, n.velocity, n.start_s, n.end_s) for n in c_major]
    assert KEY_NAMES[estimate_key(g_major)] == "G major"
    assert estimate_key([]) == -1
    share = random_scale_in_key(score_from_notes(c_major), key, 16, 10.0, seed=0)
    assert 0.0 <= share <= 1.0
    assert share == random_scale_in_key(score_from_notes(c_major), key, 16, 10.0, seed=0)
    assert math.isnan(random_scale_in_key(score_from_notes(c_major), -1, 16, 10.0, seed=0))
