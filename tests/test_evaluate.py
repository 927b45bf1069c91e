"""Accuracy and predictions on in-memory images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstmviz.data import Split
from lstmviz.evaluate import accuracy, predict_logits, predict_proba


def test_batching_does_not_change_the_logits(tiny_model, test_split):
    images = test_split.images[:250]
    whole = predict_logits(tiny_model, images, batch_size=1000)
    assert whole.shape == (250, 10)
    torch.testing.assert_close(predict_logits(tiny_model, images, batch_size=7), whole, atol=1e-5, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(whole, tiny_model(images), atol=1e-5, rtol=0)


def test_predict_proba(tiny_model, test_split):
    images = test_split.images[:300]
    proba = predict_proba(tiny_model, images.numpy())
    assert isinstance(proba, np.ndarray) and proba.shape == (300, 10)
    assert proba.min() >= 0 and np.abs(proba.sum(1) - 1).max() < 1e-5
    np.testing.assert_array_equal(proba, predict_proba(tiny_model, images))  # a tensor works too
    np.testing.assert_allclose(proba, torch.softmax(predict_logits(tiny_model, images), -1).numpy(), atol=1e-7)


def test_accuracy_counts_correct_predictions(tiny_model, test_split):
    sub = test_split.subset(300)
    pred = predict_logits(tiny_model, sub.images).argmax(-1)
    assert accuracy(tiny_model, sub) == pytest.approx(float((pred == sub.labels).float().mean()))
    # Labels set to the predictions: 100 %; shifted by one: 0 %.
    assert accuracy(tiny_model, Split(sub.images, pred)) == 1.0
    assert accuracy(tiny_model, Split(sub.images, (pred + 1) % 10)) == 0.0
    assert accuracy(tiny_model, Split(sub.images, pred), batch_size=13) == 1.0


def test_empty_inputs(tiny_model):
    empty = Split(torch.empty(0, 28, 28), torch.empty(0, dtype=torch.int64))
    assert predict_logits(tiny_model, empty.images).shape == (0, 10)
    assert predict_proba(tiny_model, np.empty((0, 28, 28), np.float32)).shape == (0, 10)
    assert np.isnan(accuracy(tiny_model, empty))


def test_evaluation_leaves_the_model_in_eval_mode(tiny_model, test_split):
    tiny_model.train()
    predict_logits(tiny_model, test_split.images[:5])
    assert not tiny_model.training
