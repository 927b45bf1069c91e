"""Hidden-state space: where the states h_t of many digits lie, and how the classes separate as rows are read.

PCA is fitted once per model, on the states of every step of a fixed class-balanced sample of test
digits, with numpy's SVD and a deterministic sign for each axis; any other sample (or one digit) is
projected onto the same axes, so pictures of different sample sizes share one coordinate system.
In a stacked model every function reads one layer's states (`layer`, default the top one, which the
readout reads); each layer has its own PCA axes. Everything here is plain numpy and torch; no streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import RowClassifier
from .trace import n_layers, resolve_layer, unroll

FIT_SAMPLE = 1000  # test digits whose states (all 28 steps) define the PCA axes
N_COMPONENTS = 3


@dataclass
class States:
    """Per-step states of a batch of digits: h (N, T, H), c (N, T, H) or None, predictions (N, T)."""

    h: np.ndarray
    c: np.ndarray | None
    predictions: np.ndarray


@dataclass
class PCA:
    """Principal axes of a cloud of states: mean (H,), components (K, H) orthonormal rows,
    explained variance (K,) and its ratio of the total variance (K,), largest first."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_ratio: np.ndarray

    def project(self, states: np.ndarray, n_components: int | None = None) -> np.ndarray:
        """States (..., H) -> coordinates (..., k) on the first k axes (all when None)."""
        comps = self.components if n_components is None else self.components[:n_components]
        return ((np.asarray(states, dtype=np.float64) - self.mean) @ comps.T).astype(np.float32)


@dataclass
class StateSpace:
    """A sample of test digits in the PCA plane and space.

    coords2 (n, T, 2), coords3 (n, T, 3), labels (n,), indices (n,) into the test set,
    predictions (n, T) of the readout after each step, pca (fitted on the fixed fit sample),
    separation per step in the full hidden space ("h") and in the projections ("2-D", "3-D").
    """

    coords2: np.ndarray
    coords3: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    predictions: np.ndarray
    pca: PCA
    separation: dict[str, Separation]

    @property
    def explained_ratio(self) -> np.ndarray:
        return self.pca.explained_ratio

    def coords(self, dims: int) -> np.ndarray:
        """The (n, T, dims) coordinates for dims 2 or 3."""
        if dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3, not {dims!r}")
        return self.coords2 if dims == 2 else self.coords3


@dataclass
class Separation:
    """How far apart the classes are at each step (T,): between-class / within-class variance, and
    the accuracy of guessing each digit's class by the nearest class centre."""

    ratio: np.ndarray
    centroid_accuracy: np.ndarray


def balanced_sample(labels: np.ndarray, n: int, seed: int = 0, n_classes: int = 10) -> np.ndarray:
    """Sorted indices of about n items, n // n_classes per class (fewer if a class runs out).

    Each class is shuffled once by the seed and its first items are taken, so a larger n
    keeps every item of a smaller one."""
    labels = np.asarray(labels)
    if n < 1:
        raise ValueError(f"the sample size must be at least 1, not {n}")
    per_class = max(1, n // n_classes)
    rng = np.random.default_rng(seed)
    picked = []
    for cls in range(n_classes):
        members = np.flatnonzero(labels == cls)
        picked.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(picked)).astype(np.int64)


def sample_rank(labels: np.ndarray, seed: int = 0, n_classes: int = 10) -> np.ndarray:
    """Each item's position (N,) in its class's shuffled order of `balanced_sample`: the sample of size n
    is exactly the items of rank < max(1, n // n_classes)."""
    labels = np.asarray(labels)
    rank = np.zeros(labels.shape[0], dtype=np.int64)
    rng = np.random.default_rng(seed)
    for cls in range(n_classes):
        rank[rng.permutation(np.flatnonzero(labels == cls))] = np.arange(int((labels == cls).sum()))
    return rank


