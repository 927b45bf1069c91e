"""How long each cell type remembers the early rows: the cell-comparison experiment.

Two measurements, plain numpy out, no streamlit:

- sensitivity: how strongly the final logits depend on each input row t, the Frobenius norm of
  the Jacobian d logits(step 28) / d row t, averaged over test digits. Gradients that travel back
  through many tanh steps shrink: before training, a plain RNN's sensitivity to row 1 is about
  1e-7 of its sensitivity to row 28, the LSTM's (forget bias 1) about 1e-2. `untrained_like`
  gives that starting point for any trained model.
- memory probe: accuracy when only the first k rows are kept and zeros follow, read at step 28:
  the truncation module's "occlusion" mode (reused, not recomputed here).

`find_cell_models` finds the shipped lstm/gru/rnn checkpoints that the comparison overlays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .checkpoint import MODELS_DIR
from .model import CELLS, ModelConfig, RowClassifier, build_model
from .registry import read_info
from .truncation import TruncationResult

CELL_TITLES = {"lstm": "LSTM", "gru": "GRU", "rnn": "plain RNN (tanh)"}
MEMORY_MODE = "occlusion"  # truncation mode that probes memory: first k rows, then zeros, read at step 28


@dataclass
class CellModel:
    """One cell type's shipped checkpoint: where it should be, and why it cannot be used (None if it can)."""

    cell: str
    path: Path
    problem: str | None = None
    accuracy: float | None = None


def find_cell_models(folder: str | os.PathLike | None = None) -> list[CellModel]:
    """models/{lstm,gru,rnn}.safetensors in CELLS order, checked from their headers only (no weights read).

    A missing or invalid file, or one holding another cell type, gets a `problem`.
    """
    folder = Path(folder) if folder else MODELS_DIR
    found = []
    for cell in CELLS:
        path = folder / f"{cell}.safetensors"
        if not path.is_file():
            found.append(CellModel(cell, path, f"{path.name} is not in {folder}"))
            continue
        info = read_info(path)
        if not info.valid:
            found.append(CellModel(cell, path, info.error))
        elif info.cell != cell:
            found.append(CellModel(cell, path, f"{path.name} holds a {info.cell} model, not a {cell}"))
        else:
            found.append(CellModel(cell, path, None, info.accuracy))
    return found


def row_sensitivity(model: RowClassifier, images: np.ndarray | torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """Per image and row, ||d logits(last step) / d row t||_F: images (N, T, F) -> (N, T).

    One backward pass per class: logit k of image n depends on image n only, so the gradient
    of the batch sum of logit k gives every image's own gradient at once.
    """
    x_all = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if x_all.ndim != 3 or x_all.shape[2] != model.config.input_size:
        raise ValueError(f"expected images of shape (N, T, {model.config.input_size}), got {tuple(x_all.shape)}")
    model.eval()
    out = []
    for i in range(0, x_all.shape[0], batch_size):
        x = x_all[i : i + batch_size].clone().requires_grad_(True)  # (B, T, F)
        logits = model(x)  # (B, C)
        sq = torch.zeros(x.shape[:2], dtype=torch.float64)  # (B, T)
        for k in range(logits.shape[1]):
            (g,) = torch.autograd.grad(logits[:, k].sum(), x, retain_graph=k + 1 < logits.shape[1])  # (B, T, F)
            sq += g.double().pow(2).sum(-1)
        out.append(sq.sqrt().numpy())
    return np.concatenate(out) if out else np.zeros((0, x_all.shape[1]))


def sensitivity_curve(model: RowClassifier, images: np.ndarray | torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """Mean over images of row_sensitivity: (T,)."""
    per_image = row_sensitivity(model, images, batch_size)
    if per_image.shape[0] == 0:
        raise ValueError("need at least one image")
    return per_image.mean(0)


def relative(curve: np.ndarray) -> np.ndarray:
    """A curve divided by its largest value (so cells with different logit scales compare)."""
    curve = np.asarray(curve, dtype=np.float64)
    peak = float(np.max(curve)) if curve.size else 0.0
    return curve / peak if peak > 0 else np.zeros_like(curve)


def untrained_like(config: ModelConfig, seed: int = 0) -> RowClassifier:
    """A freshly initialised model of the same architecture (the state before training), without
    touching the global torch random state."""
    with torch.random.fork_rng():
        return build_model(config, seed=seed).eval()


def rows_needed(accuracy: np.ndarray, level: float) -> int | None:
    """The smallest k (1-based) whose accuracy reaches `level`, or None if none does."""
    hits = np.flatnonzero(np.asarray(accuracy) >= level)
    return int(hits[0] + 1) if hits.size else None


def memory_probe(result: TruncationResult) -> np.ndarray:
    """Accuracy (28,) with only the first k rows kept and zeros after them, read at step 28."""
    if MEMORY_MODE not in result.accuracy:
        raise ValueError(f"the truncation result has no {MEMORY_MODE!r} mode (it has {list(result.modes)})")
    return result.accuracy[MEMORY_MODE]
