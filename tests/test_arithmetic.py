"""The unit inspector's numbers: its terms add up to the gates the model computed, checked in numpy from the
checkpoint file's own tensors, and c_t, h_t are recomputed from them (tiny models and the shipped ones)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from lstmviz.arithmetic import model_weights, reading, unit_step
from lstmviz.checkpoint import MODELS_DIR, load_checkpoint, save_checkpoint
from lstmviz.figures.inspector import equation_lines, legend_line, pixel_strip_figure, top_hidden_figure
from lstmviz.model import GATES, ModelConfig, build_model
from lstmviz.trace import Trace, trace_from, trace_image, unroll

CELLS = ("lstm", "gru", "rnn")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def tiny_checkpoint(tmp_path: Path, cell: str, seed: int = 0, layers: int = 1) -> Path:
    """A small untrained model with random biases too (so the bias terms are not all zero)."""
    model = build_model(ModelConfig(hidden_size=16, embed_size=10, cell=cell, num_layers=layers), seed=seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name:
                p.normal_(0.0, 0.5)
    return save_checkpoint(tmp_path / f"tiny-{cell}-{layers}.safetensors", model, {})


def reference_pre(
    w: dict[str, np.ndarray], cell: str, H: int, unit: int, x: np.ndarray, h_prev: np.ndarray, layer: int = 0
):
    """Each gate's pre-activation of one unit, straight from the checkpoint's tensors (float64 numpy); x is the
    row for layer 0, else the layer below's h at this step."""
    f64 = {k: v.astype(np.float64) for k, v in w.items()}
    xp = f64["proj.weight"] @ x + f64["proj.bias"] if layer == 0 else x
    gi = f64[f"rnn.weight_ih_l{layer}"] @ xp + f64[f"rnn.bias_ih_l{layer}"]  # (G*H,)
    gh = f64[f"rnn.weight_hh_l{layer}"] @ h_prev + f64[f"rnn.bias_hh_l{layer}"]
    names = GATES[cell] or ("state",)
    pre = {}
    for k, name in enumerate(names):
        r = k * H + unit
        if cell == "gru" and name == "candidate":
            pre[name] = gi[r] + sigmoid(pre["reset"]) * gh[r]
        else:
            pre[name] = gi[r] + gh[r]
    return pre


def trace64(model, image: np.ndarray) -> Trace:
    """The model's own unroll (trace.unroll) in float64, so that 1e-6 is not below float32's rounding."""
    m64 = copy.deepcopy(model).double()
    x = torch.as_tensor(image[None], dtype=torch.float64)
    return trace_from(model.config.cell, x, unroll(m64, x)).item(0)


def check_model(path: Path, image: np.ndarray, units, steps, layer: int | None = None) -> None:
    loaded = load_checkpoint(path)
    cell, H = loaded.config.cell, loaded.config.hidden_size
    raw = load_file(str(path))
    k = loaded.config.num_layers - 1 if layer is None else layer
    trace = trace64(loaded.model, image).at_layer(k)
    app_trace = trace_image(loaded.model, image).at_layer(k)  # float32, as the app shows it
    for unit in units:
        for step in steps:
            us = unit_step(loaded.model, image, unit, step, trace=trace, layer=layer)
            assert us.layer == k
            h_prev = trace.h[step - 2].astype(np.float64) if step > 1 else np.zeros(H)
            x = image[step - 1].astype(np.float64) if k == 0 else trace.layer_input[step - 1]
            ref = reference_pre(raw, cell, H, unit, x, h_prev, layer=k)
            for name, g in us.gates.items():
                parts = g.from_input + g.bias_ih + (1.0 if g.reset is None else g.reset) * (g.from_hidden + g.bias_hh)
                assert g.pre == pytest.approx(parts, abs=1e-9)
                assert g.pre == pytest.approx(ref[name], abs=1e-9)  # the checkpoint's own numbers
                assert g.from_input == pytest.approx(g.input_push.sum(), abs=1e-9)
                if k == 0:
                    assert g.from_input == pytest.approx(g.pixel_push.sum() + g.proj_bias, abs=1e-9)
                else:
                    assert g.pixel_push is None and g.pixel_weights is None and g.proj_bias is None
                assert g.from_hidden == pytest.approx(g.hidden_push.sum(), abs=1e-12)
                act = np.tanh(g.pre) if g.activation == "tanh" else sigmoid(g.pre)
                assert g.value == pytest.approx(act, abs=1e-12)
                if cell != "rnn":  # the gates the model computed (float32)
                    assert g.value == pytest.approx(float(trace.gates[name][step - 1, unit]), abs=1e-6)
            # c_t and h_t recomputed in numpy from the inspector's terms
            if cell == "lstm":
                i, f, gg, o = (us.gates[n].value for n in GATES["lstm"])
                c_prev = float(trace.c[step - 2, unit]) if step > 1 else 0.0
                c = f * c_prev + i * gg
                assert us.kept == pytest.approx(f * c_prev, abs=1e-12) and us.written == pytest.approx(
                    i * gg, abs=1e-12
                )
                np.testing.assert_allclose(c, trace.c[step - 1, unit], atol=1e-6, rtol=1e-6)
                np.testing.assert_allclose(o * np.tanh(c), trace.h[step - 1, unit], atol=1e-6)
            elif cell == "gru":
                z, n = us.gates["update"].value, us.gates["candidate"].value
                np.testing.assert_allclose((1 - z) * n + z * h_prev[unit], trace.h[step - 1, unit], atol=1e-6)
            else:
                np.testing.assert_allclose(np.tanh(us.gates["state"].pre), trace.h[step - 1, unit], atol=1e-6)
            np.testing.assert_allclose(us.h, trace.h[step - 1, unit], atol=1e-6)
            app = unit_step(loaded.model, image, unit, step, trace=app_trace)  # from the float32 states
            np.testing.assert_allclose(app.h, app_trace.h[step - 1, unit], atol=1e-4)
            assert (us.readout is None) == (k < loaded.config.num_layers - 1)


