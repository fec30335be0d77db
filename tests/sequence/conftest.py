"""Fixtures of the sequence tests: shipped example MIDI, a small tokenizer and a tiny trained model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from gansynth.config import LstmConfig, SequenceExperimentConfig, SequenceTokenizerConfig
from gansynth.score import score_from_midi
from gansynth.sequence.export import export_sequence_model
from gansynth.sequence.model import LstmLanguageModel
from gansynth.sequence.tokenizer import EventTokenizer

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_MIDI = sorted((REPO / "data" / "midi").glob("chorale_*.mid")) + sorted(
    (REPO / "data" / "midi").glob("folk_*.mid"))
TINY = SequenceExperimentConfig(model=LstmConfig(embedding_dim=16, hidden_size=32, num_layers=2,
                                                 dropout=0.0))


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, above all on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def example_midi() -> list[Path]:
    assert len(EXAMPLE_MIDI) >= 2, "data/midi/ must ship example MIDI files (chorale_*.mid, folk_*.mid)"
    return EXAMPLE_MIDI


@pytest.fixture(scope="session")
def tokenizer() -> EventTokenizer:
    return EventTokenizer(SequenceTokenizerConfig())


@pytest.fixture(scope="session")
def tiny_model(tokenizer: EventTokenizer, example_midi: list[Path]) -> LstmLanguageModel:
    """A tiny LSTM fitted for a few dozen steps on the example pieces (states carry information)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = LstmLanguageModel.from_config(len(tokenizer), TINY.model)
    streams = [np.array([tokenizer.bos_id, *tokenizer.encode(score_from_midi(p)), tokenizer.eos_id])
               for p in example_midi]
    tokens = torch.as_tensor(np.concatenate(streams))
    windows = tokens[: (len(tokens) - 1) // 64 * 64 + 1]
    inputs = windows[:-1].reshape(-1, 64)
    targets = windows[1:].reshape(-1, 64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        logits, _ = model(inputs)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    torch.set_num_threads(threads)
    return model.eval()


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory: pytest.TempPathFactory, tiny_model: LstmLanguageModel,
                    tokenizer: EventTokenizer) -> Path:
    path = tmp_path_factory.mktemp("models") / "tiny.pt"
    export_sequence_model(path, tiny_model, tokenizer, TINY, {"val_perplexity": 1.0})
    return path
