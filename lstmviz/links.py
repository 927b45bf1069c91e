"""Links that reopen a view: which page state goes into the URL, and how a link's values are checked.

Pure (no Streamlit): a page declares `{param: Param(widget_key, parser)}`; `parse_params` turns a
link's query parameters into widget values, ignoring (with a note) anything that does not parse;
`to_query` is the reverse. `lstmviz.ui.links` applies them to `st.session_state` / `st.query_params`.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np

from .config import MAX_LAYERS, MIN_LAYERS
from .ordering import ORDERS
from .truncation import MODES

HIDE_PARAM = "hide"
DRAWN_PARAM = "drawn"
MODEL_PARAM = "model"
STEP_PARAM = "step"
PAGES = ("home", "lesson", "explorer", "draw", "truncation", "state_space", "neurons", "cells", "train")
CONTROLS = ("upload",)  # named controls `?hide=` can hide besides pages


class LinkValueError(ValueError):
    """A query parameter's value that cannot be used (the message says what is expected)."""


Parser = Callable[[str], Any]


def integer(lo: int, hi: int) -> Parser:
    """A whole number in lo..hi."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise LinkValueError(f"not a whole number (expected {lo}–{hi})") from None
        if not lo <= value <= hi:
            raise LinkValueError(f"out of range (expected {lo}–{hi})")
        return value

    return parse


def choice(options: Iterable[Any]) -> Parser:
    """One of `options`, written as its str()."""
    by_text = {str(o): o for o in options}

    def parse(text: str) -> Any:
        if text not in by_text:
            raise LinkValueError(f"not one of {', '.join(by_text)}")
        return by_text[text]

    return parse


@dataclass(frozen=True)
class Param:
    """One URL parameter of a page: the widget (session-state) key it restores, its parser, and how a
    widget value is written back into the link (`show`, the parser's inverse; `str` by default)."""

    key: str
    parse: Parser
    show: Callable[[Any], str] = str


def named(key: str, values: Mapping[str, Any]) -> Param:
    """A parameter written as a short name that stands for a widget value (e.g. `view=confusion` for the tab
    labelled "Confusion")."""
    pick, names = choice(values), {v: name for name, v in values.items()}
    return Param(key, lambda text: values[pick(text)], lambda value: names[value])


def parse_params(query: Mapping[str, str], spec: Mapping[str, Param]) -> tuple[dict[str, Any], list[str]]:
    """Query parameters -> ({widget key: value}, notes on the ignored ones). Unknown names are left alone."""
    values: dict[str, Any] = {}
    notes: list[str] = []
    for name, param in spec.items():
        if name not in query:
            continue
        text = str(query[name])
        try:
            values[param.key] = param.parse(text)
        except LinkValueError as exc:
            notes.append(f"{name}={text[:40]} ignored: {exc}")
    return values, notes


def to_query(state: Mapping[str, Any], spec: Mapping[str, Param]) -> dict[str, str]:
    """{widget key: value} -> {param: text} for the spec's keys present in `state` (in spec order)."""
    return {name: p.show(state[p.key]) for name, p in spec.items() if p.key in state and state[p.key] is not None}


def parse_hide(text: str) -> tuple[set[str], list[str]]:
    """`?hide=train,upload` -> ({"train", "upload"}, notes on unknown names)."""
    known = set(PAGES) | set(CONTROLS)
    names = {n.strip().lower() for n in str(text).split(",") if n.strip()}
    unknown = sorted(names - known)
    notes = [f"hide={n} ignored: no page or control of that name" for n in unknown]
    return names & known, notes


def parse_model(text: str, names: Iterable[str]) -> tuple[str | None, list[str]]:
    """A model's file name (e.g. `lstm.safetensors`, or its stem) -> that name, if it is one of `names`."""
    names = list(names)
    text = str(text).strip()
    for n in names:
        if text == n or text + ".safetensors" == n:
            return n, []
    return None, [f"model={text[:40]} ignored: no such model on this server"]


def view_url(page: str, params: Mapping[str, str]) -> str:
    """The relative link to a page with its parameters, e.g. `/explorer?digit=42&step=17`."""
    path = "/" if page == "home" else f"/{page}"
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""}, safe=",")
    return f"{path}?{query}" if query else path


