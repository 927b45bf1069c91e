"""The truncation page's text: each mode explained once, one word ("rows read") for k, on a finished page."""

from __future__ import annotations

from test_app_truncation import model_and_page, wait_for_figures  # noqa: F401 (a fixture)

EXPLAINED = {"notebook": "moved to the **end**", "early": "answers **at once**", "occlusion": "are **blanked**"}


def page_text(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption])


def test_each_mode_is_explained_once_and_k_is_rows_read(model_and_page):  # noqa: F811 (the fixture)
    _, _, at = model_and_page
    wait_for_figures(at, timeout=600)  # a small model; minutes only on a crowded machine
    for mode in ("notebook", "early", "occlusion"):
        at.radio(key="trunc_mode").set_value(mode).run()
        text = page_text(at)
        for m, words in EXPLAINED.items():
            assert text.count(words) == 1, (mode, m, text.count(words))
        assert "fed" not in text.lower()
    assert at.slider(key="trunc_k").label == "Rows read (k)"
