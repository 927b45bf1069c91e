"""Figures of the unit inspector and the what-if experiments: pure functions of plain values.

- `equation_lines(us)`: the unit's equations at one step with the numbers filled in, as LaTeX
  strings in the order they are computed (the page shows them with st.latex);
- `pixel_strip_figure`: the row's 28 pixels and, under them, how much each pushes each gate;
- `top_hidden_figure`: the units of h_{t−1} that move each gate most;
- `whatif_figure`: the class probabilities over the steps, the experiment's drawn over the original;
- `ablation_figure`: the accuracy drop per silenced unit, by unit or sorted, one bar clickable per unit.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..arithmetic import GateTerms, UnitStep
from .common import CLASS_COLORS, MARK

DIVERGING = "RdBu_r"
GATE_TITLES = {
    "input": "input gate i",
    "forget": "forget gate f",
    "candidate": "candidate",
    "output": "output gate o",
    "reset": "reset gate r",
    "update": "update gate z",
    "state": "new state h",
}
FONT = dict(size=13)


def _n(x: float) -> str:
    """A signed number for LaTeX: '+0.312', '-1.204'."""
    return f"{x:+.3f}"


def _v(x: float) -> str:
    """A number as a factor: '0.312', '(-1.204)'."""
    return f"{x:.3f}" if x >= 0 else f"({x:.3f})"


def _part(value: float, label: str) -> str:
    return rf"\underbrace{{{_n(value)}}}_{{\text{{{label}}}}}"


def _gate_line(g: GateTerms, cell: str) -> str:
    s, act = g.symbol, (r"\sigma" if g.activation == "sigmoid" else r"\tanh")
    if g.reset is None:
        inner = " ".join(
            [_part(g.from_input, "row"), _part(g.from_hidden, r"from }h_{t-1}\text{"), _part(g.bias, "bias")]
        )
    else:  # the GRU's candidate: the reset gate scales the recurrent part, its bias included
        inner = " ".join(
            [
                _part(g.from_input, "row"),
                _part(g.bias_ih, "bias"),
                rf"+ {_v(g.reset)}\cdot(\underbrace{{{_n(g.from_hidden)}}}_{{\text{{from }}h_{{t-1}}}}"
                rf"\underbrace{{{_n(g.bias_hh)}}}_{{\text{{bias}}}})",
            ]
        )
    name = "h_t" if cell == "rnn" else f"{s}_t"
    return rf"{name} = {act}\big({inner}\big) = {act}({g.pre:.3f}) = {g.value:.3f}"


def equation_lines(us: UnitStep) -> list[str]:
    """The unit's equations at this step with their numbers, LaTeX, in the order they are computed."""
    lines: list[str] = []
    if us.cell == "lstm":
        for g in us.gates.values():
            lines.append(_gate_line(g, "lstm"))
        i, f, g, o = (us.gate(s).value for s in "ifgo")
        lines.append(
            rf"\begin{{aligned}}c_t &= f_t\,c_{{t-1}} + i_t\,g_t = {_v(f)}\cdot{_v(us.c_prev)} + {_v(i)}\cdot{_v(g)} \\ "
            rf"&= \underbrace{{{_n(us.kept)}}}_{{\text{{kept memory}}}}\ "
            rf"\underbrace{{{_n(us.written)}}}_{{\text{{written memory}}}} = {us.c:.3f}\end{{aligned}}"
        )
        lines.append(
            rf"\begin{{aligned}}h_t &= o_t\,\tanh(c_t) = {_v(o)}\cdot\tanh({us.c:.3f}) \\ "
            rf"&= {_v(o)}\cdot{_v(us.tanh_c)} = {us.h:.3f}\end{{aligned}}"
        )
    elif us.cell == "gru":
        for g in us.gates.values():
            lines.append(_gate_line(g, "gru"))
        z, n = us.gate("z").value, us.gate("n").value
        lines.append(
            rf"\begin{{aligned}}h_t &= (1-z_t)\,n_t + z_t\,h_{{t-1}} = {_v(1 - z)}\cdot{_v(n)} + {_v(z)}\cdot{_v(us.h_prev)}"
            rf" \\ &= \underbrace{{{_n(us.written)}}}_{{\text{{new}}}}\ \underbrace{{{_n(us.kept)}}}_{{\text{{kept}}}}"
            rf" = {us.h:.3f}\end{{aligned}}"
        )
    else:
        lines.append(_gate_line(us.gates["state"], "rnn"))
    return lines


