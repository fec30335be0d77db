"""GAN losses as pure functions on tensors (DESIGN.md section 3, "Training").

The paper's: WGAN with gradient penalty (weight 10, target 1), drift 0.001 * mean(D(real)^2) and
an auxiliary pitch cross-entropy (weight 10: G on its sampled fake pitches, D on real pitches
only). The option `train.loss: ns-r1` (docs/training.md): the non-saturating logistic loss with
the R1 penalty on real data, gamma / 2 * mean(|grad_x D(x)|^2) (Mescheder et al. 2018, StyleGAN2),
and no drift term; the pitch cross-entropy stays.

The term functions return UNWEIGHTED values; `discriminator_loss` / `generator_loss` apply the
weights of a `GANLossWeights` and return `(total, terms)` where `terms` holds the unweighted terms
(still attached to the graph: detach before logging). No network is called here except the critic
handed to `gradient_penalty`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gansynth.config import GAN_LOSSES as ADVERSARIAL_LOSSES

# Added under the square root of the gradient norm so that its derivative stays finite where the
# critic's gradient is exactly zero (the double backward of sqrt(0) is inf).
GRAD_NORM_EPS = 1e-10


@dataclass(frozen=True)
class GANLossWeights:
    """Weights of the loss terms: gradient penalty, drift, auxiliary pitch classifier."""

    gp: float = 10.0
    drift: float = 0.001
    aux: float = 10.0


def wgan_d_loss(real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
    """Critic's Wasserstein loss: mean(D(fake)) - mean(D(real)).

    real_score, fake_score: (B,) critic scores. Returns a scalar tensor.
    """
    return fake_score.float().mean() - real_score.float().mean()


def wgan_g_loss(fake_score: torch.Tensor) -> torch.Tensor:
    """Generator's Wasserstein loss: -mean(D(fake)). fake_score: (B,). Returns a scalar tensor."""
    return -fake_score.float().mean()


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor,
                     fake: torch.Tensor, target: float = 1.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP penalty mean((|grad_x D(x_hat)| / target - 1)^2) at random interpolates.

    critic: maps (B, ...) inputs to (B,) scores (wrap a discriminator that also returns logits:
    `lambda x: disc(x, block, alpha)[0]`). real, fake: (B, C, H, W) of the same shape; `fake` is
    detached. x_hat = real + u * (fake - real) with u ~ U(0, 1) per example (drawn from `generator`,
    or the global RNG on the inputs' device). The norm is over all non-batch dimensions, computed
    in float32 as sqrt(sum(g^2) + 1e-10). The result is a scalar that stays differentiable with
    respect to the critic's parameters (create_graph=True). With target 1 this is (|g| - 1)^2.
    Weight (10 in the paper) is applied by the caller.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if target <= 0:
        raise ValueError(f"gradient penalty target must be > 0, got {target}")
    batch = real.shape[0]
    mix_shape = (batch,) + (1,) * (real.dim() - 1)
    u = torch.rand(mix_shape, device=real.device, dtype=real.dtype, generator=generator)
    x_hat = (real.detach() + u * (fake.detach() - real.detach())).requires_grad_(True)
    score = critic(x_hat)  # (B,)
    (grad,) = torch.autograd.grad(score.float().sum(), x_hat, create_graph=True)
    norm = torch.sqrt(grad.float().reshape(batch, -1).pow(2).sum(dim=1) + GRAD_NORM_EPS)  # (B,)
    return (norm / target - 1.0).pow(2).mean()


def r1_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """R1: mean over the batch of |grad_x D(x)|^2 at the real data, computed in float32.

    critic: maps (B, ...) inputs to (B,) scores; real: (B, C, H, W). The result is a scalar that
    stays differentiable with respect to the critic's parameters (create_graph=True); the weight
    (gamma / 2) is applied by the caller.
    """
    x = real.detach().requires_grad_(True)
    score = critic(x)  # (B,)
    (grad,) = torch.autograd.grad(score.float().sum(), x, create_graph=True)
    return grad.float().reshape(real.shape[0], -1).pow(2).sum(dim=1).mean()


def ns_d_loss(real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
    """Non-saturating (logistic) critic loss: mean(softplus(D(fake))) + mean(softplus(-D(real))).
    real_score, fake_score: (B,) logits. Scalar tensor."""
    return F.softplus(fake_score.float()).mean() + F.softplus(-real_score.float()).mean()


def ns_g_loss(fake_score: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: mean(softplus(-D(fake))). fake_score: (B,). Scalar tensor."""
    return F.softplus(-fake_score.float()).mean()



def spectrum_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Squared distance between the mean spectra of two batches, summed over frequency bins.

    fake, real: (B, C, frames, bins) normalized spectrograms at the same resolution; channel 0 is
    the log magnitude. The mean over examples and frames of channel 0 is taken per bin, in
    float32; the result is sum_bins (mean_fake - mean_real)^2, a scalar differentiable with
    respect to `fake` (the real batch is a constant). A generator that keeps a few bins loud
    where real notes are silent, as at the top edge of the spectrogram, pays for every such bin,
    however little of the image it covers.
    """
    if fake.dim() != 4 or fake.shape[1:] != real.shape[1:]:
        raise ValueError(f"fake and real must be (B, C, frames, bins) alike, got {tuple(fake.shape)} "
                         f"and {tuple(real.shape)}")
    gap = fake[:, 0].float().mean(dim=(0, 1)) - real[:, 0].detach().float().mean(dim=(0, 1))  # (bins,)
    return gap.pow(2).sum()


def drift_penalty(real_score: torch.Tensor) -> torch.Tensor:
    """mean(D(real)^2): keeps the critic's output near zero. real_score: (B,). Scalar tensor."""
    return real_score.float().pow(2).mean()


def pitch_loss(logits: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the auxiliary pitch classifier.

    logits: (B, num_pitches); target_index: (B,) int64 class index 0..num_pitches-1.
    """
    return F.cross_entropy(logits.float(), target_index)


def pitch_accuracy(logits: torch.Tensor, target_index: torch.Tensor) -> torch.Tensor:
    """Fraction of examples whose argmax logit is the target class: scalar float tensor in [0, 1]."""
    return (logits.argmax(dim=1) == target_index).float().mean()


def discriminator_loss(real_score: torch.Tensor, fake_score: torch.Tensor,
                       real_logits: torch.Tensor, real_pitch: torch.Tensor, penalty: torch.Tensor,
                       weights: GANLossWeights | None = None, loss: str = "wgan-gp",
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total critic loss = adversarial + gp * penalty + drift * drift_penalty + aux * pitch_loss(real).

    real_score, fake_score: (B,); real_logits: (B, num_pitches) of D on the REAL batch;
    real_pitch: (B,) int64 class index; penalty: scalar from `gradient_penalty` ("wgan-gp") or
    `r1_penalty` ("ns-r1"; `weights.gp` is then gamma / 2 and `weights.drift` is not used).
    Returns (total, {"wgan", "gradient_penalty", "drift", "pitch"}) with unweighted terms ("wgan"
    holds the adversarial term of either loss).
    """
    if loss not in ADVERSARIAL_LOSSES:
        raise ValueError(f"loss {loss!r} is not one of {ADVERSARIAL_LOSSES}")
    w = weights if weights is not None else GANLossWeights()
    if loss == "ns-r1":
        w = GANLossWeights(gp=w.gp, drift=0.0, aux=w.aux)
    terms = {
        "wgan": wgan_d_loss(real_score, fake_score) if loss == "wgan-gp" else ns_d_loss(real_score, fake_score),
        "gradient_penalty": penalty,
        "drift": drift_penalty(real_score),
        "pitch": pitch_loss(real_logits, real_pitch),
    }
    total = (terms["wgan"] + w.gp * terms["gradient_penalty"] + w.drift * terms["drift"]
             + w.aux * terms["pitch"])
    return total, terms


def generator_loss(fake_score: torch.Tensor, fake_logits: torch.Tensor, fake_pitch: torch.Tensor,
                   weights: GANLossWeights | None = None, loss: str = "wgan-gp",
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Total generator loss = adversarial (wgan_g_loss or, for "ns-r1", ns_g_loss) + aux *
    pitch_loss(D's logits on fakes, the sampled pitches).

    fake_score: (B,); fake_logits: (B, num_pitches); fake_pitch: (B,) int64 class index the fakes
    were generated with. Returns (total, {"wgan", "pitch"}) with unweighted terms.
    """
    if loss not in ADVERSARIAL_LOSSES:
        raise ValueError(f"loss {loss!r} is not one of {ADVERSARIAL_LOSSES}")
    w = weights if weights is not None else GANLossWeights()
    terms = {
        "wgan": wgan_g_loss(fake_score) if loss == "wgan-gp" else ns_g_loss(fake_score),
        "pitch": pitch_loss(fake_logits, fake_pitch),
    }
    return terms["wgan"] + w.aux * terms["pitch"], terms
