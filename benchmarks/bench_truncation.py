"""Benchmark: the three truncation curves of a new model, in forward passes' time, from the CLI and in the app.

One forward pass = the test digits (10,000 by default) through the model once, in batches of
lstmviz.truncation.BATCH, best of three. Each path is timed between two such forward passes
(before and after it, in the same run), and its ratio is to their mean: on a machine shared with
other work the load changes from minute to minute, and the ratio compares like with like. For a
freshly built (untrained, never cached) one-layer model the script times:

- fast path   : truncation_curves in this process (the maths alone; as many worker threads of one
                torch thread each as this process has torch threads);
- CLI         : `python -m lstmviz truncation --no-cache` as a child process, start to exit
                (imports and data loading included);
- app         : a real `streamlit run app.py` driven by Chromium (Playwright): the model is picked in
                the sidebar, the Truncation page opened, and the clock stops when the curves show
                (the page's metrics appear; Playwright waits for them frame by frame). The progress
                texts the page showed meanwhile are recorded in the page (a MutationObserver) and printed;
- naive loop  : one full forward pass per k per mode (skip with --no-naive); the fast path's
                predictions must equal it exactly.

Beside the wall time, the CPU seconds each path used (this process, the CLI child, the server
process) are given as a ratio to the forward pass's CPU seconds: that ratio moves much less when
other programs share the machine. Each path gets a model of its own (another seed), so no path
reuses another's cached result. --repeat N times each path N times (a new model and, for the app,
a new server each time) and prints every run and the median. On a loaded machine a forward pass on a
team of OpenMP threads is itself noise (the team waits for busy cores: 10-25x slower here under a load
of 10-15): --ref-threads 1 times the reference on one torch thread instead.
Target (issue 16.4): every path within 40 forward passes. Timings on a shared machine are noisy:
the ratios, measured in the same run, are what to compare.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_truncation.py [--n N] [--no-app] [--no-naive] [--repeat N] [--ref-threads 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from serving import CHROMIUM, CHROMIUM_ARGS, free_port, wait_healthy  # noqa: E402
from serving import cpu_seconds as process_cpu  # noqa: E402

from lstmviz.checkpoint import save_checkpoint  # noqa: E402
from lstmviz.data import ENV_VAR, load_split, resolve_data_dir  # noqa: E402
from lstmviz.model import CELLS, ModelConfig, build_model  # noqa: E402
from lstmviz.truncation import BATCH, MODES, naive_truncation, truncation_curves  # noqa: E402
from lstmviz.truncation.compute import set_thread_torch_threads  # noqa: E402

TARGET = 40  # forward passes


REF_THREADS: int | None = None  # torch threads of the reference forward pass (--ref-threads); None: torch's


def forward_pass_time(model: torch.nn.Module, images: torch.Tensor, batch: int = BATCH) -> tuple[float, float]:
    """Best of three (wall seconds, CPU seconds of this process): all images once through the model, in batches
    (on REF_THREADS torch threads, in a thread of its own, when set)."""
    best = [(float("inf"), float("inf"))]

    @torch.no_grad()
    def run() -> None:
        if REF_THREADS is not None:
            set_thread_torch_threads(REF_THREADS)
        model(images[:batch])  # warm-up
        for _ in range(3):
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(0, images.shape[0], batch):
                model(images[i : i + batch])
            best[0] = min(best[0], (time.perf_counter() - start, time.process_time() - cpu))

    if REF_THREADS is None:
        run()
    else:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
    return best[0]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_time(path: Path, data_dir: Path, n: int, env: dict) -> tuple[float, float]:
    start, cpu = time.perf_counter(), children_cpu()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "lstmviz",
            "truncation",
            "--checkpoint",
            str(path),
            "--data-dir",
            str(data_dir),
            "--n",
            str(n),
            "--no-cache",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, children_cpu() - cpu


# Records every new text of the page's progress bars, with the milliseconds since the click on Truncation.
OBSERVE_PROGRESS = """() => {
  window.__progress = [];
  let last = "";
  const start = performance.now();
  new MutationObserver(() => {
    const bar = document.querySelector('[data-testid="stProgress"]');
    const text = bar ? bar.innerText.trim().replace(/\\n/g, " ") : "";
    if (text && text !== last) { window.__progress.push([performance.now() - start, text]); last = text; }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def app_time(name: str, data_dir: Path, env: dict, home: Path, timeout: float, seen: list[str]) -> tuple[float, float]:
    """Seconds from opening the Truncation page with the new model selected until the curves show, and the
    server's CPU seconds meanwhile; `seen` gets the progress texts shown (with their times)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    port = free_port()
    log = open(home / "streamlit.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--",
            "--data-dir",
            str(data_dir),
        ],  # otherwise as the README starts it (file watcher included)
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(f"{base}/_stcore/health", proc)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(base)
            page.locator(".st-key-app_menu").wait_for()
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_test_id("stSelectbox").click()
            page.get_by_role("option").filter(has_text=name).click()
            chosen = sidebar.get_by_test_id("stSelectbox").locator("input")
            for _ in range(120):  # the selection's rerun: the box shows the new model
                if name in (chosen.input_value() or chosen.get_attribute("aria-label") or ""):
                    break
                page.wait_for_timeout(500)
            else:
                print(f"(the sidebar does not show {name} in its input; going on)", flush=True)
            page.wait_for_timeout(1000)
            page.evaluate(OBSERVE_PROGRESS)
            start, cpu = time.perf_counter(), process_cpu(proc.pid)
            page.locator(".st-key-app_menu").get_by_role("link", name="Truncation").click()
            page.get_by_role("heading", name="Truncation: how accuracy falls").wait_for()  # the old page is gone
            try:  # Playwright checks on every animation frame: no polling interval added to the time
                page.get_by_test_id("stMetric").first.wait_for(state="visible", timeout=timeout * 1000)
            except PlaywrightTimeout:
                raise TimeoutError(f"the curves did not show within {timeout:.0f} s") from None
            finally:
                seen[:] = [f"[{t / 1000:6.1f} s] {text}" for t, text in page.evaluate("window.__progress || []")]
            elapsed, used = time.perf_counter() - start, process_cpu(proc.pid) - cpu
            browser.close()
        return elapsed, used
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def between_forward_passes(
    model: torch.nn.Module, images: torch.Tensor, run: Callable[[], tuple[float, float]]
) -> tuple[float, float, float, float]:
    """run() -> (wall s, CPU s), timed between two forward passes of `images`: (wall s, CPU s, the forward
    passes' mean wall s, their mean CPU s)."""
    before = forward_pass_time(model, images)
    seconds, cpu = run()
    after = forward_pass_time(model, images)
    return seconds, cpu, (before[0] + after[0]) / 2, (before[1] + after[1]) / 2


def in_process(fn: Callable[[], object]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cell", default="lstm", choices=CELLS)
    parser.add_argument("--n", type=int, default=10000, help="test images (the app always uses the whole test set)")
    parser.add_argument("--no-app", action="store_true", help="skip the streamlit + Chromium run")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop")
    parser.add_argument("--repeat", type=int, default=1, help="time each path this many times")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the app's curves")
    parser.add_argument(
        "--ref-threads",
        type=int,
        default=None,
        help="torch threads of the reference forward pass (default: torch's; 1 on a loaded machine, where a team "
        "of OpenMP threads waits for busy cores and the reference itself becomes noise)",
    )
    args = parser.parse_args()
    global REF_THREADS
    REF_THREADS = args.ref_threads

    data_dir = resolve_data_dir(args.data_dir)
    full = load_split(False, data_dir)
    test = full.subset(args.n)
    seed = int(time.time()) % 100000
    config = ModelConfig(cell=args.cell)
    work = Path(tempfile.mkdtemp(prefix="bench-truncation-"))
    env = dict(
        os.environ,
        **{ENV_VAR: str(data_dir)},
        HOME=str(work / "home"),
        LSTMVIZ_MODELS_DIR=str(work / "models"),
        LSTMVIZ_CACHE_DIR=str(work / "cache"),
    )
    os.environ["LSTMVIZ_CACHE_DIR"] = env["LSTMVIZ_CACHE_DIR"]
    (work / "home").mkdir()

    model = build_model(config, seed=seed).eval()
    print(
        f"{args.cell}, H={config.hidden_size}, {len(test):,} test images, batch {BATCH}, "
        f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, reference forward pass on "
        f"{REF_THREADS or torch.get_num_threads()} torch thread(s)"
    )
    fwd, fwd_cpu = forward_pass_time(model, test.images)
    print(f"one forward pass of {len(test):,} digits: {fwd:.2f} s ({fwd_cpu:.2f} CPU s)", flush=True)
    truncation_curves(model, test.subset(200))  # warm-up

    runs: dict[str, list[tuple[float, float, float, float]]] = {}  # label -> [(s, passes, CPU s, CPU passes)]

    def record(label: str, timed: tuple[float, float, float, float]) -> None:
        seconds, cpu, ref, ref_cpu = timed
        runs.setdefault(label, []).append((seconds, seconds / ref, cpu, cpu / ref_cpu))
        print(
            f"{label}: {seconds:.1f} s = {seconds / ref:.1f} forward passes ({ref:.2f} s each meanwhile), "
            f"CPU {cpu:.1f} s = {cpu / ref_cpu:.1f}, load {os.getloadavg()[0]:.1f}",
            flush=True,
        )

    seen: list[str] = []
    first: list = []  # (model, fast path result) of the first run, for the naive loop

    def one_run(r: int) -> None:
        s = seed + 10 * r
        fresh = build_model(config, seed=s).eval()
        timed = between_forward_passes(
            model, test.images, lambda: in_process(lambda: first.append((fresh, truncation_curves(fresh, test))))
        )
        record("fast path (in process)", timed)
        cli_path = save_checkpoint(work / f"cli-{r}.safetensors", build_model(config, seed=s + 1), {})
        timed = between_forward_passes(model, test.images, lambda: cli_time(cli_path, data_dir, len(test), env))
        record("CLI (child process, start to exit)", timed)
        if not args.no_app:
            name = f"bench-{s + 2}"
            save_checkpoint(work / "models" / f"{name}.safetensors", build_model(config, seed=s + 2), {})
            timed = between_forward_passes(
                model, full.images, lambda: app_time(name, data_dir, env, work / "home", args.timeout, seen)
            )
            record(f"app (streamlit + Chromium, {len(full):,} digits)", timed)

    for r in range(args.repeat):
        one_run(r)

    rows = [(label, *map(statistics.median, zip(*values, strict=True))) for label, values in runs.items()]
    if not args.no_naive:
        fresh, fast = first[0]
        naive = []
        timed = between_forward_passes(
            model, test.images, lambda: in_process(lambda: naive.append(naive_truncation(fresh, test)))
        )
        record("naive loop (in process)", timed)
        rows.append(("naive loop (in process)", *runs["naive loop (in process)"][0]))
        for m in MODES:
            assert np.array_equal(fast.predictions[m], naive[0].predictions[m]), f"{m}: predictions differ"
        print("fast path = naive loop: identical predictions in all three modes, k = 1..28")

    what = "median of " + str(args.repeat) + " runs" if args.repeat > 1 else "one run"
    print(f"\n{'path (' + what + ')':46s} {'seconds':>8s} {'forward passes':>15s} {'CPU s':>8s} {'in CPU':>7s}")
    for label, seconds, ratio, cpu, cpu_ratio in rows:
        print(f"{label:46s} {seconds:8.1f} {ratio:15.1f} {cpu:8.1f} {cpu_ratio:7.1f}")
    if args.repeat > 1:
        print("\nevery run, in forward passes (wall / CPU):")
        for label, values in runs.items():
            print(f"{label:46s} " + "  ".join(f"{v[1]:5.1f} / {v[3]:4.1f}" for v in values))
    if seen:
        every = max(1, len(seen) // 12)
        print(f"\nprogress shown by the app (last run: {len(seen)} updates, every {every}th and the last):")
        print("\n".join(seen[::every] + ([seen[-1]] if (len(seen) - 1) % every else [])))
    slow = [row[0] for row in rows if "naive" not in row[0] and row[2] > TARGET]
    print(f"\ntarget: every path within {TARGET} forward passes: " + ("met" if not slow else f"NOT met by {slow}"))


if __name__ == "__main__":
    main()
