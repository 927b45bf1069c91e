"""Benchmark: what the server still does for the step-through explorer, measured with AppTest.

A step change (Prev / Next / slider / keys / Play) runs in the browser and costs the server nothing:
`benchmarks/bench_class.py` measures that with real browsers. The server reruns the page only when the
digit, the model or a setting (unit order) changes; then it builds the component's payload (the whole
trace of the digit, sent once). This prints, with the shipped model:

- the time and JSON size of `stepper_payload` (library only);
- the median and p90 of `AppTest.run()` after a digit change and after a unit-order change (warm caches).

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_step.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint  # noqa: E402
from lstmviz.data import load_split, resolve_data_dir  # noqa: E402
from lstmviz.figures.stepper import stepper_payload  # noqa: E402
from lstmviz.ordering import unit_order  # noqa: E402
from lstmviz.trace import trace_image  # noqa: E402
from lstmviz.ui.common import MODEL_KEY  # noqa: E402

TARGET_MS = 150.0


def summary(values: list[float]) -> str:
    q = statistics.quantiles(values, n=10) if len(values) > 1 else [values[0]] * 9
    return f"n={len(values):3d}  median {statistics.median(values):6.1f} ms  p90 {q[-1]:6.1f} ms"


def timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return (time.perf_counter() - start) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="reruns per kind")
    args = parser.parse_args()

    loaded = load_checkpoint(DEFAULT_CHECKPOINT)
    test = load_split(False, resolve_data_dir())
    payload_ms, sizes = [], []
    for i in range(args.repeats):
        image = test.images[i].numpy()
        trace = trace_image(loaded.model, image)
        start = time.perf_counter()
        payload = stepper_payload(trace, image, int(test.labels[i]), unit_order(trace.h, "index"))
        payload_ms.append((time.perf_counter() - start) * 1000.0)
        sizes.append(len(json.dumps(payload)))

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state[MODEL_KEY] = str(DEFAULT_CHECKPOINT)
    at.run()
    at.switch_page("pages/explorer.py").run()
    digit_ms = []
    for i in range(args.repeats):
        at.number_input(key="exp_index").set_value(1 + i % 10)  # 10 digits: traces cached after the first round
        digit_ms.append(timed_run(at))
    order_ms = []
    for i in range(args.repeats):
        at.selectbox(key="exp_order").set_value(["index", "change", "final"][i % 3])
        order_ms.append(timed_run(at))

    print(
        f"pages/explorer.py, model {DEFAULT_CHECKPOINT.name}, {os.cpu_count()} CPUs, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print("  step change          0 ms, 0 bytes: in the browser (benchmarks/bench_class.py measures it)")
    print(f"  stepper_payload      {summary(payload_ms)}  JSON {statistics.median(sizes) / 1024:.0f} KB per digit")
    print(f"  digit change rerun   {summary(digit_ms)}")
    print(f"  unit order rerun     {summary(order_ms)}")
    median = statistics.median(digit_ms + order_ms)
    print(f"median rerun {median:.1f} ms: {'meets' if median < TARGET_MS else 'MISSES'} the {TARGET_MS:.0f} ms target")


if __name__ == "__main__":
    main()
