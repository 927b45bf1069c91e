"""The model and its config: validation, round trip, shapes, initialisation."""

from __future__ import annotations

import math

import pytest
import torch

from lstmviz.checkpoint import weights_hash
from lstmviz.model import CELLS, GATES, ModelConfig, RowClassifier, build_model, state_shapes


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cell": "lstm2"},
        {"cell": ""},
        {"hidden_size": 0},
        {"hidden_size": -3},
        {"hidden_size": 12.5},
        {"hidden_size": "128"},
        {"hidden_size": True},
        {"embed_size": 0},
        {"input_size": 1_000_000},
        {"n_classes": None},
        {"forget_bias": float("nan")},
        {"forget_bias": float("inf")},
        {"forget_bias": "1"},
    ],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        ModelConfig(**kwargs)


@pytest.mark.parametrize("cell", CELLS)
def test_config_round_trip(cell):
    config = ModelConfig(input_size=28, embed_size=32, hidden_size=48, n_classes=10, cell=cell, forget_bias=0.5)
    d = config.to_dict()
    assert d == {
        "input_size": 28,
        "embed_size": 32,
        "hidden_size": 48,
        "n_classes": 10,
        "cell": cell,
        "forget_bias": 0.5,
        "num_layers": 1,
    }
    assert ModelConfig.from_dict(d) == config


def test_config_reads_the_old_name_proj_size():
    """Checkpoints saved before the rename store the row embedding's width as `proj_size`."""
    old = {"input_size": 28, "proj_size": 40, "hidden_size": 48, "n_classes": 10, "cell": "lstm", "forget_bias": 1.0}
    assert ModelConfig.from_dict(old) == ModelConfig(embed_size=40, hidden_size=48)


@pytest.mark.parametrize("layers", [2, 3])
def test_stacked_config_builds_a_stacked_layer_with_forget_bias_in_every_layer(layers):
    model = build_model(ModelConfig(hidden_size=16, embed_size=6, num_layers=layers), seed=0)
    assert model.rnn.num_layers == layers
    for layer in range(layers):
        assert torch.all(getattr(model.rnn, f"bias_ih_l{layer}")[16:32] == 1.0)
        assert torch.all(getattr(model.rnn, f"bias_hh_l{layer}")[16:32] == 0.0)
    assert tuple(model(torch.zeros(2, 28, 28)).shape) == (2, 10)


@pytest.mark.parametrize("layers", [0, 4, 1.5, True])
def test_config_refuses_odd_layer_counts(layers):
    with pytest.raises(ValueError, match="num_layers"):
        ModelConfig(num_layers=layers)


def test_one_set_of_limits():
    """Hidden size 16..512 and 1..3 layers, defined once in model.py and enforced by ModelConfig."""
    from lstmviz.model import MAX_HIDDEN, MAX_LAYERS, MIN_HIDDEN, MIN_LAYERS

    assert (MIN_HIDDEN, MAX_HIDDEN, MIN_LAYERS, MAX_LAYERS) == (16, 512, 1, 3)
    for h in (MIN_HIDDEN, MAX_HIDDEN):
        assert ModelConfig(hidden_size=h, num_layers=MAX_LAYERS).hidden_size == h
    for h in (MIN_HIDDEN - 1, MAX_HIDDEN + 1, 8):
        with pytest.raises(ValueError, match=f"hidden_size must be an integer from {MIN_HIDDEN} to {MAX_HIDDEN}"):
            ModelConfig(hidden_size=h)


def test_config_from_dict_ignores_unknown_keys_and_fills_defaults():
    assert ModelConfig.from_dict({"hidden_size": 64, "dropout": 0.3}) == ModelConfig(hidden_size=64)


@pytest.mark.parametrize("bad", [[1, 2], "lstm", None, 3])
def test_config_from_dict_rejects_non_objects(bad):
    with pytest.raises(TypeError):
        ModelConfig.from_dict(bad)


@pytest.mark.parametrize("cell", CELLS)
def test_forward_shapes(cell):
    config = ModelConfig(embed_size=12, hidden_size=20, cell=cell)
    model = build_model(config, seed=0)
    x = torch.rand(5, 28, 28)
    assert model(x).shape == (5, 10)
    assert model.sequence(x).shape == (5, 28, 20)
    per_step = model.logits_per_step(x)
    assert per_step.shape == (5, 28, 10)
    torch.testing.assert_close(per_step[:, -1], model(x))
    # Fewer rows is a shorter sequence, not an error.
    assert model.logits_per_step(x[:, :7]).shape == (5, 7, 10)
    assert isinstance(model.rnn, {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell])
    assert model.rnn.batch_first
    assert model.rnn.weight_ih_l0.shape == (max(len(GATES[cell]), 1) * 20, 12)


