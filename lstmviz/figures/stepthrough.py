"""Figures of the step-through explorer: what the network has seen and computed after k rows.

Every builder is a pure function of plain arrays (usually from a `Trace`) and a step
k in 0..T: k rows have been read, the current row is row k-1 (0-based), and step k is the
k-th column of the unit-by-step heatmaps (columns are numbered 1..T).

Figures are built in one `go.Figure(data, layout)` call from plain dicts: Plotly validates
once, which keeps a step change fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from .common import CLASS_COLORS, MARK, digit_trace

# Classroom-projector styling: large fonts, one colour per digit, fixed colour scales.
FONT = dict(size=15)
TITLE_FONT = dict(size=18)
DIVERGING = "RdBu_r"  # h, c, candidate: blue < 0 < red, white at 0
SEQUENTIAL = "Viridis"  # sigmoid gates in [0, 1]
UNREAD_BG = "#e4e6eb"  # what blank (not yet read) cells show
DIM = 0.22  # ink of unread rows is multiplied by this
SIGMOID_GATES = ("input", "forget", "output", "reset", "update")


def _figure(
    data: list[dict], layout: dict, title: str, height: int, frames: list[dict] | None = None, **extra
) -> go.Figure:
    """One validated figure with the shared projector style; `extra` overrides layout keys."""
    base = dict(
        title=dict(text=title, font=TITLE_FONT, x=0.01, xanchor="left"),
        height=height,
        font=FONT,
        margin=dict(l=10, r=10, t=50, b=10),
        plot_bgcolor="white",
        uirevision="keep",  # keep zoom and hover state when the step changes
    )
    return go.Figure(data, {**base, **layout, **extra}, frames)


def _check_step(k: int, n_steps: int) -> int:
    k = int(k)
    if not 0 <= k <= n_steps:
        raise ValueError(f"step must be in 0..{n_steps}, got {k}")
    return k


def symmetric_range(values: np.ndarray | None, at_least: float = 1.0) -> float:
    """Half-width of a colour scale centred at 0 that fits every value (and at least ±at_least)."""
    if values is None:
        return at_least
    v = np.asarray(values, dtype=np.float64)
    peak = float(np.nanmax(np.abs(v))) if v.size else 0.0
    return max(at_least, float(np.ceil(peak * 10) / 10))


def columns(widths: list[float], gap: float = 0.03, right: float = 1.0) -> list[tuple[float, float]]:
    """Paper-x domains of side-by-side panels with relative widths, separated by gap."""
    usable = right - gap * (len(widths) - 1)
    total = float(sum(widths))
    domains, x = [], 0.0
    for w in widths:
        span = usable * w / total
        domains.append((round(x, 6), round(min(x + span, right), 6)))
        x += span + gap
    return domains


def _panel_title(text: str, domain: tuple[float, float], size: int = 16) -> dict:
    return dict(
        text=text,
        x=(domain[0] + domain[1]) / 2,
        y=1.0,
        xref="paper",
        yref="paper",
        xanchor="center",
        yanchor="bottom",
        yshift=6,
        showarrow=False,
        font=dict(size=size),
    )


# ---------------------------------------------------------------- the digit and its rows


def row_input_figure(rows: np.ndarray, k: int, height: int = 380) -> go.Figure:
    """The numbers of the current row (the input at step k) as bars; zeros before the first row."""
    rows = np.asarray(rows, dtype=np.float32)  # (T, F)
    k = _check_step(k, rows.shape[0])
    values = rows[k - 1] if k > 0 else np.zeros(rows.shape[1], dtype=np.float32)
    bar = dict(
        type="bar",
        x=np.arange(rows.shape[1]),
        y=values,
        hovertemplate="column %{x}: %{y:.2f}<extra></extra>",
        marker=dict(color=values, colorscale="Greys", cmin=-0.15, cmax=1, line=dict(color="#555", width=1)),
    )
    layout = dict(
        xaxis=dict(title="column (feature)", dtick=4, range=[-0.5, rows.shape[1] - 0.5]),
        yaxis=dict(range=[0, 1.05], title="pixel value", gridcolor="#ddd"),
        bargap=0.1,
    )
    title = "Input: no row yet" if k == 0 else f"Input at step {k}: row {k}, {rows.shape[1]} numbers"
    return _figure([bar], layout, title, height)


# ---------------------------------------------------------------- units x steps heatmaps


def state_matrix(values: np.ndarray, k: int, order: np.ndarray | None = None) -> np.ndarray:
    """(T, H) activity -> (H, T) heatmap matrix in unit order, steps after k set to NaN."""
    v = np.asarray(values, dtype=np.float32)  # (T, H)
    k = _check_step(k, v.shape[0])
    if order is not None:
        v = v[:, np.asarray(order)]
    z = v.T.copy()  # (H, T)
    z[:, k:] = np.nan
    return z


def _heatmap(values: np.ndarray, k: int, order: np.ndarray | None, name: str, **style) -> dict:
    z = state_matrix(values, k, order)  # (H, T)
    n_units, n_steps = z.shape
    units = np.arange(n_units) if order is None else np.asarray(order)
    return dict(
        type="heatmap",
        z=z,
        x=np.arange(1, n_steps + 1),
        y=np.arange(n_units),
        customdata=np.broadcast_to(units[:, None], z.shape).astype(np.int16),
        hovertemplate=f"{name}<br>step %{{x}}, unit %{{customdata}}: %{{z:.3f}}<extra></extra>",
        hoverongaps=False,
        name=name,
        **style,
    )


def _step_box(k: int, n_units: int, axis: str = "") -> list[dict]:
    """The outline of step k's column on axes x{axis}/y (none before the first step)."""
    if k == 0:
        return []
    return [
        dict(
            type="rect",
            x0=k - 0.5,
            x1=k + 0.5,
            y0=-0.5,
            y1=n_units - 0.5,
            xref=f"x{axis}",
            yref="y",
            line=dict(color=MARK, width=3),
            name="current step",
        )
    ]


