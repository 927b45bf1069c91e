"""The unit inspector and what-if experiments (explorer and draw pages), and the unit ablation chart (neurons page).

Pages call `render_inspector(loaded, trace, image, key_prefix, picked)` and
`render_unit_ablation(loaded, split, key_prefix)`; every number comes from lstmviz.arithmetic,
lstmviz.intervene and lstmviz.ablation, every figure from lstmviz.figures.inspector.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import streamlit as st

from ..ablation import AblationJob, AblationResult, stored_ablation
from ..arithmetic import model_weights, reading, unit_step
from ..checkpoint import LoadedModel
from ..data import Split
from ..figures.inspector import (
    ablation_figure,
    ablation_order,
    equation_lines,
    legend_line,
    pixel_strip_figure,
    top_hidden_figure,
    whatif_figure,
)
from ..intervene import FORGET_GATE, Intervention, answer_change, intervene_image
from ..model import GATES
from ..neurons import unit_from_selection
from ..trace import Trace
from .cache import data_id, model_id
from .charts import plotly_chart
from .layers import selected_layer
from .truncation import poll_jobs

TRUNCATION_PAGE = "pages/truncation.py"
EXPERIMENTS = {"clamp": "Clamp the forget gate", "silence": "Silence units", "blank": "Blank the rows after a step"}
WAIT_SECONDS = 3.0  # a computation that finishes within this is shown without a progress bar

INTRO = (
    "Pick one unit and one step (type them, or click a cell of the h, c or gate heatmaps above) to see the "
    "arithmetic the network did there, with its real numbers, in the order it computed them."
)
CAPTIONS = {
    "pixels": "Each pixel of the row reaches the gates through the projection: its **effective weight** is "
    "W_ih[unit] · W_proj (hover a cell). Coloured by weight × pixel, red pixels open the gate (or raise the "
    "candidate), blue ones close it, and blank pixels push nothing; coloured by weight, the strip shows what ink "
    "in each column would do. The projection's bias adds a constant share, "
    "shown in the equation above.",
    "below": "In a stack, layer {layer} does not see the pixels: its input at each step is h of layer {below}. "
    "These are the units of layer {below}, at this step, whose value × input weight moves this unit's gates most "
    "(red up, blue down).",
    "hidden": "The units of the previous hidden state whose value × recurrent weight moves this unit's gates most "
    "(red up, blue down).",
    "whatif": "The experiment runs at once on this digit, step by step, with the change applied; the dotted lines are "
    "the original run.",
}
ABLATION_TEXT = (
    "Silence one unit (its h and c held at 0 at every step, so it passes nothing on) and measure the test accuracy; "
    "do that for every unit in turn. A tall bar is a unit the network cannot do without; most units can be lost "
    "alone with little harm, because others carry the same information. **Click a bar** to explore that unit above."
)


def _k(prefix: str, name: str) -> str:
    return f"{prefix}insp_{name}"


def _apply_picked(picked: Mapping[str, Any] | None, prefix: str, H: int, T: int) -> None:
    """A newly clicked heatmap cell {"view", "unit", "step"} sets the unit and step inputs (before they are drawn)."""
    if not picked:
        return
    try:
        cell = (str(picked.get("view", "")), int(picked["unit"]), int(picked["step"]))
    except (KeyError, TypeError, ValueError):
        return
    if st.session_state.get(_k(prefix, "picked")) == cell:
        return  # already applied; the inputs may have moved since
    st.session_state[_k(prefix, "picked")] = cell
    st.session_state[_k(prefix, "unit")] = min(max(cell[1], 0), H - 1)
    st.session_state[_k(prefix, "step")] = min(max(cell[2], 1), T)


def _clip_state(key: str, lo: int, hi: int, default: int) -> None:
    """Keep a number input's stored value inside its range (another model, another digit)."""
    v = st.session_state.get(key)
    if v is None:
        st.session_state[key] = min(max(default, lo), hi)
    elif not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        st.session_state[key] = min(max(int(v) if isinstance(v, (int, float)) else default, lo), hi)


@st.cache_resource(show_spinner=False, max_entries=16)
def _weights(sha: str, layer: int, _loaded: LoadedModel) -> dict[str, np.ndarray]:
    """The model's weights around one recurrent layer in float64, once per model and layer."""
    return model_weights(_loaded.model, layer)


def _model_id(loaded: LoadedModel) -> str:
    return model_id(loaded)


