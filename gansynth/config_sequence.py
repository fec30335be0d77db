"""Typed configuration of the LSTM sequence model (gansynth.sequence): tokenizer, network, MIDI
corpus, training and the experiment that holds them. Loaded and saved like the GAN's configs, with
`gansynth.config_io` (re-exported by `gansynth.config`, which re-exports these classes too).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from gansynth.errors import ConfigError


@dataclass(frozen=True)
class SequenceTokenizerConfig:
    """Performance-RNN style event vocabulary (miditok MIDILike) on an absolute clock.

    Every score is first mapped to seconds, then to a fixed reference clock of 120 bpm (one beat
    = 0.5 s), so a TimeShift token is a duration in seconds whatever the source tempo.
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
        for name in ("embedding_dim", "hidden_size", "num_layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class SequenceDataConfig:
    """MIDI corpus, file-level train/valid split and augmentation.

    midi_dir: folder searched recursively for .mid / .midi files.
    valid_fraction: share of files (not windows) held out for validation, chosen by split_seed.
    transpose: inclusive semitone range of the random transposition of augmented copies.
    tempo_stretch: range of the random time-stretch factor of augmented copies.
    augment_copies: augmented copies of each training file besides the original.
    window: tokens per training example (truncated back-propagation length).
    max_files: use at most this many files (0: all), for quick runs.
    """

    midi_dir: str = "data/corpus/music21"
    valid_fraction: float = 0.1
    split_seed: int = 0
    transpose: tuple[int, int] = (-5, 6)
    tempo_stretch: tuple[float, float] = (0.9, 1.1)
    augment_copies: int = 3
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
        if self.augment_copies < 0 or self.window < 2 or self.max_files < 0:
            raise ConfigError("data.augment_copies and data.max_files must be >= 0 and data.window >= 2")


@dataclass(frozen=True)
class SequenceTrainConfig:
    """Optimization of the LSTM (AdamW, gradient clipping, time and epoch limits).

    max_minutes: stop after this much wall time (0: no limit); windows_per_epoch: training
    windows, drawn at random positions, between two validations (0: one pass over the tokens);
    num_threads: torch CPU threads (0: torch's default).
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

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_epochs < 1 or self.windows_per_epoch < 0:
            raise ConfigError("train.batch_size and train.max_epochs must be >= 1, "
                              "train.windows_per_epoch >= 0 (0: one pass over the training tokens)")
        if self.learning_rate <= 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError("train.learning_rate must be > 0, train.weight_decay and "
                              "train.grad_clip >= 0")
        if self.max_minutes < 0 or self.num_threads < 0:
            raise ConfigError("train.max_minutes and train.num_threads must be >= 0 (0: no limit / default)")


@dataclass(frozen=True)
class SequenceExperimentConfig:
    """Everything `gansynth train-sequence` needs; saved with every run and exported model."""

    tokenizer: SequenceTokenizerConfig = dataclasses.field(default_factory=SequenceTokenizerConfig)
    model: LstmConfig = dataclasses.field(default_factory=LstmConfig)
    data: SequenceDataConfig = dataclasses.field(default_factory=SequenceDataConfig)
    train: SequenceTrainConfig = dataclasses.field(default_factory=SequenceTrainConfig)
