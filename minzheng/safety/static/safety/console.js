/* 安居守护 24-hour console: keyboard control, live board (htmx polling), a beep and a highlight
   for every new critical incident. The beep is generated with the Web Audio API: no audio file. */
(function () {
  "use strict";
  var root = document.getElementById("console");
  if (!root || !window.htmx) { return; }
  var board = document.getElementById("board");
  var dialog = document.getElementById("sc-dialog");
  var dlgBody = document.getElementById("dlg-body");
  var toastEl = document.getElementById("sc-toast");
  var soundBtn = document.getElementById("sc-sound");
  var live = document.getElementById("sc-live");
  var canHandle = root.dataset.canHandle === "1";
  var canRespond = root.dataset.canRespond === "1";
  var detailId = root.dataset.incident || "";
  var SLUG = { acknowledge: "acknowledge", call: "call", dispatch: "dispatch", resolve: "resolve", arrive: "arrive",
               follow_up: "follow-up", close: "close", reopen: "reopen", note: "note" };

  // A refusal (400 bad input, 403, 409 wrong state) comes back as the form with its message: show it.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "(400|403|409)", swap: true, error: false },
    { code: "...", swap: false, error: true }
  ];

  // --- sound ------------------------------------------------------------------------------------
  var audio = null, muted = false, state = { beeps: 0, selected: null };
  window.safetyConsole = state;
  function unlock() {
    if (muted) { return; }
    try {
      if (!audio) { audio = new (window.AudioContext || window.webkitAudioContext)(); }
      if (audio.state === "suspended") { audio.resume(); }
    } catch (e) { audio = null; }
    showSound();
  }
  function showSound() {
    if (!soundBtn) { return; }
    var on = audio && !muted;
    soundBtn.classList.toggle("off", !on);
    soundBtn.textContent = on ? "提示音 开" : (muted ? "提示音 已静音" : "提示音 未启用·按任意键开启");
  }
  function beep() {
    state.beeps += 1;
    if (!audio || muted) { return; }
    var t = audio.currentTime;
    for (var i = 0; i < 3; i++) {
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = i % 2 ? 660 : 988;
      gain.gain.setValueAtTime(0.0001, t + i * 0.25);
      gain.gain.exponentialRampToValueAtTime(0.25, t + i * 0.25 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + i * 0.25 + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(t + i * 0.25);
      osc.stop(t + i * 0.25 + 0.22);
    }
  }
  if (soundBtn) {
    soundBtn.addEventListener("click", function () {
      if (audio && !muted) { muted = true; } else { muted = false; unlock(); }
      showSound();
    });
  }
  document.addEventListener("pointerdown", unlock, { once: true });
  showSound();

  // --- toast --------------------------------------------------------------------------------------
  var toastTimer = null;
  function toast(message, bad) {
    if (!toastEl) { return; }
    toastEl.textContent = message;
    toastEl.classList.toggle("bad", !!bad);
    toastEl.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { toastEl.hidden = true; }, bad ? 8000 : 4000);
  }

  // --- the board: rows, selection, new critical incidents, countdown ----------------------------------
  var seen = null, offset = 0, alerting = {};
  function rows() { return board ? Array.prototype.slice.call(board.querySelectorAll("tr[data-id]")) : []; }
  function select(row, scroll) {
    rows().forEach(function (r) { r.classList.remove("sel"); r.removeAttribute("aria-selected"); });
    state.selected = row ? row.dataset.id : null;
    if (row) {
      row.classList.add("sel");
      row.setAttribute("aria-selected", "true");
      if (scroll) { row.scrollIntoView({ block: "nearest" }); }
    }
  }
  function selectedRow() {
    return board && state.selected ? board.querySelector('tr[data-id="' + state.selected + '"]') : null;
  }
  var lastIndex = 0;
  function afterBoard() {
    var all = rows(), fresh = [];
    var table = board.querySelector("table[data-now]");
    if (table) { offset = Number(table.dataset.now) - Date.now(); }
    if (seen === null) {
      seen = {};
      all.forEach(function (r) { seen[r.dataset.id] = true; });
    } else {
      all.forEach(function (r) {
        if (!seen[r.dataset.id]) {
          seen[r.dataset.id] = true;
          if (r.dataset.severity === "critical") { fresh.push(r.dataset.id); }
        }
      });
    }
    all.forEach(function (r) {  // a new critical incident flashes until someone acknowledges it
      if (alerting[r.dataset.id] && r.dataset.state === "new") { r.classList.add("fresh"); }
    });
    var row = selectedRow();
    if (!row && all.length) { row = all[Math.min(lastIndex, all.length - 1)]; }
    select(row, false);
    if (fresh.length) {
      fresh.forEach(function (id) {
        alerting[id] = true;
        var r = board.querySelector('tr[data-id="' + id + '"]');
        if (r) { r.classList.add("fresh"); }
      });
      beep();
      toast("新的紧急工单 " + fresh.length + " 件,请立即接警");
      if (!dialog.open) { select(board.querySelector('tr[data-id="' + fresh[0] + '"]'), true); }
    }
    tick();
  }
  function fmt(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    if (s >= 86400) { return Math.floor(s / 86400) + "天" + Math.floor(s % 86400 / 3600) + "时"; }
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    var mm = (h ? (m < 10 ? "0" : "") : "") + m;
    return (h ? h + ":" : "") + mm + ":" + (sec < 10 ? "0" : "") + sec;
  }
  function tick() {
    var now = Date.now() + offset;
    rows().forEach(function (r) {
      if (!r.dataset.deadline) { return; }
      var left = Number(r.dataset.deadline) - now, cell = r.querySelector("td.left");
      if (!cell) { return; }
      cell.textContent = left < 0 ? "超时 " + fmt(left) : fmt(left);
      r.classList.toggle("overdue", left < 0);
    });
    var clock = document.getElementById("sc-clock");
    if (clock) { clock.textContent = new Date(now).toLocaleTimeString("zh-CN", { hour12: false }); }
  }
  if (board) {
    afterBoard();
    setInterval(tick, 1000);
    // A critical incident nobody has acknowledged rings again every 30 seconds.
    setInterval(function () {
      var waiting = rows().some(function (r) { return r.dataset.severity === "critical" && r.dataset.state === "new"; });
      if (waiting) { beep(); }
    }, 30000);
    board.addEventListener("htmx:beforeSwap", function (ev) {
      if (ev.detail.target !== board) { return; }
      var text = ev.detail.xhr.responseText || "";
      if (ev.detail.xhr.status !== 200 || text.indexOf("sc-table") < 0) {
        ev.detail.shouldSwap = false;  // signed out or server trouble: keep the last board, say so
        if (live) { live.textContent = "● 连接中断,请刷新页面或重新登录"; live.classList.add("stale"); }
        return;
      }
      var cur = selectedRow();
      lastIndex = cur ? rows().indexOf(cur) : lastIndex;
    });
    board.addEventListener("htmx:afterSettle", function (ev) {
      if (ev.detail.target !== board) { return; }
      if (live) { live.textContent = "● 实时"; live.classList.remove("stale"); }
      afterBoard();
    });
    board.addEventListener("htmx:sendError", function () {
      if (live) { live.textContent = "● 连接中断"; live.classList.add("stale"); }
    });
    board.addEventListener("click", function (ev) {
      var row = ev.target.closest("tr[data-id]");
      if (row && !ev.target.closest("a")) { select(row, false); }
    });
    board.addEventListener("dblclick", function (ev) {
      var row = ev.target.closest("tr[data-id]");
      if (row) { window.location.href = row.dataset.url; }
    });
  }

  // --- actions ---------------------------------------------------------------------------------------
  function currentUrl() {
    if (detailId) { return root.dataset.url || window.location.pathname; }
    var row = selectedRow();
    return row ? row.dataset.url : null;
  }
  function allowed(action) {
    if (action === "acknowledge" || action === "dispatch" || action === "follow_up" || action === "close" ||
        action === "reopen") { return canHandle; }
    return canRespond;
  }
  function run(action) {
    var base = currentUrl();
    if (!base) { toast("请先用 j / k 选择一个工单", true); return; }
    if (!allowed(action)) { toast("您没有执行此操作的权限", true); return; }
    var url = base + SLUG[action] + "/";
    var verb = action === "acknowledge" ? "POST" : "GET";
    htmx.ajax(verb, url, { source: root, target: "#dlg-body", swap: "innerHTML" });
  }
  function focusForm() {
    var form = dlgBody.querySelector("form");
    if (!form) { return; }
    var first = form.querySelector("fieldset.keys input:checked") || form.querySelector("fieldset.keys input") ||
                form.querySelector("input:not([type=hidden]), select");
    if (first) { first.focus(); }
  }
  dlgBody.addEventListener("htmx:afterSettle", function () {
    var done = dlgBody.querySelector(".sc-done");
    if (done) {
      if (dialog.open) { dialog.close(); }
      toast(done.textContent.trim(), false);
      if (detailId) { setTimeout(function () { window.location.reload(); }, 300); }
      else { htmx.trigger(document.body, "safety-refresh"); }
      return;
    }
    if (dlgBody.querySelector("form")) {
      if (!dialog.open) { dialog.showModal(); }
      focusForm();
    }
  });
  document.body.addEventListener("htmx:responseError", function (ev) {
    if (ev.detail.target === board) { return; }
    var st = ev.detail.xhr.status;
    toast(st === 404 ? "工单不存在或不在您的管辖范围内" : st === 403 ? "您没有执行此操作的权限" :
          "操作失败(" + st + "),请稍后重试", true);
  });
  dialog.addEventListener("click", function (ev) {
    if (ev.target.closest(".sc-cancel")) { dialog.close(); }
  });
  dialog.addEventListener("close", function () { dlgBody.innerHTML = ""; });
  // Dispatch: choosing "community worker" proposes the nearest worker; another target clears a
  // proposal the operator did not pick by hand (120 is not assigned to somebody by accident).
  dlgBody.addEventListener("change", function (ev) {
    var t = ev.target, select = dlgBody.querySelector("select[name=assignee]");
    if (!select) { return; }
    if (t === select) { select.dataset.picked = "1"; return; }
    if (t.name !== "target" || select.dataset.picked) { return; }
    if (t.value === "community_worker") {
      if (!select.value && select.options.length > 1) { select.selectedIndex = 1; }
    } else {
      select.value = "";
    }
  });
  // Keys while the dialog is open (wherever the focus is, even between two renders of the form):
  // digits choose in the option group, Enter submits, Esc cancels.
  function dialogKey(ev) {
    var form = dlgBody.querySelector("form");
    if (!form) { return; }
    var t = ev.target, tag = t.tagName, inside = dialog.contains(t);
    if (ev.key === "Escape") { ev.preventDefault(); dialog.close(); return; }
    var typing = inside && ((tag === "INPUT" && t.type !== "radio" && t.type !== "checkbox") || tag === "TEXTAREA" ||
                            tag === "SELECT");
    if (/^[0-9]$/.test(ev.key) && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      var set = (inside && t.closest("fieldset.keys")) || form.querySelector("fieldset.keys");
      if (!set) { return; }
      var radios = set.querySelectorAll("input[type=radio]");
      var i = ev.key === "0" ? 9 : Number(ev.key) - 1;
      if (radios[i]) {
        ev.preventDefault();
        radios[i].checked = true;
        radios[i].focus();
        radios[i].dispatchEvent(new Event("change", { bubbles: true }));
      }
      return;
    }
    if (ev.key === "Enter" && !(inside && (tag === "TEXTAREA" || tag === "BUTTON" || tag === "A"))) {
      ev.preventDefault();
      form.requestSubmit();
    }
  }
  root.addEventListener("click", function (ev) {
    var link = ev.target.closest("[data-action]");
    if (!link || !link.closest(".sc-actions")) { return; }
    ev.preventDefault();
    unlock();
    run(link.dataset.action);
  });

  // --- the keyboard ------------------------------------------------------------------------------------
  document.addEventListener("keydown", function (ev) {
    unlock();
    if (dialog.open) { dialogKey(ev); return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var t = ev.target, tag = t.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || t.isContentEditable) { return; }
    var all = rows(), cur = selectedRow(), i = cur ? all.indexOf(cur) : -1;
    switch (ev.key) {
      case "j": case "ArrowDown":
        if (!detailId && all.length) { ev.preventDefault(); select(all[Math.min(i + 1, all.length - 1)], true); }
        break;
      case "k": case "ArrowUp":
        if (!detailId && all.length) { ev.preventDefault(); select(all[Math.max(i - 1, 0)], true); }
        break;
      case "Enter":
        if (!detailId && cur && !(tag === "A" || tag === "BUTTON")) { ev.preventDefault(); window.location.href = cur.dataset.url; }
        break;
      case "Escape":
        if (detailId && root.dataset.back) { ev.preventDefault(); window.location.href = root.dataset.back; }
        break;
      case "a": ev.preventDefault(); run("acknowledge"); break;
      case "c": ev.preventDefault(); run("call"); break;
      case "d": ev.preventDefault(); run("dispatch"); break;
      case "r": ev.preventDefault(); run("resolve"); break;
      default: break;
    }
  });
})();
