"""The cell-comparison page driven by AppTest, with small lstm/2-layer lstm/gru/rnn models and with the shipped
ones."""

from __future__ import annotations

import time

import numpy as np
import pytest
from plotly_json import chart_spec, decode

import lstmviz.memory as memory
from lstmviz.checkpoint import MODELS_DIR, load_checkpoint, save_checkpoint
from lstmviz.comparison import STACKED, TITLES
from lstmviz.evaluate import accuracy
from lstmviz.memory import relative, sensitivity_curve, untrained_like
from lstmviz.model import CELLS, ModelConfig, build_model
from lstmviz.truncation import CACHE_ENV_VAR, MODES, truncation_curves

PAGE = "pages/cells.py"
CHARTS = ("cells_fig_accuracy", "cells_fig_truncation", "cells_fig_sensitivity", "cells_fig_memory")
KEYS = ("lstm", STACKED, "gru", "rnn")  # the compared models, in the page's order


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cell_models")
    for i, cell in enumerate(CELLS):
        save_checkpoint(
            folder / f"{cell}.safetensors",
            build_model(ModelConfig(cell=cell, hidden_size=16, embed_size=16), seed=40 + i),
            {},
        )
    stacked = build_model(ModelConfig(hidden_size=16, embed_size=16, num_layers=2), seed=39)
    save_checkpoint(folder / f"{STACKED}.safetensors", stacked, {})
    return folder


@pytest.fixture
def cells_page(app, monkeypatch, tmp_path):
    """Open the page on the models of a folder; waits until the truncation curves are ready."""
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))

    def open_page(folder, timeout: float = 600.0):
        monkeypatch.setattr(memory, "MODELS_DIR", folder)
        app.run()
        app.switch_page(PAGE).run()
        start = time.monotonic()
        while app.get("progress") and time.monotonic() - start < timeout:
            time.sleep(1.0)
            app.run()
        assert not app.exception, [e.value for e in app.exception]
        assert not app.get("progress"), "the truncation curves were not ready in time"
        return app

    return open_page


def charts(at) -> dict[str, dict]:
    return {el.proto.id.rsplit("-", 1)[-1]: chart_spec(el) for el in at.get("plotly_chart")}


def lines(fig: dict) -> dict[str, np.ndarray]:
    return {t["name"]: np.asarray(decode(t["y"]), dtype=np.float64) for t in fig["data"]}


def test_four_models_overlaid(cells_page, tiny_models, test_split):
    at = cells_page(tiny_models)
    figs = charts(at)
    assert set(CHARTS) <= set(figs)
    assert not at.info and not at.error  # no model is missing, every computation worked
    models = {c: load_checkpoint(tiny_models / f"{c}.safetensors").model for c in KEYS}
    names = [TITLES[c] for c in KEYS]

    bar = figs["cells_fig_accuracy"]["data"][0]
    assert list(bar["x"]) == names
    accs = [accuracy(models[c], test_split) for c in KEYS]
    np.testing.assert_allclose(decode(bar["y"]), accs, atol=1e-6)
    (table,) = [d.value for d in at.dataframe]
    assert list(table["layers"]) == [1, 2, 1, 1]
    assert list(table["parameters"]) == [f"{models[c].n_params():,}" for c in KEYS]

    sens = lines(figs["cells_fig_sensitivity"])
    assert list(sens) == names + [f"{n}, untrained" for n in names]
    sample = test_split.images[:500]
    for c in KEYS:
        np.testing.assert_allclose(sens[TITLES[c]], relative(sensitivity_curve(models[c], sample)), rtol=1e-4)
        fresh = relative(sensitivity_curve(untrained_like(models[c].config), sample))
        np.testing.assert_allclose(sens[f"{TITLES[c]}, untrained"], fresh, rtol=1e-4)

    curves = {c: truncation_curves(models[c], test_split).accuracy for c in KEYS}
    assert at.radio(key="cells_mode").value == "occlusion"
    for mode in MODES:
        at.radio(key="cells_mode").set_value(mode).run()
        shown = lines(charts(at)["cells_fig_truncation"])
        assert list(shown) == names
        for c in KEYS:
            np.testing.assert_allclose(shown[TITLES[c]], curves[c][mode], atol=1e-9, err_msg=f"{c} {mode}")
    memory_lines = lines(charts(at)["cells_fig_memory"])
    for c in KEYS:  # the memory probe is the occlusion curve, whatever mode is selected above
        np.testing.assert_allclose(memory_lines[TITLES[c]], curves[c]["occlusion"], atol=1e-9)
    assert any("vanishing gradient" in m.value for m in at.markdown)
    assert any("Rows needed for 90%" in c.value for c in at.caption)
    # what the second layer adds, with the numbers measured here
    added = next(m.value for m in at.markdown if m.value.startswith("**What the second layer adds.**"))
    one, two = models["lstm"], models[STACKED]
    assert f"**{two.n_params():,} parameters** against {one.n_params():,}" in added
    assert f"**{accs[1]:.2%}** against {accs[0]:.2%}" in added
    p1, p2 = curves["lstm"]["occlusion"][17], curves[STACKED]["occlusion"][17]
    assert f"Remembering the top 18 rows through 10 blank steps: {p2:.1%} against {p1:.1%}" in added
    ahead = int((curves[STACKED]["early"] > curves["lstm"]["early"]).sum())
    assert f"it is ahead at {ahead} of the 28 k's" in added