@pytest.mark.parametrize("cell", CELLS)
def test_terms_add_up_on_a_tiny_model(tmp_path, cell, test_split):
    path = tiny_checkpoint(tmp_path, cell)
    check_model(path, test_split.images[0].numpy(), range(16), range(1, 29))


@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("cell", CELLS)
def test_terms_add_up_in_every_layer_of_a_stack(tmp_path, cell, layers, test_split):
    """Layer k > 0 reads the layer below's h: its terms match the checkpoint's rnn.*_l{k} tensors."""
    path = tiny_checkpoint(tmp_path, cell, seed=layers, layers=layers)
    image = test_split.images[3].numpy()
    for layer in range(layers):
        check_model(path, image, (0, 5, 15), (1, 9, 17, 28), layer=layer)
    check_model(path, image, (2,), (12,))  # the default is the top layer
    trace = trace_image(load_checkpoint(path).model, image)
    model = load_checkpoint(path).model
    assert unit_step(model, image, 1, 3, trace=trace.at_layer(0)).layer == 0  # ... or the trace's layer


def test_reading_of_a_lower_layer_names_the_layer_below(test_split):
    model = build_model(ModelConfig(hidden_size=16, embed_size=16, num_layers=2), seed=2)
    image = test_split.images[0].numpy()
    trace = trace_image(model, image)
    low, top = unit_step(model, image, 4, 20, trace=trace, layer=0), unit_step(model, image, 4, 20)
    assert top.layer == 1 and top.n_layers == 2 and top.readout is not None and low.readout is None
    np.testing.assert_allclose(top.x_in, trace.stack_h[0, 19], atol=1e-7)
    low_text, top_text = " ".join(reading(low)), " ".join(reading(top))
    assert "layer 2 reads it, and the readout reads layer 2" in low_text
    j, v = top.gates["input"].top_input(1)[0]
    assert f"Layer 2 does not see the pixels: it reads layer 1's hidden state at step 20; unit {j} of layer 1" in (
        top_text
    )
    assert f"({v:+.2f})" in top_text
    assert "pixel" in low_text or "projection bias" in low_text
    with pytest.raises(ValueError, match="layer"):
        unit_step(model, image, 4, 20, layer=2)
    with pytest.raises(ValueError, match="layer 1, not of layer 0"):
        unit_step(model, image, 4, 20, layer=0, weights=model_weights(model))


@pytest.mark.parametrize("cell", CELLS)
def test_terms_add_up_on_the_shipped_model(cell, test_split):
    path = MODELS_DIR / f"{cell}.safetensors"
    if not path.exists():
        pytest.fail(f"{path} is missing")
    check_model(path, test_split.images[1].numpy(), range(0, 128, 9), (1, 5, 9, 14, 20, 28))


def test_reading_is_made_from_the_values(tmp_path, test_split):
    model = build_model(ModelConfig(hidden_size=16, embed_size=8, forget_bias=30.0), seed=1)
    image = test_split.images[0].numpy()
    us = unit_step(model, image, 3, 15)
    text = " ".join(reading(us))
    assert "The forget gate is 1.000: this unit keeps 100.0% of its memory" in text
    with torch.no_grad():
        model.rnn.bias_ih_l0[16:32] = -30.0
    us = unit_step(model, image, 3, 15)
    text = " ".join(reading(us))
    assert "The forget gate is 0.000: this unit keeps 0.0% of its memory" in text
    assert f"c = {us.kept:+.3f}" in text and f"{us.c:+.3f}" in text
    assert f"row 15 {'is blank' if not image[14].any() else 'has ink'}" in text.lower()


@pytest.mark.parametrize("cell", CELLS)
def test_equations_and_figures_show_the_numbers(tmp_path, cell, test_split):
    loaded = load_checkpoint(tiny_checkpoint(tmp_path, cell))
    image = test_split.images[2].numpy()
    us = unit_step(loaded.model, image, 4, 16)
    lines = equation_lines(us)
    assert len(lines) == {"lstm": 6, "gru": 4, "rnn": 1}[cell]
    for g in us.gates.values():
        assert any(f"{g.value:.3f}" in line and f"{g.from_input:+.3f}" in line for line in lines)
    assert f"{us.h:.3f}" in lines[-1]
    if cell == "lstm":
        assert f"{us.kept:+.3f}" in lines[-2] and f"{us.written:+.3f}" in lines[-2] and f"{us.c:.3f}" in lines[-2]
    assert f"{next(iter(us.gates.values())).proj_bias:+.3f}" in legend_line(us)
    strip = pixel_strip_figure(us)
    np.testing.assert_allclose(np.asarray(strip.data[0].z)[0], image[15])
    np.testing.assert_allclose(np.asarray(strip.data[1].z), np.stack([g.pixel_push for g in us.gates.values()]))
    top = top_hidden_figure(us, k=3)
    first = next(iter(us.gates.values()))
    np.testing.assert_allclose(sorted(np.abs(top.data[0].x)), sorted(np.abs(first.hidden_push))[-3:])


def test_bad_unit_or_step(tiny_model):
    image = np.zeros((28, 28), np.float32)
    with pytest.raises(ValueError, match="unit"):
        unit_step(tiny_model, image, 16, 3)
    with pytest.raises(ValueError, match="step"):
        unit_step(tiny_model, image, 0, 0)
