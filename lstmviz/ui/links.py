"""Links that reopen a view: page state <-> `st.query_params`, the teacher's `?hide=`, "Copy link to this view".

app.py calls `prepare(pages)` before building the navigation (restores `model`, applies `hide`);
each page calls `sync(page, {param: Param(widget key, parser)})` at the top, before its widgets:
on the page's first run in a session the link's values are put into `st.session_state` (bad ones
are ignored with a small note), then the URL is kept up to date with the widgets' values on every
run and a "Link to this view" box appears in the sidebar.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import streamlit as st

from .. import links
from ..links import Param
from ..registry import list_models
from .common import MODEL_KEY

HIDE_KEY = "links_hide"  # set of hidden page / control names (sticks for the session)
RESTORED_KEY = "links_restored"  # pages whose link has been applied in this session
START_KEY = "links_start"  # (page, step, restored values) from a link: the step-through's first step for that digit
PENDING_NOTES_KEY = "links_notes"

__all__ = ["Param", "current_url", "hidden", "link_start", "prepare", "publish", "restore", "sync"]


def _query() -> dict[str, str]:
    return {k: st.query_params.get(k) for k in st.query_params}


def _notes(notes: list[str]) -> None:
    for note in notes:
        st.toast(f"Link: {note}", icon=":material/link_off:")


def hidden(name: str) -> bool:
    """True when the teacher's link hid this page or control (`?hide=train,upload`)."""
    return name in st.session_state.get(HIDE_KEY, set())


def _url_path(page) -> str:
    return getattr(page, "url_path", "") or "home"


def prepare(pages: dict[str, list]) -> dict[str, list]:
    """Before `st.navigation`: apply `?hide=` (sticky) and `?model=` (first run of the session);
    returns the navigation without the hidden pages (the default page is never hidden)."""
    query = _query()
    notes: list[str] = []
    if links.HIDE_PARAM in query:
        names, notes = links.parse_hide(query[links.HIDE_PARAM])
        st.session_state[HIDE_KEY] = set(st.session_state.get(HIDE_KEY, set())) | names
    if links.MODEL_PARAM in query and not st.session_state.get("links_model_done"):
        valid = [m for m in list_models() if m.valid]
        name, model_notes = links.parse_model(query[links.MODEL_PARAM], [m.path.name for m in valid])
        notes += model_notes
        if name is not None:
            st.session_state[MODEL_KEY] = str(next(m.path for m in valid if m.path.name == name))
    st.session_state["links_model_done"] = True
    _notes(notes)
    hide = st.session_state.get(HIDE_KEY, set())
    out = {}
    for section, items in pages.items():
        kept = [p for p in items if getattr(p, "_default", False) or _url_path(p) not in hide]
        if kept:
            out[section] = kept
    return out


def _shared_params() -> dict[str, str]:
    params = {}
    path = st.session_state.get(MODEL_KEY)
    if path:
        params[links.MODEL_PARAM] = Path(path).name
    hide = st.session_state.get(HIDE_KEY)
    if hide:
        params[links.HIDE_PARAM] = ",".join(sorted(hide))
    return params


def sync(page: str, n_test: int = 10_000, hidden_size: int = 512) -> dict[str, str]:
    """Restore this page's state from the link on its first run in the session, then keep the URL
    up to date and show "Link to this view". The parameters are `lstmviz.links.page_params(page)`
    (n_test, hidden_size: the bounds of digit and unit indices); a step-through page's `step` is
    returned by `link_start`. Returns the link's parameters.

    A page whose link carries a value known only after its widgets ran (the draw page's drawing)
    calls `restore` before its widgets and `publish` after them instead."""
    restore(page, n_test, hidden_size)
    return publish(page, n_test, hidden_size)


def restore(page: str, n_test: int = 10_000, hidden_size: int = 512) -> None:
    """On the page's first run in the session: the link's values into `st.session_state` (bad ones
    ignored with a note). Call before the page's widgets."""
    restored = st.session_state.setdefault(RESTORED_KEY, set())
    if page in restored:
        return
    restored.add(page)
    spec = links.page_params(page, n_test=n_test, hidden_size=hidden_size)
    step = links.STEP_PAGES.get(page)
    query = _query()
    values, notes = links.parse_params(query, spec)
    for key, value in values.items():
        st.session_state[key] = value
    if step is not None and links.STEP_PARAM in query:
        start, step_notes = links.parse_params(query, {links.STEP_PARAM: Param(START_KEY, step)})
        notes += step_notes
        if START_KEY in start:
            st.session_state[START_KEY] = (page, start[START_KEY], values)
    _notes(notes)


def publish(page: str, n_test: int = 10_000, hidden_size: int = 512) -> dict[str, str]:
    """The page's state -> the address bar and the sidebar's "Link to this view"; returns the parameters."""
    spec = links.page_params(page, n_test=n_test, hidden_size=hidden_size)
    query = _query()
    params = links.to_query(st.session_state, spec)
    if links.STEP_PAGES.get(page) is not None and links.STEP_PARAM in query:
        params[links.STEP_PARAM] = query[links.STEP_PARAM]  # kept up to date by the browser component
    params.update(_shared_params())
    if query != params:
        st.query_params.from_dict(params)
    _link_box(page, params)
    return params


def link_start(page: str) -> int | None:
    """The step the link asked this page's step-through to open at, while the view is still the one
    the link restored (same digit etc.); None: the page's default."""
    value = st.session_state.get(START_KEY)
    if not (isinstance(value, tuple) and value[0] == page):
        return None
    _, step, values = value
    return step if all(st.session_state.get(k) == v for k, v in values.items()) else None


def current_url(page: str, params: Mapping[str, str]) -> str:
    """The absolute link when the server knows its own URL (`st.context.url`), else the relative one."""
    relative = links.view_url(page, params)
    try:
        base = st.context.url
    except Exception:  # noqa: BLE001  (older Streamlit, or no browser session: AppTest)
        base = None
    return links.absolute_url(base, relative)


def _link_box(page: str, params: Mapping[str, str]) -> None:
    # A popover, not an expander: its content (the code box and its 1.5 MB highlighter script) is drawn only when
    # opened, not on every first page load.
    with st.sidebar.popover("Link to this view", icon=":material/link:", width="stretch"):
        st.code(current_url(page, params), language=None, wrap_lines=True)
        st.caption(
            "Copy it with the button on the right: opening it (even on a fresh server) restores this view. "
            "The address bar always holds the same link. Add `&hide=train,upload` to hide pages or the model "
            "upload for a class."
        )
