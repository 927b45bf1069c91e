"""What-if experiments: the identity changes nothing bit for bit; each intervention does exactly what it says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stacked import silenced_copy, stacked_model
from test_truncation import varied_model

from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from lstmviz.figures.inspector import whatif_figure
from lstmviz.intervene import Intervention, answer_change, intervene, intervene_image
from lstmviz.trace import trace_batch, trace_image
from lstmviz.truncation import model_input

CELLS = ("lstm", "gru", "rnn")


def assert_traces_equal(a, b) -> None:
    for name in ("rows", "projected", "h", "logits", "probs"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert (a.c is None) == (b.c is None) and (a.c is None or np.array_equal(a.c, b.c))
    assert a.gates.keys() == b.gates.keys() and all(np.array_equal(a.gates[g], b.gates[g]) for g in a.gates)


@pytest.mark.parametrize("cell", CELLS)
def test_identity_is_the_plain_trace_exactly(cell, test_split):
    model = varied_model(cell)
    images = test_split.images[:20]
    assert_traces_equal(intervene(model, images, Intervention()), trace_batch(model, images))
    assert_traces_equal(intervene_image(model, images[3].numpy()), trace_image(model, images[3].numpy()))


def test_identity_on_the_shipped_model(test_split):
    model = load_checkpoint(DEFAULT_CHECKPOINT).model
    assert_traces_equal(intervene(model, test_split.images[:50]), trace_batch(model, test_split.images[:50]))


@pytest.mark.parametrize("cell", CELLS)
def test_silencing_a_disconnected_unit_changes_nothing(cell, test_split):
    model = varied_model(cell, seed=3)
    u = 5
    with torch.no_grad():
        model.rnn.weight_hh_l0[:, u] = 0.0  # nothing reads h_u: no gate of any unit ...
        model.head.weight[:, u] = 0.0  # ... and not the readout
    images = test_split.images[:30]
    plain = trace_batch(model, images)
    silenced = intervene(model, images, Intervention(silence=(u,)))
    assert np.abs(plain.h[..., u]).max() > 0.01  # the unit itself was active
    assert np.all(silenced.h[..., u] == 0) and (silenced.c is None or np.all(silenced.c[..., u] == 0))
    others = np.arange(16) != u
    np.testing.assert_allclose(silenced.h[..., others], plain.h[..., others], rtol=0, atol=1e-7)
    np.testing.assert_allclose(silenced.probs, plain.probs, rtol=0, atol=1e-7)


@pytest.mark.parametrize("cell", CELLS)
def test_silencing_a_connected_unit_changes_the_run(cell, test_split):
    model = varied_model(cell, seed=4)
    images = test_split.images[:30]
    silenced = intervene(model, images, Intervention(silence=(2, 7)))
    assert np.all(silenced.h[..., [2, 7]] == 0)
    assert np.abs(silenced.probs - trace_batch(model, images).probs).max() > 1e-3


@pytest.mark.parametrize("from_step", [1, 12])
def test_forget_gate_zero_makes_c_equal_i_times_g(from_step, test_split):
    model = varied_model("lstm", seed=5)
    t = intervene(model, test_split.images[:10], Intervention(clamp_forget=0.0, clamp_from=from_step))
    s = from_step - 1
    assert np.all(t.gates["forget"][:, s:] == 0)
    np.testing.assert_allclose(t.c[:, s:], t.gates["input"][:, s:] * t.gates["candidate"][:, s:], atol=1e-7, rtol=0)
    np.testing.assert_allclose(t.h, t.gates["output"] * np.tanh(t.c), atol=1e-6)
    if s:  # before the clamp the run is the plain one
        plain = trace_batch(model, test_split.images[:10])
        assert np.array_equal(t.c[:, :s], plain.c[:, :s])


def test_forget_gate_one_for_one_unit(test_split):
    model = varied_model("lstm", seed=6)
    u, k = 3, 10
    t = intervene(model, test_split.images[:10], Intervention(clamp_forget=1.0, clamp_from=k, clamp_units=(u,)))
    c = t.c[..., u]
    np.testing.assert_allclose(
        c[:, k - 1 :], c[:, k - 2 : -1] + (t.gates["input"] * t.gates["candidate"])[:, k - 1 :, u], atol=1e-6
    )
    assert np.all(t.gates["forget"][:, k - 1 :, u] == 1.0)
    assert np.all(t.gates["forget"][:, k - 1 :, u + 1] < 1.0)  # other units are not clamped


def test_gru_update_gate_one_keeps_h(test_split):
    model = varied_model("gru", seed=7)
    t = intervene(model, test_split.images[:10], Intervention(clamp_forget=1.0, clamp_from=9))
    assert np.array_equal(t.h[:, 8:], np.broadcast_to(t.h[:, 7:8], t.h[:, 8:].shape))


def test_rnn_has_no_gate_to_clamp(test_split):
    with pytest.raises(ValueError, match="no forget gate"):
        intervene(varied_model("rnn"), test_split.images[:2], Intervention(clamp_forget=0.0))
    with pytest.raises(ValueError, match="units"):
        intervene(varied_model("lstm"), test_split.images[:2], Intervention(silence=(16,)))


@pytest.mark.parametrize("cell", CELLS)
def test_blanking_is_the_occlusion_input(cell, test_split):
    model = varied_model(cell, seed=8)
    images = test_split.images[:20]
    t = intervene(model, images, Intervention(blank_after=9))
    plain = trace_batch(model, model_input(images, 9, "occlusion"))
    assert_traces_equal(t, plain)
    assert np.all(t.rows[:, 9:] == 0) and np.array_equal(t.rows[:, :9], images[:, :9].numpy())


def test_answer_change_sentence(test_split):
    model = load_checkpoint(DEFAULT_CHECKPOINT).model
    image = test_split.images[0].numpy()
    before = trace_image(model, image)
    after = intervene_image(model, image, Intervention(blank_after=0))  # nothing to read
    ch = answer_change(before, after)
    a, b = int(before.probs[-1].argmax()), int(after.probs[-1].argmax())
    assert (ch.before, ch.after) == (a, b)
    expected = (
        f"The answer changes from {a} (p={before.probs[-1, a]:.2f}) to {b} (p={after.probs[-1, b]:.2f})."
        if a != b
        else f"The answer stays {a}"
    )
    assert ch.sentence().startswith(expected)
    same = answer_change(before, before)
    assert not same.changed and same.sentence().startswith(f"The answer stays {a}: p={before.probs[-1, a]:.2f}")
    fig = whatif_figure(before.probs, after.probs, from_step=1)
    solid = {t.name: np.asarray(t.y) for t in fig.data}
    np.testing.assert_allclose(solid[f"{a} original"], before.probs[:, a], rtol=1e-6)
    np.testing.assert_allclose(solid[f"{b} what-if"], after.probs[:, b], rtol=1e-6)


# ---------------------------------------------------------------- stacked models


@pytest.mark.parametrize("cell", CELLS)
def test_identity_on_a_stacked_model(cell, test_split):
    model = stacked_model(cell, layers=3, seed=11)
    images = test_split.images[:12]
    plain, same = trace_batch(model, images), intervene(model, images)
    assert_traces_equal(same, plain)
    assert same.n_layers == 3 and same.layer == 2
    assert np.array_equal(same.stack_h, plain.stack_h)
    assert (same.stack_c is None) == (plain.stack_c is None)
    for k in range(3):  # the experiment's trace shows the chosen layer
        assert_traces_equal(intervene(model, images, Intervention(layer=k)), plain.at_layer(k))


@pytest.mark.parametrize("layer", [0, 1])
@pytest.mark.parametrize("cell", CELLS)
def test_silencing_in_one_layer_equals_torch_with_those_units_cut(cell, layer, test_split):
    """Silencing units of layer k = torch's stacked module with those units' candidate weights zeroed."""
    model = stacked_model(cell, layers=2, seed=12)
    images = test_split.images[:12]
    units = (3, 9)
    t = intervene(model, images, Intervention(silence=units, layer=layer))
    assert t.layer == layer and np.all(t.h[..., list(units)] == 0)
    plain = trace_batch(model, images)
    cut = silenced_copy(model, layer, units)
    with torch.no_grad():
        out, _ = cut.rnn(cut.proj(images))  # (N, T, H) top layer of torch's own module
        logits = cut.logits_per_step(images)
    np.testing.assert_allclose(t.stack_h[-1], out.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(t.logits, logits.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(t.stack_h, trace_batch(cut, images).stack_h, atol=1e-5, rtol=0)
    if layer == 1:  # the layer below is untouched
        assert np.array_equal(t.stack_h[0], plain.stack_h[0])
    else:  # the layer above reads the changed h
        assert np.abs(t.stack_h[1] - plain.stack_h[1]).max() > 1e-3


def test_forget_clamp_in_the_first_layer_of_two(test_split):
    model = stacked_model("lstm", layers=2, seed=13)
    images = test_split.images[:8]
    t = intervene(model, images, Intervention(clamp_forget=0.0, clamp_from=5, layer=0))
    assert t.layer == 0 and np.all(t.gates["forget"][:, 4:] == 0)
    np.testing.assert_allclose(t.c[:, 4:], (t.gates["input"] * t.gates["candidate"])[:, 4:], atol=1e-7, rtol=0)
    top = t.at_layer(1)
    assert np.all(top.gates["forget"] > 0)  # the top layer's gate is not clamped ...
    plain = trace_batch(model, images)
    assert np.array_equal(t.stack_h[:, :, :4], plain.stack_h[:, :, :4])  # ... and before step 5 nothing changed
    assert np.abs(top.h - plain.h).max() > 1e-3  # ... but it reads the changed layer below
    assert "of layer 1" in Intervention(clamp_forget=0.0, layer=0).describe()


def test_a_layer_the_model_does_not_have_is_refused(test_split):
    with pytest.raises(ValueError, match="layer"):
        intervene(stacked_model("gru", layers=2), test_split.images[:2], Intervention(silence=(1,), layer=2))
    with pytest.raises(ValueError, match="layer"):
        intervene(varied_model("lstm"), test_split.images[:2], Intervention(layer=1))
