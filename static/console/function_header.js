/* The function page header: copy the ARN. The button keeps its name ("Copy ARN"); the result is
   announced in the status next to it ("Copied", or how to copy by hand when the browser refuses). */
(function () {
  "use strict";
  if (window.workbenchHeader) return;
  window.workbenchHeader = true;

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    area.remove();
    return ok;
  }

  // Danger zone: the Delete link opens a confirmation dialog naming the function (without
  // JavaScript it is a link to the same confirmation as a page). Focus starts on Cancel.
  document.addEventListener("click", function (event) {
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.querySelector(opener.dataset.openDialog);
      if (dialog && dialog.showModal) {
        event.preventDefault();
        dialog.showModal();
        var cancel = dialog.querySelector("[data-close-dialog]");
        if (cancel) cancel.focus();
        dialog.addEventListener("close", function () { opener.focus(); }, { once: true });
      }
      return;
    }
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) { closer.closest("dialog").close(); }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-text]");
    if (!button) return;
    var node = document.querySelector(button.dataset.copyText);
    var status = document.getElementById(button.id + "-status");
    var text = node ? node.textContent.trim() : "";
    function done(ok) {
      if (!status) return;
      status.textContent = ok ? "Copied" : "Press Ctrl+C to copy";
      if (!ok && node) { var range = document.createRange(); range.selectNodeContents(node); var sel = getSelection(); sel.removeAllRanges(); sel.addRange(range); }
      clearTimeout(button._copyTimer);
      button._copyTimer = setTimeout(function () { status.textContent = ""; }, 4000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(text)); });
    } else {
      done(fallbackCopy(text));
    }
  });
})();
