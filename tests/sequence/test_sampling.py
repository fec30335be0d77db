"""Sampling: seeded determinism, grammar, polyphony and length limits, primer and blend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from gansynth.errors import BadInputError
from gansynth.score import score_from_midi
from gansynth.sequence.model import LstmLanguageModel
from gansynth.sequence.sampling import (
    EventGrammar,
    SamplingOptions,
    blend_state,
    blend_tokens,
    continue_tokens,
    filter_logits,
    prime_state,
)
from gansynth.sequence.tokenizer import (
    NOTE_OFF,
    NOTE_ON,
    TIME_SHIFT,
    VELOCITY,
    EventTokenizer,
)

OPTIONS = SamplingOptions(seconds=6.0, polyphony=4)


def _well_formed(tokenizer: EventTokenizer, ids: list[int], polyphony: int) -> int:
    """Check the grammar by replaying ids; returns the elapsed time steps."""
    kind, value = tokenizer.table.kind, tokenizer.table.value
    sounding: set[int] = set()
    elapsed = 0
    for prev, tok in zip([-1, *ids], ids, strict=False):
        after_on = prev >= 0 and kind[prev] == NOTE_ON
        assert (kind[tok] == VELOCITY) == after_on
        if kind[tok] == NOTE_ON:
            assert value[tok] not in sounding and len(sounding) < polyphony
            sounding.add(int(value[tok]))
        elif kind[tok] == NOTE_OFF:
            assert value[tok] in sounding
            sounding.remove(int(value[tok]))
        elif kind[tok] == TIME_SHIFT:
            elapsed += int(value[tok])
        else:
            assert kind[tok] == VELOCITY
    assert not sounding  # every note released at the end
    return elapsed


def test_sampling_is_deterministic_under_a_seed(tiny_model: LstmLanguageModel,
                                                tokenizer: EventTokenizer) -> None:
    a = continue_tokens(tiny_model, tokenizer, [], OPTIONS, num=3, seed=7)
    b = continue_tokens(tiny_model, tokenizer, [], OPTIONS, num=3, seed=7)
    c = continue_tokens(tiny_model, tokenizer, [], OPTIONS, num=3, seed=8)
    assert a == b
    assert a != c
    assert len({tuple(s) for s in a}) == 3  # the batch members differ from each other


def test_samples_follow_grammar_polyphony_and_length(tiny_model: LstmLanguageModel,
                                                     tokenizer: EventTokenizer) -> None:
    for polyphony in (1, 3):
        options = SamplingOptions(seconds=5.0, polyphony=polyphony, temperature=1.5)
        for ids in continue_tokens(tiny_model, tokenizer, [], options, num=4, seed=1):
            steps = _well_formed(tokenizer, ids, polyphony)
            target = 5.0 * tokenizer.config.steps_per_second
            assert target <= steps < target + tokenizer.config.max_shift_seconds * tokenizer.config.steps_per_second
            score = tokenizer.decode(ids)
            assert score.notes and score.end_s <= 5.0 + tokenizer.config.max_shift_seconds + 1e-6


def test_continuation_of_a_primer(tiny_model: LstmLanguageModel, tokenizer: EventTokenizer,
                                  example_midi: list[Path]) -> None:
    primer = tokenizer.encode(score_from_midi(example_midi[0]))
    continuation = continue_tokens(tiny_model, tokenizer, primer, OPTIONS, num=1, seed=3)[0]
    unprimed = continue_tokens(tiny_model, tokenizer, [], OPTIONS, num=1, seed=3)[0]
    assert continuation != unprimed
    whole = tokenizer.decode(primer + continuation)
    primer_end = tokenizer.decode(primer).end_s
    assert whole.notes[-1].start_s > primer_end - 1e-6  # new notes after the primer
    assert whole.end_s <= primer_end + OPTIONS.seconds + tokenizer.config.max_shift_seconds + 1e-6


def test_blend_is_deterministic_and_differs_from_each_source(
        tiny_model: LstmLanguageModel, tokenizer: EventTokenizer, example_midi: list[Path]) -> None:
    # a chorale and a folk song: pieces of different character
    a, b = (tokenizer.encode(score_from_midi(p)) for p in (example_midi[0], example_midi[-1]))
    state_a, state_b = prime_state(tiny_model, tokenizer, a), prime_state(tiny_model, tokenizer, b)
    mean = blend_state(tiny_model, tokenizer, a, b)
    torch.testing.assert_close(mean[0], (state_a[0] + state_b[0]) / 2)
    torch.testing.assert_close(mean[1], (state_a[1] + state_b[1]) / 2)

    blend = blend_tokens(tiny_model, tokenizer, a, b, OPTIONS, num=2, seed=5)
    assert blend == blend_tokens(tiny_model, tokenizer, a, b, OPTIONS, num=2, seed=5)
    from_a = continue_tokens(tiny_model, tokenizer, a, OPTIONS, num=2, seed=5)
    from_b = continue_tokens(tiny_model, tokenizer, b, OPTIONS, num=2, seed=5)
    assert blend != from_a and blend != from_b
    # the blend's first-step distribution lies strictly between the two sources' ones
    logits = [tiny_model.logits_from_state(s)[0] for s in (state_a, state_b, mean)]
    assert not torch.allclose(logits[2], logits[0]) and not torch.allclose(logits[2], logits[1])
    for ids in blend:
        _well_formed(tokenizer, ids, OPTIONS.polyphony)


def test_top_k_one_is_greedy_whatever_the_seed(tiny_model: LstmLanguageModel,
                                               tokenizer: EventTokenizer) -> None:
    options = SamplingOptions(seconds=3.0, top_k=1)
    assert continue_tokens(tiny_model, tokenizer, [], options, seed=1) == continue_tokens(
        tiny_model, tokenizer, [], options, seed=2)


def test_filter_logits_top_k_and_top_p() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, 1.0, 2, 1.0)[0, 2:]).all()
    kept = torch.isfinite(filter_logits(logits, 1.0, 0, 0.7))[0].tolist()
    assert kept == [True, True, False, False]  # 0.5 < 0.7, 0.5 + 0.3 >= 0.7
    probs = torch.softmax(filter_logits(logits, 2.0, 0, 1.0), -1)
    assert probs[0, 0] < 0.5 and probs[0, 3] > 0.05  # a higher temperature flattens


def test_grammar_masks(tokenizer: EventTokenizer) -> None:
    grammar = EventGrammar(tokenizer, 1, polyphony=1, device=torch.device("cpu"))
    kind = tokenizer.table.kind
    allowed = grammar.allowed()[0].numpy()
    assert not allowed[kind == VELOCITY].any() and not allowed[kind == NOTE_OFF].any()
    assert allowed[kind == NOTE_ON].all() and allowed[kind == TIME_SHIFT].all()
    note_on = int(np.flatnonzero(kind == NOTE_ON)[10])
    grammar.update(torch.tensor([note_on]))
    allowed = grammar.allowed()[0].numpy()
    assert np.array_equal(allowed, kind == VELOCITY)
    grammar.update(torch.tensor([int(np.flatnonzero(kind == VELOCITY)[0])]))
    allowed = grammar.allowed()[0].numpy()
    assert not allowed[kind == NOTE_ON].any()  # polyphony 1 reached
    assert allowed.sum() == (kind == TIME_SHIFT).sum() + 1  # time shifts + this note's NoteOff


def test_bad_options_are_user_errors_naming_the_value() -> None:
    cases = [({"seconds": 0.0}, "seconds must be greater than 0, got 0.0"),
             ({"seconds": float("inf")}, "seconds must be a finite number, got inf"),
             ({"seconds": 7200.0}, r"seconds must lie in \.\.3600, got 7200.0"),
             ({"temperature": -1.0}, "temperature must be positive, got -1.0"),
             ({"temperature": float("nan")}, "temperature must be positive, got nan"),
             ({"top_p": 0.0}, r"top_p must be in \(0, 1\] \(1: off\), got 0.0"),
             ({"top_p": 1.5}, "top_p must be in .*, got 1.5"),
             ({"top_k": -1}, r"top_k \(0: off\) must lie in 0\.\., got -1"),
             ({"polyphony": -2}, r"polyphony \(0: no limit\) must lie in 0\.\.128, got -2"),
             ({"polyphony": 10**20}, r"polyphony \(0: no limit\) must lie in 0\.\.128, got 10+"),
             ({"max_tokens": -3}, r"max_tokens \(0: automatic\) must lie in 0\.\., got -3")]
    for kwargs, message in cases:
        with pytest.raises(BadInputError, match=f"^{message}$"):
            SamplingOptions(**kwargs)  # type: ignore[arg-type]


def test_num_must_be_positive(tiny_model: LstmLanguageModel, tokenizer: EventTokenizer) -> None:
    with pytest.raises(BadInputError, match="^num must lie in 1..256, got 0$"):
        continue_tokens(tiny_model, tokenizer, [], OPTIONS, num=0)
