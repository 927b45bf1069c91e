"""Figures of the hidden-state space: trajectories of many digits in the PCA plane (or space), animated
over the steps, one digit's path highlighted, and how the classes separate step by step.

Pure functions of plain arrays (from `lstmviz.statespace`); they never touch the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from .common import CLASS_COLORS, SERIES_COLORS

FONT = dict(size=15)
TITLE = dict(font=dict(size=18, weight=600), x=0.01, xanchor="left")
HIGHLIGHT = "#111111"
LABELLED_STEPS = (1, 4, 8, 12, 16, 20, 24, 28)  # steps whose number is written on the highlighted path


def _segments(coords: np.ndarray, t: int, lag: int) -> np.ndarray:
    """The segment from step t-lag to t-lag+1 (1-based) of every path in coords (m, T, d), NaN-separated:
    -> (3m, d); empty when the segment starts before step 1."""
    a = t - lag - 1  # 0-based start
    if a < 0 or coords.shape[0] == 0:
        return np.zeros((0, coords.shape[-1]), dtype=np.float32)
    seg = np.full((coords.shape[0], 3, coords.shape[-1]), np.nan, dtype=np.float32)
    seg[:, 0] = coords[:, a]
    seg[:, 1] = coords[:, a + 1]
    return seg.reshape(-1, coords.shape[-1])


def _xyz(points: np.ndarray) -> dict:
    """Scatter coordinates from points (m, d) with d = 2 or 3."""
    out = dict(x=points[:, 0], y=points[:, 1])
    if points.shape[1] == 3:
        out["z"] = points[:, 2]
    return out


def _range(values: np.ndarray, pad: float = 0.06) -> list[float]:
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    span = hi - lo if hi > lo else 1.0
    return [lo - pad * span, hi + pad * span]


def _moving_traces(
    coords: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[int],
    t: int,
    tail: int,
    highlight: np.ndarray | None,
    kind: str,
    marker_size: float,
) -> list[dict]:
    """Every trace that changes with the step t: per class the fading tail segments and the points at
    step t, then the highlighted path up to t and its current point."""
    traces = []
    for cls in classes:
        members = coords[labels == cls]  # (m, T, d)
        colour = CLASS_COLORS[cls % len(CLASS_COLORS)]
        for lag in range(1, tail + 1):
            traces.append(
                dict(
                    type=kind,
                    mode="lines",
                    **_xyz(_segments(members, t, lag)),
                    legendgroup=str(cls),
                    showlegend=False,
                    line=dict(color=colour, width=2),
                    opacity=round(0.55 * (1 - (lag - 1) / tail), 3),
                    hoverinfo="skip",
                )
            )
        traces.append(
            dict(
                type=kind,
                mode="markers",
                **_xyz(members[:, t - 1]),
                name=f"digit {cls}",
                legendgroup=str(cls),
                marker=dict(color=colour, size=marker_size, opacity=0.85, line=dict(width=0)),
                hovertemplate=f"digit {cls}<extra></extra>",
            )
        )
    if highlight is not None:
        path = highlight[:t]  # (t, d)
        steps = np.arange(1, t + 1)
        text = [str(s) if s in LABELLED_STEPS or s == t else "" for s in steps]
        traces.append(
            dict(
                type=kind,
                mode="lines+markers+text",
                **_xyz(path),
                text=text,
                textposition="top center",
                textfont=dict(size=13, color=HIGHLIGHT),
                line=dict(color=HIGHLIGHT, width=5),
                marker=dict(color=HIGHLIGHT, size=4 if kind == "scatter3d" else 6),
                name="selected digit",
                customdata=steps,
                hovertemplate="selected digit, step %{customdata}<extra></extra>",
                showlegend=False,
            )
        )
        traces.append(
            dict(
                type=kind,
                mode="markers",
                **_xyz(path[-1:]),
                showlegend=False,
                hoverinfo="skip",
                marker=dict(
                    color="#ffd400",
                    size=10 if kind == "scatter3d" else 18,
                    symbol="diamond",
                    line=dict(color=HIGHLIGHT, width=3),
                ),
            )
        )
    return traces


def trajectories_figure(
    coords: np.ndarray,
    labels: np.ndarray,
    highlight: np.ndarray | None = None,
    highlight_name: str = "selected digit",
    explained: Sequence[float] | None = None,
    step: int | None = None,
    tail: int = 3,
    frame_ms: int = 350,
    height: int = 640,
) -> go.Figure:
    """Where the hidden states of many digits are after each step, coloured by class.

    coords (n, T, d) with d = 2 (a scatter) or 3 (a 3-D scatter); labels (n,); highlight (T, d) the path
    of one digit drawn thick with step numbers. The figure opens at `step` (default the last) and carries
    animation frames for steps 1..T with a ▶ button and a slider: the points at step t, each with a
    fading tail over the previous `tail` steps.
    """
    coords = np.asarray(coords, dtype=np.float32)
    labels = np.asarray(labels)
    if coords.ndim != 3 or coords.shape[-1] not in (2, 3) or coords.shape[0] != labels.shape[0]:
        raise ValueError(f"expected coords (n, T, 2|3) and labels (n,), got {coords.shape} and {labels.shape}")
    n, n_steps, dims = coords.shape
    hl = None if highlight is None else np.asarray(highlight, dtype=np.float32)[:, :dims]
    if hl is not None and hl.shape != (n_steps, dims):
        raise ValueError(f"the highlighted path must have shape ({n_steps}, {dims}), got {hl.shape}")
    step = n_steps if step is None else int(step)
    if not 1 <= step <= n_steps:
        raise ValueError(f"step must be in 1..{n_steps}, got {step}")
    tail = max(0, min(int(tail), n_steps - 1))
    kind = "scatter3d" if dims == 3 else "scatter"
    size = 3.5 if dims == 3 else 6.5
    classes = [int(c) for c in np.unique(labels)]

    def moving(t: int) -> list[dict]:
        return _moving_traces(coords, labels, classes, t, tail, hl, kind, size)

    static = []
    if hl is not None:
        static.append(
            dict(
                type=kind,
                mode="lines",
                **_xyz(hl),
                line=dict(color=HIGHLIGHT, width=2, dash="dot"),
                opacity=0.45,
                name=f"{highlight_name}: whole path",
                hoverinfo="skip",
            )
        )
    data = static + moving(step)
    moving_ids = list(range(len(static), len(data)))
    title = f"Hidden state h after {{t}} of {n_steps} rows: {{n}} test digits"
    frames = [
        dict(
            name=str(t),
            data=moving(t),
            traces=moving_ids,
            layout=dict(title=dict(text=title.format(t=t, n=n), **TITLE)),
        )
        for t in range(1, n_steps + 1)
    ]
    redraw = dims == 3  # 3-D scatters only update with a full redraw
    step_args = dict(mode="immediate", frame=dict(duration=0, redraw=redraw), transition=dict(duration=0))
    play_args = dict(
        mode="immediate", fromcurrent=False, frame=dict(duration=frame_ms, redraw=redraw), transition=dict(duration=0)
    )
    ratios = list(explained) if explained is not None else []
    names = [f"PC{i + 1}" + (f" ({ratios[i]:.0%} of variance)" if i < len(ratios) else "") for i in range(dims)]
    everything = coords if hl is None else np.concatenate([coords.reshape(-1, dims), hl])
    ranges = [_range(everything.reshape(-1, dims)[:, i]) for i in range(dims)]
    layout: dict = dict(
        title=dict(text=title.format(t=step, n=n), **TITLE),
        height=height,
        font=FONT,
        margin=dict(l=10, r=10, t=60, b=120),
        legend=dict(title=dict(text="class (click to hide)"), itemsizing="constant", font=dict(size=14)),
        uirevision="keep",
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                x=0.0,
                y=-0.1,
                xanchor="left",
                yanchor="top",
                pad=dict(t=0, r=10),
                showactive=False,
                font=dict(size=15),
                buttons=[
                    dict(
                        label=f"▶ Play rows 1–{n_steps}",
                        method="animate",
                        args=[[f["name"] for f in frames], play_args],
                    ),
                    dict(label="❚❚ Pause", method="animate", args=[[None], step_args]),
                ],
            )
        ],
        sliders=[
            dict(
                active=step - 1,
                x=0.28,
                len=0.72,
                y=-0.06,
                yanchor="top",
                pad=dict(t=10),
                font=dict(size=12),
                currentvalue=dict(prefix="rows read: ", xanchor="right", font=dict(size=15)),
                steps=[dict(label=f["name"], method="animate", args=[[f["name"]], step_args]) for f in frames],
            )
        ],
    )
    if dims == 2:
        layout.update(
            xaxis=dict(title=names[0], range=ranges[0], zeroline=False, gridcolor="#eee"),
            yaxis=dict(title=names[1], range=ranges[1], zeroline=False, gridcolor="#eee"),
            plot_bgcolor="white",
        )
    else:

        def axis(i: int) -> dict:
            return dict(title=dict(text=names[i]), range=ranges[i], backgroundcolor="#fafafa", gridcolor="#ddd")

        layout["scene"] = dict(
            xaxis=axis(0),
            yaxis=axis(1),
            zaxis=axis(2),
            aspectmode="cube",
            camera=dict(eye=dict(x=1.25, y=1.25, z=0.85)),
        )
    return go.Figure(data, layout, frames)


def separation_figure(
    curves: Mapping[str, np.ndarray],
    readout: np.ndarray | None = None,
    n_classes: int = 10,
    height: int = 380,
) -> go.Figure:
    """How well the classes separate after each step (T,): one line per named space (nearest-class-centre
    accuracy in 0..1), the readout's own accuracy dashed, and chance (1 / n_classes) dotted."""
    palette = SERIES_COLORS
    traces = []
    n_steps = 0
    for i, (name, values) in enumerate(curves.items()):
        v = np.asarray(values, dtype=np.float64)
        n_steps = v.shape[0]
        traces.append(
            dict(
                type="scatter",
                mode="lines+markers",
                x=np.arange(1, n_steps + 1),
                y=v,
                name=name,
                line=dict(color=palette[i % len(palette)], width=3),
                marker=dict(size=6),
                hovertemplate=f"{name}<br>after %{{x}} rows: %{{y:.1%}}<extra></extra>",
            )
        )
    if readout is not None:
        r = np.asarray(readout, dtype=np.float64)
        n_steps = r.shape[0]
        traces.append(
            dict(
                type="scatter",
                mode="lines",
                x=np.arange(1, n_steps + 1),
                y=r,
                name="the model's answer (readout)",
                line=dict(color="#444", width=2, dash="dash"),
                hovertemplate="readout accuracy<br>after %{x} rows: %{y:.1%}<extra></extra>",
            )
        )
    layout = dict(
        title=dict(text="The classes separate as rows are read", font=dict(size=18), x=0.01, xanchor="left"),
        height=height,
        font=FONT,
        plot_bgcolor="white",
        margin=dict(l=10, r=10, t=60, b=10),
        xaxis=dict(title="rows read (step)", range=[0.5, n_steps + 0.5], dtick=4, tick0=4, gridcolor="#eee"),
        yaxis=dict(title="accuracy", range=[0, 1.03], tickformat=".0%", gridcolor="#eee"),
        legend=dict(orientation="h", y=-0.22, x=0, font=dict(size=13)),
        shapes=[
            dict(
                type="line",
                x0=0,
                x1=1,
                xref="paper",
                y0=1 / n_classes,
                y1=1 / n_classes,
                yref="y",
                line=dict(color="#999", dash="dot", width=2),
            )
        ],
        annotations=[
            dict(
                text="chance",
                x=1,
                xref="paper",
                xanchor="right",
                y=1 / n_classes,
                yanchor="bottom",
                showarrow=False,
                font=dict(size=12, color="#777"),
            )
        ],
    )
    return go.Figure(traces, layout)
