// Rules page: while a rescore runs, poll its progress once a second and update the card.
// Without JS the "Refresh progress" link does the same by hand.
(function () {
  "use strict";
  var card = document.querySelector("[data-progress-url]");
  if (!card || !window.fetch) { return; }
  var url = card.getAttribute("data-progress-url");
  var bar = card.querySelector("[data-progress=bar]");
  var fill = bar && bar.querySelector(".progress-bar");

  function set(name, value) {
    var el = card.querySelector("[data-progress=" + name + "]");
    if (el) { el.textContent = String(value); }
  }

  function widthClass(percent) {
    var p = Math.max(0, Math.min(100, Math.floor(percent)));
    return "w-" + (p - (p % 5));
  }

  function render(run) {
    set("percent", run.percent);
    set("done_chunks", run.done_chunks);
    set("total_chunks", run.total_chunks);
    set("contacts_scored", run.contacts_scored);
    set("stage_changes", run.stage_changes);
    if (bar) { bar.setAttribute("aria-valuenow", run.percent); }
    if (fill) { fill.className = "progress-bar " + widthClass(run.percent); }
  }

  function tick() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (run) {
        render(run);
        if (run.running) { window.setTimeout(tick, 1000); return; }
        // Finished: reload once so the badges, counts and rule-set cards are current.
        window.location.reload();
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  window.setTimeout(tick, 1000);
})();
