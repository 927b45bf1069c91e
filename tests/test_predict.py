"""`python -m lstmviz predict`: files and folders, one JSON line per image, bad files get error lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lstmviz.predict import expand_paths, predict_paths

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def image_folder(tmp_path, test_split) -> tuple[Path, dict[str, int]]:
    """Test digits saved as files of various sizes, modes and polarities, plus a blank and a non-image."""
    folder = tmp_path / "digits"
    (folder / "nested").mkdir(parents=True)
    labels = {}
    for i in range(4):
        img = (test_split.images[i].numpy() * 255).astype(np.uint8)  # light on dark
        label = int(test_split.labels[i])
        if i == 0:
            path, pic = folder / "scan.png", Image.fromarray(255 - img).resize((300, 260))  # dark on light, grey
        elif i == 1:
            path, pic = folder / "photo.JPG", Image.fromarray(img).convert("RGB").resize((100, 140))
        elif i == 2:
            rgba = np.zeros((28, 28, 4), np.uint8)
            rgba[..., :3], rgba[..., 3] = 255, img  # white ink on a transparent background
            path, pic = folder / "nested" / "transparent.png", Image.fromarray(rgba, "RGBA").resize((56, 56))
        else:
            path, pic = folder / "nested" / "deep.jpeg", Image.fromarray(img)
        pic.save(path)
        labels[path.name] = label
    Image.new("L", (64, 64), 255).save(folder / "blank.png")
    (folder / "not-an-image.png").write_text("just text")
    (folder / "notes.txt").write_text("ignored: not PNG/JPEG")
    return folder, labels


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "lstmviz", "predict", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_expand_paths_recurses_into_folders_for_png_and_jpeg_only(image_folder):
    folder, labels = image_folder
    names = sorted(p.name for p in expand_paths([folder]))
    assert names == sorted([*labels, "blank.png", "not-an-image.png"])
    assert [p.name for p in expand_paths([folder / "notes.txt"])] == ["notes.txt"]  # a file named explicitly is kept


def test_predict_paths_keeps_going_after_bad_files(image_folder, tiny_model):
    folder, labels = image_folder
    rows = list(predict_paths(tiny_model, [folder / "not-an-image.png", folder, folder / "missing.png"]))
    by_name = {Path(r["path"]).name: r for r in rows}
    assert rows[0]["path"].endswith("not-an-image.png") and "not a PNG or JPEG" in rows[0]["error"]
    assert "blank" in by_name["blank.png"]["error"]
    assert "no such file" in by_name["missing.png"]["error"]
    for name in labels:
        row = by_name[name]
        assert set(row) == {"path", "label", "probabilities"}
        assert len(row["probabilities"]) == 10 and abs(sum(row["probabilities"]) - 1) < 1e-4
        assert row["label"] == int(np.argmax(row["probabilities"]))


def test_cli_json_lines_with_the_shipped_model(image_folder):
    folder, labels = image_folder
    proc = run_cli(str(folder / "nested" / "deep.jpeg"), str(folder), "--json")
    assert proc.returncode == 1, proc.stderr  # some files failed
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 1 + len(labels) + 2
    assert rows[0]["path"].endswith("deep.jpeg")
    errors = {Path(r["path"]).name: r["error"] for r in rows if "error" in r}
    assert set(errors) == {"blank.png", "not-an-image.png"}
    predicted = {Path(r["path"]).name: r["label"] for r in rows if "label" in r}
    assert predicted == labels  # the shipped model reads every test digit, whatever the file format
    assert "Traceback" not in proc.stderr


def test_cli_text_output_and_exit_status(image_folder):
    folder, labels = image_folder
    ok = run_cli(str(folder / "scan.png"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().startswith(f"{folder / 'scan.png'}: {labels['scan.png']} (")
    bad = run_cli(str(folder / "blank.png"))
    assert bad.returncode == 1 and "error:" in bad.stdout and "blank" in bad.stdout


def test_cli_bad_checkpoint_is_a_clear_error(image_folder, tmp_path):
    folder, _ = image_folder
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    proc = run_cli(str(folder), "--checkpoint", str(broken))
    assert proc.returncode == 2 and "broken.safetensors" in proc.stderr and "Traceback" not in proc.stderr
