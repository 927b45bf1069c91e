"""Shared fixtures: the MNIST folder, small models, a fresh AppTest, a streamlit server and Chromium.

A skipped test fails the run unless it is on the allow-list ALLOWED_SKIPS, by node id and reason:
a test that silently stops running is a test that cannot fail.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

import pytest
import torch
from serving import CHROMIUM, CHROMIUM_ARGS, free_port, stop, streamlit_command, wait_healthy  # noqa: F401

from lstmviz.checkpoint import save_checkpoint
from lstmviz.data import ENV_VAR, load_split, resolve_data_dir
from lstmviz.model import ModelConfig, build_model

ROOT = Path(__file__).resolve().parent.parent
SHARED_MNIST = ROOT.parent / "shared" / "mnist"

if not os.environ.get(ENV_VAR) and SHARED_MNIST.exists():
    os.environ[ENV_VAR] = str(SHARED_MNIST)

torch.set_num_threads(min(2, torch.get_num_threads()))

# The only skips a run may have: node-id pattern (fnmatch) -> text the skip's reason must contain, with a
# comment saying why that skip is acceptable. Any other skip (or xfail) makes the run fail.
ALLOWED_SKIPS: dict[str, str] = {
    # checks the message when the MNIST download fails: a machine with internet downloads MNIST instead
    "tests/test_data.py::test_real_offline_download_fails_quickly": "online: torchvision downloaded MNIST",
    # outside CI a machine without Debian's chromium skips these; under CI=true the browser fixture fails instead
    "tests/test_browser_*.py::*": f"{CHROMIUM} is missing",
}

_unexpected_skips: list[tuple[str, str]] = []


def skip_allowed(nodeid: str, reason: str) -> bool:
    """Whether a skip of this test for this reason is on the allow-list."""
    return any(fnmatch.fnmatchcase(nodeid, pattern) and text in reason for pattern, text in ALLOWED_SKIPS.items())


def _note_skip(report) -> None:
    if not report.skipped:
        return
    if hasattr(report, "wasxfail"):
        reason = f"xfail: {report.wasxfail}"
    else:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if not skip_allowed(report.nodeid, reason):
        _unexpected_skips.append((report.nodeid, reason))


def pytest_runtest_logreport(report) -> None:
    _note_skip(report)


def pytest_collectreport(report) -> None:
    _note_skip(report)  # a module skipped as a whole


def pytest_sessionfinish(session, exitstatus) -> None:
    if _unexpected_skips and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _unexpected_skips:
        terminalreporter.section("skipped tests not in ALLOWED_SKIPS (tests/conftest.py): the run fails", red=True)
        for nodeid, reason in _unexpected_skips:
            terminalreporter.line(f"{nodeid}: {reason}")


def in_ci() -> bool:
    """CI=true (set by CI services; .ci/run sets it too): missing tools fail the run instead of skipping."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session", autouse=True)
def _private_user_folders(tmp_path_factory):
    """User models and caches go to a temp folder: tests never write into the home folder."""
    for var in ("LSTMVIZ_MODELS_DIR", "LSTMVIZ_CACHE_DIR"):
        os.environ[var] = str(tmp_path_factory.mktemp(var.lower()))
    yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = resolve_data_dir()
    if not (root / "MNIST" / "raw" / "t10k-images-idx3-ubyte").exists():
        pytest.fail(f"MNIST not found in {root}; set {ENV_VAR} (CI uses ../shared/mnist)")
    return root


@pytest.fixture(scope="session")
def test_split(data_dir):
    return load_split(False, data_dir)


@pytest.fixture(scope="session")
def train_split(data_dir):
    return load_split(True, data_dir)


@pytest.fixture
def tiny_model():
    """An untrained LSTM with a small hidden size (fast, deterministic)."""
    return build_model(ModelConfig(hidden_size=16, embed_size=16), seed=0)


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_model) -> Path:
    return save_checkpoint(tmp_path / "tiny.safetensors", tiny_model, {"test_accuracy": 0.1})


@pytest.fixture
def app():
    """A fresh AppTest of app.py with Streamlit's caches cleared."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    yield at
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def open_page(app):
    """Open one page of the app (through app.py) with a model selected: the shipped default."""
    from lstmviz.checkpoint import DEFAULT_CHECKPOINT
    from lstmviz.ui.common import MODEL_KEY

    def _open(page: str, model: str | Path | None = None):
        app.session_state[MODEL_KEY] = str(model or DEFAULT_CHECKPOINT)
        app.run()
        app.switch_page(page).run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    return _open


# ---------------------------------------------------------------- browser tests: a real server and Chromium


@pytest.fixture(scope="module")
def server(data_dir, tmp_path_factory):
    """A fresh `streamlit run app.py` on a free 127.0.0.1 port for each test module; yields its base URL.

    Only /_stcore/health is requested before the URL is handed over: no page has been opened yet.
    """
    port = free_port()
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ, **{ENV_VAR: str(data_dir)}, OMP_NUM_THREADS="1", HOME=str(home))
    log = open(home / "streamlit.log", "w")
    proc = subprocess.Popen(streamlit_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through Playwright; skipped without it, except under CI=true where it fails."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (install Debian's chromium: apt-get install chromium)"
        if in_ci():
            pytest.fail(f"CI=true: the browser tests must run, but {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A tab of a new browser context at the classroom projector's 1440x900, closed after the test (a module may
    define its own `page`, e.g. one that accepts downloads)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(180_000)
    yield pg
    context.close()
