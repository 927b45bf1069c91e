"""Home: what the model is, the loaded model's accuracy and config, links to the pages."""

import streamlit as st

from lstmviz.figures.common import digit_strip
from lstmviz.ui import links as view_links
from lstmviz.ui.cache import cached_figure
from lstmviz.ui.charts import plotly_chart
from lstmviz.ui.common import current_info, ensure_navigation, try_digits
from lstmviz.ui.models import describe_architecture, model_summary, model_title

ensure_navigation()


def page() -> None:
    info = current_info()  # config, metrics, parameter count: read from the file, no torch (a first page)
    st.title(f"{model_title(info.config)} reads a digit, one row at a time")
    view_links.sync("home")
    st.markdown(describe_architecture(info.config))
    summary = model_summary(info)
    cols = st.columns(5)
    cols[0].metric("Test accuracy", summary["accuracy"])
    cols[1].metric("Cell", summary["cell"])
    cols[2].metric("Layers", summary["layers"], help="stacked recurrent layers; the readout reads the top one")
    cols[3].metric("Hidden units", summary["hidden"], help="per layer" if info.config.num_layers > 1 else None)
    cols[4].metric("Parameters", summary["params"])
    with st.expander("Model config and training recipe"):
        st.json({"config": info.config.to_dict(), "metrics": {k: v for k, v in info.metrics.items() if k != "history"}})

    st.subheader("Where to go")
    links = [
        (
            "pages/explorer.py",
            "Step-through explorer",
            ":material/search:",
            "pick a test digit and watch h, c, the gates and the probabilities unfold row by row",
        ),
        ("pages/draw.py", "Draw a digit", ":material/draw:", "draw (or upload) a digit and watch the network read it"),
        (
            "pages/truncation.py",
            "Truncation",
            ":material/content_cut:",
            "how accuracy falls when the sequence is cut short",
        ),
        (
            "pages/state_space.py",
            "Hidden-state space",
            ":material/scatter_plot:",
            "the classes separate as rows are read",
        ),
        ("pages/neurons.py", "Neuron explorer", ":material/neurology:", "what single units respond to"),
        (
            "pages/cells.py",
            "Cell comparison",
            ":material/compare:",
            "LSTM (one and two layers) vs GRU vs plain RNN: who remembers the early rows",
        ),
        (
            "pages/train.py",
            "Train a model",
            ":material/model_training:",
            "train live and compare with the shipped model",
        ),
    ]
    for path, title, icon, text in links:
        if view_links.hidden(path[len("pages/") : -len(".py")]):  # hidden by a teacher's link (?hide=)
            continue
        c1, c2 = st.columns([1, 3])
        with c1:
            st.page_link(path, label=title, icon=icon)
        c2.caption(text)

    test, note = try_digits()
    st.subheader("Some test digits")
    if note:
        st.info(note, icon=":material/info:")
    plotly_chart(
        cached_figure(digit_strip, test.images[:12], [int(v) for v in test.labels[:12]]),
        key="home_strip",
        tools=True,
    )


page()
