"""Export -> load gives the same logits; anything else is one clear BadInputError."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gansynth.errors import BadInputError
from gansynth.sequence.export import export_sequence_model, load_sequence_model
from gansynth.sequence.model import LstmLanguageModel
from gansynth.sequence.tokenizer import EventTokenizer

from .conftest import TINY


def test_export_load_gives_same_logits(tiny_model: LstmLanguageModel, tiny_model_file: Path,
                                       tokenizer: EventTokenizer) -> None:
    loaded = load_sequence_model(tiny_model_file)
    assert loaded.config == TINY
    assert loaded.tokenizer.vocab == tokenizer.vocab
    assert loaded.metrics == {"val_perplexity": 1.0}
    assert not loaded.model.training
    tokens = torch.randint(0, len(tokenizer), (2, 40))
    torch.testing.assert_close(loaded.model(tokens)[0], tiny_model(tokens)[0], rtol=0, atol=0)


def test_file_holds_only_plain_data(tiny_model_file: Path) -> None:
    payload = torch.load(tiny_model_file, weights_only=True)
    assert set(payload) == {"format", "format_version", "config", "vocab", "state_dict", "metrics"}
    assert payload["format"] == "gansynth-lstm" and payload["format_version"] == 2
    assert all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values())


def _rewrite(src: Path, dst: Path, **changes: object) -> Path:
    payload = torch.load(src, weights_only=True)
    payload.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del payload[key]
    torch.save(payload, dst)
    return dst


def test_bad_model_files_are_rejected(tiny_model_file: Path, tmp_path: Path,
                                      example_midi: list[Path]) -> None:
    with pytest.raises(BadInputError, match="sequence model file not found"):
        load_sequence_model(tmp_path / "missing.pt")
    with pytest.raises(BadInputError, match="not a gansynth sequence model file"):
        load_sequence_model(example_midi[0])  # a MIDI file
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(BadInputError, match="not a gansynth sequence model file"):
        load_sequence_model(tmp_path / "other.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(tiny_model_file.read_bytes()[:500])
    with pytest.raises(BadInputError, match="not a gansynth sequence model file"):
        load_sequence_model(truncated)

    payload = torch.load(tiny_model_file, weights_only=True)
    state = dict(payload["state_dict"])
    state.pop("head.bias")
    with pytest.raises(BadInputError, match="weights do not match.*missing: head.bias"):
        load_sequence_model(_rewrite(tiny_model_file, tmp_path / "a.pt", state_dict=state))
    with pytest.raises(BadInputError, match="unexpected keys extra"):
        load_sequence_model(_rewrite(tiny_model_file, tmp_path / "b.pt", extra=1))
    with pytest.raises(BadInputError, match="lacks metrics"):
        load_sequence_model(_rewrite(tiny_model_file, tmp_path / "b2.pt", metrics=None))
    with pytest.raises(BadInputError, match="format version 99 is not supported"):
        load_sequence_model(_rewrite(tiny_model_file, tmp_path / "c.pt", format_version=99))
    with pytest.raises(BadInputError, match="metrics .* not a mapping of numbers"):
        load_sequence_model(_rewrite(tiny_model_file, tmp_path / "f.pt", metrics={"x": "high"}))
    config = dict(payload["config"])
    config["model"] = {**config["model"], "hidden_size": 48}
    with pytest.raises(BadInputError, match="weights do not match"):
        load_sequence_model(_rewrite(tiny_model_file, tmp_path / "d.pt", config=config))
    with pytest.raises(BadInputError, match="vocabulary differs"):
        load_sequence_model(_rewrite(tiny_model_file, tmp_path / "e.pt", vocab=payload["vocab"][::-1]))


def test_version_1_file_is_one_clear_error(tiny_model_file: Path, tmp_path: Path) -> None:
    """Version 1 stored its version under "version"; it is refused with one line naming the file."""
    old = _rewrite(tiny_model_file, tmp_path / "v1.pt", format_version=None, version=1)
    with pytest.raises(BadInputError) as info:
        load_sequence_model(old)
    message = str(info.value)
    assert message.startswith(f"{old}: ") and "\n" not in message
    assert "format version 1 is not supported (this gansynth reads version 2)" in message


def test_export_is_atomic(tmp_path: Path, tiny_model: LstmLanguageModel,
                          tokenizer: EventTokenizer) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        export_sequence_model(tmp_path / "nope" / "m.pt", tiny_model, tokenizer, TINY)
    export_sequence_model(tmp_path / "m.pt", tiny_model, tokenizer, TINY)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]
