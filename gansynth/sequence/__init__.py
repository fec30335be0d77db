"""The LSTM note-sequence model: tokenize MIDI corpora, train, compose, continue and blend scores.

- `tokenizer`: `gansynth.score.Score` <-> Performance-RNN style events (NoteOn, NoteOff,
  TimeShift, Velocity) via miditok.
- `corpus`: MIDI folder -> scores -> file-level split -> augmented token streams.
- `music21_corpus`: the built-in corpus (Bach chorales, Essen folk songs; for the accompaniment
  model also Palestrina, Monteverdi and string quartets) converted to MIDI.
- `model`: the LSTM language model (plain `nn.Module`); `lightning`: its LightningModule and data.
- `sampling`: temperature / top-k / top-p sampling with a primer, a polyphony limit, and blending.
- `evaluation`: perplexity, unigram / bigram baselines and score statistics.
- `compose`: scores from a loaded model (free, continued, blended), rendered through the GAN.
- `export`: the inference file (plain tensors + config, strict, `weights_only=True`).
- `roll`: scores <-> piano-roll segments on a beat grid; note F1 and the evaluation's features.
- `autoencoder`: the sequence auto-encoder (encoder and decoder LSTMs, optional variational
  latent); `ae_train` trains it with Lightning, `ae_export` is its inference file.
- `embed`: encode, reconstruct, blend, interpolate and compose from embeddings;
  `ae_evaluation` measures reconstruction, blends and interpolations.
- `parts`: multi-part scores as a melody and accompanying voices with their instruments and
  styles; `accompaniment`: the accompaniment network (melody encoder, voice-by-voice decoder);
  `acc_train` trains it, `acc_export` is its inference file, `accompany` is the Python API
  (melody in, multi-track score out) and its evaluation, `acc_evaluation` the harmonic, rhythmic
  and key figures and the baselines.

Heavy imports (torch, miditok, music21) live in the submodules, not here.
"""

from pathlib import Path

_MODELS = Path(__file__).resolve().parent.parent.parent / "data" / "models"
#: The shipped default model, trained on the built-in music21 corpus.
DEFAULT_MODEL = _MODELS / "lstm_default.pt"
#: The shipped default sequence auto-encoder, trained on the same corpus.
DEFAULT_AUTOENCODER = _MODELS / "autoencoder_default.pt"
