"""Truncation: test accuracy when the network is fed only k = 1..28 rows of each digit.

One concern per module:
- `result`: the three modes of cutting a digit short (MODES), the inputs they feed (`model_input`,
  `as_seen`) and `TruncationResult` (predictions, accuracy, per class, confusion, rows to decide);
- `compute`: the maths: `naive_truncation` (one full pass per k and mode, the reference) and
  `truncation_curves` (the fast path: the same predictions with about a third of the work, for any
  stack of LSTM/GRU/RNN layers);
- `cache`: the curves on disk, keyed by the weights' hash and the test set (`cached_truncation`);
- `job`: `TruncationJob`, the cached computation in a background thread, for the app.

Everything is importable from `lstmviz.truncation` as before. Plain numpy and torch; no streamlit. Only
`compute` imports torch, and it is imported on first use of one of its names: reading stored curves needs none.
"""

import importlib

from .cache import (
    CACHE_ENV_VAR,
    CACHE_SUFFIX,
    CACHE_VERSION,
    _resolve,
    cache_paths,
    cached_truncation,
    read_precomputed,
    resolve_source,
    split_key,
    stored_truncation,
    user_cache_dir,
    write_truncation_file,
)
from .job import TruncationJob
from .result import (
    MODE_TITLES,
    MODES,
    PUBLISHED,
    STEPS,
    TruncationResult,
    as_seen,
    check_modes,
    decision_steps,
    model_input,
    per_class_accuracy,
)

_COMPUTE = ("BATCH", "Progress", "State", "check_fast_path", "naive_truncation", "truncation_curves")


def __getattr__(name: str):
    """`compute` (torch) and its names, imported on first use."""
    if name == "compute" or name in _COMPUTE:
        compute = importlib.import_module(f"{__name__}.compute")
        return compute if name == "compute" else getattr(compute, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BATCH",
    "CACHE_ENV_VAR",
    "CACHE_SUFFIX",
    "CACHE_VERSION",
    "MODES",
    "MODE_TITLES",
    "PUBLISHED",
    "STEPS",
    "Progress",
    "State",
    "TruncationJob",
    "TruncationResult",
    "_resolve",
    "as_seen",
    "cache_paths",
    "cached_truncation",
    "check_fast_path",
    "check_modes",
    "decision_steps",
    "model_input",
    "naive_truncation",
    "per_class_accuracy",
    "read_precomputed",
    "resolve_source",
    "split_key",
    "stored_truncation",
    "truncation_curves",
    "user_cache_dir",
    "write_truncation_file",
]
