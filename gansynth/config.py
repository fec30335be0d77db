"""Typed configuration: one frozen dataclass per concern, validated on creation (the sequence
model's are in `gansynth.config_sequence`, re-exported here).

Dataclasses are the source of truth. YAML recipes and command-line overrides (``a.b=value``)
only override fields, through the loading functions of `gansynth.config_io` (re-exported here):
`config_from_dict` rejects unknown keys and wrong types with a message naming the key,
`config_to_dict` gives the resolved config that is saved with every run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from gansynth.config_io import (  # noqa: F401  (re-exported)
    config_from_dict,
    config_to_dict,
    load_config,
    merge_dicts,
    parse_overrides,
    read_yaml,
    save_config,
)
from gansynth.config_sequence import (  # noqa: F401  (re-exported)
    AccompanimentConfig,
    AccompanimentDataConfig,
    AccompanimentExperimentConfig,
    AutoencoderConfig,
    AutoencoderDataConfig,
    AutoencoderExperimentConfig,
    LstmConfig,
    RollConfig,
    SequenceDataConfig,
    SequenceExperimentConfig,
    SequenceTokenizerConfig,
    SequenceTrainConfig,
)
from gansynth.errors import ConfigError

REPRESENTATIONS = ("phase", "if", "if-mel")
# layout -> (n_fft, hop, front padding in samples)
LAYOUTS = {"hires": (2048, 512, 3072), "base": (1024, 256, 2304)}


@dataclass(frozen=True)
class SpectralConfig:
    """The spectral representation of a 4 s, 16 kHz note (DESIGN.md section 3).

    representation: "phase" (wrapped phase / pi), "if" (instantaneous frequency) or "if-mel"
        (log mel power and mel IF, the paper's best with `hires`).
    layout: "hires" (n_fft 2048, hop 512 -> 128 frames x 1024 bins) or "base"
        (n_fft 1024, hop 256 -> 256 frames x 512 bins).
    """

    representation: str = "if-mel"
    layout: str = "hires"
    sample_rate: int = 16000
    audio_length: int = 64000

    def __post_init__(self) -> None:
        if self.representation not in REPRESENTATIONS:
            raise ConfigError(f"spectral.representation {self.representation!r} is not one of {REPRESENTATIONS}")
        if self.layout not in LAYOUTS:
            raise ConfigError(f"spectral.layout {self.layout!r} is not one of {tuple(LAYOUTS)}")
        if self.sample_rate <= 0:
            raise ConfigError(f"spectral.sample_rate must be positive, got {self.sample_rate}")
        padded = self.audio_length + self.pad
        if self.audio_length <= 0 or (padded - self.n_fft) % self.hop != 0:
            raise ConfigError(
                f"spectral.audio_length {self.audio_length} plus the front padding {self.pad} must leave "
                f"a whole number of hops ({self.hop}) after the first window ({self.n_fft})")

    @property
    def n_fft(self) -> int:
        return LAYOUTS[self.layout][0]

    @property
    def hop(self) -> int:
        return LAYOUTS[self.layout][1]

    @property
    def pad(self) -> int:
        """Zero samples added at the front of the audio before framing (none at the end)."""
        return LAYOUTS[self.layout][2]

    @property
    def frames(self) -> int:
        return (self.audio_length + self.pad - self.n_fft) // self.hop + 1

    @property
    def bins(self) -> int:
        """Frequency bins kept: n_fft / 2 (the DC bin is dropped, Nyquist kept)."""
        return self.n_fft // 2

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, frames, bins) of one spectrogram."""
        return (2, self.frames, self.bins)


# ---------------------------------------------------------------------------------------------
# Dataset config (gansynth.data) -- section owned by the data work

NSYNTH_FAMILIES = ("bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed",
                   "string", "synth_lead", "vocal")
NSYNTH_SOURCES = ("acoustic", "electronic", "synthetic")


@dataclass(frozen=True)
class DataConfig:
    """Which notes to train on and how to read them (gansynth.data, docs/data.md).

    path: an NSynth-style folder (examples.json + audio/*.wav or *.flac) or an NSynth TFRecord file.
    split: keep only notes of this split (e.g. "train"); None keeps every note.
    split_csv: the `id,split` CSV; None means `<path>/splits.csv` when `split` is set.
    pitch_min, pitch_max: MIDI pitch range kept (inclusive); other notes are left out and counted.
    instrument_sources, families, velocities: keep only these (empty = all).
    cache: feature cache folder (`gansynth data cache`); None computes features from audio.
    num_workers: DataLoader worker processes.
    skip_bad: skip (and count) unreadable or malformed notes instead of stopping with an error.
    strict: refuse audio at another sample rate instead of resampling it.
    pitch_balance: in [0, 1]; GAN training draws each note with weight count(its pitch)^-balance:
        0 serves the notes as they are (the paper's), 1 makes every pitch equally likely. The
        generator's fake pitches follow the same distribution.
    oversample_below, oversample_factor: notes below MIDI pitch `oversample_below` (0: none)
        are drawn `oversample_factor` times as often, after the balancing.
    """

    path: str = "data/fixtures/gm_tiny"
    split: str | None = None
    split_csv: str | None = None
    pitch_min: int = 24
    pitch_max: int = 84
    instrument_sources: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    velocities: tuple[int, ...] = ()
    cache: str | None = None
    num_workers: int = 0
    skip_bad: bool = False
    strict: bool = False
    pitch_balance: float = 0.0
    oversample_below: int = 0
    oversample_factor: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.pitch_min <= self.pitch_max <= 127:
            raise ConfigError(f"data.pitch_min {self.pitch_min} and data.pitch_max {self.pitch_max} "
                              "must satisfy 0 <= pitch_min <= pitch_max <= 127")
        for family in self.families:
            if family not in NSYNTH_FAMILIES:
                raise ConfigError(f"data.families: {family!r} is not one of {NSYNTH_FAMILIES}")
        for source in self.instrument_sources:
            if source not in NSYNTH_SOURCES:
                raise ConfigError(f"data.instrument_sources: {source!r} is not one of {NSYNTH_SOURCES}")
        for velocity in self.velocities:
            if not 0 <= velocity <= 127:
                raise ConfigError(f"data.velocities: {velocity} is not a MIDI velocity (0..127)")
        if self.num_workers < 0:
            raise ConfigError(f"data.num_workers must be >= 0, got {self.num_workers}")
        if not 0.0 <= self.pitch_balance <= 1.0:
            raise ConfigError(f"data.pitch_balance must be in [0, 1], got {self.pitch_balance}")
        if not 0 <= self.oversample_below <= 128 or not 0 < self.oversample_factor < 1e6:
            raise ConfigError(f"data.oversample_below must be a MIDI pitch 0..128 and data.oversample_factor "
                              f"in (0, 1e6), got {self.oversample_below} and {self.oversample_factor}")

    @property
    def weighted(self) -> bool:
        """Whether notes are drawn with weights (pitch balance or oversampling) instead of uniformly."""
        return self.pitch_balance > 0 or (self.oversample_below > 0 and self.oversample_factor != 1.0)


# ---------------------------------------------------------------------------------------------
# GAN model / schedule / training / experiment configs (gansynth.training) -- owned by the GAN work

# the paper's resolution -> channels table, 2x16 .. 128x1024: min(4096 / 2^block, 256)
PAPER_GAN_CHANNELS = (256, 256, 256, 256, 128, 64, 32)
NORMALIZERS = ("prespecified", "fitted")
# adversarial losses (gansynth.losses) and augmentation ops (gansynth.training.augment)
GAN_LOSSES = ("wgan-gp", "ns-r1")
AUGMENT_OPS = ("time_shift", "time_cutout", "freq_cutout")


def check_channels(channels: tuple[int, ...]) -> tuple[int, ...]:
    """Validate a resolution -> channels table (one positive int per block, lowest resolution
    first); returns it as a tuple of ints. Raises ConfigError naming model.channels."""
    table = tuple(int(c) for c in channels)
    if not table or any(c < 1 for c in table):
        raise ConfigError(f"model.channels must be a non-empty list of positive ints, got {list(channels)}")
    return table


@dataclass(frozen=True)
class GANModelConfig:
    """Sizes of the progressive generator and discriminator (gansynth.models).

    channels: feature channels per resolution block, lowest resolution first (the paper's table
        is 256, 256, 256, 256, 128, 64, 32 for 2x16 .. 128x1024). Its length is the number of
        blocks; the last block always has the full spectrogram resolution, so the first block's
        shape is (frames, bins) / 2^(blocks - 1).
    latent_dim: size of the latent vector z ~ N(0, 1).
    mbstd_group: group size of the discriminator's minibatch standard deviation.
    pitch_templates: also feed every generator block the spectrogram of a reference harmonic tone
        at the asked pitch (gansynth.models.conditioning). False is the paper's generator; the
        CPU-trained default model uses it (docs/models.md).
    projection_weight: when > 0, the discriminator's score also holds this weight x the projection
        term <embed(pitch), features> (Miyato and Koyama 2018), beside the auxiliary classifier
        (whose loss weight is train.aux_weight). 0 is the paper's discriminator.
    """

    latent_dim: int = 256
    channels: tuple[int, ...] = PAPER_GAN_CHANNELS
    mbstd_group: int = 4
    pitch_templates: bool = False
    projection_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.latent_dim < 1:
            raise ConfigError(f"model.latent_dim must be >= 1, got {self.latent_dim}")
        check_channels(self.channels)
        if self.mbstd_group < 1:
            raise ConfigError(f"model.mbstd_group must be >= 1, got {self.mbstd_group}")
        if not self.projection_weight >= 0:
            raise ConfigError(f"model.projection_weight must be >= 0, got {self.projection_weight}")


@dataclass(frozen=True)
class ScheduleConfig:
    """Progressive growing by images seen (summed over all devices): 2 * blocks - 1 stages of
    `stage_images` each, alternating stable and transition; training stops at `max_images`.

    stage_image_counts: one image count per stage instead (2 * blocks - 1 of them; empty: every
    stage has stage_images), e.g. to give the high-resolution blocks more of a budget. The last
    stage lasts until max_images either way.
    """

    stage_images: int = 800_000
    max_images: int = 11_000_000
    stage_image_counts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.stage_images < 1 or self.max_images < 1:
            raise ConfigError(f"schedule.stage_images and schedule.max_images must be >= 1, got "
                              f"{self.stage_images} and {self.max_images}")
        if any(count < 1 for count in self.stage_image_counts):
            raise ConfigError(f"schedule.stage_image_counts must all be >= 1, got {list(self.stage_image_counts)}")

    def lengths(self, num_blocks: int) -> tuple[int, ...]:
        """Images of each of the 2 * num_blocks - 1 stages."""
        n = 2 * num_blocks - 1
        if not self.stage_image_counts:
            return (self.stage_images,) * n
        if len(self.stage_image_counts) != n:
            raise ConfigError(f"schedule.stage_image_counts must give {n} counts (2 x {num_blocks} blocks - 1), "
                              f"got {len(self.stage_image_counts)}")
        return tuple(self.stage_image_counts)


@dataclass(frozen=True)
class GANTrainConfig:
    """Optimization and logging of the GAN (gansynth.training).

    batch_size: examples per device and step (the global batch is batch_size x devices).
    lr, betas: Adam for both networks. ema_decay: of the generator copy used for samples/export.
    gp_weight, gp_target, drift_weight, aux_weight: loss weights (WGAN-GP, drift, pitch classifier).
    seed: seeds weights, latents and data order.
    log_every_images, sample_every_images, checkpoint_every_images: intervals in images seen.
    num_samples: EMA samples (fixed z and pitch) written at each sample interval.
    normalizer: "prespecified" (GANSynth's constants) or "fitted" (per-channel range of
        `normalizer_batches` training batches).
    channels_last: keep activations in channels-last memory layout (2-5x faster convolutions
        with few channels on CPU).
    reg_interval: lazy regularization (StyleGAN2): the gradient penalty is computed on every
        reg_interval-th discriminator step only, weighted by gp_weight x reg_interval. 1 is the
        paper's penalty on every step; a larger value changes the training math (an option,
        docs/training.md "Fast training").
    compile: run the generator and the discriminator through `torch.compile` (the gradient
        penalty's double backward stays eager: compiled graphs do not support it). Where
        compilation is unavailable or fails, training warns once and goes on eagerly.
    compile_backend: the `torch.compile` backend ("inductor"; "aot_eager" traces without
        generating kernels, for tests).
    pin_memory: serve batches from pinned host memory when training on a GPU (no effect on CPU).
    loss: "wgan-gp" (the paper's: WGAN, gradient penalty gp_weight, drift) or "ns-r1" (the
        non-saturating logistic loss with the R1 penalty on real data, weight r1_gamma / 2, no
        drift). reg_interval applies to either penalty.
    r1_gamma: the R1 weight gamma (the penalty is gamma / 2 x mean |grad D(real)|^2).
    augment: comma-separated DiffAugment ops applied to every input of D, real and fake alike:
        time_shift, time_cutout, freq_cutout (gansynth.training.augment; none shifts frequency,
        which would change the pitch). "" is none, the paper's.
    ema_half_life_images: when > 0, the EMA generator's half-life in images (the decay per step
        follows from the global batch) instead of ema_decay.
    ema_rampup: when > 0 (with ema_half_life_images), the half-life is at most ema_rampup x the
        images seen since the current stage began (StyleGAN2-ADA's ramp-up, restarted at every
        stage: a new block's weights are not averaged with their untrained start).
    spectrum_weight: when > 0, the generator's loss adds spectrum_weight x the squared distance,
        summed over frequency bins, between the mean normalized log magnitude per bin of the
        generated batch and of the real batch (means over examples and frames;
        `gansynth.losses.spectrum_loss`). It reaches the few bins at the spectrogram's edge
        that D's convolutions barely weigh (docs/training.md).
    """

    batch_size: int = 8
    lr: float = 8e-4
    betas: tuple[float, float] = (0.0, 0.99)
    ema_decay: float = 0.999
    gp_weight: float = 10.0
    gp_target: float = 1.0
    drift_weight: float = 0.001
    aux_weight: float = 10.0
    seed: int = 0
    log_every_images: int = 800
    sample_every_images: int = 100_000
    checkpoint_every_images: int = 100_000
    num_samples: int = 8
    normalizer: str = "prespecified"
    normalizer_batches: int = 16
    channels_last: bool = True
    reg_interval: int = 1
    compile: bool = False
    compile_backend: str = "inductor"
    pin_memory: bool = True
    loss: str = "wgan-gp"
    r1_gamma: float = 10.0
    augment: str = ""
    ema_half_life_images: int = 0
    ema_rampup: float = 0.0
    spectrum_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"train.batch_size must be >= 1, got {self.batch_size}")
        if self.lr <= 0 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"train.lr must be > 0 and train.betas in [0, 1), got {self.lr}, {list(self.betas)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"train.ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.gp_target <= 0:
            raise ConfigError(f"train.gp_target must be > 0, got {self.gp_target}")
        for name in ("log_every_images", "sample_every_images", "checkpoint_every_images"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.num_samples < 0 or self.normalizer_batches < 1:
            raise ConfigError("train.num_samples must be >= 0 and train.normalizer_batches >= 1")
        if self.normalizer not in NORMALIZERS:
            raise ConfigError(f"train.normalizer {self.normalizer!r} is not one of {NORMALIZERS}")
        if self.reg_interval < 1:
            raise ConfigError(f"train.reg_interval must be >= 1 (1: penalty on every step), got {self.reg_interval}")
        if not self.compile_backend:
            raise ConfigError("train.compile_backend must name a torch.compile backend, e.g. 'inductor'")
        if self.loss not in GAN_LOSSES:
            raise ConfigError(f"train.loss {self.loss!r} is not one of {GAN_LOSSES}")
        if not self.r1_gamma >= 0:
            raise ConfigError(f"train.r1_gamma must be >= 0, got {self.r1_gamma}")
        for op in (o.strip() for o in self.augment.split(",") if o.strip()):
            if op not in AUGMENT_OPS:
                raise ConfigError(f"train.augment: {op!r} is not one of {AUGMENT_OPS}")
        if self.ema_half_life_images < 0 or not self.ema_rampup >= 0:
            raise ConfigError(f"train.ema_half_life_images and train.ema_rampup must be >= 0, got "
                              f"{self.ema_half_life_images} and {self.ema_rampup}")
        if not (self.spectrum_weight >= 0 and math.isfinite(self.spectrum_weight)):
            raise ConfigError(f"train.spectrum_weight must be a finite number >= 0, got {self.spectrum_weight}")


@dataclass(frozen=True)
class TrainerConfig:
    """Passed through to `lightning.Trainer`: accelerator ("auto", "cpu", "gpu"), devices (an
    int or "auto"), num_nodes, strategy ("auto", "ddp", "ddp_find_unused_parameters_true", ...;
    "auto" picks the latter on more than one device), precision ("32-true", "bf16-mixed") and
    benchmark (cuDNN autotuning: on a GPU, the fastest convolution kernels are chosen once for each
    stage's shapes; kernel choice may differ between runs in the last bits; no effect on CPU)."""

    accelerator: str = "auto"
    devices: int | str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    benchmark: bool = True

    def __post_init__(self) -> None:
        if self.num_nodes < 1:
            raise ConfigError(f"trainer.num_nodes must be >= 1, got {self.num_nodes}")
        if isinstance(self.devices, int) and self.devices < 1:
            raise ConfigError(f"trainer.devices must be >= 1 or 'auto', got {self.devices}")


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a GAN training run needs; saved resolved with every run and checkpoint.

    output: run folder (checkpoints/, logs/, samples/, config.yaml).
    """

    spectral: SpectralConfig = dataclasses.field(default_factory=SpectralConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: GANModelConfig = dataclasses.field(default_factory=GANModelConfig)
    schedule: ScheduleConfig = dataclasses.field(default_factory=ScheduleConfig)
    train: GANTrainConfig = dataclasses.field(default_factory=GANTrainConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    output: str = "runs/gansynth"

    def __post_init__(self) -> None:
        self.schedule.lengths(len(self.model.channels))  # one count per stage, when counts are given
        scale = 2 ** (len(self.model.channels) - 1)
        frames, bins = self.spectral.frames, self.spectral.bins
        if frames % scale or bins % scale:
            raise ConfigError(f"model.channels has {len(self.model.channels)} blocks, but the "
                              f"{frames} x {bins} spectrogram does not halve that often; use fewer blocks")

    @property
    def num_pitches(self) -> int:
        """Pitch classes of the conditioning one-hot: data.pitch_max - data.pitch_min + 1."""
        return self.data.pitch_max - self.data.pitch_min + 1

    @property
    def start_shape(self) -> tuple[int, int]:
        """(frames, bins) of the first resolution block: the full shape / 2^(blocks - 1)."""
        scale = 2 ** (len(self.model.channels) - 1)
        return (self.spectral.frames // scale, self.spectral.bins // scale)
