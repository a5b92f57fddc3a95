// Shared by ganfix's pages (label, study, paint), loaded before each page's app.js:
// window.ganfix = {token, $, api, setStatus}.
"use strict";
window.ganfix = (() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const $ = (id) => document.getElementById(id);

  // GET (no body) or POST a JSON body to the page's server; an error carries the server's message.
  async function api(path, body) {
    const opts = { headers: { "X-Ganfix-Token": token }, cache: "no-store" };
    if (body !== undefined) {
      opts.method = "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
    return data;
  }

  // The header's status: cls is saved, saving or error.
  function setStatus(cls, text) {
    const s = $("status");
    s.className = "status " + cls;
    s.textContent = text;
  }

  return Object.freeze({ token, $, api, setStatus });
})();
