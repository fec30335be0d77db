"""The feature cache (same features as the live transform, keyed by spectral config, refused when
stale, nothing half-written) and the NoteDataModule (batch layout, pitch distribution, DDP)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from gansynth.cli import main
from gansynth.config import DataConfig, SpectralConfig
from gansynth.data import FIXTURE_DIR
from gansynth.data.cache import build_cache, cache_key, open_cache
from gansynth.data.datamodule import NoteDataModule
from gansynth.data.nsynth import NSynthFolder
from gansynth.errors import BadInputError
from gansynth.spectral import waves_to_specgrams

SPECTRAL = SpectralConfig(representation="if-mel", layout="hires")


def test_cache_holds_the_live_transforms_features(tmp_path: Path) -> None:
    source = NSynthFolder(FIXTURE_DIR)
    indices = [1, 5, 9, 30]
    folder, report = build_cache(source, indices, SPECTRAL, tmp_path / "cache", progress=False)
    assert folder.name == cache_key(SPECTRAL) and report.total == 0
    cache = open_cache(tmp_path / "cache", SPECTRAL, source)
    assert set(cache.rows) == {source.notes[i].note_str for i in indices}
    for i in indices:
        live = waves_to_specgrams(torch.from_numpy(source.load_audio(i))[None], SPECTRAL)[0].numpy()
        cached = cache.get(source.notes[i].note_str)
        assert cached.shape == SPECTRAL.shape and cached.dtype == np.float32
        np.testing.assert_allclose(cached, live, atol=1e-4, rtol=1e-4)
    # float16 storage: a different key, same features to half precision
    build_cache(source, indices, SPECTRAL, tmp_path / "cache", dtype="float16", progress=False)
    half = open_cache(tmp_path / "cache", SPECTRAL, source, dtype="float16")
    assert half.folder != cache.folder
    np.testing.assert_allclose(half.get(source.notes[5].note_str), cache.get(source.notes[5].note_str),
                               atol=2e-2, rtol=2e-3)


def test_another_config_never_reads_these_features_and_stale_caches_are_refused(fixture_copy: Path,
                                                                                tmp_path: Path) -> None:
    source = NSynthFolder(fixture_copy)
    build_cache(source, [0, 1], SPECTRAL, tmp_path / "c", progress=False)
    with pytest.raises(BadInputError, match="no cached features for this spectral config \\(if/base\\)"):
        open_cache(tmp_path / "c", SpectralConfig(representation="if", layout="base"), source)
    entries = json.loads((fixture_copy / "examples.json").read_text())
    entries.popitem()
    (fixture_copy / "examples.json").write_text(json.dumps(entries))
    with pytest.raises(BadInputError, match="stale, the dataset .* changed since the cache was built"):
        open_cache(tmp_path / "c", SPECTRAL, NSynthFolder(fixture_copy))


def test_failed_cache_build_leaves_nothing_and_skip_bad_counts(fixture_copy: Path, tmp_path: Path) -> None:
    source = NSynthFolder(fixture_copy)
    source.audio_path(source.notes[2]).write_bytes(b"garbage")
    with pytest.raises(BadInputError, match="not a readable audio file"):
        build_cache(source, [0, 1, 2, 3], SPECTRAL, tmp_path / "c", progress=False)
    assert list((tmp_path / "c").iterdir()) == []
    folder, report = build_cache(source, [0, 1, 2, 3], SPECTRAL, tmp_path / "c", skip_bad=True, progress=False)
    assert report.counts == {"bad audio": 1}
    cache = open_cache(tmp_path / "c", SPECTRAL, source)
    assert len(cache.rows) == 3 and cache.bad == {source.notes[2].note_str}


def test_datamodule_batches_live_and_cached(tmp_path: Path) -> None:
    spectral = SpectralConfig(representation="if", layout="base")
    data = DataConfig(path=str(FIXTURE_DIR), pitch_min=24, pitch_max=84)
    live = NoteDataModule(data, spectral, batch_size=6, seed=1)
    live.setup("fit")
    batches = list(live.train_dataloader())
    assert len(batches) == 32 // 6  # drop_last
    batch = batches[0]
    assert batch["specgram"].shape == (6, 2, 256, 512) and batch["specgram"].dtype == torch.float32
    assert batch["pitch"].dtype == batch["velocity"].dtype == batch["index"].dtype == torch.int64
    notes = NSynthFolder(FIXTURE_DIR).notes
    seen = torch.cat([b["index"] for b in batches]).tolist()
    assert len(set(seen)) == len(seen) == 30 and seen != sorted(seen)  # shuffled, no repeats
    for b in batches:
        assert b["pitch"].tolist() == [notes[i].pitch for i in b["index"].tolist()]
        assert b["velocity"].tolist() == [notes[i].velocity for i in b["index"].tolist()]

    assert main(["data", "cache", str(FIXTURE_DIR), "--out", str(tmp_path / "cache"),
                 "--set", "spectral.representation=if", "spectral.layout=base"]) == 0
    cached = NoteDataModule(dataclasses.replace(data, cache=str(tmp_path / "cache")), spectral, 6, seed=1)
    cached_batch = next(iter(cached.train_dataloader()))
    assert cached_batch["index"].tolist() == batch["index"].tolist()  # same seed, same order
    torch.testing.assert_close(cached_batch["specgram"], batch["specgram"], atol=1e-4, rtol=1e-4)
    assert "features from cache" in cached.summary()


def test_pitch_distribution_of_the_training_set() -> None:
    data = DataConfig(path=str(FIXTURE_DIR), split="train", pitch_min=24, pitch_max=84)
    dm = NoteDataModule(data, SPECTRAL, batch_size=4)
    dm.setup("fit")
    dist = dm.pitch_distribution()
    assert dist.shape == (61,) and dist.dtype == torch.float32
    assert float(dist.sum()) == pytest.approx(1.0)
    pitches = [m.pitch for m in dm.notes]
    assert len(pitches) == 24  # 3 of the fixture's 4 instruments are in "train"
    for p in range(24, 85):
        assert float(dist[p - 24]) == pytest.approx(pitches.count(p) / len(pitches))


def test_datamodule_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="only 8 notes selected .* fewer than the batch size 16"):
        NoteDataModule(DataConfig(path=str(FIXTURE_DIR), families=("flute",)), SPECTRAL, 16).setup("fit")
    with pytest.raises(BadInputError, match="no cached features"):
        NoteDataModule(DataConfig(path=str(FIXTURE_DIR), cache=str(tmp_path)), SPECTRAL, 4).setup("fit")
    with pytest.raises(BadInputError, match="dataset not found"):
        NoteDataModule(DataConfig(path=str(tmp_path / "nope")), SPECTRAL, 4).setup("fit")


DDP_SCRIPT = """
import json, os, sys
import lightning as L
import torch
from gansynth.config import DataConfig, SpectralConfig
from gansynth.data import FIXTURE_DIR
from gansynth.data.datamodule import NoteDataModule

