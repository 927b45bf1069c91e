"""Benchmark: seconds from a fresh server start to a page's figures, in a real Chromium.

For each page and data setting, per run: start `streamlit run app.py` on a free localhost port (a fresh
process, an empty home folder: no user cache), wait for /_stcore/health, then open the page's link in a new
Chromium context and time from the request until its main figure is drawn:

- truncation: the accuracy curves (`/truncation`, the Plotly chart's traces in the page);
- explorer: the step-through views with a digit (`/explorer`, the stepper component's canvases);
- neurons: the Neuron explorer's unit map (`/neurons`, its heatmap).

Data settings: `mnist` (the folder of --data-dir or $LSTMVIZ_DATA_DIR) and `none` (an empty folder: the
bundled sample; downloads are tried as on a fresh install unless --no-download). Chromium starts once,
before the servers. Prints the median, min and max over --runs per page and setting, the median CPU seconds
the server process used meanwhile (less dependent on what else runs than the wall time), and the server's
own start-up time (to a healthy /_stcore/health) for reference.

With --browser returning, the browser is one a teacher has used before: one Chromium profile kept across the
runs and every server on the same port (the same origin), visited twice on throwaway servers first, so Streamlit's
and Plotly's scripts (immutable, cached for a year) come from its cache as on a second lesson; the server is as
fresh as ever. The default, --browser fresh, is a browser that has never opened the app (a new context per run).

With --after PAGE, each fresh server is first visited on PAGE (untimed), then --pause seconds later (the
warm-up thread's time: a visitor reading the first page) the timed page opens in a new context: how warm
the second page is; with --click as well, the timed page is reached by its link in the sidebar of the first
one (navigation inside the app, no new page load: how a teacher moves on). Timings on a shared machine are
noisy.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_cold.py [--runs 3] [--page truncation]
    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_cold.py --after truncation --page neurons
    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_cold.py --after home --click --pause 5 --page truncation
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from serving import CHROMIUM, CHROMIUM_ARGS, cpu_seconds, free_port, stop, streamlit_command, wait_healthy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 3.0  # issue 10: the Truncation page shows its curves within 3 s of a fresh start

# page -> (path, JS condition that is true once its main figure is drawn)
PAGES = {
    "truncation": ("/truncation", "document.querySelector('.st-key-trunc_fig_curves .js-plotly-plot .scatterlayer')"),
    "explorer": (
        "/explorer",
        """(() => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.lsv'));
  return host && host.shadowRoot.querySelectorAll('.lsv [data-view] canvas').length > 0;
})()""",
    ),
    "neurons": ("/neurons", "document.querySelector('.st-key-neuron_map .js-plotly-plot .heatmaplayer')"),
    "home": ("/", "document.querySelector('.st-key-home_strip .js-plotly-plot .heatmaplayer')"),
}


def start_server(data_dir: str, download: bool, port: int | None = None) -> tuple[subprocess.Popen, str, float]:
    """A fresh `streamlit run app.py` (on `port`, else a free one): (process, base URL, seconds until
    /_stcore/health answered)."""
    port = port or free_port()
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), LSTMVIZ_DATA_DIR=data_dir)
    env["HOME"] = tempfile.mkdtemp(prefix="bench_cold_home_")
    env.pop("LSTMVIZ_CACHE_DIR", None)
    if not download:
        env["LSTMVIZ_DOWNLOAD"] = "0"
    t0 = time.monotonic()
    proc = subprocess.Popen(
        streamlit_command(port), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{url}/_stcore/health", proc, timeout=120)
    except BaseException:
        stop(proc)
        raise
    return proc, url, time.monotonic() - t0


def time_page(
    browser, url: str, page_name: str, pid: int, profile=None, click: str | None = None, pause: float = 0.0
) -> tuple[float, float]:
    """(seconds, server CPU seconds) from requesting the page's link until its main figure is drawn (no error
    shown), in a new browser context, or in a new tab of `profile` (a persistent context: a returning browser).
    With `click`, once the page is drawn and `pause` s later, the time from a click on the sidebar's link to
    the page `click` until its figure is drawn instead (navigation inside the app, as a teacher moves on).
    The server's CPU (/proc/<pid>/stat) depends less on what else the machine runs than the wall time."""
    path, drawn = PAGES[page_name]
    context = profile or browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        t0, cpu0 = time.monotonic(), cpu_seconds(pid)
        page.goto(url + path)
        page.wait_for_function(drawn, polling=50, timeout=180_000)
        if click:
            time.sleep(pause)
            target, drawn = PAGES[click]
            link = page.locator(f'[data-testid="stSidebar"] a[href="{target.lstrip("/")}"]').first  # relative links
            t0, cpu0 = time.monotonic(), cpu_seconds(pid)
            link.click()
            page.wait_for_function(drawn, polling=50, timeout=180_000)
        seconds, cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
        if page.get_by_test_id("stException").count() or page.get_by_test_id("stAlertContentError").count():
            raise RuntimeError(f"{click or page_name}: the page shows an error")
        return seconds, cpu
    finally:
        page.close()
        if profile is None:
            context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh servers per page and data setting")
    parser.add_argument("--page", action="append", choices=list(PAGES), help="only these pages (repeatable)")
    parser.add_argument("--data", action="append", choices=["mnist", "none"], help="only these data settings")
    parser.add_argument("--data-dir", default=os.environ.get("LSTMVIZ_DATA_DIR"), help="the MNIST folder")
    parser.add_argument("--no-download", action="store_true", help="LSTMVIZ_DOWNLOAD=0 for the empty folder")
    parser.add_argument("--after", choices=list(PAGES), help="visit this page first (untimed), then the timed one")
    parser.add_argument("--pause", type=float, default=10.0, help="seconds between --after's page and the timed one")
    parser.add_argument(
        "--click", action="store_true", help="with --after: go on by the sidebar's link in the same tab (no new load)"
    )
    parser.add_argument(
        "--browser",
        choices=["fresh", "returning", "both"],
        default="fresh",
        help="a browser that never opened the app (new context per run), one that has (cached scripts), or both",
    )
    args = parser.parse_args()
    settings = args.data or ["mnist", "none"]
    if "mnist" in settings and not args.data_dir:
        parser.error("--data-dir (or LSTMVIZ_DATA_DIR) is needed for the mnist setting")
    empty = tempfile.mkdtemp(prefix="bench_cold_nodata_")
    from playwright.sync_api import sync_playwright

    print(f"{os.cpu_count()} CPUs, {args.runs} fresh servers each; seconds from the link's request to the figure")
    width = 11 if not args.after else 34
    print(
        f"{'page':<{width}} {'data':<6} {'browser':<9} {'median':>7} {'min':>6} {'max':>6} {'server CPU':>11}   "
        "server start (median)"
    )
    browsers = ["fresh", "returning"] if args.browser == "both" else [args.browser]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for page_name in args.page or list(PAGES):
                for setting in settings:
                    data_dir = args.data_dir if setting == "mnist" else empty
                    download = setting == "mnist" or not args.no_download
                    for kind in browsers:
                        times, cpus, starts = [], [], []
                        port, profile = None, None
                        if kind == "returning":  # one profile and one origin; two visits fill its cache first
                            port = free_port()
                            profile = pw.chromium.launch_persistent_context(
                                tempfile.mkdtemp(prefix="bench_cold_profile_"),
                                executable_path=str(CHROMIUM),
                                args=CHROMIUM_ARGS,
                                viewport={"width": 1440, "height": 900},
                            )
                            for _ in range(2):
                                proc, url, _ = start_server(data_dir, download, port)
                                try:
                                    time_page(browser, url, args.after or page_name, proc.pid, profile)
                                finally:
                                    stop(proc)
                        try:
                            for _ in range(args.runs):
                                proc, url, start = start_server(data_dir, download, port)
                                try:
                                    if args.after and args.click:
                                        seconds, cpu = time_page(
                                            browser, url, args.after, proc.pid, profile, page_name, args.pause
                                        )
                                    else:
                                        if args.after:
                                            time_page(browser, url, args.after, proc.pid, profile)
                                            time.sleep(args.pause)
                                        seconds, cpu = time_page(browser, url, page_name, proc.pid, profile)
                                    times.append(seconds)
                                    cpus.append(cpu)
                                    starts.append(start)
                                finally:
                                    stop(proc)
                        finally:
                            if profile is not None:
                                profile.close()
                        median = statistics.median(times)
                        flag = "" if page_name != "truncation" or median <= TARGET_S else "  (> 3 s)"
                        label = page_name if not args.after else f"{page_name} after {args.after}"
                        label += " (click)" if args.after and args.click else ""
                        print(
                            f"{label:<{width}} {setting:<6} {kind:<9} {median:>6.2f}s {min(times):>5.2f}s "
                            f"{max(times):>5.2f}s {statistics.median(cpus):>10.2f}s   "
                            f"{statistics.median(starts):.2f}s{flag}",
                            flush=True,
                        )
        finally:
            browser.close()


if __name__ == "__main__":
    main()
