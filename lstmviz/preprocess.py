"""Turn any digit picture into an MNIST-style input, the way MNIST itself was made.

Pipeline: load (PNG, JPEG, WebP, BMP, GIF first frame; safe size limits) -> grey in [0, 1] (alpha composited) -> ink bright on
dark (polarity from the border) -> crop to the ink's bounding box -> fit into 20x20 keeping the
aspect ratio (antialiased) -> paste in 28x28 -> shift so the centre of mass sits at (14, 14),
where MNIST's digits have theirs. Used by `predict` on image files and by the draw page.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageOps

from .safeio import read_limited

SIZE = 28  # output side
BOX = 20  # the ink is fitted into BOX x BOX, as in MNIST
CENTRE = 14.0  # MNIST's mean centre of mass (row, column), measured on the test set
INK_THRESHOLD = 0.1  # share of the strongest ink that counts as ink for the bounding box
MIN_CONTRAST = 0.08  # below this difference from the background an image is blank
MIN_INK_FRACTION = 2e-4  # ...and with fewer ink pixels than this share of the area
MAX_BYTES = 25 * 1024 * 1024  # largest file accepted
MAX_PIXELS = 25_000_000  # largest width x height accepted (a 5000x5000 photo)
MAX_SIDE = 10_000  # longest side accepted: a 1 x 20,000,000 strip costs half a gigabyte to decode
WORK_SIDE = 1024  # larger pictures are box-averaged down to about this side before any float work
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")  # what Pillow decodes safely (an animation: its first frame)
FORMAT_NAMES = "PNG, JPEG, WebP, BMP or GIF"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif"]  # for st.file_uploader(type=...)

Ink = Literal["auto", "light", "dark"]


class ImageError(ValueError):
    """The input is not a usable image (not a supported format, unreadable, too large)."""


class BlankImageError(ImageError):
    """The image has (almost) no ink: nothing to read."""


def _open(data: bytes) -> Image.Image:
    """Decode image bytes after checking the declared size (a decompression bomb is refused).

    Width and height are read from the header and bounded before any pixel is decoded.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
            w, h = img.size
            if w * h > MAX_PIXELS or max(w, h) > MAX_SIDE:
                raise ImageError(
                    f"image too large: {w}x{h} pixels (at most {MAX_PIXELS:,} pixels and "
                    f"{MAX_SIDE:,} on a side are accepted)"
                )
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)  # an animation: its first frame
            img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image refused as a possible decompression bomb: {exc}") from None
    except Image.UnidentifiedImageError:
        raise ImageError("not a PNG or JPEG image (nor WebP, BMP or GIF)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"unreadable image ({exc})") from None
    return img


def _read_bytes(source: str | Path | bytes) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            data = read_limited(path, MAX_BYTES)  # regular files only; a FIFO or /dev/zero is refused
        except ValueError as exc:
            raise ImageError(f"cannot read file: {exc}") from None
        except IsADirectoryError:
            raise ImageError("is a folder, not an image file") from None
        except OSError as exc:
            raise ImageError(f"cannot read file ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise ImageError(f"file too large: {len(data) / 2**20:.1f} MB (at most {MAX_BYTES // 2**20} MB)")
    if not data:
        raise ImageError("empty file")
    return data


def _shrink(img: Image.Image) -> Image.Image:
    """Box-average a large picture down to about WORK_SIDE (the digit ends up 20 pixels tall anyway)."""
    factor = -(-max(img.size) // WORK_SIDE)  # ceil
    if factor <= 1:
        return img
    if img.mode == "RGBA":  # average premultiplied colours, so transparent pixels do not bleed into the ink
        return img.convert("RGBa").reduce(factor).convert("RGBA")
    return img.reduce(factor)


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """A decoded image as float32 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA in [0, 1]."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        arr = np.asarray(img, dtype=np.float32)
        scale = 65535.0 if arr.max() > 255 else 255.0
        return np.asarray(_shrink(Image.fromarray(arr / scale, mode="F")), dtype=np.float32)
    if img.mode in ("L", "1"):
        return np.asarray(_shrink(img.convert("L")), dtype=np.float32) / 255.0
    has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    return np.asarray(_shrink(img.convert("RGBA" if has_alpha else "RGB")), dtype=np.float32) / 255.0


def load_image(source: str | Path | bytes) -> np.ndarray:
    """Read a PNG, JPEG, WebP, BMP or GIF (path or bytes) into grey float32 (H, W) in [0, 1], alpha composited.

    Raises ImageError (with a clear message) for a non-image, an unreadable, huge or bomb file.
    """
    img = _open(_read_bytes(source))
    return to_grey(_pil_to_array(img))


def _as_float(array: np.ndarray) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    if a.dtype == bool:
        return a.astype(np.float32)
    a = a.astype(np.float32)
    if a.size and np.nanmax(a) > 1.0:
        a = a / 255.0
    return np.clip(np.nan_to_num(a), 0.0, 1.0)


def to_grey(array: np.ndarray, background: float | None = None) -> np.ndarray:
    """Grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4), uint8 or float -> grey float32 (H, W) in [0, 1].

    Transparent pixels are composited onto `background` (0 black .. 1 white); by default onto the
    opposite of the visible pixels' mean brightness, so light ink on a transparent canvas lands on
    black and dark ink on white.
    """
    a = _as_float(array)
    if a.ndim == 2:
        return a
    if a.ndim != 3 or a.shape[-1] not in (1, 2, 3, 4):
        raise ImageError(f"expected a grey, RGB or RGBA image, got an array of shape {a.shape}")
    if a.shape[-1] in (1, 2):
        lum, alpha = a[..., 0], (a[..., 1] if a.shape[-1] == 2 else None)
    else:
        lum = a[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as PIL's "L"
        alpha = a[..., 3] if a.shape[-1] == 4 else None
    if alpha is None or alpha.min() >= 1.0:
        return lum.astype(np.float32)
    if background is None:
        weight = alpha.sum()
        visible = float((alpha * lum).sum() / weight) if weight > 0 else 1.0
        background = 1.0 if visible < 0.5 else 0.0
    return (alpha * lum + (1.0 - alpha) * background).astype(np.float32)


def ink_map(grey: np.ndarray, ink: Ink = "auto") -> np.ndarray:
    """Grey (H, W) -> ink strength (H, W) in [0, 1], bright ink on 0 background, strongest ink = 1.

    The background level is the median of the border pixels (else of the whole image); with
    ink="auto" the ink is whatever differs from it (dark on light or light on dark).
    Raises BlankImageError when nothing stands out.
    """
    g = np.asarray(grey, dtype=np.float32)
    if g.ndim != 2 or g.shape[0] < 1 or g.shape[1] < 1:
        raise ImageError(f"expected a 2-D image, got shape {g.shape}")
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    bg = float(np.median(border)) if min(g.shape) >= 3 else float(np.median(g))
    dark_ink = bg > 0.5 if ink == "auto" else ink == "dark"
    strength = np.clip(bg - g if dark_ink else g - bg, 0.0, None)  # (H, W)
    peak = float(strength.max())
    if peak < MIN_CONTRAST:
        raise BlankImageError("the image is blank: no ink stands out from the background")
    strength /= peak
    n_ink = int((strength >= INK_THRESHOLD).sum())
    if n_ink < max(2, MIN_INK_FRACTION * g.size):
        raise BlankImageError("the image is (almost) blank: too little ink to read a digit")
    return strength


def _fit(crop: np.ndarray) -> np.ndarray:
    """Resize a cropped ink map so its longer side is BOX, keeping the aspect ratio (antialiased)."""
    h, w = crop.shape
    scale = BOX / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    if (nh, nw) == (h, w):
        return crop
    img = Image.fromarray(crop.astype(np.float32), mode="F")
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    out = np.asarray(img.resize((nw, nh), resample=resample), dtype=np.float32)
    out = np.clip(out, 0.0, None)
    peak = out.max()
    return out / peak if peak > 0 else out


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of mass of a non-negative image."""
    total = float(image.sum())
    if total <= 0:
        return (image.shape[0] - 1) / 2, (image.shape[1] - 1) / 2
    rows = np.arange(image.shape[0], dtype=np.float64)
    cols = np.arange(image.shape[1], dtype=np.float64)
    return float(image.sum(1) @ rows / total), float(image.sum(0) @ cols / total)


def _place(fitted: np.ndarray) -> np.ndarray:
    """Paste the fitted ink into SIZE x SIZE with its centre of mass at CENTRE (whole-pixel shift, ink kept inside)."""
    h, w = fitted.shape
    cy, cx = centre_of_mass(fitted)
    top = int(np.clip(round(CENTRE - cy), 0, SIZE - h))
    left = int(np.clip(round(CENTRE - cx), 0, SIZE - w))
    out = np.zeros((SIZE, SIZE), dtype=np.float32)
    out[top : top + h, left : left + w] = fitted
    return out


def to_mnist(array: np.ndarray, ink: Ink = "auto", background: float | None = None) -> np.ndarray:
    """Any image array (grey/RGB/RGBA, any size) -> MNIST-style float32 (28, 28) in [0, 1].

    Raises BlankImageError for a blank image and ImageError for an unusable array.
    """
    strength = ink_map(to_grey(array, background), ink)
    rows = np.flatnonzero((strength >= INK_THRESHOLD).any(1))
    cols = np.flatnonzero((strength >= INK_THRESHOLD).any(0))
    crop = strength[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    crop = np.where(crop >= INK_THRESHOLD / 2, crop, 0.0)  # drop faint noise (JPEG, paper grain)
    return np.clip(_place(_fit(crop)), 0.0, 1.0)


def canvas_to_mnist(rgba: np.ndarray | None) -> np.ndarray:
    """The draw canvas's RGBA output (light ink, transparent or dark background) -> (28, 28).

    None or an empty canvas raises BlankImageError.
    """
    if rgba is None:
        raise BlankImageError("the canvas is empty")
    return to_mnist(rgba, ink="light", background=0.0)


def file_to_mnist(source: str | Path | bytes) -> np.ndarray:
    """An image file (path or bytes) -> (28, 28); raises ImageError or BlankImageError."""
    return to_mnist(load_image(source))
