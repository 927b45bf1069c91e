"""Benchmark: server-side time of a step change on the step-through explorer, measured with AppTest.

Opens pages/explorer.py with the shipped model, warms the caches (model, test set, trace), then
times `AppTest.run()` after moving the step slider and after pressing "Next". AppTest reruns the
whole script, so this is an upper bound: in the browser a step change reruns only the fragment.
Target: median under 150 ms on 2 cores.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_step.py [--repeats 40] [--order index]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from lstmviz.checkpoint import DEFAULT_CHECKPOINT  # noqa: E402
from lstmviz.ui.common import MODEL_KEY  # noqa: E402

TARGET_MS = 150.0


def timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return (time.perf_counter() - start) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="step changes per kind (slider, next)")
    parser.add_argument("--order", default="index", help="unit order: index, similarity, change, final")
    parser.add_argument("--index", type=int, default=0, help="test digit")
    args = parser.parse_args()

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state[MODEL_KEY] = str(DEFAULT_CHECKPOINT)
    at.run()
    at.switch_page("pages/explorer.py").run()
    at.number_input(key="exp_index").set_value(args.index).run()
    at.selectbox(key="exp_order").set_value(args.order).run()

    steps = [(3 + 5 * i) % 29 for i in range(args.repeats)]
    slider_ms = []
    for k in steps:
        at.slider(key="exp_step").set_value(k)
        slider_ms.append(timed_run(at))
    at.slider(key="exp_step").set_value(0).run()
    next_ms = []
    for _ in range(args.repeats):
        if at.slider(key="exp_step").value == 28:
            at.slider(key="exp_step").set_value(0).run()
        at.button(key="exp_next").click()
        next_ms.append(timed_run(at))

    print(f"step change on pages/explorer.py, model {DEFAULT_CHECKPOINT.name}, digit {args.index}, order {args.order}, "
          f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")  # fmt: skip
    for name, values in (("slider", slider_ms), ("next button", next_ms), ("all", slider_ms + next_ms)):
        q = statistics.quantiles(values, n=10)
        print(f"  {name:12s} n={len(values):3d}  median {statistics.median(values):6.1f} ms  "
              f"p10 {q[0]:6.1f}  p90 {q[-1]:6.1f}  max {max(values):6.1f} ms")  # fmt: skip
    median = statistics.median(slider_ms + next_ms)
    verdict = "meets" if median < TARGET_MS else "MISSES"
    print(f"median step change {median:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
