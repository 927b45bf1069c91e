"""Truncation: test accuracy when the network is fed only k = 1..28 rows of each digit.

One concern per module:
- `result`: the three modes of cutting a digit short (MODES), the inputs they feed (`model_input`,
  `as_seen`) and `TruncationResult` (predictions, accuracy, per class, confusion, rows to decide);
- `compute`: the maths: `naive_truncation` (one full pass per k and mode, the reference) and
  `truncation_curves` (the fast path: the same predictions with about a third of the work, for any
  stack of LSTM/GRU/RNN layers);
- `cache`: the curves on disk, keyed by the weights' hash and the test set (`cached_truncation`);
- `job`: `TruncationJob`, the cached computation in a background thread, for the app.

Everything is importable from `lstmviz.truncation` as before. Plain numpy and torch; no streamlit.
"""

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
    user_cache_dir,
    write_truncation_file,
)
from .compute import BATCH, Progress, State, check_fast_path, naive_truncation, truncation_curves
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
    "truncation_curves",
    "user_cache_dir",
    "write_truncation_file",
]
