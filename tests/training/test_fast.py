"""The fast-training options (docs/training.md "Fast training"): lazy regularization is the
scaled penalty on every k-th step, the step never reads a value back from the device, compile
falls back to eager, a larger batch keeps lr and EMA per image, and the numerics hold through
whole debug schedules."""

from __future__ import annotations

import csv
import logging
import math
import os
import traceback
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from gansynth.config import ExperimentConfig, config_from_dict, load_config
from gansynth.training.module import GANSynthModule
from gansynth.training.run import train
from gansynth.training.speed import CompiledNetwork, scaled_batch_overrides
from tests.training.conftest import DEBUG_RECIPE, debug_config

PITCHES = torch.tensor([36, 48, 60, 72])


def tiny_module(**train: object) -> GANSynthModule:
    """A module with tiny networks, stages of 8 images and batch 4, seeded, with `train` fields."""
    torch.manual_seed(0)
    return GANSynthModule(config_from_dict(ExperimentConfig, {
        "model": {"latent_dim": 8, "channels": [4, 4, 4, 4, 2, 2, 2]},
        "schedule": {"stage_images": 8, "max_images": 104},
        "train": {"batch_size": 4, **train}}))


def one_step(module: GANSynthModule, images_seen: int) -> list[torch.Tensor]:
    """Weights of both networks after one step at `images_seen` from the module's weights."""
    opt_g, opt_d = module.configure_optimizers()
    module.images_seen = images_seen
    raw = torch.randn(4, 2, 128, 1024, generator=torch.Generator().manual_seed(1)) - 4
    module.train_batch(raw, PITCHES, opt_g, opt_d, lambda loss: loss.backward())
    return [p.detach().clone() for p in module.parameters()]


def test_lazy_regularization_is_the_scaled_penalty_every_kth_step() -> None:
    lazy = tiny_module(reg_interval=4)
    assert [lazy.regularize_now(4) for lazy.images_seen in range(0, 40, 4)] == [
        True, False, False, False, True, False, False, False, True, False]
    # a step with the penalty: as if the penalty weight were 4 x 10 on every step
    after = one_step(tiny_module(reg_interval=4), images_seen=16)
    for a, b in zip(after, one_step(tiny_module(gp_weight=40.0), images_seen=16), strict=True):
        assert torch.equal(a, b)
    # a step without: as if there were no penalty
    after = one_step(tiny_module(reg_interval=4), images_seen=20)
    for a, b in zip(after, one_step(tiny_module(gp_weight=0.0), images_seen=20), strict=True):
        assert torch.equal(a, b)
    # ... which differs from the paper's step
    paper = one_step(tiny_module(), images_seen=20)
    assert any(not torch.equal(a, b) for a, b in zip(after, paper, strict=True))


