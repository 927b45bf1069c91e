"""Export for slides: the step-through as an animated GIF and an MP4 (or one step as PNG/SVG), the trace
as CSV / .npz.

Frames are drawn offline with matplotlib's Agg backend (no browser, no network) and assembled by
Pillow (GIF) or by the ffmpeg binary that the imageio-ffmpeg wheel ships (H.264 MP4, yuv420p, which
PowerPoint, Keynote and browsers play). One frame per step k = 1..T: the digit with the rows read so far (the current row boxed),
the class probabilities after k rows, and h (units x steps) up to step k. Pure: plain arrays in,
bytes out; no Streamlit.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from .figures.common import MARK  # the current row, as in the app
from .trace import Trace

FRAME_SIZE = (960, 360)  # pixels (width, height) of every frame
DPI = 100
FRAME_MS = 350  # GIF: time per frame; the last one is held longer
LAST_FRAME_MS = 2000
MP4_FPS = Fraction(1000, FRAME_MS)  # the GIF's pace (the player holds the last frame)
MP4_CRF = 18  # H.264 quality: sharp text and heatmap cells
ANIMATIONS = ("gif", "mp4")
DIM = 0.22  # ink of rows not read yet


def _frame_figure(trace: Trace, image: np.ndarray, label: int | None, k: int, size=FRAME_SIZE) -> Figure:
    """The matplotlib figure of step k (1..T): digit | probabilities | h."""
    T = trace.n_steps
    if not 1 <= k <= T:
        raise ValueError(f"step must be in 1..{T}, got {k}")
    img = np.asarray(image, dtype=np.float32).reshape(T, -1)  # (T, 28)
    fig = Figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(
        1, 3, width_ratios=[1, 1.25, 1.9], left=0.03, right=0.97, bottom=0.16, top=0.84, wspace=0.28
    )
    p = trace.probs[k - 1]  # (10,)
    guess = int(p.argmax())
    fig.suptitle(
        f"Step {k} of {T}: {k} row{'s' if k > 1 else ''} read · best guess {guess} (p = {p[guess]:.2f})"
        + (f" · true label {label}" if label is not None else ""),
        fontsize=14,
    )

    ax = fig.add_subplot(grid[0])
    shown = img.copy()
    shown[k:] *= DIM
    ax.imshow(shown, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.add_patch(Rectangle((-0.5, k - 1.5), img.shape[1], 1, fill=False, edgecolor=MARK, linewidth=2))
    ax.set_xticks([])
    ax.set_yticks([0, 9, 19, 27] if T == 28 else [])
    ax.set_title("Input, row by row", fontsize=11)

    ax = fig.add_subplot(grid[1])
    colors = ["#bbbbbb"] * len(p)
    focus = label if label is not None else int(trace.probs[-1].argmax())
    colors[focus] = "#1f77b4"
    if guess != focus:
        colors[guess] = MARK
    ax.bar(np.arange(len(p)), p, color=colors)
    ax.set_ylim(0, 1)
    ax.set_xticks(np.arange(len(p)))
    ax.set_title("Probabilities if reading stopped here", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)

    ax = fig.add_subplot(grid[2])
    h = np.full((trace.h.shape[-1], T), np.nan, dtype=np.float32)  # (H, T)
    h[:, :k] = trace.h[:k].T
    ax.imshow(h, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax.add_patch(Rectangle((k - 1.5, -0.5), 1, h.shape[0], fill=False, edgecolor=MARK, linewidth=2))
    ax.set_xlabel("step")
    ax.set_ylabel("unit")
    ax.set_title("Hidden state h (red +, blue −)", fontsize=11)
    return fig


def frame_image(trace: Trace, image: np.ndarray, label: int | None, k: int, size=FRAME_SIZE) -> Image.Image:
    """Step k as an RGB picture of exactly `size` pixels."""
    fig = _frame_figure(trace, image, label, k, size)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())  # (H, W, 4)
    return Image.fromarray(rgba[..., :3].copy())


def frame_bytes(trace: Trace, image: np.ndarray, label: int | None, k: int, fmt: str = "png") -> bytes:
    """Step k as a PNG or SVG file."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"format must be png or svg, got {fmt!r}")
    fig = _frame_figure(trace, image, label, k)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=DPI)
    return buf.getvalue()


def frames(trace: Trace, image: np.ndarray, label: int | None, size=FRAME_SIZE) -> Iterator[Image.Image]:
    """One picture per step 1..T."""
    for k in range(1, trace.n_steps + 1):
        yield frame_image(trace, image, label, k, size)


def encode_gif(pictures: Sequence[Image.Image]) -> bytes:
    """Frames -> an animated, looping GIF (FRAME_MS a frame, the last held LAST_FRAME_MS)."""
    paletted = [p.convert("P", palette=Image.Palette.ADAPTIVE, colors=255) for p in pictures]
    buf = io.BytesIO()
    durations = [FRAME_MS] * (len(paletted) - 1) + [LAST_FRAME_MS]
    paletted[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=paletted[1:],
        duration=durations,
        loop=0,
        disposal=1,
        optimize=False,
    )
    return buf.getvalue()


