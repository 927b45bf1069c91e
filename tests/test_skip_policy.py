"""The skip policy of conftest.py: a skip outside ALLOWED_SKIPS (node id and reason) fails the run, and
the browser tests fail instead of skipping under CI=true when Chromium is missing.

Each case runs pytest in a subprocess on a scratch project that uses this very conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
SERVING = Path(__file__).with_name("serving.py")
ROOT = CONFTEST.parent.parent


def run_project(tmp_path: Path, files: dict[str, str], ci: str | None = None, chromium: str | None = None):
    """pytest on tmp_path/tests holding these test files, our conftest and its serving helpers (with the Chromium
    path replaced when `chromium` is given); -> (exit code, output)."""
    tests = tmp_path / "tests"
    tests.mkdir()
    serving = SERVING.read_text()
    if chromium is not None:
        assert serving.count('"/usr/bin/chromium"') == 1
        serving = serving.replace('"/usr/bin/chromium"', repr(chromium))
    (tests / "serving.py").write_text(serving)
    (tests / "conftest.py").write_text(CONFTEST.read_text())
    for name, text in files.items():
        (tests / name).write_text(text)
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\naddopts = -rs -p no:cacheprovider\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-m", "pytest"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    return proc.returncode, proc.stdout + proc.stderr


SKIPS = """
import pytest

def test_passes():
    assert True

def test_real_offline_download_fails_quickly():
    pytest.skip(REASON)
"""
ONLINE = '"online: torchvision downloaded MNIST"'  # the allow-listed reason of test_data.py's skip


def test_an_allowed_skip_passes(tmp_path):
    code, out = run_project(tmp_path, {"test_data.py": SKIPS.replace("REASON", ONLINE)})
    assert code == 0, out
    assert "1 passed, 1 skipped" in out and "not in ALLOWED_SKIPS" not in out


def test_a_skip_outside_the_list_fails_the_run(tmp_path):
    code, out = run_project(tmp_path, {"test_other.py": SKIPS.replace("REASON", ONLINE)})
    assert code == pytest.ExitCode.TESTS_FAILED, out
    assert "not in ALLOWED_SKIPS" in out and "tests/test_other.py::test_real_offline_download_fails_quickly" in out


def test_a_listed_test_skipped_for_another_reason_fails_the_run(tmp_path):
    code, out = run_project(tmp_path, {"test_data.py": SKIPS.replace("REASON", '"the data looked odd"')})
    assert code == pytest.ExitCode.TESTS_FAILED, out
    assert "the data looked odd" in out


def test_skip_markers_xfails_and_skipped_modules_count_too(tmp_path):
    files = {
        "test_marked.py": "import pytest\n\n@pytest.mark.skip(reason='later')\ndef test_a():\n    pass\n",
        "test_xfail.py": "import pytest\n\n@pytest.mark.xfail(reason='known')\ndef test_b():\n    assert False\n",
        "test_module.py": "import pytest\n\npytest.skip('whole module', allow_module_level=True)\n",
    }
    code, out = run_project(tmp_path, files)
    assert code == pytest.ExitCode.TESTS_FAILED, out
    for name in ("tests/test_marked.py::test_a", "tests/test_xfail.py::test_b", "tests/test_module.py"):
        assert name in out.split("not in ALLOWED_SKIPS")[1], name


BROWSER = """
def test_uses_chromium(browser):
    assert browser is not None
"""


@pytest.mark.parametrize(("ci", "expected"), [(None, 0), ("true", 1)])
def test_a_missing_chromium_skips_outside_ci_and_fails_under_ci(tmp_path, ci, expected):
    code, out = run_project(tmp_path, {"test_browser_x.py": BROWSER}, ci=ci, chromium=str(tmp_path / "no-chromium"))
    assert code == expected, out
    if ci:
        assert "CI=true: the browser tests must run" in out and "1 error" in out
    else:
        assert "1 skipped" in out and "no-chromium is missing" in out
