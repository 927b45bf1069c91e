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


def test_find_compared_models_orders_and_checks_the_four(tmp_path):
    from lstmviz.checkpoint import save_checkpoint
    from lstmviz.comparison import STACKED, find_compared_models, layers_problem
    from lstmviz.model import ModelConfig, build_model

    save_checkpoint(tmp_path / "lstm.safetensors", build_model(ModelConfig(hidden_size=16, embed_size=16)), {})
    save_checkpoint(tmp_path / f"{STACKED}.safetensors", build_model(ModelConfig(hidden_size=16, cell="gru")), {})
    found = find_compared_models(tmp_path)
    assert [(f.key, f.cell, f.layers) for f in found] == [
        ("lstm", "lstm", 1),
        (STACKED, "lstm", 2),
        ("gru", "gru", 1),
        ("rnn", "rnn", 1),
    ]
    assert found[0].problem is None
    assert "holds a gru model, not an lstm" in found[1].problem
    assert "is not in" in found[2].problem and "is not in" in found[3].problem
    assert (
        found[1].train_command == f"python -m lstmviz train --cell lstm --layers 2 --out models/{STACKED}.safetensors"
    )
    assert (
        layers_problem(found[1], 2) is None
        and layers_problem(found[1], 1) == f"{STACKED}.safetensors has 1 layer, not 2"
    )


def test_setup_caption_says_what_differs():
    from lstmviz.comparison import setup_caption
    from lstmviz.model import ModelConfig

    same = setup_caption({"LSTM": ModelConfig(), "GRU": ModelConfig(cell="gru")})
    assert "Same projection `Linear(28→128)`" in same and "`Linear(128→10)`" in same
    assert "only the recurrent cell differs" in same
    mixed = setup_caption({"LSTM": ModelConfig(), "2-layer LSTM": ModelConfig(num_layers=2, hidden_size=64)})
    assert "Linear(128→10)" not in mixed and "for the 2-layer LSTM, the number of stacked layers" in mixed
    assert "LSTM 128, 2-layer LSTM 64 units" in mixed


def test_second_layer_text_states_the_measurements():
    from lstmviz.comparison import Facts, noise_level, second_layer_text

    T = 28
    early1, early2 = np.linspace(0.1, 0.98, T), np.linspace(0.12, 0.97, T)
    occ1, occ2 = np.linspace(0.2, 0.98, T), np.linspace(0.3, 0.99, T)
    sens1, sens2 = np.linspace(0.01, 1, T), np.linspace(0.05, 1, T)
    one = Facts(0.9800, 100_000, {"early": early1, "occlusion": occ1}, sens1, 10_000)
    two = Facts(0.9850, 150_000, {"early": early2, "occlusion": occ2}, sens2, 10_000)
    text = second_layer_text(one, two)
    assert "**150,000 parameters** against 100,000 (1.5×)" in text
    assert "**98.50%** against 98.00% (+0.50 points)" in text
    noise = noise_level(0.9825, 10_000)
    assert noise == pytest.approx(2 * np.sqrt(2 * 0.9825 * 0.0175 / 10_000))
    assert "better by more than the test set's noise" in text  # 0.50 > 0.37 points
    ahead = int((early2 > early1).sum())
    assert f"ahead at {ahead} of the 28 k's" in text
    assert f"{occ2[17]:.1%} against {occ1[17]:.1%}" in text
    assert "leans more on the first rows" in text
    # occlusion at 18 rows: 0.3 + 0.69*17/27 vs 0.2 + 0.78*17/27, 4.3 points apart: beyond the noise
    assert (
        "In short, on these digits: 1.5× the parameters, a gain in accuracy beyond the noise, a longer memory" in text
    )
    close = second_layer_text(one, Facts(0.9805, 150_000, {}, sens1, 10_000))
    assert "within the noise of 10,000 test digits" in close and "early readout" not in close
