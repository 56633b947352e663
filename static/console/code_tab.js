/* The Code tab: one file of the package tree shown at a time, new file / rename / delete, the
   "Changes not deployed" banner and the prompts before leaving with undeployed edits, and Test
   from the Code tab (deploying first when there are changes). Without JavaScript every file is
   shown, stacked, in one form, and Deploy and Test are plain forms. */
(function () {
  "use strict";
  var form, leaving = false;

  function panes() { return form.querySelectorAll(".file-pane"); }
  function editorValue(ta) { return ta._cm ? ta._cm.getValue() : ta.value; }

  function paneDirty(pane) {
    var path = pane.querySelector("[data-path-input]");
    var del = pane.querySelector("[data-delete-input]");
    var ta = pane.querySelector("textarea");
    var original = pane.querySelector("input[name$='-original']").value;
    if (!original) {
      // A new file counts once something is typed in it (an untouched template row does not).
      return !(del && del.checked) && ((path && path.value !== path.defaultValue) || (ta && editorValue(ta) !== ta.defaultValue) || pane.dataset.added === "1" && !!(path.value || (ta && editorValue(ta))));
    }
    return (del && del.checked) || (path && path.value !== path.defaultValue) || (ta && editorValue(ta) !== ta.defaultValue);
  }

  function dirty() {
    if (!form || !form.dataset.mayDeploy) return false;
    return Array.prototype.some.call(panes(), paneDirty);
  }

  function refresh() {
    var banner = document.getElementById("undeployed");
    if (banner) banner.hidden = !dirty();
    panes().forEach(function (pane) {
      var link = form.querySelector("[data-file-index='" + pane.dataset.index + "']");
      var path = pane.querySelector("[data-path-input]");
      var del = pane.querySelector("[data-delete-input]");
      if (!link || !path) return;
      link.textContent = path.value || "new file";
      link.classList.toggle("deleted", !!(del && del.checked));
      link.classList.toggle("changed", paneDirty(pane));
    });
  }

  function select(index) {
    panes().forEach(function (pane) {
      var on = pane.dataset.index === String(index);
      pane.classList.toggle("selected", on);
      var ta = pane.querySelector("textarea");
      if (on && ta && ta._cm) ta._cm.refresh();
    });
    form.querySelectorAll("[data-file-index]").forEach(function (link) {
      var on = link.dataset.fileIndex === String(index);
      link.classList.toggle("active", on);
      if (on) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
    });
    var pane = document.getElementById("file-pane-" + index);
    var path = pane && pane.querySelector("[data-path-input]");
    document.getElementById("selected-file").value = path ? path.value : "";
  }

  function addFile() {
    var total = form.querySelector("input[name=file-TOTAL_FORMS]");
    var index = parseInt(total.value, 10);
    var html = document.getElementById("file-pane-template").innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var pane = holder.firstElementChild;
    pane.dataset.added = "1";
    document.getElementById("file-panes").appendChild(pane);
    total.value = String(index + 1);
    var li = document.createElement("li");
    var link = document.createElement("a");
    link.href = "#file-pane-" + index;
    link.dataset.fileIndex = String(index);
    link.textContent = "new file";
    li.appendChild(link);
    document.getElementById("file-list").appendChild(li);
    if (window.workbenchEditors) window.workbenchEditors.init(pane);
    watch(pane);
    select(index);
    pane.querySelector("[data-path-input]").focus();
    refresh();
  }

  function watch(pane) {
    var ta = pane.querySelector("textarea");
    if (ta && ta._cm && !ta._watched) { ta._watched = true; ta._cm.on("change", refresh); }
  }

  function setTestBody() {
    var select = document.getElementById("code-test-event");
    var data = document.getElementById("code-test-events");
    if (!select || !data) return;
    var choices = JSON.parse(data.textContent);
    var chosen = choices.filter(function (c) { return c.value === select.value; })[0];
    if (chosen) document.getElementById("code-test-body").value = chosen.body;
  }

  document.addEventListener("DOMContentLoaded", function () {
    form = document.getElementById("tree-form");
    if (!form) return;
    form.classList.add("one-file");
    panes().forEach(watch);
    var selected = form.querySelector(".file-pane.selected") || panes()[0];
    if (selected) select(selected.dataset.index);
    form.addEventListener("click", function (event) {
      var link = event.target.closest("[data-file-index]");
      if (link) { event.preventDefault(); select(link.dataset.fileIndex); return; }
      if (event.target.closest("#new-file")) addFile();
    });
    form.addEventListener("input", function (event) {
      var pane = event.target.closest(".file-pane");
      if (pane && event.target.matches("[data-path-input]")) {
        var ta = pane.querySelector("textarea");
        if (ta && ta._cm && window.workbenchEditors) ta._cm.setOption("mode", window.workbenchEditors.modeFor(event.target.value));
        document.getElementById("selected-file").value = event.target.value;
      }
      refresh();
    });
    form.addEventListener("change", refresh);
    form.addEventListener("submit", function () { leaving = true; });
    refresh();
    setTestBody();
    var test = document.getElementById("code-test-form");
    if (test && test.dataset.autotest) setTimeout(function () { setTestBody(); test.requestSubmit(); }, 0);
  });

  // Leaving with undeployed edits: the browser's own prompt for the page, a confirm for the tabs.
  window.addEventListener("beforeunload", function (event) {
    if (leaving || !dirty()) return;
    event.preventDefault();
    event.returnValue = "";
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest(".tabs a, .function-header a");
    if (!link || !dirty()) return;
    if (window.confirm("Your changes are not deployed. Leave the Code tab and lose them?")) leaving = true;
    else event.preventDefault();
  });

  document.addEventListener("change", function (event) { if (event.target.id === "code-test-event") setTestBody(); });
  // Test: runs the deployed code, so with changes it asks to deploy first (then the test runs).
  document.addEventListener("submit", function (event) {
    if (event.target.id !== "code-test-form") return;
    setTestBody();
    if (!dirty()) return;
    event.preventDefault();
    event.stopPropagation();
    if (!window.confirm("Your changes are not deployed. Deploy them, then run the test?")) return;
    document.getElementById("then-test").value = document.getElementById("code-test-event").value;
    leaving = true;
    form.requestSubmit();
  }, true);
})();
