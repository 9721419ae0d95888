// Rule forms: show only the parts that apply to the chosen rule type, disable the value
// for "is set"/"is blank", and ask before destructive or far-reaching submits.
// Every field still works without JS (all parts are then visible).
(function () {
  "use strict";

  document.querySelectorAll("form.rule-form").forEach(function (form) {
    var type = form.querySelector("select[name$=type]");
    var operator = form.querySelector("select[name$=operator]");
    var value = form.querySelector("input[name$=value]");
    var interactionPart = form.querySelector("[data-rule-part=interaction]");
    var hint = form.querySelector("[data-rule-hint=interaction]");

    function sync() {
      var isInteraction = !type || type.value !== "attribute";
      if (interactionPart) { interactionPart.hidden = !isInteraction; }
      if (hint) { hint.hidden = !isInteraction; }
      if (operator && value) {
        var noValue = operator.value === "is_set" || operator.value === "is_blank";
        value.disabled = noValue;
        if (noValue) { value.value = ""; }
      }
    }
    // A custom field offers only the operators that suit its type (the server checks them too).
    var field = form.querySelector("input[name$=field]");
    function syncOperators() {
      if (!field || !operator) { return; }
      var option = document.querySelector('#rule-field-options option[value="' + CSS.escape(field.value.trim()) + '"]');
      var allowed = option && option.getAttribute("data-operators");
      var list = allowed ? allowed.split(" ") : null;
      Array.prototype.forEach.call(operator.options, function (opt) {
        opt.disabled = !!list && opt.value !== "" && list.indexOf(opt.value) < 0;
      });
      if (list && operator.value && list.indexOf(operator.value) < 0) { operator.value = list[0]; sync(); }
    }
    if (type) { type.addEventListener("change", sync); }
    if (operator) { operator.addEventListener("change", sync); }
    if (field) { field.addEventListener("change", syncOperators); field.addEventListener("input", syncOperators); }
    sync();
    syncOperators();
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
})();
