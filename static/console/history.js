/* History and Compare (issue 15): the compare button counts the rows ticked and is enabled at
   exactly two; the filter form sends only the filters that are set. Without JavaScript the plain
   forms work: the compare page reads the ticked rows itself. */
(function () {
  "use strict";

  function syncCompare() {
    var form = document.getElementById("compare-form");
    if (!form) return;
    var button = form.querySelector("#compare-button");
    if (!button) return;
    var picked = form.querySelectorAll("input[name=pick]:checked").length;
    button.textContent = "Compare selected (" + picked + ")";
    button.disabled = picked !== 2;
    var help = form.querySelector("#compare-help");
    if (help) {
      help.textContent = picked === 2 ? "Ready to compare." : picked > 2 ? "Untick " + (picked - 2) + " row(s): compare takes two." : "Tick " + (2 - picked) + " more row(s) to compare.";
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.name === "pick" && event.target.closest("#compare-form")) syncCompare();
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id !== "compare-form") return;
    var picked = Array.prototype.map.call(form.querySelectorAll("input[name=pick]:checked"), function (i) { return i.value; });
    if (picked.length !== 2) { event.preventDefault(); syncCompare(); return; }
    // A shareable URL: ?a=…&b=… rather than the ticked boxes.
    form.querySelector("#compare-a").value = picked[0];
    form.querySelector("#compare-b").value = picked[1];
    form.querySelectorAll("input[name=pick]").forEach(function (i) { i.disabled = true; });
  });

  // Empty filters are left out of the request (and of the URL pushed to the address bar).
  document.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt || event.detail.elt.id !== "history-filters") return;
    var params = event.detail.parameters;
    var names = params instanceof FormData ? Array.from(params.keys()) : Object.keys(params);
    names.forEach(function (name) {
      var value = params instanceof FormData ? params.get(name) : params[name];
      if (value === "" || value === null) { if (params instanceof FormData) params.delete(name); else delete params[name]; }
    });
  });

  // Back from the compare page: the browser may restore ticks, so the count is read, not assumed.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("#compare-form input[name=pick]").forEach(function (i) { i.disabled = false; });
    syncCompare();
  });
  // The invocation page's Replay editor: CodeMirror's own input gets the textarea's label
  // (axe: "Form elements must have labels"). console.js builds the editors first.
  function labelEditors() {
    document.querySelectorAll("textarea[data-editor]").forEach(function (ta) {
      var label = ta.id && document.querySelector("label[for='" + ta.id + "']");
      if (ta._cm && label) ta._cm.getInputField().setAttribute("aria-label", label.textContent.trim());
    });
  }

  document.addEventListener("DOMContentLoaded", function () { syncCompare(); labelEditors(); });
  document.addEventListener("htmx:load", function () { syncCompare(); });
})();