def mp4_available() -> bool:
    """Whether MP4 export works here: the imageio-ffmpeg package (requirements.txt) with its ffmpeg binary."""
    try:
        import imageio_ffmpeg

        return Path(imageio_ffmpeg.get_ffmpeg_exe()).exists()
    except (ImportError, RuntimeError, OSError):
        return False


def encode_mp4(pictures: Sequence[Image.Image], fps: Fraction = MP4_FPS) -> bytes:
    """Frames (all one size) -> an H.264 MP4 (yuv420p, even width and height: a frame of odd size loses
    its last column/row) with one video frame per picture, `fps` frames a second, fast start."""
    import imageio_ffmpeg

    w, h = pictures[0].size
    w, h = w - w % 2, h - h % 2  # yuv420p halves the colour planes
    with tempfile.TemporaryDirectory(prefix="lstmviz-mp4-") as folder:
        path = Path(folder) / "steps.mp4"
        writer = imageio_ffmpeg.write_frames(
            str(path),
            (w, h),
            fps=fps,
            codec="libx264",
            pix_fmt_out="yuv420p",
            quality=None,
            macro_block_size=2,
            ffmpeg_log_level="error",
            output_params=["-crf", str(MP4_CRF), "-profile:v", "main", "-movflags", "+faststart", "-threads", "1"],
        )
        writer.send(None)  # start ffmpeg
        for picture in pictures:
            writer.send(np.ascontiguousarray(np.asarray(picture.convert("RGB"))[:h, :w]))
        writer.close()
        return path.read_bytes()


def animations(
    trace: Trace,
    image: np.ndarray,
    label: int | None,
    formats: Sequence[str] = ANIMATIONS,
    progress: Callable[[int, int], None] | None = None,
    size=FRAME_SIZE,
) -> dict[str, bytes]:
    """The whole step-through as each of `formats` ("gif", "mp4"), its T frames drawn once; progress(done, total)."""
    unknown = set(formats) - set(ANIMATIONS)
    if unknown:
        raise ValueError(f"unknown animation formats {sorted(unknown)}; known: {ANIMATIONS}")
    T = trace.n_steps
    pictures = []
    for k, picture in enumerate(frames(trace, image, label, size), start=1):
        pictures.append(picture)
        if progress is not None:
            progress(k, T)
    encoders = {"gif": encode_gif, "mp4": encode_mp4}
    return {fmt: encoders[fmt](pictures) for fmt in formats}


def trace_arrays(trace: Trace, image: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The trace as named arrays: rows (T, F), gate_<name> (T, H), c (T, H) if any, h (T, H), probabilities (T, 10)."""
    arrays = {"rows": np.asarray(trace.rows, np.float32)}
    for name in trace.gate_names or tuple(trace.gates):
        arrays[f"gate_{name}"] = np.asarray(trace.gates[name], np.float32)
    if trace.c is not None:
        arrays["c"] = np.asarray(trace.c, np.float32)
    arrays["h"] = np.asarray(trace.h, np.float32)
    arrays["probabilities"] = np.asarray(trace.probs, np.float32)
    if image is not None:
        arrays["image"] = np.asarray(image, np.float32)
    return arrays


def trace_npz(trace: Trace, image: np.ndarray | None = None) -> bytes:
    """`trace_arrays` as a compressed .npz file (np.load(..., allow_pickle=False) reads it), with `layer` (the
    0-based layer whose h, c and gates these are) and `n_layers`; a stacked model's file also holds every
    layer: stack_h, stack_c, stack_gate_<name> (L, T, H)."""
    stack = {}
    if trace.n_layers > 1:
        stack["stack_h"] = np.asarray(trace.stack_h, np.float32)
        if trace.stack_c is not None:
            stack["stack_c"] = np.asarray(trace.stack_c, np.float32)
        for name, v in trace.stack_gates.items():
            stack[f"stack_gate_{name}"] = np.asarray(v, np.float32)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        cell=np.array(trace.cell),
        layer=np.int64(trace.layer),
        n_layers=np.int64(trace.n_layers),
        **trace_arrays(trace, image),
        **stack,
    )
    return buf.getvalue()


def trace_csv(trace: Trace) -> str:
    """One line per step: step, row_0..row_27, p_0..p_9, h_0.., c_0.., <gate>_0.. (6 significant digits)."""
    arrays = trace_arrays(trace)
    names = {"rows": "row", "probabilities": "p"}
    order = (
        ["rows", "probabilities", "h"] + (["c"] if "c" in arrays else []) + [a for a in arrays if a.startswith("gate_")]
    )
    header = ["step"]
    blocks = []
    for key in order:
        prefix = names.get(key, key.removeprefix("gate_"))
        header += [f"{prefix}_{j}" for j in range(arrays[key].shape[1])]
        blocks.append(arrays[key])
    table = np.concatenate(blocks, axis=1)  # (T, columns)
    lines = [",".join(header)]
    for k, values in enumerate(table, start=1):
        lines.append(",".join([str(k)] + [f"{v:.6g}" for v in values]))
    return "\n".join(lines) + "\n"
