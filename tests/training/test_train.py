"""End-to-end training on the fixture dataset: the debug recipe through the CLI, exact resume,
bf16 mixed precision."""

from __future__ import annotations

import csv
import math
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import soundfile as sf
import torch

from gansynth.errors import BadInputError, ConfigError
from gansynth.training.run import train
from tests.training.conftest import DEBUG_RECIPE, REPO, debug_config, subprocess_env


class _RunsCode:
    """Unpickling this (without weights_only) would create `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def read_metrics(run: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted((run / "logs" / "csv").glob("version_*/metrics.csv")):
        with open(path) as f:
            rows.extend(csv.DictReader(f))
    return rows


def test_debug_recipe_cli_end_to_end(tmp_path: Path, gm_tiny_cache: str) -> None:
    """`gansynth train` on the debug recipe runs all 13 stages with finite losses, writes
    checkpoints and samples; `gansynth export` then gives a model that renders 4 s notes."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "gansynth", "train", "--config", str(DEBUG_RECIPE), f"output={run}",
           f"data.cache={gm_tiny_cache}", "--no-progress-bar"]
    proc = subprocess.run(cmd, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[0].startswith(f"training {DEBUG_RECIPE}: generator 24,754 and discriminator")
    data_line = proc.stdout.splitlines()[1]  # what is trained on, bad or refitted notes counted
    assert data_line.startswith("data: ") and "kept 32 of 32 notes" in data_line, data_line
    assert "trained to 104 images" in proc.stdout
    for noise in ("Tip:", "LeafSpec", "logging interval", "Traceback"):  # Lightning's notices stay quiet
        assert noise not in proc.stderr, proc.stderr
    rows = read_metrics(run)
    assert [float(r["images_seen"]) for r in rows] == [4.0 * (i + 1) for i in range(26)]
    assert {int(float(r["stage"])) for r in rows} == set(range(13))
    for r in rows:
        for key in ("d_loss", "g_loss", "gradient_penalty", "drift", "d_pitch", "g_pitch"):
            assert math.isfinite(float(r[key])), (key, r)
    ckpts = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))
    assert ckpts == [f"img{n:010d}.ckpt" for n in range(16, 104, 16)] + ["last.ckpt"]
    assert not list((run / "checkpoints").glob(".*"))  # no temporary file left behind
    wavs = sorted((run / "samples" / "img0000000104").glob("*.wav"))
    assert len(wavs) == 2
    audio, rate = sf.read(wavs[0])
    assert rate == 16000 and audio.shape == (64000,)
    assert (run / "samples" / "img0000000104" / "specgrams.png").stat().st_size > 0
    with open(run / "samples" / "samples.csv") as f:
        assert [int(r["images_seen"]) for r in csv.DictReader(f)] == [52, 52, 104, 104]

    model_path = tmp_path / "model.pt"
    proc = subprocess.run([sys.executable, "-m", "gansynth", "export", str(run / "checkpoints" / "last.ckpt"),
                           "-o", str(model_path)], cwd=REPO, env=subprocess_env(), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from gansynth.checkpoint import load_model

    model = load_model(model_path)
    assert (model.pitch_min, model.pitch_max, model.note_length) == (24, 84, 64000)
    assert model.meta["images_seen"] == 104 and model.meta["stage"] == 12
    audio = model.generate(torch.randn(2, model.latent_dim), torch.tensor([36, 72]))
    assert audio.shape == (2, 64000) and bool(torch.isfinite(audio).all())

    # starting again into the same folder is refused; the CLI says so in one line
    proc = subprocess.run(cmd, cwd=REPO, env=subprocess_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "--resume" in proc.stderr and "Traceback" not in proc.stderr


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _optim_states(module: object) -> list[dict[str, object]]:
    trainer = module.trainer  # type: ignore[attr-defined]
    return [opt.state_dict() for opt in trainer.optimizers]


def _assert_same_optim(a: list[dict[str, object]], b: list[dict[str, object]]) -> None:
    for sa, sb in zip(a, b, strict=True):
        state_a, state_b = sa["state"], sb["state"]
        assert isinstance(state_a, dict) and isinstance(state_b, dict)
        assert state_a.keys() == state_b.keys()
        for k in state_a:
            for name in state_a[k]:
                assert torch.equal(torch.as_tensor(state_a[k][name]), torch.as_tensor(state_b[k][name])), (k, name)


def test_resume_equals_uninterrupted(tmp_path: Path, gm_tiny_cache: str) -> None:
    """5 + 5 steps with a resume in between (in the middle of an epoch, across a transition)
    give bit-identical weights, EMA and optimizer states to 10 straight steps."""
    steps, batch = 5, 4
    straight_cfg = debug_config(tmp_path / "straight", gm_tiny_cache, f"schedule.max_images={2 * steps * batch}")
    straight = train(straight_cfg, progress_bar=False)
    assert straight.images_seen == 2 * steps * batch

    half_cfg = debug_config(tmp_path / "split", gm_tiny_cache, f"schedule.max_images={steps * batch}")
    first = train(half_cfg, progress_bar=False)
    assert first.images_seen == steps * batch
    half_state = _state(first)
    assert any(not torch.equal(v, straight.state_dict()[k]) for k, v in half_state.items())
    resumed_cfg = debug_config(tmp_path / "split", gm_tiny_cache, f"schedule.max_images={2 * steps * batch}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resumed = train(resumed_cfg, resume=True, progress_bar=False)
    assert resumed.images_seen == 2 * steps * batch
    # Lightning's warning that a mid-epoch resume is unreliable does not apply to our sampler
    assert not [w for w in caught if "resuming from a checkpoint" in str(w.message)]
    a, b = _state(straight), _state(resumed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    _assert_same_optim(_optim_states(straight), _optim_states(resumed))
    # resuming with other networks, from nothing, or from a file that would run code is refused
    with pytest.raises(ConfigError, match="trained with model"):
        train(debug_config(tmp_path / "split", gm_tiny_cache, "model.channels=[8,8,8,8,4,4,4]"),
              resume=True, progress_bar=False)
    with pytest.raises(BadInputError, match="no checkpoint to resume"):
        train(debug_config(tmp_path / "empty", gm_tiny_cache), resume=True, progress_bar=False)
    evil, marker = tmp_path / "evil.ckpt", tmp_path / "pwned"
    evil.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(BadInputError, match="could run code"):
        train(resumed_cfg, resume=evil, progress_bar=False)
    assert not marker.exists()
    # the resumed run logged only the second half
    versions = sorted((tmp_path / "split" / "logs" / "csv").glob("version_*/metrics.csv"))
    assert len(versions) == 2
    with open(versions[1]) as f:
        assert [float(r["images_seen"]) for r in csv.DictReader(f)] == [24.0, 28.0, 32.0, 36.0, 40.0]


def test_bf16_mixed_precision_run(tmp_path: Path, gm_tiny_cache: str) -> None:
    """bf16-mixed trains with finite losses; the penalty is computed in float32."""
    cfg = debug_config(tmp_path / "bf16", gm_tiny_cache, "schedule.max_images=32", "trainer.precision=bf16-mixed")
    module = train(cfg, progress_bar=False)
    assert module.images_seen == 32
    rows = [r for p in (tmp_path / "bf16" / "logs" / "csv").glob("version_*/metrics.csv") for r in csv.DictReader(open(p))]
    assert len(rows) == 8
    assert all(math.isfinite(float(r["d_loss"])) and math.isfinite(float(r["gradient_penalty"])) for r in rows)
    assert all(p.dtype == torch.float32 for p in module.parameters())
