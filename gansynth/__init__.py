"""gansynth: a GANSynth-style neural note synthesizer with an LSTM note-sequence model."""

__version__ = "0.1.0"
