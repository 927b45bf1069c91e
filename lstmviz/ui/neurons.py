"""The Neuron explorer's texts and its sample controls (the page itself stays a thin layout)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from .layers import layer_select

SIZES = (500, 1000, 2000)
DEFAULT_SIZE = 1000  # the sample the page opens with (the warm-up computes it ahead)
BANDS = {"quartiles": "middle half (25–75 %)", "std": "mean ± 1 std"}
SOURCES = {"digit": "One test digit", "class": "A class average"}

INTRO = (
    "The memory of {where} is {H} numbers, one per **unit**. Pick one unit (type its number, or **click its "
    "row** in the map) and see what it does across many test digits: how it moves over the 28 rows for each "
    "class, which digits push it furthest, and at which rows it changes most. Some units answer one class, "
    "some fire on a stroke at a given height (a top bar, a bottom loop), many do a bit of everything."
)
CAPTIONS = {
    "map": "Each row of the map is a unit, each column a step. Red is positive, blue negative. **Click any cell** to "
    "explore that unit; the magenta frame marks the unit shown below.",
    "profile": "One panel per class: the coloured line is the unit's average over the sample's digits of that class, "
    "the band its {band}. Grey lines are the other classes' averages. A unit that splits the classes has panels "
    "that look different; one that only tracks ink looks the same in every panel.",
    "top": "The sample digits that drive this unit {way}. The magenta frame is the row being read when it peaked.",
    "changes": "Bars: how much the unit moves at each row, |{name}ₜ − {name}ₜ₋₁|, on average over the sample "
    "(the biggest three in magenta). "
    "Blank rows at the top and bottom barely move it; the rows it reacts to are where the strokes it cares about are.",
    "c": "The cell state c is the LSTM's long-term memory; it is not squashed, so it can grow beyond ±1.",
}


@dataclass
class SampleChoice:
    """What the controls picked: the layer (0-based), the state ("h" or "c"), the sample size, the spread band
    and the sign of the top digits ("highest" or "lowest")."""

    layer: int
    name: str
    n: int
    band: str
    sign: str


def sample_controls(cell: str, n_layers: int = 1) -> SampleChoice:
    """The layer (for a stacked model) and the row of controls above the map; a model without a cell state c
    always gets "h"."""
    layer = layer_select(n_layers, "neuron_layer")
    names = ["h", "c"] if cell == "lstm" else ["h"]
    c_state, c_n, c_band, c_sign = st.columns([1.2, 2, 1.6, 1.6], vertical_alignment="bottom")
    name = c_state.radio(
        "State",
        names,
        horizontal=True,
        key="neuron_state",
        help=None if len(names) == 2 else f"A {cell.upper()} has no cell state c.",
    )
    n = c_n.select_slider("Test digits in the sample", SIZES, value=DEFAULT_SIZE, key="neuron_n")
    band = c_band.radio(
        "Spread band",
        list(BANDS),
        format_func=lambda b: "quartiles" if b == "quartiles" else "± std",
        horizontal=True,
        key="neuron_band",
    )
    sign = c_sign.radio("Top digits", ["highest", "lowest"], horizontal=True, key="neuron_sign")
    return SampleChoice(layer, name if name in names else "h", int(n), band, sign)
