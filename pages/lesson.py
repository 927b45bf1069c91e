"""Guided lesson: twelve short chapters, each setting the view and waiting for Next."""

import numpy as np
import streamlit as st

from lstmviz.figures import stepthrough as figs
from lstmviz.figures.common import digit_strip
from lstmviz.lesson import N_CHAPTERS, chapters, digit_facts, with_rnn
from lstmviz.memory import find_cell_models
from lstmviz.truncation import as_seen
from lstmviz.ui import links
from lstmviz.ui.cache import model_result
from lstmviz.ui.charts import plotly_chart
from lstmviz.ui.common import (
    cached_trace,
    current_model,
    ensure_navigation,
    get_split,
    load_model_file,
)

ensure_navigation()

STEP_KEY = "lesson_step"


def lesson_dataset_facts(loaded, test) -> dict:
    """dataset_facts of the selected model, with the shipped plain RNN for the last chapter (if usable)."""
    rnn = next((m for m in find_cell_models() if m.cell == "rnn" and m.problem is None), None)
    rnn_facts = model_result("lesson_rnn", load_model_file(rnn.path), test) if rnn else None
    return with_rnn(model_result("lesson", loaded, test), rnn_facts)


def _move(delta: int) -> None:
    st.session_state[STEP_KEY] = int(np.clip(st.session_state.get(STEP_KEY, 1) + delta, 1, N_CHAPTERS))


def show_view(chapter, trace, image: np.ndarray, label: int) -> None:
    """The view a chapter sets: one existing figure at the chapter's step."""
    k, fig = chapter.step, None
    if chapter.figure == "rows":
        fig = digit_strip(image[None], [f"test digit, a {label}"], height=320)
    elif chapter.figure == "input_row":
        fig = figs.row_input_figure(trace.rows, k)
    elif chapter.figure == "h" or (chapter.figure == "c" and trace.c is None):
        fig = figs.state_heatmap_figure(trace.h, k, name="h")
    elif chapter.figure == "c":
        fig = figs.state_heatmap_figure(trace.c, k, name="c")
    elif chapter.figure == "gates":
        fig = figs.gates_figure(trace.gates, trace.gate_names, k)
    elif chapter.figure == "probs":
        fig = figs.probs_bar_figure(trace.probs, k, label)
    elif chapter.figure in ("truncation", "rnn"):
        modes = ("early", "notebook") if chapter.figure == "truncation" else ("occlusion",)
        seen = [np.nan_to_num(as_seen(image[None], k, m)[0]) for m in modes]
        titles = {
            "early": f"top {k} rows, read there",
            "notebook": f"top {k} rows, fed at the end",
            "occlusion": f"top {k} rows, then blanks",
        }
        fig = digit_strip(np.stack(seen), [titles[m] for m in modes], height=300)
    elif chapter.figure == "draw":
        st.page_link("pages/draw.py", label="Draw a digit", icon=":material/draw:")
    if fig is not None:
        plotly_chart(fig, key=f"lesson_fig_{chapter.figure}")
    if chapter.unit is not None:
        st.caption(f"Unit {chapter.unit} is row {chapter.unit} of the heatmap.")


def page() -> None:
    st.title("Guided lesson: how an LSTM reads a digit")
    loaded = current_model()
    test = get_split(train=False)
    links.sync("lesson", n_test=len(test))
    st.session_state.setdefault(STEP_KEY, 1)
    top = st.columns([3, 1], vertical_alignment="bottom")
    digit = int(top[1].number_input(f"Test digit (0–{len(test) - 1})", 0, len(test) - 1, 0, key="lesson_digit"))
    image = test.images[digit].numpy()  # (28, 28)
    label = int(test.labels[digit])
    trace = cached_trace(loaded, image)
    lesson = chapters(lesson_dataset_facts(loaded, test), digit_facts(trace, image, label), digit)
    n = len(lesson)
    top[0].selectbox(
        "Jump to a chapter", list(range(1, n + 1)), key=STEP_KEY, format_func=lambda i: f"{i}. {lesson[i - 1].title}"
    )
    i = int(st.session_state[STEP_KEY])
    chapter = lesson[i - 1]
    st.progress(i / n, text=f"Chapter {i} of {n}")
    st.subheader(f"{i}. {chapter.title}")
    st.markdown(chapter.text)
    back, _, nxt = st.columns([1, 4, 1])
    back.button("◀ Back", key="lesson_back", on_click=_move, args=(-1,), disabled=i == 1, width="stretch")
    nxt.button("Next ▶", key="lesson_next", on_click=_move, args=(1,), disabled=i == n, type="primary", width="stretch")
    show_view(chapter, trace, image, label)
    st.caption(
        f"Every number above is computed from the selected model ({loaded.config.cell.upper()}, "
        f"{loaded.config.hidden_size} units) and test digit #{digit}: pick another digit or model to check."
    )


page()
