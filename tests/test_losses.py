"""Loss terms against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gansynth.losses import (
    GANLossWeights,
    discriminator_loss,
    drift_penalty,
    generator_loss,
    gradient_penalty,
    pitch_accuracy,
    pitch_loss,
    wgan_d_loss,
    wgan_g_loss,
)
from gansynth.models import Discriminator


def test_wgan_terms() -> None:
    real = torch.tensor([1.0, 3.0])
    fake = torch.tensor([-2.0, 0.0, 5.0])
    assert wgan_d_loss(real, fake).item() == pytest.approx(1.0 - 2.0)
    assert wgan_g_loss(fake).item() == pytest.approx(-1.0)


def test_drift_by_hand() -> None:
    assert drift_penalty(torch.tensor([1.0, -2.0, 3.0])).item() == pytest.approx(14.0 / 3.0)


def test_pitch_loss_and_accuracy_by_hand() -> None:
    logits = torch.tensor([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    target = torch.tensor([1, 0])
    expected = (math.log(3.0) + (math.log(math.exp(2.0) + 2.0) - 2.0)) / 2
    assert pitch_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)
    assert pitch_accuracy(torch.tensor([[0.0, 1.0], [3.0, 1.0], [0.0, 2.0]]),
                          torch.tensor([1, 1, 1])).item() == pytest.approx(2.0 / 3.0)


@pytest.mark.parametrize("scale", [0.05, 1.0, 3.0])
def test_gradient_penalty_linear_critic(scale: float) -> None:
    """A linear critic x -> <w, x> has gradient w everywhere: GP = (|w| - 1)^2 exactly."""
    w = torch.randn(2, 4, 8) * scale
    critic = lambda x: (x * w).sum(dim=(1, 2, 3))  # noqa: E731
    real, fake = torch.randn(6, 2, 4, 8), torch.randn(6, 2, 4, 8)
    gp = gradient_penalty(critic, real, fake)
    expected = (w.norm().item() - 1.0) ** 2
    assert gp.item() == pytest.approx(expected, rel=1e-5, abs=1e-8)
    # target t: (|w| / t - 1)^2
    gp2 = gradient_penalty(critic, real, fake, target=2.0)
    assert gp2.item() == pytest.approx((w.norm().item() / 2.0 - 1.0) ** 2, rel=1e-5, abs=1e-8)


def test_gradient_penalty_quadratic_critic_at_interpolates() -> None:
    """Critic x -> 0.5 |x|^2 has gradient x: GP = mean((|x_hat| - 1)^2) at the interpolates, whose
    mixing weights are reproduced from the same generator seed."""
    critic = lambda x: 0.5 * x.pow(2).sum(dim=(1, 2, 3))  # noqa: E731
    real, fake = torch.randn(5, 1, 2, 3), torch.randn(5, 1, 2, 3)
    gp = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7))
    u = torch.rand((5, 1, 1, 1), generator=torch.Generator().manual_seed(7))
    x_hat = real + u * (fake - real)
    expected = (x_hat.reshape(5, -1).norm(dim=1) - 1).pow(2).mean()
    torch.testing.assert_close(gp, expected, rtol=1e-5, atol=1e-7)


def test_gradient_penalty_is_differentiable_in_critic_parameters() -> None:
    w = torch.full((1, 2, 3), 2.0, requires_grad=True)  # |w| = sqrt(24)
    critic = lambda x: (x * w).sum(dim=(1, 2, 3))  # noqa: E731
    gp = gradient_penalty(critic, torch.randn(4, 1, 2, 3), torch.randn(4, 1, 2, 3))
    gp.backward()
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|
    norm = math.sqrt(24.0)
    expected = 2 * (norm - 1) * w.detach() / norm
    assert w.grad is not None
    torch.testing.assert_close(w.grad, expected, rtol=1e-5, atol=1e-6)


def test_gradient_penalty_zero_gradient_is_finite() -> None:
    w = torch.zeros(1, 2, 2, requires_grad=True)
    gp = gradient_penalty(lambda x: (x * w).sum(dim=(1, 2, 3)), torch.randn(3, 1, 2, 2),
                          torch.randn(3, 1, 2, 2))
    gp.backward()
    assert gp.item() == pytest.approx(1.0, abs=1e-4)  # norm = sqrt(0 + 1e-10)
    assert w.grad is not None and torch.all(torch.isfinite(w.grad))


def test_gradient_penalty_through_discriminator_reaches_parameters() -> None:
    d = Discriminator(num_pitches=5, channels=(8, 4))
    real, fake = torch.randn(4, 2, 4, 32), torch.randn(4, 2, 4, 32)
    gp = gradient_penalty(lambda x: d(x, 1, 0.5)[0], real, fake)
    assert torch.isfinite(gp) and gp.item() > 0
    gp.backward()
    assert d.from_specgram[1].weight.grad is not None
    assert d.blocks[0].score.weight.grad is not None


def test_combined_losses_by_hand() -> None:
    real_score = torch.tensor([1.0, 2.0])
    fake_score = torch.tensor([0.0, -1.0])
    real_logits = torch.tensor([[0.0, 0.0], [0.0, 0.0]])  # CE = ln 2 for any target
    real_pitch = torch.tensor([0, 1])
    penalty = torch.tensor(0.5)
    weights = GANLossWeights()
    assert (weights.gp, weights.drift, weights.aux) == (10.0, 0.001, 10.0)
    total, terms = discriminator_loss(real_score, fake_score, real_logits, real_pitch, penalty)
    assert terms["wgan"].item() == pytest.approx(-0.5 - 1.5)
    assert terms["drift"].item() == pytest.approx(2.5)
    assert terms["pitch"].item() == pytest.approx(math.log(2.0))
    assert total.item() == pytest.approx(-2.0 + 10 * 0.5 + 0.001 * 2.5 + 10 * math.log(2.0), rel=1e-6)
    custom = GANLossWeights(gp=1.0, drift=0.0, aux=0.0)
    total_c, _ = discriminator_loss(real_score, fake_score, real_logits, real_pitch, penalty, custom)
    assert total_c.item() == pytest.approx(-2.0 + 0.5)

    fake_logits = torch.tensor([[3.0, 0.0], [0.0, 0.0]])
    fake_pitch = torch.tensor([0, 1])
    total_g, terms_g = generator_loss(fake_score, fake_logits, fake_pitch)
    ce = F.cross_entropy(fake_logits, fake_pitch).item()
    assert terms_g["wgan"].item() == pytest.approx(0.5)
    assert total_g.item() == pytest.approx(0.5 + 10 * ce, rel=1e-6)
