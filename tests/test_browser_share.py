"""Browser tests on a fresh `streamlit run` server in Chromium: a link with a drawn digit (`/draw?drawn=…`)
restores that digit and its reading; the camera button of a chart downloads it as PNG, then (after the
sidebar's "Figure downloads" switch) as SVG, drawn in the browser."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from test_app_draw import SEVEN, stroke_picture

from lstmviz import links
from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from lstmviz.evaluate import predict_proba
from lstmviz.figures.common import DOWNLOAD_SCALE
from lstmviz.preprocess import canvas_to_mnist

pytestmark = pytest.mark.browser

SVG_CAMERA_JS = """() => {
  const b = document.querySelector('.st-key-draw_probs[data-stale="false"] .modebar-btn[data-title^="Download plot"]');
  return b && !b.getAttribute('data-title').includes('png');
}"""

# `server` (a fresh `streamlit run app.py` per module) and `browser` (Chromium) come from conftest.py.


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    yield pg
    context.close()


@pytest.fixture(scope="module")
def drawn():
    """A drawn seven as its link carries it, and the shipped model's answer for the restored image."""
    code = links.encode_drawing(canvas_to_mnist(stroke_picture(SEVEN)))
    probs = predict_proba(load_checkpoint(DEFAULT_CHECKPOINT).model, links.decode_drawing(code)[None])
    return code, int(np.asarray(probs).argmax())


def test_a_link_with_a_drawn_digit_opens_it_on_a_fresh_server(page, server, drawn):
    code, guess = drawn
    page.goto(f"{server}/draw?drawn={code}")  # the server's first page request
    page.get_by_text("This digit came with the link").wait_for()
    answer = page.get_by_test_id("stMetric").filter(has_text="The model reads")
    assert answer.get_by_test_id("stMetricValue").inner_text().strip() == str(guess)
    page.get_by_text("Watch the network read your digit").wait_for()
    assert page.locator(".st-key-app_menu").is_visible()  # through app.py's navigation
    page.wait_for_function(f"new URL(location.href).searchParams.get('drawn') === {code!r}")
    assert page.locator("canvas.upper-canvas").count() == 1  # the canvas is there to draw over it


def _download(page, chart_key: str):
    chart = page.locator(f".st-key-{chart_key}[data-stale='false']")  # not an old copy left by a rerun
    page.wait_for_function("!document.querySelector('[data-stale=\"true\"]')")  # the rerun has finished drawing
    for attempt in range(3):  # a rerun may still swap the chart's element between two actions: look it up again
        try:
            chart.scroll_into_view_if_needed()
            chart.hover()
            break
        except PlaywrightError:
            if attempt == 2:
                raise
            page.wait_for_timeout(300)
    camera = chart.locator(".modebar-btn[data-title^='Download plot']")
    with page.expect_download() as info:
        camera.click()
    return info.value


def test_the_camera_button_downloads_a_chart_as_png_then_svg(page, server, drawn, tmp_path):
    if "/draw" not in page.url:
        page.goto(f"{server}/draw?drawn={drawn[0]}")
    page.get_by_text("This digit came with the link").wait_for()
    chart = page.locator(".st-key-draw_probs[data-stale='false']")
    chart.wait_for()
    # only the camera and Streamlit's fullscreen: Plotly's zoom/pan tools are removed
    titles = chart.locator(".modebar-btn").evaluate_all("bs => bs.map(b => b.getAttribute('data-title'))")
    assert any(t.startswith("Download plot") for t in titles) and not any("Zoom" in t or "Pan" in t for t in titles)

    download = _download(page, "draw_probs")
    assert re.fullmatch(r"lstmviz-[a-z0-9-]+\.png", download.suggested_filename)
    download.save_as(tmp_path / "a.png")
    png = Image.open(io.BytesIO((tmp_path / "a.png").read_bytes()))
    width = chart.locator(".main-svg").first.bounding_box()["width"]
    assert png.format == "PNG" and abs(png.size[0] - DOWNLOAD_SCALE * width) <= 2 * DOWNLOAD_SCALE

    page.get_by_test_id("stSidebar").get_by_text("SVG", exact=True).click()
    page.wait_for_function(SVG_CAMERA_JS)  # the camera's tooltip: "Download plot as a png" -> "Download plot"
    download = _download(page, "draw_probs")
    assert download.suggested_filename.endswith(".svg")
    download.save_as(tmp_path / "b.svg")
    svg = (tmp_path / "b.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg") and "</svg>" in svg
