"""Unit orderings: permutations of the hidden units that make structure visible in heatmaps.

Every function takes unit activity as (T, H) (steps x units, e.g. `trace.h`) and returns a
permutation of range(H): position p of a heatmap shows unit `order[p]`.
"""

from __future__ import annotations

import numpy as np

ORDERS: dict[str, str] = {
    "index": "by index",
    "similarity": "similar units together (correlation)",
    "change": "by when they change most",
    "final": "by final value",
}


def _as_units(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"expected unit activity of shape (T, H), got {v.shape}")
    return v


def order_by_index(values: np.ndarray) -> np.ndarray:
    """The identity permutation."""
    return np.arange(_as_units(values).shape[1])


def order_by_change(values: np.ndarray) -> np.ndarray:
    """Units sorted by the step of their largest jump |v[t] - v[t-1]| (v[-1] = 0), earliest first.

    Ties (same step) are broken by the size of the jump, largest first.
    """
    v = _as_units(values)
    jumps = np.abs(np.diff(v, axis=0, prepend=np.zeros((1, v.shape[1]))))  # (T, H)
    when = jumps.argmax(axis=0)  # (H,)
    size = jumps.max(axis=0)  # (H,)
    return np.lexsort((-size, when))


def order_by_final(values: np.ndarray) -> np.ndarray:
    """Units sorted by their value after the last step, most negative first."""
    v = _as_units(values)
    return np.argsort(v[-1], kind="stable")


def correlation(values: np.ndarray) -> np.ndarray:
    """Pearson correlation between units over time, (H, H); constant units correlate 0 with others."""
    v = _as_units(values)
    centred = v - v.mean(axis=0)  # (T, H)
    norm = np.sqrt((centred**2).sum(axis=0))  # (H,)
    safe = np.where(norm > 1e-12, norm, 1.0)
    unit = centred / safe  # (T, H), zero columns stay zero
    corr = unit.T @ unit  # (H, H)
    np.fill_diagonal(corr, 1.0)
    return corr


def order_by_similarity(values: np.ndarray) -> np.ndarray:
    """A greedy seriation: start with the most active unit, then repeatedly take the unit
    most correlated with the last one taken, so units that move together sit together."""
    v = _as_units(values)
    n = v.shape[1]
    corr = correlation(v)
    taken = np.zeros(n, dtype=bool)
    current = int(np.argmax(np.abs(v).sum(axis=0)))
    order = [current]
    taken[current] = True
    for _ in range(n - 1):
        scores = np.where(taken, -np.inf, corr[current])
        current = int(np.argmax(scores))
        order.append(current)
        taken[current] = True
    return np.asarray(order, dtype=np.int64)


_FUNCS = {
    "index": order_by_index,
    "similarity": order_by_similarity,
    "change": order_by_change,
    "final": order_by_final,
}


def unit_order(values: np.ndarray, method: str = "index") -> np.ndarray:
    """The permutation of units for one of ORDERS' methods."""
    if method not in _FUNCS:
        raise ValueError(f"unknown unit order {method!r}; choose one of {tuple(_FUNCS)}")
    return _FUNCS[method](values)