def _steps_axis(n_steps: int, **extra) -> dict:
    return dict(range=[0.5, n_steps + 0.5], dtick=4, tick0=4, showgrid=False, zeroline=False, **extra)


def _units_axis(n_units: int, **extra) -> dict:
    return dict(range=[n_units - 0.5, -0.5], showgrid=False, zeroline=False, **extra)


def state_heatmap_figure(
    values: np.ndarray,
    k: int,
    order: np.ndarray | None = None,
    name: str = "h",
    zmax: float | None = None,
    height: int = 440,
) -> go.Figure:
    """Hidden or cell state, units x steps: diverging colours centred at 0, unread steps blank.

    The scale is fixed by the whole sequence (±1 for h, ±max|c| for c) so colours do not jump as k moves.
    """
    v = np.asarray(values)  # (T, H)
    n_steps, n_units = v.shape
    k = _check_step(k, n_steps)
    zmax = symmetric_range(v) if zmax is None else float(zmax)
    heatmap = _heatmap(
        v,
        k,
        order,
        name,
        colorscale=DIVERGING,
        zmid=0,
        zmin=-zmax,
        zmax=zmax,
        colorbar=dict(title=dict(text=name), thickness=14, len=0.9),
    )
    layout = dict(
        xaxis=_steps_axis(n_steps, title="step (rows read)"),
        yaxis=_units_axis(n_units, title="unit"),
        shapes=_step_box(k, n_units),
    )
    title = f"{name}: {n_units} units × {n_steps} steps"
    return _figure([heatmap], layout, title, height, plot_bgcolor=UNREAD_BG)


def gate_title(name: str) -> str:
    return "candidate (new content)" if name == "candidate" else f"{name} gate"


