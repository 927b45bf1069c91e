"""lstmviz.links: the pure part of links that reopen a view (parsing, validation, URLs)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from lstmviz import links
from lstmviz.links import (
    Param,
    choice,
    integer,
    number,
    page_params,
    parse_hide,
    parse_model,
    parse_params,
)

ROOT = Path(__file__).resolve().parent.parent
SEVEN = np.zeros((28, 28), np.float32)
SEVEN[6, 6:22] = 1.0
SEVEN[7:22, 13] = np.linspace(0.2, 0.9, 15)  # grey values between the 16 levels
DRAWN = links.encode_drawing(SEVEN)


def test_integer_choice_number():
    assert integer(0, 9)("7") == 7 and integer(0, 9)(" 0 ") == 0
    for bad in ("10", "-1", "4.5", "abc", ""):
        with pytest.raises(links.LinkValueError):
            integer(0, 9)(bad)
    assert choice([200, 500])("500") == 500 and choice(["2-D", "3-D"])("3-D") == "3-D"
    with pytest.raises(links.LinkValueError):
        choice([200, 500])("300")
    assert number(1e-5, 1.0)("0.001") == pytest.approx(0.001)
    with pytest.raises(links.LinkValueError):
        number(1e-5, 1.0)("2")


def test_parse_params_keeps_good_values_and_notes_bad_ones():
    spec = {"digit": Param("exp_index", integer(0, 9999)), "mode": Param("exp_mode", choice(["index", "random"]))}
    values, notes = parse_params({"digit": "42", "mode": "sideways", "other": "x"}, spec)
    assert values == {"exp_index": 42}
    assert len(notes) == 1 and notes[0].startswith("mode=sideways ignored")
    values, notes = parse_params({"digit": "1e9"}, spec)
    assert values == {} and "digit=1e9" in notes[0]


@pytest.mark.parametrize("page", links.PAGES)
def test_round_trip_of_every_page_spec(page):
    """state -> query -> state gives the same values for every parameter of every page."""
    spec = page_params(page, n_test=10_000, hidden_size=128)
    state = {}
    for name, p in spec.items():
        # the first value each parser accepts among a few candidates
        for text in (
            "3",
            "1",
            "0",
            "index",
            "notebook",
            "h",
            "2-D",
            "500",
            "quartiles",
            "highest",
            "digit",
            "draw",
            "default",
            "0.001",
            "64",
            "1000",
            "32",
            "similarity",
            "early",
            "confusion",
            DRAWN,
        ):
            try:
                state[p.key] = p.parse(text)
                break
            except links.LinkValueError:
                continue
        assert p.key in state, f"{page}: no candidate value parses for {name}"
    query = links.to_query(state, spec)
    values, notes = parse_params(query, spec)
    assert values == state and notes == []


@pytest.mark.parametrize("page", links.PAGES)
def test_every_param_names_a_widget_key_of_its_page(page):
    """A page that renames a widget key must update its link parameters (or links break silently)."""
    source = (ROOT / "pages" / f"{page}.py").read_text(encoding="utf-8")
    if page == "explorer" or page == "draw":  # the step-through's keys: f"{key_prefix}order", f"{key_prefix}layer"
        source += "\n" + "".join(f'"{p}{name}"' for p in ("exp_", "draw_") for name in ("order", "layer"))
    own_ui = ROOT / "lstmviz" / "ui" / f"{page}.py"  # a page's controls may live in its own ui module
    if page in ("neurons", "draw"):
        source += "\n" + own_ui.read_text(encoding="utf-8")
    for name, p in page_params(page).items():
        assert re.search(rf"[\"']{re.escape(p.key)}[\"']", source), (
            f"{page}: {name} -> {p.key} is not a key on the page"
        )


def test_layer_counts_from_one_in_the_link():
    """`layer=1` is the layer that reads the rows (the selector's 0); layers a model cannot have are refused."""
    for page, key in (
        ("explorer", "exp_layer"),
        ("draw", "draw_layer"),
        ("state_space", "space_layer"),
        ("neurons", "neuron_layer"),
    ):
        param = page_params(page)["layer"]
        assert param.key == key
        assert param.parse("1") == 0 and param.parse("3") == 2
        for bad in ("0", "4", "top"):
            with pytest.raises(links.LinkValueError):
                param.parse(bad)
        assert links.to_query({key: 1}, {"layer": param}) == {"layer": "2"}


def test_hide_and_model():
    names, notes = parse_hide("train, Upload,nosuch")
    assert names == {"train", "upload"} and len(notes) == 1 and "nosuch" in notes[0]
    assert parse_model("lstm-noaug.safetensors", ["lstm.safetensors", "lstm-noaug.safetensors"]) == (
        "lstm-noaug.safetensors",
        [],
    )
    assert parse_model("gru", ["gru.safetensors"])[0] == "gru.safetensors"
    name, notes = parse_model("../../etc/passwd", ["lstm.safetensors"])
    assert name is None and notes


def test_urls():
    assert links.view_url("explorer", {"digit": "42", "step": "17"}) == "/explorer?digit=42&step=17"
    assert links.view_url("home", {}) == "/"
    assert links.view_url("train", {"hide": "train,upload"}) == "/train?hide=train,upload"
    assert links.absolute_url("http://host:8501/explorer", "/explorer?digit=1") == "http://host:8501/explorer?digit=1"
    assert links.absolute_url("https://x.org/app/neurons", "/neurons?unit=3") == "https://x.org/app/neurons?unit=3"
    assert links.absolute_url(None, "/draw") == "/draw"


def test_drawing_round_trip_within_the_quantisation():
    rng = np.random.default_rng(0)
    for image in (SEVEN, rng.random((28, 28), dtype=np.float32), np.eye(28, dtype=np.float32)):
        text = links.encode_drawing(image)
        assert re.fullmatch(r"1\.[A-Za-z0-9_-]+", text) and len(text) <= links.DRAWN_MAX_CHARS
        back = links.decode_drawing(text)
        assert back.shape == (28, 28) and back.dtype == np.float32
        assert np.abs(back - image).max() <= 0.5 / 15 + 1e-6
        assert links.encode_drawing(back) == text  # a restored drawing links to itself
    assert len(DRAWN) < 120
    with pytest.raises(ValueError):
        links.encode_drawing(np.zeros((20, 20)))


def test_bad_drawings_are_refused():
    import base64
    import zlib

    def b64(data: bytes) -> str:
        return "1." + base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    bad = {
        DRAWN[:-8]: "damaged",  # cut short
        DRAWN[:30] + ("A" if DRAWN[30] != "A" else "B") + DRAWN[31:]: "damaged",  # one character changed
        "1." + "A" * 800: "too long",
        "2" + DRAWN[1:]: "not a drawing",
        "1.abc$%def": "bad characters",
        b64(zlib.compress(bytes(392))): "blank",
        b64(zlib.compress(bytes(100))): "damaged",  # too few pixels
        b64(zlib.compress(bytes(10**5))): "damaged",  # a bomb: never inflated past one image
        b64(zlib.compress(bytes(392)) + b"trailing"): "damaged",
        "": "not a drawing",
    }
    for text, why in bad.items():
        with pytest.raises(links.LinkValueError, match=why):
            links.decode_drawing(text)
    values, notes = parse_params({"drawn": DRAWN[:-8]}, page_params("draw"))
    assert values == {} and notes[0].startswith("drawn=")
