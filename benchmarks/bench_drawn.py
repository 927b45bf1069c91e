"""Benchmark: accuracy on digits drawn differently from MNIST, before and after augmentation.

MNIST test digits are redrawn on a 280x280 canvas the way people draw on the draw page (thick or
thin strokes, rotated, slanted, tiny in a corner), plus digits typed in every TrueType font found,
and every picture goes through `lstmviz.preprocess` exactly as a drawing does. Prints the
accuracy of each checkpoint on each variant.

    LSTMVIZ_DATA_DIR=../shared/mnist python benchmarks/bench_drawn.py [--n 1000] [--checkpoint PATH ...] [--json]

Without --checkpoint it compares models/lstm-noaug.safetensors (no augmentation) and
models/lstm.safetensors (the shipped, augmented model), whichever exist.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lstmviz.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from lstmviz.data import load_split  # noqa: E402
from lstmviz.evaluate import predict_proba  # noqa: E402
from lstmviz.preprocess import BlankImageError, to_mnist  # noqa: E402

CANVAS = 280  # the draw page's canvas
UP = 8  # a 28x28 digit becomes 224x224 on the canvas: MNIST strokes come out ~20 px wide, like the default pen
DEFAULT_CHECKPOINTS = ("models/lstm-noaug.safetensors", "models/lstm.safetensors")
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", str(Path.home() / ".fonts"))

Variant = Callable[[np.ndarray, np.random.Generator], Image.Image]


def big(image: np.ndarray) -> Image.Image:
    """A 28x28 digit in [0, 1] as a 224x224 'L' picture, light ink on black."""
    pic = Image.fromarray((np.asarray(image) * 255).astype(np.uint8), "L")
    return pic.resize((28 * UP, 28 * UP), Image.Resampling.BILINEAR)


def on_canvas(pic: Image.Image, scale: float = 1.0, corner: tuple[float, float] | None = None) -> Image.Image:
    """Paste a picture on the black canvas, scaled, centred or with its top-left at `corner` (fractions)."""
    if scale != 1.0:
        pic = pic.resize((max(1, round(pic.width * scale)), max(1, round(pic.height * scale))), Image.Resampling.BOX)
    canvas = Image.new("L", (CANVAS, CANVAS), 0)
    if corner is None:
        xy = ((CANVAS - pic.width) // 2, (CANVAS - pic.height) // 2)
    else:
        xy = (round(corner[0] * (CANVAS - pic.width)), round(corner[1] * (CANVAS - pic.height)))
    canvas.paste(pic, xy)
    return canvas


def _sign(rng: np.random.Generator) -> int:
    return 1 if rng.random() < 0.5 else -1


def thick(image, rng):
    return on_canvas(big(image).filter(ImageFilter.MaxFilter(13)))  # strokes ~12 canvas px wider


def thin(image, rng):
    binary = big(image).point(lambda v: 255 if v >= 128 else 0)
    return on_canvas(binary.filter(ImageFilter.MinFilter(9)))  # a fine pen: strokes ~8 canvas px thinner


def rotated(image, rng):
    return on_canvas(big(image).rotate(20 * _sign(rng), resample=Image.Resampling.BILINEAR))


def slanted(image, rng):
    shear = 0.4 * _sign(rng)
    side = 28 * UP
    pic = big(image).transform(
        (side, side), Image.Transform.AFFINE, (1, shear, -shear * side / 2, 0, 1, 0), resample=Image.Resampling.BILINEAR
    )
    return on_canvas(pic)


def tiny_in_a_corner(image, rng):
    return on_canvas(big(image), scale=0.3, corner=(rng.random(), rng.random()))


def squashed(image, rng):
    side = 28 * UP
    wide = rng.random() < 0.5
    size = (side, side // 2) if wide else (side // 2, side)
    return on_canvas(big(image).resize(size, Image.Resampling.BILINEAR))


def thick_rotated_off_centre(image, rng):
    pic = big(image).filter(ImageFilter.MaxFilter(9)).rotate(15 * _sign(rng), resample=Image.Resampling.BILINEAR)
    return on_canvas(pic, scale=0.7, corner=(rng.random(), rng.random()))


VARIANTS: dict[str, Variant] = {
    "as drawn (MNIST strokes)": lambda image, rng: on_canvas(big(image)),
    "thick strokes": thick,
    "thin strokes": thin,
    "rotated ±20°": rotated,
    "slanted (shear ±0.4)": slanted,
    "squashed (aspect 1:2 / 2:1)": squashed,
    "tiny, in a corner": tiny_in_a_corner,
    "thick + rotated ±15° + off-centre": thick_rotated_off_centre,
}


def drawn_set(images: np.ndarray, variant: Variant, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Redraw every digit with `variant` and preprocess it as a drawing -> (inputs (N, 28, 28), kept mask (N,))."""
    rng = np.random.default_rng(seed)
    out, kept = [], []
    for image in images:
        canvas = np.asarray(variant(image, rng), dtype=np.float32) / 255.0
        try:
            out.append(to_mnist(canvas, ink="light"))
            kept.append(True)
        except BlankImageError:
            kept.append(False)
    return np.stack(out), np.array(kept)