def test_reference_architecture():
    model = RowClassifier()
    assert (model.proj.in_features, model.proj.out_features) == (28, 128)
    assert (model.rnn.input_size, model.rnn.hidden_size, model.rnn.num_layers) == (128, 128, 1)
    assert (model.head.in_features, model.head.out_features) == (128, 10)
    assert model.n_params() == sum(p.numel() for p in model.parameters())
    assert model.n_params() == 28 * 128 + 128 + 4 * (128 * 128 * 2 + 2 * 128) + 128 * 10 + 10


def _forget_chunks(model: RowClassifier):
    h = model.config.hidden_size
    return model.rnn.bias_ih_l0[h : 2 * h], model.rnn.bias_hh_l0[h : 2 * h]


@pytest.mark.parametrize("notebook", [False, True])
@pytest.mark.parametrize("forget_bias", [1.0, 2.5])
def test_forget_gate_bias(notebook, forget_bias):
    model = build_model(ModelConfig(hidden_size=24, embed_size=16, forget_bias=forget_bias), seed=3)
    if notebook:
        model.init_notebook_()
    b_ih, b_hh = _forget_chunks(model)
    assert torch.all(b_ih == forget_bias)
    assert torch.all(b_hh == 0.0)
    # The other gates keep their ordinary biases (fresh: torch's uniform init; notebook: zeros).
    h = 24
    others = torch.cat([model.rnn.bias_ih_l0[:h], model.rnn.bias_ih_l0[2 * h :]])
    if notebook:
        assert torch.all(others == 0.0)
        assert torch.all(model.rnn.bias_hh_l0 == 0.0)
    else:
        assert others.abs().max() <= 1 / math.sqrt(h) and others.std() > 0


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_forget_bias_only_touches_lstm(cell):
    model = build_model(ModelConfig(hidden_size=16, embed_size=16, cell=cell), seed=1)
    bias = model.rnn.bias_ih_l0.detach()
    assert bias.abs().max() <= 1 / math.sqrt(16)  # torch's own U(-1/sqrt(H), 1/sqrt(H)) everywhere
    assert not torch.any(bias == 1.0)


# Shapes where the notebook's Glorot bound, sqrt(6 / ((P + H) + 4H)), differs from torch's default
# U(-1/sqrt(H), 1/sqrt(H)): with P = H = 128 the two bounds are equal (sqrt(6/768) = 1/sqrt(128)), so
# statistics of the reference model could not tell the notebook's init from torch's.
NOTEBOOK_SHAPES = ModelConfig(embed_size=200, hidden_size=40)


def _ks_distance(values: torch.Tensor, cdf) -> float:
    """Kolmogorov-Smirnov distance between the empirical distribution of values and a CDF."""
    x = values.detach().flatten().double().sort().values
    n = x.numel()
    f = cdf(x)
    upper = torch.arange(1, n + 1, dtype=torch.float64) / n - f
    lower = f - torch.arange(0, n, dtype=torch.float64) / n
    return float(torch.maximum(upper, lower).max())


def _ks_limit(n: int, alpha: float = 1e-4) -> float:
    """The KS distance a true sample of size n stays under with probability 1 - alpha."""
    return math.sqrt(-0.5 * math.log(alpha / 2)) / math.sqrt(n)


def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def _uniform_cdf(bound: float):
    return lambda x: ((x + bound) / (2 * bound)).clamp(0, 1)


def _notebook_recipe_misfits(model: RowClassifier) -> list[str]:
    """Weight blocks whose values do not follow the notebook's stated init (KS test at alpha = 1e-4):
    N(0, 1) for both linear layers; Glorot uniform over the TF kernel (P + H, 4H) that holds both of
    torch's LSTM matrices, checked for each gate's block of each matrix."""
    c = model.config
    bound = math.sqrt(6.0 / ((c.embed_size + c.hidden_size) + 4 * c.hidden_size))
    blocks = {"proj.weight": (model.proj.weight, _normal_cdf), "head.weight": (model.head.weight, _normal_cdf)}
    for name in ("weight_ih_l0", "weight_hh_l0"):
        for gate, block in zip(GATES["lstm"], getattr(model.rnn, name).chunk(4, dim=0), strict=True):
            blocks[f"{name}[{gate}]"] = (block, _uniform_cdf(bound))
    return [name for name, (w, cdf) in blocks.items() if _ks_distance(w, cdf) > _ks_limit(w.numel())]


