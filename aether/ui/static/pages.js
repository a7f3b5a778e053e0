// The runs list and the cron pages of the live UI (the report has only the run page).
(function () {
  "use strict";

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function fmtDuration(ms) {
    if (!(ms >= 0)) return "";
    if (ms < 1000) return ms + "ms";
    const s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + "s";
    const m = Math.floor(s / 60);
    return m < 60 ? m + "m" + Math.round(s - m * 60) + "s" : Math.floor(m / 60) + "h" + (m % 60) + "m";
  }

  function runsList(root) {
    const form = root.querySelector("#run-filters"), body = root.querySelector("#runs");
    const params = new URLSearchParams(window.location.search);
    for (const name of ["phase", "workflow", "since", "until"]) {
      if (params.get(name) && form.elements[name]) form.elements[name].value = params.get(name);
    }
    let ticket = 0;
    function query() {
      const out = new URLSearchParams();
      for (const name of ["phase", "workflow", "since", "until"]) {
        let value = form.elements[name].value;
        if (value && (name === "since" || name === "until")) value = new Date(value).toISOString();
        if (value) out.set(name, value);
      }
      return out.toString();
    }
    function load() {
      const mine = ++ticket;
      return fetch("/api/runs?" + query(), { credentials: "same-origin" }).then((r) => r.json()).then((runs) => {
        if (mine !== ticket) return;
        const now = Date.now();
        body.innerHTML = runs.map((run) => {
          const created = Date.parse(run.createdAt), finished = run.finishedAt ? Date.parse(run.finishedAt) : null;
          return '<tr data-run-id="' + esc(run.runId) + '" data-phase="' + esc(run.phase) + '"><td><a href="/runs/' +
            encodeURIComponent(run.runId) + '">' + esc(run.runId) + "</a></td><td>" + esc(run.name) + '</td><td><span class="badge" data-phase="' +
            esc(run.phase) + '">' + esc(run.phase) + "</span></td><td>" + esc(run.createdAt) + "</td><td>" + esc(run.finishedAt) +
            "</td><td>" + esc(fmtDuration((finished || now) - created)) + "</td><td>" + esc(run.progress) + "</td></tr>";
        }).join("");
        root.querySelector("#runs-note").textContent = runs.length + " runs";
      });
    }
    form.addEventListener("input", () => {
      const text = query();
      window.history.replaceState(null, "", window.location.pathname + (text ? "?" + text : ""));
      load();
    });
    load().then(() => {
      const stream = new EventSource("/api/runs/stream");
      stream.onmessage = load;
    });
  }

  window.AetherPages = { runsList: runsList };
})();
