"""Truncation curves: the fast path equals the naive loop and hand-made inputs; the cache; the CLI."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

import lstmviz.truncation as tr
from lstmviz.checkpoint import LoadedModel, load_checkpoint, save_checkpoint
from lstmviz.cli import main
from lstmviz.data import Split
from lstmviz.evaluate import accuracy, predict_logits
from lstmviz.model import ModelConfig, build_model


def varied_model(cell: str = "lstm", seed: int = 0, hidden: int = 16, layers: int = 1):
    """A small untrained model whose answers vary from digit to digit (the notebook's N(0, 1) init).

    Its biases are random too: with zero biases a zero row leaves the zero state unchanged, and
    notebook mode would be the same as early readout. In a stack, the layers above the first get
    larger input weights, so that their answers vary too.
    """
    model = build_model(ModelConfig(hidden_size=hidden, embed_size=16, cell=cell, num_layers=layers), seed=seed)
    model.init_notebook_()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "bias" in name:
                p.normal_(0.0, 0.1)
            elif name.startswith("rnn.weight_ih_l") and not name.endswith("l0"):
                p.normal_(0.0, 1.0)  # a layer above the first gets inputs in (-1, 1): Glorot would keep it near 0
    return model.eval()


@pytest.fixture(scope="module")
def small(test_split) -> Split:
    return test_split.subset(300)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "user-cache"
    monkeypatch.setenv(tr.CACHE_ENV_VAR, str(folder))
    return folder


def by_hand(model, images: torch.Tensor, k: int, mode: str) -> np.ndarray:
    """Predictions for inputs built row by row, independently of lstmviz.truncation."""
    x = np.zeros((images.shape[0], 28, 28), np.float32)
    src = images.numpy()
    if mode == "notebook":
        for j in range(k):  # row j of the digit goes to step 28 - k + j
            x[:, 28 - k + j] = src[:, j]
    elif mode == "occlusion":
        for j in range(k):
            x[:, j] = src[:, j]
    else:
        x = src[:, :k].copy()
    with torch.no_grad():
        return model(torch.from_numpy(x)).argmax(-1).numpy()


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_fast_equals_naive_for_every_cell_and_stack(cell, layers, small):
    model = varied_model(cell, layers=layers)
    assert model.rnn.num_layers == layers
    fast = tr.truncation_curves(model, small, batch_size=128, workers=2)  # 300 = 2 full batches and a remainder
    naive = tr.naive_truncation(model, small, batch_size=128)
    for mode in tr.MODES:
        assert np.array_equal(fast.predictions[mode], naive.predictions[mode]), mode
        assert np.array_equal(fast.accuracy[mode], naive.accuracy[mode])
        assert len(np.unique(fast.predictions[mode])) >= 3  # a model with varied answers: the check has teeth
    assert not np.array_equal(fast.predictions["notebook"], fast.predictions["early"])


@pytest.mark.parametrize("mode", tr.MODES)
def test_each_mode_equals_inputs_built_by_hand(mode, small):
    model = varied_model("lstm", seed=1)
    result = tr.truncation_curves(model, small, [mode])
    assert result.modes == (mode,)
    for k in (1, 7, 25, 28):
        assert np.array_equal(result.predictions[mode][k - 1], by_hand(model, small.images, k, mode)), k


def test_at_28_rows_every_mode_is_the_plain_test_accuracy(test_split):
    model = varied_model("gru", seed=2)
    result = tr.truncation_curves(model, test_split)
    plain = accuracy(model, test_split)
    assert result.n == 10000
    final = predict_logits(model, test_split.images).argmax(-1).numpy()
    for mode in tr.MODES:
        assert np.array_equal(result.predictions[mode][27], final)
        assert result.accuracy[mode][27] == pytest.approx(plain, abs=1e-6)  # evaluate.accuracy averages in float32
    assert 0.0 < plain < 1.0
    assert not np.array_equal(result.predictions["notebook"][:27], result.predictions["occlusion"][:27])


def test_derived_arrays_follow_the_predictions():
    labels = np.array([0, 1, 1, 2])
    preds = np.zeros((28, 4), np.int8)
    preds[:, 1] = 1  # always right
    preds[10:, 2] = 1  # right from k = 11 on
    preds[27, 2] = 0  # ... but wrong at 28: never decided
    preds[5:, 3] = 2
    preds[20, 3] = 0  # a slip at k = 21: decided at 22
    result = tr.TruncationResult({"early": preds}, labels)
    assert result.decision_step["early"].tolist() == [1, 1, -1, 22]
    assert result.accuracy["early"][0] == pytest.approx(0.5)
    pc = result.per_class["early"]
    assert pc.shape == (28, 10) and pc[0, 0] == 1.0 and pc[0, 1] == 0.5 and pc[0, 2] == 0.0 and np.isnan(pc[0, 5])
    conf = result.confusion("early", 28)
    assert conf.sum() == 4 and conf[1, 0] == 1 and conf[1, 1] == 1 and conf[2, 2] == 1 and conf[0, 0] == 1


def test_as_seen_shows_what_is_fed():
    images = np.random.default_rng(0).uniform(0, 1, (2, 28, 28)).astype(np.float32)
    note = tr.as_seen(images, 3, "notebook")
    assert np.array_equal(note[:, 25:], images[:, :3]) and not note[:, :25].any()
    early = tr.as_seen(images, 3, "early")
    assert np.array_equal(early[:, :3], images[:, :3]) and np.isnan(early[:, 3:]).all()
    occ = tr.as_seen(images, 3, "occlusion")
    assert np.array_equal(occ[:, :3], images[:, :3]) and not occ[:, 3:].any()
    with pytest.raises(ValueError):
        tr.as_seen(images, 0, "early")
    with pytest.raises(ValueError):
        tr.truncation_curves(varied_model(), Split(torch.zeros(1, 28, 28), torch.zeros(1, dtype=torch.int64)), ["x"])


def test_cache_is_hit_then_invalidated_by_new_weights(tmp_path, small, cache_dir, monkeypatch):
    calls = []
    real = tr.truncation_curves

    def spy(model, split, modes=tr.MODES, progress=None, **kw):
        calls.append(tuple(modes))
        return real(model, split, modes, progress, **kw)

    monkeypatch.setattr(tr.cache, "truncation_curves", spy)
    path = save_checkpoint(tmp_path / "m.safetensors", varied_model(seed=3), {})
    first = tr.cached_truncation(path, small, ["early"])
    assert calls == [("early",)]
    beside = path.with_name(path.name + tr.CACHE_SUFFIX)
    assert beside.is_file() and not cache_dir.exists()

    seen = []
    again = tr.cached_truncation(str(path), small, ["early"], progress=lambda f, m: seen.append((f, m)))
    assert calls == [("early",)]  # read from the file, nothing recomputed
    assert seen == [(1.0, "loaded from cache")]
    assert np.array_equal(again.predictions["early"], first.predictions["early"])

    full = tr.cached_truncation(load_checkpoint(path), small)  # only the missing modes are computed
    assert calls == [("early",), ("notebook", "occlusion")]
    tr.cached_truncation(path, small)
    assert len(calls) == 2
    assert np.array_equal(full.predictions["early"], first.predictions["early"])

    other = varied_model(seed=4)
    save_checkpoint(path, other, {})  # same file, new weights
    fresh = tr.cached_truncation(path, small)
    assert calls[-1] == tr.MODES and len(calls) == 3
    expected = real(other, small)
    for mode in tr.MODES:
        assert np.array_equal(fresh.predictions[mode], expected.predictions[mode])

    tr.cached_truncation(path, small.subset(100))  # another test set is not served from this file
    assert len(calls) == 4
    assert tr.cached_truncation(path, small.subset(100)).n == 100 and len(calls) == 4


def test_cache_without_a_checkpoint_file_and_a_damaged_file(tmp_path, small, cache_dir, monkeypatch):
    calls = []
    real = tr.truncation_curves
    monkeypatch.setattr(tr.cache, "truncation_curves", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    model = varied_model("rnn", seed=5)
    uploaded = LoadedModel(model, model.config, {}, "uploaded file")
    tr.cached_truncation(uploaded, small, ["occlusion"])
    files = list(cache_dir.glob(f"*{tr.CACHE_SUFFIX}"))
    assert len(files) == 1 and len(calls) == 1
    tr.cached_truncation(model, small, ["occlusion"])  # a bare model finds the same file
    assert len(calls) == 1
    files[0].write_bytes(b"not an npz file")
    result = tr.cached_truncation(model, small, ["occlusion"])
    assert len(calls) == 2 and result.n == len(small)
    assert tr.cached_truncation(model, small, ["occlusion"], use_cache=False).n == len(small) and len(calls) == 3


def test_background_job_reports_progress(tmp_path, small, cache_dir):
    path = save_checkpoint(tmp_path / "j.safetensors", varied_model("gru", seed=6), {})
    job = tr.TruncationJob(load_checkpoint(path), small)
    result = job.wait(120)
    fraction, message, done, error = job.status()
    assert error is None and done is result and fraction == 1.0 and message == "done"
    assert np.array_equal(
        result.predictions["notebook"], tr.truncation_curves(load_checkpoint(path).model, small).predictions["notebook"]
    )
    broken = tr.TruncationJob(tmp_path / "missing.safetensors", small)
    assert broken.wait(60) is None and "not found" in broken.status()[3]


def test_progress_is_monotone_and_ends_at_one(small):
    seen = []
    tr.truncation_curves(varied_model(), small, progress=lambda f, m: seen.append(f), batch_size=100)
    assert seen[-1] == 1.0 and all(a <= b for a, b in zip(seen, seen[1:], strict=False)) and len(seen) > 10


def test_cli_truncation_json(tmp_path, data_dir, test_split, cache_dir, capsys):
    model = varied_model(seed=7)
    path = save_checkpoint(tmp_path / "cli.safetensors", model, {})
    assert main(["truncation", "--checkpoint", str(path), "--data-dir", str(data_dir), "--n", "150", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = tr.truncation_curves(model, test_split.subset(150))
    assert out["checkpoint"] == str(path) and out["n"] == 150 and list(out["modes"]) == list(tr.MODES)
    for mode in tr.MODES:
        assert out["modes"][mode]["k"] == list(range(1, 29))
        assert out["modes"][mode]["accuracy"] == pytest.approx(expected.accuracy[mode].tolist(), abs=1e-12)
    assert path.with_name(path.name + tr.CACHE_SUFFIX).is_file()

    assert (
        main(["truncation", "--checkpoint", str(path), "--data-dir", str(data_dir), "--n", "150", "--mode", "early"])
        == 0
    )
    text = capsys.readouterr().out
    assert "early" in text and "notebook" not in text and f"{expected.accuracy['early'][24]:9.2%}" in text
    assert main(["truncation", "--checkpoint", str(tmp_path / "nope.safetensors")]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["truncation", "--mode", "sideways"])


def test_states_kept_by_the_shared_pass_equal_nn_lstm_to_the_bit(small):
    """The occlusion tails start from the states the shared pass keeps: they equal a full pass stopped at k."""
    model = varied_model("lstm", seed=8)
    with torch.no_grad():
        rows = model.proj(small.images[:64])
        out, states = tr.compute._states_after_each_row(model, rows)
        full, _ = model.rnn(rows)
        assert torch.equal(out, full)
        for k in (1, 13, 28):
            _, (h, c) = model.rnn(rows[:, :k])
            assert torch.equal(states[k - 1][0], h) and torch.equal(states[k - 1][1], c)
        # probabilities of the fast path's occlusion step equal the naive input's to 1e-6
        k = 9
        tail, _ = model.rnn(model.proj(torch.zeros(64, 28 - k, 28)), states[k - 1])
        fast = torch.softmax(model.head(tail[:, -1]), -1)
        naive = torch.softmax(model(tr.model_input(small.images[:64], k, "occlusion")), -1)
    np.testing.assert_allclose(fast.numpy(), naive.numpy(), atol=1e-6, rtol=0)


def test_progress_names_the_mode_and_k(small):
    seen = []
    tr.truncation_curves(varied_model(), small.subset(120), progress=lambda f, m: seen.append(m), batch_size=50)
    assert any(m.startswith("notebook mode, k = 14 of 28, images 51–100 of 120") for m in seen)
    assert any(m.startswith("occlusion, k = 27 of 28") for m in seen)
    assert any("early readout and occlusion: reading the rows" in m for m in seen)
    only_early = []
    tr.truncation_curves(varied_model(), small.subset(20), ["early"], progress=lambda f, m: only_early.append(m))
    assert only_early[0].startswith("early readout: reading the rows") and only_early[-1] == "done"


def test_time_left_is_estimated_from_the_work_done(monkeypatch):
    clock = iter([100.0, 110.0, 130.0, 195.0])  # start, then one reading per report
    monkeypatch.setattr(tr.compute.time, "perf_counter", lambda: next(clock))
    seen = []
    meter = tr.compute._Meter(1000, lambda f, m: seen.append((f, m)))
    meter(10, "a")  # 1% done after 10 s: too early to say
    meter(240, "b")  # 25% after 30 s: 90 s left
    meter(500, "c")  # 75% after 95 s: about 32 s left
    assert seen == [(0.01, "a"), (0.25, "b; about 1 min 30 s left"), (0.75, "c; about 32 s left")]


def test_a_second_computation_waits_for_the_first(tmp_path, small, cache_dir):
    model = varied_model("rnn", seed=9)
    tr.compute._ONE_AT_A_TIME.acquire()  # as if another model's curves were being computed
    try:
        job = tr.TruncationJob(model, small.subset(50))
        for _ in range(100):
            if job.status()[1].startswith("waiting"):
                break
            job.wait(0.05)
        fraction, message, result, error = job.status()
        assert message.startswith("waiting: the curves of another model") and result is None and error is None
    finally:
        tr.compute._ONE_AT_A_TIME.release()
    result = job.wait(60)
    assert result is not None and np.array_equal(
        result.predictions["occlusion"],
        tr.naive_truncation(model, small.subset(50), ["occlusion"]).predictions["occlusion"],
    )


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_states_kept_for_a_stack_are_every_layers_state(cell, small):
    """For stacked layers the kept state after k rows is the whole stack's, as nn.LSTM/GRU/RNN returns it."""
    model = varied_model(cell, seed=10, layers=3)
    with torch.no_grad():
        rows = model.proj(small.images[:32])
        out, states = tr.compute._states_after_each_row(model, rows)
        assert torch.equal(out, model.rnn(rows)[0])
        for k in (1, 14, 28):
            _, state = model.rnn(rows[:, :k])
            expected = tuple(state) if cell == "lstm" else (state,)
            assert len(states[k - 1]) == len(expected) and states[k - 1][0].shape == (3, 32, 16)
            for kept, ref in zip(states[k - 1], expected, strict=True):
                assert torch.equal(kept, ref)


def _with_layer(layer: torch.nn.Module, head: int = 8) -> torch.nn.Module:
    model = build_model(ModelConfig(hidden_size=16, embed_size=8), seed=0)
    model.rnn = layer
    model.head = torch.nn.Linear(head, 10)
    return model.eval()


HANDLED = {  # layers trace.check_supported refuses but the fast path runs as they are
    "no bias": lambda: torch.nn.GRU(8, 8, num_layers=2, bias=False, batch_first=True),
    "proj_size": lambda: torch.nn.LSTM(8, 8, num_layers=2, proj_size=4, batch_first=True),
}


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
@pytest.mark.parametrize("kind", list(HANDLED))
def test_fast_path_handles_any_stack_it_can_continue(kind, small):
    torch.manual_seed(11)
    model = _with_layer(HANDLED[kind](), head=4 if kind == "proj_size" else 8)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 1.0)
    digits = small.subset(60)
    fast, naive = tr.truncation_curves(model, digits), tr.naive_truncation(model, digits)
    for mode in tr.MODES:
        assert np.array_equal(fast.predictions[mode], naive.predictions[mode]), mode
    assert len(np.unique(fast.predictions["notebook"])) >= 3


