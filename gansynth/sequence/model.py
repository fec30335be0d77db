"""The LSTM language model over event tokens (plain `nn.Module`, no Lightning).

tokens -> embedding -> stacked LSTM (dropout between layers) -> dropout -> layer norm -> linear.
The recurrent state ``(h, c)`` of shape (layers, B, hidden) summarizes everything read so far;
the next-token logits are a function of the top layer's ``h`` alone (`logits_from_state`), which
is what lets `sampling.blend` generate from the mean state of two pieces.
"""

from __future__ import annotations

import torch
from torch import nn

from gansynth.config import LstmConfig

State = tuple[torch.Tensor, torch.Tensor]


class LstmLanguageModel(nn.Module):
    """Next-token model. vocab_size: number of token ids; the other sizes come from LstmConfig."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int,
                 dropout: float) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(hidden_size)
        self.head = nn.Linear(hidden_size, vocab_size)

    @staticmethod
    def from_config(vocab_size: int, config: LstmConfig) -> LstmLanguageModel:
        return LstmLanguageModel(vocab_size, config.embedding_dim, config.hidden_size,
                                 config.num_layers, config.dropout)

    def initial_state(self, batch: int, device: torch.device | None = None) -> State:
        """Zero state: two (layers, batch, hidden) float32 tensors."""
        zeros = torch.zeros(self.num_layers, batch, self.hidden_size, device=device)
        return zeros, zeros.clone()

    def forward(self, tokens: torch.Tensor, state: State | None = None
                ) -> tuple[torch.Tensor, State]:
        """tokens: (B, T) int64 ids -> logits (B, T, vocab) and the state after the last step."""
        assert tokens.dim() == 2, f"tokens must be (B, T), got {tuple(tokens.shape)}"
        embedded = self.embedding(tokens)  # (B, T, E)
        hidden, state = self.lstm(embedded, state)  # (B, T, H)
        logits = self.head(self.norm(self.dropout(hidden)))  # (B, T, V)
        return logits, state

    def logits_from_state(self, state: State) -> torch.Tensor:
        """Next-token logits (B, vocab) of a state; equal to the last step of `forward` in eval mode."""
        top = state[0][-1]  # (B, H)
        return self.head(self.norm(top))
