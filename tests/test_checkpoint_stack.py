"""Stacked models in checkpoints: recognised from tensor names and shapes (safetensors with or without our
metadata, `.pt` state dicts, uploads), every layer's shapes checked, and odd stacks refused clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hostile import hostile_pickles, tiny_state, torch_bytes
from safetensors import safe_open
from safetensors.torch import save as st_save

from lstmviz.checkpoint import (
    CheckpointError,
    checkpoint_bytes,
    infer_config,
    load_checkpoint,
    load_checkpoint_bytes,
    save_checkpoint,
    weights_hash,
)
from lstmviz.model import ModelConfig, build_model
from lstmviz.registry import MODELS_ENV_VAR, import_upload, read_info
from lstmviz.trace import trace_batch


def _state(layers: int, cell: str = "lstm", hidden: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    return tiny_state(ModelConfig(cell=cell, hidden_size=hidden, embed_size=24, num_layers=layers), seed=seed)


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_stacked_models_round_trip_in_every_format(tmp_path, cell, layers):
    config = ModelConfig(cell=cell, hidden_size=32, embed_size=24, num_layers=layers)
    model = build_model(config, seed=1)
    path = save_checkpoint(tmp_path / "m.safetensors", model, {"test_accuracy": 0.5})
    ours = load_checkpoint(path)
    assert ours.config == config and ours.config.num_layers == layers
    with safe_open(str(path), "pt") as f:
        assert json.loads(f.metadata()["config"])["num_layers"] == layers  # the metadata carries num_layers
    bare = load_checkpoint_bytes(
        st_save({k: v.contiguous() for k, v in model.state_dict().items()}), "bare.safetensors"
    )
    pt = load_checkpoint_bytes(torch_bytes(model.state_dict()), "mine.pt")
    for loaded in (ours, bare, pt):
        assert loaded.config == config  # the layer count comes from the tensor names when there is no metadata
        assert weights_hash(loaded.model) == weights_hash(model)
        assert loaded.model.rnn.num_layers == layers


def test_upload_of_a_stacked_pt_state_dict(tmp_path, monkeypatch, test_split):
    """A user's own 2-layer model, saved with torch.save(model.state_dict()), uploaded like the app does."""
    monkeypatch.setenv(MODELS_ENV_VAR, str(tmp_path / "user-models"))
    model = build_model(ModelConfig(cell="gru", hidden_size=64, embed_size=64, num_layers=2), seed=4)
    path = import_upload("my-gru.pt", torch_bytes(model.state_dict()), test_split.subset(200))
    info = read_info(path)
    assert info.valid and info.cell == "gru" and info.hidden_size == 64
    loaded = load_checkpoint(path)
    assert loaded.config.num_layers == 2 and weights_hash(loaded.model) == weights_hash(model)
    tr = trace_batch(loaded.model, test_split.images[:3])  # the trace reads both layers
    assert tr.n_layers == 2 and tr.stack_h.shape == (2, 3, 28, 64)
    assert "test_accuracy" in loaded.metrics


def _refused(data: bytes, name: str, words: str) -> None:
    with pytest.raises(CheckpointError, match=words) as err:
        load_checkpoint_bytes(data, name)
    assert name in str(err.value)


def test_four_layers_are_refused():
    state = tiny_state(ModelConfig(hidden_size=16, embed_size=16, num_layers=3))
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        state[f"rnn.{name}_l3"] = state[f"rnn.{name}_l2"].clone()
    _refused(torch_bytes(state), "deep.pt", "4 stacked recurrent layers; this app shows 1 to 3")
    _refused(st_save(state), "deep.safetensors", "4 stacked recurrent layers")


def test_a_hole_in_the_stack_is_refused():
    state = _state(3)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        del state[f"rnn.{name}_l1"]
    _refused(torch_bytes(state), "holes.pt", r"layers \[0, 2\] are present but layer 1 is missing")


def test_a_missing_tensor_of_an_upper_layer_is_refused():
    state = _state(2)
    del state["rnn.bias_hh_l1"]
    _refused(torch_bytes(state), "partial.pt", r"missing tensors \['rnn.bias_hh_l1'\]")


@pytest.mark.parametrize(
    ("tensor", "shape"),
    [
        ("rnn.weight_ih_l1", (64, 24)),  # layer 1 must read H = 16 inputs, not the embedding's 24
        ("rnn.weight_hh_l1", (64, 15)),
        ("rnn.bias_ih_l2", (48,)),
        ("rnn.weight_ih_l2", (48, 16)),  # a GRU's layer in an LSTM's stack
    ],
)
def test_odd_shapes_in_an_upper_layer_are_refused(tensor, shape):
    state = _state(3)
    state[tensor] = torch.zeros(shape)
    _refused(torch_bytes(state), "odd.pt", f"tensor '{tensor}' has shape")
    _refused(st_save(state), "odd.safetensors", f"tensor '{tensor}' has shape")


def test_metadata_that_hides_a_layer_is_refused(tmp_path):
    """Our metadata says one layer, the file holds two: refused by the shapes, never half-loaded."""
    data = checkpoint_bytes(build_model(ModelConfig(hidden_size=16, embed_size=16, num_layers=2), seed=0))
    n = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + n].replace(b'\\"num_layers\\": 2', b'\\"num_layers\\": 1')
    assert header != data[8 : 8 + n]
    _refused(n.to_bytes(8, "little") + header + data[8 + n :], "lying.safetensors", "unexpected tensors")


@pytest.mark.parametrize("kind", ["bidirectional", "proj_size"])
def test_torch_layers_this_app_does_not_show_are_named(kind):
    layer = (
        torch.nn.LSTM(16, 16, num_layers=2, bidirectional=True, batch_first=True)
        if kind == "bidirectional"
        else torch.nn.LSTM(16, 16, num_layers=2, proj_size=8, batch_first=True)
    )
    state = _state(2)
    state.update({f"rnn.{k}": v for k, v in layer.state_dict().items()})
    _refused(torch_bytes(state), "theirs.pt", "bidirectional" if kind == "bidirectional" else "proj_size")


def test_hostile_stacked_pickles_are_refused_before_loading(tmp_path):
    marker = tmp_path / "pwned"
    for kind, data in hostile_pickles(str(marker)).items():
        with pytest.raises(CheckpointError):
            load_checkpoint_bytes(data, f"{kind}.pt")
    state = _state(2)
    bad = {**state, "rnn.weight_ih_l1": state["rnn.weight_ih_l1"].numpy()}  # a numpy array: not a tensor global
    with pytest.raises(CheckpointError):
        load_checkpoint_bytes(torch_bytes(bad), "numpy-layer.pt")
    assert not marker.exists()


def test_infer_config_counts_layers_from_shapes_alone():
    shapes = {k: tuple(v.shape) for k, v in _state(3, "rnn", hidden=48).items()}
    config = infer_config(shapes, "shapes")
    assert (config.cell, config.num_layers, config.hidden_size, config.embed_size) == ("rnn", 3, 48, 24)
    small = {k: tuple(v.shape) for k, v in _state(1).items()}
    small = {k: (8, *s[1:]) if k == "head.weight" else s for k, s in small.items()}
    with pytest.raises(CheckpointError, match="hidden_size must be an integer from 16 to 512"):
        infer_config({**small, "head.weight": (10, 8), "rnn.weight_ih_l0": (32, 24)}, "small")
    assert np.prod(shapes["rnn.weight_ih_l2"]) == 48 * 48
