// Labelling page: keyboard-driven review of one unit's contact sheet at a time.
// All state lives on the server (the annotation file); every change is POSTed and only shown as
// saved once the server has written the file, so a reload or a killed server loses nothing.
"use strict";
(() => {
  const { token, $, api, setStatus } = window.ganfix;
  let units = [];      // ranking order: [{unit, rank, of, score, top_max, rate, file}]
  let labels = {};     // "unit" → {marked, text, time}
  let pos = 0;         // index into units
  let pending = 0;     // requests in flight
  let plain = false;   // show the samples without the overlay (key o)

  const cur = () => units[pos];
  const label = (u) => labels[String(u)] || { marked: false, text: "" };
  const markedUnits = () => units.filter((u) => label(u.unit).marked).map((u) => u.unit);

  function render() {
    const u = cur();
    if (!u) return;
    const l = label(u.unit);
    $("unit-title").textContent = `unit ${u.unit}`;
    const score = u.by === "ablation" ? `ΔFID alone ${(-u.score).toPrecision(3)}` : `score ${u.score.toPrecision(3)}`;
    $("unit-rank").textContent = `rank ${u.rank} of ${u.of} · ${score} · top max ${u.top_max.toPrecision(3)} · rate ${u.rate.toFixed(3)}`;
    const file = plain && u.plain ? u.plain : u.file;
    const src = `sheets/${file}?token=${encodeURIComponent(token)}`;
    if ($("sheet").getAttribute("src") !== src) $("sheet").setAttribute("src", src);
    $("toggle").textContent = l.marked ? "✕ ARTIFACT" : "not marked";
    $("toggle").classList.toggle("on", !!l.marked);
    $("frame").classList.toggle("marked", !!l.marked);
    if (document.activeElement !== $("label")) $("label").value = l.text || "";
    $("progress-text").textContent = `${pos + 1} / ${units.length} · ${markedUnits().length} marked`;
    $("progress-bar").style.width = `${(100 * (pos + 1)) / units.length}%`;
    renderMarked();
    history.replaceState(null, "", `${location.pathname}${location.search}#u=${u.unit}`);
  }

  function renderMarked() {
    const list = $("marked");
    list.textContent = "";
    const marked = markedUnits();
    $("marked-count").textContent = marked.length;
    $("marked-empty").hidden = marked.length > 0;
    for (const unit of marked) {
      const li = document.createElement("li");
      li.dataset.unit = unit;
      li.classList.toggle("current", unit === cur().unit);
      const b = document.createElement("b");
      b.textContent = `unit ${unit}`;
      const span = document.createElement("span");
      span.textContent = label(unit).text || "";
      li.append(b, span);
      li.addEventListener("click", () => go(units.findIndex((u) => u.unit === unit)));
      list.append(li);
    }
  }

  function go(i) {
    if (!units.length) return;
    pos = Math.max(0, Math.min(units.length - 1, i));
    render();
  }

  async function save(change) {
    pending++;
    setStatus("saving", "saving…");
    try {
      const data = await api("api/label", change);
      labels = data.labels;
      pending--;
      if (!pending) setStatus("saved", data.note ? `saved ✓ · ${data.note}` : "saved ✓");
    } catch (err) {
      pending--;
      setStatus("error", `not saved: ${err.message}`);
    }
    render();
  }

  function toggle() {
    const u = cur();
    const marked = !label(u.unit).marked;
    labels[String(u.unit)] = { ...label(u.unit), marked };  // optimistic; the reply is authoritative
    render();
    save({ unit: u.unit, marked });
  }

  function saveText() {
    const u = cur();
    const text = $("label").value.trim();
    if (text === (label(u.unit).text || "")) return;
    labels[String(u.unit)] = { ...label(u.unit), text };
    save({ unit: u.unit, text });
  }

  function nextUnmarked() {
    for (let i = pos + 1; i < units.length; i++) if (!label(units[i].unit).marked) return go(i);
  }

  document.addEventListener("keydown", (e) => {
    if (e.target === $("label")) {
      if (e.key === "Enter") { e.preventDefault(); $("label").blur(); }
      if (e.key === "Escape") { $("label").value = label(cur().unit).text || ""; $("label").blur(); }
      return;  // typing: no navigation keys
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key;
    if (key === "j" || key === "ArrowRight" || key === "ArrowDown") go(pos + 1);
    else if (key === "k" || key === "ArrowLeft" || key === "ArrowUp") go(pos - 1);
    else if (key === " " || key === "x") toggle();
    else if (key === "t" || key === "Enter") $("label").focus();
    else if (key === "n") nextUnmarked();
    else if (key === "o") { plain = !plain; render(); }
    else return;
    e.preventDefault();
  });
  $("label").addEventListener("change", saveText);
  $("toggle").addEventListener("click", (e) => { toggle(); e.currentTarget.blur(); });
  $("prev").addEventListener("click", (e) => { go(pos - 1); e.currentTarget.blur(); });
  $("next").addEventListener("click", (e) => { go(pos + 1); e.currentTarget.blur(); });

  async function load() {
    try {
      const s = await api("api/state");
      units = s.units;
      labels = s.labels;
      $("where").textContent = `${s.model.name} · ${s.layer} · set “${s.set}”`;
      $("file").textContent = `saved to ${s.file}`;
      document.title = `${s.layer} · ${s.set} · ganfix`;
      const m = /u=(\d+)/.exec(location.hash);
      const i = m ? units.findIndex((u) => u.unit === Number(m[1])) : -1;
      setStatus("saved", "loaded");
      go(i >= 0 ? i : 0);
    } catch (err) {
      setStatus("error", `cannot load: ${err.message}`);
    }
  }
  load();
})();
