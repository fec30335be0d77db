"""The accompaniment network: melody in, accompanying voices out (plain `nn.Module`, no Lightning;
`gansynth.sequence.acc_train` trains it).

Tokens are voice tokens on the beat grid (`gansynth.sequence.roll`): REST 0, HOLD 1, 2 + p
starts pitch index p; C = P + 2 classes. A segment has T steps.

- **Melody encoder:** a bidirectional LSTM reads the melody's token embeddings plus the style's
  embedding, so every step's encoding knows the melody before and after it.
- **Decoder:** a one-layer LSTM runs over the steps. Its input at step t is the encoding of
  step t, the sum of the V accompanying voices' token embeddings at step t - 1 (a start
  embedding at t = 0; teacher forcing in training), the embedding of the position in the bar
  (4/4 assumed: t mod 4 * steps_per_beat) and the style embedding.
- **Voice heads:** voice v's logits at step t come from a small MLP of the decoder's output,
  the embedding of voice v's instrument family and the embeddings of voices 0..v-1's tokens at
  step t, so that the voices of one step are drawn one after another, each knowing the ones
  above it.

The melody is never generated: it is the input, so its notes are kept as they are.
`generate` keeps every output valid: a voice may only hold a note while it sounds.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from gansynth.config import NSYNTH_FAMILIES, AccompanimentConfig
from gansynth.sequence.roll import CONTINUE

BEATS_PER_BAR = 4
FAMILIES = len(NSYNTH_FAMILIES) + 2  # NSynth families, unpitched programs, a silent voice


class AccompanimentNet(nn.Module):
    """pitches: P; voices: V accompanying voices; styles: how many styles; steps_per_beat of
    the grid; the rest from `AccompanimentConfig`."""

    def __init__(self, pitches: int, voices: int, styles: int, steps_per_beat: int,
                 config: AccompanimentConfig) -> None:
        super().__init__()
        self.pitches = pitches
        self.voices = voices
        self.styles = styles
        self.classes = pitches + 2
        self.bar_steps = BEATS_PER_BAR * steps_per_beat
        e = config.embedding_dim
        self.melody_embed = nn.Embedding(self.classes, e)
        self.voice_embed = nn.Embedding(voices * self.classes, e)
        self.style_embed = nn.Embedding(styles, e)
        self.family_embed = nn.Embedding(FAMILIES, e)
        self.position_embed = nn.Embedding(self.bar_steps, e)
        self.start = nn.Parameter(torch.zeros(e))
        self.offsets: torch.Tensor
        self.register_buffer("offsets", torch.arange(voices) * self.classes, persistent=False)
        self.encoder = nn.LSTM(e, config.encoder_hidden, batch_first=True, bidirectional=True)
        self.decoder = nn.LSTM(2 * config.encoder_hidden + 3 * e, config.decoder_hidden,
                               batch_first=True)
        self.dropout = nn.Dropout(config.dropout)
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(config.decoder_hidden + 2 * e, config.decoder_hidden), nn.ReLU(),
                          nn.Linear(config.decoder_hidden, self.classes))
            for _ in range(voices))

    def _voice_embeddings(self, tokens: torch.Tensor) -> torch.Tensor:
        """(..., V) tokens -> (..., V, E) embeddings, one table per voice."""
        return self.voice_embed(tokens.long() + self.offsets)

    def _context(self, melody: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(encodings (B, T, 2H), the decoder's per-step conditioning (B, T, 2E): position, style)."""
        steps = melody.shape[1]
        style_e = self.style_embed(style.long())[:, None].expand(-1, steps, -1)
        encoded, _ = self.encoder(self.melody_embed(melody.long()) + style_e)
        position = torch.arange(steps, device=melody.device) % self.bar_steps
        position_e = self.position_embed(position)[None].expand(melody.shape[0], -1, -1)
        return encoded, torch.cat([position_e, style_e], dim=-1)

    def _head(self, v: int, hidden: torch.Tensor, family_e: torch.Tensor, above: torch.Tensor
              ) -> torch.Tensor:
        return self.heads[v](torch.cat([hidden, family_e, above], dim=-1))

    def forward(self, melody: torch.Tensor, accompaniment: torch.Tensor, style: torch.Tensor,
                families: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V, C) of `accompaniment` (B, T, V) given the melody
        (B, T), style (B,) and instrument families (B, V)."""
        batch, steps = melody.shape
        encoded, conditioning = self._context(melody, style)
        voice_e = self._voice_embeddings(accompaniment)  # (B, T, V, E)
        step_e = voice_e.sum(dim=2)
        previous = torch.cat([self.start.expand(batch, 1, -1), step_e[:, :-1]], dim=1)
        hidden, _ = self.decoder(torch.cat([encoded, previous, conditioning], dim=-1))
        hidden = self.dropout(hidden)
        family_e = self.family_embed(families.long())  # (B, V, E)
        above = torch.cumsum(voice_e, dim=2) - voice_e  # voices 0..v-1 of the same step
        logits = [self._head(v, hidden, family_e[:, None, v].expand(-1, steps, -1), above[:, :, v])
                  for v in range(self.voices)]
        return torch.stack(logits, dim=2)

    @torch.no_grad()
    def generate(self, melody: torch.Tensor, style: torch.Tensor, families: torch.Tensor,
                 temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """Accompaniment tokens (B, T, V) int64 for melodies (B, T), step by step and voice by
        voice. temperature 0: the likeliest token (deterministic); > 0: drawn from
        softmax(logits / temperature) with `generator`. A silent voice cannot hold."""
        batch, steps = melody.shape
        encoded, conditioning = self._context(melody, style)
        family_e = self.family_embed(families.long())
        out = torch.zeros(batch, steps, self.voices, dtype=torch.long, device=melody.device)
        sounding = torch.zeros(batch, self.voices, dtype=torch.bool, device=melody.device)
        previous = self.start.expand(batch, -1)
        state = None
        for t in range(steps):
            step_in = torch.cat([encoded[:, t], previous, conditioning[:, t]], dim=-1)[:, None]
            hidden, state = self.decoder(step_in, state)
            above = torch.zeros_like(previous)
            for v in range(self.voices):
                logits = self._head(v, hidden[:, 0], family_e[:, v], above)
                logits[:, CONTINUE] = logits[:, CONTINUE].masked_fill(~sounding[:, v], float("-inf"))
                if temperature > 0:
                    probs = torch.softmax(logits / temperature, dim=-1)
                    token = torch.multinomial(probs, 1, generator=generator)[:, 0]
                else:
                    token = logits.argmax(dim=-1)
                out[:, t, v] = token
                above = above + self.voice_embed(token + self.offsets[v])
            sounding = out[:, t] >= CONTINUE
            previous = above
        return out


def accompaniment_loss(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Categorical negative log-likelihood (nats) per segment, averaged over the batch."""
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1).long(),
                          reduction="sum")
    return nll / tokens.shape[0]
