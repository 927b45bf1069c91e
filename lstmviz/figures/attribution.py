"""Figure of row attribution: the digit, and beside each of its rows a bar of how much it mattered.

A pure function of plain arrays (an image, 28 row scores, optionally the 28x28 pixel map of
integrated gradients); rows are numbered 1..T like the steps that read them.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .common import digit_trace
from .stepthrough import DIVERGING, FONT, TITLE_FONT, _panel_title, columns, symmetric_range

ZERO_LINE = "#555"


def _row_axis(n_rows: int, **extra) -> dict:
    """Rows top to bottom, ticks at rows 4, 8, … (1-based, as the steps are numbered)."""
    ticks = np.arange(3, n_rows, 4)
    return dict(
        range=[n_rows - 0.5, -0.5],
        tickvals=ticks.tolist(),
        ticktext=[str(t + 1) for t in ticks],
        showgrid=False,
        zeroline=False,
        **extra,
    )


def row_attribution_figure(
    image: np.ndarray,
    rows: np.ndarray,
    pixels: np.ndarray | None = None,
    title: str = "Which rows mattered?",
    value_label: str = "attribution",
    height: int = 420,
) -> go.Figure:
    """The digit (T, F) on the left, one horizontal bar per row (T,) on the right, on the same rows.

    Bars are coloured on a diverging scale (red raised the score, blue lowered it). With
    `pixels` (T, F), the digit's inked pixels are coloured by their own attribution instead of grey.
    """
    img = np.asarray(image, dtype=np.float32)  # (T, F)
    scores = np.asarray(rows, dtype=np.float64)  # (T,)
    n_rows, n_cols = img.shape
    if scores.shape != (n_rows,):
        raise ValueError(f"expected {n_rows} row scores for an image of {n_rows} rows, got shape {scores.shape}")
    if pixels is not None and np.shape(pixels) != img.shape:
        raise ValueError(f"the pixel map must have the image's shape {img.shape}, got {np.shape(pixels)}")
    left, right = columns([1.0, 1.15], gap=0.06)
    row_numbers = np.arange(1, n_rows + 1)
    data: list[dict] = [
        digit_trace(
            img,
            xaxis="x",
            yaxis="y",
            opacity=0.35 if pixels is not None else 1.0,
            name="digit",
            customdata=np.broadcast_to(row_numbers[:, None], img.shape).astype(np.int16),
            hovertemplate="row %{customdata}, column %{x}: %{z:.2f}<extra></extra>",
        ),
    ]
    if pixels is not None:
        px = np.asarray(pixels, dtype=np.float64).copy()
        pr = symmetric_range(px, at_least=1e-6)
        px[img == 0] = np.nan  # blank pixels have exactly zero attribution: leave them see-through
        data.append(
            dict(
                type="heatmap",
                z=px,
                colorscale=DIVERGING,
                zmin=-pr,
                zmax=pr,
                zmid=0,
                xaxis="x",
                yaxis="y",
                showscale=False,
                hoverongaps=False,
                name="pixel attribution",
                customdata=np.broadcast_to(row_numbers[:, None], img.shape).astype(np.int16),
                hovertemplate="row %{customdata}, column %{x}: %{z:+.4f}<extra>pixel</extra>",
            )
        )
    br = symmetric_range(scores, at_least=1e-9) * 1.05
    data.append(
        dict(
            type="bar",
            orientation="h",
            x=scores,
            y=np.arange(n_rows),
            xaxis="x2",
            yaxis="y2",
            name=value_label,
            customdata=row_numbers,
            marker=dict(
                color=scores, colorscale=DIVERGING, cmin=-br, cmax=br, cmid=0, line=dict(color=ZERO_LINE, width=0.5)
            ),
            hovertemplate=f"row %{{customdata}}: %{{x:+.4f}}<extra>{value_label}</extra>",
        )
    )
    layout = dict(
        xaxis=dict(
            domain=left,
            range=[-0.5, n_cols - 0.5],
            showticklabels=False,
            showgrid=False,
            zeroline=False,
            constrain="domain",
        ),
        yaxis=dict(**_row_axis(n_rows), title="row", scaleanchor="x"),
        xaxis2=dict(
            domain=right,
            range=[-br, br],
            title=value_label,
            zeroline=True,
            zerolinecolor=ZERO_LINE,
            zerolinewidth=2,
            gridcolor="#ddd",
        ),
        yaxis2=dict(**_row_axis(n_rows), anchor="x2", matches="y", showticklabels=True),
        bargap=0.15,
        showlegend=False,
        annotations=[
            _panel_title("the digit" + (" (pixels coloured)" if pixels is not None else ""), left),
            _panel_title("← lowered · raised →", right),
        ],
    )
    return go.Figure(
        data,
        dict(
            title=dict(text=title, font=TITLE_FONT, x=0.01, xanchor="left"),
            height=height,
            font=FONT,
            margin=dict(l=10, r=10, t=70, b=10),
            plot_bgcolor="white",
            **layout,
        ),
    )
