// Progress cards (a rescore on the rules page, a backtest or advisor run, an import): while
// the job runs, poll its JSON status once a second and update the card; once it has finished,
// reload once so the server renders the final state. Without JS each page has its own fallback
// (a "Refresh" link, or a <noscript> meta refresh).
//
// The card's markup says what to update, so one script serves every page:
//   data-progress-url="…"   on the card: the status JSON. Set only while there is something to
//                           poll, so a finished page loads the script and does nothing.
//   data-progress="bar"     the .progress element: aria-valuenow and its .progress-bar follow
//                           json[data-progress-percent] (default "percent").
//   data-progress="status"  takes the text of its data-label-<json.status>, if it has one.
//   data-progress="NAME"    any other NAME that is a key of the JSON shows json[NAME]; the rest
//                           (e.g. "refresh" on the no-JS link) are left alone.
(function () {
  "use strict";
  var card = document.querySelector("[data-progress-url]");
  if (!card || !window.fetch) { return; }
  var url = card.getAttribute("data-progress-url");
  var parts = card.querySelectorAll("[data-progress]");
  var bar = card.querySelector("[data-progress=bar]");
  var fill = bar && bar.querySelector(".progress-bar");
  var percentKey = (bar && bar.getAttribute("data-progress-percent")) || "percent";

  function render(json) {
    Array.prototype.forEach.call(parts, function (el) {
      var name = el.getAttribute("data-progress");
      if (name === "bar") { return; }
      if (name === "status") {
        // Labels are translated by the template; a status without one keeps the server's text.
        var label = el.getAttribute("data-label-" + json.status);
        if (label) { el.textContent = label; }
        return;
      }
      if (Object.prototype.hasOwnProperty.call(json, name)) { el.textContent = String(json[name]); }
    });
    if (bar && percentKey in json) {
      var p = Math.max(0, Math.min(100, Math.floor(json[percentKey])));
      bar.setAttribute("aria-valuenow", String(p));
      // The CSP forbids style="width:…", so the bar moves by .w-NN classes in steps of 5.
      if (fill) { fill.className = "progress-bar w-" + (p - (p % 5)); }
    }
  }

  function tick() {
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) { throw new Error(String(response.status)); } return response.json(); })
      .then(function (json) {
        render(json);
        if (json.running) { window.setTimeout(tick, 1000); return; }
        window.location.reload();
      })
      // A failed poll (server restarting, network blip) is retried, more slowly.
      .catch(function () { window.setTimeout(tick, 5000); });
  }
  window.setTimeout(tick, 1000);
})();
