"""AppTest of the draw page: canvas, 28x28 preview, prediction, step-through, clear, upload, bad input."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw
from plotly_json import chart_spec, trace_array

from lstmviz.checkpoint import load_checkpoint
from lstmviz.evaluate import predict_proba
from lstmviz.figures.stepper import decode_matrix
from lstmviz.preprocess import canvas_to_mnist

CANVAS_COMPONENT = "streamlit-drawable-canvas.streamlit_drawable_canvas"


def draw_on_canvas(at, rgba: np.ndarray) -> None:
    """Put a drawing on the page's canvas as streamlit-drawable-canvas 0.13 reports it to Python.

    The component state is {"drawing": {"raw": fabric JSON, "data": PNG data URL}, "backgroundFit": ...}.
    """
    (canvas,) = [c for c in at.get("bidi_component") if c.proto.component_name == CANVAS_COMPONENT]
    key = canvas.proto.id.split("-", 2)[-1]  # "$$ID-<hash>-<user key>"
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    at.session_state[key] = {
        "drawing": {"raw": {"version": "6", "objects": [{"type": "Path"}]}, "data": url},
        "backgroundFit": None,
    }


def stroke_picture(points: list[tuple[int, int]], width: int = 22) -> np.ndarray:
    """White strokes on a transparent 280x280 canvas, as the page's canvas exports them (H, W, 4) uint8."""
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(img).line(points, fill=(255, 255, 255, 255), width=width, joint="curve")
    return np.asarray(img)


SEVEN = [(60, 50), (220, 50), (120, 250)]


def chart(at, key: str):
    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert found, f"no chart {key}"
    return found[0]


def chart_keys(at) -> set[str]:
    return {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}


def stepper_data(at) -> dict | None:
    """The data of the explorer's step-through component with the draw page's key, or None if absent."""
    found = [c for c in at.get("bidi_component") if c.proto.id.endswith("draw_stepper")]
    return json.loads(found[0].proto.json) if found else None


def stepthrough_shown(at) -> bool:
    return stepper_data(at) is not None


@pytest.fixture
def draw_page(app):
    app.run()
    app.switch_page("pages/draw.py").run()
    assert not app.exception
    return app


def test_empty_canvas_asks_to_draw(draw_page):
    at = draw_page
    canvases = [c for c in at.get("bidi_component") if c.proto.component_name == CANVAS_COMPONENT]
    assert len(canvases) == 1
    assert any("Draw a digit" in i.value for i in at.info)
    assert not at.error and not at.metric
    assert "draw_preview" not in chart_keys(at) and not stepthrough_shown(at)
    assert at.slider(key="draw_stroke").value == 22
    empty = chart_spec(chart(at, "draw_preview_empty"))
    assert [t["type"] for t in empty["data"]] == ["heatmap"]  # no magenta × or green + before anything is drawn


def test_drawing_shows_preview_prediction_and_stepthrough(draw_page):
    at = draw_page
    drawing = stroke_picture(SEVEN)
    draw_on_canvas(at, drawing)
    at.run()
    assert not at.exception and not at.error and not at.info
    expected = canvas_to_mnist(drawing)
    z = trace_array(chart(at, "draw_preview"), 0, "z")
    assert z.shape == (28, 28) and np.allclose(z, expected, atol=1e-6)
    probs = predict_proba(load_checkpoint().model, expected[None])[0]
    assert at.metric[0].value == str(int(probs.argmax())) == "7"
    bars = trace_array(chart(at, "draw_probs"), 0, "y")
    assert np.allclose(bars, probs, atol=1e-4)
    payload = stepper_data(at)
    assert payload["start"] == payload["n_steps"] == 28  # a new drawing opens at its end
    assert payload["label"] is None and payload["prediction"] == 7
    assert np.allclose(decode_matrix(payload["image"]), expected, atol=1e-4)
    assert np.allclose(decode_matrix(payload["probs"])[-1], probs, atol=1e-4)

    one = stroke_picture([(140, 40), (140, 240)])  # another drawing: the component gets its trace
    draw_on_canvas(at, one)
    at.run()
    again = stepper_data(at)
    assert again["id"] != payload["id"] and again["start"] == 28
    assert np.allclose(decode_matrix(again["image"]), canvas_to_mnist(one), atol=1e-4)


def test_clear_returns_to_the_prompt(draw_page):
    at = draw_page
    draw_on_canvas(at, stroke_picture([(140, 40), (140, 240)]))
    at.run()
    assert at.metric
    at.button(key="draw_clear").click().run()
    assert not at.exception and not at.metric and not stepthrough_shown(at)
    assert any("Draw a digit" in i.value for i in at.info)
    (canvas,) = at.get("bidi_component")
    assert canvas.proto.id.endswith("draw_canvas_1")


def test_a_speck_on_the_canvas_is_not_a_digit(draw_page):
    at = draw_page
    draw_on_canvas(at, stroke_picture([(140, 140), (141, 140)], width=3))
    at.run()
    assert not at.exception and not at.error and not at.metric
    assert any("Draw a digit" in i.value for i in at.info)


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def upload(at, name: str, data: bytes, mime: str = "image/png"):
    at.radio(key="draw_source").set_value("upload").run()
    at.file_uploader(key="draw_upload").set_value((name, data, mime)).run()
    assert not at.exception
    return at


def test_upload_of_a_scanned_digit_is_read(draw_page, test_split):
    image = test_split.images[0].numpy()
    scan = Image.fromarray((255 - image * 255).astype(np.uint8)).resize((420, 420))  # dark ink on paper, large
    at = upload(draw_page, "scan.png", png(np.asarray(scan)))
    assert not at.error and at.metric[0].value == str(int(test_split.labels[0]))
    assert "draw_preview" in chart_keys(at) and stepthrough_shown(at)


def test_upload_prompt_and_blank_file(draw_page):
    at = draw_page
    at.radio(key="draw_source").set_value("upload").run()
    assert not at.exception and not at.metric
    assert any("Choose a picture" in i.value for i in at.info)
    upload(at, "white.png", png(np.full((64, 64), 255, np.uint8)))
    assert not at.error and not at.metric and any("blank" in i.value for i in at.info)


def bomb_png(side: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [("notes.png", b"this is not an image", "not a PNG or JPEG"), ("bomb.png", bomb_png(100_000), "bomb|too large")],
)
def test_bad_uploads_get_a_clear_error(draw_page, name, data, message):
    import re

    at = upload(draw_page, name, data)
    assert len(at.error) == 1 and re.search(message, at.error[0].value) and name in at.error[0].value
    assert not at.metric
    at.radio(key="draw_source").set_value("draw").run()  # the session carries on
    assert not at.exception and not at.error and any("Draw a digit" in i.value for i in at.info)
