"""The model the app is about: rows of a digit -> projection -> recurrent cell -> readout.

The module and its config (nanoGPT style): a checkpoint carries the config and
`RowClassifier(config)` rebuilds the exact module. The config dataclass is defined in `config.py`, which
needs no torch (reading a checkpoint's header and the app's first page import none), and is re-exported here.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import CELLS, GATES, MAX_HIDDEN, MAX_LAYERS, MIN_HIDDEN, MIN_LAYERS, ModelConfig, state_shapes

__all__ = [
    "CELLS",
    "GATES",
    "MAX_HIDDEN",
    "MAX_LAYERS",
    "MIN_HIDDEN",
    "MIN_LAYERS",
    "ModelConfig",
    "RowClassifier",
    "build_model",
    "state_shapes",
]


def _make_cell(config: ModelConfig) -> nn.Module:
    kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[config.cell]
    return kind(config.embed_size, config.hidden_size, num_layers=config.num_layers, batch_first=True)


class RowClassifier(nn.Module):
    """Linear(28->P) per row, `num_layers` stacked recurrent layers (H), Linear(H->10) on the last step."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        c = self.config
        self.proj = nn.Linear(c.input_size, c.embed_size)
        self.rnn = _make_cell(c)
        self.head = nn.Linear(c.hidden_size, c.n_classes)
        self.reset_forget_bias()

    def reset_forget_bias(self) -> None:
        """LSTM only: forget-gate bias = forget_bias (in b_ih), 0 in b_hh, in every layer."""
        if self.config.cell != "lstm":
            return
        h = self.config.hidden_size
        with torch.no_grad():
            for layer in range(self.config.num_layers):
                getattr(self.rnn, f"bias_ih_l{layer}")[h : 2 * h].fill_(self.config.forget_bias)
                getattr(self.rnn, f"bias_hh_l{layer}")[h : 2 * h].zero_()

    def init_notebook_(self) -> None:
        """The original TF notebook's init: N(0,1) linear weights, Glorot cell, zero biases."""
        with torch.no_grad():
            for lin in (self.proj, self.head):
                nn.init.normal_(lin.weight, 0.0, 1.0)
                nn.init.zeros_(lin.bias)
            for layer in range(self.config.num_layers):
                w_ih = getattr(self.rnn, f"weight_ih_l{layer}")  # (G*H, P) for layer 0, (G*H, H) above
                w_hh = getattr(self.rnn, f"weight_hh_l{layer}")  # (G*H, H)
                fan_in = w_ih.shape[1] + w_hh.shape[1]  # TF kernel is (P+H, G*H)
                bound = math.sqrt(6.0 / (fan_in + w_ih.shape[0]))
                nn.init.uniform_(w_ih, -bound, bound)
                nn.init.uniform_(w_hh, -bound, bound)
                nn.init.zeros_(getattr(self.rnn, f"bias_ih_l{layer}"))
                nn.init.zeros_(getattr(self.rnn, f"bias_hh_l{layer}"))
        self.reset_forget_bias()

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states of the top layer at every step: x (B, T, 28) -> (B, T, H)."""
        out, _ = self.rnn(self.proj(x))  # (B, T, P) -> (B, T, H)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits from the last step: x (B, T, 28) -> (B, 10)."""
        return self.head(self.sequence(x)[:, -1])

    def logits_per_step(self, x: torch.Tensor) -> torch.Tensor:
        """The readout applied after every step: x (B, T, 28) -> (B, T, 10)."""
        return self.head(self.sequence(x))

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def build_model(config: ModelConfig | None = None, seed: int | None = None) -> RowClassifier:
    """A fresh model; with a seed, the same weights every time."""
    if seed is not None:
        torch.manual_seed(seed)
    return RowClassifier(config)
