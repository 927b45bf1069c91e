"""Browser test: with a 512-unit model every unit of the step-through's heatmaps is a click target of its own,
and a stacked model's layer selector redraws the views.

A fresh `streamlit run` opens the explorer on a 2-layer, 512-unit LSTM (a user model, by `?model=`). The h map
keeps 3 px per unit and scrolls (all unit maps together); hovering one unit's row and the next names two
different units, and a click on a unit far down the map (after scrolling it into view) makes the Unit inspector
show that very unit. Choosing layer 1 redraws the maps with layer 1's values at the same step. The Neuron
explorer's unit map of the same model: a click on unit 400, far down, makes it the unit shown.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lstmviz.checkpoint import save_checkpoint
from lstmviz.model import ModelConfig, build_model
from lstmviz.registry import MODELS_ENV_VAR

pytestmark = pytest.mark.browser

H = 512
NAME = "wide-512.safetensors"

# Where unit position p at step t sits in the h map, in page pixels, after scrolling the map to show it.
CELL_JS = """([p, t]) => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.lsv'));
  const root = host.shadowRoot.querySelector('.lsv');
  const canvas = root.querySelector('[data-view="h"] canvas');
  const scroller = canvas.parentElement;
  scroller.scrollIntoView({block: 'center'});
  const T = 28, H = __H__, x0 = 34;
  const r0 = canvas.getBoundingClientRect();
  const ph = r0.height - 20, ch = ph / H, cw = (r0.width - x0 - 4) / T;
  scroller.scrollTop = Math.max(0, (p + 0.5) * ch - scroller.clientHeight / 2);
  const r = canvas.getBoundingClientRect();
  const s = scroller.getBoundingClientRect();
  return {x: r.left + x0 + (t - 0.5) * cw, y: r.top + (p + 0.5) * ch, ch, scrolls: scroller.scrollHeight > scroller.clientHeight,
          visible: [s.top, s.bottom]};
}""".replace("__H__", str(H))
SCROLLS_JS = """() => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.lsv'));
  return [...host.shadowRoot.querySelectorAll('.lsv-scroll')].map(e => [e.parentElement.dataset.view, e.scrollTop]);
}"""
TIP_JS = """() => {
  const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.lsv'));
  const tip = host.shadowRoot.querySelector('.lsv-tip');
  return tip.style.display === 'none' ? '' : tip.textContent;
}"""


@pytest.fixture(scope="module")
def wide_model():
    """A 512-unit LSTM in the user models folder the server lists (conftest points it to a temp folder)."""
    folder = Path(os.environ[MODELS_ENV_VAR])
    folder.mkdir(parents=True, exist_ok=True)
    model = build_model(ModelConfig(hidden_size=H, embed_size=64, num_layers=2), seed=5)
    return save_checkpoint(folder / NAME, model, {"test_accuracy": 0.1})


def tip_at(pg, x: float, y: float) -> str:
    pg.mouse.move(x, y)
    pg.wait_for_timeout(50)
    return pg.evaluate(TIP_JS)  # "h · unit 417 · step 14: 0.012 (click: inspect)"


def unit_at(pg, x: float, y: float) -> int:
    tip = tip_at(pg, x, y)
    assert tip.startswith("h · unit "), tip
    return int(tip.split("unit ")[1].split(" ")[0])


def h_title(pg) -> str:
    return pg.evaluate("""() => {
      const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.lsv'));
      return host.shadowRoot.querySelector('[data-view="h"] .lsv-title-text').textContent;
    }""")


def test_every_unit_is_clickable_at_512_units(wide_model, page, server):
    pg = page  # conftest: 1440x900
    pg.goto(f"{server}/explorer?model={NAME}")
    pg.locator(".lsv-bar").wait_for()
    pg.get_by_text(f"Unit (0–{H - 1})").first.wait_for()  # the inspector knows the 512 units
    target = 400  # far down the map: only reachable by scrolling it
    cell = pg.evaluate(CELL_JS, [target, 14])
    assert cell["scrolls"] and cell["ch"] >= 2.9  # 3 px a unit, in a scrolling map
    assert cell["visible"][0] < cell["y"] < cell["visible"][1]
    pg.wait_for_timeout(300)
    scrolls = dict(pg.evaluate(SCROLLS_JS))  # every unit map (h, c, the four gates) scrolled with it
    assert set(scrolls) == {"h", "c", "input", "forget", "candidate", "output"}, scrolls
    assert len(set(scrolls.values())) == 1 and scrolls["h"] > 0, scrolls
    pg.mouse.move(10, 10)
    units = [unit_at(pg, cell["x"], cell["y"] + dy * cell["ch"]) for dy in (-1, 0, 1)]
    assert len(set(units)) == 3, units  # the rows above and below are other units
    pg.mouse.click(cell["x"], cell["y"])
    unit_input = pg.locator(".st-key-exp_insp_unit input")
    pg.wait_for_function(
        "([sel, v]) => { const e = document.querySelector(sel); return e && e.value === String(v); }",
        arg=[".st-key-exp_insp_unit input", units[1]],
    )
    assert unit_input.input_value() == str(units[1])
    step_input = pg.locator(".st-key-exp_insp_step input")
    assert step_input.input_value() == "14"
    assert pg.get_by_test_id("stException").count() == 0

    # the layer selector: layer 1's values replace layer 2's in the maps, at the same step
    assert h_title(pg).startswith("h (hidden state), layer 2")
    top = tip_at(pg, cell["x"], cell["y"])
    pg.locator(".st-key-exp_layer").get_by_text("1", exact=True).click()
    pg.wait_for_function(
        """() => {
          const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('.lsv'));
          const t = host && host.shadowRoot.querySelector('[data-view="h"] .lsv-title-text');
          return t && t.textContent.startsWith('h (hidden state), layer 1');
        }"""
    )
    cell = pg.evaluate(CELL_JS, [target, 14])
    pg.mouse.move(10, 10)
    first = tip_at(pg, cell["x"], cell["y"])
    assert first.split(":")[0] == top.split(":")[0]  # the same unit and step ...
    assert first != top  # ... with layer 1's value
    assert pg.get_by_test_id("stException").count() == 0


# Where unit `u` at step `t` sits in the Neuron explorer's map, in viewport pixels (from Plotly's own axes),
# after scrolling the page so that it is in view.
MAP_CELL_JS = """([u, t]) => {
  const gd = document.querySelector('.st-key-neuron_map .js-plotly-plot');
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis;
  let r = gd.getBoundingClientRect();
  const y = r.top + ya._offset + ya.l2p(u);
  let el = gd.parentElement;  // the element that scrolls the page
  while (el && !(el.scrollHeight > el.clientHeight && getComputedStyle(el).overflowY !== 'visible')) el = el.parentElement;
  el.scrollTop += y - window.innerHeight / 2;
  r = gd.getBoundingClientRect();
  return {x: r.left + xa._offset + xa.l2p(t), y: r.top + ya._offset + ya.l2p(u), ch: Math.abs(ya.l2p(1) - ya.l2p(0))};
}"""


def test_a_click_far_down_the_neuron_map_picks_that_unit_at_512_units(wide_model, page, server):
    """The Neuron explorer's map of a 512-unit model keeps a row per unit big enough to click; a click on
    unit 400 (reached by scrolling the page) makes it the unit shown, outlined in the map."""
    pg = page  # conftest: 1440x900
    pg.goto(f"{server}/neurons?model={NAME}&unit=3")
    pg.locator(".st-key-neuron_map .js-plotly-plot .scatterlayer").wait_for()
    assert pg.locator(".st-key-neuron_unit input").input_value() == "3"
    target = 400
    cell = pg.evaluate(MAP_CELL_JS, [target, 14])
    assert cell["ch"] >= 2.85 and 0 < cell["y"] < 900, cell  # about 3 px a unit (map_height), now in view
    pg.mouse.move(cell["x"], cell["y"])
    pg.wait_for_timeout(200)
    pg.mouse.click(cell["x"], cell["y"])
    pg.wait_for_function(
        "([sel, v]) => { const e = document.querySelector(sel); return e && e.value === String(v); }",
        arg=[".st-key-neuron_unit input", target],
    )
    pg.wait_for_function(  # the map redrawn with that unit outlined
        f"""() => {{
          const gd = document.querySelector('.st-key-neuron_map .js-plotly-plot');
          const shapes = gd && gd.layout && gd.layout.shapes;
          return shapes && shapes.length === 1 && shapes[0].y0 === {target} - 0.5;
        }}"""
    )
    assert pg.get_by_test_id("stException").count() == 0
