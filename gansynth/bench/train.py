"""GAN training throughput (images/s) at every schedule stage of a recipe, and the wall time of a run.

Times full training steps (D step with gradient penalty, G step, EMA update) of the recipe's
networks on a fixed batch of synthesized notes at the middle of each stage; data loading is not
included (the feature cache makes it small next to the step). The estimate of a full run sums
images / (images/s) over the stages up to `schedule.max_images`.
"""

from __future__ import annotations

import argparse
import time

import torch

from gansynth import checks
from gansynth.bench import check_whole_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="recipes/gm_small.yaml", metavar="RECIPE.yaml",
                        help="recipe to measure (default recipes/gm_small.yaml)")
    parser.add_argument("overrides", nargs="*", metavar="section.field=value", help="config field overrides")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per stage (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per stage (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--precision", default=None, choices=["32-true", "bf16-mixed"],
                        help="default: the recipe's trainer.precision")
    parser.add_argument("--stages", default=None, help="comma-separated stage numbers (default all)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")


def run(args: argparse.Namespace) -> None:
    from gansynth.bench.spectral import harmonic_notes
    from gansynth.config import ExperimentConfig, load_config
    from gansynth.spectral import waves_to_specgrams
    from gansynth.training.module import GANSynthModule
    from gansynth.training.schedule import num_stages

    check_whole_args(args, {"steps": (1, 1000), "warmup": (0, 1000), "threads": (1, 1024)})

    config = load_config(ExperimentConfig, args.config, args.overrides)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = checks.device(args.device)
    precision = args.precision or config.trainer.precision
    torch.manual_seed(config.train.seed)
    module = GANSynthModule(config).to(device)
    opt_g, opt_d = module.configure_optimizers()
    batch = config.train.batch_size
    d = config.data
    pitch = torch.randint(d.pitch_min, d.pitch_max + 1, (batch,), generator=torch.Generator().manual_seed(0))
    waves = torch.from_numpy(harmonic_notes(tuple(pitch.tolist()), config.spectral.audio_length,
                                            config.spectral.sample_rate))
    raw = waves_to_specgrams(waves, config.spectral).to(device)  # (B, 2, frames, bins)
    pitch = pitch.to(device)
    s = config.schedule
    stages = range(num_stages(module.num_blocks))
    if args.stages:
        stages = [int(x) for x in args.stages.split(",")]  # type: ignore[assignment]

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            module.train_batch(raw, pitch, opt_g, opt_d, lambda loss: loss.backward())

    print(f"train bench: {args.config}  batch {batch}, channels {list(config.model.channels)}, "
          f"latent {config.model.latent_dim}, {precision}, device {device}, torch threads {torch.get_num_threads()}")
    print(f"{'stage':>5} {'block':>5} {'frames x bins':>13} {'kind':>10} {'ms/step':>9} {'images/s':>9} "
          f"{'stage images':>12} {'stage time':>10}")
    total = 0.0
    for stage in stages:
        start = stage * s.stage_images
        module.images_seen = start + s.stage_images // 2
        p = module.progress()
        for _ in range(args.warmup):
            step()
        sync()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        per_step = (time.perf_counter() - t0) / args.steps
        rate = batch / per_step
        last = stage == num_stages(module.num_blocks) - 1
        end = s.max_images if last else min(start + s.stage_images, s.max_images)
        images = max(0, end - start)
        total += images / rate
        shape = module.generator.output_shape(p.block)[1:]
        kind = "transition" if p.transition else "stable"
        print(f"{stage:5d} {p.block:5d} {shape[0]:>6d} x {shape[1]:<4d} {kind:>10} {per_step * 1e3:9.1f} "
              f"{rate:9.2f} {images:12d} {images / rate / 60:8.1f} m")
    print(f"estimated wall time of the stages above up to max_images {s.max_images}: {total / 60:.1f} min "
          f"({total / 3600:.2f} h), training steps only")
