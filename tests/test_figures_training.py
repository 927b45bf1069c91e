"""Training-curve figures: binning keeps the mean, smoothing is bias-corrected, one line per curve."""

from __future__ import annotations

import numpy as np

from lstmviz.figures.training import accuracy_figure, binned, loss_figure, smoothed


def test_binned_keeps_every_value_and_caps_the_points():
    values = np.arange(1, 1001, dtype=float)
    steps, means = binned(values, 300)
    assert len(steps) <= 300 and steps[-1] == 1000
    counts = np.diff(np.concatenate([[0], steps]))
    assert np.isclose((means * counts).sum(), values.sum())
    steps, means = binned([2.0, 4.0], 300)
    assert steps.tolist() == [1.0, 2.0] and means.tolist() == [2.0, 4.0]
    assert binned([], 10)[0].size == 0


def test_smoothed_starts_at_the_first_value_and_follows_a_constant():
    out = smoothed([5.0, 5.0, 5.0, 1.0])
    assert np.allclose(out[:3], 5.0) and 1.0 < out[3] < 5.0


def test_loss_figure_x_is_in_epochs():
    fig = loss_figure([2.3] * 10 + [1.0] * 10, steps_per_epoch=10)
    raw, smooth = fig.data
    assert np.isclose(np.asarray(raw.x)[-1], 2.0) and np.asarray(raw.y)[0] == 2.3
    assert np.asarray(smooth.y)[-1] < 2.3


def test_accuracy_figure_has_one_line_per_curve():
    fig = accuracy_figure({"new": ([0.5, 1.0], [0.8, 0.9]), "shipped": ([1, 2, 3], [0.95, 0.97, 0.98])})
    assert [t.name for t in fig.data] == ["new", "shipped"]
    assert np.asarray(fig.data[1].y).tolist() == [0.95, 0.97, 0.98]
    assert fig.layout.yaxis.tickformat == ".0%"
