"""Hidden-state space: the states h_t of many test digits, projected to 2-D or 3-D, separate by class as rows
are read."""

import streamlit as st

from lstmviz.figures.statespace import separation_figure, trajectories_figure
from lstmviz.statespace import FIT_SAMPLE, step_accuracy
from lstmviz.ui import links
from lstmviz.ui.cache import cached_figure
from lstmviz.ui.charts import plotly_chart
from lstmviz.ui.common import cached_trace, current_model, ensure_navigation, get_split
from lstmviz.ui.layers import layer_name, layer_result, layer_select

ensure_navigation()

SIZES = (200, 500, 1000, 2000)

INTRO = (
    "After each row the memory of {where} is a list of **{H} numbers**, the hidden state *h*. Every digit therefore "
    "traces a **path through a {H}-dimensional space**, one point per row read. We cannot draw {H} dimensions, so "
    "we turn the space until the view is as spread out as possible (**PCA**, principal component analysis) and look "
    "at its 2 or 3 widest directions. Each dot is one test digit, coloured by its true class."
)
HOW_TO = (
    "Press **▶ Play** and watch: at the start every digit sits in the same spot (the top rows of MNIST are blank), "
    "then the cloud spreads and **same-coloured dots gather** as the rows that tell digits apart are read. The thin "
    "tails show where each dot was a few rows earlier. The **black path** is the digit you selected, with its row "
    "numbers; the yellow diamond is where it is now. Click a class in the legend to hide it."
)
SEPARATION = (
    "How separated are the classes after *t* rows? Guess each digit's class by the **nearest class centre** (the "
    "average position of each colour): the better the classes are separated, the more guesses are right. "
    "In all {H} dimensions the classes end up almost perfectly apart; the flat picture above keeps only "
    "{kept:.0%} of the spread, so some classes overlap there. The dashed line is what the network itself answers "
    "after *t* rows (its readout `Linear(h)`{top})."
)
METHOD = (
    "The PCA axes are fitted **once per model**{per_layer}, on the states of all 28 steps of a fixed, class-balanced set of "
    "{fit} test digits (numpy SVD; each axis' sign is fixed so the picture is the same every time). The sample you "
    "choose is then projected on those axes, so changing its size does not turn the picture. The classes are "
    "balanced: about a tenth of the sample for each digit. The separation chart also gives the between-class / "
    "within-class variance ratio at step 28: **{ratio:.2f}** in the full space, **{ratio2:.2f}** in the picture."
)


def page() -> None:
    st.title("Hidden-state space")
    loaded = current_model()
    test = get_split(train=False)
    links.sync("state_space", n_test=len(test))
    H, n_layers = loaded.config.hidden_size, loaded.config.num_layers
    layer = layer_select(n_layers, "space_layer")
    st.markdown(INTRO.format(H=H, where=layer_name(layer, n_layers) or "the network"))

    c_n, c_dims, c_tail, c_idx = st.columns([2, 1.2, 1.5, 1.5], vertical_alignment="bottom")
    n = c_n.select_slider("Test digits in the picture", SIZES, value=500, key="space_n")
    view = c_dims.radio("View", ["2-D", "3-D"], horizontal=True, key="space_dims")
    tail = c_tail.slider("Tail length (rows)", 0, 8, 3, key="space_tail")
    last = len(test) - 1
    index = int(c_idx.number_input(f"Highlight test digit (0–{last})", 0, last, 0, key="space_index"))
    dims = 3 if view == "3-D" else 2

    found = layer_result("statespace", loaded, test, layer, int(n))
    space = found.value
    if found.full:
        st.caption("The sample's points and the PCA axes are the full test set's (precomputed for this model).")
    trace = cached_trace(loaded, test.images[index].numpy()).at_layer(layer)
    path = space.pca.project(trace.h, dims)  # (T, dims)
    label, prediction = int(test.labels[index]), int(trace.prediction)

    ratio = space.explained_ratio
    cols = st.columns(4)
    cols[0].metric(
        f"Spread kept by the {dims} axes", f"{ratio[:dims].sum():.0%}", help="explained variance ratio of the PCA axes"
    )
    sep = space.separation[view]
    full = space.separation["h"].centroid_accuracy[-1]
    cols[1].metric(
        "Nearest-centre accuracy, row 1 → 28",
        f"{sep.centroid_accuracy[0]:.0%} → {sep.centroid_accuracy[-1]:.0%}",
        help=f"in the {view} picture; in all {H} dimensions: {full:.0%}",
    )
    cols[2].metric("Highlighted digit", f"#{index}: a {label}")
    cols[3].metric(
        "Model's answer for it",
        prediction,
        "correct ✓" if prediction == label else "wrong ✗",
        delta_color="normal" if prediction == label else "inverse",
        delta_arrow="off",
    )

    fig = cached_figure(
        trajectories_figure,
        space.coords(dims),
        space.labels,
        highlight=path,
        highlight_name=f"digit #{index}",
        explained=ratio,
        tail=int(tail),
    )
    plotly_chart(fig, key="space_fig_paths")
    st.caption(HOW_TO)

    st.subheader("Do the classes separate?")
    curves = {
        f"nearest centre, all {H} dimensions": space.separation["h"].centroid_accuracy,
        f"nearest centre, in the {view} picture": sep.centroid_accuracy,
    }
    readout = step_accuracy(space.predictions, space.labels)
    plotly_chart(cached_figure(separation_figure, curves, readout), key="space_fig_separation")
    top = "" if n_layers == 1 else " of the top layer, whichever layer is shown"
    st.caption(SEPARATION.format(H=H, kept=float(ratio[:dims].sum()), top=top))
    with st.expander("How is this computed?"):
        per_layer = "" if n_layers == 1 else " and layer"
        st.markdown(
            METHOD.format(
                fit=FIT_SAMPLE, ratio=space.separation["h"].ratio[-1], ratio2=sep.ratio[-1], per_layer=per_layer
            )
        )


page()
