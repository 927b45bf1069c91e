"""MNIST loading: the folder rules, the in-memory tensors, the message when it is missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lstmviz.data import (
    ENV_VAR,
    RAW_FILES,
    DataUnavailableError,
    Split,
    load_mnist,
    load_split,
    resolve_data_dir,
)

ROOT = Path(__file__).resolve().parent.parent


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Every path under `folder` with its size and mtime: any write shows up."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def offline(monkeypatch):
    """Make torchvision's download fail at once (connection refused), even on a machine with internet."""
    from torchvision.datasets import MNIST

    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/mnist/"])


def test_load_from_env_var_without_writing(data_dir, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(data_dir))
    before = _listing(data_dir)
    test = load_split(False)
    assert _listing(data_dir) == before  # no caches, no processed/ folder, nothing
    assert test.images.shape == (10000, 28, 28) and test.labels.shape == (10000,)
    assert len(test) == 10000
    # The classic first test digit is a 7; its ink is in the middle of the frame.
    assert int(test.labels[0]) == 7
    assert float(test.images[0, 10:20, 10:20].mean()) > float(test.images[0, :3].mean())


def test_splits_in_memory(train_split, test_split):
    assert train_split.images.shape == (60000, 28, 28) and train_split.labels.shape == (60000,)
    for split in (train_split, test_split):
        assert isinstance(split, Split)
        assert type(split.images) is torch.Tensor and split.images.is_contiguous()
        assert split.images.dtype == torch.float32 and split.labels.dtype == torch.int64
        assert float(split.images.min()) == 0.0 and float(split.images.max()) == 1.0
        assert sorted(split.labels.unique().tolist()) == list(range(10))
    # Not the same images: train and test are different files.
    assert not torch.equal(train_split.images[:10], test_split.images[:10])


def test_subset(test_split):
    sub = test_split.subset(100)
    assert len(sub) == 100 and sub.images.shape == (100, 28, 28)
    assert torch.equal(sub.images, test_split.images[:100]) and torch.equal(sub.labels, test_split.labels[:100])
    assert test_split.subset(None) is test_split and test_split.subset(10**6) is test_split


def test_data_dir_precedence(tmp_path, monkeypatch):
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    monkeypatch.setenv(ENV_VAR, str(env))
    assert resolve_data_dir(explicit) == explicit
    assert resolve_data_dir(str(explicit)) == explicit
    assert resolve_data_dir() == env
    assert resolve_data_dir(None) == env
    monkeypatch.delenv(ENV_VAR)
    assert resolve_data_dir() == Path("data")
    monkeypatch.setenv(ENV_VAR, "")
    assert resolve_data_dir() == Path("data")


def test_explicit_dir_is_the_one_loaded(data_dir, tmp_path, monkeypatch, offline):
    # The env var points at the real data, but an explicit empty folder wins: so loading fails there.
    monkeypatch.setenv(ENV_VAR, str(data_dir))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataUnavailableError) as err:
        load_split(False, empty)
    assert str(empty) in str(err.value)
    # And the env var wins over ./data: from a folder without data/, the env var's data loads.
    monkeypatch.chdir(tmp_path)
    assert len(load_split(False)) == 10000


def test_default_dir_is_cwd_data(tmp_path, monkeypatch, offline):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataUnavailableError) as err:
        load_split(False)
    assert "'data'" in str(err.value)
    assert not (tmp_path / "data").exists()  # the failed download left nothing behind


def _check_message(text: str, root: Path) -> None:
    assert ENV_VAR in text
    assert "--data-dir" in text
    for name in RAW_FILES:
        assert f"{root}/MNIST/raw/{name}" in text
    assert "Traceback" not in text


@pytest.mark.parametrize("download", [True, False])
def test_missing_data_gives_clear_error(tmp_path, offline, download):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    with pytest.raises(DataUnavailableError) as err:
        load_split(True, empty, download=download)
    _check_message(str(err.value), empty)
    assert err.value.__cause__ is None and err.value.__suppress_context__  # raised `from None`
    assert list(empty.iterdir()) == []  # no MNIST/raw skeleton left behind


def test_missing_folder_is_not_created(tmp_path, offline):
    missing = tmp_path / "a" / "b"
    with pytest.raises(DataUnavailableError) as err:
        load_mnist(missing)
    _check_message(str(err.value), missing)
    assert list(tmp_path.iterdir()) == []


def test_real_offline_download_fails_quickly(tmp_path):
    """Without the mirrors patched: offline, torchvision's own download fails and we explain it."""
    import time

    start = time.monotonic()
    try:
        load_split(False, tmp_path)
    except DataUnavailableError as exc:
        _check_message(str(exc), tmp_path)
    else:  # pragma: no cover - a machine with internet downloads it
        pytest.skip("online: torchvision downloaded MNIST")
    assert time.monotonic() - start < 30, "the failing download attempt took more than 30 s"


def test_half_present_data_is_reported(tmp_path, offline):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"\x00" * 16)
    with pytest.raises(DataUnavailableError):
        load_split(False, tmp_path)
    assert raw.exists()  # an existing folder is never removed


def test_cli_missing_data_exits_2_without_traceback(tmp_path):
    missing = tmp_path / "nonexistent"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop(ENV_VAR, None)
    proc = subprocess.run(
        [sys.executable, "-m", "lstmviz", "train", "--dry-run", "--data-dir", str(missing)],  # evaluate: the sample
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    _check_message(proc.stderr, missing)
    assert not missing.exists()


def test_idx_files_read_with_numpy_match_torchvision(data_dir):
    """The numpy reader gives torchvision's arrays, and torchvision is not even imported to read them."""
    code = (
        "import sys; from lstmviz.data import load_split; s = load_split(False, sys.argv[1]); "
        "print(len(s), 'torchvision' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(data_dir)], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == ["10000", "False"], out.stderr
    from torchvision.datasets import MNIST

    ours, theirs = load_split(False, data_dir), MNIST(str(data_dir), train=False)
    assert torch.equal(ours.images, theirs.data.to(torch.float32).div_(255.0))
    assert torch.equal(ours.labels, theirs.targets)


@pytest.mark.parametrize("damage", ["truncated", "magic", "labels"])
def test_damaged_idx_file_is_a_clear_message(data_dir, tmp_path, damage):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in RAW_FILES[2:]:
        (raw / name).write_bytes((data_dir / "MNIST" / "raw" / name).read_bytes())
    images, labels = raw / RAW_FILES[2], raw / RAW_FILES[3]
    if damage == "truncated":
        images.write_bytes(images.read_bytes()[:-100])
    elif damage == "magic":
        images.write_bytes(b"\x00\x00\x0d\x03" + images.read_bytes()[4:])  # float, not unsigned bytes
    else:
        labels.write_bytes(labels.read_bytes()[:-1] + b"\x0b")  # a label of 11
    with pytest.raises(DataUnavailableError) as err:
        load_split(False, tmp_path, download=False)
    _check_message(str(err.value), tmp_path)


def test_offline_fallback_never_imports_torchvision(tmp_path):
    """Offline (here: MNIST's mirrors refuse the connection), the missing test set falls back to the bundled
    sample at once: torchvision is not imported and nothing is written."""
    code = (
        "import sys, time; import lstmviz.data as d; d.MIRRORS = (('127.0.0.1', 9),); t = time.monotonic(); "
        "s, note = d.load_test_or_sample(sys.argv[1]); "
        "print(s.source, 'torchvision' in sys.modules, time.monotonic() - t < 5)"
    )
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.stdout.split()[:3] == ["sample", "False", "True"], out.stderr
    assert list(tmp_path.iterdir()) == []
