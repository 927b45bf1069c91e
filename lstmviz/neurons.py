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


# ---------------------------------------------------------------- what the Neuron explorer page states


def class_average(states: np.ndarray, labels: np.ndarray, cls: int) -> np.ndarray:
    """The average state (T, H) of the digits of one class out of states (N, T, H); zeros if none."""
    s = np.asarray(states)
    members = s[np.asarray(labels) == cls]  # (n_c, T, H)
    return members.mean(0) if members.shape[0] else np.zeros(s.shape[1:], dtype=s.dtype)


def colour_limit(states: np.ndarray, name: str) -> float:
    """The map's symmetric colour range: ±1 for h and the gates (squashed), for c (not squashed) its
    largest |value| rounded up to a tenth, at least 1."""
    if name != "c":
        return 1.0
    return max(1.0, float(np.ceil(np.abs(np.asarray(states)).max() * 10) / 10))


def band_limits(profile: ClassProfile, band: str) -> tuple[np.ndarray, np.ndarray]:
    """The spread band (lower, upper), each (C, T): "quartiles" (25-75 %) or "std" (mean ± 1 std)."""
    if band == "quartiles":
        return profile.q25, profile.q75
    if band == "std":
        return profile.mean - profile.std, profile.mean + profile.std
    raise ValueError(f"band must be 'quartiles' or 'std', not {band!r}")


@dataclass
class UnitSummary:
    """The numbers the page states about one unit over the sample: its mean, the classes whose average is
    highest and lowest at the last step (and those averages), the three rows where it moves most (sorted,
    1-based), the widest span of the class averages over the steps, and the mean |change| per step (T,)."""

    mean: float
    high_class: int
    high_value: float
    low_class: int
    low_value: float
    busiest: list[int]
    spread: float
    changes: np.ndarray


def unit_summary(values: np.ndarray, profile: ClassProfile, n_busiest: int = 3) -> UnitSummary:
    """UnitSummary of one unit's activity values (N, T), whose class_profile is `profile`."""
    final = profile.mean[:, -1]  # (C,)
    spread = np.nanmax(profile.mean, 1) - np.nanmin(profile.mean, 1)  # (C,)
    changes = mean_step_changes(values)  # (T,)
    busiest = np.argsort(-changes, kind="stable")[:n_busiest] + 1
    return UnitSummary(
        mean=float(np.asarray(values).mean()),
        high_class=int(np.nanargmax(final)),
        high_value=float(np.nanmax(final)),
        low_class=int(np.nanargmin(final)),
        low_value=float(np.nanmin(final)),
        busiest=sorted(int(r) for r in busiest),
        spread=float(np.nanmax(spread)),
        changes=changes,
    )


def top_titles(indices: np.ndarray, labels: np.ndarray, top: TopDigits) -> list[str]:
    """A title per top digit: its test index, true class, peak value and the row of the peak."""
    return [
        f"#{i}: a {labels[i]}<br>{v:+.2f} at row {s}" for i, v, s in zip(indices, top.values, top.steps, strict=True)
    ]
