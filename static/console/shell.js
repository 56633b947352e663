/* The console shell's small scripts.

   Confirmation before a destructive POST: a form (or its submit button) with data-confirm="…"
   opens a modal <dialog> naming what will go, and submits only on the dialog's confirm button
   (data-confirm-title and data-confirm-button name the dialog and that button). Without
   JavaScript the form is a plain POST form and still works. */
(function () {
  "use strict";
  var pending = null;

  function dialog() {
    var d = document.getElementById("confirm-dialog");
    if (d) return d;
    d = document.createElement("dialog");
    d.id = "confirm-dialog";
    d.setAttribute("aria-labelledby", "confirm-title");
    d.setAttribute("aria-describedby", "confirm-message");
    d.innerHTML = '<form method="dialog"><h2 id="confirm-title">Are you sure?</h2><p id="confirm-message"></p>' +
      '<div class="row"><button type="submit" value="cancel" class="secondary" id="confirm-cancel">Cancel</button>' +
      '<button type="submit" value="confirm" class="danger-solid" id="confirm-ok">Confirm</button></div></form>';
    document.body.appendChild(d);
    d.addEventListener("close", function () {
      var p = pending;
      pending = null;
      if (p && d.returnValue === "confirm") {
        p.form.dataset.confirmed = "1";
        if (p.submitter && p.form.requestSubmit) p.form.requestSubmit(p.submitter); else p.form.submit();
      } else if (p && p.submitter) {
        p.submitter.focus();
      }
    });
    return d;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var asking = event.submitter && event.submitter.dataset.confirm ? event.submitter : form;
    if (!asking.dataset || !asking.dataset.confirm) return;
    if (form.dataset.confirmed) { delete form.dataset.confirmed; return; }
    var d = dialog();
    if (!d.showModal) return;  // no <dialog> support: the plain form goes ahead
    event.preventDefault();
    event.stopImmediatePropagation();
    pending = { form: form, submitter: event.submitter };
    d.querySelector("#confirm-title").textContent = asking.dataset.confirmTitle || "Are you sure?";
    d.querySelector("#confirm-message").textContent = asking.dataset.confirm;
    d.querySelector("#confirm-ok").textContent = asking.dataset.confirmButton || "Confirm";
    d.returnValue = "";
    d.showModal();
    d.querySelector("#confirm-cancel").focus();
  }, true);

})();
