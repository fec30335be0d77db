"""Typed configuration of the sequence models (gansynth.sequence): the LSTM language model
(tokenizer, network, MIDI corpus, training, experiment) and the sequence auto-encoder (piano-roll
grid, encoder / decoder, corpus, experiment; it shares the training options). Loaded and saved like the GAN's configs, with
`gansynth.config_io` (re-exported by `gansynth.config`, which re-exports these classes too).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from gansynth.errors import ConfigError


def _check_network(config: object, sizes: tuple[str, ...], dropout: float) -> None:
    """ConfigError unless every field of `config` in `sizes` is >= 1 and dropout is in [0, 1)."""
    for name in sizes:
        if getattr(config, name) < 1:
            raise ConfigError(f"model.{name} must be >= 1, got {getattr(config, name)}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"model.dropout must be in [0, 1), got {dropout}")


@dataclass(frozen=True)
class SequenceTokenizerConfig:
    """Performance-RNN style event vocabulary (miditok MIDILike) on a beat clock.

    Time is counted in quarter-note beats (each score's tempo map applied); the durations below
    are seconds at the reference tempo of 120 bpm, one beat = 0.5 s (so steps_per_second 32 is
    16 steps per beat, and a TimeShift of 0.5 is one beat at any tempo).
    pitch_low, pitch_high: inclusive MIDI pitch range of NoteOn / NoteOff tokens.
    num_velocities: velocity bins (1..127 quantized to this many Velocity tokens).
    steps_per_second: time-shift resolution (32 -> 31.25 ms steps); must be even.
    max_shift_seconds: the longest single TimeShift token (longer gaps use several tokens).
    max_note_seconds: a note held longer (or never released) is cut to this on decoding.
    """

    pitch_low: int = 21
    pitch_high: int = 108
    num_velocities: int = 16
    steps_per_second: int = 32
    max_shift_seconds: float = 1.0
    max_note_seconds: float = 8.0

    def __post_init__(self) -> None:
        if not 0 <= self.pitch_low < self.pitch_high <= 127:
            raise ConfigError(f"sequence tokenizer pitch range {self.pitch_low}..{self.pitch_high} "
                              "must satisfy 0 <= pitch_low < pitch_high <= 127")
        if not 1 <= self.num_velocities <= 127:
            raise ConfigError(f"tokenizer.num_velocities must be in 1..127, got {self.num_velocities}")
        if self.steps_per_second < 2 or self.steps_per_second % 2:
            raise ConfigError(f"tokenizer.steps_per_second must be an even number >= 2, got "
                              f"{self.steps_per_second}")
        if self.max_shift_seconds <= 0 or not float(self.max_shift_seconds * 2).is_integer():
            raise ConfigError(f"tokenizer.max_shift_seconds must be a positive multiple of 0.5, got "
                              f"{self.max_shift_seconds}")
        if self.max_note_seconds * self.steps_per_second < 1:
            raise ConfigError(f"tokenizer.max_note_seconds {self.max_note_seconds} is shorter than "
                              "one time step")


@dataclass(frozen=True)
class LstmConfig:
    """LSTM language model: embedding -> stacked LSTM -> dropout -> layer norm -> linear."""

    embedding_dim: int = 128
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.2

    def __post_init__(self) -> None:
        _check_network(self, ("embedding_dim", "hidden_size", "num_layers"), self.dropout)


@dataclass(frozen=True)
class SequenceDataConfig:
    """MIDI corpus, file-level train/valid split and augmentation.

    midi_dir: folder searched recursively for .mid / .midi files.
    valid_fraction: share of files (not windows) held out for validation, chosen by split_seed.
    transpose: inclusive semitone range of the random transposition of augmented copies.
    tempo_stretch: range of the random time-stretch factor of augmented copies.
    augment_copies: augmented copies of each training file besides the original.
    velocity_scale: range of the random factor on all velocities of an augmented copy;
    velocity_jitter: each note's velocity in a copy also moves by up to this much (both off by
    default: (1, 1) and 0).
    window: tokens per training example (truncated back-propagation length).
    max_files: use at most this many files (0: all), for quick runs.
    """

    midi_dir: str = "data/corpus/music21"
    valid_fraction: float = 0.1
    split_seed: int = 0
    transpose: tuple[int, int] = (-5, 6)
    tempo_stretch: tuple[float, float] = (0.9, 1.1)
    augment_copies: int = 3
    velocity_scale: tuple[float, float] = (1.0, 1.0)
    velocity_jitter: int = 0
    window: int = 256
    max_files: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.valid_fraction < 1.0:
            raise ConfigError(f"data.valid_fraction must be in (0, 1), got {self.valid_fraction}")
        if self.transpose[0] > self.transpose[1]:
            raise ConfigError(f"data.transpose {list(self.transpose)} must be [low, high] with low <= high")
        if not 0 < self.tempo_stretch[0] <= self.tempo_stretch[1]:
            raise ConfigError(f"data.tempo_stretch {list(self.tempo_stretch)} must be [low, high] "
                              "with 0 < low <= high")
        if not 0 < self.velocity_scale[0] <= self.velocity_scale[1] or not 0 <= self.velocity_jitter <= 63:
            raise ConfigError(f"data.velocity_scale {list(self.velocity_scale)} must be [low, high] with "
                              f"0 < low <= high, data.velocity_jitter in 0..63 (got {self.velocity_jitter})")
        if self.augment_copies < 0 or self.window < 2 or self.max_files < 0:
            raise ConfigError("data.augment_copies and data.max_files must be >= 0 and data.window >= 2")


SEQUENCE_PRECISIONS = ("32-true", "bf16-mixed")
LR_SCHEDULES = ("plateau", "cosine")


@dataclass(frozen=True)
class SequenceTrainConfig:
    """Optimization of the LSTM (AdamW, gradient clipping, time and epoch limits).

    max_minutes: stop after this much wall time (0: no limit); windows_per_epoch: training
    windows, drawn at random positions, between two validations (0: one pass over the tokens);
    num_threads: torch CPU threads (0: torch's default); precision: Lightning's, "32-true" or
    "bf16-mixed" (faster on a CPU with AVX512-BF16, see docs/sequence.md); lr_patience: epochs
    without a lower held-out loss before the learning rate is halved (the auto-encoder and the
    accompaniment model; the LSTM's schedule is its own). lr_schedule: "plateau" (halved on
    plateaus, as above) or "cosine" (a half cosine from learning_rate down to
    learning_rate x lr_final over the steps of max_epochs; a max_minutes stop before the last
    epoch leaves it part-way).
    sample_every_epochs: write `num_samples` sample MIDI files under the run's samples/ every
    this many epochs (0: never); sample_seconds: their length (LSTM samples).
    """

    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    max_epochs: int = 20
    max_minutes: float = 0.0
    windows_per_epoch: int = 0
    num_threads: int = 0
    seed: int = 0
    log_every_n_steps: int = 20
    sample_every_epochs: int = 1
    num_samples: int = 2
    sample_seconds: float = 20.0
    precision: str = "32-true"
    lr_patience: int = 2
    lr_schedule: str = "plateau"
    lr_final: float = 0.01

    def __post_init__(self) -> None:
        if self.precision not in SEQUENCE_PRECISIONS:
            raise ConfigError(f"train.precision must be one of {', '.join(SEQUENCE_PRECISIONS)}, "
                              f"got {self.precision!r}")
        if self.sample_every_epochs < 0 or not 0 <= self.num_samples <= 64 or not 0 < self.sample_seconds <= 600:
            raise ConfigError("train.sample_every_epochs must be >= 0, train.num_samples in 0..64 and "
                              "train.sample_seconds in (0, 600]")
        if self.batch_size < 1 or self.max_epochs < 1 or self.windows_per_epoch < 0:
            raise ConfigError("train.batch_size and train.max_epochs must be >= 1, "
                              "train.windows_per_epoch >= 0 (0: one pass over the training tokens)")
        if self.learning_rate <= 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError("train.learning_rate must be > 0, train.weight_decay and "
                              "train.grad_clip >= 0")
        if self.lr_patience < 0:
            raise ConfigError(f"train.lr_patience must be >= 0, got {self.lr_patience}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"train.lr_schedule must be one of {', '.join(LR_SCHEDULES)}, "
                              f"got {self.lr_schedule!r}")
        if not 0 <= self.lr_final <= 1:
            raise ConfigError(f"train.lr_final must be in [0, 1], got {self.lr_final}")
        if self.max_minutes < 0 or self.num_threads < 0:
            raise ConfigError("train.max_minutes and train.num_threads must be >= 0 (0: no limit / default)")


@dataclass(frozen=True)
class SequenceExperimentConfig:
    """Everything `gansynth train-sequence` needs; saved with every run and exported model."""

    tokenizer: SequenceTokenizerConfig = dataclasses.field(default_factory=SequenceTokenizerConfig)
    model: LstmConfig = dataclasses.field(default_factory=LstmConfig)
    data: SequenceDataConfig = dataclasses.field(default_factory=SequenceDataConfig)
    train: SequenceTrainConfig = dataclasses.field(default_factory=SequenceTrainConfig)


@dataclass(frozen=True)
class RollConfig:
    """The piano-roll grid of the sequence auto-encoder (gansynth.sequence.roll).

    Time is counted in quarter-note beats (the tempo map of each file applied), `steps_per_beat`
    grid steps per beat; a segment is `segment_beats` beats. pitch_low, pitch_high: inclusive MIDI
    pitch range of the roll (notes outside it are dropped). voices: the most notes the model
    plays at once (a chorale has 4); each voice takes one note at a time.
    """

    steps_per_beat: int = 4
    segment_beats: int = 16
    pitch_low: int = 28
    pitch_high: int = 96
    voices: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.steps_per_beat <= 48 or not 1 <= self.segment_beats <= 256:
            raise ConfigError(f"roll.steps_per_beat must be in 1..48 and roll.segment_beats in 1..256, "
                              f"got {self.steps_per_beat} and {self.segment_beats}")
        if not 0 <= self.pitch_low < self.pitch_high <= 127:
            raise ConfigError(f"roll pitch range {self.pitch_low}..{self.pitch_high} must satisfy "
                              "0 <= pitch_low < pitch_high <= 127")
        if not 1 <= self.voices <= 16:
            raise ConfigError(f"roll.voices must be in 1..16, got {self.voices}")

    @property
    def pitches(self) -> int:
        return self.pitch_high - self.pitch_low + 1

    @property
    def steps(self) -> int:
        """Grid steps per segment."""
        return self.steps_per_beat * self.segment_beats


@dataclass(frozen=True)
class AutoencoderConfig:
    """Encoder and decoder LSTMs of the sequence auto-encoder (gansynth.sequence.autoencoder).

    embedding_dim: size of a grid step's embedding (the sum of its voices' token embeddings);
    encoder_hidden: units per direction of the bidirectional encoder LSTM; latent_dim: size of a
    segment's embedding; decoder_hidden, decoder_layers: the autoregressive decoder LSTM.
    variational: a Gaussian latent with a KL term (MusicVAE); kl_weight multiplies the KL, which
    is only counted above `free_bits` nats per segment; False: a plain auto-encoder.
    input_dropout: in training, the share of the decoder's teacher-forced inputs (the previous
    step) replaced by the start embedding (word dropout, Bowman et al. 2016), so that the decoder
    leans on the embedding instead of copying its last step.
    autoregressive: True: the decoder reads the previous step's tokens (teacher-forced in
    training, its own output when decoding); False: it reads only the embedding and a learned
    embedding of the step's position in the segment, so that everything it writes must come from
    the embedding, and training and decoding see the same inputs (no exposure bias;
    `input_dropout` has no effect). position_input: the autoregressive decoder's input of step t
    also gets a learned embedding of t (the grid position in the segment, so the decoder need not
    count steps to place notes on the beat); dropped inputs keep it.
    """

    embedding_dim: int = 128
    encoder_hidden: int = 256
    latent_dim: int = 128
    decoder_hidden: int = 512
    decoder_layers: int = 2
    dropout: float = 0.1
    variational: bool = True
    kl_weight: float = 0.1
    free_bits: float = 48.0
    input_dropout: float = 0.0
    autoregressive: bool = True
    position_input: bool = False

    def __post_init__(self) -> None:
        _check_network(self, ("embedding_dim", "encoder_hidden", "latent_dim", "decoder_hidden",
                              "decoder_layers"), self.dropout)
        if not 0.0 <= self.input_dropout < 1.0:
            raise ConfigError(f"model.input_dropout must be in [0, 1), got {self.input_dropout}")
        if self.kl_weight < 0 or self.free_bits < 0:
            raise ConfigError(f"model.kl_weight and model.free_bits must be >= 0, got "
                              f"{self.kl_weight} and {self.free_bits}")


@dataclass(frozen=True)
class AutoencoderDataConfig:
    """MIDI corpus of the auto-encoder: file-level split, segment hop and transposition.

    hop_beats: training segments start every hop_beats beats (held-out segments do not overlap);
    transpose: inclusive semitone range of the random transposition of each training segment;
    max_files: use at most this many files (0: all).
    """

    midi_dir: str = "data/corpus/music21"
    valid_fraction: float = 0.1
    split_seed: int = 0
    hop_beats: int = 4
    transpose: tuple[int, int] = (-5, 6)
    max_files: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.valid_fraction < 1.0:
            raise ConfigError(f"data.valid_fraction must be in (0, 1), got {self.valid_fraction}")
        if self.hop_beats < 1 or self.max_files < 0:
            raise ConfigError("data.hop_beats must be >= 1 and data.max_files >= 0")
        if self.transpose[0] > self.transpose[1]:
            raise ConfigError(f"data.transpose {list(self.transpose)} must be [low, high] with low <= high")


@dataclass(frozen=True)
class AutoencoderExperimentConfig:
    """Everything `gansynth train-autoencoder` needs; saved with every run and exported model.
    `train.windows_per_epoch` counts segments here (0: every training segment once)."""

    roll: RollConfig = dataclasses.field(default_factory=RollConfig)
    model: AutoencoderConfig = dataclasses.field(default_factory=AutoencoderConfig)
    data: AutoencoderDataConfig = dataclasses.field(default_factory=AutoencoderDataConfig)
    train: SequenceTrainConfig = dataclasses.field(default_factory=SequenceTrainConfig)


@dataclass(frozen=True)
class AccompanimentConfig:
    """The accompaniment network (gansynth.sequence.accompaniment): a melody encoder and an
    autoregressive decoder of the accompanying voices, conditioned on style and instruments.

    embedding_dim: size of a token / style / instrument-family embedding; encoder_hidden: units
    per direction of the bidirectional LSTM over the melody; decoder_hidden: the decoder LSTM
    (one layer) whose step input is the melody's encoding, the previous step's accompaniment and
    the position in the bar; dropout: on the decoder's outputs in training.
    """

    embedding_dim: int = 64
    encoder_hidden: int = 128
    decoder_hidden: int = 256
    dropout: float = 0.1

    def __post_init__(self) -> None:
        _check_network(self, ("embedding_dim", "encoder_hidden", "decoder_hidden"), self.dropout)


@dataclass(frozen=True)
class AccompanimentDataConfig:
    """Multi-part MIDI corpus of the accompaniment model: each top-level folder of `midi_dir`
    whose name is in `styles` is one style (the folder names of `gansynth corpus
    build-music21`); the top part of a piece is its melody. File-level split, segment hop and
    transposition as for the auto-encoder."""

    midi_dir: str = "data/corpus/music21"
    styles: tuple[str, ...] = ("bach", "palestrina", "monteverdi", "quartets")
    valid_fraction: float = 0.1
    split_seed: int = 0
    hop_beats: int = 4
    transpose: tuple[int, int] = (-6, 5)
    max_files: int = 0

    def __post_init__(self) -> None:
        if not self.styles or len(set(self.styles)) != len(self.styles):
            raise ConfigError(f"data.styles must name at least one folder, each once, got {list(self.styles)}")
        if not 0.0 < self.valid_fraction < 1.0:
            raise ConfigError(f"data.valid_fraction must be in (0, 1), got {self.valid_fraction}")
        if self.hop_beats < 1 or self.max_files < 0:
            raise ConfigError("data.hop_beats must be >= 1 and data.max_files >= 0")
        if self.transpose[0] > self.transpose[1]:
            raise ConfigError(f"data.transpose {list(self.transpose)} must be [low, high] with low <= high")


@dataclass(frozen=True)
class AccompanimentExperimentConfig:
    """Everything `gansynth train-accompaniment` needs; saved with every run and exported model.
    `roll.voices` is the number of accompanying voices; `train.windows_per_epoch` counts
    segments (0: every training segment once)."""

    roll: RollConfig = dataclasses.field(default_factory=lambda: RollConfig(voices=3))
    model: AccompanimentConfig = dataclasses.field(default_factory=AccompanimentConfig)
    data: AccompanimentDataConfig = dataclasses.field(default_factory=AccompanimentDataConfig)
    train: SequenceTrainConfig = dataclasses.field(default_factory=SequenceTrainConfig)
