"""The sequence auto-encoder: encoder and decoder LSTMs over segments of voice tokens (plain
`nn.Module`, no Lightning; `gansynth.sequence.ae_train` trains it).

A segment is (T, V) voice tokens (`gansynth.sequence.roll`): at each of T grid steps, each of V
voices rests (0), holds its note (1) or starts a note of pitch index p (2 + p); C = P + 2
classes. A step is embedded as the sum of one embedding per (voice, token).

- **Encoder:** a bidirectional LSTM reads the step embeddings; its last forward and backward
  states go through a linear layer to the embedding z (latent_dim). With `variational`, that
  layer gives the mean and log-variance of a Gaussian posterior and training draws z from it
  (MusicVAE); encoding for use returns the mean.
- **Decoder:** z sets the initial state of a stacked LSTM through a linear layer and tanh, and is
  also concatenated to every input. The input of step t is the embedding of step t - 1 (a start
  embedding at t = 0): the true one in training (teacher forcing; with `input_dropout`, a share
  of them replaced by the start embedding), its own output in `generate`. Not `autoregressive`:
  the input of step t is the start embedding plus a learned embedding of t, in training and in
  `generate` alike, so the output depends on z alone. With `position_input`, the autoregressive
  decoder's input of step t is the previous step's embedding plus that learned embedding of t.
  A linear head gives V x C logits per step, one softmax per voice.

`generate` keeps every output valid: a voice may only hold a note while it sounds.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gansynth.config import AutoencoderConfig
from gansynth.sequence.roll import CONTINUE, onset_f1, roll_from_voices, voices_from_rolls


class SequenceAutoencoder(nn.Module):
    """pitches: P; steps: T of a segment; voices: V; the rest from `AutoencoderConfig`."""

    def __init__(self, pitches: int, steps: int, voices: int, config: AutoencoderConfig) -> None:
        super().__init__()
        self.pitches = pitches
        self.steps = steps
        self.voices = voices
        self.classes = pitches + 2
        self.latent_dim = config.latent_dim
        self.variational = config.variational
        self.input_dropout = config.input_dropout
        self.decoder_layers = config.decoder_layers
        self.decoder_hidden = config.decoder_hidden
        self.autoregressive = config.autoregressive
        self.position_input = config.autoregressive and config.position_input
        self.embed = nn.Embedding(voices * self.classes, config.embedding_dim)
        self.start = nn.Parameter(torch.zeros(config.embedding_dim))
        if not config.autoregressive or self.position_input:
            self.position = nn.Parameter(torch.randn(steps, config.embedding_dim) * 0.02)
        self.offsets: torch.Tensor
        self.register_buffer("offsets", torch.arange(voices) * self.classes, persistent=False)
        self.encoder = nn.LSTM(config.embedding_dim, config.encoder_hidden, batch_first=True,
                               bidirectional=True)
        self.to_latent = nn.Linear(2 * config.encoder_hidden,
                                   config.latent_dim * (2 if config.variational else 1))
        self.to_state = nn.Linear(config.latent_dim, 2 * config.decoder_layers * config.decoder_hidden)
        self.decoder = nn.LSTM(config.embedding_dim + config.latent_dim, config.decoder_hidden,
                               config.decoder_layers, batch_first=True,
                               dropout=config.dropout if config.decoder_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.decoder_hidden, voices * self.classes)

    def _steps(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, T, V) tokens -> (B, T, E) step embeddings."""
        return self.embed(tokens.long() + self.offsets).sum(dim=-2)

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """tokens (B, T, V) -> posterior mean (B, latent) and log-variance (None when not
        variational)."""
        _, (h, _) = self.encoder(self._steps(tokens))  # h: (2, B, H), forward and backward
        out = self.to_latent(torch.cat([h[0], h[1]], dim=-1))
        if not self.variational:
            return out, None
        mean, logvar = out.chunk(2, dim=-1)
        return mean, logvar.clamp(-12.0, 8.0)

    def _initial_state(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = torch.tanh(self.to_state(z))  # (B, 2 * layers * H)
        h, c = state.view(z.shape[0], 2, self.decoder_layers, self.decoder_hidden).permute(1, 2, 0, 3)
        return h.contiguous(), c.contiguous()  # (layers, B, H) each

    def decode_logits(self, z: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V, C) of the segments `tokens` (B, T, V) given z (B, latent)."""
        if not self.autoregressive:
            previous = (self.start + self.position[: tokens.shape[1]]).expand(tokens.shape[0], -1, -1)
            return self._decode(z, previous).view(*tokens.shape, self.classes)
        steps = self._steps(tokens)  # (B, T, E)
        start = self.start.expand(steps.shape[0], 1, -1)
        previous = torch.cat([start, steps[:, :-1]], dim=1)
        if self.training and self.input_dropout > 0:
            dropped = torch.rand(previous.shape[:2], device=previous.device) < self.input_dropout
            previous = torch.where(dropped[..., None], self.start.expand_as(previous), previous)
        if self.position_input:
            previous = previous + self.position[: tokens.shape[1]]
        return self._decode(z, previous).view(*tokens.shape, self.classes)

    def _decode(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Decoder logits (B, T, V * C) from z (B, latent) and step inputs (B, T, E)."""
        inputs = torch.cat([inputs, z[:, None].expand(-1, inputs.shape[1], -1)], dim=-1)
        hidden, _ = self.decoder(inputs, self._initial_state(z))  # (B, T, H)
        return self.head(self.dropout(hidden))

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Training pass: (logits (B, T, V, C), posterior mean, log-variance); z is drawn from the
        posterior when variational and the module is training, else the mean is used."""
        mean, logvar = self.encode(tokens)
        z = mean
        if logvar is not None and self.training:
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        return self.decode_logits(z, tokens), mean, logvar

    @torch.no_grad()
    def generate(self, z: torch.Tensor, temperature: float = 0.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode embeddings z (B, latent) into voice tokens (B, T, V) int64, step by step.

        temperature 0: the likeliest token of each voice (deterministic); > 0: drawn from
        softmax(logits / temperature) with `generator`. A silent voice cannot hold.
        """
        batch = z.shape[0]
        state = self._initial_state(z)
        step_input = self.start.expand(batch, -1)
        out = torch.zeros(batch, self.steps, self.voices, dtype=torch.long, device=z.device)
        sounding = torch.zeros(batch, self.voices, dtype=torch.bool, device=z.device)
        for t in range(self.steps):
            if not self.autoregressive:
                step_input = (self.start + self.position[t]).expand(batch, -1)
            elif self.position_input:
                step_input = step_input + self.position[t]
            hidden, state = self.decoder(torch.cat([step_input, z], dim=-1)[:, None], state)
            logits = self.head(hidden[:, 0]).view(batch, self.voices, self.classes)
            logits[..., CONTINUE] = logits[..., CONTINUE].masked_fill(~sounding, float("-inf"))
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1).view(-1, self.classes)
                tokens = torch.multinomial(probs, 1, generator=generator).view(batch, self.voices)
            else:
                tokens = logits.argmax(dim=-1)
            out[:, t] = tokens
            sounding = tokens >= CONTINUE
            step_input = self._steps(tokens[:, None])[:, 0]
        return out


