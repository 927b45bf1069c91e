"""Browser test: the very first request to a fresh `streamlit run` server is a deep link to /truncation.

Streamlit runs a linked page file on its own (old multipage mode: no app.py, so no sidebar model
selector and page-file names in the navigation) when the first request after start is a link to it;
the app must still show the page through app.py's navigation. AppTest cannot see this: it always
runs app.py first. The `server` fixture (conftest.py) starts one server for this module and requests
only /_stcore/health before the test opens the page.
"""

from __future__ import annotations

import re

import pytest
from test_browser_nav import TITLES  # the titles app.py gives its pages

pytestmark = pytest.mark.browser

TITLE = re.compile(r"^Truncation: how accuracy falls")


def test_first_request_to_truncation_shows_the_page_with_the_sidebar(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(90_000)
        documents = []
        page.on("request", lambda r: documents.append(r.url) if r.resource_type == "document" else None)
        page.goto(f"{server}/truncation")
        assert documents == [f"{server}/truncation"]  # one page load: the deep link itself, no redirect

        page.get_by_role("heading", name=TITLE).wait_for()
        sidebar = page.get_by_test_id("stSidebar")
        selector = sidebar.get_by_test_id("stSelectbox").filter(has_text="Model")
        selector.wait_for(timeout=15_000)  # app.py draws the sidebar before the page: it is there by now
        assert selector.count() == 1
        chosen = selector.get_by_role("combobox").input_value()
        assert chosen.startswith("lstm (shipped)")  # the shipped default model is selected

        # app.py draws the menu (st.page_link; Streamlit's own page list is switched off in .streamlit/config.toml)
        links = sidebar.get_by_test_id("stPageLink-NavLink")
        titles = [t.strip() for t in links.all_inner_texts()]
        titles = [t.split("\n")[-1] for t in titles]  # the Material icon's ligature text comes first
        assert titles == TITLES  # app.py's navigation, not the names of the files in pages/
        assert sidebar.get_by_test_id("stSidebarNav").count() == 0
        assert page.url.split("?")[0] == f"{server}/truncation"  # links.sync may add ?model= (the link to this view)
        assert page.get_by_role("heading", name=TITLE).count() == 1  # the page ran once, not twice
        assert page.get_by_test_id("stException").count() == 0
    finally:
        context.close()
