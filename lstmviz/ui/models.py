"""Plain descriptions of a loaded model for the pages."""

from __future__ import annotations

from ..checkpoint import LoadedModel


def model_summary(loaded: LoadedModel) -> dict[str, str]:
    """Short display strings: accuracy, cell, hidden size, parameter count, recipe."""
    acc = loaded.metrics.get("test_accuracy")
    recipe = loaded.metrics.get("recipe") or {}
    return {
        "accuracy": f"{acc:.2%}" if isinstance(acc, (int, float)) else "not measured",
        "cell": loaded.config.cell.upper(),
        "hidden": str(loaded.config.hidden_size),
        "params": f"{loaded.model.n_params():,}",
        "recipe": str(recipe.get("preset", "unknown")),
    }
