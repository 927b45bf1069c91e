"""Checkpoints: exact round trip, atomic writes, and a clear error for every bad file."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import stat
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as st_save

from lstmviz import checkpoint as ckpt
from lstmviz.checkpoint import (
    DEFAULT_CHECKPOINT,
    FORMAT,
    CheckpointError,
    atomic_write_bytes,
    checkpoint_bytes,
    load_checkpoint,
    load_checkpoint_bytes,
    save_checkpoint,
    weights_hash,
)
from lstmviz.model import ModelConfig, build_model

METRICS = {
    "test_accuracy": 0.9876,
    "recipe": {"preset": "default", "lr": 0.003},
    "epochs": 2.5,
    "seed": 4,
    "date": "2026-11-29",
    "history": [{"epoch": 1.0, "test_accuracy": 0.9}],
}


def _tensors(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def _file(tmp_path: Path, tensors: dict, metadata: dict | None, name: str = "bad.safetensors") -> Path:
    path = tmp_path / name
    path.write_bytes(st_save(tensors, metadata=metadata))
    return path


def _meta(config: ModelConfig) -> dict[str, str]:
    return {"format": FORMAT, "config": json.dumps(config.to_dict()), "metrics": "{}"}


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(hidden_size=16, embed_size=16),
        ModelConfig(hidden_size=24, embed_size=8, cell="gru"),
        ModelConfig(hidden_size=16, embed_size=20, cell="rnn"),
        ModelConfig(hidden_size=16, embed_size=16, forget_bias=2.0),
    ],
    ids=["lstm", "gru", "rnn", "lstm-bias2"],
)
def test_round_trip_is_exact(tmp_path, config):
    model = build_model(config, seed=5)
    path = save_checkpoint(tmp_path / "sub" / "m.safetensors", model, METRICS)
    assert path == tmp_path / "sub" / "m.safetensors"
    loaded = load_checkpoint(path)
    assert loaded.config == config
    assert loaded.metrics == METRICS
    assert loaded.source == str(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert weights_hash(loaded.model) == weights_hash(model)
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v), k
    assert not loaded.model.training
    x = torch.rand(3, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model.eval()(x))


def test_metadata_is_readable_json(tmp_path, tiny_model):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, METRICS)
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert meta["format"] == FORMAT
    assert json.loads(meta["config"]) == tiny_model.config.to_dict()
    assert json.loads(meta["metrics"]) == METRICS


def test_load_checkpoint_bytes_matches_file(tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    a, b = load_checkpoint(tiny_checkpoint), load_checkpoint_bytes(data, "upload.safetensors")
    assert weights_hash(a.model) == weights_hash(b.model) and a.sha256 == b.sha256
    assert b.source == "upload.safetensors"


def test_header_starting_with_pickle_byte_still_loads(tmp_path, tiny_model):
    """A safetensors header length of 128 (mod 256) starts the file with 0x80, pickle's magic byte."""
    for n in range(300):
        data = checkpoint_bytes(tiny_model, {"note": "x" * n})
        if data[0] == 0x80:
            break
    else:  # pragma: no cover
        pytest.fail("no header length with a low byte of 0x80 found")
    loaded = load_checkpoint_bytes(data, "m.safetensors")
    assert loaded.metrics["note"] == "x" * n
    assert weights_hash(loaded.model) == weights_hash(tiny_model)


def test_default_checkpoint_loads():
    loaded = load_checkpoint()
    assert loaded.source == str(DEFAULT_CHECKPOINT)
    assert loaded.config.cell == "lstm" and loaded.config.hidden_size == 128
    assert isinstance(loaded.metrics.get("test_accuracy"), float)


# --- atomic writes ---------------------------------------------------------------------------------


def test_atomic_write_leaves_no_temp_files(tmp_path, tiny_model):
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, tiny_model, {"a": 1})
    save_checkpoint(path, tiny_model, {"a": 2})  # overwrite
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    assert load_checkpoint(path).metrics == {"a": 2}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # readable by others, like any file


@pytest.mark.parametrize("where", ["write", "replace"])
def test_failed_write_keeps_previous_file(tmp_path, tiny_model, monkeypatch, where):
    path = save_checkpoint(tmp_path / "m.safetensors", tiny_model, {"test_accuracy": 0.5})
    before = path.read_bytes()
    other = build_model(tiny_model.config, seed=99)

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if where == "replace":
        monkeypatch.setattr(ckpt.os, "replace", boom)
    else:
        monkeypatch.setattr(ckpt.os, "fsync", boom)  # dies after part of the bytes went to the temp file
    with pytest.raises(OSError):
        save_checkpoint(path, other, {"test_accuracy": 0.9})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_interrupted_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "x.bin"
    atomic_write_bytes(path, b"old contents")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"new contents")
    assert path.read_bytes() == b"old contents"
    assert os.listdir(tmp_path) == ["x.bin"]