class ReadsBack(TorchDispatchMode):
    """Records every operator that copies a tensor's value to the host (`.item()`, `int(t)`,
    `bool(t)`, `.tolist()` all reach aten._local_scalar_dense), except Adam's reads of its step
    counter, a host tensor (on a GPU too: the fused Adam used there reads nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        if func is torch.ops.aten._local_scalar_dense.default:
            stack = traceback.extract_stack()
            if not any(f"torch{os.sep}optim{os.sep}" in frame.filename for frame in stack):
                self.reads.append(" <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in stack[-6:-1]))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("images_seen", [0, 12, 100])  # block 0, a transition, the last block
def test_the_step_reads_nothing_back_from_the_device(images_seen: int) -> None:
    module = tiny_module(reg_interval=2)
    opt_g, opt_d = module.configure_optimizers()
    raw = torch.randn(4, 2, 128, 1024) - 4
    module.train_batch(raw, PITCHES, opt_g, opt_d, lambda loss: loss.backward())  # first-call set-up
    module.images_seen = images_seen
    for _ in range(2):  # with and without the penalty
        with ReadsBack() as mode:
            module.train_batch(raw, PITCHES, opt_g, opt_d, lambda loss: loss.backward())
        assert mode.reads == []
        module.images_seen += 4
    # the pitch range is checked on the host copy of the batch instead
    with pytest.raises(ValueError, match="fall outside"):
        module.on_before_batch_transfer({"pitch": torch.tensor([12, 60])}, 0)


def broken_backend(graph: torch.fx.GraphModule, inputs: list[torch.Tensor]) -> object:
    raise RuntimeError("no C++ compiler here")


def test_compile_falls_back_to_eager_and_keeps_network_errors(caplog: pytest.LogCaptureFixture) -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh())
    x = torch.randn(5, 3)
    compiled = CompiledNetwork(net, backend=broken_backend)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="gansynth.training.speed"):
        y = compiled(x)
    assert torch.equal(y, net(x))
    assert compiled.compiled is None and compiled.failure is not None and "no C++ compiler" in compiled.failure
    assert "training on eagerly" in caplog.text
    # a working backend is used, and an error of the network's own still reaches the caller
    traced = CompiledNetwork(net, backend="eager")
    torch.testing.assert_close(traced(x), net(x))
    assert traced.compiled is not None
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied|size mismatch|mat1 and mat2"):
        traced(torch.randn(5, 4))


def test_a_larger_batch_keeps_lr_and_ema_per_image() -> None:
    base = load_config(ExperimentConfig, DEBUG_RECIPE)
    overrides = scaled_batch_overrides(base.train, 4 * base.train.batch_size)
    scaled = load_config(ExperimentConfig, DEBUG_RECIPE, overrides)
    assert scaled.train.batch_size == 4 * base.train.batch_size
    assert scaled.train.lr == pytest.approx(2 * base.train.lr, rel=1e-5)  # sqrt(4)
    # the EMA's half-life in images is unchanged
    half_life = math.log(0.5) / math.log(base.train.ema_decay) * base.train.batch_size
    assert math.log(0.5) / math.log(scaled.train.ema_decay) * scaled.train.batch_size == pytest.approx(half_life, rel=1e-4)


def read_rows(run: Path) -> list[dict[str, str]]:
    return [row for path in sorted((run / "logs" / "csv").glob("version_*/metrics.csv"))
            for row in csv.DictReader(open(path))]


LOSSES = ("d_wgan", "drift", "d_pitch", "g_wgan", "g_pitch")


def test_bf16_losses_track_fp32(tmp_path: Path, gm_tiny_cache: str) -> None:
    """The debug recipe's first 32 images in bf16-mixed and in fp32 from the same weights and data:
    every logged loss term stays within 0.05 + 5% of the fp32 value (docs/training.md)."""
    runs = {}
    for precision in ("32-true", "bf16-mixed"):
        cfg = debug_config(tmp_path / precision, gm_tiny_cache, "schedule.max_images=32",
                           f"trainer.precision={precision}")
        train(cfg, progress_bar=False)
        runs[precision] = read_rows(tmp_path / precision)
    fp32, bf16 = runs["32-true"], runs["bf16-mixed"]
    assert len(fp32) == len(bf16) == 8
    for a, b in zip(fp32, bf16, strict=True):
        assert a["images_seen"] == b["images_seen"]
        for key in LOSSES:
            ref, low = float(a[key]), float(b[key])
            assert math.isfinite(low) and abs(low - ref) <= 0.05 + 0.05 * abs(ref), (a["images_seen"], key, ref, low)
    # bf16 did run: the terms are not bit-identical
    assert any(float(a[k]) != float(b[k]) for a, b in zip(fp32, bf16) for k in LOSSES)


def test_every_fast_option_through_a_whole_debug_schedule(tmp_path: Path, gm_tiny_cache: str) -> None:
    """All 13 stages with lazy regularization, bf16 autocast, channels_last and torch.compile
    (the "eager" backend: Dynamo's tracing and guards without generating C++, which would take
    minutes per stage here): no NaN or Inf in any logged value or weight."""
    cfg = debug_config(tmp_path / "fast", gm_tiny_cache, "train.reg_interval=4", "trainer.precision=bf16-mixed",
                       "train.channels_last=true", "train.compile=true", "train.compile_backend=eager")
    module = train(cfg, progress_bar=False)
    assert module.images_seen == cfg.schedule.max_images
    assert module._networks is not None and all(net.failure is None for net in module._networks)  # type: ignore[attr-defined]
    rows = read_rows(tmp_path / "fast")
    assert len(rows) == cfg.schedule.max_images // cfg.train.batch_size
    assert {float(r["stage"]) for r in rows} == set(map(float, range(13)))
    for row in rows:
        for key in (*LOSSES, "gradient_penalty", "d_loss", "g_loss"):
            assert math.isfinite(float(row[key])), (row["images_seen"], key)
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_compiled_training_through_aot_autograd(tmp_path: Path, gm_tiny_cache: str) -> None:
    """The first three stages (block 0, the transition to block 1, block 1) through AOTAutograd
    (backend aot_eager: the compiled forward and backward graphs, run by eager kernels) give the
    eager run's losses to float tolerance."""
    runs = {}
    for name, overrides in (("eager", ()), ("compiled", ("train.compile=true", "train.compile_backend=aot_eager"))):
        cfg = debug_config(tmp_path / name, gm_tiny_cache, "schedule.max_images=24", *overrides)
        module = train(cfg, progress_bar=False)
        runs[name] = read_rows(tmp_path / name)
    assert module._networks is not None and all(net.compiled is not None for net in module._networks)  # type: ignore[attr-defined]
    assert len(runs["eager"]) == len(runs["compiled"]) == 6
    for a, b in zip(runs["eager"], runs["compiled"], strict=True):
        for key in LOSSES:
            assert float(b[key]) == pytest.approx(float(a[key]), rel=1e-3, abs=1e-4), (a["images_seen"], key)


