"""Browser test: the very first request to a fresh `streamlit run` server is /truncation, and the page draws
its accuracy curves (from the shipped precomputed results) with no error and no progress bar left.

How quickly is benchmarks/bench_cold.py's business (target: under 3 s on 2 cores); this checks that the
cold path works at all: the test set read with numpy, the shipped curves found by the weights' and data's
hashes, the curves drawn in the first script run, then the warm-up started without breaking the page.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

CURVES = ".st-key-trunc_fig_curves .js-plotly-plot"


def test_fresh_server_truncation_draws_its_curves(browser, server):
    """`server` is a fresh `streamlit run` for this module (conftest.py): this is its first page request."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{server}/truncation")
        page.locator(f"{CURVES} .scatterlayer .trace").first.wait_for()
        names = page.locator(f"{CURVES} .legendtext").evaluate_all("els => els.map(e => e.textContent)")  # SVG
        assert any("notebook" in n for n in names) and any("early" in n for n in names), names
        assert any("occlusion" in n for n in names), names
        page.get_by_test_id("stMetric").first.wait_for()  # the accuracy after k rows, per mode
        assert page.get_by_test_id("stMetricValue").first.inner_text().endswith("%")
        assert page.get_by_test_id("stProgress").count() == 0  # read at once, nothing was computed
        assert page.get_by_test_id("stException").count() == 0
        page.wait_for_timeout(3000)  # the warm-up runs in the background now: the page stays as it is
        assert page.get_by_test_id("stException").count() == 0
        assert page.locator(f"{CURVES} .scatterlayer .trace").count() >= 3
    finally:
        context.close()