@torch.no_grad()
def collect_states(
    model: RowClassifier, images: np.ndarray | torch.Tensor, batch_size: int = 256, layer: int | None = None
) -> States:
    """h (and c for an LSTM) of one layer (default: the top one) at every step, and the readout's prediction
    after each step, for images (N, 28, 28)."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))  # (N, T, F)
    if x.ndim != 3:
        raise ValueError(f"expected images of shape (N, T, F), got {tuple(x.shape)}")
    k = resolve_layer(layer, n_layers(model))
    model.eval()
    hs, cs, preds = [], [], []
    for start in range(0, x.shape[0], batch_size):
        out = unroll(model, x[start : start + batch_size])
        hs.append(out["stack_h"][k].numpy())  # (B, T, H)
        if "stack_c" in out:
            cs.append(out["stack_c"][k].numpy())
        preds.append(out["logits"].argmax(-1).numpy())  # (B, T)
    h_dim = model.config.hidden_size
    n_steps = x.shape[1]
    empty = np.zeros((0, n_steps, h_dim), dtype=np.float32)
    return States(
        h=np.concatenate(hs) if hs else empty,
        c=(np.concatenate(cs) if cs else empty) if model.config.cell == "lstm" else None,
        predictions=np.concatenate(preds) if preds else np.zeros((0, n_steps), dtype=np.int64),
    )


def fit_pca(points: np.ndarray, n_components: int = N_COMPONENTS) -> PCA:
    """PCA of points (M, D) by SVD; each axis is signed so its largest-magnitude loading is positive."""
    X = np.asarray(points, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"expected at least 2 points of shape (M, D), got {X.shape}")
    k = min(n_components, X.shape[1], X.shape[0])
    mean = X.mean(0)
    _, s, vt = np.linalg.svd(X - mean, full_matrices=False)  # vt (r, D), s descending
    comps = vt[:k].copy()
    biggest = np.abs(comps).argmax(1)
    comps *= np.sign(comps[np.arange(k), biggest])[:, None]
    variance = s**2 / (X.shape[0] - 1)
    total = variance.sum()
    ratio = variance[:k] / total if total > 0 else np.zeros(k)
    return PCA(mean=mean, components=comps, explained_variance=variance[:k], explained_ratio=ratio)


def fit_model_pca(
    model: RowClassifier, images: np.ndarray, labels: np.ndarray, n: int = FIT_SAMPLE, layer: int | None = None
) -> PCA:
    """The model's PCA axes of one layer (default: the top one): fitted on its h of every step of a
    class-balanced sample of n digits."""
    idx = balanced_sample(labels, n)
    h = collect_states(model, np.asarray(images)[idx], layer=layer).h  # (n, T, H)
    return fit_pca(h.reshape(-1, h.shape[-1]))


def state_space(
    model: RowClassifier,
    images: np.ndarray,
    labels: np.ndarray,
    n: int = 500,
    pca: PCA | None = None,
    seed: int = 0,
    layer: int | None = None,
) -> StateSpace:
    """A class-balanced sample of about n test digits projected to 2-D and 3-D on the PCA axes of one layer
    (default: the top one; a given `pca` must be that layer's)."""
    images, labels = np.asarray(images), np.asarray(labels)
    pca = pca if pca is not None else fit_model_pca(model, images, labels, layer=layer)
    idx = balanced_sample(labels, n, seed)
    states = collect_states(model, images[idx], layer=layer)
    coords3 = pca.project(states.h, 3)  # (n, T, 3)
    coords2 = np.ascontiguousarray(coords3[..., :2])  # (n, T, 2)
    y = labels[idx].astype(np.int64)
    return StateSpace(
        coords2=coords2,
        coords3=coords3,
        labels=y,
        indices=idx,
        predictions=states.predictions,
        pca=pca,
        separation={
            name: separation_per_step(p, y) for name, p in (("h", states.h), ("2-D", coords2), ("3-D", coords3))
        },
    )


def separation_per_step(points: np.ndarray, labels: np.ndarray) -> Separation:
    """Class separation of points (n, T, d) at each step: (between-class variance) / (within-class
    variance), summed over dimensions (0 when all points coincide), and nearest-class-centre accuracy
    (on the same points)."""
    P = np.asarray(points, dtype=np.float64)
    y = np.asarray(labels)
    if P.ndim != 3 or P.shape[0] != y.shape[0]:
        raise ValueError(f"expected points (n, T, d) and labels (n,), got {P.shape} and {y.shape}")
    classes = np.unique(y)
    onehot = (y[:, None] == classes[None, :]).astype(np.float64)  # (n, C)
    counts = onehot.sum(0)  # (C,)
    ratio = np.zeros(P.shape[1])
    acc = np.zeros(P.shape[1])
    for t in range(P.shape[1]):
        X = P[:, t]  # (n, d)
        centres = onehot.T @ X / counts[:, None]  # (C, d)
        within = ((X - centres[np.searchsorted(classes, y)]) ** 2).sum()
        between = (counts[:, None] * (centres - X.mean(0)) ** 2).sum()
        ratio[t] = 0.0 if between + within == 0 else (between / within if within > 0 else np.inf)
        d2 = ((X[:, None, :] - centres[None]) ** 2).sum(-1)  # (n, C)
        acc[t] = float((classes[d2.argmin(1)] == y).mean())
    return Separation(ratio=ratio, centroid_accuracy=acc)


def step_accuracy(predictions: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Accuracy of the readout after each step: predictions (n, T), labels (n,) -> (T,)."""
    return (np.asarray(predictions) == np.asarray(labels)[:, None]).mean(0)
