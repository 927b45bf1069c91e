"""The step-through component: watch the network read one digit row by row, stepped in the browser.

`render_stepthrough` is used by the explorer (test digits) and the draw page (drawn digits): it takes a
trace and an image, never a dataset index. The whole trace goes to the browser once per digit, model and
unit order (`lstmviz.figures.stepper.stepper_payload`); the browser component (`stepper/stepper.js`)
draws every step-dependent view and steps them together (Prev / Next / slider / arrow keys / Play)
without rerunning the script. A click on a cell of the h, c or gate heatmaps comes back as component
state: `clicked_cell(key_prefix)` returns it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from ..figures import stepthrough as figs
from ..figures.stepper import settle_step, stepper_payload
from ..ordering import ORDERS, unit_order
from ..trace import Trace
from .charts import plotly_chart
from .layers import layer_key, layer_select

ASSETS = Path(__file__).with_name("stepper")
_STEPPER = st.components.v2.component(
    "lstmviz_stepper",
    css=(ASSETS / "stepper.css").read_text(encoding="utf-8"),
    js=(ASSETS / "stepper.js").read_text(encoding="utf-8"),
)

CAPTIONS = {
    "reading": "The network reads the image **one row per step, top to bottom**: faded rows are still to come and "
    "the magenta box is the row read at this step. The probabilities are what it would answer **if reading "
    "stopped here** (softmax of `Linear(h)`; the thick line and the outlined bar are the {who}). They often "
    "**settle before the last row**: once the telling strokes (a loop, a bar, a closing curve) have been read, "
    "the bottom rows are mostly blank and change little, and the memory carries the decision to the end. "
    "**▶ Play**, **◀ Prev / Next ▶**, the slider and the ← → keys move every view together, in your browser.",
    "row": "These {F} pixel values are **all the network receives at this step**. `Linear({F}→{P})` turns them "
    "into {P} numbers that enter the {cell}.",
    "row_stacked": "These {F} pixel values are **all the network receives at this step**. `Linear({F}→{P})` turns "
    "them into {P} numbers that enter layer 1; layer {layer} shown here reads the {H} values of h of layer "
    "{below} at the same step instead.",
    "layer": "This model stacks **{L} {cell} layers** of {H} units: layer 1 reads the projected rows, each next "
    "layer reads h of the one below, and the readout reads the top one. The heatmaps, bars and gates show "
    "**layer {layer}**{top}; the probabilities are always the readout's.",
    "state_bars_lstm": "Every unit's value right now. **h = o · tanh(c) always stays in (−1, 1)**, "
    "but the cell state is a running sum, c = f · c + i · g, with no squashing: a unit that keeps adding "
    "(f ≈ 1, i ≈ 1) can grow **beyond ±1**.",
    "state_bars_other": "Every unit's value right now. In a {cell}, h is squashed by tanh at every step, "
    "so it stays in (−1, 1); there is no separate cell state c.",
    "h": "One row per unit, one column per step: **red positive, blue negative, white near 0**. The grey area "
    "is the steps not read yet; the magenta box is the current step. Same colours (±1) at every step. "
    "Click a cell to inspect that unit at that step.",
    "c": "The **cell state c is the LSTM's long-term memory**. Colours run to ±{cmax:.1f} (the largest |c| of "
    "this digit) because c is not squashed. Units that hold a steady colour over many steps are "
    "remembering something.",
    "no_c": "A {cell} has **no separate cell state**: its only memory is h itself.",
    "gates_lstm": "Gates are numbers between 0 and 1 that multiply. **Forget ≈ 1 keeps the memory, ≈ 0 wipes it. Input "
    "≈ 1 writes the candidate into c, ≈ 0 ignores this row. Output ≈ 1 shows c in h, ≈ 0 hides it.** The "
    "candidate (−1..1) is the new content this row proposes.",
    "gates_gru": "Gates are numbers between 0 and 1 that multiply. **Update ≈ 1 keeps the old h, ≈ 0 replaces it by "
    "the candidate. Reset ≈ 0 makes the candidate ignore the old h.** The candidate (−1..1) is the "
    "proposed new h.",
    "gates_rnn": "A plain RNN has **no gates**: h = tanh(W·x + U·h + b) is rewritten at every step, so it cannot "
    "choose to keep or ignore, and early rows fade from its memory.",
    "order": "Units have no natural order. Sorting them (the same order in every view) makes groups that act "
    "together visible: 'similar' puts correlated units next to each other, 'change' sorts by the step of "
    "their biggest jump.",
}


def stepper_key(key_prefix: str) -> str:
    """The widget key of the step-through component on a page (e.g. "exp_stepper")."""
    return f"{key_prefix}stepper"


def opening_note(trace: Trace, start: int) -> str:
    """What the first screen shows, and where the answer settles, computed from the trace."""
    n = trace.n_steps
    settle = settle_step(trace.probs)
    final = int(trace.prediction)
    where = (
        f"Opens at the last row (step {start} of {n}): the model's answer."
        if start == n
        else (f"Opens at step {start} of {n}.")
    )
    if settle == 1:
        return f"{where} Its best guess is **{final}** from the very first row and never changes."
    return f"{where} The answer **settles at step {settle}**: from row {settle} on, the best guess stays **{final}**."


def captions_for(trace: Trace, label: int | None) -> dict[str, str]:
    """The teaching captions of every view, filled in with this trace's shapes (and its layer, for a stack)."""
    cell = trace.cell.upper()
    who = "true class" if label is not None else "final prediction"
    bars = CAPTIONS["state_bars_lstm"] if trace.c is not None else CAPTIONS["state_bars_other"]
    F, P, H, L, k = trace.rows.shape[-1], trace.projected.shape[-1], trace.h.shape[-1], trace.n_layers, trace.layer
    row = CAPTIONS["row"].format(F=F, P=P, cell=cell)
    if k > 0:
        row = CAPTIONS["row_stacked"].format(F=F, P=P, H=H, layer=k + 1, below=k)
    return {
        "reading": CAPTIONS["reading"].format(who=who),
        "row": row,
        "layer": ""
        if L == 1
        else CAPTIONS["layer"].format(
            L=L, cell=cell, H=H, layer=k + 1, top=" (the top, read out)" if k == L - 1 else " (not read out directly)"
        ),
        "state_bars": bars.format(cell=cell),
        "h": CAPTIONS["h"],
        "c": CAPTIONS["c"].format(cmax=figs.symmetric_range(trace.c)),
        "no_c": CAPTIONS["no_c"].format(cell=cell) if trace.c is None else "",
        "gates": CAPTIONS.get(f"gates_{trace.cell}", ""),
    }


