"""Results of a model on a data set, by name, and their shipped precomputed files.

`COMPUTATIONS` names every result a page needs over the test set ("predictions", "pca",
"statespace", "states", "sensitivity", "untrained_sensitivity"; the truncation curves live in
`truncation.cached_truncation`). Each is computed from (model, split, *args). Those that take more
than a couple of seconds are also stored by `python -m lstmviz precompute` beside the shipped
checkpoints, as small `models/precomputed/<name>.<file>.npz` files keyed by the weights' hash and
the data's hash. `load_precomputed` uses a file only when both hashes match (or, for the bundled
sample, when it was computed on the full MNIST test set, which the sample is the start of); a
missing, stale, corrupt or odd-shaped file gives None and the result is computed as usual.

Stacked models: the results that read hidden states ("pca", "statespace", "states": `Computation.layered`)
take the layer as their last argument, `layer=None` for the top one (the readout's), as in
`get("statespace", 500, 0)`. The top layer's file keeps the one-layer name `<name>.statespace.npz`; each
lower layer k has its own `<name>.l{k}.statespace.npz`; every such file stores its layer and the layer count.
Plain numpy and torch; no streamlit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import Split
from .model import RowClassifier
from .statespace import (
    FIT_SAMPLE,
    PCA,
    Separation,
    States,
    StateSpace,
    balanced_sample,
    collect_states,
    fit_model_pca,
    sample_rank,
    state_space,
)
from .stored import (  # noqa: F401  (re-exported: the shipped files' helpers)
    PRECOMPUTED_DIR,
    VERSION,
    accepted_data,
    find_precomputed,
    precomputed_path,
    read_npz,
    write_npz,
)
from .trace import n_layers, resolve_layer

STATESPACE_SIZES = (200, 500, 1000, 2000)  # the Hidden-state space page's sample sizes
N_SENSITIVITY = 500  # test digits averaged for the Cell comparison's sensitivity curves

Get = Callable[..., Any]  # get(what, *args): another result of the same model on the same data


@dataclass(frozen=True)
class Computation:
    """One named result: compute(model, split, *args, get=...) -> value.

    When `file` is set, the result is also shipped precomputed: `save(model, split, get)` gives the
    arrays of that file (for every argument the pages use) and `load(arrays, split, full, *args)`
    rebuilds the value from them (`full`: the file holds the full test set while `split` is the
    bundled sample); `load` raises KeyError/ValueError on a file that does not fit.
    """

    title: str
    compute: Callable[..., Any]
    file: str | None = None
    save: Callable[..., dict[str, np.ndarray]] | None = None
    load: Callable[..., Any] | None = None
    layered: bool = False  # reads one layer's states: the last argument is the layer (None = the top one)


# ---------------------------------------------------------------- final predictions


@torch.no_grad()
def final_predictions(model: RowClassifier, split: Split, batch_size: int = 2000) -> np.ndarray:
    """The model's answer after all 28 rows for every digit of the split: (N,) uint8."""
    model.eval()
    out = [model(split.images[i : i + batch_size]).argmax(-1).numpy() for i in range(0, len(split), batch_size)]
    return np.concatenate(out).astype(np.uint8) if out else np.zeros(0, np.uint8)


def _load_predictions(arrays: dict[str, np.ndarray], split: Split, full: bool) -> np.ndarray:
    preds = arrays["predictions"]
    if preds.ndim != 1 or preds.shape[0] < len(split) or (not full and preds.shape[0] != len(split)):
        raise ValueError(f"predictions of shape {preds.shape} for {len(split)} digits")
    return preds[: len(split)].astype(np.uint8)  # the sample is the start of the test set


# ---------------------------------------------------------------- hidden-state space


def _pca(model: RowClassifier, split: Split, layer: int | None = None, get: Get | None = None) -> PCA:
    return fit_model_pca(model, split.images.numpy(), split.labels.numpy(), FIT_SAMPLE, layer=layer)


def _statespace(model: RowClassifier, split: Split, n: int, layer: int | None = None, get: Get = None) -> StateSpace:
    pca = get("pca", layer) if layer is not None else get("pca")
    return state_space(model, split.images.numpy(), split.labels.numpy(), int(n), pca=pca, layer=layer)


def _layer_arrays(model: RowClassifier, layer: int | None) -> dict[str, np.ndarray]:
    L = n_layers(model)
    return {"layer": np.int64(resolve_layer(layer, L)), "n_layers": np.int64(L)}


def _check_layer(arrays: dict[str, np.ndarray], layer: int | None) -> None:
    """KeyError unless the file holds the states of `layer` (None: the top one). Files written before stacked
    models hold no layer: a one-layer model's only one."""
    k, L = int(arrays.get("layer", 0)), int(arrays.get("n_layers", 1))
    want = L - 1 if layer is None else int(layer)
    if not -L <= want < L or want % L != k:
        raise KeyError(f"the file holds layer {k} of {L}, not layer {layer}")


