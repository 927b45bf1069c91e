"""Neuron explorer: pick one unit of h (or c) and see what it responds to across many test digits."""

import streamlit as st

from lstmviz.figures.neurons import changes_figure, class_profile_figure, top_digits_figure, unit_map_figure
from lstmviz.neurons import (
    band_limits,
    class_average,
    class_profile,
    colour_limit,
    step_changes,
    top_digits,
    top_titles,
    unit_from_selection,
    unit_summary,
    unit_values,
)
from lstmviz.ui import links
from lstmviz.ui.cache import cached_figure
from lstmviz.ui.charts import plotly_chart
from lstmviz.ui.common import cached_trace, current_model, ensure_navigation, get_split
from lstmviz.ui.inspector import render_unit_ablation
from lstmviz.ui.layers import layer_result
from lstmviz.ui.neurons import BANDS, CAPTIONS, INTRO, SOURCES, sample_controls

ensure_navigation()

TOP_K = 8
MAP_KEY = "neuron_map"
UNIT_KEY = "neuron_unit"


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
    L = loaded.config.num_layers
    st.markdown(INTRO.format(where=f"each of the network's {L} layers" if L > 1 else "the network", H=H))

    choice = sample_controls(loaded.config.cell, loaded.config.num_layers)
    name, band, sign = choice.name, choice.band, choice.sign
    shown = name if L == 1 else f"{name} of layer {choice.layer + 1}"  # what the titles call the state

    idx, states = layer_result("states", loaded, test, choice.layer, choice.n).value
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
            trace = cached_trace(loaded, test.images[index].numpy()).at_layer(choice.layer)
            grid = trace.h if name == "h" else trace.c  # (T, H)
            digit_label = int(test.labels[index])
            title = f"{shown} of test digit #{index} (a {digit_label}): click a unit"
        else:
            cls = int(b.selectbox("Class", list(range(10)), key="neuron_class"))
            grid = class_average(sample, labels, cls)  # (T, H)
            trace, index, digit_label = None, None, None
            title = f"{shown} averaged over the sample's {cls}s: click a unit"
        unit = int(c.number_input(f"Unit (0–{H - 1})", 0, H - 1, key=UNIT_KEY, help="or click a unit in the map"))
    values = unit_values(sample, unit)  # (n, T)
    with left:
        plotly_chart(
            cached_figure(unit_map_figure, grid, unit, name, zmax=colour_limit(sample, name), title=title),
            key=MAP_KEY,
            on_select=_pick_from_map,
            selection_mode="points",
        )
        st.caption(CAPTIONS["map"] + (" " + CAPTIONS["c"] if name == "c" else ""))

    profile = class_profile(values, labels)
    digit_values = None if trace is None else (trace.h if name == "h" else trace.c)[:, unit]
    with right:
        s = unit_summary(values, profile)
        m1, m2, m3 = st.columns(3)
        m1.metric(f"Unit {unit} of {shown}", f"{s.mean:+.2f}", help="mean over the sample and all steps")
        for col, what, cls, value in (
            (m2, "Highest", s.high_class, s.high_value),
            (m3, "Lowest", s.low_class, s.low_value),
        ):
            col.metric(f"{what} class at row 28", cls, f"{value:+.2f}", delta_color="off", delta_arrow="off")
        st.markdown(
            f"Moves most at rows **{', '.join(str(r) for r in s.busiest)}**; "
            f"the class averages span up to **{s.spread:.2f}** over the steps."
        )
        digit_changes = None if digit_values is None else step_changes(digit_values)
        plotly_chart(
            cached_figure(changes_figure, s.changes, digit_changes, unit, name, height=420),
            key="neuron_fig_changes",
        )
        line = f" The black line is test digit #{index}." if index is not None else ""
        st.caption(CAPTIONS["changes"].format(name=name) + line)

    top = top_digits(values, TOP_K, 1 if sign == "highest" else -1)
    top_idx = idx[top.positions]
    titles = top_titles(top_idx, test.labels.numpy(), top)
    st.subheader(f"Test digits that drive unit {unit} {sign}")
    plotly_chart(
        cached_figure(top_digits_figure, test.images[top_idx].numpy(), titles, top.steps),
        key="neuron_fig_top",
    )
    st.caption(CAPTIONS["top"].format(way="highest" if sign == "highest" else "lowest (most negative)"))
    lower, upper = band_limits(profile, band)
    profile_fig = cached_figure(
        class_profile_figure, profile.mean, lower, upper, unit, name, BANDS[band], digit_values, digit_label
    )
    plotly_chart(profile_fig, key="neuron_fig_profile")
    st.caption(CAPTIONS["profile"].format(band=BANDS[band]))
    st.subheader("Which units matter?")
    render_unit_ablation(loaded, test, "neuron_", unit_key=UNIT_KEY, layer=choice.layer)


page()
