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
        cell=cell,
        rows=rng.uniform(0, 1, (T, F)).astype(np.float32),
        projected=rng.normal(0, 1, (T, 2 * hidden)).astype(np.float32),
        gates=gates,
        h=h,
        c=c,
        logits=np.log(probs),
        probs=probs,
        gate_names=GATES[cell],
    )


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
    model = build_model(ModelConfig(hidden_size=16, embed_size=24, cell=cell), seed=0)
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


@pytest.mark.parametrize("n_layers", [2, 3])
def test_anatomy_draws_the_stack_with_its_shapes(n_layers):
    """Linear 28→P, layer 1 P→H, layer 2 H→H, …, Linear H→10: a panel per layer holding that layer's h."""
    model = build_model(ModelConfig(hidden_size=16, embed_size=24, num_layers=n_layers), seed=1)
    image = np.random.default_rng(6).uniform(0, 1, (28, 28)).astype(np.float32)
    trace = trace_image(model, image).at_layer(0)  # whatever layer a view shows, the anatomy draws them all
    stages = S.anatomy_stages(image, trace)
    names = [s.name for s in stages]
    layers = [f"LSTM layer {k}: h" for k in range(1, n_layers + 1)]
    assert names == ["image", "rows", "projected", *layers, "final state (h, c)", "logits", "probabilities"]
    meaning = {s.name: s.meaning for s in stages}
    assert "(24 projected numbers→16)" in meaning["LSTM layer 1: h"]
    assert all(f"(h of layer {k - 1} (16 numbers)→16)" in meaning[f"LSTM layer {k}: h"] for k in range(2, n_layers + 1))
    assert "Linear(16→10) on the last h of the top layer" in meaning["logits"]
    fig = S.anatomy_figure(image, trace)
    titles = [a.text for a in fig.layout.annotations if a.text != "➜"]
    assert len(titles) == len(stages) == len(fig.data)
    for k in range(n_layers):  # panel 4 + k is layer k + 1's h, steps x units
        np.testing.assert_allclose(np.asarray(fig.data[3 + k].z), trace.stack_h[k], atol=1e-6)
        assert titles[3 + k] == f"<b>LSTM layer {k + 1}: h</b><br>28 × 16"
    final = np.asarray(fig.data[3 + n_layers].z)  # the top layer's last h (and c, scaled)
    np.testing.assert_allclose(final[:, 0], trace.stack_h[-1, -1], atol=1e-6)
    assert np.allclose(fig.data[-1].x, trace.probs[-1])


def test_columns_cover_the_width_in_order():
    domains = S.columns([1, 2, 1], gap=0.05)
    assert domains[0][0] == 0.0 and domains[-1][1] == pytest.approx(1.0)
    assert all(a[1] < b[0] for a, b in zip(domains, domains[1:], strict=False))
    assert (domains[1][1] - domains[1][0]) == pytest.approx(2 * (domains[0][1] - domains[0][0]))


# ---------------------------------------------------------------- the in-browser stepper's payload


def stepper_views(payload: dict) -> dict[str, np.ndarray]:
    """Every matrix of a payload, decoded: image, rows, probs, and each state and gate by name."""
    from lstmviz.figures.stepper import decode_matrix

    views = {name: decode_matrix(payload[name]) for name in ("image", "rows", "probs")}
    for item in payload["states"] + payload["gates"]:
        views[item["name"]] = decode_matrix(item["values"])
    return views


def view_at(values: np.ndarray, k: int) -> np.ndarray:
    """What a view shows at step k: the rows (steps) read so far."""
    return values[:k]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("method", ["index", "similarity"])
def test_stepper_payload_carries_every_view_of_every_step(cell, method):
    from lstmviz.figures.stepper import stepper_payload

    tr = synthetic_trace(cell, hidden=12, seed=7)
    image = np.random.default_rng(8).uniform(0, 1, (28, 28)).astype(np.float32)
    order = unit_order(tr.h, method)
    payload = stepper_payload(tr, image, 3, order)
    views = stepper_views(payload)
    assert payload["n_steps"] == T and payload["n_units"] == 12 and payload["order"] == order.tolist()
    assert [s["name"] for s in payload["states"]] == (["h", "c"] if cell == "lstm" else ["h"])
    assert [g["name"] for g in payload["gates"]] == list(GATES[cell])
    expected = {"image": image, "rows": tr.rows, "probs": tr.probs, "h": tr.h[:, order]}
    if cell == "lstm":
        expected["c"] = tr.c[:, order]
    expected.update({name: tr.gates[name][:, order] for name in GATES[cell]})
    assert set(views) == set(expected)
    for name, values in expected.items():
        tol = 2e-5 * max(1.0, float(np.abs(values).max()))  # int16 with one scale per matrix
        for k in range(T + 1):
            assert np.allclose(view_at(views[name], k), view_at(values, k), atol=tol), (name, k)
    for p, unit in enumerate(order):  # position p of every unit view shows unit order[p]
        assert np.allclose(views["h"][:, p], tr.h[:, unit], atol=1e-4)


