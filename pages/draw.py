"""Draw a digit (or upload a picture) and watch the network read it row by row."""

import numpy as np
import streamlit as st

from lstmviz.figures.draw import input_preview_figure
from lstmviz.figures.stepthrough import probs_bar_figure
from lstmviz.preprocess import BOX
from lstmviz.ui import links
from lstmviz.ui.attribution import render_attribution
from lstmviz.ui.charts import plotly_chart
from lstmviz.ui.common import cached_trace, current_model, ensure_navigation
from lstmviz.ui.draw import drawn_image, forget_linked_drawing, uploaded_image
from lstmviz.ui.export import render_exports
from lstmviz.ui.inspector import render_inspector
from lstmviz.ui.stepthrough import clicked_cell, render_stepthrough

ensure_navigation()

SOURCES = {"draw": "Draw", "upload": "Upload a picture"}
PREVIEW_CAPTION = (
    f"Made exactly as MNIST was: crop to the ink, fit into {BOX}×{BOX} keeping the aspect ratio (dashed box), "
    "paste into 28×28 and shift so the **centre of mass** (magenta ×) sits at MNIST's centre (green +)."
)


def page() -> None:
    st.title("Draw a digit")
    st.markdown(
        "Draw a digit and watch the network read it, **one row per step**. Your drawing is turned into the same "
        "kind of 28×28 image the model was trained on; the preview shows exactly what it receives."
    )
    loaded = current_model()
    links.restore("draw")
    source = st.radio(
        "Input",
        list(SOURCES),
        format_func=SOURCES.get,
        key="draw_source",
        horizontal=True,
        label_visibility="collapsed",
    )
    col_in, col_preview, col_answer = st.columns([1.2, 1, 1.2], gap="medium")
    with col_in:
        image, prompt = drawn_image() if source == "draw" else uploaded_image()
    if source != "draw":
        forget_linked_drawing()
    links.publish("draw")  # after the canvas: the link holds this drawing
    with col_preview:
        if image is None:
            plotly_chart(
                input_preview_figure(np.zeros((28, 28), np.float32)),
                key="draw_preview_empty",
            )
        else:
            plotly_chart(input_preview_figure(image), key="draw_preview")
            st.caption(PREVIEW_CAPTION)
    with col_answer:
        if image is None:
            if prompt:
                st.info(prompt, icon=":material/draw:")
            return
        trace = cached_trace(loaded, image)
        guess = int(trace.prediction)
        st.metric("The model reads", guess, f"p = {trace.probs[-1, guess]:.2f}", delta_color="off", delta_arrow="off")
        plotly_chart(
            probs_bar_figure(trace.probs, trace.n_steps, None, height=280),
            key="draw_probs",
        )
    st.subheader("Watch the network read your digit")
    render_stepthrough(
        trace,
        image,
        None,
        "draw_",
        start=trace.n_steps,
        tabs={  # a new drawing opens at its end
            "Unit inspector": lambda: render_inspector(loaded, trace, image, "draw_", picked=clicked_cell("draw_")),
            "Which rows mattered?": lambda: render_attribution(loaded, image, guess, "draw_"),
        },
    )
    render_exports(trace, image, None, "draw_")


page()