def test_missing_and_wrong_models_are_skipped_with_a_note(cells_page, tiny_models, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for cell in ("lstm", "rnn"):
        (folder / f"{cell}.safetensors").write_bytes((tiny_models / f"{cell}.safetensors").read_bytes())
    (folder / "gru.safetensors").write_bytes((tiny_models / "lstm.safetensors").read_bytes())  # an LSTM in disguise
    (folder / f"{STACKED}.safetensors").write_bytes((tiny_models / "lstm.safetensors").read_bytes())  # 1 layer
    at = cells_page(folder)
    assert len(at.info) == 1
    note = at.info[0].value
    assert "GRU" in note and "lstm model, not a gru" in note and "--cell gru" in note
    assert "2-layer LSTM" in note and "has 1 layer, not 2" in note and "--cell lstm --layers 2" in note
    assert not any(m.value.startswith("**What the second layer adds") for m in at.markdown)
    figs = charts(at)
    assert set(CHARTS) <= set(figs)
    shown = [TITLES["lstm"], TITLES["rnn"]]
    assert list(figs["cells_fig_accuracy"]["data"][0]["x"]) == shown
    for key in ("cells_fig_truncation", "cells_fig_memory"):
        assert list(lines(figs[key])) == shown
    assert list(lines(figs["cells_fig_sensitivity"])) == shown + [f"{n}, untrained" for n in shown]


def test_no_models_is_a_clear_message(cells_page, tmp_path):
    at = cells_page(tmp_path)
    assert len(at.warning) == 1 and "nothing to compare" in at.warning[0].value
    assert len(at.info) == 1 and all(TITLES[c] in at.info[0].value for c in KEYS)
    assert not at.get("plotly_chart")


def test_renders_with_the_shipped_models(cells_page):
    """models/{lstm,lstm-2layer,gru,rnn}.safetensors are shipped, and all four are compared with no note."""
    assert all((MODELS_DIR / f"{c}.safetensors").is_file() for c in KEYS)
    at = cells_page(MODELS_DIR)
    assert not at.info, [i.value for i in at.info]
    figs = charts(at)
    assert set(CHARTS) <= set(figs)
    names = [TITLES[c] for c in KEYS]
    assert list(figs["cells_fig_accuracy"]["data"][0]["x"]) == names
    shipped = {c: load_checkpoint(MODELS_DIR / f"{c}.safetensors") for c in KEYS}
    bars = decode(figs["cells_fig_accuracy"]["data"][0]["y"])
    np.testing.assert_allclose(bars, [shipped[c].metrics["test_accuracy"] for c in KEYS], atol=1e-6)
    assert any(m.value.startswith("**What the second layer adds.**") for m in at.markdown)
    for key in ("cells_fig_truncation", "cells_fig_memory"):
        assert list(lines(figs[key])) == names