# --- bad files -------------------------------------------------------------------------------------


def _assert_rejected(path: Path, *words: str) -> str:
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    text = str(err.value)
    assert str(path) in text
    for w in words:
        assert w in text, text
    with pytest.raises(CheckpointError) as err:  # read without torch, it is refused too
        ckpt.read_checkpoint_info(path)
    assert str(path) in str(err.value)
    return text


def test_truncated_file(tmp_path, tiny_checkpoint):
    data = tiny_checkpoint.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 100, 9):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        _assert_rejected(path)


def test_random_bytes(tmp_path):
    g = torch.Generator().manual_seed(0)
    path = tmp_path / "noise.safetensors"
    path.write_bytes(bytes(torch.randint(0, 256, (5000,), generator=g, dtype=torch.uint8).tolist()))
    _assert_rejected(path)
    pt = tmp_path / "noise.pt"
    pt.write_bytes(path.read_bytes())
    _assert_rejected(pt)


@pytest.mark.parametrize("content", [b"", b"abc"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(content)
    _assert_rejected(path, "empty or truncated")


def test_missing_and_folder(tmp_path):
    _assert_rejected(tmp_path / "nope.safetensors", "not found")
    _assert_rejected(tmp_path, "folder")


def test_wrong_shape(tmp_path, tiny_model):
    tensors = _tensors(tiny_model)
    tensors["rnn.weight_hh_l0"] = torch.zeros(64, 15)
    _assert_rejected(_file(tmp_path, tensors, _meta(tiny_model.config)), "rnn.weight_hh_l0", "shape")


def test_config_that_does_not_match_the_weights(tmp_path, tiny_model):
    meta = _meta(ModelConfig(hidden_size=32, embed_size=16))
    _assert_rejected(_file(tmp_path, _tensors(tiny_model), meta), "shape")


def test_missing_tensor(tmp_path, tiny_model):
    tensors = _tensors(tiny_model)
    del tensors["head.bias"]
    _assert_rejected(_file(tmp_path, tensors, _meta(tiny_model.config)), "missing", "head.bias")


def test_extra_tensor(tmp_path, tiny_model):
    tensors = _tensors(tiny_model)
    tensors["rnn.weight_ih_l1"] = torch.zeros(64, 16)
    _assert_rejected(_file(tmp_path, tensors, _meta(tiny_model.config)), "unexpected", "rnn.weight_ih_l1")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights(tmp_path, tiny_model, value):
    tensors = _tensors(tiny_model)
    tensors["proj.weight"][3, 4] = value
    _assert_rejected(_file(tmp_path, tensors, _meta(tiny_model.config)), "proj.weight", "NaN")


def test_integer_weights(tmp_path, tiny_model):
    tensors = _tensors(tiny_model)
    tensors["head.bias"] = torch.zeros(10, dtype=torch.int64)
    _assert_rejected(_file(tmp_path, tensors, _meta(tiny_model.config)), "head.bias", "dtype")


@pytest.mark.parametrize(
    "config",
    [
        "{not json",
        "[1, 2, 3]",
        '"lstm"',
        "null",
        json.dumps({"cell": "transformer"}),
        json.dumps({"hidden_size": -1}),
        json.dumps({"hidden_size": "big"}),
        json.dumps({"forget_bias": "x"}),
    ],
)
def test_bad_metadata(tmp_path, tiny_model, config):
    meta = {"format": FORMAT, "config": config, "metrics": "{}"}
    _assert_rejected(_file(tmp_path, _tensors(tiny_model), meta), "config")


def test_bad_metrics_json(tmp_path, tiny_model):
    meta = dict(_meta(tiny_model.config), metrics="{oops")
    _assert_rejected(_file(tmp_path, _tensors(tiny_model), meta))


def test_huge_config_fails_fast_without_allocating(tmp_path, tiny_model):
    """A header claiming a 65536-unit LSTM (64 GB of weights) is refused by shape, not by running out of memory."""
    meta = _meta(ModelConfig())
    meta["config"] = json.dumps(dict(ModelConfig().to_dict(), hidden_size=65536, embed_size=65536))
    _assert_rejected(_file(tmp_path, _tensors(tiny_model), meta), "larger than this app shows")


def test_foreign_safetensors_without_our_metadata(tmp_path, tiny_model):
    # No lstmviz metadata: the config comes from the shapes; a foreign file is refused clearly.
    loaded = load_checkpoint(_file(tmp_path, _tensors(tiny_model), None, "plain.safetensors"))
    assert loaded.config == tiny_model.config and loaded.metrics == {}
    _assert_rejected(_file(tmp_path, {"embedding": torch.zeros(3, 4)}, None, "foreign.safetensors"), "proj.weight")


# --- PyTorch .pt files: never unpickled -------------------------------------------------------------


class _Hostile:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


class _HostileSystem:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("kind", ["open", "system"])
@pytest.mark.parametrize("container", ["torch.save", "raw pickle"])
def test_hostile_pickle_is_refused(tmp_path, tiny_model, kind, container):
    marker = tmp_path / "pwned"
    cls = _Hostile if kind == "open" else _HostileSystem
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(cls(control)))  # the payload is real: plain unpickling runs it
    assert control.exists()
    evil = cls(marker)
    payload = {**_tensors(tiny_model), "proj.weight": evil}
    path = tmp_path / "evil.pt"
    if container == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2))
    assert not marker.exists()
    for loader in (lambda: load_checkpoint(path), lambda: load_checkpoint_bytes(path.read_bytes(), "evil.safetensors")):
        with pytest.raises(CheckpointError) as err:
            loader()
        assert "evil." in str(err.value)
        assert not marker.exists()


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(hidden_size=16, embed_size=16),
        ModelConfig(hidden_size=20, embed_size=12, cell="gru"),
        ModelConfig(hidden_size=16, embed_size=24, cell="rnn"),
    ],
    ids=["lstm", "gru", "rnn"],
)
@pytest.mark.parametrize("wrap", ["plain", "state_dict key", "DataParallel prefix"])
def test_plain_state_dict_pt_loads(tmp_path, config, wrap):
    model = build_model(config, seed=2)
    sd = model.state_dict()
    if wrap == "state_dict key":
        sd = {"state_dict": sd, "epoch": 3}
    elif wrap == "DataParallel prefix":
        sd = {f"module.{k}": v for k, v in sd.items()}
    path = tmp_path / "model.pth"
    torch.save(sd, path)
    loaded = load_checkpoint(path)
    assert loaded.config == config
    assert loaded.metrics == {}
    assert weights_hash(loaded.model) == weights_hash(model)


