"""Figures of the neuron explorer: a clickable units-by-steps map, one unit's activity per class, the
digits that drive it furthest and the rows where it changes most.

Pure functions of plain arrays (from `lstmviz.neurons`); they never touch the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import CLASS_COLORS, MARK, digit_strip

FONT = dict(size=15)
DIVERGING = "RdBu_r"  # blue < 0 < red, as on the explorer
PICK_ALPHA = 0.01  # the click targets over the heatmap cells are all but invisible


UNIT_PX = 3  # the least height of a unit's row in the clickable map: a click target at any width


def map_height(n_units: int, base: int = 560, margin: int = 80) -> int:
    """The unit map's height: `base`, or taller so every unit has UNIT_PX pixels."""
    return max(base, margin + UNIT_PX * int(n_units))


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _title(text: str) -> dict:
    return dict(text=text, font=dict(size=18), x=0.01, xanchor="left")


def unit_map_figure(
    values: np.ndarray,
    unit: int | None = None,
    name: str = "h",
    zmax: float | None = None,
    title: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """Activity (T, H) as a units x steps heatmap with a clickable marker at every cell centre.

    The height (default) grows with H so that every unit keeps a row of at least UNIT_PX pixels to click
    (560 px up to 160 units, 1,616 px for 512).

    Heatmap clicks do not reach Streamlit (streamlit#8760), so a near-transparent scatter covers the
    cells; each point's customdata is its unit, which a selection event returns. The selected unit's
    row is outlined."""
    v = np.asarray(values, dtype=np.float32)  # (T, H)
    n_steps, n_units = v.shape
    height = map_height(n_units) if height is None else int(height)
    zmax = float(zmax) if zmax is not None else max(1.0, float(np.ceil(np.nanmax(np.abs(v)) * 10) / 10))
    steps = np.arange(1, n_steps + 1)
    units = np.arange(n_units)
    heat = dict(
        type="heatmap",
        z=v.T,
        x=steps,
        y=units,
        colorscale=DIVERGING,
        zmid=0,
        zmin=-zmax,
        zmax=zmax,
        name=name,
        colorbar=dict(title=dict(text=name), thickness=14, len=0.9),
        hoverinfo="skip",
    )
    grid_x, grid_y = np.meshgrid(steps, units)  # (H, T) each
    picks = dict(
        type="scatter",
        mode="markers",
        x=grid_x.ravel(),
        y=grid_y.ravel(),
        customdata=grid_y.ravel(),
        text=np.round(v.T.ravel(), 3),
        name="units",
        marker=dict(
            symbol="square",
            size=max(4.0, min(14.0, 0.85 * (height - 80) / n_units)),
            color=f"rgba(0,0,0,{PICK_ALPHA})",
            line=dict(width=0),
        ),
        selected=dict(marker=dict(opacity=1.0)),
        unselected=dict(marker=dict(opacity=1.0)),
        hovertemplate=f"unit %{{customdata}}, step %{{x}}<br>{name} = %{{text}}<br>click to explore this unit"
        "<extra></extra>",
        showlegend=False,
    )
    shapes = []
    if unit is not None:
        shapes.append(
            dict(
                type="rect",
                x0=0.5,
                x1=n_steps + 0.5,
                y0=unit - 0.5,
                y1=unit + 0.5,
                xref="x",
                yref="y",
                line=dict(color=MARK, width=3),
                name="selected unit",
            )
        )
    layout = dict(
        title=_title(title or f"{name}: {n_units} units × {n_steps} steps (click a unit)"),
        height=height,
        font=FONT,
        margin=dict(l=10, r=10, t=60, b=10),
        plot_bgcolor="white",
        xaxis=dict(
            title="step (row read)", range=[0.5, n_steps + 0.5], dtick=4, tick0=4, showgrid=False, zeroline=False
        ),
        yaxis=dict(title="unit", range=[n_units - 0.5, -0.5], showgrid=False, zeroline=False),
        shapes=shapes,
        clickmode="event+select",
        dragmode=False,
        hovermode="closest",
    )
    return go.Figure([heat, picks], layout)


def class_profile_figure(
    mean: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    unit: int,
    name: str = "h",
    band: str = "middle half (25–75 %)",
    digit: np.ndarray | None = None,
    digit_label: int | None = None,
    height: int = 460,
) -> go.Figure:
    """One unit's activity over the steps, per class (C, T): the mean line inside a spread band
    (lower..upper), the other classes' means faint grey for reference, and optionally one digit's own
    activity (T,) drawn black in its class panel."""
    mean, lower, upper = (np.asarray(a, dtype=np.float64) for a in (mean, lower, upper))
    n_classes, n_steps = mean.shape
    n_cols = 5
    n_rows = int(np.ceil(n_classes / n_cols))
    fig = make_subplots(
        rows=n_rows,
        cols=n_cols,
        shared_xaxes=True,
        shared_yaxes=True,
        subplot_titles=[f"digit {c}" for c in range(n_classes)],
        horizontal_spacing=0.015,
        vertical_spacing=0.12,
    )
    steps = np.arange(1, n_steps + 1)
    for c in range(n_classes):
        row, col = c // n_cols + 1, c % n_cols + 1
        colour = CLASS_COLORS[c % len(CLASS_COLORS)]
        for other in range(n_classes):
            if other != c:
                fig.add_trace(
                    go.Scatter(
                        x=steps,
                        y=mean[other],
                        mode="lines",
                        line=dict(color="#c8c8c8", width=1),
                        hoverinfo="skip",
                        showlegend=False,
                    ),
                    row=row,
                    col=col,
                )
        fig.add_trace(
            go.Scatter(x=steps, y=upper[c], mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False),
            row=row,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=lower[c],
                mode="lines",
                line=dict(width=0),
                fill="tonexty",
                fillcolor=_rgba(colour, 0.25),
                hoverinfo="skip",
                showlegend=False,
            ),
            row=row,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=mean[c],
                mode="lines",
                line=dict(color=colour, width=3),
                name=f"digit {c}",
                showlegend=False,
                customdata=np.stack([lower[c], upper[c]], -1),
                hovertemplate=f"digit {c}, step %{{x}}<br>mean {name} %{{y:.3f}}<br>band %{{customdata[0]:.2f}} … "
                "%{customdata[1]:.2f}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        if digit is not None and digit_label == c:
            fig.add_trace(
                go.Scatter(
                    x=steps,
                    y=np.asarray(digit, dtype=np.float64),
                    mode="lines",
                    line=dict(color="#111", width=2, dash="dot"),
                    name="selected digit",
                    hovertemplate="selected digit, step %{x}: %{y:.3f}<extra></extra>",
                    showlegend=False,
                ),
                row=row,
                col=col,
            )
    finite = np.concatenate(
        [a[np.isfinite(a)] for a in (lower, upper, mean)]
        + ([np.asarray(digit, dtype=np.float64)] if digit is not None else [])
    )
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    fig.update_yaxes(range=[lo - pad, hi + pad], gridcolor="#eee", zerolinecolor="#999")
    fig.update_xaxes(range=[0.5, n_steps + 0.5], dtick=7, tick0=7, gridcolor="#eee")
    fig.update_yaxes(title_text=name, col=1)
    fig.update_xaxes(title_text="step", row=n_rows)
    extra = " · dotted: the selected digit" if digit is not None else ""
    fig.update_layout(
        title=_title(f"Unit {unit} of {name}, per class: mean and {band}{extra}"),
        height=height,
        font=FONT,
        plot_bgcolor="white",
        margin=dict(l=10, r=10, t=80, b=10),
    )
    return fig


def top_digits_figure(
    images: np.ndarray, titles: Sequence[str], peak_steps: Sequence[int], height: int = 200
) -> go.Figure:
    """The digits (k, 28, 28) that drive a unit furthest, square, each with the row read at its peak step outlined."""
    fig = digit_strip(np.asarray(images), titles, height=height)
    n_cols = np.asarray(images).shape[-1]
    for i, s in enumerate(peak_steps):
        axis = "" if i == 0 else str(i + 1)
        fig.layout[f"yaxis{axis}"].update(scaleanchor=f"x{axis}", constrain="domain")
        fig.layout[f"xaxis{axis}"].update(constrain="domain")
        fig.add_shape(
            type="rect",
            x0=-0.5,
            x1=n_cols - 0.5,
            y0=int(s) - 1.5,
            y1=int(s) - 0.5,
            xref=f"x{axis}",
            yref=f"y{axis}",
            line=dict(color=MARK, width=2),
        )
    fig.update_xaxes(showline=True, mirror=True, linecolor="#ccc")
    fig.update_yaxes(showline=True, mirror=True, linecolor="#ccc")
    fig.update_layout(font=FONT, margin=dict(l=0, r=0, t=48, b=4))
    fig.update_annotations(font=dict(size=13))
    return fig


def changes_figure(
    mean_changes: np.ndarray,
    digit_changes: np.ndarray | None = None,
    unit: int | None = None,
    name: str = "h",
    height: int = 360,
) -> go.Figure:
    """Where a unit moves: mean |change| per step over the sample as bars (T,), one digit's |change| as a line."""
    m = np.asarray(mean_changes, dtype=np.float64)
    steps = np.arange(1, m.shape[0] + 1)
    top = np.argsort(-m, kind="stable")[:3]
    colours = [MARK if i in top else "#7a8ca3" for i in range(m.shape[0])]
    traces = [
        dict(
            type="bar",
            x=steps,
            y=m,
            name="mean over the sample",
            marker=dict(color=colours),
            hovertemplate="row %{x}: mean |Δ" + name + "| = %{y:.3f}<extra></extra>",
        )
    ]
    if digit_changes is not None:
        traces.append(
            dict(
                type="scatter",
                mode="lines+markers",
                x=steps,
                y=np.asarray(digit_changes, dtype=np.float64),
                name="the selected digit",
                line=dict(color="#111", width=2),
                marker=dict(size=6),
                hovertemplate="selected digit, row %{x}: |Δ" + name + "| = %{y:.3f}<extra></extra>",
            )
        )
    who = f"unit {unit} of {name}" if unit is not None else name
    layout = dict(
        title=_title(f"Rows where {who} changes most"),
        height=height,
        font=FONT,
        plot_bgcolor="white",
        margin=dict(l=10, r=10, t=60, b=10),
        bargap=0.15,
        xaxis=dict(title="row read (step)", range=[0.5, m.shape[0] + 0.5], dtick=4, tick0=4),
        yaxis=dict(title=f"|Δ{name}|", gridcolor="#eee", rangemode="tozero"),
        legend=dict(orientation="h", y=-0.2, x=1, xanchor="right", yanchor="top"),
    )
    return go.Figure(traces, layout)
