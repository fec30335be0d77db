"""Progressive-growing schedule as a pure function of the number of training images seen.

With `num_blocks` resolution blocks there are 2 * num_blocks - 1 stages of `stage_images` images
each (13 stages of 800k for the paper's 7 blocks), or of per-stage counts (a sequence, e.g. to spend
more of a budget on the high-resolution blocks), alternating stable and transition:

    stage 2k     stable at block k,                alpha = 1
    stage 2k+1   transition into block k+1,        alpha = (images_seen - stage_start) / stage_images

so alpha is 0 at the first image of a transition, (stage_images - 1) / stage_images at its last,
and 1 from the first image of the following stable stage. The last stage (stable at the last block)
lasts until the cap: training is `done` once images_seen >= max_images (11M in the paper).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gansynth.errors import ConfigError


@dataclass(frozen=True)
class Progress:
    """Where training stands: `stage` 0..2*num_blocks-2, the active generator/discriminator
    `block` (highest resolution in use), the fade-in `alpha` in [0, 1], whether the stage is a
    `transition`, and whether the image cap is reached (`done`)."""

    stage: int
    block: int
    alpha: float
    transition: bool
    done: bool


def num_stages(num_blocks: int) -> int:
    """Number of schedule stages for `num_blocks` resolution blocks: 2 * num_blocks - 1."""
    return 2 * num_blocks - 1


def stage_lengths(stage_images: int | Sequence[int], num_blocks: int) -> tuple[int, ...]:
    """Images of every stage: `stage_images` for each of the 2 * num_blocks - 1 stages, or the
    per-stage counts given. Raises ConfigError for a count that is not positive or a sequence of
    the wrong length."""
    if num_blocks < 1:
        raise ConfigError(f"schedule num_blocks must be >= 1, got {num_blocks}")
    n = num_stages(num_blocks)
    lengths = (int(stage_images),) * n if isinstance(stage_images, int) else tuple(int(x) for x in stage_images)
    if len(lengths) != n:
        raise ConfigError(f"schedule.stage_image_counts must give {n} counts (2 x {num_blocks} blocks - 1), "
                          f"got {len(lengths)}")
    if any(length <= 0 for length in lengths):
        raise ConfigError(f"schedule stage_images (or stage_image_counts) must be > 0, got "
                          f"{list(lengths) if len(set(lengths)) > 1 else lengths[0]}")
    return lengths


def stage_start(stage: int, lengths: Sequence[int]) -> int:
    """Images seen when `stage` begins, for stage lengths `lengths`."""
    return sum(lengths[:stage])


def progress(images_seen: int, stage_images: int | Sequence[int] = 800_000, num_blocks: int = 7,
             max_images: int = 11_000_000) -> Progress:
    """Stage, block and alpha after `images_seen` training images (summed over all ranks).

    stage_images: images per stage (> 0), or one count per stage (2 * num_blocks - 1 of them);
    num_blocks: resolution blocks of the networks (>= 1); max_images: training cap (> 0). The
    last stage lasts until the cap. Raises ConfigError for invalid settings, ValueError for a
    negative image count.
    """
    lengths = stage_lengths(stage_images, num_blocks)
    if max_images <= 0:
        raise ConfigError(f"schedule max_images must be > 0, got {max_images}")
    if images_seen < 0:
        raise ValueError(f"images_seen must be >= 0, got {images_seen}")
    stage, start = 0, 0
    while stage < len(lengths) - 1 and images_seen >= start + lengths[stage]:
        start += lengths[stage]
        stage += 1
    transition = stage % 2 == 1
    if transition:
        block = stage // 2 + 1
        alpha = (images_seen - start) / lengths[stage]
    else:
        block = stage // 2
        alpha = 1.0
    return Progress(stage=stage, block=block, alpha=alpha, transition=transition,
                    done=images_seen >= max_images)