def gates_figure(
    gates: dict[str, np.ndarray],
    gate_names: tuple[str, ...] | list[str],
    k: int,
    order: np.ndarray | None = None,
    height: int = 560,
) -> go.Figure:
    """Every gate as a units x steps heatmap, side by side; one colour bar per kind of scale
    (sigmoid gates 0..1 sequential, candidates -1..1 diverging)."""
    names = list(gate_names)
    if not names:
        note = dict(
            text="A plain RNN has no gates: h = tanh(W·x + U·h + b) is rewritten at every step.",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            font=dict(size=18),
        )
        layout = dict(xaxis=dict(visible=False), yaxis=dict(visible=False), annotations=[note])
        return _figure([], layout, "Gates", 160)
    n_steps, n_units = np.asarray(gates[names[0]]).shape
    k = _check_step(k, n_steps)
    domains = columns([1.0] * len(names), gap=0.02, right=0.93)
    traces, shapes, titles = [], [], []
    layout: dict = {"yaxis": _units_axis(n_units, title="unit")}
    for i, (name, domain) in enumerate(zip(names, domains, strict=False), start=1):
        axis = "" if i == 1 else str(i)
        scale = "coloraxis" if name in SIGMOID_GATES else "coloraxis2"
        traces.append(_heatmap(gates[name], k, order, name, coloraxis=scale, xaxis=f"x{axis}", yaxis="y"))
        layout[f"xaxis{axis}"] = _steps_axis(n_steps, domain=list(domain), title="step", anchor="y")
        shapes += _step_box(k, n_units, axis)
        titles.append(_panel_title(gate_title(name), domain))
    layout.update(
        shapes=shapes,
        annotations=titles,
        coloraxis=dict(
            colorscale=SEQUENTIAL,
            cmin=0,
            cmax=1,
            colorbar=dict(title=dict(text="gate"), thickness=14, len=0.45, y=0.78, x=0.945),
        ),
        coloraxis2=dict(
            colorscale=DIVERGING,
            cmin=-1,
            cmax=1,
            cmid=0,
            colorbar=dict(title=dict(text="cand."), thickness=14, len=0.45, y=0.22, x=0.945),
        ),
    )
    return _figure(
        traces, layout, "Gates: units × steps", height, plot_bgcolor=UNREAD_BG, margin=dict(l=10, r=10, t=85, b=10)
    )


# ---------------------------------------------------------------- class probabilities


def emphasised_class(probs: np.ndarray, label: int | None) -> int:
    """The class drawn thick: the true label when known, else the final prediction."""
    return int(label) if label is not None else int(np.asarray(probs)[-1].argmax())


def _probs_now(p: np.ndarray, k: int) -> np.ndarray:
    """Probabilities after k rows (zeros before the first row)."""
    return p[k - 1] if k > 0 else np.zeros(p.shape[1], dtype=np.float32)


def _prob_bar(p: np.ndarray, k: int, focus: int, axis: str = "") -> dict:
    values = _probs_now(p, k)
    n_classes = p.shape[1]
    return dict(
        type="bar",
        x=[str(c) for c in range(n_classes)],
        y=values,
        xaxis=f"x{axis}",
        yaxis=f"y{axis}",
        name="now",
        marker=dict(
            color=[CLASS_COLORS[c % 10] for c in range(n_classes)],
            line=dict(color=["#111" if c == focus else "rgba(0,0,0,0)" for c in range(n_classes)], width=3),
        ),
        text=[f"{v:.2f}" if v >= 0.05 else "" for v in values],
        textposition="outside",
        cliponaxis=False,
        hovertemplate="digit %{x}: %{y:.3f}<extra></extra>",
    )


