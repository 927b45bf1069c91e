"""The model's config: its shape, limits and gate names, and the tensors a model of that shape has.

Kept apart from `model.py` (which re-exports all of it) only because it needs no torch: reading a
checkpoint's header, listing the models and the app's first page then import no torch (about 1.5 s
of CPU on a cold server). `model.py` still holds the module, and `RowClassifier(config)` rebuilds it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

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


def state_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor name and shape of `RowClassifier(config).state_dict()`, without torch.

    Linear(input -> embed), then torch.nn's stacked cell (gates x hidden rows; layer 0 reads the embedding,
    layer k > 0 the layer below), then Linear(hidden -> classes). tests/test_model.py checks it against torch.
    """
    c = config
    rows = max(1, len(GATES[c.cell])) * c.hidden_size  # the gates stacked in weight_ih / weight_hh
    shapes: dict[str, tuple[int, ...]] = {"proj.weight": (c.embed_size, c.input_size), "proj.bias": (c.embed_size,)}
    for k in range(c.num_layers):
        shapes[f"rnn.weight_ih_l{k}"] = (rows, c.embed_size if k == 0 else c.hidden_size)
        shapes[f"rnn.weight_hh_l{k}"] = (rows, c.hidden_size)
        shapes[f"rnn.bias_ih_l{k}"] = (rows,)
        shapes[f"rnn.bias_hh_l{k}"] = (rows,)
    shapes["head.weight"] = (c.n_classes, c.hidden_size)
    shapes["head.bias"] = (c.n_classes,)
    return shapes
