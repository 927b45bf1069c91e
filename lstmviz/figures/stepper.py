"""The data of the in-browser step-through: one digit's whole trace as compact, JSON-ready plain data.

`stepper_payload` is sent to the browser once per digit, model and unit order; the browser then
draws every step-dependent view (digit, input row, h/c bars, h/c heatmaps, gates, probabilities)
for any step 0..T without asking the server again. Matrices travel as little-endian int16 in
base64 with one scale per matrix (`value = int * scale`), about 2 bytes a number: an error of at
most half a scale step (1.5e-5 of the matrix's largest |value|), far below what a colour or a
3-decimal tooltip shows. `decode_matrix` reverses it (tests, notebooks).
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import plotly.colors

from .common import CLASS_COLORS
from .stepthrough import (
    DIVERGING,
    MARK,
    SEQUENTIAL,
    SIGMOID_GATES,
    UNREAD_BG,
    gate_title,
    symmetric_range,
)

INT16_MAX = 32767


def encode_matrix(values: np.ndarray) -> dict:
    """A float array -> {"shape", "scale", "b64"}: int16 little-endian, value = int * scale."""
    v = np.asarray(values, dtype=np.float64)
    peak = float(np.abs(v).max()) if v.size else 0.0
    scale = peak / INT16_MAX if peak > 0 else 1.0
    q = np.rint(v / scale).astype("<i2")
    return {"shape": list(v.shape), "scale": scale, "b64": base64.b64encode(q.tobytes()).decode("ascii")}


def decode_matrix(encoded: dict) -> np.ndarray:
    """The inverse of `encode_matrix` (float32, within half a scale step of the original)."""
    q = np.frombuffer(base64.b64decode(encoded["b64"]), dtype="<i2")
    return (q.astype(np.float64) * encoded["scale"]).astype(np.float32).reshape(encoded["shape"])


def settle_step(probs: np.ndarray) -> int:
    """The first step k (1..T) from which the best guess no longer changes: argmax p[k-1:] is constant."""
    guesses = np.asarray(probs).argmax(-1)  # (T,)
    changed = np.flatnonzero(guesses != guesses[-1])
    return int(changed[-1]) + 2 if changed.size else 1


def _colorscale(name: str) -> list[list]:
    """A Plotly colour scale as [[position, "rgb(r,g,b)"], ...] so the browser interpolates the same colours."""
    scale = plotly.colors.get_colorscale(name)
    return [[float(pos), plotly.colors.convert_colors_to_same_type(col, "rgb")[0][0]] for pos, col in scale]


def digit_id(trace, image: np.ndarray) -> str:
    """Identity of one digit read by one model: a new id makes the browser start again at `start`."""
    parts = (np.asarray(image, np.float32), np.asarray(trace.logits, np.float32))
    return hashlib.sha256(b"".join(np.ascontiguousarray(p).tobytes() for p in parts)).hexdigest()[:16]


def stepper_payload(
    trace,
    image: np.ndarray,
    label: int | None,
    order: np.ndarray | None = None,
    start: int | None = None,
    captions: dict[str, str] | None = None,
) -> dict:
    """Everything the browser needs to draw every step of one digit (JSON-serialisable).

    trace: a single-image `Trace` (T steps, H units); image (28, 28); label: the true class or None
    (then the final prediction is emphasised); order: a permutation of the H units (position p shows
    unit order[p]), applied to every unit view; start: the step shown first (default T, the answer).
    Matrices keep the trace's layout: rows (T, F), h/c/gates (T, H) in unit order, probs (T, C); for a stacked
    model h/c/gates are those of the trace's layer (`trace.at_layer`), named in the views' titles.
    """
    img = np.asarray(image, dtype=np.float32)
    probs = np.asarray(trace.probs, dtype=np.float32)  # (T, C)
    n_steps, n_units = np.asarray(trace.h).shape
    idx = np.arange(n_units) if order is None else np.asarray(order, dtype=np.int64)
    if sorted(idx.tolist()) != list(range(n_units)):
        raise ValueError(f"order must be a permutation of 0..{n_units - 1}")
    start = n_steps if start is None else int(start)
    if not 0 <= start <= n_steps:
        raise ValueError(f"start must be in 0..{n_steps}, got {start}")
    final = int(probs[-1].argmax())
    focus = int(label) if label is not None else final
    c_max = symmetric_range(trace.c)
    layer = f", layer {trace.layer + 1}" if trace.n_layers > 1 else ""  # a stacked model's views name their layer
    states = [
        {
            "name": "h",
            "title": f"h (hidden state){layer}",
            "range": [-1.0, 1.0],
            "scale": "diverging",
            "values": encode_matrix(np.asarray(trace.h)[:, idx]),
        }
    ]
    if trace.c is not None:
        states.append(
            {
                "name": "c",
                "title": f"c (cell state){layer}",
                "range": [-c_max, c_max],
                "scale": "diverging",
                "values": encode_matrix(np.asarray(trace.c)[:, idx]),
            }
        )
    gates = []
    for name in trace.gate_names:
        sigmoid = name in SIGMOID_GATES
        gates.append(
            {
                "name": name,
                "title": gate_title(name) + layer,
                "range": [0.0, 1.0] if sigmoid else [-1.0, 1.0],
                "scale": "sequential" if sigmoid else "diverging",
                "values": encode_matrix(np.asarray(trace.gates[name])[:, idx]),
            }
        )
    return {
        "id": digit_id(trace, img),
        "cell": trace.cell,
        "n_steps": int(n_steps),
        "layer": int(trace.layer),
        "n_layers": int(trace.n_layers),
        "n_units": int(n_units),
        "n_classes": int(probs.shape[1]),
        "start": start,
        "settle": settle_step(probs),
        "label": None if label is None else int(label),
        "focus": focus,
        "prediction": final,
        "order": idx.tolist(),
        "image": encode_matrix(img),
        "rows": encode_matrix(np.asarray(trace.rows)),
        "probs": encode_matrix(probs),
        "states": states,
        "gates": gates,
        "embed_size": int(np.asarray(trace.projected).shape[-1]),
        "colors": {
            "diverging": _colorscale(DIVERGING),
            "sequential": _colorscale(SEQUENTIAL),
            "classes": [CLASS_COLORS[c % len(CLASS_COLORS)] for c in range(probs.shape[1])],
            "mark": MARK,
            "unread": UNREAD_BG,
        },
        "captions": dict(captions or {}),
    }