def _save_statespace(model: RowClassifier, split: Split, get: Get, layer: int | None = None) -> dict[str, np.ndarray]:
    """The largest sample once (float16 coordinates), with each row's rank in its class (a smaller
    sample is the rows of rank < n // 10), and the separation curves of every size, of one layer."""
    at = () if layer is None else (layer,)
    pca = get("pca", *at)
    space = get("statespace", max(STATESPACE_SIZES), *at)
    rank = sample_rank(split.labels.numpy())[space.indices]  # (2000,)
    arrays = {
        **_layer_arrays(model, layer),
        "pca_mean": pca.mean,
        "pca_components": pca.components,
        "pca_variance": pca.explained_variance,
        "pca_ratio": pca.explained_ratio,
        "coords3": space.coords3.astype(np.float16),
        "labels": space.labels.astype(np.uint8),
        "indices": space.indices.astype(np.int32),
        "rank": rank.astype(np.int32),
        "predictions": space.predictions.astype(np.uint8),
    }
    for n in STATESPACE_SIZES:
        sub = space if n == max(STATESPACE_SIZES) else get("statespace", n, *at)
        for name, sep in sub.separation.items():
            arrays[f"sep_{n}_{name}_ratio"] = sep.ratio
            arrays[f"sep_{n}_{name}_acc"] = sep.centroid_accuracy
    return arrays


def _load_pca(arrays: dict[str, np.ndarray], split: Split, full: bool, layer: int | None = None) -> PCA:
    _check_layer(arrays, layer)
    pca = PCA(
        arrays["pca_mean"].astype(np.float64),
        arrays["pca_components"].astype(np.float64),
        arrays["pca_variance"].astype(np.float64),
        arrays["pca_ratio"].astype(np.float64),
    )
    if pca.components.ndim != 2 or pca.components.shape[1] != pca.mean.shape[0]:
        raise ValueError("PCA axes of the wrong shape")
    return pca


