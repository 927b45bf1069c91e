"""Numbers the Truncation page states in words, computed from a truncation result (no streamlit)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def class_examples(labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """The index of the first digit of each class 0..n_classes-1 that occurs in labels (N,)."""
    y = np.asarray(labels)
    return np.array([np.flatnonzero(y == c)[0] for c in range(n_classes) if (y == c).any()], dtype=np.int64)


@dataclass
class Decision:
    """How many rows the digits need to be decided: the median over decided digits (None if none is
    decided), how many are never decided, and out of how many."""

    median: int | None
    undecided: int
    n: int


def decision_summary(steps: np.ndarray) -> Decision:
    """Summary of decision steps (N,): the first k from which the answer is right for every larger k,
    0 (or below) for a digit wrong even with all rows."""
    s = np.asarray(steps)
    decided = s[s > 0]
    return Decision(int(np.median(decided)) if decided.size else None, int((s < 1).sum()), int(s.size))


def decision_text(steps: np.ndarray, mode: str) -> str:
    """The sentence above the decision-step chart, for the mode's short name."""
    d = decision_summary(steps)
    return (
        f"The **rows needed to decide** a digit: the first k from which the answer ({mode}) is right and "
        "stays right for every larger k. "
        + (f"Half of the decided digits are decided by **{d.median} rows**; " if d.median is not None else "")
        + f"**{d.undecided}** of {d.n} are never decided (wrong with all 28 rows)."
    )


def mode_gap(a: np.ndarray, b: np.ndarray) -> float:
    """The largest difference between two accuracy curves (28,) at any k."""
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
