"""A real 2-process DDP run on CPU (gloo), launched by Lightning: the ranks see different data,
hold identical weights after several steps (through transitions, with the gradient penalty and
inactive blocks), and count global images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from tests.training.conftest import DEBUG_RECIPE, REPO, subprocess_env

SCRIPT = '''
import sys
from pathlib import Path

import lightning as L
import torch

from gansynth.config import ExperimentConfig, load_config
from gansynth.training.run import train

OUT = Path(sys.argv[1])


class Record(L.Callback):
    def __init__(self):
        self.indices = []
        self.initial = None

    def on_train_start(self, trainer, pl_module):
        self.initial = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.indices.append(batch["index"].tolist())

    def on_train_end(self, trainer, pl_module):
        state = {k: v.detach().cpu().contiguous() for k, v in pl_module.state_dict().items()}
        torch.save({"rank": trainer.global_rank, "world": trainer.world_size,
                    "strategy": type(trainer.strategy).__name__,
                    "find_unused": getattr(trainer.strategy, "_ddp_kwargs", {}).get("find_unused_parameters"),
                    "indices": self.indices, "images_seen": pl_module.images_seen,
                    "initial": self.initial, "state": state}, OUT / f"rank{trainer.global_rank}.pt")


config = load_config(ExperimentConfig, sys.argv[2], sys.argv[3:])
train(config, callbacks=[Record()], progress_bar=False)
'''


def test_two_process_ddp_on_cpu(tmp_path: Path, gm_tiny_cache: str) -> None:
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    run = tmp_path / "run"
    steps, batch, world = 6, 4, 2
    cmd = [sys.executable, str(script), str(tmp_path), str(DEBUG_RECIPE), f"output={run}",
           f"data.path={REPO / 'data/fixtures/gm_tiny'}", f"data.cache={gm_tiny_cache}",
           f"schedule.max_images={steps * batch * world}", "train.checkpoint_every_images=16",
           "trainer.devices=2", "trainer.accelerator=cpu"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert (r0["rank"], r1["rank"], r0["world"], r1["world"]) == (0, 1, 2, 2)
    assert r0["strategy"] == "DDPStrategy" and r0["find_unused"] is True
    # images are counted globally: 6 steps x 4 per rank x 2 ranks
    assert r0["images_seen"] == r1["images_seen"] == steps * batch * world
    # different data on each rank: disjoint batches, and disjoint shares of each epoch
    assert len(r0["indices"]) == len(r1["indices"]) == steps
    per_epoch = 32 // world // batch  # gm_tiny has 32 notes -> 4 batches per rank and epoch
    for start in range(0, steps, per_epoch):
        a = {i for b in r0["indices"][start:start + per_epoch] for i in b}
        b = {i for b in r1["indices"][start:start + per_epoch] for i in b}
        assert not a & b
    # identical weights (G, D, EMA, normalizer, pitch distribution) on both ranks, and trained
    assert r0["state"].keys() == r1["state"].keys()
    for key in r0["state"]:
        assert torch.equal(r0["state"][key], r1["state"][key]), key
    moved = [k for k in r0["state"] if not torch.equal(r0["state"][k], r0["initial"][k])]
    assert any(k.startswith("generator.blocks.1.") for k in moved)  # block 1 trained after its fade-in
    assert any(k.startswith("discriminator.blocks.2.") for k in moved)
    assert not any(k.startswith("generator.blocks.4.") for k in moved)  # never active: untouched
    # rank 0 wrote the checkpoints
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert (run / "checkpoints" / "img0000000016.ckpt").is_file()
