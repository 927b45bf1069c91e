"""Hidden-state space: sampling, PCA, projection, separation, and the figures built from them."""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.checkpoint import load_checkpoint
from lstmviz.figures.statespace import separation_figure, trajectories_figure
from lstmviz.model import ModelConfig, build_model
from lstmviz.statespace import (
    balanced_sample,
    collect_states,
    fit_model_pca,
    fit_pca,
    separation_per_step,
    state_space,
    step_accuracy,
)
from lstmviz.trace import trace_batch


@pytest.fixture(scope="module")
def small_test(test_split):
    """The first 2000 test digits as numpy (enough for every class)."""
    return test_split.images[:2000].numpy(), test_split.labels[:2000].numpy()


def test_balanced_sample_is_balanced_sorted_and_nested():
    labels = np.repeat(np.arange(10), 30)[np.random.default_rng(1).permutation(300)]
    idx = balanced_sample(labels, 100)
    assert np.all(np.diff(idx) > 0)
    assert np.bincount(labels[idx], minlength=10).tolist() == [10] * 10
    bigger = balanced_sample(labels, 200)
    assert set(idx) <= set(bigger)
    assert np.array_equal(idx, balanced_sample(labels, 100))
    capped = balanced_sample(labels, 1000)  # only 30 per class exist
    assert np.bincount(labels[capped], minlength=10).tolist() == [30] * 10
    with pytest.raises(ValueError):
        balanced_sample(labels, 0)


def test_pca_matches_eigendecomposition_of_the_covariance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6)) @ np.diag([5.0, 3.0, 2.0, 1.0, 0.5, 0.1]) @ np.linalg.qr(rng.normal(size=(6, 6)))[0]
    pca = fit_pca(X, 3)
    assert pca.components.shape == (3, 6)
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(3), atol=1e-10)
    assert np.all(np.diff(pca.explained_variance) < 0)
    evals, evecs = np.linalg.eigh(np.cov(X, rowvar=False))  # ascending
    np.testing.assert_allclose(pca.explained_variance, evals[::-1][:3], rtol=1e-8)
    np.testing.assert_allclose(pca.explained_ratio, evals[::-1][:3] / evals.sum(), rtol=1e-8)
    for k in range(3):  # same axes up to sign, and the sign rule holds
        ref = evecs[:, -1 - k]
        assert abs(abs(ref @ pca.components[k]) - 1) < 1e-8
        assert pca.components[k][np.abs(pca.components[k]).argmax()] > 0
    coords = pca.project(X)
    np.testing.assert_allclose(coords.var(0, ddof=1), pca.explained_variance, rtol=1e-5)


def test_pca_sign_does_not_depend_on_the_order_of_the_points():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 5)) * [4, 2, 1, 0.5, 0.2]
    a = fit_pca(X)
    b = fit_pca(X[rng.permutation(300)])
    np.testing.assert_allclose(a.components, b.components, atol=1e-9)
    with pytest.raises(ValueError):
        fit_pca(X[:1])


