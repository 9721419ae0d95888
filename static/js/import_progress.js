// Import progress page: poll the job's JSON status once a second and update the counts.
// Without JS a <noscript> meta refresh reloads the page every few seconds instead.
(function () {
  "use strict";
  var card = document.querySelector("[data-status-url]");
  if (!card || !window.fetch) { return; }
  var url = card.getAttribute("data-status-url");
  var bar = card.querySelector("[data-progress=bar]");
  var fill = bar && bar.querySelector(".progress-bar");

  function set(name, value) {
    var el = card.querySelector("[data-progress=" + name + "]");
    if (el) { el.textContent = String(value); }
  }

  function render(job) {
    ["status_label", "rows_done", "percent", "created", "updated", "skipped", "failed", "message"].forEach(function (name) {
      set(name, job[name]);
    });
    var p = Math.max(0, Math.min(100, Math.floor(job.percent)));
    if (bar) { bar.setAttribute("aria-valuenow", p); }
    if (fill) { fill.className = "progress-bar w-" + (p - (p % 5)); }
  }

  function tick() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) { throw new Error(String(response.status)); } return response.json(); })
      .then(function (job) {
        render(job);
        if (job.running) { window.setTimeout(tick, 1000); return; }
        // Finished: reload once to show the report link and the final state.
        window.location.reload();
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  window.setTimeout(tick, 1000);
})();
