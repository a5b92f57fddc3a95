// Preference study: two images of the same latent, one pair at a time. The server keeps the plan
// (order and sides) and the answers; the page only shows the current pair and posts the choice.
// An answer counts once the server has written it (fsync); input is locked until then.
"use strict";
(() => {
  const { token, $, api, setStatus } = window.ganfix;
  let state = null;
  let busy = false;
  let shownAt = 0;

  const src = (name) => `images/${name}?token=${encodeURIComponent(token)}`;

  function render() {
    const cur = state.current;
    $("where").textContent = `rater “${state.rater}”`;
    $("file").textContent = `answers saved to ${state.file}`;
    const answered = state.done;
    $("progress-text").textContent = `${Math.min(answered + 1, state.total)} / ${state.total}` +
      (state.skipped ? ` · ${state.skipped} skipped` : "");
    $("progress-bar").style.width = `${(100 * answered) / state.total}%`;
    $("pair").hidden = !cur;
    $("question").hidden = !cur;
    $("done").hidden = !!cur;
    document.body.dataset.trial = cur ? cur.trial : "";
    document.body.dataset.done = String(answered);
    for (const side of ["left", "right"]) $(`${side}-box`).classList.remove("picked");
    if (cur) {
      $("left").src = src(cur.left);
      $("right").src = src(cur.right);
      shownAt = performance.now();
    }
    if (state.next) for (const side of ["left", "right"]) new Image().src = src(state.next[side]);  // preload
  }

  async function choose(choice) {
    if (busy || !state || !state.current) return;
    busy = true;
    if (choice !== "skip") $(`${choice}-box`).classList.add("picked");
    setStatus("saving", "saving…");
    try {
      state = await api("api/answer", { trial: state.current.trial, choice, ms: Math.round(performance.now() - shownAt) });
      setStatus("saved", "saved ✓");
    } catch (err) {
      setStatus("error", `not saved: ${err.message}`);
      try { state = await api("api/state"); } catch (e) { /* keep the old state */ }
    }
    render();
    busy = false;
  }

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const k = e.key;
    if (k === "ArrowLeft" || k === "1") choose("left");
    else if (k === "ArrowRight" || k === "2") choose("right");
    else if (k === " ") choose("skip");
    else return;
    e.preventDefault();
  });
  for (const side of ["left", "right"]) $(`${side}-box`).addEventListener("click", () => choose(side));

  async function load() {
    try {
      state = await api("api/state");
      setStatus("saved", "loaded");
      render();
    } catch (err) {
      setStatus("error", `cannot load: ${err.message}`);
    }
  }
  load();
})();
