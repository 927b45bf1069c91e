"""Neuron explorer: per-class profiles, top digits, changes per row, selection parsing, figures."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.figures.common import MARK
from lstmviz.figures.neurons import (
    changes_figure,
    class_profile_figure,
    top_digits_figure,
    unit_map_figure,
)
from lstmviz.model import ModelConfig, build_model
from lstmviz.neurons import (
    class_profile,
    mean_step_changes,
    step_changes,
    top_digits,
    unit_from_selection,
    unit_values,
)
from lstmviz.statespace import collect_states


@pytest.fixture(scope="module")
def sample(test_split):
    return test_split.images[:300].numpy(), test_split.labels[:300].numpy()


def test_class_profile_equals_a_direct_computation(tiny_model, sample):
    images, labels = sample
    states = collect_states(tiny_model, images)
    values = unit_values(states.c, 5)  # (N, T)
    np.testing.assert_array_equal(values, states.c[:, :, 5])
    profile = class_profile(values, labels)
    for cls in range(10):
        rows = [values[i] for i in range(len(labels)) if labels[i] == cls]
        direct = np.array(rows, dtype=np.float64)
        assert profile.counts[cls] == len(rows)
        np.testing.assert_allclose(profile.mean[cls], direct.sum(0) / len(rows), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(profile.std[cls], np.sqrt(((direct - direct.mean(0)) ** 2).mean(0)), atol=1e-9)
        for t in (0, 13, 27):
            column = np.sort(direct[:, t])
            for q, got in ((0.25, profile.q25[cls, t]), (0.75, profile.q75[cls, t])):
                pos = q * (len(column) - 1)  # linear interpolation between order statistics
                lo = int(np.floor(pos))
                hi = min(lo + 1, len(column) - 1)
                assert got == pytest.approx(column[lo] + (pos - lo) * (column[hi] - column[lo]))


def test_class_profile_leaves_missing_classes_blank():
    values = np.arange(12, dtype=np.float64).reshape(4, 3)
    profile = class_profile(values, np.array([0, 0, 2, 2]), n_classes=4)
    np.testing.assert_allclose(profile.mean[0], [1.5, 2.5, 3.5])
    assert np.isnan(profile.mean[1]).all() and profile.counts.tolist() == [2, 0, 2, 0]


@pytest.mark.parametrize("sign", [1, -1])
def test_top_digits_really_are_the_furthest(sign):
    rng = np.random.default_rng(7)
    values = rng.normal(size=(200, 28))
    top = top_digits(values, k=5, sign=sign)
    peaks = (values * sign).max(1)
    assert set(top.positions) == set(np.argsort(-peaks)[:5])
    assert np.all(np.diff(top.values * sign) <= 0)  # best first
    for pos, value, step in zip(top.positions, top.values, top.steps, strict=False):
        assert value == values[pos, step - 1]
        assert value * sign == pytest.approx(peaks[pos])
        assert all(peaks[top.positions].min() >= peaks[other] for other in range(200) if other not in top.positions)
    with pytest.raises(ValueError):
        top_digits(values, sign=0)


def test_step_changes_start_from_the_zero_state():
    v = np.array([[0.5, 0.2, 0.9], [-1.0, -1.0, 0.0]])
    np.testing.assert_allclose(step_changes(v), [[0.5, 0.3, 0.7], [1.0, 0.0, 1.0]])
    np.testing.assert_allclose(mean_step_changes(v), [0.75, 0.15, 0.85])
    np.testing.assert_allclose(step_changes(v[0]), [0.5, 0.3, 0.7])


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_cells_without_c_work(cell, sample):
    images, labels = sample
    model = build_model(ModelConfig(hidden_size=16, embed_size=8, cell=cell), seed=1)
    states = collect_states(model, images[:60])
    assert states.c is None
    values = unit_values(states.h, 9)
    profile = class_profile(values, labels[:60])
    assert profile.mean.shape == (10, 28)
    top = top_digits(values, 3)
    assert values[top.positions[0]].max() == values.max()
    with pytest.raises(ValueError):
        unit_values(states.h, 16)


def test_unit_from_selection_reads_streamlits_event():
    event = {
        "selection": {
            "points": [{"x": 4, "y": 17, "customdata": 17, "curve_number": 1}],
            "point_indices": [3],
            "box": [],
            "lasso": [],
        }
    }
    assert unit_from_selection(event) == 17
    assert unit_from_selection({"selection": {"points": [{"x": 4, "y": 9}]}}) == 9
    assert unit_from_selection({"selection": {"points": [{"customdata": [23]}]}}) == 23
    assert unit_from_selection({"selection": {"points": [], "box": [], "lasso": []}}) is None
    assert unit_from_selection(None) is None
    assert unit_from_selection({"selection": {"points": [{"x": 1, "y": "a"}]}}) is None


def test_unit_map_has_a_click_target_on_every_cell():
    v = np.random.default_rng(0).uniform(-1, 1, size=(28, 16))
    fig = unit_map_figure(v, unit=5, name="h")
    heat, picks = fig.data
    np.testing.assert_allclose(heat.z, v.T, rtol=1e-6)  # float32 in the figure
    assert len(picks.x) == 28 * 16
    assert set(np.asarray(picks.customdata).tolist()) == set(range(16))
    np.testing.assert_array_equal(picks.customdata, picks.y)  # the unit of each point is its row
    rect = fig.layout.shapes[0]
    assert (rect.y0, rect.y1) == (4.5, 5.5)
    assert fig.layout.clickmode == "event+select"
    assert unit_map_figure(v).layout.shapes == ()


def test_profile_top_and_change_figures():
    rng = np.random.default_rng(2)
    mean = rng.normal(size=(10, 28))
    fig = class_profile_figure(mean, mean - 0.1, mean + 0.2, unit=3, digit=mean[4] + 1, digit_label=4)
    means = [t for t in fig.data if t.name and t.name.startswith("digit ")]
    assert len(means) == 10
    np.testing.assert_allclose(means[6].y, mean[6])
    assert sum(t.name == "selected digit" for t in fig.data) == 1
    assert "Unit 3" in fig.layout.title.text

    images = rng.uniform(size=(4, 28, 28))
    strip = top_digits_figure(images, ["a", "b", "c", "d"], [1, 5, 10, 28])
    assert len(strip.data) == 4
    assert [s.y0 + 0.5 for s in strip.layout.shapes] == [0, 4, 9, 27]  # the row read at each peak step

    changes = np.array([0.1, 0.5, 0.2, 0.9, 0.0])
    bars = changes_figure(changes, changes / 2, unit=2)
    np.testing.assert_allclose(bars.data[0].y, changes)
    assert [c for c in bars.data[0].marker.color].count(MARK) == 3
    assert bars.data[1].name == "the selected digit"
