// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  document.addEventListener("DOMContentLoaded", function () {
    // Phone menu toggle.
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("primary-nav");
    if (toggle && nav) {
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("is-open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }

    // "/" jumps to the search box in the top bar, unless the user is typing somewhere.
    var search = document.getElementById("topbar-q");
    if (search) {
      document.addEventListener("keydown", function (event) {
        if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
        var target = event.target;
        if (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
        event.preventDefault();
        search.focus();
        search.select();
      });
    }

    // Close the user menu when clicking elsewhere.
    document.addEventListener("click", function (event) {
      document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
        if (!menu.contains(event.target)) menu.removeAttribute("open");
      });
    });

    // "Select all" checkbox of bulk-action tables: <input type="checkbox" data-check-all="ids">.
    document.querySelectorAll("[data-check-all]").forEach(function (master) {
      var name = master.getAttribute("data-check-all");
      master.addEventListener("change", function () {
        document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
          box.checked = master.checked;
        });
      });
    });

    // Forms marked data-submit-once: a double click sends one request (the server checks again).
    document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.submitted) { event.preventDefault(); return; }
        form.dataset.submitted = "1";
      });
    });

    // Auto-submit selects marked data-autosubmit (a visible submit button remains for no-JS).
    document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () { if (el.form) el.form.requestSubmit(); });
    });
  });
})();