def _load_statespace(
    arrays: dict[str, np.ndarray], split: Split, full: bool, n: int, layer: int | None = None
) -> StateSpace:
    _check_layer(arrays, layer)
    n = int(n)
    if n not in STATESPACE_SIZES:
        raise KeyError(f"no precomputed sample of {n} digits")
    keep = arrays["rank"] < max(1, n // 10)  # (2000,)
    coords3 = arrays["coords3"][keep].astype(np.float32)  # (n, T, 3)
    labels = arrays["labels"][keep].astype(np.int64)
    if coords3.ndim != 3 or coords3.shape[2] != 3 or labels.shape[0] != coords3.shape[0]:
        raise ValueError("state-space arrays of the wrong shape")
    sep = {name: separation_from(arrays, n, name, coords3.shape[1]) for name in ("h", "2-D", "3-D")}
    return StateSpace(
        coords2=np.ascontiguousarray(coords3[..., :2]),
        coords3=coords3,
        labels=labels,
        indices=arrays["indices"][keep].astype(np.int64),
        predictions=arrays["predictions"][keep].astype(np.int64),
        pca=_load_pca(arrays, split, full, layer),
        separation=sep,
    )


def separation_from(arrays: dict[str, np.ndarray], n: int, name: str, steps: int) -> Separation:
    ratio, acc = arrays[f"sep_{n}_{name}_ratio"], arrays[f"sep_{n}_{name}_acc"]
    if ratio.shape != (steps,) or acc.shape != (steps,):
        raise ValueError("separation curves of the wrong shape")
    return Separation(ratio=ratio.astype(np.float64), centroid_accuracy=acc.astype(np.float64))


# ---------------------------------------------------------------- neurons


def _states(
    model: RowClassifier, split: Split, n: int, layer: int | None = None, get: Get | None = None
) -> tuple[np.ndarray, States]:
    """Test indices of a class-balanced sample of n digits and their states (of one layer) at every step."""
    idx = balanced_sample(split.labels.numpy(), int(n))
    return idx, collect_states(model, split.images.numpy()[idx], layer=layer)


# ---------------------------------------------------------------- cell comparison


def _sensitivity(model: RowClassifier, split: Split, get: Get | None = None) -> np.ndarray:
    from .memory import sensitivity_curve

    return sensitivity_curve(model, split.images[:N_SENSITIVITY])


def _untrained_sensitivity(model: RowClassifier, split: Split, get: Get | None = None) -> np.ndarray:
    from .memory import sensitivity_curve, untrained_like

    return sensitivity_curve(untrained_like(model.config), split.images[:N_SENSITIVITY])


def _load_curve(arrays: dict[str, np.ndarray], split: Split, full: bool) -> np.ndarray:
    curve = arrays["curve"]
    if curve.ndim != 1 or not np.all(np.isfinite(curve)):
        raise ValueError("not a curve")
    return curve.astype(np.float64)  # the first 500 digits: the same in the sample and the full set


COMPUTATIONS: dict[str, Computation] = {
    "predictions": Computation(
        "Running the model on the test set…",
        lambda m, s, get=None: final_predictions(m, s),
        "predictions",
        lambda m, s, get: {"predictions": get("predictions")},
        _load_predictions,
    ),
    "pca": Computation(
        "Fitting the PCA axes to the hidden states…", _pca, "statespace", _save_statespace, _load_pca, layered=True
    ),
    "statespace": Computation(
        "Running the model on the sample…", _statespace, "statespace", _save_statespace, _load_statespace, layered=True
    ),
    "states": Computation("Running the model on the sample…", _states, layered=True),
    "sensitivity": Computation(
        "Measuring how much the answer depends on each row…",
        _sensitivity,
        "sensitivity",
        lambda m, s, get: {"curve": get("sensitivity")},
        _load_curve,
    ),
    "untrained_sensitivity": Computation(
        "Measuring the untrained network…",
        _untrained_sensitivity,
        "untrained_sensitivity",
        lambda m, s, get: {"curve": get("untrained_sensitivity")},
        _load_curve,
    ),
    # the Guided lesson's quoted accuracies (lstmviz.lesson): the selected model's, and the plain RNN's
    "lesson": Computation(
        "Measuring this model on the test set (a few forward passes)…", lambda m, s, get=None: _lesson(m, s)
    ),
    "lesson_rnn": Computation(
        "Measuring the plain RNN on the test set…", lambda m, s, get=None: _lesson(m, s, rnn=True)
    ),
}


def _lesson(model: RowClassifier, split: Split, rnn: bool = False) -> dict:
    from .lesson import model_facts, rnn_facts  # imported here: keeps plotly out of the precompute CLI

    return (rnn_facts if rnn else model_facts)(model, split.images, split.labels)


def compute(what: str, model: RowClassifier, split: Split, *args: Any, get: Get | None = None) -> Any:
    """The named result, computed now (`get` serves the results it builds on; computed too if None)."""
    if get is None:
        memo: dict[tuple, Any] = {}

        def get(name: str, *a: Any) -> Any:
            if (name, a) not in memo:
                memo[(name, a)] = compute(name, model, split, *a, get=get)
            return memo[(name, a)]

    return COMPUTATIONS[what].compute(model, split, *args, get=get)


# ---------------------------------------------------------------- shipped files


def layer_files(model: RowClassifier) -> list[tuple[int | None, str]]:
    """(layer argument, file-name tag) of every layer a layered result is shipped for: the top layer as None with
    no tag (the one-layer name), then each lower layer k with ".l{k}"."""
    return [(None, "")] + [(k, f".l{k}") for k in range(n_layers(model) - 1)]


def load_precomputed(
    what: str, weights: str, data: str, split: Split, *args: Any, folder: str | os.PathLike | None = None
) -> tuple[Any, bool] | None:
    """(value, full) from a shipped file for these weights and data, else None; `full` is True when the
    value was computed on the full MNIST test set while `split` is the bundled sample."""
    comp = COMPUTATIONS[what]
    if comp.file is None or comp.load is None:
        return None
    for path in find_precomputed(comp.file, weights, folder):
        found = read_npz(path, weights, accepted_data(data, split))
        if found is None:
            continue
        arrays, stored = found
        full = split.is_sample and stored != data
        try:
            return comp.load(arrays, split, full, *args), full
        except (KeyError, ValueError, IndexError, TypeError):
            continue
    return None


def precompute_model(
    model: RowClassifier,
    stem: str,
    split: Split,
    weights: str,
    data: str,
    folder: str | os.PathLike | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Compute and write every shipped result of one model on one split; the written files."""
    memo: dict[tuple, Any] = {}

    def get(name: str, *a: Any) -> Any:
        if (name, a) not in memo:
            if progress:
                progress(f"{stem}: {name}{' ' + ' '.join(map(str, a)) if a else ''}")
            memo[(name, a)] = compute(name, model, split, *a, get=get)
        return memo[(name, a)]

    written = []
    for file in dict.fromkeys(c.file for c in COMPUTATIONS.values() if c.file):
        comp = next(c for c in COMPUTATIONS.values() if c.file == file)
        for layer, tag in layer_files(model) if comp.layered else [(None, "")]:
            arrays = comp.save(model, split, get, layer) if comp.layered else comp.save(model, split, get)
            written.append(write_npz(precomputed_path(stem, file, folder, tag), weights, data, arrays))
    return written
