"""The one way a page gets "a result of this model on this data", and the one model identity.

- `model_id(loaded)`: the weights' hash (`checkpoint.weights_hash`), computed once per loaded model.
- `data_id(split)`: the data's hash (`truncation.split_key`), computed once per split in memory.
- `model_result(what, loaded, split, *args)`: the named result of `lstmviz.precompute.COMPUTATIONS`,
  kept for every session in `st.cache_resource` under (what, model_id, data_id, args), with its arrays
  made read-only (a cache hit copies nothing). A shipped precomputed file that matches is used before
  anything is computed; `result_info` also says whether it holds the full test set's figures while
  the bundled sample is loaded.

- `cached_figure(build, *args)`: a Plotly figure built once per inputs (for every session) and handed to
  `st.plotly_chart` without the validating `go.Figure` API's copies: building a figure through
  `go.Figure`/`make_subplots` costs 10-700 ms, this costs a hash of the inputs.

Pages define no `st.cache_*` of their own.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ..checkpoint import LoadedModel, weights_hash
from ..data import Digits, Split
from ..truncation import split_key

_MODEL_ID = "_lstmviz_model_id"
_DATA_ID = "_lstmviz_data_id"


def model_id(loaded: LoadedModel) -> str:
    """The model's identity for every cache: the sha256 of its weights (hashed once per loaded model)."""
    key = getattr(loaded, _MODEL_ID, None)
    if key is None:
        key = weights_hash(loaded.model)
        object.__setattr__(loaded, _MODEL_ID, key)
    return key


def data_id(split: Split | Digits) -> str:
    """The data's identity: the sha256 of its images and labels (hashed once per split in memory)."""
    key = getattr(split, _DATA_ID, None)
    if key is None:
        key = split_key(split)
        object.__setattr__(split, _DATA_ID, key)  # a frozen dataclass: set once, never changed
    return key


@dataclass(frozen=True)
class Result:
    """A cached result and where it came from: `full` when it is the full test set's (a precomputed file)
    while the page runs on the bundled sample; `precomputed` when it was read from a shipped file."""

    value: Any
    full: bool = False
    precomputed: bool = False


def freeze(value: Any) -> Any:
    """Make every numpy array in a result read-only (in dataclasses, dicts, lists and tuples), in place."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            freeze(getattr(value, f.name))
    elif isinstance(value, dict):
        for v in value.values():
            freeze(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            freeze(v)
    return value


def _computations():
    """lstmviz.precompute, imported on first use: it imports torch, which a page showing stored results needs not."""
    from .. import precompute

    return precompute


@st.cache_resource(show_spinner=False, max_entries=128)
def _result(what: str, model: str, data: str, args: tuple, _loaded: LoadedModel, _split: Split) -> Result:
    precompute = _computations()
    shipped = precompute.load_precomputed(what, model, data, _split, *args)
    if shipped is not None:
        return Result(freeze(shipped[0]), full=shipped[1], precomputed=True)

    def get(name: str, *a: Any) -> Any:  # results this one builds on come from the same cache
        return result_info(name, _loaded, _split, *a).value

    with st.spinner(precompute.COMPUTATIONS[what].title):
        return Result(freeze(precompute.compute(what, _loaded.model, _split, *args, get=get)))


def result_info(what: str, loaded: LoadedModel, split: Split, *args: Any) -> Result:
    """`model_result` with where the value came from (see Result)."""
    known = _computations().COMPUTATIONS
    if what not in known:
        raise KeyError(f"unknown result {what!r}; known: {sorted(known)}")
    return _result(what, model_id(loaded), data_id(split), tuple(args), loaded, split)


def model_result(what: str, loaded: LoadedModel, split: Split, *args: Any) -> Any:
    """The named result of this model on this data (see lstmviz.precompute.COMPUTATIONS), computed once
    per weights and data for every session, or read from a matching shipped precomputed file."""
    return result_info(what, loaded, split, *args).value


# ---------------------------------------------------------------- figures


class FrozenFigure(go.Figure):
    """A finished figure held as its plain dict: `st.plotly_chart` takes it as a Figure (no validation) and
    its `to_dict` hands back that dict without copying. Read-only: build a new one to change it."""

    def __init__(self, spec: dict) -> None:
        super().__init__()
        self._frozen_spec = spec

    def to_dict(self) -> dict:
        return self._frozen_spec

    def to_plotly_json(self) -> dict:
        return self._frozen_spec

    @property
    def spec(self) -> dict:
        return self._frozen_spec


def _fingerprint(value: Any, h: hashlib._Hash) -> None:
    """Feed a figure's inputs to a hash: arrays by dtype, shape and bytes; containers item by item."""
    if isinstance(value, np.ndarray):
        h.update(f"nd{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif hasattr(value, "numpy") and hasattr(value, "shape"):  # a torch tensor
        _fingerprint(value.detach().cpu().numpy(), h)
    elif isinstance(value, dict):
        h.update(b"{")
        for k, v in value.items():
            _fingerprint(k, h)
            _fingerprint(v, h)
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"(" if isinstance(value, tuple) else b"[")
        for v in value:
            _fingerprint(v, h)
        h.update(b")")
    elif value is None or isinstance(value, (str, int, float, bool, np.generic)):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise TypeError(f"cached_figure cannot key on {type(value).__name__}")


@st.cache_resource(show_spinner=False, max_entries=512)
def _figure(name: str, key: str, _build: Callable[..., go.Figure], _args: tuple, _kwargs: dict) -> FrozenFigure:
    return FrozenFigure(_build(*_args, **_kwargs).to_dict())


def cached_figure(build: Callable[..., go.Figure], *args: Any, **kwargs: Any) -> FrozenFigure:
    """build(*args, **kwargs), built once per inputs for every session (keyed by the function's name and a hash
    of the inputs), ready for `st.plotly_chart`."""
    h = hashlib.blake2b(digest_size=20)
    _fingerprint(args, h)
    _fingerprint(kwargs, h)
    return _figure(f"{build.__module__}.{build.__qualname__}", h.hexdigest(), build, args, kwargs)
