"""Stopping a run early: SIGTERM or SIGINT (Ctrl-C) before `schedule.max_images` saves a
checkpoint at the next batch boundary, `train()` raises TrainingInterrupted instead of returning
an unfinished module, and `gansynth train` prints one line and exits 143 / 130 (so that
`train && export` never ships a half-trained model). Lightning's notices stay off the terminal."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch

from gansynth.training.run import TrainingInterrupted, train
from tests.training.conftest import DEBUG_RECIPE, REPO, debug_config, subprocess_env

# Lightning and torch notices that are noise on a gansynth user's terminal
NOISE = ("Tip:", "litmodels", "litlogger", "LeafSpec", "smaller than the logging interval", "Traceback")


def _default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal (a job started in the background ignores SIGINT,
    and a program keeps an ignored SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _saved_images(run: Path) -> int:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return int(ckpt["gansynth"]["images_seen"])


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_saves_and_exits_nonzero(tmp_path: Path, gm_tiny_cache: str, signum: int, status: int) -> None:
    run, total, interval = tmp_path / "run", 400, 16
    # a long, cheap schedule (blocks 0-1) so the signal lands in the middle of training; a logging
    # interval longer than an epoch (Lightning warns about that by default)
    cmd = [sys.executable, "-m", "gansynth", "train", "--config", str(DEBUG_RECIPE), f"output={run}",
           f"data.path={REPO / 'data/fixtures/gm_tiny'}", f"data.cache={gm_tiny_cache}",
           "schedule.stage_images=1000", f"schedule.max_images={total}", "train.log_every_images=400",
           f"train.checkpoint_every_images={interval}", "train.sample_every_images=100000"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    first = run / "checkpoints" / f"img{interval:010d}.ckpt"
    deadline = time.monotonic() + 600
    try:
        while not first.exists():
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "training never reached the first checkpoint"
            time.sleep(0.02)
        os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, err[-3000:]
    assert "trained to" not in out
    stopped = [line for line in err.splitlines() if line.startswith("gansynth: ")]
    assert len(stopped) == 1, err[-3000:]
    match = re.fullmatch(rf"gansynth: stopped: {signal.Signals(signum).name} at (\d+) of {total} images; "
                         rf"checkpoint {re.escape(str(run / 'checkpoints' / 'last.ckpt'))}; "
                         r"continue with: gansynth train .* --resume", stopped[0])
    assert match, stopped[0]
    stopped_at = int(match.group(1))
    assert interval <= stopped_at < total
    assert _saved_images(run) == stopped_at  # the checkpoint holds the images the line names
    for noise in NOISE:
        assert noise not in err, (noise, err[-3000:])
    if signum == signal.SIGTERM:
        # the saved run continues right after the stopping point
        proc2 = subprocess.run(cmd[:-5] + [f"schedule.max_images={stopped_at + 8}", "--resume", "--no-progress-bar"],
                               cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=600)
        assert proc2.returncode == 0, proc2.stderr[-3000:]
        assert f"trained to {stopped_at + 8} images" in proc2.stdout
        for noise in (*NOISE, "not resumable"):
            assert noise not in proc2.stderr, (noise, proc2.stderr[-3000:])


class _SignalAt(L.Callback):
    """Sends `signum` to this process (a real signal) at the start or the end (after gansynth's
    callbacks) of the first batch after `images` images."""

    def __init__(self, signum: int, images: int, hook: str) -> None:
        self.signum, self.images, self.hook, self.sent = signum, images, hook, False

    def _send(self, pl_module: Any) -> None:
        if not self.sent and pl_module.images_seen >= self.images:
            self.sent = True
            os.kill(os.getpid(), self.signum)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if self.hook == "start":
            self._send(pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.hook == "end":
            self._send(pl_module)


@pytest.mark.parametrize(("signum", "hook", "stopped_at"), [
    (signal.SIGTERM, "start", 12), (signal.SIGINT, "start", 12),
    # after the batch's checks: Lightning ends on SIGTERM right there, the next batch end stops on SIGINT
    (signal.SIGTERM, "end", 8), (signal.SIGINT, "end", 12)])
def test_train_raises_after_signal(tmp_path: Path, gm_tiny_cache: str, signum: int, hook: str,
                                   stopped_at: int) -> None:
    """In-process: the step under way finishes, last.ckpt holds it, train() raises and restores
    the signal handlers it found."""
    old_sigint = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        cfg = debug_config(tmp_path / "run", gm_tiny_cache, "schedule.max_images=40", "train.num_samples=0")
        with pytest.raises(TrainingInterrupted) as info:
            train(cfg, callbacks=[_SignalAt(signum, 8, hook)], progress_bar=False)
        assert {s: signal.getsignal(s) for s in before} == before
    finally:
        signal.signal(signal.SIGINT, old_sigint)
    stop = info.value
    assert (stop.signum, stop.images_seen, stop.max_images) == (signum, stopped_at, 40)
    assert stop.checkpoint == tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert _saved_images(tmp_path / "run") == stopped_at
    assert f"at {stopped_at} of 40 images" in str(stop)
    assert not list((tmp_path / "run" / "samples").glob("img*"))  # no end-of-run samples for a stopped run