UNSUPPORTED = {
    "bidirectional": (lambda: torch.nn.RNN(8, 8, bidirectional=True, batch_first=True), "bidirectional"),
    "not batch_first": (lambda: torch.nn.LSTM(8, 8, num_layers=2), "not batch_first"),
    "another module": (lambda: torch.nn.Linear(8, 8), "type Linear"),
}


@pytest.mark.parametrize("kind", list(UNSUPPORTED))
def test_fast_path_refuses_layers_it_does_not_handle(kind, small):
    from lstmviz.trace import UnsupportedModelError

    make, words = UNSUPPORTED[kind]
    with pytest.raises(UnsupportedModelError, match=words):
        tr.truncation_curves(_with_layer(make()), small.subset(10))


def test_batches_are_shared_out_to_workers_of_one_torch_thread(small, monkeypatch):
    """Worker threads compute the batches on one torch thread each; the rest of the process keeps its count;
    any number of workers gives the same predictions."""
    default = torch.get_num_threads()
    torch.set_num_threads(2)  # as on the 2-core server (the check then has teeth on any machine)
    try:
        seen = []
        real = tr.compute._states_after_each_row

        def record(model, rows):
            torch.mm(torch.ones(64, 64), torch.ones(64, 64))
            seen.append((threading.current_thread().name, torch.get_num_threads()))
            return real(model, rows)

        monkeypatch.setattr(tr.compute, "_states_after_each_row", record)
        model, digits = varied_model("gru", seed=12), small.subset(100)
        two = tr.truncation_curves(model, digits, batch_size=10)  # default: as many workers as torch threads
        assert len(seen) == 10 and {t for _, t in seen} == {1}
        assert len({name for name, _ in seen}) == 2 and all("lstmviz-truncation-worker" in n for n, _ in seen)
        assert torch.get_num_threads() == 2  # this thread
        others = []
        thread = threading.Thread(target=lambda: others.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        assert others == [2]  # a thread that starts using torch later
        seen.clear()
        one = tr.truncation_curves(model, digits, batch_size=10, workers=1)  # in this thread, as it is set
        assert seen == [(threading.current_thread().name, 2)] * 10
        three = tr.truncation_curves(model, digits, batch_size=10, workers=3)
    finally:
        torch.set_num_threads(default)
    for mode in tr.MODES:
        assert np.array_equal(one.predictions[mode], two.predictions[mode])
        assert np.array_equal(one.predictions[mode], three.predictions[mode])


def test_a_workers_error_reaches_the_caller(small, monkeypatch):
    def boom(model, rows):
        raise RuntimeError("worker failed")

    monkeypatch.setattr(tr.compute, "_states_after_each_row", boom)
    with pytest.raises(RuntimeError, match="worker failed"):
        tr.truncation_curves(varied_model(), small.subset(40), ["early"], batch_size=10, workers=2)
    assert tr.compute._ONE_AT_A_TIME.acquire(blocking=False)  # released after the error
    tr.compute._ONE_AT_A_TIME.release()


def test_stored_curves_are_read_without_computing(tmp_path, small, cache_dir, monkeypatch):
    """stored_truncation (the first page's read, no torch needed) finds what cached_truncation wrote, keyed by the
    identity read from the file, only when every mode asked for is there; a corrupt file is no error."""
    from lstmviz.checkpoint import read_checkpoint_info

    path = save_checkpoint(tmp_path / "m.safetensors", varied_model(seed=5), {})
    weights, data = read_checkpoint_info(path).weights, tr.split_key(small)
    assert tr.stored_truncation(weights, path, small, data) is None  # nothing on disk yet
    early = tr.cached_truncation(path, small, ["early"])
    assert tr.stored_truncation(weights, path, small, data) is None  # two modes missing
    found = tr.stored_truncation(weights, path, small, data, ["early"])
    assert np.array_equal(found.predictions["early"], early.predictions["early"])
    assert np.array_equal(found.labels, small.labels.numpy())

    full = tr.cached_truncation(path, small)
    monkeypatch.setattr(tr.cache, "truncation_curves", lambda *a, **k: pytest.fail("computed"))
    found = tr.stored_truncation(weights, path, small, data)
    for m in tr.MODES:
        assert np.array_equal(found.predictions[m], full.predictions[m])
    assert tr.stored_truncation(weights, path, small.subset(200), tr.split_key(small.subset(200))) is None
    assert tr.stored_truncation("0" * 64, path, small, data) is None  # other weights

    path.with_name(path.name + tr.CACHE_SUFFIX).write_bytes(b"PK\x03\x04 not a zip")
    assert tr.stored_truncation(weights, path, small, data) is None


def test_model_input_cuts_numpy_as_torch(small):
    images = small.images[:5]
    for mode in tr.MODES:
        for k in (1, 13, 28):
            cut = tr.model_input(images.numpy(), k, mode)
            assert isinstance(cut, np.ndarray)
            assert np.array_equal(cut, tr.model_input(images, k, mode).numpy())