class Probe(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen = []
    def training_step(self, batch, i):
        self.seen += batch["index"].tolist()
        return (self.w * batch["specgram"].mean()).sum()
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)
    def on_train_end(self):
        with open(os.path.join(sys.argv[1], f"rank{self.global_rank}.json"), "w") as f:
            json.dump(self.seen, f)

if __name__ == "__main__":
    dm = NoteDataModule(DataConfig(path=str(FIXTURE_DIR)), SpectralConfig("if", "base"), batch_size=4)
    trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Probe(), datamodule=dm)
    torch.distributed.destroy_process_group()  # as gansynth.training.run does after fit
"""


@pytest.mark.slow
def test_each_ddp_rank_gets_different_notes(tmp_path: Path) -> None:
    script = tmp_path / "ddp_probe.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, str(script), str(tmp_path)], env=env, capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-2000:]
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())
    assert len(rank0) == len(rank1) == 16  # 32 notes / 2 ranks, 4 full batches each
    assert not set(rank0) & set(rank1)
    assert set(rank0) | set(rank1) == set(range(32))


def test_training_counts_short_audio_live_and_from_the_cache(fixture_copy: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    import soundfile as sf

    short = "flute_acoustic_073-060-127"
    sf.write(str(fixture_copy / "audio" / f"{short}.wav"), np.full(28, 0.1, np.float32), 16000, subtype="PCM_16")
    spectral = SpectralConfig(representation="if", layout="base")
    data = DataConfig(path=str(fixture_copy))
    live = NoteDataModule(data, spectral, batch_size=4)
    live.setup("fit")
    assert live.bad_report.fitted == {short: "short audio"}
    assert "kept 32 of 32 notes; zero-padded 1 notes (short audio); features from audio" in live.summary()
    with pytest.raises(BadInputError, match=f"{short}.wav: short audio: 28 samples .* \\(strict mode\\)"):
        NoteDataModule(dataclasses.replace(data, strict=True), spectral, 4).setup("fit")

    cache = tmp_path / "cache"
    assert main(["data", "cache", str(fixture_copy), "--out", str(cache), "--set", "spectral.representation=if",
                 "spectral.layout=base"]) == 0
    assert "32 notes cached (kept 32 of 32 notes; zero-padded 1 notes (short audio))" in capsys.readouterr().out
    cached = NoteDataModule(dataclasses.replace(data, cache=str(cache)), spectral, batch_size=4)
    cached.setup("fit")
    assert cached.bad_report.fitted == {short: "short audio"}
    assert "zero-padded 1 notes (short audio); features from cache" in cached.summary()
    strict = dataclasses.replace(data, cache=str(cache), strict=True)
    with pytest.raises(BadInputError, match=f"note {short} had short audio when the cache was built"):
        NoteDataModule(strict, spectral, 4).setup("fit")
    skipping = NoteDataModule(dataclasses.replace(strict, skip_bad=True), spectral, 4)
    skipping.setup("fit")
    assert len(skipping.indices) == 31 and skipping.bad_report.counts == {"short audio": 1}


def test_cache_config_is_validated_as_train_validates_it(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    recipe = tmp_path / "recipe.yaml"
    # a recipe `train` would take (data.path, model, schedule set) but for one mistyped key
    recipe.write_text(f"spectral:\n  representation: if\n  layout: base\ndata:\n  path: {FIXTURE_DIR}\n"
                      "model:\n  chanels: [8, 8]\nschedule:\n  stage_images: 8\n")
    assert main(["train", "--config", str(recipe)]) == 2
    train_err = capsys.readouterr().err.strip()
    assert "unknown config key model.chanels" in train_err and len(train_err.splitlines()) == 1
    for command in (["data", "cache", str(FIXTURE_DIR), "--out", str(tmp_path / "c")],
                    ["data", "info", str(FIXTURE_DIR)]):
        assert main([*command, "--config", str(recipe)]) == 2
        assert capsys.readouterr().err.strip() == train_err
    assert not (tmp_path / "c").exists()
    # an override outside spectral/data without a recipe is refused, not silently ignored
    assert main(["data", "cache", str(FIXTURE_DIR), "--out", str(tmp_path / "c"), "--set", "model.chanels=[8]"]) == 2
    assert "section 'model' does not apply here" in capsys.readouterr().err
    # a valid recipe still gives its spectral and data sections
    recipe.write_text("spectral:\n  representation: if\n  layout: base\ndata:\n  families: [flute]\n"
                      "model:\n  channels: [8, 8, 8]\n")
    assert main(["data", "cache", str(FIXTURE_DIR), "--config", str(recipe), "--out", str(tmp_path / "c")]) == 0
    cache = open_cache(tmp_path / "c", SpectralConfig(representation="if", layout="base"), NSynthFolder(FIXTURE_DIR))
    assert len(cache.rows) == 8
