from __future__ import annotations

import pytest
import torch

from gansynth.errors import BadInputError
from gansynth.spectral import Normalizer


def test_prespecified_constants() -> None:
    norm = Normalizer.prespecified()
    x = torch.zeros(1, 2, 4, 8)
    x[:, 0] = -13.815510557964274  # log(1e-6): silence
    out = norm(x)
    assert torch.allclose(out[:, 0], torch.full_like(out[:, 0], 0.0661371661726 * -13.815510557964274 + 0.113718730221))
    assert torch.allclose(out[:, 1], torch.zeros_like(out[:, 1]))
    assert torch.allclose(norm.denormalize(out), x, atol=1e-5)


def test_fit_maps_each_channel_range_to_margin() -> None:
    batches = [torch.randn(4, 2, 8, 16) * torch.tensor([3.0, 0.5]).view(1, 2, 1, 1) + torch.tensor([-5.0, 0.1]).view(1, 2, 1, 1)
               for _ in range(3)]
    norm = Normalizer.fit(batches, margin=0.8)
    out = torch.cat([norm(b) for b in batches])
    per_channel = out.transpose(0, 1).reshape(2, -1)
    assert torch.allclose(per_channel.min(dim=1).values, torch.full((2,), -0.8), atol=1e-5)
    assert torch.allclose(per_channel.max(dim=1).values, torch.full((2,), 0.8), atol=1e-5)


def test_plain_round_trip_and_bad_state(tmp_path) -> None:
    norm = Normalizer(torch.tensor([0.5, 2.0]), torch.tensor([0.1, -0.3]))
    path = tmp_path / "norm.pt"
    torch.save(norm.to_plain(), path)
    loaded = Normalizer.from_plain(torch.load(path, weights_only=True))
    x = torch.randn(2, 2, 3, 5)
    assert torch.equal(loaded(x), norm(x))
    with pytest.raises(BadInputError, match="'a' and 'b'"):
        Normalizer.from_plain({"a": torch.ones(2)})
    with pytest.raises(BadInputError, match="no spectrograms"):
        Normalizer.fit([])