@torch.no_grad()
def encode_rolls(model: SequenceAutoencoder, rolls: np.ndarray, batch: int = 256) -> torch.Tensor:
    """Embeddings (N, latent) (posterior means, on the model's device) of segments (N, T, 2, P)."""
    model.eval()
    device = next(model.parameters()).device
    tokens = voices_from_rolls(rolls, model.voices)
    parts = [model.encode(torch.as_tensor(tokens[i: i + batch], device=device))[0]
             for i in range(0, len(tokens), batch)]
    return torch.cat(parts) if parts else torch.zeros(0, model.latent_dim, device=device)


@torch.no_grad()
def decode_rolls(model: SequenceAutoencoder, z: torch.Tensor, temperature: float = 0.0,
                 generator: torch.Generator | None = None) -> np.ndarray:
    """Segments (N, T, 2, P) bool decoded from embeddings z (N, latent)."""
    model.eval()
    return roll_from_voices(model.generate(z, temperature, generator).cpu().numpy(), model.pitches)


def reconstruct_rolls(model: SequenceAutoencoder, rolls: np.ndarray, batch: int = 256) -> np.ndarray:
    """Segments (N, T, 2, P) decoded (temperature 0) from the posterior means of `rolls`."""
    parts = [decode_rolls(model, encode_rolls(model, rolls[start: start + batch]))
             for start in range(0, len(rolls), batch)]
    return np.concatenate([np.zeros((0, *rolls.shape[1:]), bool), *parts])


def f1_summary(references: np.ndarray, estimates: np.ndarray) -> tuple[float, float]:
    """(mean F1 over segments, F1 over all notes pooled) of estimated segments (N, T, 2, P)
    against references, see `roll.onset_f1`; NaN for no segments."""
    scores, hits, notes = [], 0.0, 0
    for ref, est in zip(references, estimates, strict=True):
        f1, n_ref, n_est = onset_f1(ref, est)
        scores.append(f1)
        hits += f1 * (n_ref + n_est) / 2.0
        notes += n_ref + n_est
    mean = float(np.mean(scores)) if scores else math.nan
    pooled = 2.0 * hits / notes if notes else math.nan
    return mean, pooled


def segment_f1(model: SequenceAutoencoder, rolls: np.ndarray, batch: int = 256) -> tuple[float, float]:
    """Reconstruction of segments (N, T, 2, P) from their embeddings (posterior means, decoded
    with temperature 0): (mean F1 over segments, F1 over all notes pooled), see `roll.onset_f1`."""
    return f1_summary(rolls, reconstruct_rolls(model, rolls, batch))


def reconstruction_loss(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Categorical negative log-likelihood (nats) per segment, averaged over the batch."""
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1).long(),
                          reduction="sum")
    return nll / tokens.shape[0]


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) in nats per segment (B,)."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)
