// Import mapping page: show a column's interaction settings (kind, when, date column, "yes"
// values, channel) only while the column is mapped to an interaction; kind and date column also
// for counts, the date column also for activity names (data-for). Without JS all show.
(function () {
  "use strict";
  var rows = document.querySelectorAll("[data-mapping-row]");
  Array.prototype.forEach.call(rows, function (row) {
    var target = row.querySelector("select[name$='-target']");
    var extras = row.querySelectorAll("[data-interaction-only]");
    if (!target) { return; }
    function sync() {
      Array.prototype.forEach.call(extras, function (cell) {
        var on = (cell.getAttribute("data-for") || "interaction").split(" ").indexOf(target.value) !== -1;
        // Hidden (io.css) and disabled, so out of the tab order too; the server ignores them anyway.
        cell.classList.toggle("is-inactive", !on);
        Array.prototype.forEach.call(cell.querySelectorAll("select, input"), function (control) { control.disabled = !on; });
      });
    }
    target.addEventListener("change", sync);
    sync();
  });
})();
