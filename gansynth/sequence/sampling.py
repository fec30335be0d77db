"""Sampling from the LSTM: unconditional, continuing a primer, or blending two pieces.

Every step masks the logits with the event grammar, so any sample is well formed:

- right after a NoteOn only a Velocity may follow; a Velocity only follows a NoteOn;
- NoteOn only for a pitch that is not sounding, and only while fewer than `polyphony` sound;
- NoteOff only for a sounding pitch; PAD / BOS / EOS never.

Then temperature, top-k and top-p (nucleus) filtering, and a draw from a seeded generator, for
a batch of samples at once. A sample stops once its TimeShifts reach `seconds` (or after
`max_tokens`), and every note still sounding is released there.

Blend (the RNN auto-encoder idea): the state after reading a piece summarizes it; `blend_tokens`
reads two pieces, averages their (h, c) states and generates from that mean state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gansynth import checks
from gansynth.errors import BadInputError
from gansynth.sequence.model import LstmLanguageModel, State
from gansynth.sequence.tokenizer import NOTE_OFF, NOTE_ON, TIME_SHIFT, VELOCITY, EventTokenizer

MAX_SECONDS = 3600.0  # one generated part: at most an hour
MAX_TEMPERATURE = 100.0
MAX_NUM = 256  # samples in one batch


@dataclass(frozen=True)
class SamplingOptions:
    """seconds: length of each generated part; temperature > 0 divides the logits; top_k keeps
    the k likeliest tokens (0: all); top_p keeps the smallest set whose probability reaches p;
    polyphony: most notes sounding at once (0: no limit); max_tokens: hard cap per sample
    (0: 100 per second + 256)."""

    seconds: float = 30.0
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    polyphony: int = 8
    max_tokens: int = 0

    def __post_init__(self) -> None:
        checks.finite(self.seconds, "seconds", high=MAX_SECONDS, above=0.0)
        if not self.temperature > 0:  # also refuses NaN
            raise BadInputError(f"temperature must be positive, got {self.temperature}")
        checks.finite(self.temperature, "temperature", high=MAX_TEMPERATURE)
        checks.whole(self.top_k, "top_k (0: off)", 0)
        if not 0 < self.top_p <= 1:
            raise BadInputError(f"top_p must be in (0, 1] (1: off), got {self.top_p}")
        checks.whole(self.polyphony, "polyphony (0: no limit)", 0, 128)
        checks.whole(self.max_tokens, "max_tokens (0: automatic)", 0)


class EventGrammar:
    """Batched tracker of sounding notes, the previous token kind and elapsed time steps."""

    def __init__(self, tokenizer: EventTokenizer, batch: int, polyphony: int,
                 device: torch.device) -> None:
        self.kind = torch.as_tensor(tokenizer.table.kind, device=device)  # (V,)
        self.value = torch.as_tensor(tokenizer.table.value, device=device)  # (V,)
        self.note_value = self.value.clamp(0, 127)
        self.polyphony = polyphony if polyphony > 0 else 128
        self.active = torch.zeros(batch, 128, dtype=torch.bool, device=device)  # (B, pitch)
        self.prev_kind = torch.full((batch,), TIME_SHIFT, dtype=torch.long, device=device)
        self.elapsed = torch.zeros(batch, dtype=torch.long, device=device)  # time steps

    def allowed(self) -> torch.Tensor:
        """(B, V) bool: the tokens each sample may take next."""
        sounding = self.active[:, self.note_value]  # (B, V): is this token's pitch sounding
        room = (self.active.sum(dim=1) < self.polyphony)[:, None]  # (B, 1)
        free = (self.kind == NOTE_ON)[None] & ~sounding & room
        release = (self.kind == NOTE_OFF)[None] & sounding
        normal = free | release | (self.kind == TIME_SHIFT)[None]
        after_on = (self.prev_kind == NOTE_ON)[:, None]
        return torch.where(after_on, (self.kind == VELOCITY)[None].expand_as(normal), normal)

    def update(self, tokens: torch.Tensor, live: torch.Tensor | None = None) -> None:
        """Advance with tokens (B,) int64; rows where `live` (B,) bool is False are left as they are."""
        kind = self.kind[tokens]
        pitch = self.note_value[tokens]
        live = torch.ones_like(kind, dtype=torch.bool) if live is None else live
        rows = torch.arange(tokens.shape[0], device=tokens.device)
        on = live & (kind == NOTE_ON)
        off = live & (kind == NOTE_OFF)
        self.active[rows[on], pitch[on]] = True
        self.active[rows[off], pitch[off]] = False
        shift = live & (kind == TIME_SHIFT)
        self.elapsed += torch.where(shift, self.value[tokens], torch.zeros_like(tokens))
        self.prev_kind = torch.where(live, kind, self.prev_kind)


def filter_logits(logits: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Temperature, then top-k, then top-p on (B, V) logits; removed entries become -inf."""
    logits = logits / temperature
    if 0 < top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # mass of strictly likelier tokens
        drop_sorted = before >= top_p  # the first token is always kept
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def _device(model: LstmLanguageModel) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def prime_state(model: LstmLanguageModel, tokenizer: EventTokenizer,
                tokens: Sequence[int]) -> State:
    """The state after reading ``BOS + tokens``: (h, c), each (layers, 1, hidden)."""
    model.eval()
    ids = torch.tensor([[tokenizer.bos_id, *tokens]], dtype=torch.long, device=_device(model))
    _, state = model(ids)
    return state