def _prob_lines(p: np.ndarray, k: int, focus: int, axis: str = "") -> list[dict]:
    """Ten lines p(class | rows 1..t), blank after step k."""
    shown = p.copy()
    shown[k:] = np.nan
    steps = np.arange(1, p.shape[0] + 1)
    return [
        dict(
            type="scatter",
            x=steps,
            y=shown[:, c],
            mode="lines",
            name=str(c),
            xaxis=f"x{axis}",
            yaxis=f"y{axis}",
            opacity=1.0 if c == focus else 0.6,
            line=dict(color=CLASS_COLORS[c % 10], width=6 if c == focus else 2),
            hovertemplate=f"digit {c}<br>step %{{x}}: %{{y:.3f}}<extra></extra>",
        )
        for c in range(p.shape[1])
    ]


def probs_bar_figure(probs: np.ndarray, k: int, label: int | None = None, height: int = 380) -> go.Figure:
    """The ten probabilities after k rows (all zero before the first row); the emphasised class outlined."""
    p = np.asarray(probs, dtype=np.float32)
    k = _check_step(k, p.shape[0])
    layout = dict(
        xaxis=dict(title="digit", type="category"),
        yaxis=dict(range=[0, 1.12], title="probability", gridcolor="#eee"),
        showlegend=False,
    )
    title = "Probabilities: no row read yet" if k == 0 else f"Probabilities after {k} rows"
    return _figure([_prob_bar(p, k, emphasised_class(p, label))], layout, title, height)


# ---------------------------------------------------------------- the main figure: reading, animated


def reading_shapes(k: int, n_rows: int, n_cols: int, n_steps: int) -> list[dict]:
    """Step k's marks: the unread rows of the digit faded by a white veil and the current row boxed;
    on the probability lines (axes x2/y2) the steps not read yet covered and a dotted line at step k."""
    shapes = []
    if k < n_rows:
        shapes.append(
            dict(
                type="rect",
                x0=-0.5,
                x1=n_cols - 0.5,
                y0=k - 0.5,
                y1=n_rows - 0.5,
                xref="x",
                yref="y",
                fillcolor="white",
                opacity=1 - DIM,
                line=dict(width=0),
                name="unread rows",
            )
        )
    if k < n_steps:
        shapes.append(
            dict(
                type="rect",
                x0=k + 0.5,
                x1=n_steps + 0.5,
                y0=0,
                y1=1,
                xref="x2",
                yref="y2 domain",
                fillcolor="white",
                opacity=1,
                line=dict(width=0),
                name="unread steps",
            )
        )
    if k > 0:
        shapes.append(
            dict(
                type="rect",
                x0=-0.5,
                x1=n_cols - 0.5,
                y0=k - 1.5,
                y1=k - 0.5,
                xref="x",
                yref="y",
                line=dict(color=MARK, width=3),
                name="current row",
            )
        )
        shapes.append(
            dict(
                type="line",
                x0=k,
                x1=k,
                y0=0,
                y1=1,
                xref="x2",
                yref="y2 domain",
                line=dict(color=MARK, width=3, dash="dot"),
                name="current step",
            )
        )
    return shapes


def _bar_frame(p: np.ndarray, k: int) -> dict:
    values = _probs_now(p, k)
    return dict(type="bar", y=values, text=[f"{v:.2f}" if v >= 0.05 else "" for v in values])


