// lstmviz step-through: every step-dependent view of one digit, drawn and stepped in the browser.
//
// Python sends the whole trace once (lstmviz/figures/stepper.py: stepper_payload); a step change
// (Prev / Next / slider / arrow keys / Play) redraws every view here, synchronously, and sends
// nothing to the server. A click on a heatmap cell reports {view, unit, step} as the "cell" state.
// Every view carries data-step (the step it shows); every marker is one element with data-mark.

const PLAY_MS = 320;
const MAP_UNITS = 280; // up to 128 units share 280 px (at most 4 px a unit) ...
const UNIT_PX = 3; // ... more units get 3 px each: a unit stays a click target at any width
const MAP_MAX = 480; // taller heatmaps (more than 152 units) scroll, all maps of the digit together
const SCROLLBAR = 14;
const DIM = 0.22; // ink of unread rows is multiplied by this
const MEMORY = (window.__lstmvizStepper = window.__lstmvizStepper || new Map()); // key -> {id, step}

function decode(m) {
  const bin = atob(m.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const q = new Int16Array(bytes.buffer);
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i] * m.scale;
  return { v: out, rows: m.shape[0], cols: m.shape[1] };
}

function parseColor(c) {
  if (c[0] === "#") return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
  return c.match(/[\d.]+/g).slice(0, 3).map(Number);
}

function makeScale(stops, lo, hi) {
  const pos = stops.map((s) => s[0]);
  const rgb = stops.map((s) => parseColor(s[1]));
  const lut = [];
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let j = 1;
    while (j < pos.length - 1 && pos[j] < t) j++;
    const f = Math.min(1, Math.max(0, (t - pos[j - 1]) / (pos[j] - pos[j - 1] || 1)));
    lut.push(rgb[j - 1].map((a, n) => Math.round(a + f * (rgb[j][n] - a))));
  }
  const fn = (v) => lut[Math.max(0, Math.min(255, Math.round(((v - lo) / (hi - lo)) * 255)))];
  fn.css = (v) => `rgb(${fn(v).join(",")})`;
  fn.gradient = `linear-gradient(to right, ${stops.map((s) => `${s[1]} ${(s[0] * 100).toFixed(1)}%`).join(", ")})`;
  return fn;
}

function el(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}

function fmt(v, d = 3) {
  return (v < 0 ? "−" : "") + Math.abs(v).toFixed(d);
}

// **bold** and `code` in captions, everything else as plain text
function richText(parent, text) {
  const parts = String(text).split(/(\*\*[^*]+\*\*|`[^`]+`)/);
  for (const p of parts) {
    if (p.startsWith("**")) el("b", null, parent, p.slice(2, -2));
    else if (p.startsWith("`")) el("code", null, parent, p.slice(1, -1));
    else if (p) parent.appendChild(document.createTextNode(p));
  }
}