def legend_line(us: UnitStep) -> str:
    """How the 'row' part splits: pixels through the projection, plus the projection bias's share (LaTeX).
    Above layer 0 the input is the layer below's h: its part is the sum of those units' pushes."""
    g = next(iter(us.gates.values()))
    if g.pixel_push is None:
        below = us.layer  # layers counted from 1 in words: layer `us.layer` is the one below layer us.layer + 1
        return (
            rf"	ext{{input part of }}{g.symbol}:\ W_{{ih}}\,h^{{(	ext{{layer }}{below})}}_t = "
            rf"\sum_j W_{{ih,j}}\,h^{{({below})}}_{{t,j}} = {_n(g.from_input)}"
        )
    return (
        rf"\text{{row part of }}{g.symbol}:\ W_{{ih}}\tilde x_t = \underbrace{{{_n(float(g.pixel_push.sum()))}}}"
        rf"_{{\sum_j w^{{\text{{eff}}}}_j x_{{t,j}}}}\ \underbrace{{{_n(g.proj_bias)}}}_{{W_{{ih}}b_{{\text{{proj}}}}}}"
        rf" = {_n(g.from_input)}"
    )


def pixel_strip_figure(us: UnitStep, show: str = "push", height: int | None = None) -> go.Figure:
    """Top: the row's pixels; under it one strip per gate, coloured by each pixel's push w_eff·x on that gate
    (show="push") or by its effective weight w_eff = W_ih[unit]·W_proj (show="weights"); hover shows both."""
    if show not in ("push", "weights"):
        raise ValueError(f"show must be 'push' or 'weights', not {show!r}")
    gates = list(us.gates.values())
    F = us.row.shape[0]
    push = np.stack([g.pixel_push for g in gates])  # (G, F)
    weights = np.stack([g.pixel_weights for g in gates])  # (G, F)
    z = push if show == "push" else weights
    zmax = float(max(np.abs(z).max(), 1e-3))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[1.0, float(len(gates))])
    fig.add_trace(
        go.Heatmap(
            z=us.row[None],
            x=np.arange(F),
            y=[f"row {us.step}"],
            colorscale="Greys",
            zmin=0,
            zmax=1,
            showscale=False,
            name="pixels",
            xgap=1,
            hovertemplate="pixel %{x}: %{z:.2f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    labels = [GATE_TITLES.get(g.name, g.name) for g in gates]
    fig.add_trace(
        go.Heatmap(
            z=z,
            x=np.arange(F),
            y=labels,
            customdata=np.stack([weights, push], -1),
            colorscale=DIVERGING,
            zmid=0,
            zmin=-zmax,
            zmax=zmax,
            name=show,
            xgap=1,
            ygap=1,
            colorbar=dict(title=dict(text="push" if show == "push" else "weight"), thickness=12, len=0.8, y=0.4),
            hovertemplate="%{y}, pixel %{x}<br>weight %{customdata[0]:+.3f} × pixel = push %{customdata[1]:+.3f}"
            "<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(autorange="reversed", row=2, col=1)
    fig.update_xaxes(title_text="pixel (column) of the row", row=2, col=1, dtick=4)
    what = "push" if show == "push" else "would push (effective weights)"
    fig.update_layout(
        height=height or 120 + 34 * len(gates),
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        plot_bgcolor="white",
        title=dict(text=f"Which pixels of row {us.step} {what} unit {us.unit}'s gates up (red) or down (blue)", x=0.01),
    )
    return fig


def top_hidden_figure(us: UnitStep, k: int = 5, height: int = 260, source: str = "hidden") -> go.Figure:
    """For each gate, the k units j of h_{t−1} whose W_hh[unit, j]·h_{t−1}[j] is largest in size; with
    source="input" (a layer above the first of a stack), the k units j of the layer below, at the same step,
    whose W_ih[unit, j]·h_t[j] is largest."""
    if source not in ("hidden", "input"):
        raise ValueError(f"source must be 'hidden' or 'input', not {source!r}")
    below = source == "input"
    values = us.x_in if below else us.h_prev_all
    gates = list(us.gates.values())
    fig = make_subplots(
        rows=1,
        cols=len(gates),
        subplot_titles=[GATE_TITLES.get(g.name, g.name) for g in gates],
        horizontal_spacing=0.08,
    )
    for col, g in enumerate(gates, start=1):
        top = g.top_input(k) if below else g.top_hidden(k)
        units = [j for j, _ in top][::-1]
        push = np.array([v for _, v in top][::-1], dtype=np.float64)
        h_prev = values[units] if values is not None and units else np.zeros(len(units))
        w = np.divide(push, h_prev, out=np.zeros_like(push), where=h_prev != 0)
        fig.add_trace(
            go.Bar(
                x=push,
                y=[f"unit {j}" for j in units],
                orientation="h",
                name=g.symbol,
                showlegend=False,
                marker=dict(color=["#d62728" if v > 0 else "#1f77b4" for v in push]),
                customdata=np.stack([h_prev, w], 1) if units else None,
                hovertemplate="%{y}: h=%{customdata[0]:+.3f} × w=%{customdata[1]:+.3f} = %{x:+.3f}<extra></extra>",
            ),
            row=1,
            col=col,
        )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=50, b=10),
        font=FONT,
        title=dict(
            text=f"Units of layer {us.layer} (below) at step {us.step} that move unit {us.unit} most"
            if below
            else f"Units of h at step {us.step - 1} that move unit {us.unit} most",
            x=0.01,
        ),
    )
    if us.step == 1 and not below:
        fig.add_annotation(
            text="step 1: h₀ = 0, nothing comes from the previous state",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
        )
    return fig


def shown_classes(original: np.ndarray, changed: np.ndarray, threshold: float = 0.2) -> list[int]:
    """The classes worth drawing: both final answers and any class that reaches `threshold` in either run."""
    keep = {int(original[-1].argmax()), int(changed[-1].argmax())}
    keep |= set(np.flatnonzero((original.max(0) >= threshold) | (changed.max(0) >= threshold)).tolist())
    return sorted(keep)


def whatif_figure(
    original: np.ndarray, changed: np.ndarray, label: str = "what-if", from_step: int | None = None, height: int = 360
) -> go.Figure:
    """Probabilities over the steps (T, 10): the original dotted and faint, the experiment solid, same colours."""
    original, changed = np.asarray(original, np.float64), np.asarray(changed, np.float64)
    steps = np.arange(1, original.shape[0] + 1)
    fig = go.Figure()
    for c in shown_classes(original, changed):
        color = CLASS_COLORS[c % 10]
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=original[:, c],
                mode="lines",
                name=f"{c} original",
                legendgroup=str(c),
                line=dict(color=color, width=2, dash="dot"),
                opacity=0.55,
                hovertemplate=f"digit {c}, original<br>step %{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=changed[:, c],
                mode="lines",
                name=f"{c} {label}",
                legendgroup=str(c),
                line=dict(color=color, width=4),
                hovertemplate=f"digit {c}, {label}<br>step %{{x}}: %{{y:.3f}}<extra></extra>",
            )
        )
    shapes = []
    if from_step is not None:
        shapes.append(
            dict(
                type="line",
                x0=from_step - 0.5,
                x1=from_step - 0.5,
                y0=0,
                y1=1,
                yref="paper",
                line=dict(color=MARK, width=2, dash="dash"),
                name="experiment starts",
            )
        )
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        shapes=shapes,
        title=dict(text="Probabilities over the steps: original (dotted) and what-if (solid)", x=0.01),
        xaxis=dict(title="step (rows read)", range=[0.5, original.shape[0] + 0.5], dtick=4, tick0=4),
        yaxis=dict(title="probability", range=[0, 1.02], gridcolor="#eee"),
        plot_bgcolor="white",
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def ablation_order(drop: np.ndarray, sort: bool) -> np.ndarray:
    """Units in display order: by number, or by accuracy drop (largest first, ties by number)."""
    drop = np.asarray(drop)
    return np.argsort(-drop, kind="stable") if sort else np.arange(drop.shape[0])