def reading_figure(
    image: np.ndarray,
    probs: np.ndarray,
    k: int,
    label: int | None = None,
    frame_ms: int = 300,
    height: int = 480,
) -> go.Figure:
    """The digit being read, the ten probabilities over time and now, at step k, with Plotly animation
    frames for every step 0..T: its ▶ button plays the whole reading in the browser, without the server.

    Frames change only the bars and the shapes (veils and marks), so the figure stays small.
    """
    img = np.asarray(image, dtype=np.float32)  # (28, 28)
    p = np.asarray(probs, dtype=np.float32)  # (T, 10)
    n_rows, n_cols = img.shape
    n_steps = p.shape[0]
    k = _check_step(k, n_steps)
    focus = emphasised_class(p, label)
    d_digit, d_lines, d_bars = columns([0.8, 1.6, 1.0], gap=0.07)
    digit = digit_trace(img)
    data = [digit, *_prob_lines(p, n_steps, focus, "2"), _prob_bar(p, k, focus, "3")]
    names = [str(j) for j in range(n_steps + 1)]
    frames = [
        dict(
            name=names[j],
            data=[_bar_frame(p, j)],
            traces=[len(data) - 1],
            layout=dict(shapes=reading_shapes(j, n_rows, n_cols, n_steps)),
        )
        for j in range(n_steps + 1)
    ]
    step_args = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    play_args = dict(mode="immediate", frame=dict(duration=frame_ms, redraw=True), transition=dict(duration=0))
    who = "true class" if label is not None else "predicted class"
    frame_box = dict(
        showline=True,
        mirror=True,
        linecolor="#999",
        showticklabels=False,
        ticks="",
        showgrid=False,
        zeroline=False,
        constrain="domain",
    )
    layout = dict(
        xaxis=dict(frame_box, domain=list(d_digit), range=[-0.5, n_cols - 0.5]),
        yaxis=dict(frame_box, range=[n_rows - 0.5, -0.5], scaleanchor="x"),
        xaxis2=dict(
            domain=list(d_lines),
            anchor="y2",
            range=[0.5, n_steps + 0.5],
            title="step (rows read)",
            dtick=4,
            tick0=4,
            gridcolor="#eee",
        ),
        yaxis2=dict(anchor="x2", range=[0, 1.02], title="probability", gridcolor="#eee"),
        xaxis3=dict(domain=list(d_bars), anchor="y3", title="digit", type="category"),
        yaxis3=dict(anchor="x3", range=[0, 1.1], gridcolor="#eee"),
        shapes=reading_shapes(k, n_rows, n_cols, n_steps),
        annotations=[
            _panel_title("the digit, row by row", d_digit),
            _panel_title(f"probabilities over time ({who} {focus} thick)", d_lines),
            _panel_title("probabilities now", d_bars),
        ],
        showlegend=False,
        updatemenus=[
            dict(
                type="buttons",
                direction="left",
                x=0.0,
                y=-0.12,
                xanchor="left",
                yanchor="top",
                pad=dict(t=0, r=10),
                showactive=False,
                font=dict(size=16),
                buttons=[
                    dict(label="▶ Play all rows", method="animate", args=[names, play_args]),
                    dict(label="❚❚ Pause", method="animate", args=[[None], step_args]),
                ],
            )
        ],
        sliders=[
            dict(
                active=k,
                x=0.25,
                len=0.75,
                y=-0.08,
                yanchor="top",
                pad=dict(t=10),
                font=dict(size=13),
                currentvalue=dict(prefix="rows read: ", font=dict(size=16)),
                steps=[dict(label=name, method="animate", args=[[name], step_args]) for name in names],
            )
        ],
    )
    return _figure(data, layout, "", height, frames, margin=dict(l=10, r=10, t=40, b=110))


# ---------------------------------------------------------------- current state as bars