def absolute_url(base: str | None, relative: str) -> str:
    """Join a server's base URL (scheme://host[:port][/prefix], e.g. from `st.context.url`) with a relative link."""
    if not base:
        return relative
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    prefix = parts.path.rstrip("/")
    # st.context.url includes the current page's path: keep only a server prefix that ends before it
    for page in PAGES:
        if prefix.endswith("/" + page):
            prefix = prefix[: -len(page) - 1]
            break
    return f"{parts.scheme}://{parts.netloc}{prefix}{relative}"


# ---------------------------------------------------------------- a drawn digit in a link

DRAWN_SIDE = 28  # the model's input: 28 x 28 in 0..1
DRAWN_LEVELS = 16  # grey levels kept (4 bits a pixel): the restored image is within 1/30 of the drawing
DRAWN_VERSION = "1."  # the format's prefix, so another encoding can come later without breaking old links
DRAWN_MAX_CHARS = 700  # a longer value is refused before it is decoded (a valid one is at most ~560)
_DRAWN_BYTES = DRAWN_SIDE * DRAWN_SIDE // 2  # two pixels a byte


def encode_drawing(image: np.ndarray) -> str:
    """A (28, 28) input in 0..1 -> a short URL-safe text: 16 grey levels, two pixels a byte, zlib,
    base64url without padding (a drawn digit takes about 200-350 characters)."""
    img = np.asarray(image, dtype=np.float32)
    if img.shape != (DRAWN_SIDE, DRAWN_SIDE):
        raise ValueError(f"expected a {DRAWN_SIDE}x{DRAWN_SIDE} image, got {img.shape}")
    q = np.rint(np.clip(np.nan_to_num(img), 0.0, 1.0) * (DRAWN_LEVELS - 1)).astype(np.uint8).ravel()  # (784,)
    packed = (q[0::2] << 4) | q[1::2]  # (392,)
    data = base64.urlsafe_b64encode(zlib.compress(packed.tobytes(), 9)).rstrip(b"=")
    return DRAWN_VERSION + data.decode("ascii")


