"""GAN training throughput (images/s) at every schedule stage: a recipe as it is and, with
`--compare`, the same recipe with the fast settings, timed side by side in one run.

Times full training steps (D step with or without the gradient penalty, G step, EMA update) of the
recipe's networks on a fixed batch of synthesized notes at the middle of each stage; data loading
is not included (the feature cache makes it small next to the step). With lazy regularization
(`train.reg_interval` k > 1) a step with the penalty and a step without are timed apart and
weighted 1 : k - 1.

FLOPs per step are counted once per stage and variant with `torch.utils.flop_counter` on an eager
float32 copy (convolutions and matrix products, forward, backward and the penalty's double
backward; elementwise work is not counted), so "achieved FLOP/s" is those FLOPs over the measured
step time, and it is put beside this device's fp32 and bf16 matmul peaks measured in the same run.
The estimate of a whole run sums images / (images/s) over the stages up to `schedule.max_images`.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from gansynth import checks
from gansynth.bench import check_whole_args, matmul_gflops, sync

# the fast settings --compare adds to the recipe when --fast is not given (docs/training.md,
# "Fast training"). Lazy regularization changes the training math; the rest does not.
FAST_CPU = ("train.channels_last=true", "train.reg_interval=4")
FAST_CUDA = ("train.channels_last=true", "train.reg_interval=4", "trainer.precision=bf16-mixed",
             "train.compile=true")
# on a GPU the fast settings also take a larger batch (learning rate and EMA decay scaled with it)
CUDA_BATCH_FACTOR = 4
# matmul size of the peak measurement: large enough to reach the device's peak
PEAK_MATMUL = {"cpu": 1024, "cuda": 8192}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="recipes/gm_small.yaml", metavar="RECIPE.yaml",
                        help="recipe to measure (default recipes/gm_small.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="section.field=value",
                        help="config field overrides (applied to both variants)")
    parser.add_argument("--compare", action="store_true",
                        help="also time the recipe with the fast settings (--fast) and print the speedups")
    parser.add_argument("--fast", action="append", default=None, metavar="section.field=value",
                        help="a fast setting for --compare (repeatable; default: the device's set, "
                             "see docs/training.md)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per stage and kind (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per stage and kind (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--precision", default=None, choices=["32-true", "bf16-mixed"],
                        help="precision of the recipe variant (default: the recipe's trainer.precision)")
    parser.add_argument("--stages", default=None, help="comma-separated stage numbers (default all)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")


def default_fast_settings(config: Any, device: torch.device) -> list[str]:
    """The fast settings of `device` for the recipe `config`: FAST_CPU (plus bf16 autocast where
    the CPU computes bf16 natively), or FAST_CUDA with a CUDA_BATCH_FACTOR x larger batch."""
    from gansynth.training.speed import scaled_batch_overrides

    if device.type == "cuda":
        return [*FAST_CUDA, *scaled_batch_overrides(config.train, config.train.batch_size * CUDA_BATCH_FACTOR)]
    fast = list(FAST_CPU)
    if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        fast.append("trainer.precision=bf16-mixed")
    return fast


@dataclass
class Variant:
    """One configuration under test: its module, optimizers and fixed batch."""

    name: str
    config: Any
    module: Any
    optimizers: tuple[Any, Any]
    raw: torch.Tensor
    pitch: torch.Tensor
    precision: str

    @property
    def batch(self) -> int:
        return int(self.config.train.batch_size)

    def step(self, regularize: bool) -> None:
        device_type = self.raw.device.type
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.precision == "bf16-mixed"):
            self.module.train_batch(self.raw, self.pitch, *self.optimizers, lambda loss: loss.backward(),
                                    regularize=regularize)

    def describe(self) -> str:
        t = self.config.train
        return (f"batch {t.batch_size}, lr {t.lr:g}, {self.precision}, channels_last {t.channels_last}, "
                f"reg_interval {t.reg_interval}, compile {t.compile}")


def make_variant(name: str, config: Any, device: torch.device, precision: str) -> Variant:
    """The module of `config` on `device` with its optimizers and a fixed batch of harmonic notes."""
    from gansynth.bench.spectral import harmonic_notes
    from gansynth.spectral import waves_to_specgrams
    from gansynth.training.module import GANSynthModule

    torch.manual_seed(config.train.seed)
    module = GANSynthModule(config).to(device)
    opt_g, opt_d = module.configure_optimizers()
    d = config.data
    gen = torch.Generator().manual_seed(0)
    pitch = torch.randint(d.pitch_min, d.pitch_max + 1, (config.train.batch_size,), generator=gen)
    waves = torch.from_numpy(harmonic_notes(tuple(pitch.tolist()), config.spectral.audio_length,
                                            config.spectral.sample_rate))
    raw = waves_to_specgrams(waves, config.spectral).to(device)  # (B, 2, frames, bins)
    return Variant(name, config, module, (opt_g, opt_d), raw, pitch.to(device), precision)


def step_seconds(variant: Variant, steps: int, warmup: int, device: torch.device) -> float:
    """Mean wall time of one training step: with reg_interval k, (t_penalty + (k - 1) t_plain) / k."""
    k = variant.config.train.reg_interval

    def timed(regularize: bool) -> float:
        for _ in range(warmup):
            variant.step(regularize)
        sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            variant.step(regularize)
        sync(device)
        return (time.perf_counter() - start) / steps

    with_penalty = timed(True)
    return with_penalty if k == 1 else (with_penalty + (k - 1) * timed(False)) / k


class FlopCount(TorchDispatchMode):
    """Counts the FLOPs of the operators torch's flop counter has formulas for (convolutions and
    their backward, matrix products) run inside the block. torch's own FlopCounterMode cannot be
    used here: its module tracker breaks the gradient penalty's `autograd.grad`."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += int(formula(*args, **kwargs, out_val=out))
        return out


