"""Step-through figure builders and unit orderings on synthetic arrays (no rendering)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.figures import stepthrough as S
from lstmviz.model import GATES, ModelConfig, build_model
from lstmviz.ordering import (
    ORDERS,
    correlation,
    order_by_change,
    order_by_final,
    order_by_similarity,
    unit_order,
)
from lstmviz.trace import Trace, trace_image

T, F = 28, 28


def synthetic_trace(cell: str = "lstm", hidden: int = 12, seed: int = 0) -> Trace:
    """A Trace of random arrays with the right shapes and ranges (c grows beyond 1)."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(10), size=T).astype(np.float32)  # (T, 10)
    gates = {}
    for name in GATES[cell]:
        g = rng.uniform(0, 1, (T, hidden)) if name != "candidate" else rng.uniform(-1, 1, (T, hidden))
        gates[name] = g.astype(np.float32)
    c = np.cumsum(rng.normal(0, 0.8, (T, hidden)), axis=0).astype(np.float32) if cell == "lstm" else None
    h = np.tanh(c if c is not None else rng.normal(0, 1, (T, hidden))).astype(np.float32)
    return Trace(
        cell=cell, rows=rng.uniform(0, 1, (T, F)).astype(np.float32),
        projected=rng.normal(0, 1, (T, 2 * hidden)).astype(np.float32), gates=gates, h=h, c=c,
        logits=np.log(probs), probs=probs, gate_names=GATES[cell],
    )  # fmt: skip


# ---------------------------------------------------------------- orderings


@pytest.mark.parametrize("method", list(ORDERS))
def test_every_order_is_a_permutation(method):
    values = np.random.default_rng(1).normal(size=(T, 40))
    values[:, 5] = 0.0  # a dead unit must not break anything
    order = unit_order(values, method)
    assert sorted(order.tolist()) == list(range(40))


def test_unknown_order_is_refused():
    with pytest.raises(ValueError, match="unknown unit order"):
        unit_order(np.zeros((T, 4)), "alphabetical")
    with pytest.raises(ValueError, match="shape"):
        unit_order(np.zeros(T), "index")


def test_order_by_change_sorts_by_the_step_of_the_biggest_jump():
    values = np.zeros((T, 4))
    for unit, step in enumerate((20, 3, 11, 3)):
        values[step:, unit] = 1.0 if unit != 3 else 2.0  # unit 3 jumps at the same step as unit 1, but more
    assert order_by_change(values).tolist() == [3, 1, 2, 0]


def test_order_by_final_sorts_by_last_value():
    values = np.zeros((T, 3))
    values[-1] = [0.5, -0.9, 0.1]
    assert order_by_final(values).tolist() == [1, 2, 0]


def test_similarity_order_puts_correlated_units_together():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=T), rng.normal(size=T)
    group = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    values = np.stack([(a if g == 0 else b) + 0.01 * rng.normal(size=T) for g in group], axis=1)  # (T, 8)
    labels = group[order_by_similarity(values)]
    assert np.count_nonzero(np.diff(labels)) == 1  # one block of each group


def test_correlation_has_unit_diagonal_and_zero_for_dead_units():
    values = np.random.default_rng(3).normal(size=(T, 5))
    values[:, 2] = 7.0
    corr = correlation(values)
    assert np.allclose(np.diag(corr), 1.0)
    assert np.allclose(np.delete(corr[2], 2), 0.0)
    assert np.isfinite(corr).all()


# ---------------------------------------------------------------- digit and input row


def shapes_named(shapes, name: str) -> list:
    return [sh for sh in shapes if sh["name"] == name]


@pytest.mark.parametrize("k", [0, 1, 13, 28])
def test_reading_figure_marks_step_k_and_has_a_frame_per_step(k):
    tr = synthetic_trace()
    image = np.random.default_rng(4).uniform(0, 1, (28, 28)).astype(np.float32)
    fig = S.reading_figure(image, tr.probs, k, label=3)
    assert np.allclose(fig.data[0].z, image)  # the digit itself is never altered, only veiled
    bars = fig.data[-1]
    assert np.allclose(bars.y, tr.probs[k - 1] if k else 0.0)
    veil = shapes_named(fig.layout.shapes, "unread rows")
    assert [(v.y0, v.y1) for v in veil] == ([] if k == 28 else [(k - 0.5, 27.5)])
    assert all(v.opacity == 1 - S.DIM for v in veil)
    box = shapes_named(fig.layout.shapes, "current row")
    assert [(b.y0, b.y1) for b in box] == ([] if k == 0 else [(k - 1.5, k - 0.5)])
    cover = shapes_named(fig.layout.shapes, "unread steps")
    assert [c.x0 for c in cover] == ([] if k == 28 else [k + 0.5])
    assert fig.layout.sliders[0].active == k
    assert [f.name for f in fig.frames] == [str(j) for j in range(29)]


