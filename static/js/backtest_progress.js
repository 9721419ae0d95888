// Backtest and advisor pages: while a run is queued or running, poll its status.json
// once a second and move the bar; when it has finished (done or failed), reload once
// so the server renders the results. Without JS the "Refresh" link does the same.
(function () {
  "use strict";
  var card = document.querySelector("[data-backtest-status-url]");
  if (!card || !window.fetch) { return; }
  var url = card.getAttribute("data-backtest-status-url");
  var bar = card.querySelector("[data-backtest=bar]");
  var fill = bar && bar.querySelector(".progress-bar");
  var percent = card.querySelector("[data-backtest=percent]");
  var status = card.querySelector("[data-backtest=status]");

  function widthClass(value) {
    var p = Math.max(0, Math.min(100, Math.floor(value)));
    return "w-" + (p - (p % 5));
  }

  function render(run) {
    if (percent) { percent.textContent = String(run.progress); }
    if (bar) { bar.setAttribute("aria-valuenow", String(run.progress)); }
    if (fill) { fill.className = "progress-bar " + widthClass(run.progress); }
    var label = status && status.getAttribute("data-label-" + run.status);
    if (label) { status.textContent = label; }
  }

  function tick() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) { throw new Error(String(response.status)); } return response.json(); })
      .then(function (run) {
        render(run);
        if (run.running) { window.setTimeout(tick, 1000); return; }
        window.location.reload();
      })
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  window.setTimeout(tick, 1000);
})();
