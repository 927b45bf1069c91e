"""Browser test: the step-through explorer at 1440x900 in Chromium on a real `streamlit run` server.

Play runs to the end and then every view shows step 28 with exactly one marker of each kind; Prev
moves every view to 27; stepping sends nothing over the websocket; the sticky step control and the
main views fit the projector screen together.
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1440, 900
T = 28
# Views that follow the step (data-view) and the marker kinds (data-mark) the shipped LSTM shows.
VIEWS = {"heading", "digit", "lines", "now", "h", "c", "row", "bars", "input", "forget", "candidate", "output"}
MARKS = {"digit", "lines", "h", "c", "input", "forget", "candidate", "output"}

# Reads the rendered component (inside its shadow root): the step of every view, the visible markers
# with their boxes, the plots' boxes, and the texts that name the step.
STATE_JS = """() => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.lsv'));
  const root = (host ? host.shadowRoot : document).querySelector('.lsv');
  const box = e => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, w: r.width, h: r.height}; };
  const views = {};
  root.querySelectorAll('[data-view]').forEach(v => { views[v.dataset.view] = Number(v.dataset.step); });
  const marks = {};
  root.querySelectorAll('[data-mark]').forEach(m => {
    if (getComputedStyle(m).display === 'none') return;
    const canvas = m.parentElement.querySelector('canvas');
    (marks[m.dataset.mark] = marks[m.dataset.mark] || []).push({mark: box(m), plot: box(canvas)});
  });
  const panels = {};
  root.querySelectorAll('.lsv-panel').forEach(p => { panels[p.dataset.view] = box(p.querySelector('canvas')); });
  const title = v => root.querySelector(`[data-view="${v}"] .lsv-title-text`).textContent;
  return {step: Number(root.dataset.step), playing: root.dataset.playing === '1', views, marks, panels,
          bar: box(root.querySelector('.lsv-bar')), heading: root.querySelector('.lsv-heading').textContent,
          now: title('now'), row: title('row'), slider: Number(root.querySelector('.lsv-slider').value)};
}"""


@pytest.fixture
def explorer(browser, server):  # noqa: F811
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    frames: list[tuple[str, int]] = []
    pg.on(
        "websocket",
        lambda ws: (
            ws.on("framesent", lambda p: frames.append(("sent", len(p)))),
            ws.on("framereceived", lambda p: frames.append(("received", len(p)))),
        ),
    )
    pg.goto(server)
    pg.locator(".st-key-app_menu").get_by_role("link", name="Step-through explorer").click()
    pg.locator(".lsv-bar").wait_for()
    pg.frames_seen = frames
    yield pg
    context.close()


def state(pg) -> dict:
    return pg.evaluate(STATE_JS)


def assert_all_views_at(s: dict, k: int) -> None:
    """Every view shows step k, with exactly one marker of each kind, placed at step k."""
    assert s["step"] == k and s["slider"] == k
    assert set(s["views"]) == VIEWS and set(s["views"].values()) == {k}, s["views"]
    assert s["heading"].startswith(f"Step {k} of {T}: rows 1–{k} read")
    assert s["now"] == f"probabilities after {k} rows" and s["row"].startswith(f"input at step {k}: row {k}")
    assert {kind: len(found) for kind, found in s["marks"].items()} == {kind: 1 for kind in MARKS}
    (digit,) = s["marks"]["digit"]  # the box around the current row: row k of 28 from the top
    assert (digit["mark"]["y"] - digit["plot"]["y"]) / digit["mark"]["h"] == pytest.approx(k - 1, abs=0.05)
    for kind in MARKS - {"digit", "lines"}:  # the box around step k's column: T - k columns to its right
        (m,) = s["marks"][kind]
        right = m["plot"]["x"] + m["plot"]["w"] - 4  # the heatmap's right edge (4 px margin)
        columns_right = (right - m["mark"]["x"]) / m["mark"]["w"] - 1
        assert columns_right == pytest.approx(T - k, abs=0.05), kind


def test_play_to_the_end_then_prev_keeps_every_view_in_step(explorer):
    pg = explorer
    first = state(pg)
    assert_all_views_at(first, T)  # opens at the answer
    assert re.search(r"✓|✗", first["heading"])
    lines_at_end = first["marks"]["lines"][0]["mark"]["x"]

    pg.locator(".lsv-play").click()  # at the end, Play starts again from the first row
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        s = state(pg)
        seen.add(s["step"])
        assert len(set(s["views"].values())) == 1, s["views"]  # never two views at different steps
        if not s["playing"]:
            break
        time.sleep(0.05)
    assert not s["playing"] and len(seen) > 5
    end = state(pg)
    assert_all_views_at(end, T)
    assert end["marks"]["lines"][0]["mark"]["x"] == pytest.approx(lines_at_end, abs=0.5)

    pg.frames_seen.clear()
    pg.locator(".lsv-btn", has_text="Prev").click()
    s = state(pg)
    assert_all_views_at(s, T - 1)
    (lines,) = s["marks"]["lines"]
    assert lines_at_end - lines["mark"]["x"] == pytest.approx((lines["plot"]["w"] - 42) / T, abs=0.5)

    pg.keyboard.press("ArrowLeft")
    assert_all_views_at(state(pg), T - 2)
    pg.locator(".lsv-btn", has_text="Next").click()
    assert_all_views_at(state(pg), T - 1)
    pg.wait_for_timeout(500)
    assert pg.frames_seen == []  # stepping sends nothing to the server and gets nothing back
    assert pg.get_by_test_id("stException").count() == 0


def test_step_control_and_main_views_fit_the_projector_screen(explorer):
    pg = explorer
    pg.locator(".lsv-bar").scroll_into_view_if_needed()
    pg.evaluate("""() => {
      const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.lsv'));
      host.shadowRoot.querySelector('.lsv').scrollIntoView({block: 'start'});
    }""")
    pg.wait_for_timeout(300)
    s = state(pg)
    for name in ("digit", "lines", "now", "h", "c"):
        p = s["panels"][name]
        assert p["y"] >= s["bar"]["y"] + s["bar"]["h"] - 1 and p["y"] + p["h"] <= HEIGHT, name
        assert p["x"] >= 0 and p["x"] + p["w"] <= WIDTH, name
    assert 0 <= s["bar"]["y"] and s["bar"]["y"] + s["bar"]["h"] <= HEIGHT

    pg.mouse.move(WIDTH // 2, HEIGHT // 2)
    pg.mouse.wheel(0, 900)  # down to the gates: the step control stays in view (sticky)
    pg.wait_for_timeout(500)
    s = state(pg)
    assert 0 <= s["bar"]["y"] <= 120
    gate = s["panels"]["forget"]
    assert gate["y"] < HEIGHT and gate["y"] + gate["h"] > 0
    pg.keyboard.press("ArrowLeft")
    assert_all_views_at(state(pg), T - 1)
