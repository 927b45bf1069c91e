"""Browser test: Chromium draws a digit with the mouse on the draw page of a real `streamlit run` server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from lstmviz.data import ENV_VAR

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SEVEN = [(0.2, 0.18), (0.8, 0.18), (0.45, 0.88)]  # the strokes of a "7" as fractions of the canvas


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"streamlit did not become healthy within {timeout}s")


@pytest.fixture(scope="module")
def server(data_dir, tmp_path_factory):
    """`streamlit run app.py` on a free port; yields its base URL."""
    port = free_port()
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ, **{ENV_VAR: str(data_dir)}, OMP_NUM_THREADS="1", HOME=str(home))
    log = open(home / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_healthy(f"http://localhost:{port}/_stcore/health", proc)
        yield f"http://localhost:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    # Enter through the home page, as a visitor does: on a fresh server a deep link to /draw is served
    # before app.py has registered st.navigation, and Streamlit then runs pages/draw.py on its own.
    pg.goto(server)
    pg.get_by_test_id("stSidebarNav").get_by_role("link", name="Draw a digit").click()
    pg.get_by_role("heading", name="Draw a digit").wait_for()
    yield pg
    context.close()


def draw_strokes(pg, canvas, strokes: list[tuple[float, float]]) -> None:
    """Drag the mouse through the points (fractions of the canvas) in one stroke."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in strokes]
    pg.mouse.move(*points[0])
    pg.mouse.down()
    for x, y in points[1:]:
        pg.mouse.move(x, y, steps=25)
    pg.mouse.up()


def test_draw_a_seven_undo_and_clear(page, server):
    prompt = page.get_by_text(re.compile("Draw a digit on the black canvas"))
    prompt.wait_for()
    canvas = page.locator("canvas.upper-canvas")
    canvas.wait_for()
    answer = page.get_by_test_id("stMetric").filter(has_text="The model reads")
    stepthrough = page.get_by_text("Watch the network read your digit")

    draw_strokes(page, canvas, SEVEN)
    answer.wait_for()
    assert answer.get_by_test_id("stMetricValue").inner_text().strip() == "7"
    assert page.get_by_text("The model's input (28×28)").count() >= 1
    stepthrough.wait_for()
    assert prompt.count() == 0

    canvas.hover()
    page.get_by_role("button", name="Undo").click()  # the canvas toolbar's undo: the only stroke goes
    prompt.wait_for()
    answer.wait_for(state="detached")

    draw_strokes(page, canvas, SEVEN)
    answer.wait_for()
    page.get_by_role("button", name=re.compile("Clear")).click()
    prompt.wait_for()
    answer.wait_for(state="detached")
    assert stepthrough.count() == 0
    assert page.get_by_test_id("stException").count() == 0
