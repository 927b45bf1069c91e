"""Right data for the right job: the best weights are chosen on training images held out from the run,
the test digits are read only to score the saved model, and the CLI's final model owes nothing to them."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import torch

import lstmviz.data
import lstmviz.train as train_module
from lstmviz.checkpoint import load_checkpoint, weights_hash
from lstmviz.data import Split
from lstmviz.evaluate import accuracy
from lstmviz.jobs import JobSpec, _train_and_save
from lstmviz.model import ModelConfig
from lstmviz.train import hold_out, make_recipe, train

TINY = ModelConfig(hidden_size=16, embed_size=8)
CODE = 4096.0  # image i carries i / CODE in its top-left pixel (exact in float32)


def coded_split(n: int, seed: int = 0, start: int = 0) -> Split:
    """n random images whose top-left pixel says which image they are (start, start + 1, ...)."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 28, 28, generator=gen)
    images[:, 0, 0] = torch.arange(start, start + n, dtype=torch.float32) / CODE
    return Split(images, torch.randint(0, 10, (n,), generator=gen))


def ids(x: torch.Tensor) -> set[int]:
    return {int(v) for v in torch.round(x[:, 0, 0] * CODE).tolist()}


@pytest.fixture
def seen(monkeypatch):
    """Which images every model built by train() saw, in training mode and in evaluation mode."""
    record = {"train": set(), "eval": set()}
    real = train_module.build_model

    def build_and_watch(*args, **kwargs):
        model = real(*args, **kwargs)
        model.register_forward_pre_hook(lambda m, inp: record["train" if m.training else "eval"].update(ids(inp[0])))
        return model

    monkeypatch.setattr(train_module, "build_model", build_and_watch)
    return record


def test_hold_out_keeps_the_last_images_apart():
    split = coded_split(300)
    fit, val = hold_out(split, 40)
    assert (len(fit), len(val)) == (260, 40)
    assert ids(fit.images) == set(range(260)) and ids(val.images) == set(range(260, 300))
    assert torch.equal(val.labels, split.labels[260:])
    for bad in (0, 300, 301):
        with pytest.raises(ValueError, match="validation"):
            hold_out(split, bad)


def test_the_validation_images_are_never_trained_on(seen):
    fit, val = hold_out(coded_split(500), 100)
    recipe = replace(make_recipe("notebook"), n_train=None, batch_size=50, epochs=2)
    result = train(fit, val, recipe, TINY, evals_per_epoch=2)
    assert seen["train"] == set(range(400))  # every fitting image, and only those
    assert seen["eval"] == set(range(400, 500))  # the live evaluations and the choice of the best: validation only
    best = max(result.history, key=lambda h: h["test_accuracy"])
    assert accuracy(result.best_model, val) == best["test_accuracy"] == result.metrics["best_test_accuracy"]


def test_n_train_takes_the_first_images_of_the_fitting_part(seen):
    fit, val = hold_out(coded_split(500), 100)
    train(fit, val, replace(make_recipe("notebook"), n_train=150, batch_size=50, epochs=1), TINY)
    assert seen["train"] == set(range(150))
    assert seen["eval"] == set(range(400, 500))


@pytest.mark.parametrize("overlap", [slice(0, 100), slice(350, 450), slice(None)])
def test_an_evaluation_split_cut_from_the_training_images_is_refused(overlap):
    split = coded_split(400)
    recipe = replace(make_recipe("notebook"), batch_size=50, epochs=1)
    with pytest.raises(ValueError, match="shares images"):
        train(split, Split(split.images[overlap], split.labels[overlap]), recipe, TINY, max_batches=1)
    fit, val = hold_out(split, 50)  # the same storage, disjoint rows: accepted
    assert train(fit, val, recipe, TINY, max_batches=1).metrics["steps"] == 1