def test_reading_frames_replay_every_step():
    tr = synthetic_trace()
    image = np.zeros((28, 28), dtype=np.float32)
    fig = S.reading_figure(image, tr.probs, 5)
    bar_index = len(fig.data) - 1
    for j in (0, 1, 17, 28):
        frame = fig.frames[j]
        assert list(frame.traces) == [bar_index]
        assert np.allclose(frame.data[0].y, tr.probs[j - 1] if j else 0.0)
        assert [sh.y0 for sh in shapes_named(frame.layout.shapes, "current row")] == ([] if j == 0 else [j - 1.5])
        assert [sh.x0 for sh in shapes_named(frame.layout.shapes, "unread steps")] == ([] if j == 28 else [j + 0.5])
        assert [sh.x0 for sh in shapes_named(frame.layout.shapes, "current step")] == ([] if j == 0 else [j])
    lines = fig.data[1:bar_index]
    assert len(lines) == 10 and all(np.allclose(line.y, tr.probs[:, c]) for c, line in enumerate(lines))
    play = fig.layout.updatemenus[0].buttons[0]
    assert play.method == "animate" and list(play.args[0]) == [str(j) for j in range(29)]


@pytest.mark.parametrize("label", [3, None])
def test_reading_figure_emphasises_the_true_or_predicted_class(label):
    tr = synthetic_trace()
    fig = S.reading_figure(np.zeros((28, 28)), tr.probs, 9, label)
    focus = label if label is not None else int(tr.probs[-1].argmax())
    widths = [t.line.width for t in fig.data[1:11]]
    assert int(np.argmax(widths)) == focus and sorted(widths)[-2] < widths[focus]
    outline = fig.data[-1].marker.line.color
    assert outline[focus] == "#111" and sum(col == "#111" for col in outline) == 1


def test_row_input_shows_the_current_row():
    tr = synthetic_trace()
    assert np.allclose(S.row_input_figure(tr.rows, 9).data[0].y, tr.rows[8])
    assert np.allclose(S.row_input_figure(tr.rows, 0).data[0].y, 0.0)


@pytest.mark.parametrize("k", [-1, 29])
def test_steps_outside_the_sequence_are_refused(k):
    tr = synthetic_trace()
    with pytest.raises(ValueError, match="step must be in 0..28"):
        S.state_heatmap_figure(tr.h, k)
    with pytest.raises(ValueError, match="step must be in 0..28"):
        S.probs_bar_figure(tr.probs, k)


# ---------------------------------------------------------------- heatmaps


@pytest.mark.parametrize("k", [0, 5, 28])
def test_state_heatmap_blanks_unread_steps_in_unit_order(k):
    tr = synthetic_trace(hidden=12)
    order = unit_order(tr.h, "change")
    fig = S.state_heatmap_figure(tr.h, k, order, "h", zmax=1.0)
    z = np.asarray(fig.data[0].z, dtype=np.float64)  # (H, T)
    assert z.shape == (12, T)
    assert np.isnan(z[:, k:]).all()
    assert np.allclose(z[:, :k], tr.h[:k, order].T)
    assert np.asarray(fig.data[0].customdata)[:, 0].tolist() == order.tolist()  # hover names the real unit
    boxes = [s for s in fig.layout.shapes if s.name == "current step"]
    assert [(b.x0, b.x1) for b in boxes] == ([] if k == 0 else [(k - 0.5, k + 0.5)])


