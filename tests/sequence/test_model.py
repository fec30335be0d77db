"""The LSTM language model: shapes, state/logit consistency, and overfitting a tiny sequence."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from gansynth.config import LstmConfig
from gansynth.sequence.model import LstmLanguageModel


def test_shapes_and_state_logits_match_last_step() -> None:
    model = LstmLanguageModel.from_config(50, LstmConfig(embedding_dim=8, hidden_size=16,
                                                         num_layers=3, dropout=0.1)).eval()
    tokens = torch.randint(0, 50, (4, 11))
    logits, (h, c) = model(tokens)
    assert logits.shape == (4, 11, 50)
    assert h.shape == c.shape == (3, 4, 16)
    torch.testing.assert_close(model.logits_from_state((h, c)), logits[:, -1])
    # reading in two halves with the state carried over equals one pass
    first, state = model(tokens[:, :5])
    second, _ = model(tokens[:, 5:], state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), logits)


def test_overfits_a_tiny_sequence() -> None:
    torch.manual_seed(0)
    sequence = torch.randint(0, 30, (1, 49))
    model = LstmLanguageModel(30, 16, 32, 2, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(80):
        logits, _ = model(sequence[:, :-1])
        loss = F.cross_entropy(logits[0], sequence[0, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    logits, _ = model(sequence[:, :-1])
    assert F.cross_entropy(logits[0], sequence[0, 1:]).item() < 0.05  # random guessing: ln 30 = 3.4
    assert torch.equal(logits[0].argmax(-1), sequence[0, 1:])


def test_gradient_reaches_every_parameter() -> None:
    model = LstmLanguageModel(20, 8, 16, 2, dropout=0.2)
    logits, _ = model(torch.randint(0, 20, (2, 7)))
    logits.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