def render_inspector(
    loaded: LoadedModel, trace: Trace, image: np.ndarray, key_prefix: str, picked: Mapping[str, Any] | None = None
) -> None:
    """The unit inspector for one digit's trace: equations with numbers, a reading, pixel pushes, the top
    previous units, and the what-if experiments. `picked` is a clicked heatmap cell {"view", "unit", "step"}.
    In a stacked model it works on the layer chosen in the step-through above (`layers.selected_layer`)."""
    cfg = loaded.config
    H, T = cfg.hidden_size, trace.n_steps
    trace = trace.at_layer(selected_layer(key_prefix, trace.n_layers))
    layer = trace.layer
    p = key_prefix
    _apply_picked(picked, p, H, T)
    _clip_state(_k(p, "unit"), 0, H - 1, 0)
    _clip_state(_k(p, "step"), 1, T, min(14, T))
    st.markdown(INTRO)
    clicked = st.session_state.get(_k(p, "picked"))
    a, b, c = st.columns([1, 1, 3], vertical_alignment="bottom")
    unit = int(a.number_input(f"Unit (0–{H - 1})", 0, H - 1, key=_k(p, "unit")))
    step = int(b.number_input(f"Step (1–{T})", 1, T, key=_k(p, "step"), help="step k reads row k"))
    note = ""
    if clicked and clicked[0] and (clicked[1], clicked[2]) == (unit, step):
        note = f" Picked from the **{clicked[0]}** heatmap."
    where = f", layer {layer + 1} of {trace.n_layers}" if trace.n_layers > 1 else ""
    c.caption(f"A {cfg.cell.upper()} with {H} units{where}. Step {step} reads row {step} of the image.{note}")
    weights = _weights(_model_id(loaded), layer, loaded)
    us = unit_step(loaded.model, image, unit, step, trace=trace, weights=weights, layer=layer)

    left, right = st.columns([3, 2], gap="medium")
    with left:
        st.markdown(f"**Unit {unit} at step {step}**, computed in this order:")
        for line in equation_lines(us):
            st.latex(line)
        st.latex(legend_line(us))
    with right:
        st.markdown("**What the numbers say**")
        st.markdown("\n".join(f"- {s}" for s in reading(us)))
    if layer > 0:  # a layer above the first reads the layer below, not the pixels
        plotly_chart(top_hidden_figure(us, source="input"), key=_k(p, "fig_below"))
        st.caption(CAPTIONS["below"].format(below=layer, layer=layer + 1))
    else:
        _pixel_strip(us, p)
    plotly_chart(top_hidden_figure(us), key=_k(p, "fig_hidden"))
    st.caption(CAPTIONS["hidden"])

    st.markdown("#### What if…")
    render_whatif(loaded, trace, image, key_prefix, unit, step)


def _pixel_strip(us, p: str) -> None:
    """The row's pixels and how much each pushes the unit's gates (layer 0)."""
    show = st.radio(
        "Colour the pixel strip by",
        ["push", "weights"],
        key=_k(p, "pixel_show"),
        horizontal=True,
        format_func=lambda s: (
            "weight × pixel (what this row does)" if s == "push" else "effective weight (what ink there would do)"
        ),
    )
    plotly_chart(pixel_strip_figure(us, show), key=_k(p, "fig_pixels"))
    st.caption(CAPTIONS["pixels"])