@pytest.mark.parametrize("options", [
    ("train.reg_interval=4",),
    ("train.reg_interval=4", "train.loss=ns-r1", "train.augment=time_shift,time_cutout,freq_cutout",
     "train.ema_half_life_images=40", "train.ema_rampup=0.5"),
], ids=["lazy", "lazy-ns-r1-augment-ema"])
def test_lazy_regularization_resumes_exactly(tmp_path: Path, gm_tiny_cache: str, options: tuple[str, ...]) -> None:
    """3 + 3 steps with a resume in between, the penalty every 4th step (steps 0 and 4: one on each
    side of the resume), give bit-identical weights to 6 straight steps: which steps are
    regularized, and the augmentation's draws, are functions of the images seen."""
    lazy = options
    straight = train(debug_config(tmp_path / "straight", gm_tiny_cache, "schedule.max_images=24", *lazy),
                     progress_bar=False)
    train(debug_config(tmp_path / "split", gm_tiny_cache, "schedule.max_images=12", *lazy), progress_bar=False)
    resumed = train(debug_config(tmp_path / "split", gm_tiny_cache, "schedule.max_images=24", *lazy),
                    resume=True, progress_bar=False)
    a, b = straight.state_dict(), resumed.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    penalties = [float(r["gradient_penalty"]) for r in read_rows(tmp_path / "split")]
    assert penalties == [float(r["gradient_penalty"]) for r in read_rows(tmp_path / "straight")]


def test_cudnn_autotuning_follows_the_config(tmp_path: Path, gm_tiny_cache: str) -> None:
    from gansynth.training.run import build_trainer

    before = torch.backends.cudnn.benchmark
    try:
        for flag in (False, True):
            build_trainer(debug_config(tmp_path / str(flag), gm_tiny_cache, f"trainer.benchmark={str(flag).lower()}"),
                          progress_bar=False)
            assert torch.backends.cudnn.benchmark is flag
    finally:
        torch.backends.cudnn.benchmark = before