def test_notebook_init_follows_the_notebook_recipe():
    model = build_model(NOTEBOOK_SHAPES, seed=0)
    model.init_notebook_()
    assert _notebook_recipe_misfits(model) == []
    for lin in (model.proj, model.head):  # N(0, 1): mean 0, std 1
        w = lin.weight.detach()
        assert abs(float(w.mean())) < 4 / math.sqrt(w.numel())
        assert abs(float(w.std()) - 1.0) < 0.05
        assert torch.all(lin.bias == 0.0)
    p, h = NOTEBOOK_SHAPES.embed_size, NOTEBOOK_SHAPES.hidden_size
    bound = math.sqrt(6.0 / ((p + h) + 4 * h))  # Glorot: fan_in = P + H (input and h), fan_out = 4H (four gates)
    for w in (model.rnn.weight_ih_l0.detach(), model.rnn.weight_hh_l0.detach()):
        for block in w.chunk(4, dim=0):  # one gate's rows
            assert float(block.abs().max()) <= bound
            assert float(block.abs().max()) > 0.98 * bound  # fills the whole range, not a narrower one
            assert abs(float(block.std()) - bound / math.sqrt(3.0)) < 0.05 * bound  # std of U(-b, b)
    b_ih = model.rnn.bias_ih_l0.detach()
    assert torch.all(b_ih[h : 2 * h] == 1.0)  # forget-gate bias 1.0
    assert torch.all(torch.cat([b_ih[:h], b_ih[2 * h :]]) == 0.0)
    assert torch.all(model.rnn.bias_hh_l0 == 0.0)


def test_the_notebook_recipe_check_rejects_other_inits():
    """The check above can fail: torch's own init, and Glorot with the wrong fans, are told apart."""
    fresh = build_model(NOTEBOOK_SHAPES, seed=0)
    assert set(_notebook_recipe_misfits(fresh)) >= {"proj.weight", "head.weight"} | {
        f"{m}[{g}]" for m in ("weight_ih_l0", "weight_hh_l0") for g in GATES["lstm"]
    }
    model = build_model(NOTEBOOK_SHAPES, seed=0)
    model.init_notebook_()
    with torch.no_grad():  # Glorot of each gate on its own (fan_out = H instead of 4H), in the input matrix
        p, h = NOTEBOOK_SHAPES.embed_size, NOTEBOOK_SHAPES.hidden_size
        per_gate = math.sqrt(6 / ((p + h) + h))
        torch.nn.init.uniform_(model.rnn.weight_ih_l0, -per_gate, per_gate)
    assert _notebook_recipe_misfits(model) == [f"weight_ih_l0[{g}]" for g in GATES["lstm"]]


def test_fresh_init_differs_from_notebook_init():
    model = build_model(ModelConfig(), seed=0)
    # torch's default Linear init is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), far from N(0, 1).
    assert float(model.proj.weight.detach().abs().max()) <= 1 / math.sqrt(28) + 1e-6


def test_same_seed_same_weights():
    config = ModelConfig(hidden_size=32, embed_size=16)
    a, b = build_model(config, seed=7), build_model(config, seed=7)
    assert weights_hash(a) == weights_hash(b)
    for (na, ta), (nb, tb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert na == nb and torch.equal(ta, tb)
    assert weights_hash(build_model(config, seed=8)) != weights_hash(a)


def test_same_seed_same_notebook_weights():
    config = ModelConfig(hidden_size=32, embed_size=16)
    a = build_model(config, seed=7)
    a.init_notebook_()
    torch.manual_seed(123)  # whatever the global RNG did before, the seed decides
    torch.rand(10)
    b = build_model(config, seed=7)
    b.init_notebook_()
    assert weights_hash(a) == weights_hash(b)
    c = build_model(config, seed=8)
    c.init_notebook_()
    assert weights_hash(c) != weights_hash(a)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_state_shapes_are_torchs(cell, layers):
    """The config's tensor names and shapes (what a checkpoint's header is checked against, without torch) are
    exactly those of the module torch builds."""
    for embed, hidden in ((128, 128), (8, 24), (40, 16)):
        config = ModelConfig(embed_size=embed, hidden_size=hidden, cell=cell, num_layers=layers)
        with torch.device("meta"):
            model = RowClassifier(config)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        assert state_shapes(config) == expected
        assert list(state_shapes(config)) == list(expected)  # the same order too
