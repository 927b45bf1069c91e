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


def test_smoothed_equals_the_plain_recurrence_over_many_blocks():
    rng = np.random.default_rng(0)
    values = rng.random(1000)
    expected, acc = [], 0.0
    for i, x in enumerate(values):
        acc = 0.95 * acc + 0.05 * x
        expected.append(acc / (1 - 0.95 ** (i + 1)))
    assert np.allclose(smoothed(values), expected, rtol=1e-12, atol=1e-12)


def test_a_short_run_fills_its_axis_and_the_long_model_is_a_reference_line():
    # issue 16.6: a 1-epoch run used to sit in the corner of the shipped model's 30-epoch axis
    fig = accuracy_figure(
        {"new": ([0.25, 0.5, 0.75, 1.0], [0.8, 0.9, 0.93, 0.95])}, epochs=1.0, references={"shipped (30 epochs)": 0.991}
    )
    assert list(fig.layout.xaxis.range) == [0, 1.0]
    ref = fig.data[1]
    assert ref.name == "shipped (30 epochs)" and list(ref.y) == [0.991, 0.991] and ref.line.dash == "dash"
    live = loss_figure([2.0] * 5, steps_per_epoch=100, epochs=3)
    assert list(live.layout.xaxis.range) == [0, 3.0]  # the axis spans the planned run while it trains
