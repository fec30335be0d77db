"""Discriminator: shapes per block, input-side fade-in, gradient reach, head layout."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gansynth.config import PAPER_GAN_CHANNELS as PAPER_CHANNELS
from gansynth.models import Discriminator
from gansynth.models.layers import MinibatchStd, PixelNorm
from tests.models.test_generator import _check_gradients

TINY = (8, 8, 4, 4)


def _specgram(block: int, batch: int = 4) -> torch.Tensor:
    return torch.randn(batch, 2, 2 * 2**block, 16 * 2**block).tanh()


@pytest.mark.parametrize("block", range(len(TINY)))
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_shapes_every_block(block: int, alpha: float) -> None:
    d = Discriminator(num_pitches=5, channels=TINY)
    score, logits = d(_specgram(block), block, alpha)
    assert score.shape == (4,) and logits.shape == (4, 5)
    assert torch.all(torch.isfinite(score)) and torch.all(torch.isfinite(logits))


def test_rejects_wrong_resolution() -> None:
    d = Discriminator(num_pitches=5, channels=TINY)
    with pytest.raises(ValueError, match="block 1"):
        d(_specgram(2), 1)
    with pytest.raises(ValueError, match="block"):
        d(_specgram(0), 4)


def test_paper_table_low_blocks() -> None:
    d = Discriminator()
    assert d.num_blocks == 7 and d.channels == PAPER_CHANNELS
    with torch.no_grad():
        for block in range(3):
            score, logits = d(_specgram(block, batch=1), block, 0.5)
            assert score.shape == (1,) and logits.shape == (1, 61)


def test_fade_in_endpoints() -> None:
    d = Discriminator(num_pitches=5, channels=TINY)
    with torch.no_grad():
        for block in range(1, d.num_blocks):
            x = _specgram(block)
            # alpha = 0: the previous block's network on the 2x average-pooled input
            old_score, old_logits = d(F.avg_pool2d(x, 2), block - 1, 1.0)
            score, logits = d(x, block, 0.0)
            torch.testing.assert_close(score, old_score, rtol=0, atol=1e-5)
            torch.testing.assert_close(logits, old_logits, rtol=0, atol=1e-5)
            # alpha = 1: only the new block's from-spectrogram path, computed by hand
            h = F.leaky_relu(d.from_specgram[block](x), 0.2)
            for k in range(block, 0, -1):
                h = d.blocks[k](h)
            new_score, new_logits = d.blocks[0](h)
            for alpha in (1.0, torch.tensor(1.0)):
                score, logits = d(x, block, alpha)
                torch.testing.assert_close(score, new_score, rtol=0, atol=1e-5)
                torch.testing.assert_close(logits, new_logits, rtol=0, atol=1e-5)
            assert not torch.allclose(new_score, old_score)


@pytest.mark.parametrize(("block", "alpha"), [(0, 1.0), (1, 0.5), (2, 1.0), (3, 0.3)])
def test_gradient_reaches_active_blocks_only(block: int, alpha: float) -> None:
    d = Discriminator(num_pitches=5, channels=TINY)
    x = _specgram(block).requires_grad_(True)
    score, logits = d(x, block, alpha)
    (score * torch.randn_like(score)).sum().backward(retain_graph=True)
    (logits * torch.randn_like(logits)).sum().backward()
    active = [f"blocks.{k}." for k in range(block + 1)] + [f"from_specgram.{block}."]
    if block > 0 and alpha < 1:
        active.append(f"from_specgram.{block - 1}.")
    _check_gradients(d, active)
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_head_layout_and_gains() -> None:
    d = Discriminator(num_pitches=5, channels=TINY, mbstd_group=4)
    head = d.blocks[0]
    assert isinstance(head.mbstd, MinibatchStd) and head.mbstd.group_size == 4
    assert head.conv0.conv.in_channels == TINY[0] + 1  # minibatch std channel
    assert head.conv1.conv.kernel_size == (2, 16) and head.conv1.conv.padding == (0, 0)
    assert head.score.scale == pytest.approx(1.0 / math.sqrt(TINY[0]))  # dense layers: gain 1
    assert head.pitch.scale == pytest.approx(1.0 / math.sqrt(TINY[0]))
    assert d.from_specgram[2].scale == pytest.approx(math.sqrt(2.0 / 2))
    # blocks map C_k -> C_{k-1}
    assert [(b.conv0.conv.in_channels, b.conv1.conv.out_channels) for b in list(d.blocks)[1:]] == [
        (8, 8), (4, 8), (4, 4)]
    assert not any(isinstance(m, PixelNorm) for m in d.modules())
    assert all(torch.all(p == 0) for n, p in d.named_parameters() if n.endswith("bias"))


def test_minibatch_std_couples_examples() -> None:
    """Changing one example changes the others' scores (via the minibatch std channel) and only
    within its group."""
    d = Discriminator(num_pitches=5, channels=TINY, mbstd_group=2)
    x = _specgram(1, batch=4)
    with torch.no_grad():
        before, _ = d(x, 1)
        x2 = x.clone()
        x2[0] = -x2[0]
        after, _ = d(x2, 1)
    # groups are {0, 2} and {1, 3}
    assert not torch.isclose(before[2], after[2])
    torch.testing.assert_close(before[[1, 3]], after[[1, 3]])