def state_bars_figure(
    h: np.ndarray,
    c: np.ndarray | None,
    k: int,
    order: np.ndarray | None = None,
    c_max: float | None = None,
    height: int = 400,
) -> go.Figure:
    """h (and c) after step k, one bar per unit in unit order; zero before the first row."""
    h = np.asarray(h, dtype=np.float32)  # (T, H)
    n_steps, n_units = h.shape
    k = _check_step(k, n_steps)
    idx = np.arange(n_units) if order is None else np.asarray(order)
    panels = [("h", h, 1.0)]
    if c is not None:
        c = np.asarray(c, dtype=np.float32)
        panels.append(("c", c, symmetric_range(c) if c_max is None else float(c_max)))
    gap = 0.1
    span = (1.0 - gap * (len(panels) - 1)) / len(panels)
    traces, layout = [], {}
    for r, (name, values, half) in enumerate(panels):
        axis = "" if r == 0 else str(r + 1)
        top = round(1.0 - r * (span + gap), 6)
        now = values[k - 1, idx] if k > 0 else np.zeros(n_units, dtype=np.float32)
        traces.append(
            dict(
                type="bar",
                x=np.arange(n_units),
                y=now,
                name=name,
                customdata=idx.astype(np.int16),
                xaxis=f"x{axis}",
                yaxis=f"y{axis}",
                marker=dict(color=now, colorscale=DIVERGING, cmin=-half, cmax=half, line=dict(width=0)),
                hovertemplate=f"{name}, unit %{{customdata}}: %{{y:.3f}}<extra></extra>",
            )
        )
        layout[f"yaxis{axis}"] = dict(
            range=[-half, half],
            title=name,
            domain=[max(0.0, top - span), top],
            anchor=f"x{axis}",
            gridcolor="#eee",
            zerolinecolor="#888",
        )
        last = r == len(panels) - 1
        layout[f"xaxis{axis}"] = dict(
            anchor=f"y{axis}",
            showticklabels=False,
            showgrid=False,
            range=[-0.5, n_units - 0.5],
            title="unit (in the chosen order)" if last else None,
        )
    title = "State before reading" if k == 0 else f"State after step {k}"
    return _figure(traces, layout, title, height, showlegend=False, bargap=0)


# ---------------------------------------------------------------- anatomy


@dataclass(frozen=True)
class Stage:
    """One stage of the data flow: its name, the tensor shape, what it is."""

    name: str
    shape: tuple[int, ...]
    meaning: str

    @property
    def shape_text(self) -> str:
        return " × ".join(str(s) for s in self.shape)


def anatomy_stages(image: np.ndarray, trace) -> list[Stage]:
    """The data flow of one digit with the shapes of this trace (any hidden size, any cell, any number of
    stacked layers: layer 1 reads the P projected numbers, each next layer the H of the layer below)."""
    img = np.asarray(image)
    T, F = trace.rows.shape
    P = trace.projected.shape[-1]
    H = trace.h.shape[-1]
    L = trace.n_layers
    n_classes = trace.probs.shape[-1]
    cell = trace.cell.upper()
    stages = [
        Stage("image", tuple(img.shape), "the digit, grey levels in [0, 1]"),
        Stage("rows", (T, F), f"{T} time steps of {F} numbers: row t is the input at step t"),
        Stage("projected", (T, P), f"Linear({F}→{P}) applied to every row"),
    ]
    for k in range(L):
        name = f"{cell} outputs h" if L == 1 else f"{cell} layer {k + 1}: h"
        reads = f"{P} projected numbers" if k == 0 else f"h of layer {k} ({H} numbers)"
        what = f"the hidden state after each step ({H} units)"
        stages.append(Stage(name, (T, H), what if L == 1 else f"{cell} layer {k + 1} ({reads}→{H}): {what}"))
    top = "" if L == 1 else f" of the top layer {L}"
    if trace.c is not None:
        stages.append(Stage("final state (h, c)", (2, H), f"the last hidden state h and cell state c{top}, {H} each"))
    else:
        stages.append(Stage("final state h", (H,), f"the last h{top}: a {cell} keeps only h (no cell state c)"))
    stages += [
        Stage("logits", (n_classes,), f"Linear({H}→{n_classes}) on the last h{top}"),
        Stage("probabilities", (n_classes,), "softmax of the logits: they add up to 1"),
    ]
    return stages


