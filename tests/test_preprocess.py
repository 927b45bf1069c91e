"""MNIST-style preprocessing of arbitrary images: properties, polarity, formats, bad input."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lstmviz.checkpoint import load_checkpoint
from lstmviz.evaluate import predict_proba
from lstmviz.preprocess import (
    BOX,
    CENTRE,
    INK_THRESHOLD,
    MAX_PIXELS,
    BlankImageError,
    ImageError,
    canvas_to_mnist,
    centre_of_mass,
    file_to_mnist,
    load_image,
    to_grey,
    to_mnist,
)


def drawn_seven(width: int = 400, height: int = 300, ink: int = 0, paper: int = 255, stroke: int = 14) -> np.ndarray:
    """A '7' drawn off-centre in a corner of a larger, non-square grey picture (H, W) uint8."""
    img = Image.new("L", (width, height), paper)
    d = ImageDraw.Draw(img)
    d.line([(30, 40), (150, 40), (80, 230)], fill=ink, width=stroke, joint="curve")
    return np.asarray(img)


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def ink_box(image: np.ndarray) -> tuple[int, int]:
    ink = image >= INK_THRESHOLD
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


@pytest.mark.parametrize("shape", [(300, 400), (50, 20), (20, 60), (1000, 1000), (12, 9)])
def test_result_is_mnist_shaped_fitted_and_centred(shape):
    h, w = shape
    img = Image.new("L", (w, h), 0)
    ImageDraw.Draw(img).ellipse([w * 0.1, h * 0.2, w * 0.5, h * 0.9], outline=255, width=max(1, min(h, w) // 8))
    out = to_mnist(np.asarray(img))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and out.max() > 0.9
    bh, bw = ink_box(out)
    assert max(bh, bw) in (BOX - 1, BOX) and min(bh, bw) <= BOX
    cy, cx = centre_of_mass(out)
    assert abs(cy - CENTRE) <= 0.6 and abs(cx - CENTRE) <= 0.6


def test_aspect_ratio_is_kept():
    tall = np.zeros((200, 40), np.uint8)
    tall[:, 10:30] = 255  # a bar 10 times taller than wide
    bh, bw = ink_box(to_mnist(tall))
    assert bh == BOX and bw <= 3


def test_position_in_the_picture_does_not_matter():
    a = drawn_seven()
    shifted = np.full_like(a, 255)
    shifted[40:, 150:] = a[:-40, :-150]
    assert np.abs(to_mnist(a) - to_mnist(shifted)).max() < 1e-6


def test_polarity_invariance():
    dark_on_light = drawn_seven(ink=0, paper=255)
    light_on_dark = 255 - dark_on_light
    a, b = to_mnist(dark_on_light), to_mnist(light_on_dark)
    assert np.abs(a - b).max() < 1e-6
    assert a[ink_box_mask(a)].mean() > 0.3  # ink is bright, background 0
    assert a[0].max() == 0 and a[:, 0].max() == 0


def ink_box_mask(image: np.ndarray) -> np.ndarray:
    return image >= INK_THRESHOLD


def test_grey_paper_and_ink_are_normalised():
    grey = drawn_seven(ink=60, paper=200)
    out, ref = to_mnist(grey), to_mnist(drawn_seven())
    assert out.max() == pytest.approx(1.0)
    assert np.abs(out - ref).mean() < 0.01


def test_grey_rgb_rgba_palette_give_the_same_result():
    grey = drawn_seven()
    rgb = np.repeat(grey[..., None], 3, axis=2)
    rgba = np.dstack([rgb, np.full_like(grey, 255)])
    ref = to_mnist(grey)
    for array in (rgb, rgba, grey.astype(np.float32) / 255):
        assert np.abs(to_mnist(array) - ref).max() < 1e-5
    for mode in ("L", "RGB", "RGBA", "P", "LA"):
        data = io.BytesIO()
        Image.fromarray(grey).convert(mode).save(data, format="PNG")
        assert np.abs(file_to_mnist(data.getvalue()) - ref).max() < 1e-5, mode


def test_jpeg_gives_nearly_the_same_result():
    buf = io.BytesIO()
    Image.fromarray(drawn_seven()).convert("RGB").save(buf, format="JPEG", quality=80)
    assert np.abs(file_to_mnist(buf.getvalue()) - to_mnist(drawn_seven())).mean() < 0.02


@pytest.mark.parametrize("ink_rgb", [(255, 255, 255), (0, 0, 0)])
def test_transparent_background_is_composited_against_the_ink(ink_rgb):
    """Ink on a fully transparent background reads the same whether the ink is light or dark."""
    alpha = 255 - drawn_seven()  # 255 where the stroke is
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[..., :3] = ink_rgb
    rgba[..., 3] = alpha
    ref = to_mnist(drawn_seven())
    assert np.abs(to_mnist(rgba) - ref).max() < 1e-5
    assert np.abs(load_image(png_bytes(rgba, "RGBA")) - to_grey(rgba)).max() < 1e-6


def test_canvas_output_light_ink_on_transparent():
    alpha = 255 - drawn_seven(width=280, height=280, stroke=22)
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = alpha
    out = canvas_to_mnist(rgba)
    assert out.shape == (28, 28)
    assert np.abs(out - to_mnist(255 - alpha)).max() < 1e-5


@pytest.mark.parametrize(
    "array",
    [
        np.zeros((280, 280, 4), np.uint8),
        np.full((50, 50), 255, np.uint8),
        np.full((40, 40, 3), 128, np.uint8),
        np.random.default_rng(0).integers(120, 135, (60, 60)).astype(np.uint8),
    ],
    ids=["transparent canvas", "white", "grey rgb", "faint noise"],
)
def test_blank_images_raise_blank_error(array):
    with pytest.raises(BlankImageError):
        to_mnist(array)


def test_a_speck_is_blank():
    img = np.full((500, 500), 255, np.uint8)
    img[250, 250] = 0
    with pytest.raises(BlankImageError, match="blank"):
        to_mnist(img)


def test_empty_canvas_is_blank():
    with pytest.raises(BlankImageError):
        canvas_to_mnist(None)
    with pytest.raises(BlankImageError):
        canvas_to_mnist(np.zeros((280, 280, 4), np.uint8))


GARBAGE = [b"", b"hello, not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"GIF89a" + b"\0" * 40]


@pytest.mark.parametrize("data", GARBAGE)
def test_garbage_bytes_raise_image_error(data):
    with pytest.raises(ImageError) as info:
        load_image(data)
    assert not isinstance(info.value, BlankImageError)
    assert str(info.value)


def test_truncated_png_raises_image_error():
    data = png_bytes(drawn_seven())
    with pytest.raises(ImageError, match="unreadable|not a PNG"):
        load_image(data[: len(data) // 2])


def _png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb's calling card)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [100_000, 6_000])
def test_decompression_bomb_is_refused(side):
    assert side * side > MAX_PIXELS
    with pytest.raises(ImageError, match="too large|bomb"):
        load_image(_png_header(side, side))


def test_huge_file_is_refused(tmp_path, monkeypatch):
    import lstmviz.preprocess as pre

    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(drawn_seven()))
    monkeypatch.setattr(pre, "MAX_BYTES", 1000)
    with pytest.raises(ImageError, match="too large"):
        load_image(path)
    with pytest.raises(ImageError, match="too large"):
        load_image(path.read_bytes())


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_a_large_photo_reads_like_a_small_one(mode):
    small = drawn_seven(width=400, height=300, stroke=14)
    large = np.asarray(Image.fromarray(small).resize((4000, 3000), Image.Resampling.BILINEAR))
    if mode == "RGBA":  # dark ink on a transparent background
        pic = np.zeros((*large.shape, 4), np.uint8)
        pic[..., 3] = 255 - large
        data = png_bytes(pic, "RGBA")
    else:
        data = png_bytes(np.asarray(Image.fromarray(large).convert(mode)))
    assert np.abs(file_to_mnist(data) - to_mnist(small)).mean() < 0.01


def test_missing_file_raises_image_error(tmp_path):
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "missing.png")


def test_sixteen_bit_png():
    grey16 = drawn_seven().astype(np.uint16) * 257
    buf = io.BytesIO()
    Image.fromarray(grey16).save(buf, format="PNG")
    assert np.abs(file_to_mnist(buf.getvalue()) - to_mnist(drawn_seven())).max() < 1e-4


def test_mnist_digits_stay_close_to_themselves_and_are_still_read(test_split):
    """Re-preprocessing real MNIST test digits changes them little and keeps the shipped model's answers."""
    rng = np.random.default_rng(0)
    idx = rng.choice(len(test_split), 300, replace=False)
    images = test_split.images.numpy()[idx]
    labels = test_split.labels.numpy()[idx]
    again = np.stack([to_mnist(img) for img in images])
    assert np.abs(again - images).mean() < 0.005
    assert np.mean([np.abs(a - b).max() < 0.15 for a, b in zip(again, images, strict=False)]) > 0.95
    model = load_checkpoint().model
    assert (predict_proba(model, again).argmax(1) == labels).mean() >= 0.97
    # and drawn the other way round, as a scan of ink on paper, they read the same
    scans = np.stack([to_mnist(1.0 - img) for img in images[:50]])
    assert np.abs(scans - again[:50]).max() < 1e-6
