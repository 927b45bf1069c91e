"""The numbers the pages state, moved out of the pages: each checked against a direct computation on a
hand-made or real input (neuron explorer, cell comparison, truncation)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.comparison import accuracy, memory_caption, row1_text, sensitivity_caption
from lstmviz.neurons import (
    band_limits,
    class_average,
    class_profile,
    colour_limit,
    top_digits,
    top_titles,
    unit_summary,
)
from lstmviz.summaries import class_examples, decision_summary, decision_text, mode_gap


@pytest.fixture
def states():
    rng = np.random.default_rng(0)
    return rng.normal(size=(60, 28, 5)).astype(np.float32), np.arange(60) % 10  # (N, T, H), labels


def test_class_average_is_the_mean_of_that_class(states):
    s, y = states
    for cls in (0, 3, 9):
        expected = np.stack([s[i] for i in range(len(y)) if y[i] == cls]).mean(0)
        np.testing.assert_allclose(class_average(s, y, cls), expected, rtol=1e-6)
    assert class_average(s, y, 11).shape == (28, 5) and not class_average(s, y, 11).any()  # no digit: zeros


def test_colour_limit_is_one_for_squashed_states_and_rounds_c_up():
    c = np.array([[[0.2, -2.31]]])
    assert colour_limit(c, "h") == 1.0
    assert colour_limit(c, "c") == pytest.approx(2.4)
    assert colour_limit(c * 0.1, "c") == 1.0  # never narrower than ±1


def test_band_limits(states):
    s, y = states
    p = class_profile(s[..., 0], y)
    lo, hi = band_limits(p, "quartiles")
    np.testing.assert_array_equal(lo, p.q25)
    np.testing.assert_array_equal(hi, p.q75)
    lo, hi = band_limits(p, "std")
    np.testing.assert_allclose(hi - lo, 2 * p.std)
    with pytest.raises(ValueError, match="band"):
        band_limits(p, "range")


def test_unit_summary_by_hand():
    # 4 digits of classes 0, 0, 1, 2 over 3 steps; class 1 ends highest, class 2 lowest
    values = np.array([[0, 1, 1], [0, 1, 3], [0, 0, 5], [0, -2, -4]], dtype=np.float64)
    labels = np.array([0, 0, 1, 2])
    s = unit_summary(values, class_profile(values, labels, n_classes=3))
    assert s.mean == pytest.approx(values.mean())
    assert (s.high_class, s.high_value) == (1, 5.0)
    assert (s.low_class, s.low_value) == (2, -4.0)
    # |changes| per step, mean over digits: step 1 = 0, step 2 = (1+1+0+2)/4 = 1, step 3 = (0+2+5+2)/4 = 2.25
    np.testing.assert_allclose(s.changes, [0, 1, 2.25])
    assert s.busiest == [1, 2, 3]
    assert s.spread == pytest.approx(5.0)  # class 1: 0 -> 5 (class 2 spans 4, class 0 spans 2)
    assert unit_summary(values, class_profile(values, labels, 3), n_busiest=1).busiest == [3]


def test_top_titles_name_index_class_value_and_row():
    values = np.array([[0.0, 0.5], [0.9, 0.1]])
    top = top_digits(values, 2)
    titles = top_titles(np.array([40, 7])[top.positions], np.arange(50) % 10, top)
    assert titles == ["#7: a 7<br>+0.90 at row 1", "#40: a 0<br>+0.50 at row 2"]


def test_accuracy_and_its_guard():
    assert accuracy(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4])) == 0.75
    with pytest.raises(ValueError):
        accuracy(np.array([1, 2]), np.array([1, 2, 3]))


def test_comparison_captions_state_the_data():
    trained = {"LSTM": np.array([0.02, 0.5, 1.0]), "RNN": np.array([1e-7, 0.2, 2.0])}
    assert row1_text(trained) == "LSTM 0.02, RNN 5e-08"
    text = sensitivity_caption(500, trained, trained)
    assert text.startswith("For 500 test digits") and text.count("LSTM 0.02") == 2
    curve_a = np.linspace(0.1, 0.99, 28)
    curve_b = np.full(28, 0.5)
    text = memory_caption({"A": curve_a, "B": curve_b}, k=18, level=0.9)
    assert f"A {curve_a[17]:.1%}, B 50.0%" in text
    first = int(np.flatnonzero(curve_a >= 0.9)[0]) + 1
    assert f"Rows needed for 90%: A {first}, B never." in text


def test_decision_summary_and_text():
    steps = np.array([3, 5, 9, 0, -1, 7])
    d = decision_summary(steps)
    assert (d.median, d.undecided, d.n) == (int(np.median([3, 5, 9, 7])), 2, 6)
    assert "decided by **6 rows**" in decision_text(steps, "occlusion")
    none = decision_text(np.zeros(4, dtype=int), "early")
    assert "Half" not in none and "**4** of 4 are never decided" in none


def test_class_examples_and_mode_gap(test_split):
    labels = test_split.labels.numpy()
    idx = class_examples(labels)
    assert list(labels[idx]) == list(range(10))
    assert all(not (labels[:i] == labels[i]).any() for i in idx)  # the first of each class
    assert list(class_examples(np.array([4, 4, 2]))) == [2, 0]
    assert mode_gap(np.array([0.1, 0.5]), np.array([0.2, 0.2])) == pytest.approx(0.3)
