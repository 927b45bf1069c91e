"""The truncation fast path against the naive loop on the shipped, trained models (not only tiny untrained ones).

A trained network saturates its gates and carries long-lived state, which tiny random models do not;
the fast path's shared zero-row trajectory and stacked occlusion continuations must still give exactly
the predictions of one full forward pass per k and mode. Every checkpoint in models/ is checked (a
stacked model shipped there is checked with its whole stack's state).
"""

from __future__ import annotations

import numpy as np
import pytest

from lstmviz.checkpoint import MODELS_DIR, load_checkpoint
from lstmviz.data import Split
from lstmviz.evaluate import predict_logits
from lstmviz.truncation import MODES, STEPS, naive_truncation, truncation_curves

N_DIGITS = 300  # a few hundred test digits: 2 full batches of 128 and a partial one
SHIPPED = sorted(p.name for p in MODELS_DIR.glob("*.safetensors"))


def test_the_shipped_models_are_there():
    assert {"lstm.safetensors", "gru.safetensors", "rnn.safetensors"} <= set(SHIPPED)


@pytest.fixture(scope="module")
def digits(test_split) -> Split:
    return Split(test_split.images[:N_DIGITS], test_split.labels[:N_DIGITS])


@pytest.mark.parametrize("name", SHIPPED)
def test_fast_path_equals_the_naive_loop_on_the_shipped_model(name, digits):
    model = load_checkpoint(MODELS_DIR / name).model
    naive = naive_truncation(model, digits, batch_size=128)
    fast = truncation_curves(model, digits, batch_size=128, workers=2)  # batches side by side, as in the app
    for mode in MODES:
        assert fast.predictions[mode].shape == (STEPS, N_DIGITS)
        assert np.array_equal(fast.predictions[mode], naive.predictions[mode]), mode
    # With all 28 rows every mode is the model's ordinary answer, and a trained model gets most right.
    plain = predict_logits(model, digits.images).argmax(-1).numpy()
    for mode in MODES:
        assert np.array_equal(fast.predictions[mode][-1], plain), mode
    assert (plain == digits.labels.numpy()).mean() > 0.9
    # The curves are not flat: cutting a digit short really changes the answers (a non-trivial comparison).
    for mode in MODES:
        assert fast.accuracy[mode][0] < 0.5 < fast.accuracy[mode][-1], mode
