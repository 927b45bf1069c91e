"""Hostile and unlucky files (issue 15): each case here failed, or cost the server dearly, before."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import hostile
import pytest

from lstmviz.checkpoint import CheckpointError, load_checkpoint, load_checkpoint_bytes
from lstmviz.cli import main as cli_main
from lstmviz.registry import import_upload

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent

_PROBE = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from lstmviz.checkpoint import CheckpointError
    from lstmviz.registry import import_upload
    data = Path(sys.argv[1]).read_bytes()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        import_upload(sys.argv[2], data)
        result = "accepted"
    except CheckpointError as exc:
        result = str(exc)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base
    print(json.dumps({{"result": result, "peak_mb": peak / 1024}}))
""")


def _load_in_child(tmp_path: Path, data: bytes, name: str) -> dict:
    """Upload `data` in a fresh process; its refusal message and peak memory growth (MB)."""
    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    script = _PROBE.format(tests=str(TESTS))
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), name],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_compressed_pt_zip_bomb_is_refused_before_allocating(tmp_path):
    data = hostile.zip_bomb_pt(300 * 2**20)  # 300 MB of zeros deflated into about 300 KB
    assert len(data) < 2**20
    got = _load_in_child(tmp_path, data, "bomb.pt")
    assert "compressed" in got["result"] and "bomb.pt" in got["result"]
    assert got["peak_mb"] < 100, got


def test_zip_directory_lying_about_sizes_is_refused(tmp_path):
    got = _load_in_child(tmp_path, hostile.lying_zip_sizes_pt(), "lying.pt")
    assert "refused" in got["result"] or "not a PyTorch checkpoint" in got["result"]
    assert got["peak_mb"] < 100, got


def test_legacy_pickle_asking_for_gigabytes_is_refused(tmp_path):
    got = _load_in_child(tmp_path, hostile.legacy_pickle_bomb(), "old.pt")
    assert "older than version 1.6" in got["result"]
    assert got["peak_mb"] < 100, got


