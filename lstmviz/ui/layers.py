"""The layer selector of a stacked model: which recurrent layer a view shows (shown only for more than one)."""

from __future__ import annotations

import streamlit as st

from ..checkpoint import LoadedModel
from ..data import Split
from .cache import Result, result_info


def layer_name(layer: int, n_layers: int) -> str:
    """A layer's name for labels: "layer 1 (reads the rows)", …, "layer 2 (top, read out)"; "" for one layer."""
    if n_layers <= 1:
        return ""
    role = " (reads the rows)" if layer == 0 else (" (top, read out)" if layer == n_layers - 1 else "")
    return f"layer {layer + 1}{role}"


def layer_select(n_layers: int, key: str, container=None, help: str | None = None) -> int:
    """A "Layer" radio for a model with more than one recurrent layer (nothing for one layer); returns the
    chosen layer 0..n_layers-1, the top one (what the readout reads) until another is chosen."""
    if n_layers <= 1:
        st.session_state.pop(key, None)  # e.g. a link's layer=2 for a one-layer model: not kept in the link
        return 0
    options = list(range(n_layers))
    if st.session_state.get(key) not in options:  # another model, with fewer layers (or none chosen yet)
        st.session_state[key] = n_layers - 1  # the top layer; set here, not as the radio's default (no warning
        # when a link sets the value through st.session_state)
    where = container if container is not None else st
    return int(
        where.radio(
            "Layer",
            options,
            format_func=lambda k: f"{k + 1}" + (" (top)" if k == n_layers - 1 else ""),
            key=key,
            horizontal=True,
            help=help
            or f"This model stacks {n_layers} recurrent layers: layer 1 reads the rows, each next layer reads h of "
            "the one below, and the readout reads the top layer.",
        )
    )


def layer_result(what: str, loaded: LoadedModel, split: Split, layer: int, *args: object) -> Result:
    """`result_info(what, …)` of one layer's states (a `layered` computation of lstmviz.precompute): for the top
    layer, which the readout reads, the plain call (the one-layer name, shipped precomputed for the shipped
    models); for a lower layer of a stack the layer as the last argument. Returns a cache.Result."""
    if layer == loaded.config.num_layers - 1:
        return result_info(what, loaded, split, *args)
    return result_info(what, loaded, split, *args, int(layer))


def layer_key(key_prefix: str) -> str:
    """The widget key of a page's step-through layer selector (e.g. "exp_layer")."""
    return f"{key_prefix}layer"


def selected_layer(key_prefix: str, n_layers: int) -> int:
    """The layer chosen in the page's step-through selector (the top one when none is, or for one layer)."""
    value = st.session_state.get(layer_key(key_prefix))
    return int(value) if isinstance(value, int) and 0 <= value < n_layers else n_layers - 1
