"""Cell comparison: an LSTM, a GRU and a plain tanh RNN read the same digits; which remembers the early rows?"""

import numpy as np
import streamlit as st

from lstmviz.checkpoint import LoadedModel
from lstmviz.data import Split
from lstmviz.figures.cells import accuracy_bars_figure, legend_below, sensitivity_figure
from lstmviz.figures.common import CELL_COLORS
from lstmviz.figures.truncation import curves_figure
from lstmviz.memory import (
    CELL_TITLES,
    MEMORY_MODE,
    memory_probe,
    relative,
    rows_needed,
)
from lstmviz.model import GATES
from lstmviz.precompute import N_SENSITIVITY
from lstmviz.truncation import MODE_TITLES, MODES, TruncationResult
from lstmviz.ui import links
from lstmviz.ui.cache import cached_figure, result_info
from lstmviz.ui.charts import plotly_chart
from lstmviz.ui.common import ensure_navigation, get_split, load_cell_models
from lstmviz.ui.truncation import poll_jobs, truncation_job

ensure_navigation()

PROBE_K = 18  # the memory probe's headline: the top 18 rows of each digit, then 10 blank steps
PROBE_LEVEL = 0.9  # and the rows needed to reach 90% when blanks follow

MODE_TEXT = {
    "notebook": "the first k rows moved to the end, after 28 − k blank rows (the original notebook's experiment).",
    "early": "the answer read right after the first k rows.",
    "occlusion": "the rows after k blanked and the answer read at step 28: the first k rows must be **remembered** "
    "through 28 − k blank steps.",
}
LESSON = (
    "**Why a plain RNN forgets.** A plain RNN rewrites its whole memory at every step, "
    "h = tanh(W·row + U·h + b): whatever row 5 left in h is squeezed through 23 more multiplications and tanh's "
    "before the answer. The learning signal travels the same way back and shrinks at every step (the **vanishing "
    "gradient**): the dashed curves show that before training the plain RNN's answer hardly depends on the first "
    "rows, so training gets almost no signal telling it to keep them. The LSTM adds to its cell state instead, "
    "c = f·c + i·g: with the forget gate near 1, old content and its gradient pass through unchanged (its forget "
    "bias starts at 1 for exactly this reason). The GRU does the same with its update gate, "
    "h = z·h + (1 − z)·candidate. Over only 28 steps, training can still teach a plain RNN to reach back; whether "
    "it managed, and at what cost, shows in the memory probe and the accuracy above."
)


def accuracy_section(models: dict[str, LoadedModel], test: Split) -> None:
    st.subheader("Accuracy with the whole digit")
    names = [CELL_TITLES[c] for c in models]
    found = {c: result_info("predictions", m, test) for c, m in models.items()}
    accs = [float((p.value == test.labels.numpy()).mean()) for p in found.values()]
    left, right = st.columns([1.1, 1])
    plotly_chart(
        cached_figure(accuracy_bars_figure, names, accs, [CELL_COLORS[c] for c in models]),
        key="cells_fig_accuracy",
        where=left,
    )
    right.dataframe(
        {
            "cell": names,
            "gates": [", ".join(GATES[c]) or "none" for c in models],
            "parameters": [f"{m.model.n_params():,}" for m in models.values()],
        },
        hide_index=True,
        key="cells_table",
    )
    right.caption(
        "Same projection `Linear(28→128)`, same readout `Linear(128→10)` on the last step, same training command "
        "(`python -m lstmviz train --cell lstm|gru|rnn`): only the recurrent cell differs. Accuracy with all 28 rows "
        "is only part of the story: the differences grow when the model must **remember**."
    )


def truncation_section(models: dict[str, LoadedModel], results: dict[str, TruncationResult]) -> None:
    st.subheader("Truncation: accuracy when only the first k rows are read")
    mode = st.radio("Mode", MODES, format_func=MODE_TITLES.get, key="cells_mode", horizontal=True, index=2)
    st.caption(f"**{MODE_TITLES[mode]}**: {MODE_TEXT[mode]}")
    curves = {CELL_TITLES[c]: r.accuracy[mode] for c, r in results.items()}
    colours = {CELL_TITLES[c]: CELL_COLORS[c] for c in models}
    plotly_chart(
        cached_figure(
            curves_figure, curves, colors=colours, title=f"Test accuracy against rows read: {MODE_TITLES[mode]}"
        ),
        key="cells_fig_truncation",
    )


