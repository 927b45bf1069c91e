"""Benchmark: seconds per epoch and time to reach 97.3% test accuracy, notebook vs default preset;
and (--refresh) the server's CPU per Train-page progress refresh while a run trains.

Both presets train in one run on this machine; each stops as soon as an evaluation (4 per
epoch) reaches the target. Training time excludes evaluation time.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_train.py [--target 0.973] [--max-epochs 10]
    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_train.py --refresh 1,5 [--seconds 20]

--refresh starts `streamlit run` and real Chromium pages (see refresh_cost): one starts a run and
watches it, the others wait for it; it prints the server process's CPU (not the training process's)
per fragment rerun the pages asked for.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstmviz.data import load_mnist  # noqa: E402
from lstmviz.train import make_recipe, train  # noqa: E402


def time_to_target(preset: str, target: float, max_epochs: int, data_dir: str | None, seed: int) -> dict:
    """Train `preset` until test accuracy >= target (or max_epochs); report timings."""
    train_split, test_split = load_mnist(data_dir)
    recipe = make_recipe(preset, seed=seed)
    if recipe.epochs < max_epochs and recipe.schedule == "constant":
        recipe = replace(recipe, epochs=max_epochs)  # a constant LR can simply run on
    stop = threading.Event()
    reached: dict = {}

    def on_progress(p) -> None:
        if p.kind == "eval":
            print(
                f"  {preset:8s} epoch {p.epoch:5.2f}  {p.elapsed:7.1f} s  test accuracy {p.heldout_accuracy:.4f}",
                flush=True,
            )
            if p.heldout_accuracy >= target and not reached:
                reached.update(seconds=p.elapsed, epoch=p.epoch, accuracy=p.heldout_accuracy)
                stop.set()

    result = train(
        train_split, test_split, recipe, on_progress=on_progress, stop=stop, evals_per_epoch=4, max_batches=None
    )
    epochs = result.metrics["epochs"]
    return {
        "preset": preset,
        "seconds_per_epoch": result.metrics["train_seconds"] / epochs if epochs else None,
        "seconds_to_target": reached.get("seconds"),
        "epochs_to_target": reached.get("epoch"),
        "best_accuracy": result.metrics["best_heldout_accuracy"],
    }


def refresh_cost(sessions: list[int], seconds: float, data_dir: str | None) -> list[dict]:
    """Server CPU per Train-page progress refresh while a real run trains, for each number of browsers.

    One `streamlit run` server (bench_class.start_server: a fresh HOME, so an empty models folder);
    the first browser starts a run on the Train page and watches it, the others open the Train page
    and see "another run is in progress" (kept live by its own fragment). Over `seconds`, the server
    process's CPU (utime + stime from /proc/<pid>/stat: the training process is a child with its own
    counters, so its CPU is not included) is divided by the fragment reruns the browsers asked for
    (websocket frames they sent).
    """
    from bench_class import start_server  # noqa: PLC0415 - the benchmarks' shared server start
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from serving import CHROMIUM, CHROMIUM_ARGS, cpu_seconds, free_port  # noqa: PLC0415

    port = free_port()
    proc = start_server(port, data_dir)
    url = f"http://127.0.0.1:{port}/train"
    rows = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            sent: list[int] = []
            pages = []

            def open_page() -> None:
                page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
                page.set_default_timeout(240_000)
                k = len(sent)
                sent.append(0)
                page.on(
                    "websocket",
                    lambda ws: ws.on("framesent", lambda _p: sent.__setitem__(k, sent[k] + 1)),
                )
                page.goto(url, wait_until="commit")
                page.get_by_role("button", name="Start training").wait_for()
                pages.append(page)

            open_page()
            owner = pages[0]
            epochs = owner.get_by_label("Epochs")
            epochs.fill("5")  # long enough for every phase; the run is stopped at the end
            epochs.press("Enter")
            owner.wait_for_timeout(1500)
            owner.get_by_role("button", name="Start training").click()
            owner.get_by_text(re.compile(r"step [\d,]+ of")).first.wait_for()
            for n in sessions:
                while len(pages) < n:
                    open_page()
                    pages[-1].get_by_text("please wait").first.wait_for()
                owner.wait_for_timeout(3000)  # let the new pages settle into their polling
                frames0, cpu0, t0 = sum(sent), cpu_seconds(proc.pid), time.monotonic()
                owner.wait_for_timeout(seconds * 1000)  # (a sync Playwright call: the frame counters keep counting)
                frames, cpu, wall = sum(sent) - frames0, cpu_seconds(proc.pid) - cpu0, time.monotonic() - t0
                rows.append(
                    {
                        "browsers": n,
                        "refreshes": frames,
                        "cpu_s": cpu,
                        "wall_s": wall,
                        "cpu_ms_per_refresh": 1000 * cpu / max(frames, 1),
                        "server_cpu_share": cpu / wall,
                    }
                )
                print(
                    f"  {n} browser(s): {frames} refreshes in {wall:.0f} s, server CPU {cpu * 1000:.0f} ms: "
                    f"{rows[-1]['cpu_ms_per_refresh']:.1f} ms per refresh ({cpu / wall:.1%} of a core)",
                    flush=True,
                )
            owner.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()
            owner.wait_for_timeout(500)
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=0.973, help="test accuracy to reach (default: 0.973)")
    parser.add_argument("--max-epochs", type=int, default=10, help="cap for the notebook preset (default: 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument(
        "--refresh",
        default=None,
        help="instead: server CPU per Train-page progress refresh with these numbers of browsers (e.g. 1,5)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="--refresh: length of each measurement")
    args = parser.parse_args()
    if args.refresh:
        sessions = sorted({int(n) for n in args.refresh.split(",")})
        print(f"Train page refresh cost ({os.cpu_count()} CPUs; target: at most 20 ms of server CPU per refresh)")
        rows = refresh_cost(sessions, args.seconds, args.data_dir)
        print(json.dumps(rows))
        return
    rows = [time_to_target(p, args.target, args.max_epochs, args.data_dir, args.seed) for p in ("notebook", "default")]
    print()
    print(f"{'preset':10s} {'s/epoch':>8s} {'s to ' + format(args.target, '.1%'):>12s} {'epochs':>7s}")
    for r in rows:
        s = f"{r['seconds_to_target']:.1f}" if r["seconds_to_target"] is not None else "not reached"
        e = f"{r['epochs_to_target']:.2f}" if r["epochs_to_target"] is not None else "-"
        print(f"{r['preset']:10s} {r['seconds_per_epoch']:8.1f} {s:>12s} {e:>7s}")
    nb, df = rows
    if nb["seconds_to_target"] and df["seconds_to_target"]:
        ratio = df["seconds_to_target"] / nb["seconds_to_target"]
        print(
            f"default needs {ratio:.2f}x the notebook preset's time (target: <= 0.50x): {'PASS' if ratio <= 0.5 else 'FAIL'}"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
