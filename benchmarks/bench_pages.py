"""Benchmark: server time of every page, (a) a plain rerun and (b) its main interaction, with AppTest.

Each page is opened through app.py with the shipped model, run until its caches are warm (the test set,
the model, the shipped precomputed results, and the truncation job finished), then timed: (a) `at.run()`
with no input changed, (b) `at.run()` after changing the page's main control (alternating between two
values, both warmed first). Prints the median and p90 in ms per page; target: medians under 150 ms.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_pages.py [--repeats 20] [--page truncation]

AppTest runs the script in this process, as the server does for one session; timings on a shared
machine are noisy (run it on a quiet one).
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
os.environ.setdefault("LSTMVIZ_DOWNLOAD", "0")

from streamlit.testing.v1 import AppTest  # noqa: E402

from lstmviz.checkpoint import DEFAULT_CHECKPOINT  # noqa: E402
from lstmviz.ui.common import MODEL_KEY  # noqa: E402

TARGET_MS = 150.0
# page file -> (title, [(widget kind, key, two values to alternate)] ; the first control present is used)
PAGES = {
    "home": ("Home", [("selectbox", MODEL_KEY, None)]),
    "explorer": ("Step-through explorer", [("slider", "exp_step", (20, 21)), ("number_input", "exp_index", (0, 1))]),
    "draw": ("Draw", [("slider", "draw_step", (20, 21)), ("slider", "draw_stroke", (16, 24))]),
    "truncation": ("Truncation", [("slider", "trunc_k", (10, 25))]),
    "state_space": ("Hidden-state space", [("select_slider", "space_n", (500, 1000))]),
    "neurons": ("Neuron explorer", [("number_input", "neuron_unit", (3, 7))]),
    "cells": ("Cell comparison", [("radio", "cells_mode", ("notebook", "occlusion"))]),
    "train": ("Train", [("number_input", "train_epochs", (3, 5))]),
}


def _check(at: AppTest) -> None:
    if at.exception:
        raise RuntimeError(at.exception[0].value)


def timed(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    took = (time.perf_counter() - start) * 1000.0
    _check(at)
    return took


def _widget(at: AppTest, kind: str, key: str):
    try:
        return getattr(at, kind)(key=key)
    except (KeyError, AttributeError):
        return None


def _values(widget, values):
    if values is not None:
        return values
    options = list(getattr(widget, "options", []))
    if len(options) < 2:
        raise RuntimeError(f"{widget} has fewer than two options")
    return options[0], options[1]


def warm(at: AppTest, page: str, wait_s: float = 600.0) -> None:
    """Run until nothing is computing any more (a progress bar means a background job still runs)."""
    deadline = time.monotonic() + wait_s
    at.run()
    _check(at)
    while at.get("progress") and time.monotonic() < deadline:
        time.sleep(1.0)
        at.run()
        _check(at)
    for _ in range(2):
        at.run()


def stats(ms: list[float]) -> tuple[float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def bench_page(page: str, repeats: int) -> tuple[str, tuple[float, float], tuple[float, float] | None, str]:
    title, controls = PAGES[page]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.session_state[MODEL_KEY] = str(DEFAULT_CHECKPOINT)
    at.run()
    at.switch_page(f"pages/{page}.py")
    warm(at, page)
    rerun = stats([timed(at) for _ in range(repeats)])
    for kind, key, values in controls:
        widget = _widget(at, kind, key)
        if widget is None:
            continue
        pair = _values(widget, values)
        for v in pair:  # warm both values (first visit of a sample size, a unit, ...)
            _widget(at, kind, key).set_value(v)
            warm(at, page)
        ms = []
        for i in range(repeats):
            _widget(at, kind, key).set_value(pair[i % 2])
            ms.append(timed(at))
        if page == "home":  # leave the shipped default selected
            _widget(at, kind, key).set_value(str(DEFAULT_CHECKPOINT))
        return title, rerun, stats(ms), f"{kind} {key}"
    return title, rerun, None, "no control found"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--page", action="append", choices=list(PAGES), help="only these pages (repeat)")
    args = parser.parse_args()
    print(f"{'page':24} {'rerun median':>12} {'p90':>7}   {'interaction median':>18} {'p90':>7}   control")
    worst = 0.0
    for page in args.page or list(PAGES):
        title, (r_med, r_p90), inter, control = bench_page(page, args.repeats)
        worst = max(worst, r_med, inter[0] if inter else 0.0)
        i_text = f"{inter[0]:18.0f} {inter[1]:7.0f}" if inter else f"{'-':>18} {'-':>7}"
        print(f"{title:24} {r_med:12.0f} {r_p90:7.0f}   {i_text}   {control}", flush=True)
    print(f"worst median {worst:.0f} ms (target {TARGET_MS:.0f} ms): {'OK' if worst <= TARGET_MS else 'over'}")


if __name__ == "__main__":
    main()
