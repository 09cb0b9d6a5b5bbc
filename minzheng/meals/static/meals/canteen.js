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
  // After settle: htmx has then wired the new form, so Enter on the focused button goes through htmx.
  document.addEventListener("htmx:afterSettle", function (evt) {
    var target = evt.detail && evt.detail.target;
    if (!target || target.id !== "panel") { return; }
    if (target.querySelector("[data-done]") || target.querySelector(".quote-error") && !target.querySelector("[autofocus]")) {
      reset();
      return;
    }
    if (target.querySelector("[data-quote]")) {
      var input = credential();
      if (input) { input.value = ""; }  // the card number does not stay on screen
    }
    var focus = target.querySelector("[autofocus]");
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