def render_stepthrough(
    trace: Trace,
    image: np.ndarray,
    label: int | None,
    key_prefix: str,
    start: int | None = None,
    tabs: dict[str, Callable[[], None]] | None = None,
    url_step: bool = False,
) -> dict | None:
    """The unit-order setting, the in-browser step-through of every view, then secondary tabs
    (`tabs`: title -> function drawing it, followed by the anatomy tab).

    For a stacked model a "Layer" selector picks the layer every unit view shows (`trace.at_layer`; the top one
    first); the tabs read it with `layers.selected_layer(key_prefix, n_layers)`.
    start: the step shown first for a new digit (default: the last step, the answer). url_step: the
    browser keeps the shown step in the page's URL (`?step=k`, so the address is a link to this view). Returns the last
    clicked heatmap cell, {"view": "h" | "c" | gate name, "unit": int, "step": int}, or None.
    """
    image = np.asarray(image, dtype=np.float32)
    n = trace.n_steps
    start = n if start is None else int(np.clip(start, 0, n))
    order_col = st.columns([3, 1, 1] if trace.n_layers > 1 else [3, 1], vertical_alignment="bottom")
    with order_col[1]:
        method = st.selectbox(
            "Order the units", list(ORDERS), format_func=ORDERS.get, key=f"{key_prefix}order", help=CAPTIONS["order"]
        )
    if trace.n_layers > 1:
        trace = trace.at_layer(layer_select(trace.n_layers, layer_key(key_prefix), order_col[2]))
    order_col[0].markdown(opening_note(trace, start))
    captions = captions_for(trace, label)
    if captions["layer"]:
        st.caption(captions["layer"])
    order = unit_order(trace.h, method)
    payload = stepper_payload(trace, image, label, order, start=start, captions=captions)
    payload["url_step"] = "step" if url_step else None
    _STEPPER(
        key=stepper_key(key_prefix), data=payload, default={"cell": None}, on_cell_change=_ignore, height="content"
    )
    sections = dict(tabs or {})
    sections["Anatomy"] = lambda: _anatomy(trace, image, key_prefix)
    for tab, draw in zip(st.tabs(list(sections)), sections.values(), strict=False):
        with tab:
            draw()
    return clicked_cell(key_prefix)


def _ignore() -> None:
    """Callback of the component's "cell" state (a callback is what makes the state valid)."""


def clicked_cell(key_prefix: str) -> dict | None:
    """The heatmap cell last clicked in the step-through on this page, or None.

    {"view": "h" | "c" | a gate name ("input", "forget", "candidate", "output", "reset", "update"),
     "unit": the unit's index in the model (not its position in the chosen order), "step": 1..T}.
    """
    state = st.session_state.get(stepper_key(key_prefix))
    cell = state.get("cell") if hasattr(state, "get") else None
    if not isinstance(cell, dict):
        return None
    try:
        return {"view": str(cell["view"]), "unit": int(cell["unit"]), "step": int(cell["step"])}
    except (KeyError, TypeError, ValueError):
        return None


@st.cache_resource(show_spinner=False, max_entries=32)
def _anatomy_figure(fingerprint: str, _image: np.ndarray, _trace: Trace):
    """Built once per digit and model (the figure is shared and never mutated)."""
    return figs.anatomy_figure(_image, _trace)


def _fingerprint(trace: Trace, image: np.ndarray) -> str:
    parts = (np.asarray(image, np.float32), trace.stack_h, trace.logits, np.asarray(trace.stack_h.shape))
    return hashlib.sha256(b"".join(np.ascontiguousarray(p).tobytes() for p in parts)).hexdigest()


def _anatomy(trace: Trace, image: np.ndarray, key_prefix: str) -> None:
    plotly_chart(_anatomy_figure(_fingerprint(trace, image), image, trace), key=f"{key_prefix}fig_anatomy")
    stages = figs.anatomy_stages(image, trace)
    st.dataframe(
        {
            "stage": [s.name for s in stages],
            "shape": [s.shape_text for s in stages],
            "what it is": [s.meaning for s in stages],
        },
        hide_index=True,
        width="stretch",
    )