def eager_copy(variant: Variant) -> Any:
    """An eager float32 module on the CPU with the variant's config (compile off) and weights, for
    counting FLOPs."""
    from gansynth.training.module import GANSynthModule

    config = variant.config
    module = GANSynthModule(dataclasses.replace(config, train=dataclasses.replace(config.train, compile=False)))
    module.load_state_dict(variant.module.state_dict())
    return module


def step_flops(variant: Variant, module: Any, images_seen: int) -> float:
    """FLOPs of one training step at `images_seen` (mean over the penalty's interval), counted on
    `module`, the variant's `eager_copy`."""
    module.images_seen = images_seen
    opt_g, opt_d = module.configure_optimizers()
    raw, pitch = variant.raw.cpu(), variant.pitch.cpu()

    def count(regularize: bool) -> int:
        with FlopCount() as counter:
            module.train_batch(raw, pitch, opt_g, opt_d, lambda loss: loss.backward(), regularize=regularize)
        return counter.flops

    k = variant.config.train.reg_interval
    with_penalty = count(True)
    return float(with_penalty if k == 1 else (with_penalty + (k - 1) * count(False)) / k)


def run(args: argparse.Namespace) -> None:
    from gansynth.config import ExperimentConfig, load_config
    from gansynth.training.schedule import num_stages, stage_start

    check_whole_args(args, {"steps": (1, 1000), "warmup": (0, 1000), "threads": (1, 1024)})
    config = load_config(ExperimentConfig, args.config, args.overrides)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = checks.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as in training (trainer.benchmark)
    variants = [make_variant("recipe", config, device, args.precision or config.trainer.precision)]
    fast: list[str] = []
    if args.compare:
        fast = args.fast if args.fast else default_fast_settings(config, device)
        fast_config = load_config(ExperimentConfig, args.config, [*args.overrides, *fast])
        variants.append(make_variant("fast", fast_config, device, fast_config.trainer.precision))
    blocks = variants[0].module.num_blocks
    all_stages = list(range(num_stages(blocks)))
    stages = all_stages
    if args.stages:
        stages = [int(x) for x in args.stages.split(",")]
        bad = [x for x in stages if x not in all_stages]
        if bad:
            checks.whole(bad[0], "--stages", 0, all_stages[-1])

    peak_n = PEAK_MATMUL["cuda" if device.type == "cuda" else "cpu"]
    peak = {name: matmul_gflops(peak_n, device, repeats=2, dtype=dtype, min_seconds=0.2)
            for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    print(f"train bench: {args.config}  channels {list(config.model.channels)}, latent {config.model.latent_dim}, "
          f"device {device}, torch threads {torch.get_num_threads()}")
    for v in variants:
        print(f"  {v.name:6s}: {v.describe()}")
    if fast:
        print(f"  fast settings: {' '.join(fast)}")
    tf32 = " (TF32 allowed)" if device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32 else ""
    print(f"  matmul peak on this device, {peak_n} x {peak_n}, measured now: fp32{tf32} {peak['fp32']:.1f} "
          f"GFLOP/s, bf16 {peak['bf16']:.1f} GFLOP/s")
    columns = "".join(f" | {v.name + ' ms/step':>14} {'images/s':>9} {'GFLOP/s':>9} {'%fp32':>6} {'%bf16':>6}"
                      for v in variants)
    print(f"{'stage':>5} {'block':>5} {'frames x bins':>13} {'kind':>10}{columns}" + (" | speedup" if args.compare else ""))

    s = config.schedule
    lengths = s.lengths(blocks)
    counters = [eager_copy(v) for v in variants]
    totals = [0.0 for _ in variants]
    last_speedup: float | None = None
    for stage in stages:
        start = stage_start(stage, lengths)
        end = s.max_images if stage == all_stages[-1] else min(start + lengths[stage], s.max_images)
        images = max(0, end - start)
        cells, rates = [], []
        for i, v in enumerate(variants):
            v.module.images_seen = start + lengths[stage] // 2
            seconds = step_seconds(v, args.steps, args.warmup, device)
            gflops = step_flops(v, counters[i], v.module.images_seen) / seconds / 1e9
            rate = v.batch / seconds
            rates.append(rate)
            totals[i] += images / rate
            cells.append(f" | {seconds * 1e3:14.1f} {rate:9.2f} {gflops:9.2f} {gflops / peak['fp32']:6.1%} "
                         f"{gflops / peak['bf16']:6.1%}")
        p = variants[0].module.progress()
        shape = variants[0].module.generator.output_shape(p.block)[1:]
        kind = "transition" if p.transition else "stable"
        speedup = ""
        if args.compare:
            speedup = f" | {rates[1] / rates[0]:6.2f}x"
            if p.block == blocks - 1:
                last_speedup = rates[1] / rates[0]
        print(f"{stage:5d} {p.block:5d} {shape[0]:>6d} x {shape[1]:<4d} {kind:>10}{''.join(cells)}{speedup}")
    scope = "whole schedule" if stages == all_stages else f"stages {','.join(map(str, stages))}"
    for v, total in zip(variants, totals):
        print(f"{v.name}: estimated {scope} up to max_images {s.max_images}: {total / 60:.1f} min "
              f"({total / 3600:.2f} h), training steps only")
    if args.compare:
        last = f"{last_speedup:.2f}x" if last_speedup is not None else "not measured"
        print(f"speedup last block: {last}, {scope}: {totals[0] / totals[1]:.2f}x")
