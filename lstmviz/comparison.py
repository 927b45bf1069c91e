"""The Cell comparison in words: the sentences the page states, computed from the compared models' results.

Every function takes plain numbers keyed by the model's display title (e.g. "LSTM", "GRU") and returns
Markdown; no streamlit, no model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .memory import MEMORY_MODE, relative, rows_needed
from .truncation import MODE_TITLES

PROBE_K = 18  # the memory probe's headline: the top 18 rows of each digit, then 10 blank steps
PROBE_LEVEL = 0.9  # and the rows needed to reach 90% when blanks follow

MODE_TEXT = {
    "notebook": "the first k rows moved to the end, after 28 − k blank rows (the original notebook's experiment).",
    "early": "the answer read right after the first k rows.",
    "occlusion": "the rows after k blanked and the answer read at step 28: the first k rows must be **remembered** "
    "through 28 − k blank steps.",
}
LESSON = (
    "**Why a plain RNN forgets.** A plain RNN rewrites its whole memory at every step, "
    "h = tanh(W·row + U·h + b): whatever row 5 left in h is squeezed through 23 more multiplications and tanh's "
    "before the answer. The learning signal travels the same way back and shrinks at every step (the **vanishing "
    "gradient**): the dashed curves show that before training the plain RNN's answer hardly depends on the first "
    "rows, so training gets almost no signal telling it to keep them. The LSTM adds to its cell state instead, "
    "c = f·c + i·g: with the forget gate near 1, old content and its gradient pass through unchanged (its forget "
    "bias starts at 1 for exactly this reason). The GRU does the same with its update gate, "
    "h = z·h + (1 − z)·candidate. Over only 28 steps, training can still teach a plain RNN to reach back; whether "
    "it managed, and at what cost, shows in the memory probe and the accuracy above."
)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """The share of predictions (N,) equal to labels (N,)."""
    p, y = np.asarray(predictions), np.asarray(labels)
    if p.shape != y.shape or p.size == 0:
        raise ValueError(f"expected predictions and labels of one non-empty shape, got {p.shape} and {y.shape}")
    return float((p == y).mean())


def row1_text(sensitivity: Mapping[str, np.ndarray]) -> str:
    """Each model's sensitivity to row 1 relative to its most influential row, e.g. "LSTM 0.02, GRU 0.004"."""
    return ", ".join(f"{name} {relative(curve)[0]:.1g}" for name, curve in sensitivity.items())


def sensitivity_caption(n: int, trained: Mapping[str, np.ndarray], fresh: Mapping[str, np.ndarray]) -> str:
    """The caption under the sensitivity chart, with row 1's relative weight before and after training."""
    return (
        f"For {n} test digits: how strongly the final answer (the 10 logits at step 28) reacts to a small change "
        "of each input row, ‖∂ logits / ∂ row t‖, averaged and divided by each model's largest value (log scale). "
        "Dashed: the same networks **before training** (fresh weights). Row 1 relative to the most influential "
        f"row, before training: {row1_text(fresh)}; after training: {row1_text(trained)}."
    )


def memory_caption(probes: Mapping[str, np.ndarray], k: int = PROBE_K, level: float = PROBE_LEVEL) -> str:
    """The caption under the memory probe: each model's accuracy with the top k rows and 28 − k blank steps
    after them, and the rows each needs to reach `level` ("never" when it does not)."""
    needed = {name: rows_needed(curve, level) for name, curve in probes.items()}
    return (
        f"The {MODE_TITLES[MEMORY_MODE]} curve again: each digit keeps its first k rows, the rest are blanked, "
        "and the answer is read at step 28, so what the first rows said has to survive 28 − k blank steps. "
        f"With the top {k} rows and {28 - k} blank steps after them: "
        + ", ".join(f"{name} {curve[k - 1]:.1%}" for name, curve in probes.items())
        + f". Rows needed for {level:.0%}: "
        + ", ".join(f"{name} {r if r else 'never'}" for name, r in needed.items())
        + "."
    )
