// Paint page: brush over the layer's feature grid. A stroke collects grid cells while the pointer is
// down and is sent on release; the server applies it (add = insert the class's causal units there,
// remove = ablate them), re-renders and answers with the new image and the segmenter's pixel counts.
"use strict";
(() => {
  const { $, api, setStatus } = window.ganfix;
  let state = null;
  let cls = null;        // current class name
  let op = "add";
  let brush = 1;         // cells across
  let overlay = true;
  let stroke = null;     // Map "r,c" → [r, c] while painting
  let busy = false;

  async function act(path, body, label) {
    if (busy) return;
    busy = true;
    setStatus("saving", label + "…");
    try {
      state = await api(path, body);
      setStatus("saved", label === "save" ? "saved ✓" : "ready");
    } catch (err) {
      setStatus("error", `${label} failed: ${err.message}`);
    }
    busy = false;
    render();
  }

  const color = (name) => (state.palette.find((p) => p.class === name) || { color: "#fff" }).color;

  function render() {
    if (!state) return;
    $("where").textContent = `${state.model.name} · ${state.layer} · ${state.grid[0]}×${state.grid[1]} grid · seed ${state.seed}`;
    $("image").src = state.image;
    $("timing").textContent = `render ${state.render_ms} ms`;
    $("undo").disabled = !state.can_undo;
    $("redo").disabled = !state.can_redo;
    if (document.activeElement !== $("sample")) $("sample").value = state.sample;
    $("mode-add").classList.toggle("on", op === "add");
    $("mode-remove").classList.toggle("on", op === "remove");
    $("brush").textContent = brush;
    $("saved").textContent = state.saved ? `saved to ${state.saved}` : `saves go to ${state.out}`;
    document.body.dataset.edits = String(state.edits.length);
    document.body.dataset.sample = String(state.sample);
    document.body.dataset.saved = state.saved || "";
    renderPalette();
    renderCounts();
    renderEdits();
    drawOverlay();
  }

  function renderPalette() {
    const ul = $("palette");
    ul.textContent = "";
    state.palette.forEach((p, i) => {
      const li = document.createElement("li");
      li.dataset.class = p.class;
      li.classList.toggle("current", p.class === cls);
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = p.color;
      const name = document.createElement("span");
      name.textContent = `${i + 1} · ${p.class}`;
      const units = document.createElement("span");
      units.className = "units";
      units.textContent = `${p.units.length} units`;
      units.title = `units ${p.units.join(", ")}`;
      li.append(sw, name, units);
      li.addEventListener("click", () => { cls = p.class; render(); });
      ul.append(li);
    });
  }

  function renderCounts() {
    const t = $("counts");
    t.textContent = "";
    for (const [name, now] of Object.entries(state.counts)) {
      const d = now - (state.base_counts[name] || 0);
      const tr = document.createElement("tr");
      tr.dataset.class = name;
      const cells = [name, String(now), d === 0 ? "·" : (d > 0 ? `+${d}` : String(d))];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 2 && d) td.className = d > 0 ? "up" : "down";
        tr.append(td);
      });
      t.append(tr);
    }
  }

  function renderEdits() {
    const ol = $("edits");
    ol.textContent = "";
    $("edit-count").textContent = state.edits.length ? `(${state.edits.length})` : "";
    for (const e of state.edits) {
      const li = document.createElement("li");
      const b = document.createElement("b");
      b.className = e.op;
      b.textContent = e.op === "add" ? "+ " + e.class : "- " + e.class;
      li.append(b, document.createTextNode(` · ${e.cells.length} cell${e.cells.length > 1 ? "s" : ""}`));
      ol.append(li);
    }
    ol.scrollTop = ol.scrollHeight;
  }

  function drawOverlay() {
    const cv = $("overlay");
    const box = cv.getBoundingClientRect();
    cv.width = Math.round(box.width * devicePixelRatio);
    cv.height = Math.round(box.height * devicePixelRatio);
    const ctx = cv.getContext("2d");
    ctx.clearRect(0, 0, cv.width, cv.height);
    if (!state || !overlay) return;
    const [gh, gw] = state.grid;
    const ch = cv.height / gh, cw = cv.width / gw;
    ctx.strokeStyle = "rgba(255,255,255,0.13)";
    ctx.lineWidth = 1;
    for (let r = 1; r < gh; r++) { ctx.beginPath(); ctx.moveTo(0, r * ch); ctx.lineTo(cv.width, r * ch); ctx.stroke(); }
    for (let c = 1; c < gw; c++) { ctx.beginPath(); ctx.moveTo(c * cw, 0); ctx.lineTo(c * cw, cv.height); ctx.stroke(); }
    const outline = (cells, col, dashed) => {
      ctx.strokeStyle = col;
      ctx.lineWidth = 2 * devicePixelRatio;
      ctx.setLineDash(dashed ? [5 * devicePixelRatio, 4 * devicePixelRatio] : []);
      for (const [r, c] of cells) ctx.strokeRect(c * cw + 2, r * ch + 2, cw - 4, ch - 4);
      ctx.setLineDash([]);
    };
    for (const e of state.edits) outline(e.cells, color(e.class), e.op === "remove");
    if (stroke) {
      ctx.fillStyle = op === "add" ? "rgba(95,211,141,0.35)" : "rgba(255,90,79,0.35)";
      for (const [r, c] of stroke.values()) ctx.fillRect(c * cw, r * ch, cw, ch);
    }
  }

  function cellsAt(ev) {
    const box = $("overlay").getBoundingClientRect();
    const [gh, gw] = state.grid;
    const r0 = Math.floor(((ev.clientY - box.top) / box.height) * gh);
    const c0 = Math.floor(((ev.clientX - box.left) / box.width) * gw);
    const out = [];
    const lo = -Math.floor((brush - 1) / 2);
    for (let dr = lo; dr < lo + brush; dr++)
      for (let dc = lo; dc < lo + brush; dc++) {
        const r = r0 + dr, c = c0 + dc;
        if (r >= 0 && r < gh && c >= 0 && c < gw) out.push([r, c]);
      }
    return out;
  }

  const stage = $("overlay");
  stage.addEventListener("pointerdown", (ev) => {
    if (!state || busy || !cls) return;
    stage.setPointerCapture(ev.pointerId);
    stroke = new Map();
    for (const rc of cellsAt(ev)) stroke.set(rc.join(","), rc);
    drawOverlay();
  });
  stage.addEventListener("pointermove", (ev) => {
    if (!stroke) return;
    for (const rc of cellsAt(ev)) stroke.set(rc.join(","), rc);
    drawOverlay();
  });
  const finish = () => {
    if (!stroke) return;
    const cells = [...stroke.values()];
    stroke = null;
    if (cells.length) act("api/stroke", { op, class: cls, cells }, op === "add" ? `add ${cls}` : `remove ${cls}`);
    else drawOverlay();
  };
  stage.addEventListener("pointerup", finish);
  stage.addEventListener("pointercancel", finish);

  const setSample = (n) => act("api/sample", { sample: Math.max(0, n | 0) }, "sample");
  $("mode-add").addEventListener("click", () => { op = "add"; render(); });
  $("mode-remove").addEventListener("click", () => { op = "remove"; render(); });
  $("undo").addEventListener("click", () => act("api/undo", {}, "undo"));
  $("redo").addEventListener("click", () => act("api/redo", {}, "redo"));
  $("new").addEventListener("click", () => setSample(state.sample + 1));
  $("save").addEventListener("click", () => act("api/save", {}, "save"));
  $("sample").addEventListener("change", () => setSample(Number($("sample").value)));
  window.addEventListener("resize", drawOverlay);

  document.addEventListener("keydown", (e) => {
    if (e.target === $("sample") || e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key;
    if (/^[1-9]$/.test(k) && state && state.palette[Number(k) - 1]) { cls = state.palette[Number(k) - 1].class; render(); }
    else if (k === "a") { op = "add"; render(); }
    else if (k === "r") { op = "remove"; render(); }
    else if (k === "z") act("api/undo", {}, "undo");
    else if (k === "y" || k === "Z") act("api/redo", {}, "redo");
    else if (k === "n") setSample(state.sample + 1);
    else if (k === "s") act("api/save", {}, "save");
    else if (k === "g") { overlay = !overlay; drawOverlay(); }
    else if (k === "[") { brush = Math.max(1, brush - 1); render(); }
    else if (k === "]") { brush = Math.min(8, brush + 1); render(); }
    else return;
    e.preventDefault();
  });

  async function load() {
    try {
      state = await api("api/state");
      cls = state.palette.length ? state.palette[0].class : null;
      setStatus("saved", "ready");
      render();
    } catch (err) {
      setStatus("error", `cannot load: ${err.message}`);
    }
  }
  load();
})();
