"""Export a training checkpoint -> load the inference file -> identical generator output; files
that are not gansynth models (or that would run code when unpickled) are refused."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gansynth import cli
from gansynth.checkpoint import DEFAULT_MODEL_PATH, FORMAT_VERSION, export_model, load_model
from gansynth.config import ExperimentConfig, config_from_dict
from gansynth.errors import BadInputError
from gansynth.training.run import train
from tests.training.tones import ToneDataModule

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, torch.nn.Module]:
    """A 3-step run of a tiny config on synthesized tones: (last.ckpt, the trained module)."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("ckpt_run")
    config = config_from_dict(ExperimentConfig, {
        "model": {"latent_dim": 8, "channels": [4, 4, 4, 4, 4, 2, 2]},
        "schedule": {"stage_images": 4, "max_images": 12},
        "train": {"batch_size": 4, "num_samples": 0, "ema_decay": 0.5},
        "trainer": {"accelerator": "cpu", "devices": 1}, "output": str(out)})
    module = train(config, datamodule=ToneDataModule(config.spectral, 4), progress_bar=False)
    return out / "checkpoints" / "last.ckpt", module


def test_export_load_gives_identical_output(trained: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    ckpt, module = trained
    out = export_model(ckpt, tmp_path / "model.pt")
    model = load_model(out)
    assert (model.sample_rate, model.note_length, model.latent_dim) == (16000, 64000, 8)
    assert (model.pitch_min, model.pitch_max) == (24, 84)
    assert model.meta["images_seen"] == 12
    assert abs(sum(model.meta["pitch_distribution"]) - 1.0) < 1e-5
    z = torch.randn(3, 8)
    pitch = torch.tensor([24, 60, 84])
    ema = module.generator_ema.eval()
    with torch.no_grad():
        expected = module.normalizer.denormalize(ema(z, pitch - 24, 6, 1.0))
    spec = model.generate_specgrams(z, pitch)
    assert torch.equal(spec, expected)
    audio = model.generate(z, pitch)
    assert audio.shape == (3, 64000) and audio.dtype == torch.float32
    # the EMA weights, not the raw generator's, are exported (decay 0.5 keeps them apart)
    raw = dict(module.generator.state_dict())
    assert any(not torch.equal(v, raw[k]) for k, v in model.generator.state_dict().items())
    # the file holds plain data only
    data = torch.load(out, weights_only=True)
    assert data["format"] == "gansynth-model" and data["format_version"] == FORMAT_VERSION
    assert set(data["normalizer"]) == {"a", "b"}


def test_generate_checks_inputs(trained: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    model = load_model(export_model(trained[0], tmp_path / "m.pt"))
    with pytest.raises(BadInputError, match="pitch 90 is outside the model's range 24..84"):
        model.generate(torch.zeros(1, 8), torch.tensor([90]))
    with pytest.raises(ValueError, match="z must be"):
        model.generate(torch.zeros(1, 7), torch.tensor([60]))
    assert model.to("cpu") is model
    small = model.flops_per_note()
    assert small > 2 * 5 * 128 * 2048 * 11  # at least the inverse FFTs


def test_flops_grow_with_channels(tmp_path: Path) -> None:
    from gansynth.checkpoint import GeneratorModel
    from gansynth.models import build_generator
    from gansynth.spectral import Normalizer

    def flops(channels: list[int]) -> int:
        cfg = config_from_dict(ExperimentConfig, {"model": {"latent_dim": 8, "channels": channels}})
        return GeneratorModel(cfg, build_generator(cfg), Normalizer.prespecified()).flops_per_note()

    a, b = flops([4, 4, 4, 4, 4, 4, 4]), flops([4, 4, 4, 4, 4, 4, 8])
    # doubling the last block's channels adds at least its two 3x3 convs' extra MACs
    assert b - a >= 2 * 128 * 1024 * 9 * (8 * 8 - 4 * 4)


def test_refuses_files_that_are_not_models(trained: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not found"):
        load_model(tmp_path / "missing.pt")
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(BadInputError, match="notes.pt: not a gansynth model file"):
        load_model(text)
    with pytest.raises(BadInputError, match="training checkpoint.*gansynth export"):
        load_model(trained[0])
    with pytest.raises(BadInputError, match="not a gansynth training checkpoint"):
        export_model(text, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


class _RunsCode:
    """A pickle payload that would create a file when unpickled without weights_only."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_never_runs_code_from_a_file(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for name, save in (("torch_save.pt", lambda p: torch.save({"format": "gansynth-model", "x": _RunsCode(marker)}, p)),
                       ("pickle.pt", lambda p: p.write_bytes(pickle.dumps(_RunsCode(marker))))):
        path = tmp_path / name
        save(path)
        with pytest.raises(BadInputError, match="could run code"):
            load_model(path)
        with pytest.raises(BadInputError, match="could run code"):
            export_model(path, tmp_path / "out.pt")
    assert not marker.exists()


def test_strict_keys_and_version(trained: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    good = torch.load(export_model(trained[0], tmp_path / "m.pt"), weights_only=True)
    newer = dict(good, format_version=FORMAT_VERSION + 1)
    torch.save(newer, tmp_path / "newer.pt")
    with pytest.raises(BadInputError, match="format version 2 is not supported"):
        load_model(tmp_path / "newer.pt")
    missing = dict(good, generator={k: v for k, v in good["generator"].items() if not k.startswith("to_specgram.6")})
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(BadInputError, match="generator weights do not match"):
        load_model(tmp_path / "missing.pt")
    extra = dict(good, generator={**good["generator"], "extra.weight": torch.zeros(1)})
    torch.save(extra, tmp_path / "extra.pt")
    with pytest.raises(BadInputError, match="generator weights do not match"):
        load_model(tmp_path / "extra.pt")
    no_meta = {k: v for k, v in good.items() if k != "normalizer"}
    torch.save(no_meta, tmp_path / "no_norm.pt")
    with pytest.raises(BadInputError, match="lacks normalizer"):
        load_model(tmp_path / "no_norm.pt")


def test_export_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export", str(tmp_path / "none.ckpt"), "-o", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gansynth: error:") and "none.ckpt" in err[0]


def test_default_model() -> None:
    if DEFAULT_MODEL_PATH.is_file():
        model = load_model()
        audio = model.generate(torch.randn(1, model.latent_dim), torch.tensor([60]))
        assert audio.shape == (1, model.note_length) and bool(torch.isfinite(audio).all())
    else:
        with pytest.raises(BadInputError, match="default model is missing.*gansynth train"):
            load_model()


def _one_error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(list(argv)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gansynth: error: "), lines
    return lines[0]


def test_export_checks_the_output_before_the_work(trained: tuple[Path, torch.nn.Module], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    ckpt, missing = str(trained[0]), str(tmp_path / "none.ckpt")
    # the output is checked first: a missing checkpoint is not even looked at
    line = _one_error_line(capsys, "export", missing, "-o", str(tmp_path / "model.wav"))
    assert "model.wav: model file must end in .pt" in line
    assert not (tmp_path / "model.wav").exists()
    folder = tmp_path / "model.pt"
    folder.mkdir()
    line = _one_error_line(capsys, "export", missing, "-o", str(folder))
    assert f"{folder}: is a folder" in line
    line = _one_error_line(capsys, "export", ckpt, "-o", str(tmp_path / "no" / "model.pt"))
    assert "output folder" in line and "does not exist" in line
    # an unwritable folder: permissions stop an ordinary user; root ignores them, so there a
    # folder of a file system that refuses new files (sysfs) stands in for it
    if os.geteuid() == 0:
        locked = Path("/sys")
        try:
            (locked / "gansynth_probe.pt").touch()
        except OSError:
            pass
        else:
            (locked / "gansynth_probe.pt").unlink()
            pytest.skip("running as root and /sys accepts new files: no unwritable folder to test with")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
    line = _one_error_line(capsys, "export", missing, "-o", str(locked / "model.pt"))
    assert f"{locked / 'model.pt'}: cannot write in {locked}" in line
    assert not (locked / "model.pt").exists()
    assert cli.main(["export", ckpt, "-o", str(tmp_path / "MODEL.PT")]) == 0


def test_export_full_disk_is_one_line(trained: tuple[Path, torch.nn.Module], tmp_path: Path) -> None:
    """A write that fails midway (here: a file-size limit of 4 KiB, which fails the write as a
    full disk does) is one line naming the file, and leaves no file behind."""
    out = tmp_path / "out" / "model.pt"
    out.parent.mkdir()
    code = ("import resource, signal, sys\n"
            "from gansynth import cli\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
            f"sys.exit(cli.main(['export', {str(trained[0])!r}, '-o', {str(out)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith(f"gansynth: error: {out}: could not be written"), lines[0]
    assert list(out.parent.iterdir()) == []
