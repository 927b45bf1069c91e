"""Row attribution: occlusion and integrated gradients, for every cell type."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmviz.attribution import (
    METHODS,
    SCORES,
    attribute_rows,
    integrated_gradients,
    occluded_copies,
    occlusion,
)
from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from lstmviz.figures.attribution import row_attribution_figure
from lstmviz.model import CELLS, ModelConfig, build_model


def small(cell: str, seed: int = 3):
    """A random small model of each cell type (weights scaled up so outputs vary a lot between inputs)."""
    model = build_model(ModelConfig(cell=cell, hidden_size=24, embed_size=20), seed=seed)
    with torch.no_grad():
        model.proj.weight.mul_(3.0)
        model.head.weight.mul_(8.0)
    return model.eval()


@pytest.fixture(scope="module")
def digits(test_split):
    """Real digits (they have blank rows at the top and bottom) and their labels."""
    return test_split.images[:6].numpy(), test_split.labels[:6].numpy()


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint(DEFAULT_CHECKPOINT).model


def _score(model, x: np.ndarray, target: int, score: str) -> np.ndarray:
    with torch.no_grad():
        logits = model(torch.as_tensor(x, dtype=torch.float32))
    out = torch.softmax(logits, -1) if score == "probability" else logits
    return out[:, target].double().numpy()


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("score", SCORES)
def test_occlusion_equals_a_manual_loop(digits, cell, score):
    model = small(cell)
    images, _ = digits
    for image in images[:3]:
        for target in (0, 7):
            got = occlusion(model, image, target, score)
            full = _score(model, image[None], target, score)[0]
            expected = []
            for t in range(28):
                covered = image.copy()
                covered[t] = 0.0
                expected.append(full - _score(model, covered[None], target, score)[0])
            np.testing.assert_allclose(got.rows, expected, atol=1e-5, rtol=0)
            assert got.value == pytest.approx(full, abs=1e-6)
            assert got.baseline_value == pytest.approx(_score(model, np.zeros((1, 28, 28)), target, score)[0], abs=1e-6)
            assert got.pixels is None and got.gap is None and got.method == "occlusion"
            assert np.abs(got.rows).max() > 1e-4  # some row really changes the score


@pytest.mark.parametrize("cell", CELLS)
def test_all_zero_rows_get_exactly_zero(digits, cell):
    model = small(cell)
    images, _ = digits
    image = images[0].copy()
    image[12] = 0.0  # also blank a row in the middle of the stroke
    blank = ~image.any(axis=1)
    assert blank[0] and blank[12] and not blank.all()
    for method in METHODS:
        for score in SCORES:
            res = attribute_rows(model, image, 3, method, score)
            assert np.all(res.rows[blank] == 0.0), (method, score)
            assert np.abs(res.rows[~blank]).max() > 0, (method, score)
            if res.pixels is not None:
                assert np.all(res.pixels[image == 0] == 0.0)
                np.testing.assert_allclose(res.pixels.sum(1), res.rows, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("score", SCORES)
def test_integrated_gradients_completeness(digits, cell, score):
    model = small(cell)
    images, _ = digits
    for image in images[:3]:
        both = np.stack([image, np.zeros_like(image)])
        change = [abs(np.subtract(*_score(model, both, c, score))) for c in range(10)]
        target = int(np.argmax(change))  # the class the digit moves most: the check below is not vacuous
        res = integrated_gradients(model, image, target, score, tolerance=1e-5)
        expected = _score(model, both, target, score)
        assert res.value == pytest.approx(expected[0], abs=1e-5)
        assert res.baseline_value == pytest.approx(expected[1], abs=1e-5)
        delta = res.value - res.baseline_value
        assert abs(delta) > 1e-3
        assert abs(res.gap) <= 1e-5 * max(1.0, abs(delta))
        assert res.total == pytest.approx(delta, abs=1e-5)
        assert res.pixels.shape == (28, 28) and res.rows.shape == (28,)


def test_completeness_on_the_trained_model(shipped, digits):
    """A trained LSTM saturates, which makes the path sharp: more points are used until the sum adds up."""
    images, labels = digits
    for image, label in zip(images, labels, strict=False):
        res = integrated_gradients(shipped, image, int(label), "logit")
        delta = res.value - res.baseline_value
        assert delta > 1.0  # the digit raises its own class's logit well above the blank image's
        assert abs(res.gap) <= 1e-3 * max(1.0, abs(delta)), (res.gap, res.n_steps)
    coarse = integrated_gradients(shipped, images[1], int(labels[1]), "logit", n_steps=16, tolerance=None)
    assert coarse.n_steps == 16  # no tolerance: exactly the points asked for


def test_integrated_gradients_against_a_fine_riemann_sum(digits):
    """Gauss-Legendre quadrature agrees with a plain midpoint Riemann sum of the gradients along the path."""
    model = small("gru")
    image, label = digits[0][1], int(digits[1][1])
    res = integrated_gradients(model, image, label, "logit")
    x = torch.as_tensor(image, dtype=torch.float64)
    m = build_model(model.config)
    m.load_state_dict(model.state_dict())
    m = m.double().eval()
    n = 2000
    alphas = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    path = (alphas[:, None, None] * x).requires_grad_(True)
    (g,) = torch.autograd.grad(m(path)[:, label].sum(), path)
    riemann = (x * g.mean(0)).numpy()
    np.testing.assert_allclose(res.pixels, riemann, atol=1e-4)


def test_occluded_copies():
    image = torch.arange(12, dtype=torch.float32).reshape(3, 4) + 1
    copies = occluded_copies(image)
    assert copies.shape == (3, 3, 4)
    for t in range(3):
        assert torch.all(copies[t, t] == 0)
        others = [r for r in range(3) if r != t]
        assert torch.equal(copies[t, others], image[others])


def test_bad_input_is_rejected(tiny_model):
    image = np.zeros((28, 28), np.float32)
    with pytest.raises(ValueError, match="shape"):
        occlusion(tiny_model, np.zeros((2, 28, 28)), 0)
    with pytest.raises(ValueError, match="target"):
        occlusion(tiny_model, image, 10)
    with pytest.raises(ValueError, match="target"):
        integrated_gradients(tiny_model, image, -1)
    with pytest.raises(ValueError, match="NaN"):
        occlusion(tiny_model, np.full((28, 28), np.nan), 0)
    with pytest.raises(ValueError, match="score"):
        occlusion(tiny_model, image, 0, score="loss")
    with pytest.raises(ValueError, match="method"):
        attribute_rows(tiny_model, image, 0, method="saliency")
    with pytest.raises(ValueError, match="n_steps"):
        integrated_gradients(tiny_model, image, 0, n_steps=0)
    blank = attribute_rows(tiny_model, image, 0, "integrated_gradients")
    assert np.all(blank.rows == 0) and blank.gap == pytest.approx(0.0, abs=1e-12)  # its own baseline


def test_figure_aligns_bars_with_rows(shipped, digits):
    image, label = digits[0][0], int(digits[1][0])
    res = integrated_gradients(shipped, image, label, "logit")
    fig = row_attribution_figure(image, res.rows, res.pixels, "t", "IG")
    digit, pixels, bars = fig.data
    np.testing.assert_array_equal(np.asarray(digit.z), image)
    assert bars.orientation == "h" and bars.xaxis == "x2"
    np.testing.assert_allclose(np.asarray(bars.x), res.rows)
    np.testing.assert_array_equal(np.asarray(bars.y), np.arange(28))
    # The bars' rows are the image's rows: the same axis range, top row first.
    assert fig.layout.yaxis2.matches == "y" and tuple(fig.layout.yaxis.range) == (27.5, -0.5)
    z = np.asarray(pixels.z, dtype=np.float64)
    assert np.all(np.isnan(z[image == 0]))
    np.testing.assert_allclose(z[image > 0], res.pixels[image > 0])
    assert len(row_attribution_figure(image, res.rows).data) == 2
    with pytest.raises(ValueError, match="row scores"):
        row_attribution_figure(image, res.rows[:10])


@pytest.mark.parametrize("layers", [2, 3])
def test_attribution_of_a_stacked_model(digits, layers):
    """Both methods run the model's own torch module: occlusion equals the manual loop and integrated gradients
    add up for a stacked model too."""
    model = build_model(ModelConfig(cell="lstm", hidden_size=16, embed_size=20, num_layers=layers), seed=5)
    with torch.no_grad():
        model.proj.weight.mul_(3.0)
        model.head.weight.mul_(8.0)
    model.eval()
    image = digits[0][1]
    got = occlusion(model, image, 4, "logit")
    full = _score(model, image[None], 4, "logit")[0]
    covered = np.repeat(image[None], 28, 0)
    covered[np.arange(28), np.arange(28)] = 0.0
    np.testing.assert_allclose(got.rows, full - _score(model, covered, 4, "logit"), atol=1e-5, rtol=0)
    res = integrated_gradients(model, image, 4, "logit", tolerance=1e-5)
    delta = res.value - res.baseline_value
    assert abs(delta) > 1e-3 and abs(res.gap) <= 1e-5 * max(1.0, abs(delta))
