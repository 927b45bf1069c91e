"""Neuron explorer: what one unit of h (or c) does over the 28 steps, across a sample of test digits.

Plain numpy on states collected by `statespace.collect_states` (N, T, H); no streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

STATES = ("h", "c")


@dataclass
class ClassProfile:
    """A unit's activation per class and step: mean, std, quartiles (C, T) and counts (C,)."""

    mean: np.ndarray
    std: np.ndarray
    q25: np.ndarray
    q75: np.ndarray
    counts: np.ndarray


@dataclass
class TopDigits:
    """The k sample positions that drive a unit furthest (highest, or lowest for sign -1): positions (k,)
    into the sample, their peak values (k,), and the step (1..T) where each peak occurs (k,)."""

    positions: np.ndarray
    values: np.ndarray
    steps: np.ndarray


def unit_values(states: np.ndarray, unit: int) -> np.ndarray:
    """One unit's activity (N, T) out of states (N, T, H); a clear error for a unit out of range."""
    s = np.asarray(states)
    if s.ndim != 3:
        raise ValueError(f"expected states of shape (N, T, H), got {s.shape}")
    if not 0 <= int(unit) < s.shape[-1]:
        raise ValueError(f"unit must be in 0..{s.shape[-1] - 1}, not {unit}")
    return s[..., int(unit)]


def class_profile(values: np.ndarray, labels: np.ndarray, n_classes: int = 10) -> ClassProfile:
    """Per-class statistics over digits of values (N, T); classes with no digit are NaN."""
    v = np.asarray(values, dtype=np.float64)
    y = np.asarray(labels)
    n_steps = v.shape[1]
    stats = {name: np.full((n_classes, n_steps), np.nan) for name in ("mean", "std", "q25", "q75")}
    counts = np.zeros(n_classes, dtype=np.int64)
    for cls in range(n_classes):
        members = v[y == cls]  # (n_c, T)
        counts[cls] = members.shape[0]
        if members.shape[0] == 0:
            continue
        stats["mean"][cls] = members.mean(0)
        stats["std"][cls] = members.std(0)
        stats["q25"][cls], stats["q75"][cls] = np.percentile(members, [25, 75], axis=0)
    return ClassProfile(counts=counts, **stats)


def top_digits(values: np.ndarray, k: int = 8, sign: int = 1) -> TopDigits:
    """The k digits whose activity (N, T) peaks highest (sign=1) or lowest (sign=-1) over the steps."""
    if sign not in (1, -1):
        raise ValueError(f"sign must be 1 or -1, not {sign!r}")
    v = np.asarray(values, dtype=np.float64) * sign  # (N, T)
    peak_step = v.argmax(1)  # (N,)
    peak = v[np.arange(v.shape[0]), peak_step]  # (N,)
    k = min(int(k), v.shape[0])
    order = np.argsort(-peak, kind="stable")[:k]
    return TopDigits(positions=order, values=peak[order] * sign, steps=peak_step[order] + 1)


def step_changes(values: np.ndarray) -> np.ndarray:
    """|change| of the activity at each step, starting from the zero state: (..., T) -> (..., T)."""
    v = np.asarray(values, dtype=np.float64)
    return np.abs(np.diff(v, axis=-1, prepend=0.0))


def mean_step_changes(values: np.ndarray) -> np.ndarray:
    """Mean |change| per step over digits: values (N, T) -> (T,); the rows where the unit moves most."""
    return step_changes(values).mean(0)


def unit_from_selection(selection: Mapping[str, Any] | None) -> int | None:
    """The unit of the first point of a Plotly selection event (st.plotly_chart on_select), if any.

    The clickable heatmaps carry the unit number as each point's customdata (its y when missing)."""
    if not selection:
        return None
    points = (selection.get("selection") or {}).get("points") or []
    for point in points:
        value = point.get("customdata", point.get("y"))
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        try:
            return int(value)
        except (TypeError, ValueError):
            continue
    return None
