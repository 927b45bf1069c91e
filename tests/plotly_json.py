"""Decode Plotly figure JSON as sent to the browser (Plotly 6+ packs arrays as base64 `bdata`)."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np


def decode(value: Any) -> Any:
    """A `{"dtype", "bdata", "shape"}` typed array -> numpy array; lists and other values unchanged."""
    if isinstance(value, dict) and "bdata" in value:
        arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            arr = arr.reshape([int(s) for s in str(shape).split(",")])
        return arr
    return value


def chart_spec(element) -> dict:
    """The figure dict of an AppTest plotly_chart element."""
    return json.loads(element.proto.spec)


def trace_array(element, index: int, key: str) -> np.ndarray:
    """One array attribute (e.g. "z", "y") of trace `index` of an AppTest plotly_chart, decoded."""
    return np.asarray(decode(chart_spec(element)["data"][index][key]))


def chart_by_key(at, key: str) -> dict:
    """The figure dict of the one AppTest plotly_chart whose widget key is `key`."""
    found = [el for el in at.get("plotly_chart") if el.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, f"no single chart with key {key}"
    return chart_spec(found[0])
