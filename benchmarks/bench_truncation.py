"""Benchmark: the three truncation curves over the test set, fast path against the naive loop.

The naive loop runs one full forward pass per k per mode (3 x 28 passes); the fast path shares
the leading-zero state of notebook mode, reads early mode off one pass and batches the occlusion
continuations (see lstmviz/truncation.py). Both run in the same process on the same images; the
script prints both times and the speed-up, and fails unless the accuracies (and every prediction)
are identical and the speed-up is at least 1.7x. No cache is read or written.

    OMP_NUM_THREADS=1 LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_truncation.py [--checkpoint PATH] [--n N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lstmviz.checkpoint import load_checkpoint  # noqa: E402
from lstmviz.data import load_split  # noqa: E402
from lstmviz.truncation import MODES, PUBLISHED, naive_truncation, truncation_curves  # noqa: E402

TARGET_SPEEDUP = 1.7


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="model file (default: the shipped models/lstm.safetensors)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--n", type=int, default=None, help="first N test images (default: all 10,000)")
    args = parser.parse_args()

    loaded = load_checkpoint(args.checkpoint)
    test = load_split(False, args.data_dir).subset(args.n)
    print(f"model {loaded.source} ({loaded.config.cell}, H={loaded.config.hidden_size}), {len(test)} test images, "
          f"torch threads {torch.get_num_threads()}")
    truncation_curves(loaded.model, test.subset(200))  # warm-up: allocator, oneDNN primitives
    fast, t_fast = timed(truncation_curves, loaded.model, test)
    naive, t_naive = timed(naive_truncation, loaded.model, test)
    print(f"fast path : {t_fast:7.2f} s")
    print(f"naive loop: {t_naive:7.2f} s  (one full pass per k per mode)")
    speedup = t_naive / t_fast
    print(f"speed-up  : {speedup:7.2f}x  (target >= {TARGET_SPEEDUP}x)")
    print("   k  " + "  ".join(f"{m:>10}" for m in MODES))
    for k in (1, 5, 10, 14, 20, PUBLISHED[0], 28):
        print(f"  {k:2d}  " + "  ".join(f"{fast.accuracy[m][k - 1]:10.2%}" for m in MODES))
    print(f"(the notebook published {PUBLISHED[1]:.1%} at {PUBLISHED[0]} rows)")
    for m in MODES:
        assert np.array_equal(fast.accuracy[m], naive.accuracy[m]), f"{m}: accuracies differ"
        assert np.array_equal(fast.predictions[m], naive.predictions[m]), f"{m}: predictions differ"
    print("identical accuracies and predictions in all three modes, k = 1..28")
    assert speedup >= TARGET_SPEEDUP, f"speed-up {speedup:.2f}x is below {TARGET_SPEEDUP}x"


if __name__ == "__main__":
    main()
