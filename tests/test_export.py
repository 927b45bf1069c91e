"""lstmviz.export: the step-through as a GIF / PNG / SVG for slides, the trace as CSV and .npz."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image, ImageSequence

from lstmviz import export
from lstmviz.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from lstmviz.figures.common import MARK
from lstmviz.trace import trace_image


@pytest.fixture(scope="module")
def digit(test_split):
    loaded = load_checkpoint(DEFAULT_CHECKPOINT)
    image = test_split.images[7].numpy()
    return trace_image(loaded.model, image), image, int(test_split.labels[7])


@pytest.fixture(scope="module")
def animated(digit):
    """The GIF and the MP4 of one digit's step-through (frames drawn once), with the progress calls."""
    trace, image, label = digit
    calls = []
    made = export.animations(trace, image, label, progress=lambda k, n: calls.append((k, n)))
    return made, calls


def test_gif_has_one_frame_per_step_of_the_stated_size(digit, animated):
    trace, _, _ = digit
    made, calls = animated
    gif = Image.open(io.BytesIO(made["gif"]))
    assert gif.format == "GIF" and gif.n_frames == trace.n_steps == 28
    assert gif.size == export.FRAME_SIZE
    assert calls == [(k, 28) for k in range(1, 29)]
    pictures = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(gif)]
    assert all(p.shape == (export.FRAME_SIZE[1], export.FRAME_SIZE[0], 3) for p in pictures)
    # every step looks different (the row box and h move on)
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(pictures))
    assert gif.info.get("loop") == 0


def test_mp4_is_h264_with_one_frame_per_step_of_the_stated_size(digit, animated, tmp_path):
    """Decoded by the ffmpeg of the same package: 28 frames, 960x360, H.264 yuv420p, the GIF's frames in order."""
    import imageio_ffmpeg

    assert export.mp4_available()
    trace, image, label = digit
    made, _ = animated
    path = tmp_path / "steps.mp4"
    path.write_bytes(made["mp4"])
    assert made["mp4"][4:8] == b"ftyp"
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = export.FRAME_SIZE
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and meta["size"] == (w, h)
    assert meta["fps"] == pytest.approx(float(export.MP4_FPS), abs=0.01)
    decoded = [np.frombuffer(f, np.uint8).reshape(h, w, 3) for f in reader]
    assert len(decoded) == trace.n_steps == 28
    for k in (1, 14, 28):  # the same pictures as the GIF's, up to H.264's loss
        frame = np.asarray(export.frame_image(trace, image, label, k), dtype=int)
        assert np.abs(decoded[k - 1].astype(int) - frame).mean() < 3
    assert np.abs(decoded[0].astype(int) - decoded[27]).mean() > 1  # not one picture repeated


def test_odd_sized_frames_make_an_even_mp4(tmp_path):
    import imageio_ffmpeg

    pictures = [Image.new("RGB", (101, 51), (40 * i, 0, 0)) for i in range(3)]
    path = tmp_path / "odd.mp4"
    path.write_bytes(export.encode_mp4(pictures))
    reader = imageio_ffmpeg.read_frames(str(path))
    assert next(reader)["size"] == (100, 50)  # yuv420p needs even sides: the last column and row go
    assert len(list(reader)) == 3
    with pytest.raises(ValueError):
        export.animations(None, None, None, formats=("avi",))


def test_frame_dims_unread_rows_and_boxes_the_current_one(digit):
    trace, image, label = digit
    early = np.asarray(export.frame_image(trace, image, label, 3))
    late = np.asarray(export.frame_image(trace, image, label, 28))
    assert early.shape == late.shape == (export.FRAME_SIZE[1], export.FRAME_SIZE[0], 3)
    mark = np.array([int(MARK[i : i + 2], 16) for i in (1, 3, 5)])  # the app's mark colour
    assert (np.abs(early.astype(int) - mark).sum(-1) < 40).sum() > 50  # the current-row markers
    with pytest.raises(ValueError):
        export.frame_image(trace, image, label, 0)


def test_png_and_svg(digit):
    trace, image, label = digit
    png = export.frame_bytes(trace, image, label, 10, "png")
    assert Image.open(io.BytesIO(png)).size == export.FRAME_SIZE
    svg = export.frame_bytes(trace, image, label, 10, "svg").decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<image" in svg  # the digit and h are embedded images


def test_csv_and_npz_hold_the_trace(digit):
    trace, image, _ = digit
    lines = export.trace_csv(trace).strip().split("\n")
    header = lines[0].split(",")
    assert len(lines) == 1 + 28
    H = trace.h.shape[1]
    assert header[:2] == ["step", "row_0"] and f"h_{H - 1}" in header and "forget_0" in header and "c_0" in header
    row17 = dict(zip(header, map(float, lines[17].split(",")), strict=False))
    assert row17["step"] == 17
    assert row17["p_3"] == pytest.approx(trace.probs[16, 3], rel=1e-5, abs=1e-7)
    assert row17["h_5"] == pytest.approx(trace.h[16, 5], rel=1e-5, abs=1e-7)
    assert row17["forget_9"] == pytest.approx(trace.gates["forget"][16, 9], rel=1e-5, abs=1e-7)
    assert row17["row_14"] == pytest.approx(trace.rows[16, 14], rel=1e-5, abs=1e-7)
    npz = np.load(io.BytesIO(export.trace_npz(trace, image)), allow_pickle=False)
    assert str(npz["cell"]) == "lstm"
    np.testing.assert_array_equal(npz["h"], trace.h)
    np.testing.assert_array_equal(npz["c"], trace.c)
    np.testing.assert_array_equal(npz["probabilities"], trace.probs)
    np.testing.assert_array_equal(npz["gate_forget"], trace.gates["forget"])
    np.testing.assert_array_equal(npz["rows"], trace.rows)


def test_explorer_download_area_makes_the_gif_and_mp4(open_page):
    at = open_page("pages/explorer.py")
    (make,) = [b for b in at.button if b.key == "exp_export_make"]
    assert not [d for d in at.get("download_button") if d.proto.id.endswith("exp_export_gif")]
    make.click().run()
    assert not at.exception, [e.value for e in at.exception]
    for name in ("gif", "mp4"):  # one button made both
        (button,) = [d for d in at.get("download_button") if d.proto.id.endswith(f"exp_export_{name}")]
        assert button.proto.label == f"Download {name.upper()}"
    assert not [b for b in at.button if b.key == "exp_export_make"]  # made once per digit
    for name in ("png", "svg", "csv", "npz"):
        assert [d for d in at.get("download_button") if f"exp_export_{name}" in d.proto.id], name


def test_npz_of_a_stacked_trace_holds_every_layer(test_split):
    from lstmviz.model import ModelConfig, build_model

    model = build_model(ModelConfig(hidden_size=16, embed_size=16, num_layers=2), seed=0)
    trace = trace_image(model, test_split.images[0].numpy()).at_layer(0)
    npz = np.load(io.BytesIO(export.trace_npz(trace)), allow_pickle=False)
    assert int(npz["layer"]) == 0 and int(npz["n_layers"]) == 2
    np.testing.assert_array_equal(npz["h"], trace.stack_h[0])  # the layer shown
    np.testing.assert_array_equal(npz["stack_h"], trace.stack_h)
    np.testing.assert_array_equal(npz["stack_c"], trace.stack_c)
    np.testing.assert_array_equal(npz["stack_gate_forget"], trace.stack_gates["forget"])
    assert "h_15" in export.trace_csv(trace).split("\n")[0]
