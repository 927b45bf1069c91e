"""One palette per kind of thing, defined once; a colour never means two things; honest axes; square digits."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from lstmviz.figures import common
from lstmviz.figures.cells import accuracy_bars_figure
from lstmviz.figures.common import CELL_COLORS, CLASS_COLORS, MARK, MODE_COLORS, PALETTES, digit_strip
from lstmviz.figures.truncation import curves_figure, decision_figure
from lstmviz.model import CELLS
from lstmviz.truncation import MODES

ROOT = Path(__file__).resolve().parent.parent
MIN_DELTA_E = 20.0  # CIE76 distance: below about 10 two lines look alike on a projector


def lab(hex_color: str) -> np.ndarray:
    """sRGB '#rrggbb' -> CIELAB (D65)."""
    rgb = np.array([int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    rgb = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ rgb
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > 0.008856, np.cbrt(t), 7.787 * t + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_palettes_cover_their_things():
    assert set(MODE_COLORS) == set(MODES) and set(CELL_COLORS) == set(CELLS) and len(CLASS_COLORS) == 10


def test_no_colour_means_two_things():
    """Across palettes (modes, cells, classes, the mark, other series) every pair is far apart; within one too."""
    named = [(kind, c) for kind, colors in PALETTES.items() for c in colors]
    for (kind_a, a), (kind_b, b) in itertools.combinations(named, 2):
        if kind_a == kind_b == "class":
            continue  # the ten class colours are the shared tab10 set, fixed before this rule
        distance = float(np.linalg.norm(lab(a) - lab(b)))
        assert distance >= MIN_DELTA_E, f"{kind_a} {a} and {kind_b} {b} look alike (ΔE {distance:.1f})"


def test_lab_conversion_is_right():
    np.testing.assert_allclose(lab("#ffffff"), [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(lab("#ff0000"), [53.24, 80.09, 67.20], atol=0.1)
    assert np.linalg.norm(lab("#ff8c00") - lab("#ff7f0e")) < MIN_DELTA_E  # the old mark: a class colour's twin


def test_palettes_are_defined_once():
    """No module but figures/common.py defines a mode, cell or mark colour, and there is one spelling."""
    for path in [*ROOT.joinpath("lstmviz").rglob("*.py"), *ROOT.joinpath("pages").glob("*.py")]:
        text = path.read_text()
        assert "COLOURS" not in text, f"{path}: spell it COLORS"
        if path.name != "common.py":
            for name in ("MODE_COLORS =", "CELL_COLORS =", "CLASS_COLORS =", "MARK ="):
                assert name not in text, f"{path} defines its own {name[:-2]}"
    assert common.MARK == MARK
    # the step-through component draws its marks in the colour its payload carries (figures.common.MARK)
    stepper = ROOT / "lstmviz" / "ui" / "stepper"
    css, js = (stepper / "stepper.css").read_text(), (stepper / "stepper.js").read_text()
    assert "var(--lsv-mark)" in css and '"--lsv-mark", data.colors.mark' in js
    assert not re.search(r"#[0-9a-fA-F]{6}", css.split("lsv-mark", 1)[1].split("}", 1)[0]), "a mark colour in the CSS"


def test_figures_use_the_palettes():
    fig = curves_figure({m: np.linspace(0.1, 0.9, 28) for m in MODES}, k=5)
    assert [t.line.color for t in fig.data] == [MODE_COLORS[m] for m in MODES]
    decision = decision_figure(np.array([3, 5, 5, -1, 28]), color=MODE_COLORS["early"])
    assert decision.data[0].marker.color[0] == MODE_COLORS["early"]
    line = decision.data[1].line.color
    assert line not in {c for colors in PALETTES.values() for c in colors}  # ink, not a category


def test_accuracy_bars_start_at_zero():
    fig = accuracy_bars_figure(["LSTM", "GRU", "plain RNN"], [0.991, 0.989, 0.975], list(CELL_COLORS.values()))
    assert fig.layout.yaxis.range[0] == 0 and fig.layout.yaxis.range[1] >= 1.0


@pytest.mark.parametrize("n", [1, 5, 12])
def test_digit_strip_keeps_digits_square(n):
    fig = digit_strip(np.random.default_rng(0).uniform(0, 1, (n, 28, 28)), list(range(n)))
    for i in range(n):
        axis = "" if i == 0 else str(i + 1)
        y, x = fig.layout[f"yaxis{axis}"], fig.layout[f"xaxis{axis}"]
        assert y.scaleanchor == f"x{axis}" and (y.scaleratio or 1) == 1
        assert y.constrain == "domain" and x.constrain == "domain"