def anatomy_figure(image: np.ndarray, trace, height: int = 340) -> go.Figure:
    """The whole data flow of one digit, left to right, each panel titled with its real shape."""
    stages = anatomy_stages(image, trace)
    stack_h = np.asarray(trace.stack_h)  # (L, T, H)
    top = trace.at_layer(-1)  # the readout reads the top layer
    domains = columns([1, 1, 1.3] + [1.3] * len(stack_h) + [0.45, 1, 1], gap=0.035 if len(stack_h) == 1 else 0.025)
    img = np.asarray(image, dtype=np.float32)
    proj = np.asarray(trace.projected, dtype=np.float32)
    half = symmetric_range(proj)
    final = [np.asarray(top.h[-1], dtype=np.float32)]
    if top.c is not None:
        c_last = np.asarray(top.c[-1], dtype=np.float32)
        final.append(c_last / symmetric_range(c_last))
    n_classes = trace.probs.shape[-1]
    classes = [str(c) for c in range(n_classes)]
    colours = [CLASS_COLORS[c % 10] for c in range(n_classes)]
    diverging = dict(type="heatmap", colorscale=DIVERGING, zmid=0, showscale=False)
    step_unit = "step %{y}, unit %{x}: %{z:.2f}<extra></extra>"
    traces = [
        digit_trace(img),
        digit_trace(
            np.asarray(trace.rows, dtype=np.float32),
            ygap=3,
            hovertemplate="step %{y}, feature %{x}: %{z:.2f}<extra></extra>",
        ),
        dict(diverging, z=proj, zmin=-half, zmax=half, hovertemplate=step_unit),
        *(
            dict(diverging, z=np.asarray(h, dtype=np.float32), zmin=-1, zmax=1, hovertemplate=step_unit)
            for h in stack_h
        ),
        dict(
            diverging,
            z=np.stack(final, axis=1),
            x=["h", "c"][: len(final)],
            zmin=-1,
            zmax=1,
            xgap=3,
            hovertemplate="%{x}, unit %{y}: %{z:.2f}<extra></extra>",
        ),
        dict(
            type="bar",
            y=classes,
            x=np.asarray(trace.logits[-1], dtype=np.float32),
            orientation="h",
            marker_color=colours,
            hovertemplate="digit %{y}: logit %{x:.2f}<extra></extra>",
        ),
        dict(
            type="bar",
            y=classes,
            x=np.asarray(trace.probs[-1], dtype=np.float32),
            orientation="h",
            marker_color=colours,
            hovertemplate="digit %{y}: p = %{x:.3f}<extra></extra>",
        ),
    ]
    layout: dict = {"annotations": []}
    for i, (trace_i, stage, domain) in enumerate(zip(traces, stages, domains, strict=False), start=1):
        axis = "" if i == 1 else str(i)
        trace_i.update(xaxis=f"x{axis}", yaxis=f"y{axis}")
        bars = trace_i["type"] == "bar"
        layout[f"xaxis{axis}"] = dict(
            domain=list(domain),
            anchor=f"y{axis}",
            showticklabels=bars,
            showgrid=bars,
            gridcolor="#eee",
            zeroline=bars,
            zerolinecolor="#888",
        )
        layout[f"yaxis{axis}"] = dict(
            anchor=f"x{axis}",
            autorange="reversed",
            showticklabels=bars,
            showgrid=False,
            zeroline=False,
            type="category" if bars else "-",
            dtick=1,
        )
        if not bars:
            layout[f"xaxis{axis}"]["ticks"] = layout[f"yaxis{axis}"]["ticks"] = ""
        if i <= 2:  # the image and its rows keep square pixels
            layout[f"yaxis{axis}"].update(scaleanchor=f"x{axis}", constrain="domain")
            layout[f"xaxis{axis}"].update(constrain="domain")
        layout["annotations"].append(_panel_title(f"<b>{stage.name}</b><br>{stage.shape_text}", domain, size=14))
    layout[f"xaxis{len(traces)}"]["range"] = [0, 1]
    for left, right in zip(domains, domains[1:], strict=False):
        layout["annotations"].append(
            dict(
                text="➜",
                showarrow=False,
                font=dict(size=22, color="#888"),
                yref="paper",
                y=0.5,
                xref="paper",
                x=(left[1] + right[0]) / 2,
            )
        )
    title = f"One digit through the network, {trace.rows.shape[0]} steps: every shape along the way"
    return _figure(traces, layout, title, height, showlegend=False, margin=dict(l=10, r=10, t=100, b=10))
