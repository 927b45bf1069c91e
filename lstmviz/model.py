"""The model the app is about: rows of a digit -> projection -> recurrent cell -> readout.

One file holds the module and its config (nanoGPT style); a checkpoint carries the config
and `RowClassifier(config)` rebuilds the exact module.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

CELLS = ("lstm", "gru", "rnn")
# The one set of limits on a model's shape, used by ModelConfig, checkpoint validation, the CLI and the Train page.
MIN_LAYERS, MAX_LAYERS = 1, 3  # stacked recurrent layers a model may have
MIN_HIDDEN, MAX_HIDDEN = 16, 512  # units per recurrent layer

# Gate names per cell type, in the order torch.nn stacks them in weight_ih_l0 / weight_hh_l0.
GATES: dict[str, tuple[str, ...]] = {
    "lstm": ("input", "forget", "candidate", "output"),
    "gru": ("reset", "update", "candidate"),
    "rnn": (),
}


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network: 28 features per row, a row embedding, `num_layers` (MIN_LAYERS..MAX_LAYERS)
    stacked recurrent layers of `hidden_size` (MIN_HIDDEN..MAX_HIDDEN) units, 10 classes, a cell type.

    `embed_size` is the width of the row embedding `Linear(input_size -> embed_size)` in front of the
    recurrent layers (older checkpoints call it `proj_size`; it is not torch's `nn.LSTM(proj_size=...)`).
    """

    input_size: int = 28
    embed_size: int = 128
    hidden_size: int = 128
    n_classes: int = 10
    cell: str = "lstm"
    forget_bias: float = 1.0
    num_layers: int = 1

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, not {self.cell!r}")
        for f in ("input_size", "embed_size", "n_classes"):
            value = getattr(self, f)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1 or value > 65536:
                raise ValueError(f"{f} must be an integer from 1 to 65536, not {value!r}")
        for f, lo, hi in (("hidden_size", MIN_HIDDEN, MAX_HIDDEN), ("num_layers", MIN_LAYERS, MAX_LAYERS)):
            value = getattr(self, f)
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise ValueError(f"{f} must be an integer from {lo} to {hi}, not {value!r}")
        if not isinstance(self.forget_bias, (int, float)) or not math.isfinite(self.forget_bias):
            raise ValueError(f"forget_bias must be a finite number, not {self.forget_bias!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Build from a dict, ignoring unknown keys (older/newer checkpoints); reads the old name `proj_size`."""
        if not isinstance(d, dict):
            raise TypeError(f"a model config must be a JSON object, not {type(d).__name__}")
        d = dict(d)
        if "proj_size" in d and "embed_size" not in d:  # checkpoints saved before the rename
            d["embed_size"] = d.pop("proj_size")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


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
