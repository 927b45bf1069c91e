"""The bundled MNIST sample: what it holds, the fallback when the test set is missing (app and CLI),
and that nothing is downloaded when downloads are off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_app_explorer import metrics, stepper

from lstmviz.data import (
    DOWNLOAD_ENV_VAR,
    ENV_VAR,
    SAMPLE_PATH,
    DataUnavailableError,
    load_sample,
    load_split,
    load_test_or_sample,
)

ROOT = Path(__file__).resolve().parent.parent
NOT_TRAIN = ["home", "explorer", "draw", "truncation", "state_space", "neurons", "cells"]


@pytest.fixture
def no_download(monkeypatch):
    """Downloads off, and any attempt by torchvision fails the test."""
    from torchvision.datasets import MNIST

    def refuse(self):
        raise AssertionError("a download was attempted")

    monkeypatch.setenv(DOWNLOAD_ENV_VAR, "0")
    monkeypatch.setattr(MNIST, "download", refuse)


def test_sample_is_the_first_2000_test_digits(test_split):
    assert SAMPLE_PATH.stat().st_size < 2 * 2**20
    readme = (SAMPLE_PATH.parent / "README.md").read_text()
    assert "CC BY-SA 3.0" in readme and "LeCun" in readme and "Cortes" in readme
    sample = load_sample()
    assert len(sample) == 2000 and sample.is_sample and sample.describe() == "bundled sample (2,000)"
    assert sample.images.dtype == torch.float32 and sample.labels.dtype == torch.int64
    assert torch.equal(sample.images, test_split.images[:2000])  # exact: uint8 grey levels / 255
    assert torch.equal(sample.labels, test_split.labels[:2000])
    assert test_split.describe() == "test (10,000)"


def test_fallback_to_the_sample_without_download(tmp_path, no_download):
    split, note = load_test_or_sample(tmp_path)
    assert split.is_sample and len(split) == 2000
    assert "--data-dir" in note and ENV_VAR in note and "2,000" in note
    with pytest.raises(DataUnavailableError):  # load_split itself still says the data is missing
        load_split(False, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_real_data_is_preferred(data_dir, no_download):
    split, note = load_test_or_sample(data_dir)
    assert note is None and not split.is_sample and len(split) == 10000


def _cli(*args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", **{DOWNLOAD_ENV_VAR: "0"})
    env.pop(ENV_VAR, None)
    if data_dir is not None:
        env[ENV_VAR] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "lstmviz", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_cli_names_the_set_it_used(tmp_path, data_dir, tiny_checkpoint):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _cli("evaluate", "--checkpoint", str(tiny_checkpoint), "--json", data_dir=empty)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["data"] == "bundled sample (2,000)" and out["n"] == 2000
    assert "bundled sample" in proc.stderr and "--data-dir" in proc.stderr and "Traceback" not in proc.stderr
    proc = _cli("evaluate", "--checkpoint", str(tiny_checkpoint), "--json", data_dir=data_dir)
    assert json.loads(proc.stdout)["data"] == "test (10,000)"
    proc = _cli(
        "truncation",
        "--checkpoint",
        str(tiny_checkpoint),
        "--json",
        "--n",
        "50",
        "--mode",
        "early",
        "--no-cache",
        data_dir=empty,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["data"] == "first 50 of bundled sample (2,000)" and out["n"] == 50
    proc = _cli(
        "truncation", "--checkpoint", str(tiny_checkpoint), "--json", "--mode", "early", "--no-cache", data_dir=empty
    )
    assert json.loads(proc.stdout)["data"] == "bundled sample (2,000)"


def test_train_without_data_still_exits_2(tmp_path):
    proc = _cli("train", "--dry-run", "--data-dir", str(tmp_path / "none"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "--data-dir" in proc.stderr and ENV_VAR in proc.stderr


@pytest.fixture
def no_data_app(tmp_path, monkeypatch, no_download, app):
    empty = tmp_path / "no-mnist"
    empty.mkdir()
    monkeypatch.setenv(ENV_VAR, str(empty))
    return app


def test_explorer_shows_a_digit_with_no_data(no_data_app, open_page):
    at = open_page("pages/explorer.py")
    assert not at.exception and not at.error, [e.value for e in at.error]
    notes = " ".join(i.value for i in at.info)
    assert "bundled sample" in notes and "--data-dir" in notes and ENV_VAR in notes
    summary = metrics(at)
    assert summary["Test digit"] == "#0" and summary["True label"] == "7"  # the first test digit
    payload = stepper(at)  # the step-through received the digit's trace
    assert payload["label"] == 7 and payload["n_steps"] == 28


@pytest.mark.parametrize("page", NOT_TRAIN)
def test_every_page_but_train_works_on_the_sample(no_data_app, open_page, page):
    at = open_page(f"pages/{page}.py")
    for _ in range(60):  # pages with a background job: wait for it
        if not at.get("progress"):
            break
        import time

        time.sleep(2)
        at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    if page != "draw":  # draw reads the canvas, not the test set
        assert any("bundled sample" in i.value for i in at.info), page


def test_digits_are_the_split_without_torch(data_dir):
    """The numpy Digits a first page reads are the torch Split's values and memory, with the same data key."""
    from lstmviz.data import MNIST_TEST_KEY, read_arrays, sample_digits, test_digits_or_sample
    from lstmviz.truncation import split_key

    digits, note = test_digits_or_sample(data_dir)
    assert note is None and len(digits) == 10_000 and digits.describe() == "test (10,000)"
    split = digits.split()
    assert np.shares_memory(split.images.numpy(), digits.images)
    assert split_key(digits) == split_key(split) == MNIST_TEST_KEY
    raw, labels = read_arrays(False, data_dir)  # torch's own uint8 -> [0, 1]
    assert torch.equal(split.images, torch.from_numpy(raw.copy()).to(torch.float32).div_(255.0))
    assert np.array_equal(digits.labels, labels.astype(np.int64))
    sample = sample_digits()
    assert sample.is_sample and np.array_equal(sample.images, digits.images[:2000])