@pytest.mark.parametrize("kind", list(hostile.hostile_pickles("x")))
def test_hostile_pickles_get_the_projects_own_message(tmp_path, kind):
    marker = tmp_path / "pwned"
    data = hostile.hostile_pickles(str(marker))[kind]
    name = "evil.safetensors" if "safetensors" in kind else "evil.pt"
    with pytest.raises(CheckpointError) as err:
        load_checkpoint_bytes(data, name)
    text = str(err.value)
    assert not marker.exists()
    assert "weights_only" not in text and "will likely succeed" not in text
    assert "nothing in it ran" in text and "state_dict()" in text
    # the real reason, whatever PyTorch's wording: the code it refers to
    expected = {"os.system": "system", "builtins.open": "open", "exec": "exec", "eval": "eval", "subprocess": "call"}
    assert any(word in text for key, word in expected.items() if key in kind), text


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: hostile.wrong_shape_pt(input_size=27), ["27", "28 pixels"]),
        (lambda: hostile.wrong_shape_pt(n_classes=12), ["12 output classes"]),
        (lambda: hostile.wrong_shape_pt(n_classes=1), ["1 output class;"]),
        (lambda: hostile.wrong_shape_safetensors(input_size=27), ["27", "28 pixels"]),
        (lambda: hostile.wrong_shape_safetensors(n_classes=12, with_metadata=False), ["12 output classes"]),
        (lambda: hostile.wrong_shape_safetensors(n_classes=1), ["1 output class;"]),
    ],
    ids=["pt-27-inputs", "pt-12-classes", "pt-1-class", "st-27-inputs", "st-12-classes-no-metadata", "st-1-class"],
)
def test_shapes_that_do_not_fit_the_architecture_are_refused(tmp_path, make, words, capsys):
    data = make()
    suffix = ".pt" if data[:2] == b"PK" else ".safetensors"
    with pytest.raises(CheckpointError) as err:
        import_upload("odd" + suffix, data)
    for w in words:
        assert w in str(err.value)
    path = tmp_path / ("odd" + suffix)
    path.write_bytes(data)
    digit = tmp_path / "digit.png"
    digit.write_bytes(hostile.png_bytes(28, 28))
    assert cli_main(["predict", str(digit), "--checkpoint", str(path)]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("error: ") and "Traceback" not in err_text and words[0] in err_text


def test_model_larger_than_the_app_shows_is_refused():
    data = hostile.torch_bytes(hostile.oversize_state(hidden=520))
    with pytest.raises(CheckpointError, match="hidden_size must be an integer from 16 to 512, not 520"):
        import_upload("big.pt", data)


@pytest.mark.parametrize(
    "suffix, words",
    [
        (".pt", "not a PyTorch checkpoint"),
        (".pth", "not a PyTorch checkpoint"),
        (".safetensors", "not a safetensors checkpoint"),
    ],
)
def test_a_text_file_renamed_says_what_it_is_not(tmp_path, suffix, words):
    path = tmp_path / f"notes{suffix}"
    path.write_text("These are my lecture notes about LSTMs.\n" * 20)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert words in str(err.value)
    assert "pop from empty list" not in str(err.value) and "header too large" not in str(err.value)


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_special_files_are_refused_as_checkpoints(tmp_path, special):
    import os

    path = Path(special)
    if special == "fifo":
        path = tmp_path / "pipe.safetensors"
        os.mkfifo(path)
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_checkpoint(path)


# --- images -------------------------------------------------------------------------------------


def _digit_picture():
    import numpy as np
    from PIL import Image

    img = np.zeros((56, 56), dtype=np.uint8)
    img[10:46, 26:31] = 255  # a "1"
    img[10:16, 20:31] = 255
    return Image.fromarray(img)


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "GIF", "animated GIF"])
def test_webp_bmp_gif_pictures_are_read_like_png(tmp_path, fmt):
    import io

    import numpy as np
    from PIL import Image

    from lstmviz.preprocess import file_to_mnist

    pic = _digit_picture()
    png = io.BytesIO()
    pic.save(png, "PNG")
    buf = io.BytesIO()
    if fmt == "animated GIF":
        blank = Image.new("L", pic.size, 0)
        pic.save(buf, "GIF", save_all=True, append_images=[blank, blank], duration=100)
    else:
        pic.save(buf, fmt.split()[-1], **({"lossless": True} if fmt == "WEBP" else {}))
    np.testing.assert_allclose(file_to_mnist(buf.getvalue()), file_to_mnist(png.getvalue()), atol=1e-6)


_IMAGE_PROBE = textwrap.dedent("""
    import json, resource, sys
    from lstmviz.preprocess import ImageError, file_to_mnist
    data = open(sys.argv[1], "rb").read()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        file_to_mnist(data)
        result = "accepted"
    except ImageError as exc:
        result = str(exc)
    print(json.dumps({"result": result, "peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024}))
""")


@pytest.mark.parametrize("size", [(1, 20_000_000), (20_000_000, 1)], ids=["1x20M", "20Mx1"])
def test_extreme_aspect_png_is_refused_before_decoding(tmp_path, size):
    path = tmp_path / "strip.png"
    path.write_bytes(hostile.png_bytes(*size))
    assert path.stat().st_size < 100_000
    out = subprocess.run(
        [sys.executable, "-c", _IMAGE_PROBE, str(path)],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert "too large" in got["result"]
    assert got["peak_mb"] < 100, got


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_predict_refuses_special_files_quickly(tmp_path, special):
    import os

    path = special
    if special == "fifo":
        path = str(tmp_path / "pipe.png")
        os.mkfifo(path)
    out = subprocess.run(
        [sys.executable, "-m", "lstmviz", "predict", path, "--json"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
    )
    row = json.loads(out.stdout.strip().splitlines()[-1])
    assert out.returncode == 1 and "not a regular file" in row["error"]