def test_stepper_payload_is_json_and_compact():
    import json

    from lstmviz.figures.stepper import stepper_payload

    tr = synthetic_trace(hidden=128)
    text = json.dumps(stepper_payload(tr, np.zeros((28, 28), np.float32), None))
    assert json.loads(text)["n_units"] == 128
    assert len(text) < 80_000  # 6 matrices of 28x128 at about 2 bytes a number (base64: x4/3)


def test_stepper_payload_colours_and_ranges_match_the_figures():
    import plotly.colors

    from lstmviz.figures.common import CLASS_COLORS, MARK
    from lstmviz.figures.stepper import stepper_payload

    tr = synthetic_trace()
    payload = stepper_payload(tr, np.zeros((28, 28), np.float32), 2)
    colors = payload["colors"]
    for name, scale in (("diverging", "RdBu_r"), ("sequential", "Viridis")):
        reference = plotly.colors.get_colorscale(scale)
        assert [s[0] for s in colors[name]] == pytest.approx([s[0] for s in reference])
        assert [plotly.colors.unlabel_rgb(s[1]) for s in colors[name]] == [
            plotly.colors.unlabel_rgb(plotly.colors.convert_colors_to_same_type(s[1], "rgb")[0][0]) for s in reference
        ]
    assert colors["classes"] == list(CLASS_COLORS) and colors["mark"] == MARK
    ranges = {s["name"]: s["range"] for s in payload["states"] + payload["gates"]}
    c_max = S.symmetric_range(tr.c)
    assert c_max > 1 and ranges == {
        "h": [-1.0, 1.0],
        "c": [-c_max, c_max],
        "input": [0.0, 1.0],
        "forget": [0.0, 1.0],
        "candidate": [-1.0, 1.0],
        "output": [0.0, 1.0],
    }
    scales = {s["name"]: s["scale"] for s in payload["states"] + payload["gates"]}
    assert scales["h"] == scales["c"] == scales["candidate"] == "diverging"
    assert scales["input"] == scales["forget"] == scales["output"] == "sequential"
    assert payload["focus"] == 2 and payload["label"] == 2
    unlabelled = stepper_payload(tr, np.zeros((28, 28), np.float32), None)
    assert unlabelled["label"] is None and unlabelled["focus"] == int(tr.probs[-1].argmax())


def test_stepper_payload_start_settle_and_identity():
    from lstmviz.figures.stepper import settle_step, stepper_payload

    tr = synthetic_trace()
    image = np.zeros((28, 28), np.float32)
    assert stepper_payload(tr, image, None)["start"] == T
    assert stepper_payload(tr, image, None, start=0)["start"] == 0
    with pytest.raises(ValueError, match="start"):
        stepper_payload(tr, image, None, start=29)
    with pytest.raises(ValueError, match="permutation"):
        stepper_payload(tr, image, None, order=np.zeros(12, int))
    other = synthetic_trace(seed=1)
    assert stepper_payload(tr, image, None)["id"] == stepper_payload(tr, image, 4, unit_order(tr.h, "final"))["id"]
    assert stepper_payload(tr, image, None)["id"] != stepper_payload(other, image, None)["id"]
    assert stepper_payload(tr, image, None)["id"] != stepper_payload(tr, image + 0.5, None)["id"]

    probs = np.full((T, 10), 0.01, np.float32)
    guesses = [1] * 5 + [4] * 10 + [7] * 13  # settles on 7 at step 16
    probs[np.arange(T), guesses] = 0.9
    assert settle_step(probs) == 16
    probs[:, :] = 0.01
    probs[:, 3] = 0.9
    assert settle_step(probs) == 1


def test_encode_matrix_round_trip():
    from lstmviz.figures.stepper import decode_matrix, encode_matrix

    values = np.random.default_rng(9).normal(0, 3, (28, 40)).astype(np.float32)
    values[0, 0] = -11.0
    back = decode_matrix(encode_matrix(values))
    assert back.shape == values.shape and back.dtype == np.float32
    assert np.abs(back - values).max() <= 11.0 / 32767 / 2 + 1e-6
    assert np.array_equal(decode_matrix(encode_matrix(np.zeros((3, 2)))), np.zeros((3, 2)))


def test_draw_preview_has_no_marks_before_anything_is_drawn():
    from lstmviz.figures.draw import input_preview_figure

    empty = input_preview_figure(np.zeros((28, 28), np.float32))
    assert [t.type for t in empty.data] == ["heatmap"] and len(empty.layout.shapes) == 1  # only the 28x28 field
    image = np.zeros((28, 28), np.float32)
    image[8:20, 12:16] = 1.0
    drawn = input_preview_figure(image)
    assert [t.name for t in drawn.data[1:]] == ["MNIST centre", "centre of mass"] and len(drawn.layout.shapes) == 2