def test_pt_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(3)], path)
    _assert_rejected(path, "state dict")
    path2 = tmp_path / "odd.pt"
    torch.save(
        {
            "proj.weight": torch.zeros(16, 28),
            "head.weight": torch.zeros(10, 16),
            "rnn.weight_ih_l0": torch.zeros(32, 16),
        },
        path2,
    )
    _assert_rejected(path2, "hidden size")
    path3 = tmp_path / "scalar.pt"
    torch.save(
        {"proj.weight": torch.zeros(16, 28), "head.weight": torch.zeros(10, 16), "rnn.weight_ih_l0": torch.tensor(1.0)},
        path3,
    )
    _assert_rejected(path3, "not an lstmviz state dict")


def test_weights_hash_tracks_every_weight(tiny_model):
    h0 = weights_hash(tiny_model)
    assert h0 == weights_hash(build_model(tiny_model.config, seed=0))
    with torch.no_grad():
        tiny_model.rnn.weight_hh_l0[5, 3] += 1e-6
    h1 = weights_hash(tiny_model)
    assert h1 != h0
    with torch.no_grad():
        tiny_model.rnn.weight_hh_l0[5, 3] -= 1e-6
        tiny_model.head.bias[9] += 1.0
    assert weights_hash(tiny_model) not in (h0, h1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_info_read_without_torch_is_the_loaded_models(tmp_path, tiny_model, dtype):
    """The identity read from the file with numpy equals `weights_hash` of the model torch loads from it, for
    every floating-point dtype a file may hold (the model converts them to float32); config, metrics and
    parameter count are the loaded model's too."""
    tensors = {k: v.to(dtype) for k, v in _tensors(tiny_model).items()}
    meta = dict(_meta(tiny_model.config), metrics=json.dumps(METRICS))
    path = _file(tmp_path, tensors, meta, "m.safetensors")
    info, loaded = ckpt.read_checkpoint_info(path), load_checkpoint(path)
    assert info.weights == weights_hash(loaded.model)
    assert info.config == loaded.config and info.metrics == loaded.metrics == METRICS
    assert info.n_params == loaded.model.n_params() and info.source == str(path)


def test_info_of_the_shipped_models():
    shipped = sorted(ckpt.MODELS_DIR.glob("*.safetensors"))
    assert shipped
    for p in shipped:
        info, loaded = ckpt.read_checkpoint_info(p), load_checkpoint(p)
        assert (info.weights, info.config, info.n_params) == (
            weights_hash(loaded.model),
            loaded.config,
            loaded.model.n_params(),
        )
    assert len({ckpt.read_checkpoint_info(p).weights for p in shipped}) == len(shipped)


def test_info_weights_change_with_one_weight(tmp_path, tiny_model):
    path = save_checkpoint(tmp_path / "a.safetensors", tiny_model)
    before = ckpt.read_checkpoint_info(path).weights
    with torch.no_grad():
        tiny_model.head.bias[3] += 1e-6
    assert ckpt.read_checkpoint_info(save_checkpoint(path, tiny_model)).weights != before