def _experiment(kind: str, cell: str, p: str, unit: int, step: int, H: int, T: int) -> Intervention:
    """The controls of one experiment; returns its Intervention."""
    if kind == "clamp":
        gate = "update gate z" if cell == "gru" else "forget gate"
        a, b, c = st.columns(3)
        value = a.radio(
            f"Hold the {gate} at",
            [0.0, 1.0],
            key=_k(p, "clamp_value"),
            horizontal=True,
            format_func=lambda v: "0: forget everything" if v == 0 else "1: never forget",
        )
        scope = b.radio(
            "For",
            ["all", "unit"],
            key=_k(p, "clamp_scope"),
            horizontal=True,
            format_func=lambda s: "all units" if s == "all" else f"unit {unit} only",
        )
        _clip_state(_k(p, "clamp_from"), 1, T, step)
        start = int(c.number_input(f"From step (1–{T})", 1, T, key=_k(p, "clamp_from")))
        return Intervention(
            clamp_forget=float(value), clamp_from=start, clamp_units=None if scope == "all" else (unit,)
        )
    if kind == "silence":
        key, follows = _k(p, "silence"), _k(p, "silence_follows")
        current = st.session_state.get(key)
        # the selection follows the inspected unit until it is edited
        if current is None or any(u >= H for u in current) or current == [st.session_state.get(follows)]:
            st.session_state[key] = [unit]
            st.session_state[follows] = unit
        units = st.multiselect("Units to silence (h and c held at 0 at every step)", list(range(H)), key=key)
        return Intervention(silence=tuple(sorted(int(u) for u in units)))
    a, b = st.columns([1, 2], vertical_alignment="bottom")
    _clip_state(_k(p, "blank_after"), 0, T - 1, min(step, T - 1))
    k = int(
        a.number_input(
            f"Keep rows 1 to (0–{T - 1})",
            0,
            T - 1,
            key=_k(p, "blank_after"),
            help="the rows after this one are set to zero",
        )
    )
    if st.session_state.pop(_k(p, "go_truncation"), False):
        st.switch_page(TRUNCATION_PAGE)
    b.button(
        "Open the Truncation page's occlusion mode",
        key=_k(p, "to_truncation"),
        icon=":material/content_cut:",
        help="the same cut on every test digit",
        on_click=_to_truncation,
        args=(max(1, k), _k(p, "go_truncation")),
    )
    return Intervention(blank_after=k)


def _to_truncation(k: int, flag: str) -> None:
    """Button callback: set the Truncation page to occlusion mode at k rows; the script then switches to it."""
    st.session_state["trunc_mode"] = "occlusion"
    st.session_state["trunc_k"] = k
    st.session_state[flag] = True


def render_whatif(loaded: LoadedModel, trace: Trace, image: np.ndarray, key_prefix: str, unit: int, step: int) -> None:
    """The what-if experiments on this digit: controls, the changed answer, probabilities over the original."""
    cfg, p = loaded.config, key_prefix
    H, T = cfg.hidden_size, trace.n_steps
    kinds = [k for k in EXPERIMENTS if k != "clamp" or cfg.cell in FORGET_GATE]
    labels = dict(EXPERIMENTS, clamp="Clamp the update gate z" if cfg.cell == "gru" else EXPERIMENTS["clamp"])
    if st.session_state.get(_k(p, "exp")) not in kinds:
        st.session_state.pop(_k(p, "exp"), None)
    kind = st.radio("Experiment", kinds, format_func=labels.get, key=_k(p, "exp"), horizontal=True)
    if cfg.cell == "rnn":
        st.caption("A plain RNN has no gate to clamp: it rewrites h at every step.")
    iv = _experiment(kind, cfg.cell, p, unit, step, H, T)
    if trace.n_layers > 1:  # the clamp and the silencing act on the layer shown
        iv = dataclasses.replace(iv, layer=trace.layer)
    changed = intervene_image(loaded.model, image, iv)
    change = answer_change(trace, changed)
    text = change.sentence()
    if change.changed:
        st.warning(f"**{iv.describe(cfg.cell)}**: {text}", icon=":material/swap_horiz:")
    else:
        st.info(f"**{iv.describe(cfg.cell)}**: {text}", icon=":material/check:")
    start = (
        iv.clamp_from if iv.clamp_forget is not None else (iv.blank_after + 1 if iv.blank_after is not None else None)
    )
    plotly_chart(
        whatif_figure(trace.probs, changed.probs, "what-if", start if start and start <= T else None),
        key=_k(p, "fig_whatif"),
    )
    st.caption(CAPTIONS["whatif"] + f" Gates of a {cfg.cell.upper()}: {', '.join(GATES[cfg.cell]) or 'none'}.")


# ---------------------------------------------------------------- unit ablation (neurons page)


@st.cache_resource(show_spinner=False)
def _registry() -> dict:
    """Per (weights hash, test-set hash): a running AblationJob or a finished AblationResult, shared by sessions."""
    return {"lock": threading.Lock(), "entries": {}}


def _ablation_key(loaded: LoadedModel, split: Split) -> tuple[str, str]:
    return model_id(loaded), data_id(split)


def _layer_of(loaded: LoadedModel, layer: int | None) -> int:
    return loaded.config.num_layers - 1 if layer is None else int(layer)


