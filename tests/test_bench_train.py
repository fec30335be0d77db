"""`gansynth bench train --compare`: the recipe against its fast settings, side by side, with FLOPs
counted and the device's matmul peaks measured in the same run."""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F

from gansynth.bench.train import FlopCount, default_fast_settings
from gansynth.cli import main
from gansynth.config import ExperimentConfig, load_config

DEBUG = str(Path(__file__).resolve().parents[1] / "recipes" / "debug.yaml")


def test_flop_count_of_a_convolution_and_its_gradients() -> None:
    x = torch.randn(2, 3, 8, 16, requires_grad=True)
    w = torch.randn(5, 3, 3, 3, requires_grad=True)
    forward = 2 * 2 * 5 * 8 * 16 * 3 * 3 * 3  # 2 x batch x out x H x W x (in x kh x kw)
    with FlopCount() as count:
        F.conv2d(x, w, padding=1).sum().backward()
    assert count.flops == 3 * forward  # forward, input gradient, weight gradient


def test_compare_prints_both_variants_and_the_speedups(capsys) -> None:
    assert main(["bench", "train", "--config", DEBUG, "--compare", "--stages", "0,12", "--steps", "1",
                 "--warmup", "0", "--fast", "train.reg_interval=4"]) == 0
    out = capsys.readouterr().out
    assert "fast settings: train.reg_interval=4" in out
    assert re.search(r"matmul peak .* fp32 [\d.]+ GFLOP/s, bf16 [\d.]+ GFLOP/s", out)
    rows = [line for line in out.splitlines() if re.match(r"\s+(0|12)\s+\d", line)]
    assert len(rows) == 2
    for row in rows:
        cells = [c.split() for c in row.split("|")]
        recipe, fast, speedup = cells[1], cells[2], cells[3]
        assert float(recipe[1]) > 0 and float(fast[1]) > 0  # images/s
        assert float(recipe[2]) > 0  # achieved GFLOP/s
        assert abs(float(speedup[0].rstrip("x")) - float(fast[1]) / float(recipe[1])) < 0.01 + 0.01 * float(speedup[0].rstrip("x"))
    last = re.search(r"^speedup last block: ([\d.]+)x, stages 0,12: ([\d.]+)x$", out, re.M)
    assert last and float(last.group(1)) > 0 and float(last.group(2)) > 0


def test_the_default_fast_settings_per_device() -> None:
    config = load_config(ExperimentConfig, DEBUG)
    cpu = default_fast_settings(config, torch.device("cpu"))
    assert "train.reg_interval=4" in cpu
    cuda = default_fast_settings(config, torch.device("cuda"))
    assert {"trainer.precision=bf16-mixed", "train.compile=true", "train.batch_size=16"} <= set(cuda)
    load_config(ExperimentConfig, DEBUG, cuda)  # every setting is a valid override


def test_the_fast_paper_recipe_is_the_paper_recipe_with_the_gpu_fast_settings() -> None:
    """recipes/gansynth_paper_fast.yaml differs from the paper recipe exactly by the fast settings
    `bench train --compare --device cuda` uses (and its output folder and accelerator)."""
    recipes = Path(DEBUG).parent
    paper = load_config(ExperimentConfig, recipes / "gansynth_paper.yaml")
    fast = load_config(ExperimentConfig, recipes / "gansynth_paper_fast.yaml")
    expected = load_config(ExperimentConfig, recipes / "gansynth_paper.yaml",
                           [*default_fast_settings(paper, torch.device("cuda")), "output=runs/gansynth_paper_fast",
                            "trainer.accelerator=gpu"])
    assert fast.train == expected.train and fast.trainer == expected.trainer and fast == expected
    assert fast.model == paper.model and fast.schedule == paper.schedule and fast.data == paper.data
