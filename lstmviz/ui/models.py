"""Plain descriptions of a loaded model for the pages."""

from __future__ import annotations

import re

from ..checkpoint import LoadedModel
from ..model import ModelConfig
from ..registry import plain_text

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&])")


def escape_markdown(text: object, limit: int = 200) -> str:
    """Text from a file (a recipe name, a file name, an error) made safe for st.markdown/caption/error.

    Control characters go, the length is limited and every Markdown character is backslash-escaped,
    so a link, an image, emphasis, an emoji shortcode or a LaTeX formula shows as the plain characters.
    """
    plain = plain_text(str(text), limit) or ""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", plain)


def model_summary(loaded: LoadedModel) -> dict[str, str]:
    """Short display strings: accuracy, cell, hidden size, parameter count, recipe."""
    acc = loaded.metrics.get("test_accuracy")
    recipe = loaded.metrics.get("recipe") or {}
    return {
        "accuracy": f"{acc:.2%}" if isinstance(acc, (int, float)) else "not measured",
        "cell": loaded.config.cell.upper(),
        "hidden": str(loaded.config.hidden_size),
        "params": f"{loaded.model.n_params():,}",
        "recipe": plain_text(recipe.get("preset") if isinstance(recipe, dict) else None, 40) or "unknown",
    }


_CELL_TEXT = {
    "lstm": "**LSTM** layer with {h} units that keeps a cell state *c* and a hidden state *h*",
    "gru": "**GRU** layer with {h} units (no separate cell state: its gates blend the old *h* with a candidate)",
    "rnn": "plain **tanh RNN** layer with {h} units (no gates: *h* is rewritten at every row)",
}


def describe_architecture(config: ModelConfig) -> str:
    """One paragraph, in plain words, of what the given model does with a digit."""
    cell = _CELL_TEXT[config.cell].format(h=config.hidden_size)
    return (
        f"A 28×28 MNIST image becomes **28 time steps of {config.input_size} numbers**: the network reads the "
        f"rows top to bottom. Each row is projected to {config.embed_size} numbers "
        f"(`Linear({config.input_size}→{config.embed_size})`), fed to one {cell}, and after the last row a "
        f"`Linear({config.hidden_size}→{config.n_classes})` turns *h* into scores for the {config.n_classes} digits."
    )