def memory_figure(curves: dict[str, np.ndarray], colours: dict[str, str]):
    return legend_below(curves_figure(curves, colors=colours, title="Memory probe: first k rows, then blanks"))


def _row1(curves: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{CELL_TITLES[c]} {relative(v)[0]:.1g}" for c, v in curves.items())


def memory_section(models: dict[str, LoadedModel], test: Split, results: dict[str, TruncationResult] | None) -> None:
    st.subheader("How long does each cell remember the early rows?")
    n = min(N_SENSITIVITY, len(test))
    raw = {c: result_info("sensitivity", m, test).value for c, m in models.items()}
    fresh = {c: result_info("untrained_sensitivity", m, test).value for c, m in models.items()}
    colours = {CELL_TITLES[c]: CELL_COLORS[c] for c in models}
    left, right = st.columns(2)
    with left:
        fig = cached_figure(
            sensitivity_figure,
            {CELL_TITLES[c]: relative(v) for c, v in raw.items()},
            colours,
            {CELL_TITLES[c]: relative(v) for c, v in fresh.items()},
        )
        plotly_chart(fig, key="cells_fig_sensitivity")
        st.caption(
            f"For {n} test digits: how strongly the final answer (the 10 logits at step 28) reacts to a small change "
            "of each input row, ‖∂ logits / ∂ row t‖, averaged and divided by each model's largest value (log scale). "
            "Dashed: the same networks **before training** (fresh weights). Row 1 relative to the most influential "
            f"row, before training: {_row1(fresh)}; after training: {_row1(raw)}."
        )
    with right:
        if results is None:
            st.info("The memory probe needs the truncation curves (being computed above).")
        else:
            probe = {c: memory_probe(r) for c, r in results.items()}
            fig = cached_figure(memory_figure, {CELL_TITLES[c]: v for c, v in probe.items()}, colours)
            plotly_chart(fig, key="cells_fig_memory")
            needed = {c: rows_needed(v, PROBE_LEVEL) for c, v in probe.items()}
            st.caption(
                f"The {MODE_TITLES[MEMORY_MODE]} curve again: each digit keeps its first k rows, the rest are blanked, "
                "and the answer is read at step 28, so what the first rows said has to survive 28 − k blank steps. "
                f"With the top {PROBE_K} rows and {28 - PROBE_K} blank steps after them: "
                + ", ".join(f"{CELL_TITLES[c]} {v[PROBE_K - 1]:.1%}" for c, v in probe.items())
                + f". Rows needed for {PROBE_LEVEL:.0%}: "
                + ", ".join(f"{CELL_TITLES[c]} {k if k else 'never'}" for c, k in needed.items())
                + "."
            )
    st.markdown(LESSON)


def page() -> None:
    st.title("Cell comparison: LSTM, GRU and plain RNN")
    st.markdown(
        "Three networks read the same digits row by row. They share everything except the recurrent cell: an "
        "**LSTM** (a cell state with forget, input and output gates), a **GRU** (reset and update gates, no separate "
        "cell state) and a **plain tanh RNN** (no gates at all). Which of them still knows, at step 28, what the "
        "first rows looked like?"
    )
    models = load_cell_models()
    if not models:
        st.warning(
            "None of models/lstm.safetensors, models/gru.safetensors, models/rnn.safetensors can be used, "
            "so there is nothing to compare."
        )
        return
    test = get_split(train=False)
    links.sync("cells")
    accuracy_section(models, test)
    jobs = {c: truncation_job(m, test) for c, m in models.items()}
    for job in jobs.values():
        job.wait(0.5)  # results already on disk load at once: no progress bar flashes
    status = {c: job.status() for c, job in jobs.items()}  # (fraction, message, result, error)
    results = {c: s[2] for c, s in status.items() if s[2] is not None}
    for cell, s in status.items():
        if s[3] is not None:
            st.error(f"The truncation curves of the {CELL_TITLES[cell]} could not be computed: {s[3]}")
    pending = {c: jobs[c] for c, s in status.items() if s[2] is None and s[3] is None}
    if pending:
        st.subheader("Truncation: accuracy when only the first k rows are read")
        poll_jobs(
            {CELL_TITLES[c]: job for c, job in pending.items()}, "truncation curves over the test set (first time only)"
        )
    elif results:
        truncation_section(models, results)
    memory_section(models, test, results if results and not pending else None)


page()