def torch_steps(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """h (and c for an LSTM) at every step from torch.nn's own module, fed the projected rows one step at a time."""
    import torch

    with torch.no_grad():
        xp = model.proj(torch.as_tensor(images))  # (N, T, P)
        hs, cs, state = [], [], None
        for t in range(xp.shape[1]):
            out, state = model.rnn(xp[:, t : t + 1], state)  # out (N, 1, H)
            hs.append(out[:, 0])
            if model.config.cell == "lstm":
                cs.append(state[1][0])  # c after step t, (N, H)
        whole, _ = model.rnn(xp)  # (N, T, H): the same h in one call
    h = torch.stack(hs, 1)
    torch.testing.assert_close(h, whole, atol=1e-6, rtol=1e-5)
    return h.numpy(), torch.stack(cs, 1).numpy() if cs else None


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_collect_states_matches_torch_nn(cell, small_test):
    """collect_states (an unrolled recurrence) against torch.nn.LSTM/GRU/RNN run on the projected input."""
    import torch

    model = build_model(ModelConfig(hidden_size=16, embed_size=8, cell=cell), seed=0)
    with torch.no_grad():  # weights of a realistic size, so the gates are not all near 0.5
        for p in model.rnn.parameters():
            p.mul_(3.0)
    images = small_test[0][:40]
    states = collect_states(model, images, batch_size=16)  # several batches
    h, c = torch_steps(model, images)
    assert states.h.shape == (40, 28, 16)
    np.testing.assert_allclose(states.h, h, atol=1e-5)
    assert states.predictions.shape == (40, 28)
    with torch.no_grad():
        logits = model.head(torch.as_tensor(h))  # (40, 28, 10)
        last = model(torch.as_tensor(images))  # the model's own forward pass: the answer after 28 rows
    np.testing.assert_array_equal(states.predictions, logits.argmax(-1).numpy())
    np.testing.assert_array_equal(states.predictions[:, -1], last.argmax(-1).numpy())
    if cell == "lstm":
        assert c is not None and c.shape == (40, 28, 16)
        np.testing.assert_allclose(states.c, c, atol=1e-5)
        assert np.abs(c).max() > 1.0  # c is not bounded like h: a real test of the cell state
    else:
        assert states.c is None


def torch_layer_steps(model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Every layer's h and (LSTM) c at every step, (L, N, T, H), read off torch's own stacked module's state
    (h_n, c_n hold every layer), fed the projected rows one step at a time."""
    import torch

    lstm = model.config.cell == "lstm"
    with torch.no_grad():
        xp = model.proj(torch.as_tensor(images))  # (N, T, P)
        hs, cs, state = [], [], None
        for t in range(xp.shape[1]):
            _, state = model.rnn(xp[:, t : t + 1], state)  # state (L, N, H) (an LSTM: a pair)
            hs.append(state[0] if lstm else state)
            if lstm:
                cs.append(state[1])
    return torch.stack(hs, 2).numpy(), torch.stack(cs, 2).numpy() if cs else None


@pytest.mark.parametrize(("cell", "layers"), [("lstm", 2), ("gru", 3), ("rnn", 2)])
def test_collect_states_of_every_layer_matches_torch_nn(cell, layers, small_test):
    import torch

    model = build_model(ModelConfig(hidden_size=16, embed_size=8, cell=cell, num_layers=layers), seed=1)
    with torch.no_grad():
        for p in model.rnn.parameters():
            p.mul_(3.0)
    images = small_test[0][:24]
    h, c = torch_layer_steps(model, images)  # (L, N, T, H)
    top = collect_states(model, images, batch_size=10)
    for k in range(layers):
        states = collect_states(model, images, batch_size=10, layer=k)
        np.testing.assert_allclose(states.h, h[k], atol=1e-5, err_msg=f"layer {k}")
        if cell == "lstm":
            np.testing.assert_allclose(states.c, c[k], atol=1e-5, err_msg=f"layer {k}")
        np.testing.assert_array_equal(states.predictions, top.predictions)  # the readout reads the top layer
    np.testing.assert_array_equal(top.h, collect_states(model, images, batch_size=10, layer=layers - 1).h)
    assert np.abs(h[0] - h[-1]).max() > 0.05
    images_all, labels = small_test
    low = state_space(model, images_all, labels, n=40, layer=0)
    high = state_space(model, images_all, labels, n=40)
    h0 = collect_states(model, images_all[low.indices], layer=0).h
    np.testing.assert_allclose(low.coords3, (h0.astype(np.float64) - low.pca.mean) @ low.pca.components.T, atol=1e-4)
    assert np.abs(low.pca.mean - high.pca.mean).max() > 1e-3  # each layer has its own axes
    with pytest.raises(ValueError, match="layer"):
        collect_states(model, images, layer=layers)


def test_state_space_shapes_and_projection(tiny_model, small_test):
    images, labels = small_test
    space = state_space(tiny_model, images, labels, n=60, pca=fit_model_pca(tiny_model, images, labels, n=100))
    n = len(space.indices)
    assert n == 60
    assert space.coords2.shape == (n, 28, 2) and space.coords3.shape == (n, 28, 3)
    np.testing.assert_array_equal(space.coords2, space.coords3[..., :2])
    np.testing.assert_array_equal(space.labels, labels[space.indices])
    assert space.predictions.shape == (n, 28)
    h = trace_batch(tiny_model, images[space.indices]).h  # (n, T, H)
    manual = (h.astype(np.float64) - space.pca.mean) @ space.pca.components.T
    np.testing.assert_allclose(space.coords3, manual, atol=1e-4)
    assert set(space.separation) == {"h", "2-D", "3-D"}
    with pytest.raises(ValueError):
        space.coords(4)


def test_projection_is_reproducible_for_the_same_model(small_test):
    images, labels = small_test
    runs = []
    for _ in range(2):
        model = load_checkpoint().model  # loaded afresh each time
        pca = fit_model_pca(model, images, labels, n=200)
        runs.append(state_space(model, images, labels, n=100, pca=pca))
    a, b = runs
    np.testing.assert_array_equal(a.pca.components, b.pca.components)
    np.testing.assert_array_equal(a.coords2, b.coords2)
    np.testing.assert_array_equal(a.coords3, b.coords3)
    np.testing.assert_array_equal(a.indices, b.indices)


def test_classes_separate_as_rows_are_read_with_the_shipped_model(small_test):
    images, labels = small_test
    model = load_checkpoint().model
    space = state_space(model, images, labels, n=200, pca=fit_model_pca(model, images, labels, n=200))
    for name in ("h", "2-D", "3-D"):
        sep = space.separation[name]
        assert sep.centroid_accuracy[-1] > sep.centroid_accuracy[0] + 0.4, name
        assert sep.ratio[-1] > sep.ratio[0], name
    assert space.separation["h"].centroid_accuracy[-1] > 0.9
    readout = step_accuracy(space.predictions, space.labels)
    assert readout[-1] > 0.9 and readout[0] < 0.3


def test_separation_per_step_on_known_points():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 20)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    noise = rng.normal(size=(60, 2))
    points = np.stack([np.zeros((60, 2)), centres[labels] + noise], axis=1)  # (60, 2 steps, 2)
    sep = separation_per_step(points, labels)
    assert sep.ratio[0] == 0.0  # every digit in the same spot: no separation
    assert sep.centroid_accuracy[1] == 1.0
    X = points[:, 1]
    means = np.array([X[labels == c].mean(0) for c in range(3)])
    within = sum(((X[labels == c] - means[c]) ** 2).sum() for c in range(3))
    between = sum(20 * ((means[c] - X.mean(0)) ** 2).sum() for c in range(3))
    assert sep.ratio[1] == pytest.approx(between / within)
    with pytest.raises(ValueError):
        separation_per_step(points[:, 0], labels)


def test_trajectories_figure_frames_show_each_step(tiny_model, small_test):
    images, labels = small_test
    space = state_space(tiny_model, images, labels, n=30, pca=fit_model_pca(tiny_model, images, labels, n=50))
    path = space.coords2[5]
    fig = trajectories_figure(space.coords2, space.labels, highlight=path, explained=space.explained_ratio, tail=2)
    assert len(fig.frames) == 28
    assert fig.layout.sliders[0].active == 27
    frame = fig.frames[9]  # step 10
    points = [t for t in frame.data if t.mode == "markers" and t.name and t.name.startswith("digit")]
    assert [t.name for t in points] == [f"digit {c}" for c in range(10)]
    for trace in points:
        cls = int(trace.name.split()[1])
        np.testing.assert_allclose(trace.x, space.coords2[space.labels == cls, 9, 0], rtol=1e-6)
        np.testing.assert_allclose(trace.y, space.coords2[space.labels == cls, 9, 1], rtol=1e-6)
    selected = [t for t in frame.data if t.name == "selected digit"]
    assert len(selected) == 1 and len(selected[0].x) == 10
    np.testing.assert_allclose(selected[0].x, path[:10, 0], rtol=1e-6)
    assert len(fig.frames[0].data) == len(frame.data)  # every frame updates the same traces
    assert "PC1" in fig.layout.xaxis.title.text

    fig3 = trajectories_figure(space.coords3, space.labels, step=1, tail=0)
    assert {t.type for t in fig3.data} == {"scatter3d"}
    assert fig3.layout.sliders[0].active == 0
    with pytest.raises(ValueError):
        trajectories_figure(space.coords2, space.labels, highlight=space.coords2[0, :5])
    with pytest.raises(ValueError):
        trajectories_figure(space.coords2, space.labels, step=0)


def test_separation_figure_draws_each_curve():
    curves = {"a": np.linspace(0.1, 1, 28), "b": np.linspace(0.1, 0.8, 28)}
    fig = separation_figure(curves, readout=np.linspace(0, 1, 28))
    assert [t.name for t in fig.data] == ["a", "b", "the model's answer (readout)"]
    np.testing.assert_allclose(fig.data[1].y, curves["b"])
    assert fig.layout.shapes[0].y0 == pytest.approx(0.1)  # chance