def decode_drawing(text: str) -> np.ndarray:
    """`encode_drawing`'s text -> the (28, 28) float32 image (levels / 15); LinkValueError for anything
    else: too long, not base64url, truncated, the wrong size, or blank."""
    text = str(text).strip()
    if len(text) > DRAWN_MAX_CHARS:
        raise LinkValueError(f"too long ({len(text)} characters; a drawing takes at most {DRAWN_MAX_CHARS})")
    if not text.startswith(DRAWN_VERSION):
        raise LinkValueError("not a drawing made by this app")
    body = text[len(DRAWN_VERSION) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise LinkValueError("not a drawing made by this app (bad characters)") from None
    inflate = zlib.decompressobj()
    try:
        packed = inflate.decompress(raw, _DRAWN_BYTES + 1)  # never more than one image's bytes
    except zlib.error:
        raise LinkValueError("the drawing is damaged (cut short?)") from None
    if len(packed) != _DRAWN_BYTES or not inflate.eof or inflate.unconsumed_tail or inflate.unused_data:
        raise LinkValueError("the drawing is damaged (cut short?)")
    b = np.frombuffer(packed, dtype=np.uint8)
    q = np.empty(DRAWN_SIDE * DRAWN_SIDE, np.uint8)
    q[0::2], q[1::2] = b >> 4, b & 0x0F
    if not q.any():
        raise LinkValueError("the drawing is blank")
    return (q.astype(np.float32) / (DRAWN_LEVELS - 1)).reshape(DRAWN_SIDE, DRAWN_SIDE)


def drawing(text: str) -> str:
    """Parser of `drawn=`: the same text, once it decodes to a drawing (the page decodes it again)."""
    text = str(text).strip()
    decode_drawing(text)
    return text


def number(lo: float, hi: float) -> Parser:
    """A decimal number in lo..hi."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise LinkValueError(f"not a number (expected {lo:g}–{hi:g})") from None
        if not lo <= value <= hi:
            raise LinkValueError(f"out of range (expected {lo:g}–{hi:g})")
        return value

    return parse


STEPS = 28
# The Truncation page's tabs under the curves: the link's name -> the tab's label (its widget value).
TRUNCATION_VIEWS = {
    "per_class": "Per class",
    "confusion": "Confusion",
    "seen": "What the model sees",
    "decision": "Rows to decide",
}


def layer_number(text: str) -> int:
    """`layer=` counts from 1 (the layer that reads the rows), as the pages' Layer selector shows it; the
    widget's value counts from 0. A layer the model does not have is dropped by the page's selector."""
    return integer(MIN_LAYERS, MAX_LAYERS)(text) - 1


def show_layer(value: int) -> str:
    """The Layer selector's value (from 0) as `layer=` (from 1)."""
    return str(int(value) + 1)


def _layer(key: str) -> Param:
    return Param(key, layer_number, show_layer)


ORDER_METHODS = tuple(ORDERS)
TRUNCATION_MODES = MODES


def page_params(page: str, n_test: int = 10_000, hidden_size: int = 512) -> dict[str, Param]:
    """Every page's URL parameters: {param: Param(widget key on that page, parser)}.

    n_test: the test split's size (digit indices 0..n_test-1); hidden_size: the model's units.
    The step of a page with a step-through (`step`) is handled apart: see `STEP_PAGES`.
    """
    digit = integer(0, max(n_test - 1, 0))
    classes = choice(list(range(10)))
    specs = {
        "home": {},
        "lesson": lambda: {
            "chapter": Param("lesson_step", integer(1, _chapters())),
            "digit": Param("lesson_digit", digit),
        },
        "explorer": {
            "mode": Param("exp_mode", choice(["index", "random", "class", "wrong"])),
            "digit": Param("exp_index", digit),
            "pick": Param("exp_random", digit),  # the digit a random pick chose
            "class": Param("exp_class", classes),
            "item": Param("exp_class_item", integer(1, max(n_test, 1))),
            "wrong": Param("exp_wrong", digit),
            "order": Param("exp_order", choice(ORDER_METHODS)),
            "layer": _layer("exp_layer"),
        },
        "draw": {
            "input": Param("draw_source", choice(["draw", "upload"])),
            "stroke": Param("draw_stroke", integer(6, 40)),
            "order": Param("draw_order", choice(ORDER_METHODS)),
            "layer": _layer("draw_layer"),
            DRAWN_PARAM: Param("draw_drawn", drawing),  # the drawn digit itself (the page keeps it up to date)
        },
        "truncation": {
            "mode": Param("trunc_mode", choice(TRUNCATION_MODES)),
            "k": Param("trunc_k", integer(1, STEPS)),
            "view": named("trunc_view", TRUNCATION_VIEWS),
        },
        "state_space": {
            "n": Param("space_n", choice([200, 500, 1000, 2000])),
            "view": Param("space_dims", choice(["2-D", "3-D"])),
            "tail": Param("space_tail", integer(0, 8)),
            "digit": Param("space_index", digit),
            "layer": _layer("space_layer"),
        },
        "neurons": {
            "state": Param("neuron_state", choice(["h", "c"])),
            "n": Param("neuron_n", choice([500, 1000, 2000])),
            "band": Param("neuron_band", choice(["quartiles", "std"])),
            "top": Param("neuron_sign", choice(["highest", "lowest"])),
            "map": Param("neuron_source", choice(["digit", "class"])),
            "digit": Param("neuron_index", digit),
            "class": Param("neuron_class", classes),
            "unit": Param("neuron_unit", integer(0, max(hidden_size - 1, 0))),
            "layer": _layer("neuron_layer"),
        },
        "cells": {"mode": Param("cells_mode", choice(TRUNCATION_MODES))},
        "train": lambda: {
            "preset": Param("train_preset", choice(_presets())),
            "epochs": Param("train_epochs", integer(1, 50)),
            "hidden": Param("train_hidden", choice([16, 32, 64, 128, 256])),
            "n": Param("train_n", choice([1000, 2000, 5000, 10_000, 20_000, 30_000, 55_000, 60_000])),
            "lr": Param("train_lr", number(1e-5, 1.0)),
            "batch": Param("train_batch", choice([32, 64, 128, 256, 512])),
            "seed": Param("train_seed", integer(0, 2**31 - 1)),
        },
    }
    if page not in specs:
        raise KeyError(f"no link parameters for page {page!r}")
    spec = specs[page]
    return spec() if callable(spec) else spec  # the lesson's and Train's, built only for their page (torch)


def _chapters() -> int:
    from .lesson import N_CHAPTERS  # the lesson and the recipes import torch: only their own pages need them

    return N_CHAPTERS


def _presets() -> list[str]:
    from .train import PRESETS

    return list(PRESETS)


STEP_PAGES = {"explorer": integer(0, STEPS)}  # pages whose step-through opens at `?step=`
