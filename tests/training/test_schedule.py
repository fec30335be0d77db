"""Progressive schedule: stage, block and alpha at every stage boundary, linear fade, the cap."""

from __future__ import annotations

import pytest

from gansynth.errors import ConfigError
from gansynth.training.schedule import Progress, num_stages, progress, stage_lengths, stage_start

S = 800_000


@pytest.mark.parametrize("stage", range(13))
def test_paper_stage_boundaries(stage: int) -> None:
    first, last = stage * S, (stage + 1) * S - 1
    if stage == 12:
        last = 11_000_000 - 1  # the last stage runs until the cap
    p_first, p_last = progress(first), progress(last)
    assert p_first.stage == p_last.stage == stage
    if stage % 2 == 0:
        assert p_first == Progress(stage=stage, block=stage // 2, alpha=1.0, transition=False, done=False)
        assert p_last == Progress(stage=stage, block=stage // 2, alpha=1.0, transition=False, done=False)
    else:
        assert p_first == Progress(stage=stage, block=stage // 2 + 1, alpha=0.0, transition=True, done=False)
        assert p_last.block == stage // 2 + 1 and p_last.transition and not p_last.done
        assert p_last.alpha == pytest.approx((S - 1) / S)
    # the next image starts the next stage
    if stage < 12:
        assert progress(last + 1).stage == stage + 1


def test_blocks_cover_all_resolutions() -> None:
    assert num_stages(7) == 13
    blocks = [progress(s * S).block for s in range(13)]
    assert blocks == [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]


def test_alpha_linear_in_transition() -> None:
    start = 3 * S  # transition into block 2
    points = [0, 1, 1000, S // 4, S // 2, S - 1]
    for offset in points:
        p = progress(start + offset)
        assert p.alpha == pytest.approx(offset / S, abs=1e-12)
        assert p.block == 2 and p.transition
    assert progress(start + S).alpha == 1.0  # next stable stage


def test_cap_and_beyond() -> None:
    assert not progress(10_999_999).done
    cap = progress(11_000_000)
    assert cap.done and cap.stage == 12 and cap.block == 6 and cap.alpha == 1.0
    far = progress(50_000_000)
    assert far.done and far.stage == 12 and far.block == 6


def test_small_config() -> None:
    """3 blocks, 10 images per stage, cap 40: stages 0..4, done at 40."""
    kw = dict(stage_images=10, num_blocks=3, max_images=40)
    seq = [progress(i, **kw) for i in range(45)]
    assert [p.stage for p in seq[::10]] == [0, 1, 2, 3, 4]
    assert [p.block for p in seq[::10]] == [0, 1, 1, 2, 2]
    assert seq[15].alpha == pytest.approx(0.5) and seq[15].transition
    assert not seq[39].done and seq[40].done
    # the cap may come before the last stage
    early = progress(25, stage_images=10, num_blocks=7, max_images=25)
    assert early.done and early.stage == 2
    single = progress(123, stage_images=10, num_blocks=1, max_images=1000)
    assert (single.stage, single.block, single.alpha, single.transition) == (0, 0, 1.0, False)


def test_invalid_settings() -> None:
    with pytest.raises(ConfigError, match="stage_images"):
        progress(0, stage_images=0)
    with pytest.raises(ConfigError, match="num_blocks"):
        progress(0, num_blocks=0)
    with pytest.raises(ConfigError, match="max_images"):
        progress(0, max_images=0)
    with pytest.raises(ValueError, match="images_seen"):
        progress(-1)


def test_per_stage_image_counts() -> None:
    """Counts per stage (3 blocks -> 5 stages): stage boundaries at the cumulative sums, alpha
    over each transition's own length, the last stage until the cap; equal counts give exactly
    the single-number schedule."""
    counts = (10, 20, 30, 40, 50)
    starts = [0, 10, 30, 60, 100]
    for stage, start in enumerate(starts):
        assert stage_start(stage, counts) == start
        p = progress(start, counts, num_blocks=3, max_images=1000)
        assert p.stage == stage and (p.alpha == 0.0 if p.transition else p.alpha == 1.0)
    assert progress(29, counts, 3, 1000).alpha == pytest.approx(19 / 20)  # last image of stage 1
    assert progress(900, counts, 3, 1000).stage == 4  # the last stage runs until the cap
    for seen in range(0, 200, 7):
        assert progress(seen, (16,) * 5, 3, 150) == progress(seen, 16, 3, 150)
    with pytest.raises(ConfigError, match="5 counts"):
        progress(0, (10, 20), 3, 100)
    with pytest.raises(ConfigError, match="stage_image_counts"):
        stage_lengths((10, 0, 10, 10, 10), 3)


def test_stage_image_counts_in_the_config() -> None:
    from gansynth.config import ExperimentConfig, load_config
    from tests.training.conftest import DEBUG_RECIPE

    counts = [4, 4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 16, 24]
    config = load_config(ExperimentConfig, DEBUG_RECIPE, [f"schedule.stage_image_counts={counts}"])
    assert config.schedule.lengths(7) == tuple(counts)
    with pytest.raises(ConfigError, match="13 counts"):
        load_config(ExperimentConfig, DEBUG_RECIPE, ["schedule.stage_image_counts=[4,4]"])
