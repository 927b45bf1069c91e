"""Benchmark: a class of N browsers stepping through the explorer on one `streamlit run` server.

Starts `streamlit run app.py` on a free localhost port, opens N Chromium sessions (one browser, one
context per student) on the Step-through explorer, and lets all N step at once (Next / Prev, as a
student clicks). Per N it prints:

- server CPU per step change: utime + stime of the server process (/proc/<pid>/stat) over the stepping
  phase, divided by the number of step changes;
- bytes per step change: websocket frames the N pages received (and sent) over that phase;
- click-to-update median and p90: from the click to the next frame after every view shows the new step;
- step changes per second one server core sustains: step changes / (CPU over the phase minus the server's
  idle CPU over as long); "≥" when that is within two clock ticks of idle (then CPU per step change is an
  upper bound: the server's background, not work done for the steps);
- the same server CPU and bytes for one digit change (a real rerun), the remaining server cost.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_class.py [--sessions 1,5,10,20,30] [--steps 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from serving import CHROMIUM, CHROMIUM_ARGS, cpu_seconds, free_port, streamlit_command, wait_healthy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")

# Click a step button inside the component's shadow root; resolve with the milliseconds until the frame
# after every view shows the new step.
CLICK_JS = """async (which) => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.lsv'));
  const root = host.shadowRoot.querySelector('.lsv');
  const button = [...root.querySelectorAll('.lsv-btn')].find(b => b.textContent.includes(which));
  const before = Number(root.dataset.step);
  const t0 = performance.now();
  button.click();
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const views = [...root.querySelectorAll('[data-view]')].map(v => Number(v.dataset.step));
  const now = Number(root.dataset.step);
  if (now === before || views.some(v => v !== now)) throw new Error(`views not at step ${now}: ${views}`);
  return performance.now() - t0;
}"""


def start_server(port: int, data_dir: str | None) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    env["HOME"] = tempfile.mkdtemp(prefix="bench_class_home_")
    if data_dir:
        env["LSTMVIZ_DATA_DIR"] = data_dir
    proc = subprocess.Popen(
        streamlit_command(port),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", proc, timeout=120)
    except RuntimeError:
        proc.kill()
        raise
    return proc


class Session:
    """One student: a browser context on the explorer, counting its websocket bytes."""

    def __init__(self, page):
        self.page = page
        self.received = 0
        self.sent = 0
        page.on("websocket", self._watch)

    def _watch(self, ws) -> None:
        ws.on("framereceived", lambda p: setattr(self, "received", self.received + len(p)))
        ws.on("framesent", lambda p: setattr(self, "sent", self.sent + len(p)))

    async def open(self, url: str) -> None:
        self.page.set_default_timeout(300_000)  # first visits of a whole class queue on a small server
        await self.page.goto(url)
        await self.page.locator(".st-key-app_menu").get_by_role("link", name="Step-through explorer").click()
        await self.page.locator(".lsv-bar").wait_for()
        await self.page.wait_for_timeout(1500)  # let the first run settle

    async def step(self, n: int, think_s: float) -> list[float]:
        times = []
        for i in range(n):
            which = "Prev" if (i // 5) % 2 == 0 else "Next"  # 5 back, 5 forward, ... (opens at the last step)
            times.append(await self.page.evaluate(CLICK_JS, which))
            await asyncio.sleep(think_s)
        return times

    async def change_digit(self, index: int) -> None:
        box = self.page.get_by_label("Test index (0–9999)")
        await box.fill(str(index))
        await box.press("Enter")
        await self.page.get_by_text(f"Test digit #{index}").wait_for()
        await self.page.wait_for_timeout(300)


async def run_class(browser, url: str, pid: int, n: int, steps: int, think_s: float) -> dict:
    contexts = [await browser.new_context(viewport={"width": 1440, "height": 900}) for _ in range(n)]
    try:
        sessions = [Session(await ctx.new_page()) for ctx in contexts]
        for i in range(0, n, 3):  # open in small groups: first visits are not what is measured here
            await asyncio.gather(*(s.open(url) for s in sessions[i : i + 3]))
        await asyncio.sleep(1.0)
        idle0, idle_wall0 = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(3.0)  # the server's background CPU with these sessions open and idle
        idle_rate = (cpu_seconds(pid) - idle0) / (time.monotonic() - idle_wall0)
        received0, sent0 = sum(s.received for s in sessions), sum(s.sent for s in sessions)
        cpu0, wall0 = cpu_seconds(pid), time.monotonic()
        times = [t for ts in await asyncio.gather(*(s.step(steps, think_s) for s in sessions)) for t in ts]
        await asyncio.sleep(0.5)
        wall = time.monotonic() - wall0
        cpu = cpu_seconds(pid) - cpu0
        received = sum(s.received for s in sessions) - received0
        sent = sum(s.sent for s in sessions) - sent0
        changes = n * steps

        received1, cpu1 = sum(s.received for s in sessions), cpu_seconds(pid)
        await asyncio.gather(*(s.change_digit(1 + i) for i, s in enumerate(sessions)))
        digit_cpu = (cpu_seconds(pid) - cpu1) / n
        digit_bytes = (sum(s.received for s in sessions) - received1) / n
    finally:
        for ctx in contexts:
            await ctx.close()
    q = statistics.quantiles(times, n=10) if len(times) > 1 else [times[0]] * 9
    return {
        "n": n,
        "changes": changes,
        "cpu_ms": 1000 * cpu / changes,
        "cpu_total": cpu,
        "wall": wall,
        "recv": received / changes,
        "sent": sent / changes,
        "median": statistics.median(times),
        "p90": q[-1],
        "digit_cpu_ms": 1000 * digit_cpu,
        "digit_kb": digit_bytes / 1024,
        "idle_cpu": idle_rate * wall,
    }


async def main_async(args) -> None:
    from playwright.async_api import async_playwright

    port = free_port()
    proc = start_server(port, args.data_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            print(
                f"explorer step changes, {args.steps} per session, {args.think * 1000:.0f} ms between clicks; "
                f"server pid {proc.pid}, {os.cpu_count()} CPUs, clock tick {1000 / TICK:.0f} ms"
            )
            print(
                f"{'N':>3} {'steps':>6} {'CPU/step':>10} {'bytes/step':>11} {'sent/step':>10} {'median':>8} "
                f"{'p90':>8} {'steps/s/core':>13} {'digit change: CPU':>18} {'KB':>7}"
            )
            for n in args.sessions:
                r = await run_class(browser, url, proc.pid, n, args.steps, args.think)
                resolution = 1.0 / TICK  # the CPU clock's resolution, in seconds
                net = r["cpu_total"] - r["idle_cpu"]  # minus what the server used idle over as long
                if net <= 2 * resolution:  # indistinguishable from idle: a lower bound only
                    rate = f"≥{r['changes'] / max(r['cpu_total'], resolution):,.0f}"
                else:
                    rate = f"{r['changes'] / net:,.0f}"
                print(
                    f"{r['n']:>3} {r['changes']:>6} {r['cpu_ms']:>8.2f}ms {r['recv']:>9.0f} B {r['sent']:>8.0f} B "
                    f"{r['median']:>6.1f}ms {r['p90']:>6.1f}ms {rate:>13} {r['digit_cpu_ms']:>15.0f} ms "
                    f"{r['digit_kb']:>6.0f}"
                )
            await browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,5,10,20,30", help="comma-separated class sizes N")
    parser.add_argument("--steps", type=int, default=20, help="step changes per session")
    parser.add_argument("--think", type=float, default=0.1, help="seconds between one student's clicks")
    parser.add_argument("--data-dir", default=os.environ.get("LSTMVIZ_DATA_DIR"), help="MNIST folder")
    args = parser.parse_args()
    args.sessions = [int(n) for n in args.sessions.split(",") if n.strip()]
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
