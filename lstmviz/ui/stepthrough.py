"""The step-through component: watch the network read one digit row by row.

`render_stepthrough` is used by the explorer (test digits) and the draw page (drawn digits):
it takes a trace and an image, never a dataset index.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from ..figures import stepthrough as figs
from ..ordering import ORDERS, unit_order
from ..trace import Trace

PLAY_MS = 300  # time per step when the main figure plays
CHART_CONFIG = {"displayModeBar": False}

CAPTIONS = {
    "reading": "The network reads the image **one row per step, top to bottom**: faded rows are still to come and "
    "the orange box is the row read at this step. The bars are what it would answer **if reading stopped "
    "here** (softmax of `Linear(h)`; the outlined bar is the {who}). Probabilities often **settle before "
    "the last row**: once the telling strokes (a loop, a bar, a closing curve) have been read, the "
    "bottom rows are mostly blank and change little, and the memory carries the decision to the end. **▶ Play "
    "all rows** animates all {T} steps in your browser; the slider above moves every view on this page.",
    "row": "These {F} pixel values are **all the network receives at this step**. `Linear({F}→{P})` turns them "
    "into {P} numbers that enter the {cell}.",
    "state_bars_lstm": "Every unit's value right now. **h = o · tanh(c) always stays in (−1, 1)**, "
    "but the cell state is a running sum, c = f · c + i · g, with no squashing: a unit that keeps adding "
    "(f ≈ 1, i ≈ 1) can grow **beyond ±1**.",
    "state_bars_other": "Every unit's value right now. In a {cell}, h is squashed by tanh at every step, "
    "so it stays in (−1, 1); there is no separate cell state c.",
    "h": "One row per unit, one column per step: **red positive, blue negative, white near 0**. The grey area "
    "is the steps not read yet; the orange box is the current step. Same colours (±1) at every step.",
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
    "gates_rnn": "A plain RNN has no gates: it cannot choose to keep or ignore, so early rows fade from its memory.",
    "order": "Units have no natural order. Sorting them (the same order in every view) makes groups that act "
    "together visible: *similar* puts correlated units next to each other, *change* sorts by the step of "
    "their biggest jump.",
}


def _keys(prefix: str) -> dict[str, str]:
    return {name: f"{prefix}{name}" for name in ("step", "order", "prev", "next")}


def _shift(step_key: str, delta: int, n_steps: int) -> None:
    st.session_state[step_key] = int(np.clip(st.session_state.get(step_key, n_steps) + delta, 0, n_steps))


def _chart(fig, key: str) -> None:
    st.plotly_chart(fig, key=key, config=CHART_CONFIG)


def render_stepthrough(trace: Trace, image: np.ndarray, label: int | None, key_prefix: str) -> None:
    """Step controls, synchronised views of h, c, gates and probabilities with captions, and the anatomy panel.

    The step-dependent part is a fragment: moving the step reruns only it. The main figure carries
    Plotly animation frames, so its Play button animates all the steps in the browser.
    """
    st.fragment(_step_views)(trace, np.asarray(image, dtype=np.float32), label, key_prefix)
    _anatomy(trace, image, key_prefix)


def _controls(n_steps: int, keys: dict[str, str]) -> int:
    """Prev / next buttons and the step slider; returns the step k in 0..n_steps."""
    step_key = keys["step"]
    if step_key not in st.session_state:
        st.session_state[step_key] = n_steps // 2
    b_prev, b_next, slider = st.columns([1, 1, 10], vertical_alignment="bottom")
    b_prev.button("◀ Prev", key=keys["prev"], on_click=_shift, args=(step_key, -1, n_steps), width="stretch")
    b_next.button("Next ▶", key=keys["next"], on_click=_shift, args=(step_key, 1, n_steps), width="stretch")
    return int(slider.slider("Rows read (step)", 0, n_steps, key=step_key))


def _status(trace: Trace, k: int, label: int | None) -> None:
    n = trace.n_steps
    if k == 0:
        st.markdown(f"#### Step 0 of {n}: nothing read yet")
        return
    p = trace.probs[k - 1]
    guess = int(p.argmax())
    verdict = "" if label is None else (" ✓" if guess == label else " ✗")
    st.markdown(f"#### Step {k} of {n}: rows 1–{k} read · best guess now **{guess}** (p = {p[guess]:.2f}){verdict}")


def _step_views(trace: Trace, image: np.ndarray, label: int | None, key_prefix: str) -> None:
    keys = _keys(key_prefix)
    k = _controls(trace.n_steps, keys)
    top_left, top_right = st.columns([3, 2], vertical_alignment="bottom")
    with top_left:
        _status(trace, k, label)
    with top_right:
        method = st.selectbox("Order the units", list(ORDERS), format_func=ORDERS.get, key=keys["order"],
                              help=CAPTIONS["order"])  # fmt: skip
    order = unit_order(trace.h, method)
    cell = trace.cell.upper()
    who = "true class" if label is not None else "final prediction"

    _chart(figs.reading_figure(image, trace.probs, k, label, frame_ms=PLAY_MS), f"{key_prefix}fig_reading")
    st.caption(CAPTIONS["reading"].format(who=who, T=trace.n_steps))

    c_max = figs.symmetric_range(trace.c)
    col_row, col_state = st.columns([1, 1.4])
    with col_row:
        _chart(figs.row_input_figure(trace.rows, k), f"{key_prefix}fig_row")
        st.caption(CAPTIONS["row"].format(F=trace.rows.shape[-1], P=trace.projected.shape[-1], cell=cell))
    with col_state:
        _chart(figs.state_bars_figure(trace.h, trace.c, k, order, c_max=c_max), f"{key_prefix}fig_state_bars")
        bars_caption = CAPTIONS["state_bars_lstm"] if trace.c is not None else CAPTIONS["state_bars_other"]
        st.caption(bars_caption.format(cell=cell))

    col_h, col_c = st.columns(2)
    with col_h:
        _chart(figs.state_heatmap_figure(trace.h, k, order, "h", zmax=1.0), f"{key_prefix}fig_h")
        st.caption(CAPTIONS["h"])
    with col_c:
        if trace.c is not None:
            _chart(figs.state_heatmap_figure(trace.c, k, order, "c", zmax=c_max), f"{key_prefix}fig_c")
            st.caption(CAPTIONS["c"].format(cmax=c_max))
        else:
            st.info(CAPTIONS["no_c"].format(cell=cell))

    _chart(figs.gates_figure(trace.gates, trace.gate_names, k, order), f"{key_prefix}fig_gates")
    st.caption(CAPTIONS.get(f"gates_{trace.cell}", ""))


@st.cache_resource(show_spinner=False, max_entries=32)
def _anatomy_figure(fingerprint: str, _image: np.ndarray, _trace: Trace):
    """Built once per digit and model (the figure is shared and never mutated)."""
    return figs.anatomy_figure(_image, _trace)


def _fingerprint(trace: Trace, image: np.ndarray) -> str:
    parts = (np.asarray(image, np.float32), trace.h, trace.logits, np.asarray(trace.h.shape))
    return hashlib.sha256(b"".join(np.ascontiguousarray(p).tobytes() for p in parts)).hexdigest()


def _anatomy(trace: Trace, image: np.ndarray, key_prefix: str) -> None:
    st.subheader("Anatomy: the shapes along the way")
    _chart(_anatomy_figure(_fingerprint(trace, image), image, trace), f"{key_prefix}fig_anatomy")
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