def ablation_figure(
    drop: np.ndarray, base_accuracy: float, sort: bool = False, selected: int | None = None, height: int = 340
) -> go.Figure:
    """Accuracy drop (percentage points) per silenced unit; each bar carries its unit as customdata (clickable)."""
    drop = np.asarray(drop, np.float64)
    order = ablation_order(drop, sort)
    y = 100 * drop[order]
    colors = [MARK if u == selected else ("#d62728" if v > 0 else "#1f77b4") for u, v in zip(order, y, strict=False)]
    bar = go.Bar(
        x=np.arange(order.shape[0]),
        y=y,
        customdata=order,
        marker=dict(color=colors),
        name="drop",
        hovertemplate="unit %{customdata}<br>accuracy drop %{y:.2f} points<extra></extra>",
    )
    xaxis = dict(title="units, largest drop first" if sort else "unit", range=[-0.5, order.shape[0] - 0.5])
    if sort:
        shown = order[: min(20, order.shape[0])]
        xaxis.update(
            tickvals=np.arange(shown.shape[0]).tolist(),
            ticktext=[str(u) for u in shown],
            tickangle=0,
            tickfont=dict(size=9),
        )
    fig = go.Figure([bar])
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40, b=10),
        font=FONT,
        xaxis=xaxis,
        plot_bgcolor="white",
        yaxis=dict(title="accuracy drop (points)", gridcolor="#eee", zeroline=True, zerolinecolor="#888"),
        title=dict(text=f"Silence one unit at a time: accuracy drop from {100 * base_accuracy:.2f}%", x=0.01),
        clickmode="event+select",
        dragmode=False,
    )
    return fig
