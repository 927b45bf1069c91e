"""Step-through explorer: pick a test digit and watch the network read it row by row."""

import numpy as np
import streamlit as st

from lstmviz.checkpoint import LoadedModel
from lstmviz.data import Split
from lstmviz.ui import links
from lstmviz.ui.attribution import render_attribution
from lstmviz.ui.cache import model_result
from lstmviz.ui.common import cached_trace, current_model, ensure_navigation, get_split
from lstmviz.ui.export import render_exports
from lstmviz.ui.inspector import render_inspector
from lstmviz.ui.stepthrough import clicked_cell, render_stepthrough

ensure_navigation()

MODES = {
    "index": "By index",
    "random": "At random",
    "class": "By true class",
    "wrong": "Ones the model gets wrong",
}


def _new_random(n: int) -> None:
    st.session_state["exp_random"] = int(np.random.default_rng().integers(n))


def pick_index(test: Split, loaded: LoadedModel) -> int:
    """The picker row: a mode and the input for that mode; returns a test-set index."""
    n = len(test)
    labels = test.labels.numpy()
    mode_col, pick_col = st.columns([3, 2], vertical_alignment="bottom")
    mode = mode_col.radio("Pick a test digit", list(MODES), format_func=MODES.get, key="exp_mode", horizontal=True)
    with pick_col:
        if mode == "random":
            if "exp_random" not in st.session_state:
                _new_random(n)
            st.button("Pick another at random", key="exp_random_btn", on_click=_new_random, args=(n,))
            return int(st.session_state["exp_random"])
        if mode == "class":
            a, b = st.columns(2)
            cls = a.selectbox("True class", list(range(10)), key="exp_class")
            members = np.flatnonzero(labels == cls)
            if st.session_state.get("exp_class_item", 1) > len(members):
                st.session_state["exp_class_item"] = len(members)
            j = b.number_input(f"Example (1–{len(members)})", 1, len(members), key="exp_class_item")
            return int(members[int(j) - 1])
        if mode == "wrong":
            preds = model_result("predictions", loaded, test)
            wrong = np.flatnonzero(preds != labels)
            if wrong.size == 0:
                st.success("This model gets every test digit right; showing digit 0.")
                return 0
            if st.session_state.get("exp_wrong") not in set(wrong.tolist()):
                st.session_state.pop("exp_wrong", None)  # another model gets other digits wrong
            return int(
                st.selectbox(
                    f"{wrong.size} of {n} test digits are misclassified",
                    wrong.tolist(),
                    key="exp_wrong",
                    format_func=lambda i: f"#{i}: true {labels[i]}, predicted {preds[i]}",
                )
            )
        return int(st.number_input(f"Test index (0–{n - 1})", 0, n - 1, key="exp_index"))


def page() -> None:
    st.title("Step-through explorer")
    st.markdown(
        "Pick a handwritten digit from the test set and step through the **28 rows** the network reads: one step "
        "control (▶ Play, ◀ Prev / Next ▶, the slider or the ← → keys) moves every view together."
    )
    loaded = current_model()
    test = get_split(train=False)
    links.sync("explorer", n_test=len(test))
    index = pick_index(test, loaded)
    image = test.images[index].numpy()  # (28, 28)
    label = int(test.labels[index])
    trace = cached_trace(loaded, image)
    prediction = int(trace.prediction)
    confidence = float(trace.probs[-1, prediction])
    verdict = "correct ✓" if prediction == label else "wrong ✗"
    st.markdown(
        f"**Test digit #{index}** · true label **{label}** · the model answers **{prediction}** "
        f"(p = {confidence:.2f}) · {verdict}"
    )
    render_stepthrough(
        trace,
        image,
        label,
        "exp_",
        start=links.link_start("explorer"),
        url_step=True,
        tabs={
            "Unit inspector": lambda: render_inspector(loaded, trace, image, "exp_", picked=clicked_cell("exp_")),
            "Which rows mattered?": lambda: render_attribution(loaded, image, prediction, "exp_"),
        },
    )
    render_exports(trace, image, label, "exp_")


page()
