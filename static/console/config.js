/* Configuration and Triggers tabs: show a typed destination's input only when "Another
   destination" is picked, and show only the trigger fields that apply to the chosen kind. Without
   JavaScript every field is shown. (Destructive buttons ask first through shell.js's data-confirm.) */
(function () {
  "use strict";

  function syncDestinations(root) {
    root.querySelectorAll("[data-destination-for]").forEach(function (input) {
      var select = document.getElementById(input.dataset.destinationFor);
      var field = input.closest(".field");
      if (!select || !field) return;
      var show = select.value === "other" || field.classList.contains("has-error");
      field.hidden = !show;
      if (!select._wbDestination) {
        select._wbDestination = true;
        select.addEventListener("change", function () {
          field.hidden = select.value !== "other";
          if (!field.hidden) input.focus();
        });
      }
    });
  }

  function syncTriggerKind(root) {
    var kind = root.querySelector ? root.querySelector("#add-trigger [name=kind]") : null;
    if (!kind) return;
    var form = kind.form;
    function apply() {
      form.querySelectorAll("[data-kinds]").forEach(function (input) {
        var field = input.closest(".field");
        if (!field) return;
        var applies = input.dataset.kinds.split(" ").indexOf(kind.value) !== -1;
        field.hidden = !applies && !field.classList.contains("has-error");
      });
    }
    if (!kind._wbKind) { kind._wbKind = true; kind.addEventListener("change", apply); }
    apply();
  }

  function init(root) { syncDestinations(root); syncTriggerKind(root); }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (event) { init(event.detail.elt); });
})();
