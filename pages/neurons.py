"""Neuron explorer: pick one unit of h (or c) and see what it responds to across many test digits."""

import numpy as np
import streamlit as st

from lstmviz.figures.neurons import changes_figure, class_profile_figure, top_digits_figure, unit_map_figure
from lstmviz.neurons import (
    class_profile,
    mean_step_changes,
    step_changes,
    top_digits,
    unit_from_selection,
    unit_values,
)
from lstmviz.ui import links
from lstmviz.ui.cache import cached_figure, model_result
from lstmviz.ui.charts import plotly_chart
from lstmviz.ui.common import cached_trace, current_model, ensure_navigation, get_split
from lstmviz.ui.inspector import render_unit_ablation

ensure_navigation()

SIZES = (500, 1000, 2000)
TOP_K = 8
MAP_KEY = "neuron_map"
UNIT_KEY = "neuron_unit"
BANDS = {"quartiles": "middle half (25–75 %)", "std": "mean ± 1 std"}
SOURCES = {"digit": "One test digit", "class": "A class average"}

INTRO = (
    "The memory of the network is {H} numbers, one per **unit**. Pick one unit (type its number, or **click its "
    "row** in the map) and see what it does across many test digits: how it moves over the 28 rows for each "
    "class, which digits push it furthest, and at which rows it changes most. Some units answer one class, "
    "some fire on a stroke at a given height (a top bar, a bottom loop), many do a bit of everything."
)
CAPTIONS = {
    "map": "Each row of the map is a unit, each column a step. Red is positive, blue negative. **Click any cell** to "
    "explore that unit; the orange frame marks the unit shown below.",
    "profile": "One panel per class: the coloured line is the unit's average over the sample's digits of that class, "
    "the band its {band}. Grey lines are the other classes' averages. A unit that splits the classes has panels "
    "that look different; one that only tracks ink looks the same in every panel.",
    "top": "The sample digits that drive this unit {way}. The orange frame is the row being read when it peaked.",
    "changes": "Bars: how much the unit moves at each row, |{name}ₜ − {name}ₜ₋₁|, on average over the sample "
    "(the biggest three in orange). "
    "Blank rows at the top and bottom barely move it; the rows it reacts to are where the strokes it cares about are.",
    "c": "The cell state c is the LSTM's long-term memory; it is not squashed, so it can grow beyond ±1.",
}


def _pick_from_map() -> None:
    """Selection callback of the map: the clicked unit becomes the unit shown."""
    unit = unit_from_selection(st.session_state.get(MAP_KEY))
    if unit is not None:
        st.session_state[UNIT_KEY] = unit


