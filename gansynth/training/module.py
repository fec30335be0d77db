"""The GANSynth LightningModule: wires the progressive networks, losses, optimizers and EMA.

One training step per batch (manual optimization): a discriminator step (WGAN + gradient
penalty + drift + auxiliary pitch loss on real pitches), then a generator step (WGAN + auxiliary
pitch loss on the sampled fake pitches), then the EMA update of the generator copy. The active
block and fade-in alpha come from `schedule.progress` of our own count of images seen (summed over
all devices), never from Lightning's step counter.

Options (docs/training.md, "Fast training" and "Sample-efficient training"): the penalty only on
every `train.reg_interval`-th step (lazy regularization), the non-saturating loss with R1
(`train.loss`), DiffAugment on every input of D (`train.augment`), the EMA by half-life in images
with a ramp-up, and `torch.compile`d networks (`train.compile`); none is on by default.

Determinism: the latents, fake pitches, gradient-penalty mixing weights and augmentation draws of
a step are drawn from generators seeded by (seed, rank, images seen), so they depend on nothing
but the position in training; the global RNG states (data order) are saved in every checkpoint.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gansynth.config import ExperimentConfig, config_from_dict, config_to_dict
from gansynth.losses import (
    GANLossWeights,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    pitch_accuracy,
    r1_penalty,
    spectrum_loss,
)
from gansynth.models import build_discriminator, build_generator
from gansynth.spectral import Normalizer
from gansynth.training.augment import augment, parse_policy
from gansynth.training.checkpoint_file import STATE_KEY, training_state
from gansynth.training.schedule import Progress, progress, stage_start
from gansynth.training.speed import CompiledNetwork

# odd multipliers that spread (seed, rank, images seen) over the 64-bit seed space
_SEED_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def step_seed(seed: int, rank: int, images_seen: int, stream: int) -> int:
    """A 63-bit seed that depends only on (seed, rank, images_seen, stream)."""
    value = (seed * _SEED_MIX[0] + (rank + 1) * _SEED_MIX[1] + images_seen * _SEED_MIX[2] + stream) & (2**64 - 1)
    value ^= value >> 31
    return value & (2**63 - 1)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Turn off requires_grad of `module`'s parameters inside the block (saves D's weight
    gradients during the generator step; under DDP they then count as unused)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags):
            p.requires_grad_(flag)


def fit_normalizer(batches: Iterable[dict[str, torch.Tensor]], num_batches: int) -> Normalizer:
    """A per-channel range normalizer fitted on the raw "specgram" of the first `num_batches`."""
    def specgrams() -> Iterator[torch.Tensor]:
        for i, batch in enumerate(batches):
            if i >= num_batches:
                break
            yield batch["specgram"]
    return Normalizer.fit(specgrams())


class GANSynthModule(L.LightningModule):
    """Progressive GAN training of GANSynth.

    config: the resolved `ExperimentConfig` (or its dict, as stored in a checkpoint).
    normalizer: spectrogram normalizer (default: GANSynth's prespecified constants).
    Batches are dicts with "specgram": (B, 2, frames, bins) float32 RAW features and "pitch":
    (B,) int64 MIDI pitch in [data.pitch_min, data.pitch_max].
    """

    pitch_probs: torch.Tensor

    def __init__(self, config: ExperimentConfig | dict[str, Any],
                 normalizer: Normalizer | None = None) -> None:
        super().__init__()
        if isinstance(config, dict):
            config = config_from_dict(ExperimentConfig, config)
        self.config = config
        self.save_hyperparameters({"config": config_to_dict(config)})
        self.automatic_optimization = False
        self.generator = build_generator(config)
        self.discriminator = build_discriminator(config)
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
        self.normalizer = normalizer if normalizer is not None else Normalizer.prespecified()
        # probabilities of the fake pitch classes; replaced by the datamodule's in `setup`
        self.register_buffer("pitch_probs", torch.full((config.num_pitches,), 1.0 / config.num_pitches))
        t = config.train
        wgan = t.loss == "wgan-gp"  # ns-r1: R1 weighted gamma / 2, no drift term
        self.loss_weights = GANLossWeights(gp=t.gp_weight if wgan else t.r1_gamma / 2,
                                           drift=t.drift_weight if wgan else 0.0, aux=t.aux_weight)
        self.augment_ops = parse_policy(t.augment)
        self._augment_noise = torch.Generator()
        self.images_seen = 0
        self._noise = torch.Generator()
        self._device_noise: torch.Generator | None = None
        self._last_step_time: float | None = None
        self._probs_cache: tuple[int, torch.Tensor, torch.device] | None = None
        self._last_penalty: torch.Tensor | None = None
        self._networks: tuple[Callable[..., Any], Callable[..., Any]] | None = None
        self._memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
        if t.channels_last:
            self.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------------ schedule and inputs

    @property
    def num_blocks(self) -> int:
        return self.generator.num_blocks

    def progress(self, images_seen: int | None = None) -> Progress:
        """Stage/block/alpha at `images_seen` (default: the images seen so far)."""
        s = self.config.schedule
        seen = self.images_seen if images_seen is None else images_seen
        return progress(seen, s.lengths(self.num_blocks), self.num_blocks, s.max_images)

    def _world(self) -> tuple[int, int]:
        """(global rank, world size); (0, 1) outside a Trainer."""
        if self._trainer is None:
            return 0, 1
        return self.trainer.global_rank, self.trainer.world_size

    def real_specgrams(self, raw: torch.Tensor, block: int, alpha: float) -> torch.Tensor:
        """raw: (B, 2, frames, bins) features -> (B, 2, frames_b, bins_b) normalized, average-pooled
        to block `block`'s resolution and, during a transition (alpha < 1), blended as in ProGAN:
        lerp(nearest-upsampled block-1 version, block version, alpha)."""
        expected = self.config.spectral.shape
        if raw.dim() != 4 or tuple(raw.shape[1:]) != expected:
            raise ValueError(f"real spectrograms must be (B, {', '.join(map(str, expected))}), got {tuple(raw.shape)}")
        x = self.normalizer(raw.float()).contiguous(memory_format=self._memory_format)  # (B, 2, frames, bins)
        factor = 2 ** (self.num_blocks - 1 - block)
        if factor > 1:
            x = F.avg_pool2d(x, factor)  # (B, 2, frames_b, bins_b)
        if block > 0 and alpha < 1.0:
            lower = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2.0, mode="nearest")
            x = torch.lerp(lower, x, alpha)
        return x

    def check_pitches(self, pitch: torch.Tensor) -> None:
        """Raise ValueError when a (B,) MIDI pitch falls outside data.pitch_min..pitch_max. Reads
        the values, so call it on the host copy of a batch (`on_before_batch_transfer`), not in
        the step, where it would wait for the GPU."""
        d = self.config.data
        if pitch.numel() and (int(pitch.min()) < d.pitch_min or int(pitch.max()) > d.pitch_max):
            raise ValueError(f"batch pitches {int(pitch.min())}..{int(pitch.max())} fall outside "
                             f"data.pitch_min..pitch_max = {d.pitch_min}..{d.pitch_max}")

    def pitch_index(self, pitch: torch.Tensor) -> torch.Tensor:
        """(B,) MIDI pitch -> (B,) class index (the range is checked by `check_pitches`)."""
        return (pitch - self.config.data.pitch_min).long()

    def _host_pitch_probs(self) -> torch.Tensor:
        """A host copy of `pitch_probs`, refreshed only when the buffer was written to (a
        device-to-host copy in every step would make the host wait for the GPU)."""
        version = self.pitch_probs._version
        if self._probs_cache is None or self._probs_cache[0] != version or self._probs_cache[2] != self.pitch_probs.device:
            self._probs_cache = (version, self.pitch_probs.detach().float().cpu(), self.pitch_probs.device)
        return self._probs_cache[1]

    def sample_latents(self, batch: int, stream: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(z (B, latent_dim), fake pitch class (B,)) for this step, on the module's device; a pure
        function of (seed, rank, images seen, stream)."""
        rank, _ = self._world()
        self._noise.manual_seed(step_seed(self.config.train.seed, rank, self.images_seen, stream))
        z = torch.randn(batch, self.config.model.latent_dim, generator=self._noise)
        idx = torch.multinomial(self._host_pitch_probs(), batch, replacement=True, generator=self._noise)
        return z.to(self.device, non_blocking=True), idx.to(self.device, non_blocking=True)

    def _gp_generator(self, device: torch.device) -> torch.Generator:
        if self._device_noise is None or self._device_noise.device != device:
            self._device_noise = torch.Generator(device=device)
        rank, _ = self._world()
        self._device_noise.manual_seed(step_seed(self.config.train.seed, rank, self.images_seen, 2))
        return self._device_noise

    # ------------------------------------------------------------------ optimization

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:  # type: ignore[override]
        """[generator Adam, discriminator Adam], lr and betas from `train`."""
        t = self.config.train
        betas = (t.betas[0], t.betas[1])
        fused = self.device.type == "cuda"  # one kernel per step for all parameters (same math)
        return [torch.optim.Adam(self.generator.parameters(), lr=t.lr, betas=betas, fused=fused),
                torch.optim.Adam(self.discriminator.parameters(), lr=t.lr, betas=betas, fused=fused)]

    def train_batch(self, raw: torch.Tensor, pitch: torch.Tensor, opt_g: Any, opt_d: Any,
                    backward: Callable[[torch.Tensor], None],
                    regularize: bool | None = None) -> dict[str, torch.Tensor]:
        """One D step then one G step and the EMA update at the current progress.

        raw: (B, 2, frames, bins) raw features; pitch: (B,) MIDI pitch. `backward` runs a
        backward pass (Lightning's `manual_backward` in training). regularize: whether this D step
        computes the gradient penalty (None: `regularize_now`, i.e. every `train.reg_interval`-th
        step; benchmarks time both kinds). Returns detached metrics.
        """
        p = self.progress()
        block, alpha = p.block, p.alpha
        real = self.real_specgrams(raw, block, alpha)  # (B, 2, frames_b, bins_b)
        real_idx = self.pitch_index(pitch)
        batch = real.shape[0]
        gen, disc = self.networks()
        t = self.config.train

        # discriminator step; with lazy regularization the penalty only every reg_interval-th step.
        # With train.augment every input of D goes through the same augmentation family.
        rank, _ = self._world()
        self._augment_noise.manual_seed(step_seed(t.seed, rank, self.images_seen, 5))

        def critic(x: torch.Tensor, pitch_idx: torch.Tensor,
                   net: Callable[..., Any] = disc) -> tuple[torch.Tensor, torch.Tensor]:
            return net(augment(x, self.augment_ops, self._augment_noise), block, alpha, pitch_idx)

        z, fake_idx = self.sample_latents(batch, stream=0)
        with torch.no_grad():
            fake = gen(z, fake_idx, block, alpha)
        real_score, real_logits = critic(real, real_idx)
        fake_score, _ = critic(fake, fake_idx)
        weights = self.loss_weights
        if self.regularize_now(batch) if regularize is None else regularize:
            with torch.autocast(device_type=real.device.type, enabled=False):  # penalty in float32
                # eager: torch.compile does not support the penalty's double backward
                def score(x: torch.Tensor) -> torch.Tensor:  # real pitches (the mix's, for the GP)
                    return critic(x, real_idx, self.discriminator)[0]
                if t.loss == "wgan-gp":
                    penalty = gradient_penalty(score, real.float(), fake.float(), t.gp_target,
                                               generator=self._gp_generator(real.device))
                else:
                    penalty = r1_penalty(score, real.float())
            self._last_penalty = penalty.detach()
            weights = dataclasses.replace(weights, gp=weights.gp * t.reg_interval)
        else:
            penalty = torch.zeros((), device=real.device)
            weights = dataclasses.replace(weights, gp=0.0)
        d_total, d_terms = discriminator_loss(real_score, fake_score, real_logits, real_idx, penalty, weights,
                                              loss=t.loss)
        opt_d.zero_grad(set_to_none=True)
        backward(d_total)
        opt_d.step()

        # generator step
        z, fake_idx = self.sample_latents(batch, stream=1)
        with frozen(self.discriminator):
            fake = gen(z, fake_idx, block, alpha)
            fake_score, fake_logits = critic(fake, fake_idx)
            g_total, g_terms = generator_loss(fake_score, fake_logits, fake_idx, self.loss_weights, loss=t.loss)
            if t.spectrum_weight > 0:
                g_terms["spectrum"] = spectrum_loss(fake, real)
                g_total = g_total + t.spectrum_weight * g_terms["spectrum"]
            opt_g.zero_grad(set_to_none=True)
            backward(g_total)
            opt_g.step()
        self.update_ema(batch * self._world()[1])

        if t.reg_interval > 1:  # log the penalty last measured, and the total with unscaled weights
            d_terms["gradient_penalty"] = self._last_penalty if self._last_penalty is not None else penalty
            w = self.loss_weights
            d_total = (d_terms["wgan"] + w.gp * d_terms["gradient_penalty"] + w.drift * d_terms["drift"]
                       + w.aux * d_terms["pitch"])
        metrics = {
            "d_loss": d_total, "d_wgan": d_terms["wgan"], "gradient_penalty": d_terms["gradient_penalty"],
            "drift": d_terms["drift"], "d_pitch": d_terms["pitch"],
            "real_pitch_acc": pitch_accuracy(real_logits, real_idx),
            "g_loss": g_total, "g_wgan": g_terms["wgan"], "g_pitch": g_terms["pitch"],
        }
        if "spectrum" in g_terms:
            metrics["g_spectrum"] = g_terms["spectrum"]
        return {k: v.detach().float() for k, v in metrics.items()}

    def regularize_now(self, batch: int) -> bool:
        """Whether the step at the current images seen computes the gradient penalty: every
        `train.reg_interval`-th step, counted in global batches (batch x world size), so that it
        is a function of the position in training, also after a resume."""
        _, world = self._world()
        return (self.images_seen // (batch * world)) % self.config.train.reg_interval == 0

    def networks(self) -> tuple[Callable[..., Any], Callable[..., Any]]:
        """(generator, discriminator) as the step calls them: the modules, or with `train.compile`
        their `torch.compile`d versions (built at the first call, sharing the modules' weights)."""
        if not self.config.train.compile:
            return self.generator, self.discriminator
        if self._networks is None:
            backend = self.config.train.compile_backend
            self._networks = (CompiledNetwork(self.generator, backend), CompiledNetwork(self.discriminator, backend))
        return self._networks

    def ema_decay(self, global_batch: int) -> float:
        """The EMA decay of this step: `train.ema_decay`, or with `train.ema_half_life_images` H
        0.5 ** (global_batch / H), where with `train.ema_rampup` r the half-life is at most
        r x the images seen since the current stage began (at least one batch)."""
        t = self.config.train
        if t.ema_half_life_images <= 0:
            return t.ema_decay
        half_life = float(t.ema_half_life_images)
        if t.ema_rampup > 0:
            lengths = self.config.schedule.lengths(self.num_blocks)
            since_stage = self.images_seen - stage_start(self.progress().stage, lengths)
            half_life = min(half_life, max(since_stage, global_batch) * t.ema_rampup)
        return 0.5 ** (global_batch / max(half_life, 1e-8))

    @torch.no_grad()
    def update_ema(self, global_batch: int | None = None) -> None:
        """ema <- decay * ema + (1 - decay) * generator, for every parameter and buffer; decay from
        `ema_decay(global_batch)` (default: this step's batch over all devices)."""
        if global_batch is None:
            global_batch = self.config.train.batch_size * self._world()[1]
        weight = 1.0 - self.ema_decay(global_batch)
        ema_params: list[torch.Tensor] = list(self.generator_ema.parameters())
        params = [p.detach() for p in self.generator.parameters()]
        if len(ema_params) != len(params):
            raise RuntimeError("the EMA generator and the generator have different parameters")
        torch._foreach_lerp_(ema_params, params, weight)  # one fused pass instead of one per tensor
        for b_ema, b in zip(self.generator_ema.buffers(), self.generator.buffers(), strict=True):
            b_ema.copy_(b)

    # ------------------------------------------------------------------ Lightning hooks

    def setup(self, stage: str) -> None:
        """Take the fake-pitch distribution from the datamodule (restored from a checkpoint
        afterwards when resuming)."""
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        get = getattr(datamodule, "pitch_distribution", None)
        if stage == "fit" and get is not None:
            probs = torch.as_tensor(get(), dtype=torch.float32).reshape(-1)
            if probs.shape != self.pitch_probs.shape or not bool(torch.all(probs >= 0)) or float(probs.sum()) <= 0:
                raise ValueError(f"datamodule pitch distribution must be {tuple(self.pitch_probs.shape)} "
                                 f"non-negative weights, got shape {tuple(probs.shape)}")
            self.pitch_probs.copy_(probs / probs.sum())

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        if self.progress().done:
            self.trainer.should_stop = True
            return
        before = self.progress()
        optimizers = self.optimizers()
        assert isinstance(optimizers, list) and len(optimizers) == 2, "expected [generator, discriminator] optimizers"
        opt_g, opt_d = optimizers
        metrics = self.train_batch(batch["specgram"], batch["pitch"], opt_g, opt_d, self.manual_backward)
        _, world = self._world()
        global_batch = batch["specgram"].shape[0] * world
        self.images_seen += global_batch
        now = time.perf_counter()
        if self._last_step_time is not None:
            metrics["images_per_s"] = torch.tensor(global_batch / max(now - self._last_step_time, 1e-9))
        self._last_step_time = now
        metrics.update(images_seen=torch.tensor(float(self.images_seen)), stage=torch.tensor(float(before.stage)),
                       block=torch.tensor(float(before.block)), alpha=torch.tensor(before.alpha))
        # device tensors, read (.item()) only when Lightning writes a log row; the progress bar shows
        # the host counters (callbacks.ImagesProgressBar)
        self.log_dict(metrics, on_step=True, on_epoch=False, batch_size=global_batch)
        if self.progress().done:
            self.trainer.should_stop = True

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Check the batch's pitches while it is still on the host."""
        if isinstance(batch, dict) and "pitch" in batch:
            self.check_pitches(batch["pitch"])
        return batch

    def on_train_start(self) -> None:
        self._last_step_time = None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the image count, the schedule stage and the global RNG states (plain tensors and
        ints only; the layout is documented in `gansynth.training.checkpoint_file`)."""
        np_state: tuple[Any, ...] = tuple(np.random.get_state())
        _, world = self._world()
        checkpoint[STATE_KEY] = {
            "images_seen": self.images_seen,
            "stage": self.progress().stage,
            "world_size": world,
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": {"keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
                          "pos": int(np_state[2]), "has_gauss": int(np_state[3]),
                          "cached_gaussian": float(np_state[4])},
            "python_rng": random.getstate(),
        }
        if self._last_penalty is not None:
            checkpoint[STATE_KEY]["last_penalty"] = self._last_penalty.detach().cpu()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the image count; restore the RNG states when the world size is unchanged."""
        state = training_state(checkpoint, "the checkpoint")
        self.images_seen = int(state["images_seen"])
        last_penalty = state.get("last_penalty")
        self._last_penalty = last_penalty.to(self.device) if isinstance(last_penalty, torch.Tensor) else None
        rank, world = self._world()
        if int(state.get("world_size", 1)) == world == 1:
            torch.set_rng_state(state["torch_rng"])
            nps = state["numpy_rng"]
            np.random.set_state(("MT19937", nps["keys"].numpy().astype(np.uint32), nps["pos"],
                                 nps["has_gauss"], nps["cached_gaussian"]))
            py = state["python_rng"]
            random.setstate((py[0], tuple(py[1]), py[2]))
        else:  # one stream per rank, still a function of the position in training
            seed = step_seed(self.config.train.seed, rank, self.images_seen, 3)
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
