"""Cell comparison: an LSTM (one and two layers), a GRU and a plain tanh RNN read the same digits; which
remembers the early rows, and what does a second layer add?"""

import numpy as np
import streamlit as st

from lstmviz.checkpoint import LoadedModel
from lstmviz.comparison import (
    INTRO,
    LESSON,
    MODE_TEXT,
    STACKED,
    TITLES,
    Facts,
    accuracy,
    memory_caption,
    second_layer_text,
    sensitivity_caption,
    setup_caption,
)
from lstmviz.data import Split
from lstmviz.figures.cells import accuracy_bars_figure, legend_below, sensitivity_figure
from lstmviz.figures.common import COMPARE_COLORS
from lstmviz.figures.truncation import curves_figure
from lstmviz.memory import memory_probe, relative
from lstmviz.model import GATES
from lstmviz.precompute import N_SENSITIVITY
from lstmviz.truncation import MODE_TITLES, MODES, TruncationResult
from lstmviz.ui import links
from lstmviz.ui.cache import cached_figure, result_info
from lstmviz.ui.charts import plotly_chart
from lstmviz.ui.common import ensure_navigation, get_split, load_cell_models
from lstmviz.ui.truncation import poll_jobs, truncation_results

ensure_navigation()


def accuracy_section(models: dict[str, LoadedModel], test: Split) -> dict[str, float]:
    st.subheader("Accuracy with the whole digit")
    names = [TITLES[c] for c in models]
    found = {c: result_info("predictions", m, test) for c, m in models.items()}
    accs = [accuracy(p.value, test.labels.numpy()) for p in found.values()]
    left, right = st.columns([1.1, 1])
    plotly_chart(
        cached_figure(accuracy_bars_figure, names, accs, [COMPARE_COLORS[c] for c in models]),
        key="cells_fig_accuracy",
        where=left,
    )
    right.dataframe(
        {
            "model": names,
            "layers": [m.config.num_layers for m in models.values()],
            "gates": [", ".join(GATES[m.config.cell]) or "none" for m in models.values()],
            "parameters": [f"{m.model.n_params():,}" for m in models.values()],
        },
        hide_index=True,
        key="cells_table",
    )
    right.caption(setup_caption({TITLES[c]: m.config for c, m in models.items()}))
    return dict(zip(models, accs, strict=True))


def truncation_section(models: dict[str, LoadedModel], results: dict[str, TruncationResult]) -> None:
    st.subheader("Truncation: accuracy when only the first k rows are read")
    mode = st.radio("Mode", MODES, format_func=MODE_TITLES.get, key="cells_mode", horizontal=True, index=2)
    st.caption(f"**{MODE_TITLES[mode]}**: {MODE_TEXT[mode]}")
    curves = {TITLES[c]: r.accuracy[mode] for c, r in results.items()}
    colours = {TITLES[c]: COMPARE_COLORS[c] for c in models}
    plotly_chart(
        cached_figure(
            curves_figure, curves, colors=colours, title=f"Test accuracy against rows read: {MODE_TITLES[mode]}"
        ),
        key="cells_fig_truncation",
    )


def memory_figure(curves: dict[str, np.ndarray], colours: dict[str, str]):
    return legend_below(curves_figure(curves, colors=colours, title="Memory probe: first k rows, then blanks"))


def memory_section(
    models: dict[str, LoadedModel], test: Split, results: dict[str, TruncationResult] | None
) -> dict[str, np.ndarray]:
    st.subheader("How long does each cell remember the early rows?")
    n = min(N_SENSITIVITY, len(test))
    raw = {c: result_info("sensitivity", m, test).value for c, m in models.items()}
    fresh = {c: result_info("untrained_sensitivity", m, test).value for c, m in models.items()}
    colours = {TITLES[c]: COMPARE_COLORS[c] for c in models}
    left, right = st.columns(2)
    with left:
        fig = cached_figure(
            sensitivity_figure,
            {TITLES[c]: relative(v) for c, v in raw.items()},
            colours,
            {TITLES[c]: relative(v) for c, v in fresh.items()},
        )
        plotly_chart(fig, key="cells_fig_sensitivity")
        titled = {TITLES[c]: v for c, v in raw.items()}
        st.caption(sensitivity_caption(n, titled, {TITLES[c]: v for c, v in fresh.items()}))
    with right:
        if results is None:
            st.info("The memory probe needs the truncation curves (being computed above).")
        else:
            probe = {c: memory_probe(r) for c, r in results.items()}
            fig = cached_figure(memory_figure, {TITLES[c]: v for c, v in probe.items()}, colours)
            plotly_chart(fig, key="cells_fig_memory")
            st.caption(memory_caption({TITLES[c]: v for c, v in probe.items()}))
    st.markdown(LESSON)
    return raw


def second_layer_section(models, accs, results, sensitivity) -> None:
    """What the 2-layer LSTM adds over the 1-layer one, in words computed from the measurements above."""
    if not {"lstm", STACKED} <= set(models) or not {"lstm", STACKED} <= set(results):
        return
    facts = {
        c: Facts(accs[c], models[c].model.n_params(), results[c].accuracy, sensitivity[c], results[c].n)
        for c in ("lstm", STACKED)
    }
    st.subheader("What does a second layer add?")
    st.markdown(second_layer_text(facts["lstm"], facts[STACKED]))


def page() -> None:
    st.title("Cell comparison: LSTM (one and two layers), GRU and plain RNN")
    st.markdown(INTRO)
    models = load_cell_models()
    if not models:
        st.warning(
            "None of models/lstm.safetensors, models/lstm-2layer.safetensors, models/gru.safetensors, "
            "models/rnn.safetensors can be used, so there is nothing to compare."
        )
        return
    test = get_split(train=False)
    links.sync("cells")
    accs = accuracy_section(models, test)
    results, pending = truncation_results(models, test, TITLES)
    if pending:
        st.subheader("Truncation: accuracy when only the first k rows are read")
        poll_jobs(
            {TITLES[c]: job for c, job in pending.items()}, "truncation curves over the test set (first time only)"
        )
    elif results:
        truncation_section(models, results)
    sensitivity = memory_section(models, test, results if results and not pending else None)
    second_layer_section(models, accs, results, sensitivity)


page()
