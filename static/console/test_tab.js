/* The Test tab (issue 15): unsaved edits are not lost silently, the JSON editor does not trap the
   keyboard, Ctrl/Cmd+Enter runs Test, Test stays disabled while a run is in flight, the result is
   scrolled into view with focus on its heading, and focus survives an editor redraw.
   console.js (loaded before this file) turns the textarea into a CodeMirror editor; these listeners
   run after its own for the same events, so `textarea._cm` exists by then. */
(function () {
  "use strict";

  var baseline = null;      // the event JSON as last loaded, saved or sent
  var awaitingResult = false; // a Test press whose final result has not been shown yet
  var refocus = null;       // id of the control to focus again once the editor is redrawn
  var inFlight = false;     // a run started here and not final yet: no second one

  function textarea() { return document.getElementById("event-body"); }
  function editorValue() {
    var ta = textarea();
    if (!ta) return null;
    return ta._cm ? ta._cm.getValue() : ta.value;
  }
  function markClean() { baseline = editorValue(); }
  function isDirty() { var v = editorValue(); return v !== null && baseline !== null && v !== baseline; }

  function runTest() {
    var button = document.getElementById("test-button");
    if (!button || button.disabled || inFlight) return;
    if (window.htmx) htmx.trigger(button, "click"); else button.click();
  }

  function setupEditor() {
    var ta = textarea();
    if (!ta) return;
    markClean();
    var cm = ta._cm;
    if (!cm || cm._testTabKeys) return;
    cm._testTabKeys = true;
    // The editor's own input is what has focus (console.js names it): it gets the key hint too.
    cm.getInputField().setAttribute("aria-describedby", "editor-keys");
    // Tab belongs to the page (WCAG 2.1.2, no keyboard trap): `false` hands the key back to the
    // browser, which moves focus. Indenting stays on CodeMirror's own Ctrl-] / Ctrl-[ (Cmd on a Mac).
    cm.setOption("extraKeys", {
      "Tab": false,
      "Shift-Tab": false,
      "Esc": function () { leaveEditor(); },
      "Ctrl-Enter": function () { runTest(); },
      "Cmd-Enter": function () { runTest(); },
      "Ctrl-]": "indentMore", "Ctrl-[": "indentLess", "Cmd-]": "indentMore", "Cmd-[": "indentLess",
    });
  }

  // Esc parks focus on the hint just after the editor: the next Tab goes on from there.
  function leaveEditor() {
    var hint = document.getElementById("editor-keys");
    if (!hint) return;
    hint.setAttribute("tabindex", "-1");
    hint.focus();
  }

  // Test stays disabled until the run's result is final (the panel polls until then): one press,
  // one invocation, however many clicks.
  function syncTestButton() {
    var button = document.getElementById("test-button");
    var result = document.getElementById("result");
    if (!button || !result) return;
    var running = result.getAttribute("data-final") === "0";
    inFlight = running;
    button.disabled = running;
    if (running) button.setAttribute("aria-busy", "true"); else button.removeAttribute("aria-busy");
  }

  function showResult() {
    var result = document.getElementById("result");
    if (!result || result.getAttribute("data-final") !== "1" || !awaitingResult) return;
    awaitingResult = false;
    var heading = document.getElementById("result-heading");
    result.scrollIntoView({ block: "start", behavior: "auto" });
    if (heading) heading.focus({ preventScroll: true });
  }

  // A live region's new text is announced only when it changes after insertion: set it again.
  function announceStatus() {
    var status = document.getElementById("editor-status");
    if (!status || !status.textContent.trim()) return;
    var text = status.textContent;
    status.textContent = "";
    setTimeout(function () { status.textContent = text; }, 50);
  }

  function loadsOverEditor(elt) {
    // Anything that redraws the editor with other content: a template, a saved event, the versions' Restore.
    var target = elt.getAttribute("hx-target");
    if (target !== "#editor") return false;
    if (elt.closest("#test-form")) return false; // Save, Rename… send the edits along
    return true;
  }

  document.addEventListener("htmx:confirm", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "test-button" && inFlight) { event.preventDefault(); return; } // dropped, not queued
    if (!elt || !isDirty() || !loadsOverEditor(elt)) return;
    event.preventDefault();
    if (window.confirm("The event JSON has unsaved changes. Discard them?")) {
      event.detail.issueRequest(true);
    } else {
      var select = elt.querySelector && elt.querySelector("#template-select");
      if (select) select.value = select.getAttribute("data-current") || "";
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "test-button") { inFlight = true; awaitingResult = true; markClean(); }
    if (elt && elt.getAttribute && elt.getAttribute("hx-target") === "#editor") {
      // Whatever redraws the editor: focus goes back to the same control, else to the status line.
      refocus = document.activeElement && document.activeElement.id ? document.activeElement.id : "editor-status";
    }
  });

  // hx-disabled-elt disables Test for the POST; htmx would enable it again as soon as the POST
  // answers, while the run still goes on (the panel polls): from then on syncTestButton decides.
  document.addEventListener("htmx:beforeSend", function (event) {
    var elt = event.detail.elt;
    if (elt && elt.id === "test-button") { elt.disabled = true; elt.removeAttribute("data-disabled-by-htmx"); }
  });
  ["htmx:sendError", "htmx:responseError", "htmx:timeout"].forEach(function (name) {
    document.addEventListener(name, function (event) {
      var elt = event.detail.elt;
      if (elt && elt.id === "test-button") { inFlight = false; awaitingResult = false; elt.disabled = false; }
    });
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target || event.detail.elt;
    if (!target) return;
    if (target.id === "editor" || (target.closest && target.closest("#editor"))) {
      var refused = event.detail.xhr && event.detail.xhr.status === 422;
      var kept = baseline;
      setupEditor();
      if (refused) baseline = kept; // the edits came back with an error: still not saved
      var select = document.getElementById("template-select");
      if (select) select.setAttribute("data-current", select.value);
      if (refocus) {
        var again = document.getElementById(refocus) || document.getElementById("editor-status");
        if (again && again.id === "editor-status") again.setAttribute("tabindex", "-1");
        if (again) again.focus();
        refocus = null;
      }
      announceStatus();
    }
    syncTestButton();
    showResult();
  });

  // Save, Rename… and Test leave nothing unsaved to warn about (a run keeps what it sent).
  document.addEventListener("submit", function (event) {
    if (event.target.id === "test-form") markClean();
  });

  window.addEventListener("beforeunload", function (event) {
    if (!isDirty()) return;
    event.preventDefault();
    event.returnValue = "";
  });

  // Ctrl+Enter / Cmd+Enter runs Test from anywhere on the tab.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || event.defaultPrevented) return;
    if (!document.getElementById("test-button")) return;
    event.preventDefault();
    runTest();
  });

  document.addEventListener("DOMContentLoaded", function () {
    setupEditor();
    var select = document.getElementById("template-select");
    if (select) select.setAttribute("data-current", select.value);
    syncTestButton();
    awaitingResult = document.getElementById("result") && document.getElementById("result").getAttribute("data-final") === "0";
  });
})();