@torch.no_grad()
def sample_from_state(model: LstmLanguageModel, tokenizer: EventTokenizer, state: State,
                      options: SamplingOptions, num: int = 1, seed: int = 0,
                      primer_tokens: Sequence[int] = ()) -> list[list[int]]:
    """Generate `num` samples (a batch) from one state (layers, 1, hidden).

    primer_tokens: the tokens that led to `state`, replayed to know which notes are sounding.
    Returns the generated token ids of each sample (primer excluded), every note released.
    """
    checks.whole(num, "num", 1, MAX_NUM)
    seed = checks.seed(seed)
    model.eval()
    device = _device(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    h, c = (s.expand(-1, num, -1).contiguous() for s in state)  # (layers, B, H)
    grammar = EventGrammar(tokenizer, num, options.polyphony, device)
    for token in primer_tokens:
        grammar.update(torch.full((num,), int(token), dtype=torch.long, device=device))
    grammar.elapsed.zero_()
    target = int(round(options.seconds * tokenizer.config.steps_per_second))
    max_tokens = options.max_tokens or int(100 * options.seconds) + 256
    logits = model.logits_from_state((h, c))  # (B, V)
    state = (h, c)
    out = torch.zeros(num, max_tokens, dtype=torch.long, device=device)
    lengths = torch.zeros(num, dtype=torch.long, device=device)
    for step in range(max_tokens):
        live = grammar.elapsed < target  # (B,)
        if not bool(live.any()):
            break
        masked = logits.masked_fill(~grammar.allowed(), float("-inf"))
        filtered = filter_logits(masked, options.temperature, options.top_k, options.top_p)
        tokens = torch.multinomial(torch.softmax(filtered, dim=-1), 1, generator=generator)[:, 0]
        out[:, step] = tokens
        lengths += live.long()
        grammar.update(tokens, live)
        step_logits, state = model(tokens[:, None], state)
        logits = step_logits[:, 0]
    samples: list[list[int]] = []
    off_id = {int(tokenizer.table.value[i]): i for i in range(len(tokenizer))
              if tokenizer.table.kind[i] == NOTE_OFF}
    for b in range(num):
        ids = out[b, : int(lengths[b])].tolist()
        if ids and tokenizer.table.kind[ids[-1]] == NOTE_ON:  # cut short before its velocity
            grammar.active[b, int(tokenizer.table.value[ids.pop()])] = False
        ids += [off_id[int(p)] for p in torch.nonzero(grammar.active[b]).flatten().tolist()
                if int(p) in off_id]
        samples.append(ids)
    return samples


def continue_tokens(model: LstmLanguageModel, tokenizer: EventTokenizer, primer: Sequence[int],
                    options: SamplingOptions, num: int = 1, seed: int = 0) -> list[list[int]]:
    """`num` continuations of the primer tokens (an empty primer: unconditional samples)."""
    state = prime_state(model, tokenizer, primer)
    return sample_from_state(model, tokenizer, state, options, num, seed, primer_tokens=primer)


def blend_state(model: LstmLanguageModel, tokenizer: EventTokenizer, first: Sequence[int],
                second: Sequence[int], weight: float = 0.5) -> State:
    """(1 - weight) * state(first) + weight * state(second), for h and c alike."""
    h1, c1 = prime_state(model, tokenizer, first)
    h2, c2 = prime_state(model, tokenizer, second)
    return torch.lerp(h1, h2, weight), torch.lerp(c1, c2, weight)


def blend_tokens(model: LstmLanguageModel, tokenizer: EventTokenizer, first: Sequence[int],
                 second: Sequence[int], options: SamplingOptions, num: int = 1, seed: int = 0,
                 weight: float = 0.5) -> list[list[int]]:
    """`num` pieces generated from the mean (by `weight`) of the states of two token streams."""
    state = blend_state(model, tokenizer, first, second, weight)
    return sample_from_state(model, tokenizer, state, options, num, seed)