def test_the_final_model_does_not_depend_on_the_evaluated_split():
    """The CLI saves the final model: evaluating on test digits during the run only reports, it decides nothing."""
    split = coded_split(400)
    recipe = replace(make_recipe("default"), batch_size=50, epochs=1)
    blind = train(split, None, recipe, TINY)
    watched = train(split, coded_split(200, seed=1), recipe, TINY, evals_per_epoch=4)
    assert len(watched.history) == 4 and not blind.history
    assert weights_hash(watched.model) == weights_hash(blind.model)


class SentinelSplit:
    """A test split that fails the run if its digits are read before `open` is set."""

    def __init__(self, split: Split, open_: threading.Event) -> None:
        self._split, self._open = split, open_
        self.reads = 0

    def __len__(self) -> int:
        return len(self._split)

    def _read(self, name: str):
        if not self._open.is_set():
            raise AssertionError(f"the test digits ({name}) were read before training ended")
        self.reads += 1
        return getattr(self._split, name)

    images = property(lambda self: self._read("images"))
    labels = property(lambda self: self._read("labels"))

    def subset(self, n):
        raise AssertionError("a subset of the test digits was taken")


@pytest.mark.parametrize("stop_early", [False, True])
def test_the_app_chooses_on_held_out_training_images_and_scores_on_unseen_test_digits(
    tmp_path, monkeypatch, seen, stop_early
):
    training, test = coded_split(1000), coded_split(300, seed=5, start=5000)
    trained = threading.Event()
    sentinel = SentinelSplit(test, trained)

    def load_split(is_train, data_dir=None, download=True):
        return training if is_train else sentinel

    monkeypatch.setattr(lstmviz.data, "load_split", load_split)
    real_train = train_module.train

    def train_then_open(*args, **kwargs):
        result = real_train(*args, **kwargs)
        trained.set()
        return result

    monkeypatch.setattr(train_module, "train", train_then_open)
    stop = threading.Event()
    events = []

    def send(kind, payload):
        events.append((kind, payload))
        if stop_early and kind == "progress" and payload["kind"] == "eval" and payload["step"] >= 10:
            stop.set()

    spec = JobSpec(
        preset="notebook",
        epochs=2,
        hidden_size=16,
        n_train=None,
        batch_size=50,
        eval_size=200,
        evals_per_epoch=4,
        models_dir=str(tmp_path),
        name="heldout",
    )
    threads = torch.get_num_threads()
    try:
        _train_and_save(spec, send, stop)
    finally:
        torch.set_num_threads(threads)
    done = dict(events)["done"]
    assert done["state"] == ("stopped" if stop_early else "finished"), done["message"]
    fitted = set(range(800))  # 1,000 training images minus the 200 held out
    assert seen["train"] < fitted if stop_early else seen["train"] == fitted  # stopped within the first epoch
    # evaluation mode saw the held-out images (live curve, best), then the test digits for the final score
    assert seen["eval"] == set(range(800, 1000)) | set(range(5000, 5300))
    assert sentinel.reads == 2  # images and labels, once each: the final score
    metrics = done["metrics"]
    loaded = load_checkpoint(done["path"])
    assert metrics["test_accuracy"] == pytest.approx(accuracy(loaded.model, test))
    assert metrics["n_test"] == 300 and metrics["eval_size"] == 200
    val = hold_out(training, 200)[1]
    best = max(metrics["history"], key=lambda h: h["test_accuracy"])
    kept = best if stop_early else metrics["history"][-1]
    assert metrics["eval_accuracy"] == pytest.approx(accuracy(loaded.model, val))
    assert metrics["eval_accuracy"] == pytest.approx(kept["test_accuracy"])


def test_the_app_counts_the_images_it_trains_on():
    """The progress bar and the description count the 60,000 training images minus the held-out ones."""
    assert JobSpec(preset="default").n_images() == 60_000 - JobSpec().eval_size
    assert JobSpec(preset="default", eval_size=5_000).n_images() == 55_000
    assert JobSpec(preset="notebook").n_images() == 55_000  # the notebook's own 55,000: unchanged
    assert JobSpec(preset="default", n_train=10_000).n_images() == 10_000
