"""Browser test: Chromium draws a digit with the mouse on the draw page of a real `streamlit run` server."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

SEVEN = [(0.2, 0.18), (0.8, 0.18), (0.45, 0.88)]  # the strokes of a "7" as fractions of the canvas


# `server` (a fresh `streamlit run app.py` per module) and `browser` (Chromium) come from conftest.py.


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    # Enter through the home page, as a visitor does: on a fresh server a deep link to /draw is served
    # before app.py has registered st.navigation, and Streamlit then runs pages/draw.py on its own.
    pg.goto(server)
    pg.locator(".st-key-app_menu").get_by_role("link", name="Draw a digit").click()
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