FIRST_RUN = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
if sys.argv[2] != "home":  # the default page
    at.switch_page(f"pages/{sys.argv[2]}.py")
at.run()
print(json.dumps({
    "torch": sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")),
    "exceptions": [str(e.value) for e in at.exception],
    "errors": [str(e.value) for e in at.error],
    "info": [str(i.value) for i in at.info],
    "captions": [str(c.value) for c in at.caption],
    "metrics": [m.value for m in at.metric],
    "charts": len(at.get("plotly_chart")),
}))
"""


def _first_run(page: str, data_dir: Path, home: Path) -> dict:
    """One page as a fresh server's first script run, in a fresh Python process: what it showed and loaded."""
    env = dict(os.environ, OMP_NUM_THREADS="1", HOME=str(home), **{DOWNLOAD_ENV_VAR: "0", ENV_VAR: str(data_dir)})
    env.pop("LSTMVIZ_CACHE_DIR", None)
    run = subprocess.run(
        [sys.executable, "-c", FIRST_RUN, str(ROOT / "app.py"), page],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    shown = json.loads(run.stdout.strip().splitlines()[-1])
    assert not shown["exceptions"] and not shown["errors"], shown
    return shown


@pytest.mark.parametrize("data", ["mnist", "none"])
def test_truncation_first_page_imports_no_torch(tmp_path, data_dir, data):
    """A fresh server whose first page is Truncation draws the shipped model's curves without importing torch
    (about 1.5 s of CPU): the model's identity is read from its file, the curves from models/precomputed, the
    digits with numpy. Its figures are those the torch path computes."""
    from lstmviz.checkpoint import DEFAULT_CHECKPOINT
    from lstmviz.truncation import MODES, PUBLISHED, cached_truncation

    page = _first_run("truncation", data_dir if data == "mnist" else tmp_path / "empty", tmp_path)
    assert page["torch"] == [], page["torch"][:5]
    assert page["charts"] == 2  # the curves and the open tab's chart
    full = cached_truncation(DEFAULT_CHECKPOINT, load_split(False, data_dir))
    k = PUBLISHED[0]
    assert page["metrics"][: len(MODES)] == [f"{full.accuracy[m][k - 1]:.2%}" for m in MODES]
    sample_notes = [i for i in page["info"] if "bundled sample" in i]
    assert bool(sample_notes) == (data == "none")
    assert any("full test set's (10,000 digits" in c for c in page["captions"]) == (data == "none")


def test_home_first_page_imports_no_torch(tmp_path):
    """Home, the page a plain link opens, shows the shipped model's accuracy, shape and size and the first test
    digits without importing torch too (here on the bundled sample)."""
    from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint

    page = _first_run("home", tmp_path / "empty", tmp_path)
    assert page["torch"] == [], page["torch"][:5]
    loaded = load_checkpoint(DEFAULT_CHECKPOINT)
    assert page["metrics"] == [
        f"{loaded.metrics['test_accuracy']:.2%}",
        loaded.config.cell.upper(),
        str(loaded.config.num_layers),
        str(loaded.config.hidden_size),
        f"{loaded.model.n_params():,}",
    ]
    assert page["charts"] == 1 and any("bundled sample" in i for i in page["info"])
