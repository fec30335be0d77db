"""Sample-efficient training options (issue 14, part): the non-saturating loss with R1, DiffAugment
that keeps pitch, and the EMA half-life in images with its ramp-up."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gansynth.config import ExperimentConfig, config_from_dict
from gansynth.errors import ConfigError
from gansynth.losses import (
    discriminator_loss,
    generator_loss,
    ns_d_loss,
    ns_g_loss,
    r1_penalty,
    spectrum_loss,
)
from gansynth.training.augment import augment, parse_policy
from gansynth.training.module import GANSynthModule
from gansynth.training.run import train
from tests.training.conftest import debug_config
from tests.training.test_fast import one_step, read_rows, tiny_module


def test_non_saturating_losses_and_r1() -> None:
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    expected_d = (F.softplus(fake).mean() + F.softplus(-real).mean()).item()
    assert ns_d_loss(real, fake).item() == pytest.approx(expected_d)
    assert ns_g_loss(fake).item() == pytest.approx(F.softplus(-fake).mean().item())
    # a linear critic D(x) = <w, x> has gradient w everywhere: R1 = |w|^2
    w = torch.randn(2, 3, 4, requires_grad=True)
    penalty = r1_penalty(lambda x: (x * w).flatten(1).sum(1), torch.randn(5, 2, 3, 4))
    assert penalty.item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)
    penalty.backward()  # differentiable in the critic's parameters: d|w|^2/dw = 2w
    torch.testing.assert_close(w.grad, 2 * w.detach())
    # the ns-r1 critic loss has no drift term
    logits, idx = torch.zeros(2, 3), torch.tensor([0, 1])
    total, terms = discriminator_loss(real, fake, logits, idx, penalty.detach(), loss="ns-r1")
    assert total.item() == pytest.approx(terms["wgan"].item() + 10 * penalty.item() + 10 * terms["pitch"].item())
    with pytest.raises(ValueError, match="not one of"):
        generator_loss(fake, logits, idx, loss="hinge")


def test_ns_r1_training_step_and_its_lazy_form() -> None:
    after = one_step(tiny_module(loss="ns-r1", r1_gamma=2.0, reg_interval=4), images_seen=16)
    for a, b in zip(after, one_step(tiny_module(loss="ns-r1", r1_gamma=8.0), images_seen=16), strict=True):
        assert torch.equal(a, b)
    paper = one_step(tiny_module(), images_seen=16)
    assert any(not torch.equal(a, b) for a, b in zip(after, paper, strict=True))
    assert all(torch.isfinite(p).all() for p in after)


def test_augmentation_keeps_every_frequency_bin_in_place() -> None:
    x = torch.randn(6, 2, 32, 64)
    gen = torch.Generator().manual_seed(0)
    assert augment(x, (), gen) is x
    # time shift: every output frame is an input frame of the same example, or zeros
    shifted = augment(x, ("time_shift",), gen)
    assert shifted.shape == x.shape
    for b in range(6):
        zero = shifted[b].abs().sum(dim=(0, 2)) == 0
        for f in torch.nonzero(~zero).flatten().tolist():
            assert any(torch.equal(shifted[b, :, f], x[b, :, g]) for g in range(32))
    # cutouts: a band of frames or of bins is zero in both channels, the rest untouched
    for op, dim, width in (("time_cutout", 2, 32 // 4), ("freq_cutout", 3, 64 // 8)):
        out = augment(x, (op,), gen)
        other = (1, 3) if dim == 2 else (1, 2)
        for b in range(6):
            zeros = out[b].abs().sum(dim=tuple(d - 1 for d in other)) == 0
            assert int(zeros.sum()) == width
            band = torch.nonzero(zeros).flatten()
            assert int(band.max() - band.min()) == width - 1  # contiguous
            kept = ~zeros
            if dim == 2:
                assert torch.equal(out[b][:, kept], x[b][:, kept])
            else:
                assert torch.equal(out[b][:, :, kept], x[b][:, :, kept])
    # the draws differ between examples, and gradients flow through
    xg = x.clone().requires_grad_(True)
    augment(xg, parse_policy("time_shift,time_cutout,freq_cutout"), gen).sum().backward()
    assert xg.grad is not None and 0 < float((xg.grad != 0).float().mean()) < 1
    with pytest.raises(ValueError, match="pitch_shift"):
        parse_policy("time_shift,pitch_shift")
    with pytest.raises(ConfigError, match="train.augment"):
        tiny_module(augment="freq_shift")


def test_ema_half_life_in_images_with_ramp_up() -> None:
    fixed = tiny_module(ema_decay=0.99)
    assert fixed.ema_decay(4) == 0.99
    half = tiny_module(ema_half_life_images=400)
    assert half.ema_decay(4) == pytest.approx(0.5 ** (4 / 400))
    assert half.ema_decay(16) == pytest.approx(0.5 ** (16 / 400))  # per image, whatever the batch
    ramp = tiny_module(ema_half_life_images=400, ema_rampup=0.5)
    ramp.images_seen = 8 * 6  # the first step of stage 6: half-life 0.5 x one batch
    assert ramp.ema_decay(4) == pytest.approx(0.5 ** (4 / 2))
    ramp.images_seen = 8 * 6 + 4  # 4 images into the stage: half-life 2
    assert ramp.ema_decay(4) == pytest.approx(0.5 ** (4 / 2))
    ramp.images_seen = 8 * 100 + 4  # past the schedule: the last stage's images count
    assert ramp.ema_decay(4) < 0.5 ** (4 / 400) + 1e-9


def test_a_debug_schedule_with_the_sample_efficient_options(tmp_path: Path, gm_tiny_cache: str) -> None:
    cfg = debug_config(tmp_path / "se", gm_tiny_cache, "train.loss=ns-r1", "train.r1_gamma=1.0",
                       "train.reg_interval=4", "train.augment=time_shift,time_cutout,freq_cutout",
                       "train.ema_half_life_images=40", "train.ema_rampup=0.5", "data.pitch_balance=1.0",
                       "data.oversample_below=48", "data.oversample_factor=2.0", "model.projection_weight=1.0")
    module = train(cfg, progress_bar=False)
    assert module.images_seen == cfg.schedule.max_images
    rows = read_rows(tmp_path / "se")
    assert rows and all(math.isfinite(float(r[k])) for r in rows
                        for k in ("d_loss", "g_loss", "gradient_penalty", "d_pitch", "g_pitch"))
    # the logistic loss of an untrained critic starts near 2 ln 2
    assert abs(float(rows[0]["d_wgan"]) - 2 * math.log(2)) < 0.5
    assert all(torch.isfinite(p).all() for p in module.generator_ema.parameters())


def test_projection_discriminator() -> None:
    from gansynth.models.discriminator import Discriminator

    torch.manual_seed(0)
    plain = Discriminator(num_pitches=5, channels=(8, 4), start_shape=(2, 16))
    assert not any("embed" in k for k in plain.state_dict())  # the paper's D is unchanged
    d = Discriminator(num_pitches=5, channels=(8, 4), start_shape=(2, 16), projection_weight=0.5)
    x = torch.randn(3, 2, 4, 32)
    with torch.no_grad():
        d.blocks[0].embed.weight.normal_()  # type: ignore[union-attr]
    a, logits_a = d(x, 1, 1.0, torch.tensor([0, 1, 2]))
    b, logits_b = d(x, 1, 1.0, torch.tensor([3, 1, 4]))
    torch.testing.assert_close(logits_a, logits_b)  # the classifier does not see the pitch
    assert a[1] == b[1] and a[0] != b[0] and a[2] != b[2]  # only the score of a changed pitch moves
    with pytest.raises(ValueError, match="needs the pitch"):
        d(x, 1, 1.0)
    # in training, the embedding learns from both D losses
    torch.manual_seed(0)
    module = GANSynthModule(config_from_dict(ExperimentConfig, {
        "model": {"latent_dim": 8, "channels": [4, 4, 4, 4, 2, 2, 2], "projection_weight": 1.0},
        "schedule": {"stage_images": 8, "max_images": 104}, "train": {"batch_size": 4, "aux_weight": 0.0}}))
    opt_g, opt_d = module.configure_optimizers()
    raw = torch.randn(4, 2, 128, 1024) - 4
    module.images_seen = 100
    before = module.discriminator.blocks[0].embed.weight.detach().clone()
    metrics = module.train_batch(raw, torch.tensor([36, 48, 60, 72]), opt_g, opt_d, lambda loss: loss.backward())
    assert all(torch.isfinite(v) for v in metrics.values())
    assert not torch.equal(module.discriminator.blocks[0].embed.weight, before)



def unbalanced_copy(folder: Path) -> Path:
    """The gm_tiny fixture (8 notes at each of 4 pitches) without 6 of its pitch-72 notes."""
    import json
    import shutil

    from tests.training.conftest import REPO

    source = REPO / "data" / "fixtures" / "gm_tiny"
    examples = json.loads((source / "examples.json").read_text())
    drop = [name for name, meta in examples.items() if meta["pitch"] == 72][:6]
    kept = {name: meta for name, meta in examples.items() if name not in drop}
    (folder / "audio").mkdir(parents=True)
    (folder / "examples.json").write_text(json.dumps(kept))
    for name in kept:
        shutil.copy(source / "audio" / f"{name}.wav", folder / "audio" / f"{name}.wav")
    return folder


def test_pitch_balanced_sampling_with_low_octaves_oversampled(tmp_path: Path) -> None:
    import dataclasses

    from gansynth.config import DataConfig, SpectralConfig
    from gansynth.data.datamodule import NoteDataModule
    from gansynth.training.sampling import ResumableSampler

    data = DataConfig(path=str(unbalanced_copy(tmp_path / "notes")))
    plain = NoteDataModule(data, SpectralConfig(), batch_size=2)
    assert plain.sample_weights() is None  # the paper's: notes as they are
    pitches = plain._pitches()
    assert len(set(pitches.tolist())) > 1 and len(set(np.bincount(pitches).tolist()) - {0}) > 1  # unbalanced

    balanced = NoteDataModule(dataclasses.replace(data, pitch_balance=1.0), SpectralConfig(), batch_size=2)
    weights = balanced.sample_weights()
    assert weights is not None
    per_pitch = {p: float(weights[pitches == p].sum()) for p in set(pitches.tolist())}
    assert max(per_pitch.values()) == pytest.approx(min(per_pitch.values()))  # every pitch alike
    dist = balanced.pitch_distribution()  # the fakes follow the served distribution
    assert float(dist.max()) == pytest.approx(1 / len(per_pitch), rel=1e-5)

    low = int(np.median(pitches))
    boosted = NoteDataModule(dataclasses.replace(data, pitch_balance=1.0, oversample_below=low, oversample_factor=3.0),
                             SpectralConfig(), batch_size=2).sample_weights()
    assert boosted is not None
    low_pitch, high_pitch = min(per_pitch), max(per_pitch)
    ratio = float(boosted[pitches == low_pitch].sum() / boosted[pitches == high_pitch].sum())
    assert ratio == pytest.approx(3.0)

    # the sampler draws in proportion to the weights, the same indices for the same epoch
    sizes = len(pitches)
    sampler = ResumableSampler(sizes, 1, seed=0, position=lambda: 0, weights=boosted)
    assert sampler.epoch_indices(3) == sampler.epoch_indices(3) != sampler.epoch_indices(4)
    drawn = np.concatenate([pitches[sampler.epoch_indices(e)] for e in range(4000 // sizes + 1)])
    share_low = float(np.mean(drawn == low_pitch))
    assert share_low == pytest.approx(float(boosted[pitches == low_pitch].sum()), abs=0.03)


def test_spectrum_loss_formula_and_gradient() -> None:
    real = torch.zeros(2, 2, 3, 4)
    fake = torch.zeros(2, 2, 3, 4)
    fake[:, 0, :, 3] = 1.5  # one bin loud in every frame of the generated batch
    fake[0, 0, 0, 1] = 0.6  # one cell: bin 1's mean over 2 examples x 3 frames is 0.1
    fake[:, 1] = 5.0  # the IF channel does not count
    assert torch.isclose(spectrum_loss(fake, real), torch.tensor(1.5**2 + 0.1**2))
    with pytest.raises(ValueError, match="alike"):
        spectrum_loss(fake, real[:, :, :, :3])
    # gradient descent on the generated batch moves its mean spectrum to the real one
    x = fake.clone().requires_grad_(True)
    for _ in range(50):
        (grad,) = torch.autograd.grad(spectrum_loss(x, real), x)
        x = (x - 0.5 * grad).detach().requires_grad_(True)
    assert float(spectrum_loss(x.detach(), real)) < 1e-6 < float(spectrum_loss(fake, real))


def test_spectrum_weight_adds_the_term_to_the_generator_loss() -> None:
    plain = tiny_module()
    weighted = tiny_module(spectrum_weight=2.0)
    opt_g, opt_d = weighted.configure_optimizers()
    raw = torch.randn(4, 2, 128, 1024, generator=torch.Generator().manual_seed(1)) - 4
    pitches = torch.tensor([24, 40, 60, 84])
    weighted.images_seen = plain.images_seen = 16
    metrics = weighted.train_batch(raw, pitches, opt_g, opt_d, lambda loss: loss.backward())
    aux = weighted.loss_weights.aux
    assert float(metrics["g_spectrum"]) > 0
    assert math.isclose(float(metrics["g_loss"]), float(metrics["g_wgan"]) + aux * float(metrics["g_pitch"])
                        + 2.0 * float(metrics["g_spectrum"]), rel_tol=1e-5)
    plain_g, plain_d = plain.configure_optimizers()
    assert "g_spectrum" not in plain.train_batch(raw, pitches, plain_g, plain_d, lambda loss: loss.backward())
    with pytest.raises(ConfigError, match="spectrum_weight"):
        config_from_dict(ExperimentConfig, {"train": {"spectrum_weight": -1.0}})
