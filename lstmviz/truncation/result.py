"""What the truncation curves are: the modes of cutting a digit short, the inputs they feed, the result.

Three ways to cut a digit short (MODES), each for k = 1..28 rows:
- "notebook": the first k rows placed at the end, zero rows before (the original notebook's
  experiment; it published 25 rows -> 76.6%);
- "early": the readout after the first k rows, nothing padded;
- "occlusion": the rows after k set to zero, read at step 28.

`TruncationResult` holds the predictions after k rows in each mode and what follows from them
(accuracy, per class, confusion, rows needed to decide). Plain numpy; `model_input` also cuts torch tensors.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

MODES = ("notebook", "early", "occlusion")
MODE_TITLES = {"notebook": "notebook (rows at the end)", "early": "early readout", "occlusion": "occlusion"}
STEPS = 28
PUBLISHED = (25, 0.766)  # the notebook's published point: 25 rows -> 76.6%


@dataclass
class TruncationResult:
    """Predictions after k = 1..28 rows for each mode, and what follows from them.

    predictions[mode] (28, N) int8 (row k-1 is k rows fed), labels (N,) int64;
    accuracy[mode] (28,), per_class[mode] (28, 10) (NaN for a class with no images),
    decision_step[mode] (N,) int16: the first k from which the prediction stays correct up to 28, -1 never.
    """

    predictions: dict[str, np.ndarray]
    labels: np.ndarray
    accuracy: dict[str, np.ndarray] = field(init=False)
    per_class: dict[str, np.ndarray] = field(init=False)
    decision_step: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.predictions = {m: np.asarray(p, dtype=np.int8) for m, p in self.predictions.items()}
        correct = {m: p == self.labels[None] for m, p in self.predictions.items()}  # (28, N) bool
        self.accuracy = {m: c.mean(1) if c.shape[1] else np.full(STEPS, np.nan) for m, c in correct.items()}
        self.per_class = {m: per_class_accuracy(c, self.labels) for m, c in correct.items()}
        self.decision_step = {m: decision_steps(c) for m, c in correct.items()}

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.predictions)

    @property
    def k(self) -> np.ndarray:
        return np.arange(1, STEPS + 1)

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    def confusion(self, mode: str, k: int) -> np.ndarray:
        """Counts (10, 10): true class (rows) against the prediction after k rows (columns)."""
        pred = self.predictions[mode][k - 1].astype(np.int64)
        return np.bincount(self.labels * 10 + pred, minlength=100).reshape(10, 10)

    def curves(self) -> dict[str, dict[str, list]]:
        """{mode: {"k": [...], "accuracy": [...]}}, JSON-ready."""
        return {m: {"k": self.k.tolist(), "accuracy": [float(a) for a in self.accuracy[m]]} for m in self.modes}


def per_class_accuracy(correct: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """correct (28, N) bool, labels (N,) -> (28, n_classes) share correct per class (NaN if absent)."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)  # (10,)
    hits = np.stack([np.bincount(labels, weights=row, minlength=n_classes) for row in correct.astype(np.float64)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / counts, np.nan)


def decision_steps(correct: np.ndarray) -> np.ndarray:
    """correct (28, N) bool -> (N,) int16: first k (1-based) with every k' >= k correct; -1 when never."""
    stays = np.flip(np.logical_and.accumulate(np.flip(correct, 0), axis=0), 0)  # (28, N)
    return np.where(stays.any(0), stays.argmax(0) + 1, -1).astype(np.int16)


def check_modes(modes: Iterable[str]) -> tuple[str, ...]:
    """The modes asked for, in order and without repeats; ValueError for an unknown or empty list."""
    modes = tuple(dict.fromkeys(modes))
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise ValueError(f"modes must be some of {MODES}, not {list(modes)}")
    return modes


def model_input(images: torch.Tensor | np.ndarray, k: int, mode: str) -> torch.Tensor | np.ndarray:
    """The sequence fed in a mode after cutting to k rows: images (N, 28, 28) -> (N, 28 or k, 28), of the same
    kind (a torch tensor or a numpy array)."""
    if not 1 <= k <= STEPS:
        raise ValueError(f"k must be from 1 to {STEPS}, not {k}")
    if mode == "early":
        return images[:, :k]
    out = images.new_zeros(images.shape) if hasattr(images, "new_zeros") else np.zeros_like(images)
    if mode == "notebook":
        out[:, STEPS - k :] = images[:, :k]
    elif mode == "occlusion":
        out[:, :k] = images[:, :k]
    else:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return out


def as_seen(images: np.ndarray, k: int, mode: str) -> np.ndarray:
    """Images (N, 28, 28) as the model sees them after k rows, for display; early mode's unread rows are NaN."""
    seen = model_input(np.asarray(images, dtype=np.float32), k, mode)
    if mode == "early":
        seen = np.concatenate([seen, np.full((seen.shape[0], STEPS - k, seen.shape[2]), np.nan, np.float32)], 1)
    return seen
