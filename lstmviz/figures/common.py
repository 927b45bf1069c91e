"""Figure pieces shared by several pages."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

INK = "Greys"

# The app's palettes, defined here only. A colour means one thing on every page: the classes, the
# truncation modes, the cell types, the "selected / current" mark and the other named series share
# no colour and no near colour (tests/test_palette.py checks the distances in CIELAB). Black and greys
# are ink (text, reference lines), never a category.
# One colour per digit class 0..9.
CLASS_COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
# The three ways of cutting a digit short (lstmviz.truncation.MODES).
MODE_COLORS = {"notebook": "#283593", "early": "#c98a00", "occlusion": "#00897b"}
# The recurrent cell types (lstmviz.model.CELLS).
CELL_COLORS = {"lstm": "#ad1457", "gru": "#6200ea", "rnn": "#1b5e20"}
# The Cell comparison's models: the cells above and the shipped 2-layer LSTM (a lighter LSTM pink).
COMPARE_COLORS = {**CELL_COLORS, "lstm-2layer": "#ff4081"}
# What the reader is looking at or picked: the current step (row), the selected unit, the peak row. The
# step-through component's marks take it from its payload (colors.mark -> the CSS variable --lsv-mark).
MARK = "#d500f9"
# Other named curves in one chart (e.g. the state space's separation curves), in order.
SERIES_COLORS = ("#827717", "#1de9b6")
PALETTES = {
    "class": CLASS_COLORS,
    "mode": tuple(MODE_COLORS.values()),
    "cell": tuple(COMPARE_COLORS.values()),
    "mark": (MARK,),
    "series": SERIES_COLORS,
}


PIXEL_HOVER = "row %{y}, column %{x}: %{z:.2f}<extra></extra>"


def digit_trace(image: np.ndarray, **extra) -> dict:
    """A digit (28, 28) in 0..1 as a plain heatmap trace dict (no validation): grey ink, no colour bar, the
    pixel under the pointer on hover; `extra` adds or overrides keys (axes, gaps, opacity, hover)."""
    return (
        dict(type="heatmap", z=image, colorscale=INK, zmin=0, zmax=1, showscale=False, hovertemplate=PIXEL_HOVER)
        | extra
    )


def digit_strip(images: np.ndarray, titles: Sequence[str | int], height: int = 160) -> go.Figure:
    """A row of digits (N, 28, 28) with a title above each; every digit square whatever the figure's width.

    Each y axis is scale-anchored to its own x axis (one pixel as tall as wide) and both are
    constrained to their domain, so a wide figure leaves space around a digit instead of stretching it.
    """
    n = len(images)
    fig = make_subplots(rows=1, cols=max(n, 1), subplot_titles=[str(t) for t in titles], horizontal_spacing=0.01)
    for i, img in enumerate(images):
        fig.add_trace(digit_trace(img), row=1, col=i + 1)
        axis = "" if i == 0 else str(i + 1)
        fig.layout[f"yaxis{axis}"].update(scaleanchor=f"x{axis}", scaleratio=1, constrain="domain")
        fig.layout[f"xaxis{axis}"].update(constrain="domain")
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=30, b=0))
    return fig


# ---------------------------------------------------------------- downloading a figure (Plotly's camera button)

FIGURE_FORMATS = ("png", "svg")  # what the camera button of every chart can download
DOWNLOAD_SCALE = 2  # PNG pixels per screen pixel: sharp on a projector and in slides
# Plotly's own modebar buttons (2-D and 3-D): a chart without tools keeps only the camera (and Streamlit's fullscreen)
MODEBAR_TOOLS = (
    "zoom2d",
    "pan2d",
    "select2d",
    "lasso2d",
    "zoomIn2d",
    "zoomOut2d",
    "autoScale2d",
    "resetScale2d",
    "hoverClosestCartesian",
    "hoverCompareCartesian",
    "toggleSpikelines",
    "zoom3d",
    "pan3d",
    "orbitRotation",
    "tableRotation",
    "resetCameraDefault3d",
    "resetCameraLastSave3d",
    "hoverClosest3d",
    "resetViews",
    "toggleHover",
)


def figure_title(fig: go.Figure | dict) -> str | None:
    """The figure's title text (a go.Figure or its dict), if it has one."""
    layout = (fig.get("layout") or {}) if isinstance(fig, dict) else fig.layout
    title = layout.get("title") if isinstance(layout, dict) else layout.title
    if isinstance(title, dict):
        title = title.get("text")
    elif title is not None and not isinstance(title, str):
        title = title.text  # a go.layout.Title
    return title or None


def file_stem(title: str | None, fallback: str = "figure") -> str:
    """A download's file name (no extension) from a figure's title: `lstmviz-hidden-state-h`."""
    text = re.sub(r"<[^>]*>", " ", title or "") or fallback  # no HTML tags (<b>, <br>)
    words = re.findall(r"[a-z0-9]+", text.lower()) or re.findall(r"[a-z0-9]+", fallback.lower()) or ["figure"]
    return "lstmviz-" + "-".join(words)[:60].rstrip("-")


def chart_config(title: str | None, fmt: str = "png", *, tools: bool = False, fallback: str = "figure") -> dict:
    """Plotly's config for a chart: the camera button downloads it as `fmt` (png or svg, drawn in the browser,
    no server work), named after its title, PNG at twice the screen size. Without `tools` the modebar shows
    only the camera (Plotly's zoom/pan/select buttons are removed)."""
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"format must be one of {FIGURE_FORMATS}, got {fmt!r}")
    config: dict = {
        "displaylogo": False,
        "toImageButtonOptions": {"format": fmt, "filename": file_stem(title, fallback), "scale": DOWNLOAD_SCALE},
    }
    if not tools:
        config["modeBarButtonsToRemove"] = list(MODEBAR_TOOLS)
    return config