def ablation_entry(loaded: LoadedModel, split: Split, layer: int | None = None) -> AblationJob | AblationResult | None:
    """The job or result for this model, test set and layer (default: the top one): from memory, else from disk
    (never starts a computation)."""
    keys, reg = _ablation_key(loaded, split), _registry()
    key = (*keys, _layer_of(loaded, layer))
    with reg["lock"]:
        entry = reg["entries"].get(key)
    if entry is None:
        found = stored_ablation(loaded, split, keys, layer=key[2])
        if found is not None:
            with reg["lock"]:
                entry = reg["entries"].setdefault(key, found)
    return entry


def start_ablation(loaded: LoadedModel, split: Split, layer: int | None = None) -> AblationJob | AblationResult:
    """Start the background computation unless one is running or done (one per model, test set and layer)."""
    key, reg = (*_ablation_key(loaded, split), _layer_of(loaded, layer)), _registry()
    with reg["lock"]:
        entry = reg["entries"].get(key)
        if entry is None or (isinstance(entry, AblationJob) and entry.status()[3] is not None):
            entry = reg["entries"][key] = AblationJob(loaded, split, layer=key[2])
    return entry


def render_unit_ablation(
    loaded: LoadedModel, split: Split, key_prefix: str, unit_key: str | None = None, layer: int | None = None
) -> None:
    """The accuracy drop when each unit of one layer (default: the top one) is silenced, over `split`; clicking a
    bar sets `unit_key` to that unit. In a stack the layers above the silenced one read its changed h."""
    p = key_prefix
    unit_key = unit_key or f"{p}unit"
    L, k = loaded.config.num_layers, _layer_of(loaded, layer)
    where = f" of layer {k + 1}" if L > 1 else ""
    st.markdown(ABLATION_TEXT)
    entry = ablation_entry(loaded, split, k)
    if entry is None:
        H = loaded.config.hidden_size
        st.button(
            f"Silence each of the {H} units{where} in turn over {len(split)} test digits",
            key=_k(p, "ablation_start"),
            on_click=start_ablation,
            args=(loaded, split, k),
            icon=":material/play_arrow:",
            help="Runs once per model in the background (a few minutes for 128 units on a small server); "
            "the result is stored on disk.",
        )
        return
    if isinstance(entry, AblationResult):
        result, error, job = entry, None, None
    else:
        job = entry
        _, _, result, error = job.status()
        if result is None and error is None:
            job.wait(max(0.0, WAIT_SECONDS - (time.monotonic() - job.started)))
            _, _, result, error = job.status()
    if error is not None:
        st.error(f"The unit ablation could not be computed: {error}")
        st.button("Try again", key=_k(p, "ablation_retry"), on_click=start_ablation, args=(loaded, split, k))
        return
    if result is None:
        poll_jobs(
            {"": job},
            f"Silencing each of {loaded.config.hidden_size} units{where} over {len(split)} test digits (first time only)",
        )
        return
    sort = st.radio(
        "Order",
        ["unit", "drop"],
        key=_k(p, "ablation_order"),
        horizontal=True,
        format_func=lambda o: "by unit" if o == "unit" else "largest drop first",
    )
    selected = st.session_state.get(unit_key)
    chart_key = _k(p, "fig_ablation")

    def pick() -> None:
        unit = unit_from_selection(st.session_state.get(chart_key))
        if unit is not None and 0 <= unit < result.n_units:
            st.session_state[unit_key] = unit

    fig = ablation_figure(result.drop, result.base_accuracy, sort=sort == "drop", selected=selected)
    plotly_chart(fig, key=chart_key, on_select=pick, selection_mode="points")
    order = ablation_order(result.drop, True)
    worst = int(order[0])
    small = int((np.abs(result.drop) < 0.001).sum())
    line = (
        f"Silencing **unit {worst}** costs the most: accuracy falls from {result.base_accuracy:.2%} to "
        f"{result.accuracy[worst]:.2%}. {small} of {result.n_units} units cost less than 0.1 points alone."
    )
    if isinstance(selected, (int, np.integer)) and 0 <= selected < result.n_units:
        rank = int(np.flatnonzero(order == selected)[0]) + 1
        line += f" Unit {selected}: {100 * result.drop[selected]:+.2f} points (rank {rank} of {result.n_units})."
    st.markdown(line)
    st.caption(
        f"Over {result.n} test digits. Each bar is one unit{where} silenced alone; the highlighted bar is the unit "
        "shown above."
    )
