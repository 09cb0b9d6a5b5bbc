// The canteen till, keyboard first: the card reader or scanner types into #credential and ends
// with Enter (→ quote); digits 1–5 pick how the elder pays; Enter confirms; Esc cancels.
(function () {
  "use strict";
  function credential() { return document.getElementById("credential"); }
  function ready() {
    var input = credential();
    if (input) { input.focus(); }
  }
  function reset() {
    var input = credential();
    if (!input) { return; }
    input.value = "";
    input.focus();
  }
  document.addEventListener("DOMContentLoaded", ready);
  function panelOf(evt) {
    var target = evt.detail && evt.detail.target;
    return target && target.id === "panel" ? target : null;
  }
  // On swap: a finished or refused checkout hands the till straight back to the card reader (before
  // the result is even painted, so the next card's digits are never cleared half-typed).
  document.addEventListener("htmx:afterSwap", function (evt) {
    var panel = panelOf(evt);
    if (!panel) { return; }
    if (panel.querySelector("[data-done]") || panel.querySelector(".quote-error") && !panel.querySelector("[autofocus]")) {
      reset();
    } else if (panel.querySelector("[data-quote]")) {
      var input = credential();
      if (input) { input.value = ""; }  // the card number does not stay on screen
    }
  });
  // On settle: htmx has wired the new form by then, so Enter on the focused button goes through
  // htmx (focused earlier, Enter submitted the bare form as a GET).
  document.addEventListener("htmx:afterSettle", function (evt) {
    var panel = panelOf(evt);
    if (!panel || panel.querySelector("[data-done]")) { return; }
    var focus = panel.querySelector("[autofocus]");
    if (focus) { focus.focus(); }
  });
  document.addEventListener("click", function (evt) {
    if (evt.target && evt.target.closest && evt.target.closest("[data-cancel]")) {
      document.getElementById("panel").innerHTML = '<div class="panel-idle">已取消, 请下一位老人刷卡</div>';
      reset();
    }
  });
  document.addEventListener("keydown", function (evt) {
    var confirm = document.getElementById("confirm");
    if (!confirm) { return; }
    var active = document.activeElement;
    var typing = active && (active.id === "credential" || active.id === "price" || active.name === "reason");
    if (evt.key === "Escape") {
      evt.preventDefault();
      document.getElementById("panel").innerHTML = '<div class="panel-idle">已取消, 请下一位老人刷卡</div>';
      reset();
      return;
    }
    if (typing) { return; }
    if (evt.key >= "1" && evt.key <= "9") {
      var radios = confirm.querySelectorAll("input[name=method]");
      var i = parseInt(evt.key, 10) - 1;
      if (radios[i]) { radios[i].checked = true; evt.preventDefault(); }
    }
  });
})();
