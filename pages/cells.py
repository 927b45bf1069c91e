"""Cell comparison: an LSTM, a GRU and a plain tanh RNN read the same digits; which remembers the early rows?"""

import numpy as np
import streamlit as st

from lstmviz.checkpoint import LoadedModel
from lstmviz.comparison import LESSON, MODE_TEXT, accuracy, memory_caption, sensitivity_caption
from lstmviz.data import Split
from lstmviz.figures.cells import accuracy_bars_figure, legend_below, sensitivity_figure
from lstmviz.figures.common import CELL_COLORS
from lstmviz.figures.truncation import curves_figure
from lstmviz.memory import CELL_TITLES, memory_probe, relative
from lstmviz.model import GATES
from lstmviz.precompute import N_SENSITIVITY
from lstmviz.truncation import MODE_TITLES, MODES, TruncationResult
from lstmviz.ui import links
from lstmviz.ui.cache import cached_figure, result_info
from lstmviz.ui.common import ensure_navigation, get_split, load_cell_models
from lstmviz.ui.truncation import poll_jobs, truncation_results

ensure_navigation()

CHART_CONFIG = {"displayModeBar": False}


def accuracy_section(models: dict[str, LoadedModel], test: Split) -> None:
    st.subheader("Accuracy with the whole digit")
    names = [CELL_TITLES[c] for c in models]
    found = {c: result_info("predictions", m, test) for c, m in models.items()}
    accs = [accuracy(p.value, test.labels.numpy()) for p in found.values()]
    left, right = st.columns([1.1, 1])
    left.plotly_chart(
        cached_figure(accuracy_bars_figure, names, accs, [CELL_COLORS[c] for c in models]),
        key="cells_fig_accuracy",
        config=CHART_CONFIG,
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
    st.plotly_chart(
        cached_figure(
            curves_figure, curves, colors=colours, title=f"Test accuracy against rows read: {MODE_TITLES[mode]}"
        ),
        key="cells_fig_truncation",
        config=CHART_CONFIG,
    )


def memory_figure(curves: dict[str, np.ndarray], colours: dict[str, str]):
    return legend_below(curves_figure(curves, colors=colours, title="Memory probe: first k rows, then blanks"))


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
        st.plotly_chart(fig, key="cells_fig_sensitivity", config=CHART_CONFIG)
        titled = {CELL_TITLES[c]: v for c, v in raw.items()}
        st.caption(sensitivity_caption(n, titled, {CELL_TITLES[c]: v for c, v in fresh.items()}))
    with right:
        if results is None:
            st.info("The memory probe needs the truncation curves (being computed above).")
        else:
            probe = {c: memory_probe(r) for c, r in results.items()}
            fig = cached_figure(memory_figure, {CELL_TITLES[c]: v for c, v in probe.items()}, colours)
            st.plotly_chart(fig, key="cells_fig_memory", config=CHART_CONFIG)
            st.caption(memory_caption({CELL_TITLES[c]: v for c, v in probe.items()}))
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
    results, pending = truncation_results(models, test, CELL_TITLES)
    if pending:
        st.subheader("Truncation: accuracy when only the first k rows are read")
        poll_jobs(
            {CELL_TITLES[c]: job for c, job in pending.items()}, "truncation curves over the test set (first time only)"
        )
    elif results:
        truncation_section(models, results)
    memory_section(models, test, results if results and not pending else None)


page()
