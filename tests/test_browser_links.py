"""Browser test: a link that reopens a view, `/explorer?digit=42&step=17`, on a fresh `streamlit run` server
in Chromium; stepping keeps the step in the address bar; `?hide=` removes a page from the navigation."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

STEP_JS = """() => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.lsv'));
  const root = (host ? host.shadowRoot : document).querySelector('.lsv');
  return root && root.dataset.step !== undefined ? Number(root.dataset.step) : null;
}"""


def test_explorer_link_opens_digit_42_at_step_17(page, server):
    page.goto(f"{server}/explorer?digit=42&step=17")  # the server's first page request
    page.get_by_text(re.compile(r"Test digit #42\b")).first.wait_for()
    page.locator(".lsv-bar").wait_for()
    page.wait_for_function(f"({STEP_JS})() === 17")
    assert page.evaluate(STEP_JS) == 17
    assert page.locator(".st-key-app_menu").is_visible()  # through app.py's navigation
    # the address bar stays a link to this view: stepping updates ?step=
    page.locator(".lsv-btn", has_text="Next").click()
    page.wait_for_function("new URL(location.href).searchParams.get('step') === '18'")
    url = page.url
    assert "digit=42" in url and "/explorer" in url
    # and that link, opened in a new tab, shows step 18 of digit 42
    other = page.context.new_page()
    other.goto(url)
    other.get_by_text(re.compile(r"Test digit #42\b")).first.wait_for()
    other.wait_for_function(f"({STEP_JS})() === 18")
    other.close()


def test_hidden_page_is_absent_from_the_navigation(page, server):
    page.goto(f"{server}/?hide=train,upload")
    nav = page.locator(".st-key-app_menu")
    nav.get_by_role("link", name="Step-through explorer").wait_for()
    assert nav.get_by_role("link", name="Train a model").count() == 0
    assert nav.get_by_role("link", name="Guided lesson").count() == 1
    assert page.get_by_text("Upload a model").count() == 0
    nav.get_by_role("link", name="Draw a digit").click()  # the setting sticks while the class navigates
    page.get_by_role("heading", name=re.compile("Draw a digit")).first.wait_for()
    assert page.locator(".st-key-app_menu").get_by_role("link", name="Train a model").count() == 0
