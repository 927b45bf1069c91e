"""Benchmark: how long the unit ablation (silence each unit in turn over the test set) takes per model.

Times `lstmviz.ablation.unit_ablation` on the first --n test digits for a few units and extrapolates to
every unit and the full test set (the cost is linear in both); with --full it runs the whole thing.
Also times one what-if experiment on one digit (`intervene_image`), what the inspector runs per change.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_ablation.py [--n 2000] [--units 8] [--full]
        [--threads 2] [--checkpoint PATH ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from lstmviz.ablation import unit_ablation  # noqa: E402
from lstmviz.checkpoint import MODELS_DIR, load_checkpoint  # noqa: E402
from lstmviz.data import load_split  # noqa: E402
from lstmviz.intervene import Intervention, intervene_image  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", default=None, help="model file (default: the shipped three)")
    parser.add_argument("--n", type=int, default=2000, help="test digits timed (default: 2000)")
    parser.add_argument("--units", type=int, default=8, help="units timed (default: 8)")
    parser.add_argument("--full", action="store_true", help="run every unit over the whole test set")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    test = load_split(False, args.data_dir)
    paths = args.checkpoint or [str(MODELS_DIR / f"{c}.safetensors") for c in ("lstm", "gru", "rnn")]
    rows = []
    for path in paths:
        loaded = load_checkpoint(path)
        H = loaded.config.hidden_size
        split = test if args.full else test.subset(args.n)
        units = None if args.full else list(range(min(args.units, H)))
        start = time.perf_counter()
        unit_ablation(loaded.model, split, units=units)
        seconds = time.perf_counter() - start
        runs = (H if units is None else len(units)) + 1  # + the intact model
        full = seconds / runs * (H + 1) * len(test) / len(split)
        image = test.images[0].numpy()
        t0 = time.perf_counter()
        for _ in range(20):
            intervene_image(loaded.model, image, Intervention(silence=(0,)))
        whatif_ms = (time.perf_counter() - t0) / 20 * 1000
        rows.append(
            {
                "checkpoint": path,
                "cell": loaded.config.cell,
                "hidden": H,
                "timed_digits": len(split),
                "timed_units": runs - 1,
                "seconds": round(seconds, 2),
                "full_test_set_seconds": round(full, 1),
                "whatif_ms": round(whatif_ms, 2),
            }
        )
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'model':28} {'timed':>16} {'seconds':>8} {'full test set':>14} {'one what-if':>12}")
    for r in rows:
        timed = f"{r['timed_units']}u x {r['timed_digits']}"
        print(
            f"{Path(r['checkpoint']).name:28} {timed:>16} {r['seconds']:8.2f} {r['full_test_set_seconds']:12.0f} s "
            f"{r['whatif_ms']:9.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
