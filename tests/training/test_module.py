"""Unit tests of the LightningModule's pieces: real-data pyramid, sampler, EMA, step noise."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gansynth.config import ExperimentConfig, config_from_dict
from gansynth.training.module import GANSynthModule, frozen, step_seed
from gansynth.training.sampling import ResumableSampler


def tiny_config(**train: object) -> ExperimentConfig:
    return config_from_dict(ExperimentConfig, {
        "model": {"latent_dim": 8, "channels": [4, 4, 4, 4, 2, 2, 2]},
        "schedule": {"stage_images": 8, "max_images": 104},
        "train": {"batch_size": 4, **train}})


def test_real_specgrams_shapes_and_fade_in() -> None:
    module = GANSynthModule(tiny_config())
    raw = torch.randn(3, 2, 128, 1024) * 3 - 5
    norm = module.normalizer(raw)
    for block in range(7):
        x = module.real_specgrams(raw, block, 1.0)
        assert x.shape == (3, 2, 2 * 2**block, 16 * 2**block)
        # alpha 1: the plain average-pooled normalized spectrogram
        factor = 2 ** (6 - block)
        expected = F.avg_pool2d(norm, factor) if factor > 1 else norm
        torch.testing.assert_close(x, expected)
        if block > 0:
            # alpha 0: the previous block's version, upsampled (ProGAN's real-image fade-in)
            x0 = module.real_specgrams(raw, block, 0.0)
            lower = module.real_specgrams(raw, block - 1, 1.0)
            torch.testing.assert_close(x0, F.interpolate(lower, scale_factor=2.0, mode="nearest"))
            half = module.real_specgrams(raw, block, 0.5)
            torch.testing.assert_close(half, 0.5 * (x + x0))


def test_real_specgrams_rejects_wrong_shape() -> None:
    module = GANSynthModule(tiny_config())
    try:
        module.real_specgrams(torch.zeros(2, 2, 64, 1024), 6, 1.0)
    except ValueError as err:
        assert "128, 1024" in str(err)
    else:
        raise AssertionError("wrong spectrogram shape was accepted")


def test_step_noise_depends_only_on_position() -> None:
    a, b = GANSynthModule(tiny_config()), GANSynthModule(tiny_config())
    a.images_seen = b.images_seen = 40
    za, pa = a.sample_latents(4, stream=0)
    a.sample_latents(4, stream=1)  # drawing other streams does not shift this one
    zb, pb = b.sample_latents(4, stream=0)
    assert torch.equal(za, zb) and torch.equal(pa, pb)
    b.images_seen = 44
    assert not torch.equal(b.sample_latents(4, stream=0)[0], za)
    assert len({step_seed(0, r, 0, 0) for r in range(4)}) == 4


def test_fake_pitches_follow_the_distribution() -> None:
    module = GANSynthModule(tiny_config())
    probs = torch.zeros(61)
    probs[12], probs[36] = 0.75, 0.25  # MIDI 36 and 60
    module.pitch_probs.copy_(probs)
    _, idx = module.sample_latents(4000, stream=0)
    assert set(idx.tolist()) == {12, 36}
    assert abs((idx == 12).float().mean().item() - 0.75) < 0.03


def test_train_batch_updates_both_networks_and_ema() -> None:
    module = GANSynthModule(tiny_config(ema_decay=0.9))
    opt_g, opt_d = module.configure_optimizers()
    g0 = [p.detach().clone() for p in module.generator.parameters()]
    d0 = [p.detach().clone() for p in module.discriminator.parameters()]
    e0 = [p.detach().clone() for p in module.generator_ema.parameters()]
    module.images_seen = 12  # transition into block 1: blocks 0 and 1 are active
    raw = torch.randn(4, 2, 128, 1024) - 4
    metrics = module.train_batch(raw, torch.tensor([36, 48, 60, 72]), opt_g, opt_d, lambda loss: loss.backward())
    assert all(torch.isfinite(v) for v in metrics.values())
    assert metrics["gradient_penalty"] > 0
    changed_g = [not torch.equal(a, b) for a, b in zip(g0, module.generator.parameters())]
    changed_d = [not torch.equal(a, b) for a, b in zip(d0, module.discriminator.parameters())]
    assert any(changed_g) and any(changed_d)
    # inactive blocks (2..6) keep their weights
    for k in range(2, 7):
        for p0, p in zip([g0[i] for i, (n, _) in enumerate(module.generator.named_parameters())
                          if n.startswith(f"blocks.{k}.")],
                         [p for n, p in module.generator.named_parameters() if n.startswith(f"blocks.{k}.")]):
            assert torch.equal(p0, p)
    # EMA moved by exactly (1 - decay) of the way towards the new weights
    for e_old, e_new, g in zip(e0, module.generator_ema.parameters(), module.generator.parameters()):
        torch.testing.assert_close(e_new, e_old + 0.1 * (g - e_old))
    assert all(not p.requires_grad for p in module.generator_ema.parameters())
    assert all(p.requires_grad for p in module.discriminator.parameters())  # unfrozen again


def test_frozen_restores_flags() -> None:
    layer = torch.nn.Linear(2, 2)
    layer.bias.requires_grad_(False)
    with frozen(layer):
        assert not layer.weight.requires_grad
    assert layer.weight.requires_grad and not layer.bias.requires_grad


def test_resumable_sampler_shards_and_resumes() -> None:
    seen = {"n": 0}
    ranks = [ResumableSampler(22, 2, seed=3, position=lambda: seen["n"], rank=r, world=2) for r in range(2)]
    assert len(ranks[0]) == 10  # 22 // 2 ranks = 11 -> 5 full batches of 2
    epoch0 = [list(s) for s in ranks]
    assert not set(epoch0[0]) & set(epoch0[1])  # different data per rank
    assert len(set(epoch0[0]) | set(epoch0[1])) == 20
    seen["n"] = 3 * 2 * 2  # three global batches done: continue inside the epoch
    assert list(ranks[0]) == epoch0[0][6:]
    seen["n"] = 5 * 2 * 2  # next epoch: a new order
    epoch1 = list(ranks[0])
    assert len(epoch1) == 10 and epoch1 != epoch0[0]
    single = ResumableSampler(22, 2, seed=3, position=lambda: 0)
    order = list(single)
    assert sorted(order) == list(range(22)) and order != list(range(22))
