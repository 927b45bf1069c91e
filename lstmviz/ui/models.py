"""Plain descriptions of a loaded model for the pages."""

from __future__ import annotations

import re

from ..checkpoint import CheckpointInfo
from ..config import ModelConfig
from ..registry import plain_text

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&])")


def escape_markdown(text: object, limit: int = 200) -> str:
    """Text from a file (a recipe name, a file name, an error) made safe for st.markdown/caption/error.

    Control characters go, the length is limited and every Markdown character is backslash-escaped,
    so a link, an image, emphasis, an emoji shortcode or a LaTeX formula shows as the plain characters.
    """
    plain = plain_text(str(text), limit) or ""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", plain)


def model_summary(info: CheckpointInfo) -> dict[str, str]:
    """Short display strings: accuracy, cell, hidden size, parameter count, recipe."""
    acc = info.metrics.get("test_accuracy")
    recipe = info.metrics.get("recipe") or {}
    return {
        "accuracy": f"{acc:.2%}" if isinstance(acc, (int, float)) else "not measured",
        "cell": info.config.cell.upper(),
        "hidden": str(info.config.hidden_size),
        "layers": str(info.config.num_layers),
        "params": f"{info.n_params:,}",
        "recipe": plain_text(recipe.get("preset") if isinstance(recipe, dict) else None, 40) or "unknown",
    }


_CELL_TEXT = {
    "lstm": "**LSTM** layer with {h} units that keeps a cell state *c* and a hidden state *h*",
    "gru": "**GRU** layer with {h} units (no separate cell state: its gates blend the old *h* with a candidate)",
    "rnn": "plain **tanh RNN** layer with {h} units (no gates: *h* is rewritten at every row)",
}


_CELL_NAMES = {"lstm": "LSTM", "gru": "GRU", "rnn": "plain RNN"}
_STACK_TEXT = {
    "lstm": "every layer keeps its own cell state *c* and hidden state *h*",
    "gru": "every layer keeps its own *h* (a GRU has no separate cell state)",
    "rnn": "every layer rewrites its own *h* at every row (no gates)",
}


def model_title(config: ModelConfig) -> str:
    """The model in a few words, with its article: "An LSTM", "A GRU", "A 2-layer LSTM", "A plain RNN"."""
    if config.num_layers > 1:
        return f"A {config.num_layers}-layer {_CELL_NAMES[config.cell]}"
    return {"lstm": "An LSTM", "gru": "A GRU", "rnn": "A plain RNN"}[config.cell]


def describe_architecture(config: ModelConfig) -> str:
    """One paragraph, in plain words, of what the given model does with a digit (its cell, width and layers)."""
    H, L, P, F = config.hidden_size, config.num_layers, config.embed_size, config.input_size
    if L == 1:
        fed = f"fed to one {_CELL_TEXT[config.cell].format(h=H)}"
    else:
        stack = " → ".join(
            [f"`{_CELL_NAMES[config.cell]} layer 1 ({P}→{H})`"] + [f"`layer {k} ({H}→{H})`" for k in range(2, L + 1)]
        )
        fed = (
            f"fed to a **stack of {L} {_CELL_NAMES[config.cell]} layers** of {H} units each ({stack}): "
            f"layer 1 reads the projected row, each next layer reads the hidden state *h* of the layer below at the "
            f"same step; {_STACK_TEXT[config.cell]}"
        )
    top = "" if L == 1 else " of the top layer"
    return (
        f"A 28×28 MNIST image becomes **28 time steps of {F} numbers**: the network reads the "
        f"rows top to bottom. Each row is projected to {P} numbers "
        f"(`Linear({F}→{P})`), {fed}, and after the last row a "
        f"`Linear({H}→{config.n_classes})` turns *h*{top} into scores for the {config.n_classes} digits."
    )
