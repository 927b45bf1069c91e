"""Browser test: on a freshly started server the sidebar never lists the files of pages/ (issue 16.7).

Streamlit treats an app with a `pages/` folder beside its main script as an old-style multipage app until
`st.navigation` has run once, and lists the page files ("app, cells, draw, ...") in the sidebar meanwhile.
.streamlit/config.toml hides that list (client.showSidebarNavigation = false) and app.py draws the menu.
A script recorded from the very first paint collects every text shown in the sidebar.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
TITLES = [
    "Guided lesson",
    "Home",
    "Step-through explorer",
    "Draw a digit",
    "Truncation",
    "Hidden-state space",
    "Neuron explorer",
    "Cell comparison",
    "Train a model",
]
# names Streamlit gives the files of pages/ ("state_space.py" -> "state space"), except those equal to a title
FILE_NAMES = ({p.stem.replace("_", " ").lower() for p in (ROOT / "pages").glob("*.py")} | {"app"}) - {
    t.lower() for t in TITLES
}

RECORDER = """
window.__sidebarTexts = [];
const record = () => {
  const bar = document.querySelector('[data-testid="stSidebar"]');
  if (!bar) return;
  const text = e => {  // the visible words, without the icons (Material icons are ligature text: "draw")
    const copy = e.cloneNode(true);
    copy.querySelectorAll('[data-testid="stIconMaterial"], [data-testid*="Icon"]').forEach(i => i.remove());
    return copy.textContent.trim();
  };
  const items = [...bar.querySelectorAll('a, li')].map(text);
  const nav = bar.querySelector('[data-testid="stSidebarNav"]') ? ["<streamlit page list>"] : [];
  window.__sidebarTexts.push(items.concat(nav));
};
new MutationObserver(record).observe(document, {subtree: true, childList: true, characterData: true});
"""


def test_sidebar_never_lists_page_files(server, browser):
    """`server` is a fresh `streamlit run` for this module (conftest.py): this test makes its first page request."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.add_init_script(RECORDER)
        page.goto(server)  # the first visit of a fresh server
        menu = page.locator('[data-testid="stSidebar"] a', has_text="Step-through explorer")
        menu.first.wait_for()
        page.get_by_text("An LSTM reads a digit").first.wait_for()
        snapshots = page.evaluate("window.__sidebarTexts")
        shown = [t for t in page.locator('[data-testid="stSidebar"] a').all_inner_texts()]
    finally:
        context.close()
    assert snapshots, "the sidebar was never seen"
    names = {line.strip().lower() for items in snapshots for text in items for line in text.splitlines()}
    assert not names & FILE_NAMES, f"page files listed in the sidebar: {sorted(names & FILE_NAMES)}"
    assert "<streamlit page list>" not in names, "Streamlit's own page list was shown"
    for title in TITLES:  # and the menu app.py draws is there, with the pages' titles
        assert any(title in text for text in shown), title