def font_files() -> list[Path]:
    found = {p for d in FONT_DIRS if Path(d).is_dir() for p in Path(d).rglob("*.ttf")}
    return sorted(p for p in found if "Math" not in p.name)


def font_set() -> tuple[np.ndarray, np.ndarray, int]:
    """Digits 0-9 typed in every TrueType font found -> (inputs (N, 28, 28), labels (N,), number of fonts)."""
    images, labels, n_fonts = [], [], 0
    for path in font_files():
        try:
            font = ImageFont.truetype(str(path), 200)
        except OSError:
            continue
        n_fonts += 1
        for digit in range(10):
            canvas = Image.new("L", (CANVAS, CANVAS), 0)
            ImageDraw.Draw(canvas).text((CANVAS / 2, CANVAS / 2), str(digit), fill=255, font=font, anchor="mm")
            images.append(to_mnist(np.asarray(canvas, dtype=np.float32) / 255.0, ink="light"))
            labels.append(digit)
    if not images:
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.int64), 0
    return np.stack(images), np.array(labels), n_fonts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--checkpoint",
        action="append",
        default=None,
        help="a model to compare (repeatable; default: lstm-noaug and lstm in models/)",
    )
    parser.add_argument("--n", type=int, default=1000, help="test digits per variant (default: 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    args = parser.parse_args(argv)

    paths = args.checkpoint or [str(ROOT / p) for p in DEFAULT_CHECKPOINTS if (ROOT / p).exists()]
    models = {}
    for p in paths:
        try:
            models[Path(p).stem] = load_checkpoint(p).model
        except CheckpointError as exc:
            print(f"skipping {p}: {exc}", file=sys.stderr)
    if not models:
        print("error: no checkpoint to evaluate (train one, or pass --checkpoint PATH)", file=sys.stderr)
        return 2

    test = load_split(False, args.data_dir)
    idx = np.random.default_rng(args.seed).choice(len(test), min(args.n, len(test)), replace=False)
    images, labels = test.images.numpy()[idx], test.labels.numpy()[idx]

    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {"MNIST test (unchanged)": (images, labels)}
    t0 = time.perf_counter()
    for i, (name, variant) in enumerate(VARIANTS.items()):
        inputs, kept = drawn_set(images, variant, args.seed + i)
        sets[name] = (inputs, labels[kept])
    font_images, font_labels, n_fonts = font_set()
    if n_fonts:
        sets[f"typed digits ({n_fonts} fonts)"] = (font_images, font_labels)
    else:
        print("no TrueType fonts found: the typed-digit set is skipped", file=sys.stderr)
    print(f"built {len(sets)} sets in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    results: dict[str, dict[str, float]] = {name: {} for name in sets}
    for name, (inputs, y) in sets.items():
        for model_name, model in models.items():
            results[name][model_name] = float((predict_proba(model, inputs).argmax(1) == y).mean())

    width = max(map(len, sets)) + 2
    header = f"{'set':{width}s}{'n':>6s}" + "".join(f"{m:>16s}" for m in models)
    print(header)
    print("-" * len(header))
    for name, (inputs, _) in sets.items():
        print(f"{name:{width}s}{len(inputs):6d}" + "".join(f"{results[name][m]:16.1%}" for m in models))
    drawn = [n for n in sets if n != "MNIST test (unchanged)"]
    means = {m: float(np.mean([results[n][m] for n in drawn])) for m in models}
    print(f"{'mean over drawn sets':{width}s}{'':6s}" + "".join(f"{means[m]:16.1%}" for m in models))
    if args.json:
        print(json.dumps({"n": len(images), "results": results, "mean_drawn": means}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
