/* The console's small amount of JavaScript: CodeMirror editors, JSON validation with line and
   column, Format, and copy buttons. Everything works without
   it (plain textareas and forms); this only makes it nicer. */
(function () {
  "use strict";
  var PLACEHOLDER = /\{\{\s*(uuid|now|epoch_ms|random_int)\s*\}\}/g;

  function probe(text) {
    // Same-length stand-ins keep every position where the user typed it.
    return text.replace(PLACEHOLDER, function (m) { return "1" + " ".repeat(m.length - 1); });
  }

  function position(text, error) {
    var msg = String(error && error.message || error);
    var lc = /line (\d+) column (\d+)/.exec(msg);
    if (lc) return { line: +lc[1], column: +lc[2], message: msg.replace(/\s*\(line \d+ column \d+\)/, "") };
    var pos = /position (\d+)/.exec(msg);
    var offset = pos ? +pos[1] : text.length;
    var before = text.slice(0, offset).split("\n");
    return { line: before.length, column: before[before.length - 1].length + 1, message: msg };
  }

  function check(text) {
    try { JSON.parse(probe(text)); return null; } catch (e) { return position(text, e); }
  }

  function render(status, problem) {
    status.textContent = "";
    var span = document.createElement("span");
    if (problem) {
      span.className = "error";
      span.textContent = "Line " + problem.line + ", column " + problem.column + ": " + problem.message;
    } else {
      span.className = "ok";
      span.textContent = "Valid JSON";
    }
    status.appendChild(span);
  }

  var timer = null;
  function showStatus(textarea, cm) {
    var status = document.getElementById("json-status");
    if (!status || textarea.dataset.editor !== "json") return;
    var text = cm ? cm.getValue() : textarea.value;
    var problem = check(text);
    var url = textarea.dataset.validateUrl;
    if (!problem || !url) { render(status, problem); return; }
    // The browser's message often has no position: ask the server's exact parser for it.
    clearTimeout(timer);
    timer = setTimeout(function () {
      var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      var body = new URLSearchParams({ body: text });
      fetch(url, { method: "POST", headers: headers, body: body, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (data) { render(status, data.ok ? null : data); })
        .catch(function () { render(status, problem); });
    }, 150);
  }

  function format(text) {
    var tokens = [];
    var safe = text.replace(PLACEHOLDER, function (m, name, offset) {
      var inString = (text.slice(0, offset).split('"').length - 1) % 2 === 1;
      if (inString) return m;
      tokens.push(m);
      return '"__placeholder_' + (tokens.length - 1) + '__"';
    });
    var pretty = JSON.stringify(JSON.parse(safe), null, 2);
    return pretty.replace(/"__placeholder_(\d+)__"/g, function (_, i) { return tokens[+i]; });
  }

  // The editor's mode from a file name (and the create page's runtime when there is no name yet).
  function modeFor(name, runtime) {
    if (/\.(m?js|cjs|ts)$/.test(name)) return "javascript";
    if (/\.json$/.test(name)) return { name: "javascript", json: true };
    if (/\.pyi?$/.test(name)) return "python";
    if (/(^|\/)bootstrap$|\.(sh|bash)$/.test(name)) return "shell";
    if (!name && runtime) return /^python/.test(runtime) ? "python" : /^nodejs/.test(runtime) ? "javascript" : /^provided/.test(runtime) ? "shell" : "text/plain";
    return "text/plain";
  }

  // No keyboard trap (WCAG 2.1.2). In a JSON editor Tab and Shift+Tab move focus on (indent with
  // Ctrl+] and Ctrl+[); in a code editor Tab indents, and Esc then Tab or Shift+Tab moves focus on.
  // (`false` in a key map hands the key to the browser; maps added with addKeyMap come first.)
  var LEAVE = { name: "leave", "Tab": false, "Shift-Tab": false };
  function keysFor(json) {
    var keys = {
      "Esc": function (cm) { cm.removeKeyMap("leave"); cm.addKeyMap(LEAVE); },
      "Ctrl-]": "indentMore", "Ctrl-[": "indentLess", "Cmd-]": "indentMore", "Cmd-[": "indentLess",
    };
    keys.Tab = json ? false : "insertSoftTab";
    keys["Shift-Tab"] = json ? false : "indentLess";
    return keys;
  }

  function initEditors(root) {
    if (!window.CodeMirror) return;
    (root || document).querySelectorAll("textarea[data-editor]").forEach(function (ta) {
      if (ta._cm) return;
      var json = ta.dataset.editor === "json";
      var runtime = document.querySelector("select[name=runtime]");
      var mode = json ? { name: "javascript", json: true } : modeFor(ta.dataset.filename || "", runtime && runtime.value);
      var label = ta.labels && ta.labels.length ? ta.labels[0].textContent.trim() : ta.getAttribute("aria-label") || ta.name;
      var cm = CodeMirror.fromTextArea(ta, {
        mode: mode, lineNumbers: true, matchBrackets: true, autoCloseBrackets: true,
        indentUnit: json ? 2 : 4, tabSize: 4, viewportMargin: Infinity, readOnly: ta.readOnly,
        screenReaderLabel: label || "Editor", extraKeys: keysFor(json),
      });
      ta._cm = cm;
      cm.on("keydown", function (_, event) { if (event.key !== "Escape" && event.key !== "Tab") cm.removeKeyMap("leave"); });
      cm.on("blur", function () { cm.removeKeyMap("leave"); });
      cm.on("change", function () { cm.save(); showStatus(ta, cm); });
      showStatus(ta, cm);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-format]");
    if (button) {
      var ta = document.querySelector(button.dataset.format);
      var text = ta._cm ? ta._cm.getValue() : ta.value;
      try {
        var pretty = format(text);
        if (ta._cm) ta._cm.setValue(pretty); else ta.value = pretty;
      } catch (e) { showStatus(ta, ta._cm); }
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var node = document.querySelector(copy.dataset.copy);
      if (node && navigator.clipboard) {
        navigator.clipboard.writeText(node.textContent.trim()).then(function () { copy.textContent = "Copied"; });
      }
    }
  });

  // Expectations: JSONPath rows are added from a <template> and removed in place; focus goes to
  // the new row, or after a removal to the next row (else to "Add assertion"), never nowhere.
  function numberPathRows(container) {
    container.querySelectorAll(".path-row").forEach(function (row, i) {
      var n = " " + (i + 1);
      row.querySelector("[name=expect_path]").setAttribute("aria-label", "JSONPath" + n);
      row.querySelector("[name=expect_path_test]").setAttribute("aria-label", "Test" + n);
      row.querySelector("[name=expect_path_value]").setAttribute("aria-label", "Value" + n);
      row.querySelector("[data-remove-path]").setAttribute("aria-label", "Remove assertion" + n);
    });
  }

  function expectationsClick(event) {
    var add = event.target.closest("[data-add-path]");
    if (add) {
      var rows = document.getElementById("path-rows");
      var template = document.getElementById("path-row-template");
      rows.appendChild(template.content.cloneNode(true));
      numberPathRows(rows);
      rows.lastElementChild.querySelector("input").focus();
      return true;
    }
    var remove = event.target.closest("[data-remove-path]");
    if (remove) {
      var row = remove.closest(".path-row");
      var container = row.parentNode;
      var next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      numberPathRows(container);
      (next ? next.querySelector("input") : document.getElementById("add-path")).focus();
      return true;
    }
    return false;
  }

  // "Check the result" unticked: the fields are disabled (greyed, skipped by Tab, not sent).
  function syncExpectOn(root) {
    var box = (root || document).querySelector("#expect-on");
    var fields = document.getElementById("expect-fields");
    if (box && fields) fields.disabled = !box.checked;
  }

  document.addEventListener("click", function (event) { expectationsClick(event); });
  // "Expect this response" applies to one Save: once saved, a later Save keeps what was edited.
  document.addEventListener("eventsChanged", function () {
    var box = document.getElementById("expect-this-response");
    if (box) box.checked = false;
  });
  document.addEventListener("change", function (event) { if (event.target.id === "expect-on") syncExpectOn(); });
  document.addEventListener("htmx:load", function (event) { syncExpectOn(event.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () { syncExpectOn(document); });

  // Picking two invocations to compare: static/console/history.js (loaded by the history pages).

  document.addEventListener("change", function (event) {
    // Create page: a still-untouched blank template follows the chosen runtime.
    if (event.target.name !== "runtime") return;
    var data = document.getElementById("blanks");
    var ta = document.querySelector("textarea[name=source]");
    if (!data || !ta) return;
    var blanks = JSON.parse(data.textContent);
    var current = ta._cm ? ta._cm.getValue() : ta.value;
    var isBlank = !current.trim() || Object.values(blanks).indexOf(current) >= 0;
    if (isBlank) { var next = blanks[event.target.value] || ""; if (ta._cm) ta._cm.setValue(next); else ta.value = next; }
    if (ta._cm) ta._cm.setOption("mode", modeFor("", event.target.value));
  });

  document.addEventListener("DOMContentLoaded", function () {
    var data = document.getElementById("blanks");
    var ta = document.querySelector("textarea[name=source]");
    var runtime = document.querySelector("select[name=runtime]");
    if (data && ta && runtime && !ta.value.trim()) ta.value = JSON.parse(data.textContent)[runtime.value] || "";
    document.documentElement.classList.add("js");
    initEditors(document);
  });
  document.addEventListener("htmx:load", function (event) { initEditors(event.detail.elt); });
  window.workbenchJson = { check: check, format: format };
  window.workbenchEditors = { modeFor: modeFor, init: initEditors };
})();
