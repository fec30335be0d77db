"""Equalized-lr layers, pixel norm and minibatch std against their definitions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gansynth.models.layers import EqualizedConv2d, EqualizedLinear, MinibatchStd, PixelNorm


@pytest.mark.parametrize("gain", [math.sqrt(2.0), 1.0])
def test_equalized_conv_scale(gain: float) -> None:
    conv = EqualizedConv2d(64, 128, 3, padding=1, gain=gain)
    fan_in = 64 * 3 * 3
    # stored weights ~ N(0, 1), 73728 draws
    assert abs(conv.weight.mean().item()) < 0.02
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.02)
    # run-time weight std = gain / sqrt(fan_in)
    assert conv.effective_weight().std().item() == pytest.approx(gain / math.sqrt(fan_in), rel=0.02)
    assert conv.bias is not None and torch.all(conv.bias == 0)
    # the forward uses the scaled weight (scale applied at run time, not baked into the parameter)
    x = torch.randn(8, 64, 12, 12)
    expected = F.conv2d(x, conv.weight * (gain / math.sqrt(fan_in)), conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected)
    # He-style init: unit-variance input -> output std ~ gain
    assert conv(x).std().item() == pytest.approx(gain, rel=0.06)
    # after changing the stored weight the scale still applies
    with torch.no_grad():
        conv.weight.fill_(1.0)
    expected = F.conv2d(x, torch.full_like(conv.weight, gain / math.sqrt(fan_in)), conv.bias, padding=1)
    torch.testing.assert_close(conv(x), expected)


def test_equalized_conv_rectangular_kernel_fan_in() -> None:
    conv = EqualizedConv2d(10, 4, (2, 16), padding=(1, 15))
    assert conv.fan_in == 10 * 2 * 16
    assert conv.scale == pytest.approx(math.sqrt(2.0 / 320))
    assert conv(torch.randn(3, 10, 1, 1)).shape == (3, 4, 2, 16)


def test_equalized_linear_scale() -> None:
    lin = EqualizedLinear(512, 256, gain=1.0)
    assert lin.weight.std().item() == pytest.approx(1.0, abs=0.02)
    assert lin.effective_weight().std().item() == pytest.approx(1.0 / math.sqrt(512), rel=0.02)
    assert lin.bias is not None and torch.all(lin.bias == 0)
    x = torch.randn(64, 512)
    torch.testing.assert_close(lin(x), F.linear(x, lin.weight / math.sqrt(512), lin.bias))
    assert lin(x).std().item() == pytest.approx(1.0, rel=0.06)


def test_gradient_on_stored_weight_is_scaled() -> None:
    """d loss / d stored weight = scale * d loss / d effective weight."""
    lin = EqualizedLinear(16, 4)
    x = torch.randn(5, 16)
    lin(x).sum().backward()
    assert lin.weight.grad is not None
    grad_effective = torch.ones(5, 4).T @ x  # (4, 16)
    torch.testing.assert_close(lin.weight.grad, lin.scale * grad_effective)


def test_pixel_norm_unit_rms() -> None:
    x = torch.randn(4, 32, 5, 7) * (0.1 + torch.rand(4, 1, 5, 7) * 50)  # scale varies by position
    y = PixelNorm()(x)
    rms = y.pow(2).mean(dim=1).sqrt()  # (B, H, W)
    torch.testing.assert_close(rms, torch.ones_like(rms), atol=1e-5, rtol=0)
    # direction kept: y is a positive multiple of x at each position
    cos = F.cosine_similarity(x, y, dim=1)
    torch.testing.assert_close(cos, torch.ones_like(cos), atol=1e-5, rtol=0)
    v = torch.tensor([[3.0, 4.0]])  # rms = sqrt(12.5)
    torch.testing.assert_close(PixelNorm()(v), v / math.sqrt(12.5))


def _mbstd_input() -> torch.Tensor:
    # 4 examples, 1 channel, 1 x 4 positions; values per position across the batch:
    # [0, 0, 2, 2] std 1; [1, 1, 1, 1] std 0; [0, 4, 0, 4] std 2; [3, 3, 3, 7] std sqrt(3)
    cols = [[0, 0, 2, 2], [1, 1, 1, 1], [0, 4, 0, 4], [3, 3, 3, 7]]
    return torch.tensor(cols, dtype=torch.float32).T.reshape(4, 1, 1, 4)


def test_minibatch_std_whole_group_by_hand() -> None:
    x = _mbstd_input()
    y = MinibatchStd(group_size=4, eps=1e-8)(x)
    assert y.shape == (4, 2, 1, 4)
    torch.testing.assert_close(y[:, :1], x)
    expected = (math.sqrt(1 + 1e-8) + math.sqrt(1e-8) + math.sqrt(4 + 1e-8) + math.sqrt(3 + 1e-8)) / 4
    torch.testing.assert_close(y[:, 1], torch.full((4, 1, 4), expected))


def test_minibatch_std_groups_of_two_by_hand() -> None:
    x = _mbstd_input()
    y = MinibatchStd(group_size=2, eps=0.0)(x)
    # example i is in group i % 2: groups {0, 2} and {1, 3}
    # group {0, 2}: positions (0,2) (1,1) (0,0) (3,3) -> stds 1, 0, 0, 0 -> mean 0.25
    # group {1, 3}: positions (0,2) (1,1) (4,4) (3,7) -> stds 1, 0, 0, 2 -> mean 0.75
    expected = torch.tensor([0.25, 0.75, 0.25, 0.75]).reshape(4, 1, 1, 1).expand(4, 1, 1, 4)
    torch.testing.assert_close(y[:, 1:], expected)


def test_minibatch_std_batch_not_divisible() -> None:
    mbstd = MinibatchStd(group_size=4)
    assert mbstd.group_for(6) == 3
    assert mbstd.group_for(2) == 2
    assert mbstd(torch.randn(6, 3, 2, 2)).shape == (6, 4, 2, 2)