function setupCanvas(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

class Stepper {
  constructor(parent, key) {
    this.key = key;
    this.root = el("div", "lsv");
    this.root.tabIndex = 0;
    parent.appendChild(this.root);
    this.timer = null;
    this.k = 0;
    this.onKey = (e) => this.key_(e);
    window.addEventListener("keydown", this.onKey);
    this.resize = new ResizeObserver(() => {
      const w = this.root.clientWidth;
      if (this.d && w > 0 && Math.abs(w - (this.width || 0)) > 4) {
        this.build();
        this.go(this.k);
      }
    });
    this.resize.observe(this.root);
  }

  destroy() {
    this.stop();
    window.removeEventListener("keydown", this.onKey);
    this.resize.disconnect();
    this.root.remove();
    this.dead = true;
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    const sig = `${data.id}|${data.layer}|${data.order.join(",")}|${data.start}`; // a new layer redraws, same step
    if (sig === this.sig) return;
    this.sig = sig;
    this.d = data;
    this.root.style.setProperty("--lsv-mark", data.colors.mark); // the app's one mark colour (figures.common.MARK)
    const mem = MEMORY.get(this.key);
    const k = mem && mem.id === data.id ? mem.step : data.start;
    this.decoded = {
      image: decode(data.image),
      rows: decode(data.rows),
      probs: decode(data.probs),
      states: data.states.map((s) => ({ ...s, m: decode(s.values) })),
      gates: data.gates.map((g) => ({ ...g, m: decode(g.values) })),
    };
    this.scales = {
      diverging: (r) => makeScale(data.colors.diverging, r[0], r[1]),
      sequential: (r) => makeScale(data.colors.sequential, r[0], r[1]),
    };
    this.stop();
    this.build();
    this.go(k);
  }

  // ------------------------------------------------------------------ layout

  build() {
    const d = this.d;
    const D = this.decoded;
    this.root.textContent = "";
    this.width = this.root.clientWidth || 1000;
    const W = this.width;
    this.views = [];
    this.marks = [];

    // the sticky step bar: the one control of every view below
    const bar = el("div", "lsv-bar", this.root);
    this.prev = el("button", "lsv-btn", bar, "◀ Prev");
    this.playBtn = el("button", "lsv-btn lsv-play", bar, this.timer ? "❚❚ Pause" : "▶ Play");
    this.next = el("button", "lsv-btn", bar, "Next ▶");
    this.slider = el("input", "lsv-slider", bar);
    Object.assign(this.slider, { type: "range", min: 0, max: d.n_steps, step: 1 });
    this.slider.setAttribute("aria-label", "Rows read (step)");
    this.heading = el("div", "lsv-heading", bar);
    this.heading.dataset.view = "heading";
    this.prev.title = "Previous row (←)";
    this.next.title = "Next row (→)";
    this.playBtn.title = "Play all rows (space)";
    this.prev.onclick = () => (this.stop(), this.go(this.k - 1));
    this.next.onclick = () => (this.stop(), this.go(this.k + 1));
    this.playBtn.onclick = () => this.toggle();
    this.slider.oninput = () => (this.stop(), this.go(Number(this.slider.value)));

    const cap = d.captions || {};

    // row 1: the digit, probabilities over time, probabilities now
    const r1 = el("div", "lsv-row", this.root);
    const side = Math.min(230, Math.max(150, Math.round(W * 0.19)));
    this.digit = this.digitView(r1, side);
    const barsW = Math.min(300, Math.round(W * 0.26));
    const linesW = Math.max(240, W - side - barsW - 2 * 16 - 8);
    this.lines = this.linesView(r1, linesW, side + 22);
    this.now = this.nowView(r1, barsW, side + 22);

    // row 2: h and c, units x steps
    const r2 = el("div", "lsv-row", this.root);
    const nState = D.states.length;
    const stateW = Math.floor((W - 16 * (nState - 1) - 4) / nState);
    const unitPx = d.n_units <= 128 ? Math.min(4, MAP_UNITS / d.n_units) : UNIT_PX;
    const mapH = Math.round(unitPx * d.n_units) + 22;
    this.scrollers = [];
    this.stateMaps = D.states.map((s) => this.heatmapView(r2, s, stateW, mapH, true));
    if (!D.states.some((s) => s.name === "c") && cap.no_c) {
      const info = el("div", "lsv-info", r2);
      richText(info, cap.no_c);
    }
    this.captionRow([cap.h, nState > 1 ? cap.c : null].filter(Boolean), stateW);
    if (cap.reading) this.captionRow([cap.reading], W - 4);

    // row 3: the input row and the state now, as bars
    const r3 = el("div", "lsv-row", this.root);
    const rowW = Math.round(W * 0.36);
    this.rowView = this.inputView(r3, rowW, 170);
    this.stateBars = this.stateBarsView(r3, W - rowW - 20, 170);
    this.captionRow([cap.row, cap.state_bars], null, [rowW, W - rowW - 20]);

    // row 4: the gates
    if (D.gates.length) {
      el("div", "lsv-section", this.root, `Gates: ${d.n_units} units × ${d.n_steps} steps, the same unit order`);
      const r4 = el("div", "lsv-row lsv-gates", this.root);
      const n = D.gates.length;
      const gW = Math.floor((W - 12 * (n - 1) - 4) / n);
      this.gateMaps = D.gates.map((g, i) => this.heatmapView(r4, g, gW, mapH, i === 0, true));
    } else {
      this.gateMaps = [];
    }
    if (cap.gates) richText(el("div", "lsv-cap", this.root), cap.gates);

    this.tip = el("div", "lsv-tip", this.root);
    this.tip.style.display = "none";
  }

  captionRow(texts, width, widths) {
    if (!texts.length) return;
    const row = el("div", "lsv-row lsv-caps", this.root);
    texts.forEach((t, i) => {
      const c = el("div", "lsv-cap", row);
      c.style.width = `${widths ? widths[i] : width}px`;
      richText(c, t);
    });
  }

  panel(parent, view, title, w) {
    const p = el("div", "lsv-panel", parent);
    p.dataset.view = view;
    p.style.width = `${w}px`;
    const t = el("div", "lsv-title", p);
    const text = el("span", "lsv-title-text", t, title);
    const plot = el("div", "lsv-plot", p);
    const canvas = el("canvas", null, plot);
    this.views.push(p);
    return { p, t, text, plot, canvas };
  }

  mark(plot, view, cls) {
    const m = el("div", `lsv-mark ${cls || ""}`, plot);
    m.dataset.mark = view;
    this.marks.push(m);
    return m;
  }

  legend(titleEl, scale, range) {
    const lg = el("span", "lsv-legend", titleEl);
    el("span", null, lg, fmt(range[0], 1).replace(/\.0$/, ""));
    const g = el("span", "lsv-grad", lg);
    g.style.background = scale.gradient;
    el("span", null, lg, `+${fmt(range[1], 1)}`.replace(/\.0$/, "").replace("+−", "−"));
  }

  hover(target, lookup) {
    target.addEventListener("mousemove", (e) => {
      const r = target.getBoundingClientRect();
      const text = lookup(e.clientX - r.left, e.clientY - r.top);
      if (!text) return (this.tip.style.display = "none");
      const root = this.root.getBoundingClientRect();
      this.tip.textContent = text;
      this.tip.style.display = "block";
      this.tip.style.left = `${e.clientX - root.left + 14}px`;
      this.tip.style.top = `${e.clientY - root.top + 14}px`;
    });
    target.addEventListener("mouseleave", () => (this.tip.style.display = "none"));
  }

  // ------------------------------------------------------------------ views

  digitView(parent, side) {
    const D = this.decoded;
    const v = this.panel(parent, "digit", "the digit, row by row", side);
    const n = D.image.rows, m = D.image.cols;
    const ctx = setupCanvas(v.canvas, side, side);
    const off = document.createElement("canvas");
    off.width = m;
    off.height = n;
    const img = off.getContext("2d").createImageData(m, n);
    for (let i = 0; i < n * m; i++) {
      const g = Math.round(255 * (1 - Math.max(0, Math.min(1, D.image.v[i])))); // ink black on white, as the figures
      img.data.set([g, g, g, 255], i * 4);
    }
    off.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, 0, 0, side, side);
    const veil = el("div", "lsv-veil", v.plot);
    veil.style.opacity = String(1 - DIM);
    const box = this.mark(v.plot, "digit", "lsv-rowbox");
    const px = side / n;
    this.hover(v.canvas, (x, y) => {
      const r = Math.floor(y / px), c = Math.floor(x / px);
      if (r < 0 || r >= n || c < 0 || c >= m) return null;
      return `row ${r + 1}, column ${c + 1}: ${D.image.v[r * m + c].toFixed(2)}${r + 1 > this.k ? " (not read yet)" : ""}`;
    });
    return {
      ...v,
      draw: (k) => {
        veil.style.top = `${k * px}px`;
        veil.style.height = `${(n - k) * px}px`;
        veil.style.display = k < n ? "block" : "none";
        box.style.display = k > 0 ? "block" : "none";
        box.style.top = `${(k - 1) * px}px`;
        box.style.height = `${px}px`;
      },
    };
  }

  axes(ctx, x0, y0, pw, ph, nSteps, yTicks) {
    ctx.strokeStyle = "#bbb";
    ctx.lineWidth = 1;
    ctx.fillStyle = "#555";
    ctx.font = "11px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let s = 4; s <= nSteps; s += 4) ctx.fillText(String(s), x0 + ((s - 0.5) / nSteps) * pw, y0 + ph + 4);
    if (yTicks) {
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (const [v, y] of yTicks) ctx.fillText(v, x0 - 4, y);
    }
  }

  linesView(parent, w, h) {
    const d = this.d, D = this.decoded;
    const T = d.n_steps, C = d.n_classes;
    const who = d.label === null ? "predicted class" : "true class";
    const v = this.panel(parent, "lines", `probabilities over time (${who} ${d.focus} thick)`, w);
    const ctx = setupCanvas(v.canvas, w, h);
    const x0 = 34, y0 = 6, pw = w - x0 - 8, ph = h - y0 - 22;
    const X = (s) => x0 + ((s - 0.5) / T) * pw; // step s (1..T) at its column centre
    const Y = (p) => y0 + (1 - p) * ph;
    const line = this.mark(v.plot, "lines", "lsv-stepline");
    line.style.top = `${y0}px`;
    line.style.height = `${ph}px`;
    this.hover(v.canvas, (x, y) => {
      const s = Math.round(((x - x0) / pw) * T + 0.5);
      if (s < 1 || s > this.k || y < y0 || y > y0 + ph) return null;
      let best = 0;
      for (let c = 1; c < C; c++) if (Math.abs(Y(D.probs.v[(s - 1) * C + c]) - y) < Math.abs(Y(D.probs.v[(s - 1) * C + best]) - y)) best = c;
      return `step ${s}: p(${best}) = ${D.probs.v[(s - 1) * C + best].toFixed(3)}`;
    });
    return {
      ...v,
      draw: (k) => {
        ctx.clearRect(0, 0, w, h);
        ctx.strokeStyle = "#eee";
        ctx.lineWidth = 1;
        for (const p of [0, 0.25, 0.5, 0.75, 1]) {
          ctx.beginPath();
          ctx.moveTo(x0, Y(p));
          ctx.lineTo(x0 + pw, Y(p));
          ctx.stroke();
        }
        this.axes(ctx, x0, y0, pw, ph, T, [0, 0.5, 1].map((p) => [p.toFixed(1), Y(p)]));
        const order = [...Array(C).keys()].filter((c) => c !== d.focus).concat([d.focus]);
        for (const c of order) {
          ctx.strokeStyle = d.colors.classes[c];
          ctx.globalAlpha = c === d.focus ? 1 : 0.6;
          ctx.lineWidth = c === d.focus ? 4.5 : 1.8;
          ctx.lineJoin = "round";
          ctx.beginPath();
          for (let s = 1; s <= k; s++) {
            const y = Y(D.probs.v[(s - 1) * C + c]);
            if (s === 1) ctx.moveTo(X(s), y);
            else ctx.lineTo(X(s), y);
          }
          if (k === 1) ctx.lineTo(X(1) + 1, Y(D.probs.v[c]));
          ctx.stroke();
        }
        ctx.globalAlpha = 1;
        line.style.display = k > 0 ? "block" : "none";
        line.style.left = `${X(k) - 1.5}px`;
      },
    };
  }

  nowView(parent, w, h) {
    const d = this.d, D = this.decoded;
    const C = d.n_classes;
    const v = this.panel(parent, "now", "probabilities now", w);
    const ctx = setupCanvas(v.canvas, w, h);
    const x0 = 30, y0 = 16, pw = w - x0 - 6, ph = h - y0 - 22;
    const bw = pw / C;
    this.hover(v.canvas, (x) => {
      const c = Math.floor((x - x0) / bw);
      if (c < 0 || c >= C) return null;
      return this.k ? `digit ${c}: ${D.probs.v[(this.k - 1) * C + c].toFixed(3)}` : `digit ${c}: no row read yet`;
    });
    return {
      ...v,
      draw: (k) => {
        v.text.textContent = k ? `probabilities after ${k} rows` : "probabilities: no row read yet";
        ctx.clearRect(0, 0, w, h);
        ctx.strokeStyle = "#eee";
        ctx.lineWidth = 1;
        for (const p of [0.5, 1]) {
          ctx.beginPath();
          ctx.moveTo(x0, y0 + (1 - p) * ph);
          ctx.lineTo(x0 + pw, y0 + (1 - p) * ph);
          ctx.stroke();
        }
        ctx.fillStyle = "#555";
        ctx.font = "11px sans-serif";
        ctx.textAlign = "right";
        ctx.textBaseline = "middle";
        for (const p of [0, 0.5, 1]) ctx.fillText(p.toFixed(1), x0 - 4, y0 + (1 - p) * ph);
        ctx.textAlign = "center";
        for (let c = 0; c < C; c++) {
          const p = k ? D.probs.v[(k - 1) * C + c] : 0;
          const x = x0 + c * bw + bw * 0.12, bwi = bw * 0.76;
          ctx.fillStyle = d.colors.classes[c];
          ctx.fillRect(x, y0 + (1 - p) * ph, bwi, p * ph);
          if (c === d.focus) {
            ctx.strokeStyle = "#111";
            ctx.lineWidth = 2.5;
            ctx.strokeRect(x, y0 + (1 - p) * ph, bwi, Math.max(p * ph, 1));
          }
          ctx.fillStyle = "#333";
          ctx.textBaseline = "top";
          ctx.font = c === d.focus ? "bold 13px sans-serif" : "12px sans-serif";
          ctx.fillText(String(c), x + bwi / 2, y0 + ph + 5);
          ctx.font = "11px sans-serif";
          ctx.textBaseline = "bottom";
          if (p >= 0.05) ctx.fillText(p.toFixed(2), x + bwi / 2, y0 + (1 - p) * ph - 2);
        }
      },
    };
  }

  heatmapView(parent, spec, w, h, withUnits, short) {
    const d = this.d;
    const T = d.n_steps, H = d.n_units;
    const M = spec.m;
    const v = this.panel(parent, spec.name, short ? spec.title : `${spec.title}: ${H} units × ${T} steps`, w);
    const scale = this.scales[spec.scale](spec.range);
    this.legend(v.t, scale, spec.range);
    if (h > MAP_MAX) {
      // many units: the map keeps UNIT_PX per unit and scrolls; every map of the digit scrolls with it
      v.plot.classList.add("lsv-scroll");
      v.plot.style.maxHeight = `${MAP_MAX}px`;
      w -= SCROLLBAR;
      const scrollers = this.scrollers;
      scrollers.push(v.plot);
      v.plot.addEventListener("scroll", () => {
        for (const other of scrollers) if (other !== v.plot && other.scrollTop !== v.plot.scrollTop) other.scrollTop = v.plot.scrollTop;
      });
    }
    const ctx = setupCanvas(v.canvas, w, h);
    const x0 = withUnits ? 34 : 6, y0 = 0, pw = w - x0 - 4, ph = h - y0 - 20;
    const cw = pw / T, ch = ph / H;
    const off = document.createElement("canvas");
    off.width = T;
    off.height = H;
    const img = off.getContext("2d").createImageData(T, H);
    for (let t = 0; t < T; t++) {
      for (let u = 0; u < H; u++) img.data.set([...scale(M.v[t * H + u]), 255], (u * T + t) * 4);
    }
    off.getContext("2d").putImageData(img, 0, 0);
    const box = this.mark(v.plot, spec.name, "lsv-colbox");
    box.style.top = `${y0}px`;
    box.style.height = `${ph}px`;
    box.style.width = `${cw}px`;
    const cell = (x, y) => {
      const t = Math.floor((x - x0) / cw), p = Math.floor((y - y0) / ch);
      return t < 0 || t >= T || p < 0 || p >= H ? null : { step: t + 1, pos: p, unit: d.order[p] };
    };
    this.hover(v.canvas, (x, y) => {
      const c = cell(x, y);
      if (!c) return null;
      const value = c.step > this.k ? "not read yet" : fmt(M.v[(c.step - 1) * H + c.pos]);
      return `${spec.name} · unit ${c.unit} · step ${c.step}: ${value} (click: inspect)`;
    });
    v.canvas.style.cursor = "pointer";
    v.canvas.addEventListener("click", (e) => {
      const r = v.canvas.getBoundingClientRect();
      const c = cell(e.clientX - r.left, e.clientY - r.top);
      if (c && this.setStateValue) this.setStateValue("cell", { view: spec.name, unit: c.unit, step: c.step });
    });
    return {
      ...v,
      draw: (k) => {
        ctx.clearRect(0, 0, w, h);
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(off, 0, 0, T, H, x0, y0, pw, ph);
        ctx.fillStyle = d.colors.unread;
        ctx.fillRect(x0 + k * cw, y0, pw - k * cw, ph);
        const ticks = withUnits ? [[0, y0 + ch / 2], [H - 1, y0 + ph - ch / 2]].map(([p, y]) => [String(p), y]) : null;
        this.axes(ctx, x0, y0, pw, ph, T, ticks);
        box.style.display = k > 0 ? "block" : "none";
        box.style.left = `${x0 + (k - 1) * cw}px`;
      },
    };
  }

  inputView(parent, w, h) {
    const D = this.decoded;
    const F = D.rows.cols;
    const v = this.panel(parent, "row", "", w);
    const ctx = setupCanvas(v.canvas, w, h);
    const x0 = 30, y0 = 6, pw = w - x0 - 6, ph = h - y0 - 20;
    const bw = pw / F;
    this.hover(v.canvas, (x) => {
      const c = Math.floor((x - x0) / bw);
      if (c < 0 || c >= F || !this.k) return null;
      return `row ${this.k}, column ${c + 1}: ${D.rows.v[(this.k - 1) * F + c].toFixed(2)}`;
    });
    return {
      ...v,
      draw: (k) => {
        v.text.textContent = k ? `input at step ${k}: row ${k}, ${F} numbers` : "input: no row yet";
        ctx.clearRect(0, 0, w, h);
        this.axes(ctx, x0, y0, pw, ph, 0, [["0", y0 + ph], ["1", y0]]);
        ctx.strokeStyle = "#ddd";
        ctx.beginPath();
        ctx.moveTo(x0, y0 + ph);
        ctx.lineTo(x0 + pw, y0 + ph);
        ctx.stroke();
        for (let c = 0; c < F; c++) {
          const val = k ? Math.max(0, Math.min(1, D.rows.v[(k - 1) * F + c])) : 0;
          const g = Math.round(255 * (1 - val));
          ctx.fillStyle = `rgb(${g},${g},${g})`;
          ctx.strokeStyle = "#555";
          ctx.lineWidth = 1;
          const x = x0 + c * bw + 1;
          ctx.fillRect(x, y0 + (1 - val) * ph, bw - 2, val * ph);
          if (val > 0) ctx.strokeRect(x, y0 + (1 - val) * ph, bw - 2, val * ph);
        }
      },
    };
  }

  stateBarsView(parent, w, h) {
    const d = this.d, D = this.decoded;
    const H = d.n_units;
    const v = this.panel(parent, "bars", "", w);
    const ctx = setupCanvas(v.canvas, w, h);
    const n = D.states.length;
    const x0 = 34, gap = 12, pw = w - x0 - 6;
    const ph = (h - gap * (n - 1) - 4) / n;
    const bw = pw / H;
    const scales = D.states.map((s) => this.scales[s.scale](s.range));
    this.hover(v.canvas, (x, y) => {
      const p = Math.floor((x - x0) / bw), r = Math.floor(y / (ph + gap));
      if (p < 0 || p >= H || r < 0 || r >= n || !this.k) return null;
      const s = D.states[r];
      return `${s.name} · unit ${d.order[p]}: ${fmt(s.m.v[(this.k - 1) * H + p])}`;
    });
    return {
      ...v,
      draw: (k) => {
        v.text.textContent = k ? `state after step ${k} (one bar per unit, same order)` : "state before reading";
        ctx.clearRect(0, 0, w, h);
        D.states.forEach((s, r) => {
          const top = r * (ph + gap), half = s.range[1];
          const mid = top + ph / 2;
          ctx.strokeStyle = "#888";
          ctx.lineWidth = 1;
          ctx.beginPath();
          ctx.moveTo(x0, mid);
          ctx.lineTo(x0 + pw, mid);
          ctx.stroke();
          ctx.fillStyle = "#555";
          ctx.font = "11px sans-serif";
          ctx.textAlign = "right";
          ctx.textBaseline = "middle";
          ctx.fillText(s.name, x0 - 18, mid);
          ctx.textBaseline = "top";
          ctx.fillText(`+${half.toFixed(1)}`, x0 - 2, top);
          ctx.textBaseline = "bottom";
          ctx.fillText(`−${half.toFixed(1)}`, x0 - 2, top + ph);
          if (!k) return;
          for (let p = 0; p < H; p++) {
            const val = s.m.v[(k - 1) * H + p];
            const len = (Math.max(-half, Math.min(half, val)) / half) * (ph / 2);
            ctx.fillStyle = scales[r].css(val);
            ctx.fillRect(x0 + p * bw, Math.min(mid, mid - len), Math.max(bw - 0.3, 0.8), Math.abs(len));
          }
        });
      },
    };
  }

  // ------------------------------------------------------------------ stepping

  headingText(k) {
    const d = this.d, D = this.decoded;
    const h = this.heading;
    h.textContent = "";
    const T = d.n_steps, C = d.n_classes;
    if (k === 0) {
      el("span", null, h, `Step 0 of ${T}: nothing read yet`);
      return;
    }
    let g = 0;
    for (let c = 1; c < C; c++) if (D.probs.v[(k - 1) * C + c] > D.probs.v[(k - 1) * C + g]) g = c;
    el("span", null, h, `Step ${k} of ${T}: rows 1–${k} read · `);
    const guess = el("span", "lsv-nowrap", h, "best guess now ");
    el("b", null, guess, String(g));
    guess.appendChild(document.createTextNode(` (p = ${D.probs.v[(k - 1) * C + g].toFixed(2)})`));
    if (d.label !== null) {
      const ok = g === d.label;
      el("span", ok ? "lsv-ok" : "lsv-bad", guess, ok ? " ✓" : " ✗");
    }
  }

  go(k) {
    if (!this.d || this.dead) return;
    const T = this.d.n_steps;
    k = Math.max(0, Math.min(T, Math.round(k)));
    this.k = k;
    MEMORY.set(this.key, { id: this.d.id, step: k });
    this.slider.value = String(k);
    this.headingText(k);
    for (const view of [this.digit, this.lines, this.now, ...this.stateMaps, this.rowView, this.stateBars, ...this.gateMaps]) {
      view.draw(k);
    }
    for (const v of [this.heading, ...this.views]) v.dataset.step = String(k);
    this.root.dataset.step = String(k);
    this.prev.disabled = k === 0;
    this.next.disabled = k === T;
    if (this.d.url_step) this.stepToUrl(this.d.url_step, k);
  }

  // The address bar stays a link to this view (lstmviz.ui.links): `?step=k`, replaced, not pushed.
  stepToUrl(param, k) {
    try {
      const url = new URL(window.location.href);
      if (url.searchParams.get(param) === String(k)) return;
      url.searchParams.set(param, String(k));
      window.history.replaceState(window.history.state, "", url);
    } catch (e) {
      /* no history API (sandboxed): the link keeps the step the page opened at */
    }
  }

  toggle() {
    if (this.timer) return this.stop();
    if (this.k >= this.d.n_steps) this.go(0);
    this.playBtn.textContent = "❚❚ Pause";
    this.root.dataset.playing = "1";
    this.timer = setInterval(() => {
      this.go(this.k + 1);
      if (this.k >= this.d.n_steps) this.stop();
    }, PLAY_MS);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.playBtn) this.playBtn.textContent = "▶ Play";
    if (this.root) delete this.root.dataset.playing;
  }

  key_(e) {
    if (!this.d || this.dead || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const target = (e.composedPath && e.composedPath()[0]) || e.target;
    const tag = (target && target.tagName) || "";
    const inRoot = this.root.contains(target) || target === this.root;
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag) || (target && target.isContentEditable)) return;
    if (target && target.closest && target.closest("[role=slider],[role=listbox],[role=combobox],[role=tab],[role=radio],[role=spinbutton]")) return;
    if (!this.root.isConnected || !this.root.offsetParent) return;
    const moves = { ArrowLeft: -1, ArrowRight: 1 };
    if (e.key in moves) {
      this.stop();
      this.go(this.k + moves[e.key]);
    } else if (inRoot && e.key === "Home") this.go(0);
    else if (inRoot && e.key === "End") this.go(this.d.n_steps);
    else if (inRoot && e.key === " " && tag !== "BUTTON") this.toggle(); // a focused button clicks itself
    else return;
    e.preventDefault();
  }
}

export default function (component) {
  const { data, parentElement, setStateValue, key } = component;
  let inst = parentElement.__lsvStepper;
  if (!inst || inst.dead) {
    inst = new Stepper(parentElement, key || "stepper");
    parentElement.__lsvStepper = inst;
  }
  if (data) inst.update(data, setStateValue);
  return () => {
    inst.destroy();
    parentElement.__lsvStepper = null;
  };
}
