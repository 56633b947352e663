// Logs tab: keep the keyboard on the live-tail button when htmx replaces it (Start ⇄ Stop).
let tailToggleHadFocus = false;
document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "tail-control") {
    tailToggleHadFocus = document.activeElement !== null && document.activeElement.id === "tail-toggle";
  }
});
document.addEventListener("htmx:afterSettle", () => {
  if (tailToggleHadFocus) {
    tailToggleHadFocus = false;
    const toggle = document.getElementById("tail-toggle");
    if (toggle) toggle.focus();
  }
});
