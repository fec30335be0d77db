"""Fault tolerance: a training process killed with SIGKILL and resumed loses at most one
checkpoint interval, leaves a loadable checkpoint, and finishes the run."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from tests.training.conftest import DEBUG_RECIPE, REPO, subprocess_env


def test_sigkill_then_resume(tmp_path: Path, gm_tiny_cache: str) -> None:
    run = tmp_path / "run"
    interval, total = 16, 400
    # a long, cheap schedule (blocks 0-1 only) so the kill lands in the middle of training
    base = [sys.executable, "-m", "gansynth", "train", "--config", str(DEBUG_RECIPE), f"output={run}",
            f"data.path={REPO / 'data/fixtures/gm_tiny'}", f"data.cache={gm_tiny_cache}",
            "schedule.stage_images=1000", f"schedule.max_images={total}",
            f"train.checkpoint_every_images={interval}", "train.sample_every_images=100000"]
    env = {**subprocess_env(), "PYTHONUNBUFFERED": "1"}  # progress-bar updates reach the file at once
    log = open(tmp_path / "first.out", "w")  # Lightning's progress bar writes to stdout
    proc = subprocess.Popen(base, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    target = run / "checkpoints" / f"img{3 * interval:010d}.ckpt"
    deadline = time.monotonic() + 600
    try:
        while not target.exists():
            assert proc.poll() is None, (tmp_path / "first.out").read_text()[-3000:]
            assert time.monotonic() < deadline, "training never reached the third checkpoint"
            time.sleep(0.02)
        time.sleep(0.3)  # a few more steps, possibly in the middle of the next checkpoint write
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        log.close()
    assert proc.returncode == -signal.SIGKILL
    # the last image count the process reported on its progress bar
    reported = [int(float(m)) for m in re.findall(r"img=([0-9.]+)", (tmp_path / "first.out").read_text())]
    assert reported, "no progress reported before the kill"
    reached = max(reported)
    assert reached < total

    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    saved = ckpt["gansynth"]["images_seen"]
    assert saved % interval == 0 and saved >= 3 * interval
    assert reached - saved <= interval, (reached, saved)  # at most one checkpoint interval lost

    proc2 = subprocess.run(base + ["--resume"], cwd=REPO, env=subprocess_env(), capture_output=True,
                           text=True, timeout=900)
    assert proc2.returncode == 0, proc2.stderr[-3000:]
    assert f"trained to {total} images" in proc2.stdout
    resumed = re.findall(r"img=([0-9.]+)", proc2.stdout)
    assert resumed and int(float(resumed[0])) == saved + 4  # continued right after the checkpoint
    final = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert final["gansynth"]["images_seen"] == total