def test_cell_state_scale_is_symmetric_fixed_and_may_exceed_one():
    tr = synthetic_trace()
    peak = float(np.abs(tr.c).max())
    assert peak > 1.0
    early, late = S.state_heatmap_figure(tr.c, 2, name="c"), S.state_heatmap_figure(tr.c, 27, name="c")
    for fig in (early, late):
        hm = fig.data[0]
        assert hm.zmid == 0 and hm.zmin == -hm.zmax and hm.zmax >= peak
    assert early.data[0].zmax == late.data[0].zmax  # colours do not jump as the step moves
    assert S.state_heatmap_figure(tr.h, 3, name="h", zmax=1.0).data[0].zmax == 1.0


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gates_figure_has_one_panel_per_gate_with_fixed_scales(cell):
    tr = synthetic_trace(cell)
    k = 7
    fig = S.gates_figure(tr.gates, tr.gate_names, k)
    assert [t.name for t in fig.data] == list(GATES[cell])
    for t in fig.data:
        z = np.asarray(t.z, dtype=np.float64)
        assert np.isnan(z[:, k:]).all() and np.allclose(z[:, :k], tr.gates[t.name][:k].T)
        assert t.coloraxis == ("coloraxis2" if t.name == "candidate" else "coloraxis")
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)
    assert (fig.layout.coloraxis2.cmin, fig.layout.coloraxis2.cmax) == (-1, 1)
    boxes = [s for s in fig.layout.shapes if s.name == "current step"]
    assert len(boxes) == len(GATES[cell]) and all(b.x0 == k - 0.5 for b in boxes)


def test_gates_figure_for_a_plain_rnn_says_there_are_none():
    tr = synthetic_trace("rnn")
    fig = S.gates_figure(tr.gates, tr.gate_names, 10)
    assert len(fig.data) == 0
    assert "no gates" in fig.layout.annotations[0].text


# ---------------------------------------------------------------- probabilities and state bars


def test_probability_bars_show_the_current_step():
    tr = synthetic_trace()
    fig = S.probs_bar_figure(tr.probs, 6, label=4)
    assert np.allclose(fig.data[0].y, tr.probs[5])
    outline = fig.data[0].marker.line.color
    assert outline[4] == "#111" and all(col != "#111" for i, col in enumerate(outline) if i != 4)
    assert np.allclose(S.probs_bar_figure(tr.probs, 0).data[0].y, 0.0)


def test_state_bars_follow_step_and_order():
    tr = synthetic_trace()
    order = unit_order(tr.h, "final")
    fig = S.state_bars_figure(tr.h, tr.c, 20, order, c_max=S.symmetric_range(tr.c))
    assert [t.name for t in fig.data] == ["h", "c"]
    assert np.allclose(fig.data[0].y, tr.h[19, order]) and np.allclose(fig.data[1].y, tr.c[19, order])
    assert tuple(fig.layout.yaxis.range) == (-1, 1)
    assert fig.layout.yaxis2.range[1] >= np.abs(tr.c).max()
    gru = synthetic_trace("gru")
    assert [t.name for t in S.state_bars_figure(gru.h, gru.c, 20).data] == ["h"]


# ---------------------------------------------------------------- anatomy


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_anatomy_uses_the_traces_real_shapes(cell):
    model = build_model(ModelConfig(hidden_size=16, proj_size=24, cell=cell), seed=0)
    image = np.random.default_rng(5).uniform(0, 1, (28, 28)).astype(np.float32)
    trace = trace_image(model, image)
    stages = S.anatomy_stages(image, trace)
    shapes = {s.name: s.shape for s in stages}
    assert shapes["image"] == (28, 28) and shapes["rows"] == (28, 28) and shapes["projected"] == (28, 24)
    assert shapes[f"{cell.upper()} outputs h"] == (28, 16)
    assert shapes["logits"] == (10,) and shapes["probabilities"] == (10,)
    if cell == "lstm":
        assert shapes["final state (h, c)"] == (2, 16)
    else:
        assert shapes["final state h"] == (16,)
    fig = S.anatomy_figure(image, trace)
    titles = [a.text for a in fig.layout.annotations if a.text != "➜"]
    assert titles[2] == "<b>projected</b><br>28 × 24" and len(titles) == len(stages)
    assert np.allclose(fig.data[-1].x, trace.probs[-1])
    assert np.asarray(fig.data[4].z).shape == (16, 2 if cell == "lstm" else 1)


def test_columns_cover_the_width_in_order():
    domains = S.columns([1, 2, 1], gap=0.05)
    assert domains[0][0] == 0.0 and domains[-1][1] == pytest.approx(1.0)
    assert all(a[1] < b[0] for a, b in zip(domains, domains[1:]))
    assert (domains[1][1] - domains[1][0]) == pytest.approx(2 * (domains[0][1] - domains[0][0]))