def page() -> None:
    st.title("Neuron explorer")
    loaded = current_model()
    test = get_split(train=False)
    H = loaded.config.hidden_size
    links.sync("neurons", n_test=len(test), hidden_size=H)
    st.markdown(INTRO.format(H=H))

    names = ["h", "c"] if loaded.config.cell == "lstm" else ["h"]
    c_state, c_n, c_band, c_sign = st.columns([1.2, 2, 1.6, 1.6], vertical_alignment="bottom")
    name = c_state.radio(
        "State",
        names,
        horizontal=True,
        key="neuron_state",
        help=None if len(names) == 2 else f"A {loaded.config.cell.upper()} has no cell state c.",
    )
    n = c_n.select_slider("Test digits in the sample", SIZES, value=1000, key="neuron_n")
    band = c_band.radio(
        "Spread band",
        list(BANDS),
        format_func=lambda b: "quartiles" if b == "quartiles" else "± std",
        horizontal=True,
        key="neuron_band",
    )
    sign = c_sign.radio("Top digits", ["highest", "lowest"], horizontal=True, key="neuron_sign")
    if name not in names:
        name = "h"

    idx, states = model_result("states", loaded, test, int(n))
    sample = states.h if name == "h" else states.c  # (n, T, H)
    labels = test.labels.numpy()[idx]
    if st.session_state.get(UNIT_KEY, 0) >= H:
        st.session_state[UNIT_KEY] = 0

    left, right = st.columns([1.15, 1])
    with left:
        a, b, c = st.columns([1.3, 1, 1], vertical_alignment="bottom")
        source = a.radio("Map of", list(SOURCES), format_func=SOURCES.get, key="neuron_source", horizontal=True)
        if source == "digit":
            index = int(b.number_input(f"Test digit (0–{len(test) - 1})", 0, len(test) - 1, 0, key="neuron_index"))
            trace = cached_trace(loaded, test.images[index].numpy())
            grid = trace.h if name == "h" else trace.c  # (T, H)
            digit_label = int(test.labels[index])
            title = f"{name} of test digit #{index} (a {digit_label}): click a unit"
        else:
            cls = int(b.selectbox("Class", list(range(10)), key="neuron_class"))
            grid = sample[labels == cls].mean(0)  # (T, H)
            trace, index, digit_label = None, None, None
            title = f"{name} averaged over the sample's {cls}s: click a unit"
        unit = int(c.number_input(f"Unit (0–{H - 1})", 0, H - 1, key=UNIT_KEY, help="or click a unit in the map"))
    values = unit_values(sample, unit)  # (n, T)
    zmax = max(1.0, float(np.ceil(np.abs(sample).max() * 10) / 10)) if name == "c" else 1.0
    with left:
        plotly_chart(
            cached_figure(unit_map_figure, grid, unit, name, zmax=zmax, title=title),
            key=MAP_KEY,
            on_select=_pick_from_map,
            selection_mode="points",
        )
        st.caption(CAPTIONS["map"] + (" " + CAPTIONS["c"] if name == "c" else ""))

    profile = class_profile(values, labels)
    lower, upper = (
        (profile.q25, profile.q75) if band == "quartiles" else (profile.mean - profile.std, profile.mean + profile.std)
    )
    digit_values = None if trace is None else (trace.h if name == "h" else trace.c)[:, unit]
    with right:
        final = profile.mean[:, -1]
        spread = np.nanmax(profile.mean, 1) - np.nanmin(profile.mean, 1)
        m1, m2, m3 = st.columns(3)
        m1.metric(f"Unit {unit} of {name}", f"{values.mean():+.2f}", help="mean over the sample and all steps")
        m2.metric(
            "Highest class at row 28",
            int(np.nanargmax(final)),
            f"{np.nanmax(final):+.2f}",
            delta_color="off",
            delta_arrow="off",
        )
        m3.metric(
            "Lowest class at row 28",
            int(np.nanargmin(final)),
            f"{np.nanmin(final):+.2f}",
            delta_color="off",
            delta_arrow="off",
        )
        changes = mean_step_changes(values)
        busiest = np.argsort(-changes, kind="stable")[:3] + 1
        st.markdown(
            f"Moves most at rows **{', '.join(str(r) for r in sorted(busiest))}**; "
            f"the class averages span up to **{np.nanmax(spread):.2f}** over the steps."
        )
        digit_changes = None if digit_values is None else step_changes(digit_values)
        plotly_chart(
            cached_figure(changes_figure, changes, digit_changes, unit, name, height=420),
            key="neuron_fig_changes",
        )
        line = f" The black line is test digit #{index}." if index is not None else ""
        st.caption(CAPTIONS["changes"].format(name=name) + line)

    top = top_digits(values, TOP_K, 1 if sign == "highest" else -1)
    top_idx = idx[top.positions]
    titles = [
        f"#{i}: a {test.labels[i]}<br>{v:+.2f} at row {s}"
        for i, v, s in zip(top_idx, top.values, top.steps, strict=False)
    ]
    st.subheader(f"Test digits that drive unit {unit} {sign}")
    plotly_chart(
        cached_figure(top_digits_figure, test.images[top_idx].numpy(), titles, top.steps),
        key="neuron_fig_top",
    )
    st.caption(CAPTIONS["top"].format(way="highest" if sign == "highest" else "lowest (most negative)"))
    profile_fig = cached_figure(
        class_profile_figure, profile.mean, lower, upper, unit, name, BANDS[band], digit_values, digit_label
    )
    plotly_chart(profile_fig, key="neuron_fig_profile")
    st.caption(CAPTIONS["profile"].format(band=BANDS[band]))
    st.subheader("Which units matter?")
    render_unit_ablation(loaded, test, "neuron_", unit_key=UNIT_KEY)


page()
