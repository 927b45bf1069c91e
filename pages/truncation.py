"""Truncation: how test accuracy falls as each digit is cut short to its first k rows."""

import streamlit as st

from lstmviz.data import Digits
from lstmviz.figures.common import MODE_COLORS
from lstmviz.figures.truncation import (
    confusion_figure,
    curves_figure,
    decision_figure,
    per_class_figure,
    seen_strip,
)
from lstmviz.links import TRUNCATION_VIEWS
from lstmviz.summaries import class_examples, decision_text, mode_gap
from lstmviz.truncation import MODE_TITLES, MODES, PUBLISHED, TruncationResult, as_seen
from lstmviz.ui import links
from lstmviz.ui.cache import cached_figure
from lstmviz.ui.charts import plotly_chart
from lstmviz.ui.common import current_info, current_model, ensure_navigation, get_digits, try_split
from lstmviz.ui.truncation import forget_jobs, stored_result, truncation_job, wait_for

ensure_navigation()


SHORT = {"notebook": "notebook", "early": "early readout", "occlusion": "occlusion"}
EXPLAIN = {
    "notebook": "The first k rows are moved to the **end** of the sequence, after 28 − k blank rows, so the network "
    "reads a blank start and then the top of the digit and answers at step 28. This is the original "
    f"notebook's experiment; it reported **{PUBLISHED[1]:.1%} with {PUBLISHED[0]} rows**.",
    "early": "The network reads the first k rows and answers **at once**: the readout is applied to the hidden "
    "state after step k. Nothing is padded; this is how sure the model is while it is still reading.",
    "occlusion": "The network reads all 28 steps, but the rows after k are **blanked**, as if the bottom of the "
    "digit were covered; it answers at step 28.",
}


def show(result: TruncationResult, test: Digits) -> None:
    """Controls and every figure, for a finished result."""
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    mode = left.radio("Mode", list(MODES), format_func=MODE_TITLES.get, key="trunc_mode", horizontal=True)
    k = right.slider("Rows read (k)", 1, 28, PUBLISHED[0], key="trunc_k")

    cols = st.columns(len(MODES) + 1)
    for col, m in zip(cols, MODES, strict=False):
        col.metric(f"{SHORT[m]}, {k} rows", f"{result.accuracy[m][k - 1]:.2%}")
    cols[-1].metric(
        f"published, {PUBLISHED[0]} rows",
        f"{PUBLISHED[1]:.1%}",
        help="The original notebook's result in notebook mode, for comparison with this model.",
    )

    curves = {m: result.accuracy[m] for m in MODES}
    plotly_chart(cached_figure(curves_figure, curves, k=k, published=PUBLISHED), key="trunc_fig_curves", tools=True)
    gap = mode_gap(result.accuracy["notebook"], result.accuracy["early"])
    st.caption(
        f"With {PUBLISHED[0]} rows this model scores {result.accuracy['notebook'][PUBLISHED[0] - 1]:.1%} in notebook "
        f"mode, against the notebook's published {PUBLISHED[1]:.1%}. Notebook mode and early readout differ by at "
        f"most {gap:.1%} at any k"
        + (
            ": an MNIST digit starts with blank rows anyway, so a few more in front change little."
            if gap < 0.02
            else "."
        )
    )

    # One view at a time under the curves, built and drawn only while its tab is open: a first visit draws two
    # charts instead of five, and a change of k or mode rebuilds only those two.
    tabs = dict(
        zip(
            TRUNCATION_VIEWS, st.tabs(list(TRUNCATION_VIEWS.values()), key="trunc_view", on_change="rerun"), strict=True
        )
    )
    view = next((name for name, tab in tabs.items() if tab.open), "per_class")
    with tabs[view]:
        details(view, result, test, mode, k)


def details(view: str, result: TruncationResult, test: Digits, mode: str, k: int) -> None:
    """The open tab's view: accuracy per class, the confusion matrix, the cut digits, or the rows needed."""
    if view == "per_class":
        title = f"Accuracy per class: {SHORT[mode]}"
        plotly_chart(
            cached_figure(per_class_figure, result.per_class[mode], k=k, title=title),
            key="trunc_fig_per_class",
            tools=True,
        )
    elif view == "confusion":
        left, right = st.columns([3, 2], vertical_alignment="center")
        title = f"Confusion after {k} rows: {SHORT[mode]}"
        plotly_chart(
            cached_figure(confusion_figure, result.confusion(mode, k), title=title),
            key="trunc_fig_confusion",
            where=left,
            tools=True,
        )
        right.markdown(
            f"Each row is a true digit, each column the answer after **{k} rows** ({SHORT[mode]}); the diagonal holds "
            "the right answers. Move k to see which digits the top rows alone already tell apart."
        )
    elif view == "seen":
        idx = class_examples(test.labels)
        seen = as_seen(test.images[idx], k, mode)
        answers = result.predictions[mode][k - 1, idx].tolist()
        plotly_chart(
            cached_figure(seen_strip, seen, test.labels[idx].tolist(), answers), key="trunc_fig_strip", tools=True
        )
        st.caption(
            f"What the model sees after {k} rows ({SHORT[mode]}): the first test digit of each class, titled *true → "
            "predicted*; ✗ marks a wrong answer"
            + (", and the rows not read yet are shaded." if mode == "early" else ".")
        )
    else:
        steps = result.decision_step[mode]
        st.markdown(decision_text(steps, SHORT[mode]))
        plotly_chart(
            cached_figure(decision_figure, steps, color=MODE_COLORS[mode]), key="trunc_fig_decision", tools=True
        )


def computed_result() -> TruncationResult | None:
    """The curves computed in the background, with progress; None (and an error with a retry) if that failed."""
    loaded = current_model()
    split, _ = try_split(train=False)  # the same digits as get_digits, as tensors
    job = truncation_job(loaded, split)
    wait_for(job)
    _, _, result, error = job.status()
    if error is not None:
        st.error(f"The truncation curves could not be computed: {error}")
        if st.button("Try again", key="trunc_retry"):
            forget_jobs()
            st.rerun()
    return result


def page() -> None:
    st.title("Truncation: how accuracy falls as the digit is cut short")
    st.markdown(
        "The network reads a digit one row at a time. What if it only gets the first **k** rows? "
        "The curves below give the test accuracy for k = 1…28 on all test digits, in three ways of cutting:\n"
        + "\n".join(f"- **{MODE_TITLES[m]}**: {EXPLAIN[m]}" for m in MODES)
    )
    info = current_info()
    test = get_digits()
    links.sync("truncation")
    result = stored_result(info, test)  # the shipped or cached curves: no model, no torch (a fresh server's first page)
    if result is None:
        result = computed_result()
        if result is None:
            return
    if result.n != len(test):
        st.caption(
            f"The curves are the full test set's ({result.n:,} digits, precomputed for this model); "
            "the example digits come from the bundled sample."
        )
    show(result, test)


page()
