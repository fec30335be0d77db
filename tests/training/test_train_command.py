"""`gansynth train`'s checks before any work: a recipe must set data.path, model and schedule (an
empty one would train the paper-size networks); Lightning's notices are filtered, real warnings
are not."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from gansynth import cli
from gansynth.commands.train import check_recipe, describe_training
from gansynth.config import ExperimentConfig, load_config
from gansynth.training.run import quiet_lightning
from tests.training.conftest import DEBUG_RECIPE, REPO


def _train_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert cli.main(["train", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gansynth: error: "), captured.err
    assert "training " not in captured.out  # refused before anything was built
    return lines[0]


def test_recipe_must_set_data_model_and_schedule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    line = _train_error(capsys, "--config", str(empty), f"output={tmp_path / 'run'}")
    assert f"{empty}: the recipe does not set data.path, model, schedule" in line
    assert not (tmp_path / "run").exists()

    partial = tmp_path / "partial.yaml"
    partial.write_text("data:\n  pitch_min: 24\nmodel:\n  latent_dim: 16\nschedule: {}\n")
    line = _train_error(capsys, "--config", str(partial))
    assert f"{partial}: the recipe does not set data.path, schedule;" in line
    # overrides count as part of the recipe
    line = _train_error(capsys, "--config", str(partial), "data.path=data/fixtures/gm_tiny")
    assert "does not set schedule;" in line


@pytest.mark.parametrize("name", ["debug.yaml", "gm_small.yaml", "gm_wide.yaml", "gansynth_paper.yaml"])
def test_shipped_recipes_pass_the_rule(name: str) -> None:
    recipe = str(REPO / "recipes" / name)
    check_recipe(recipe, [])
    line = describe_training(load_config(ExperimentConfig, recipe), recipe)
    assert line.startswith(f"training {recipe}: generator ") and "\n" not in line


def test_describe_training_names_what_is_trained() -> None:
    config = load_config(ExperimentConfig, DEBUG_RECIPE)
    line = describe_training(config, "recipes/debug.yaml")
    assert line == ("training recipes/debug.yaml: generator 24,754 and discriminator 7,754 parameters, "
                    "7 blocks up to 128 x 1024 if-mel, 104 images (8 per stage, batch 4) "
                    "from data/fixtures/gm_tiny into runs/debug")


def test_quiet_lightning_drops_only_the_listed_notices(caplog: pytest.LogCaptureFixture) -> None:
    from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with quiet_lightning(), caplog.at_level(logging.INFO):
            warnings.warn("`isinstance(treespec, LeafSpec)` is deprecated, use ...", FutureWarning, stacklevel=1)
            rank_zero_warn("The number of training batches (8) is smaller than the logging interval "
                           "Trainer(log_every_n_steps=100).")
            rank_zero_warn("You're resuming from a checkpoint that ended before the epoch ended and your "
                           "dataloader is not resumable.")
            rank_zero_info("💡 Tip: For seamless cloud uploads and versioning, try installing litmodels")
            warnings.warn("something else is deprecated", FutureWarning, stacklevel=1)
            rank_zero_warn("a real problem")
            rank_zero_info("GPU available: False, used: False")
    assert [str(w.message) for w in caught] == ["something else is deprecated", "a real problem"]
    assert [r.getMessage() for r in caplog.records] == ["GPU available: False, used: False"]
