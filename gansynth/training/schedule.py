"""Progressive-growing schedule as a pure function of the number of training images seen.

With `num_blocks` resolution blocks there are 2 * num_blocks - 1 stages of `stage_images` images
each (13 stages of 800k for the paper's 7 blocks), alternating stable and transition:

    stage 2k     stable at block k,                alpha = 1
    stage 2k+1   transition into block k+1,        alpha = (images_seen - stage_start) / stage_images

so alpha is 0 at the first image of a transition, (stage_images - 1) / stage_images at its last,
and 1 from the first image of the following stable stage. The last stage (stable at the last block)
lasts until the cap: training is `done` once images_seen >= max_images (11M in the paper).
"""

from __future__ import annotations

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


def progress(images_seen: int, stage_images: int = 800_000, num_blocks: int = 7,
             max_images: int = 11_000_000) -> Progress:
    """Stage, block and alpha after `images_seen` training images (summed over all ranks).

    stage_images: images per stage (> 0); num_blocks: resolution blocks of the networks (>= 1);
    max_images: training cap (> 0). Raises ConfigError for invalid settings, ValueError for a
    negative image count.
    """
    if stage_images <= 0:
        raise ConfigError(f"schedule stage_images must be > 0, got {stage_images}")
    if num_blocks < 1:
        raise ConfigError(f"schedule num_blocks must be >= 1, got {num_blocks}")
    if max_images <= 0:
        raise ConfigError(f"schedule max_images must be > 0, got {max_images}")
    if images_seen < 0:
        raise ValueError(f"images_seen must be >= 0, got {images_seen}")
    stage = min(images_seen // stage_images, num_stages(num_blocks) - 1)
    transition = stage % 2 == 1
    if transition:
        block = stage // 2 + 1
        alpha = (images_seen - stage * stage_images) / stage_images
    else:
        block = stage // 2
        alpha = 1.0
    return Progress(stage=stage, block=block, alpha=alpha, transition=transition,
                    done=images_seen >= max_images)
