"""Benchmark: the three truncation curves of a new model, in forward passes' time, from the CLI and in the app.

One forward pass = the test digits (10,000 by default) through the model once, in batches of
lstmviz.truncation.BATCH, best of three. For a freshly built (untrained, never cached) one-layer
model the script times, in one run, as ratios to that forward pass:

- fast path   : truncation_curves in this process (the maths alone);
- CLI         : `python -m lstmviz truncation --no-cache` as a child process, start to exit
                (imports and data loading included);
- app         : a real `streamlit run app.py` driven by Chromium (Playwright): the model is picked in
                the sidebar, the Truncation page opened, and the clock stops when the curves show
                (the page's metrics appear). The progress texts seen meanwhile are printed;
- naive loop  : one full forward pass per k per mode (skip with --no-naive); the fast path's
                predictions must equal it exactly.

Beside the wall time, the CPU seconds each path used (this process, the CLI child, the server
process) are given as a ratio to the forward pass's CPU seconds: that ratio moves much less when
other programs share the machine. Each path gets a model of its own (another seed), so no path reuses another's cached result.
Target (issue 16.4): every path within 40 forward passes. Timings on a shared machine are noisy:
the ratios, measured in the same run, are what to compare.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_truncation.py [--n N] [--no-app] [--no-naive]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
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

TARGET = 40  # forward passes


def forward_pass_time(model: torch.nn.Module, images: torch.Tensor, batch: int = BATCH) -> tuple[float, float]:
    """Best of three (wall seconds, CPU seconds of this process): all images once through the model, in batches."""
    best = (float("inf"), float("inf"))
    with torch.no_grad():
        model(images[:batch])  # warm-up
        for _ in range(3):
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(0, images.shape[0], batch):
                model(images[i : i + batch])
            best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return best


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


def app_time(name: str, data_dir: Path, env: dict, home: Path, timeout: float) -> tuple[float, float, list[str]]:
    """Seconds from opening the Truncation page with the new model selected until the curves show, and the
    server's CPU seconds meanwhile."""
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
    seen: list[str] = []
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
            start, cpu = time.perf_counter(), process_cpu(proc.pid)
            page.locator(".st-key-app_menu").get_by_role("link", name="Truncation").click()
            page.get_by_role("heading", name="Truncation: how accuracy falls").wait_for()  # the old page is gone
            metric = page.get_by_test_id("stMetric").first
            deadline = start + timeout
            while time.perf_counter() < deadline:
                if metric.count() and metric.is_visible():
                    break
                bars = page.get_by_test_id("stProgress")
                if bars.count():
                    text = bars.first.inner_text().strip().replace("\n", " ")
                    if text and (not seen or seen[-1].split("] ", 1)[-1] != text):
                        seen.append(f"[{time.perf_counter() - start:6.1f} s] {text}")
                page.wait_for_timeout(2000)
            else:
                print("\n".join(seen))
                raise TimeoutError(f"the curves did not show within {timeout:.0f} s")
            elapsed, used = time.perf_counter() - start, process_cpu(proc.pid) - cpu
            browser.close()
        return elapsed, used, seen
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--cell", default="lstm", choices=CELLS)
    parser.add_argument("--n", type=int, default=10000, help="test images (the app always uses the whole test set)")
    parser.add_argument("--no-app", action="store_true", help="skip the streamlit + Chromium run")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive loop")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the app's curves")
    args = parser.parse_args()

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
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    fwd, fwd_cpu = forward_pass_time(model, test.images)
    rows = [("one forward pass", fwd, 1.0, fwd_cpu, 1.0)]
    print(f"one forward pass of {len(test):,} digits: {fwd:.2f} s ({fwd_cpu:.2f} CPU s)", flush=True)

    truncation_curves(model, test.subset(200))  # warm-up
    start, cpu = time.perf_counter(), time.process_time()
    fast = truncation_curves(model, test)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    rows.append(("fast path (in process)", seconds, seconds / fwd, cpu, cpu / fwd_cpu))
    print(f"fast path: {rows[-1][1]:.1f} s", flush=True)

    cli_path = save_checkpoint(work / "cli.safetensors", build_model(config, seed=seed + 1), {})
    seconds, cpu = cli_time(cli_path, data_dir, len(test), env)
    rows.append(("CLI (child process, start to exit)", seconds, seconds / fwd, cpu, cpu / fwd_cpu))
    print(f"CLI: {rows[-1][1]:.1f} s", flush=True)

    seen: list[str] = []
    if not args.no_app:
        name = f"bench-{seed + 2}"
        save_checkpoint(work / "models" / f"{name}.safetensors", build_model(config, seed=seed + 2), {})
        app_fwd, app_fwd_cpu = forward_pass_time(model, full.images)
        elapsed, cpu, seen = app_time(name, data_dir, env, work / "home", args.timeout)
        rows.append(
            (f"app (streamlit + Chromium, {len(full):,} digits)", elapsed, elapsed / app_fwd, cpu, cpu / app_fwd_cpu)
        )
        print(f"app: {elapsed:.1f} s for {len(full):,} digits (forward pass {app_fwd:.2f} s)", flush=True)

    if not args.no_naive:
        start, cpu = time.perf_counter(), time.process_time()
        naive = naive_truncation(model, test)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        rows.append(("naive loop (in process)", seconds, seconds / fwd, cpu, cpu / fwd_cpu))
        for m in MODES:
            assert np.array_equal(fast.predictions[m], naive.predictions[m]), f"{m}: predictions differ"
        print("fast path = naive loop: identical predictions in all three modes, k = 1..28")

    print(f"\n{'path':46s} {'seconds':>8s} {'forward passes':>15s} {'CPU s':>8s} {'in CPU':>7s}")
    for label, seconds, ratio, cpu, cpu_ratio in rows:
        print(f"{label:46s} {seconds:8.1f} {ratio:15.1f} {cpu:8.1f} {cpu_ratio:7.1f}")
    if seen:
        print("\nprogress shown by the app:")
        print("\n".join(seen))
    slow = [row[0] for row in rows[1:] if "naive" not in row[0] and row[2] > TARGET]
    print(f"\ntarget: every path within {TARGET} forward passes: " + ("met" if not slow else f"NOT met by {slow}"))


if __name__ == "__main__":
    main()
