// 双助推行动平台: the little JavaScript the pages need beyond htmx. Everything works without it.
(function () {
  "use strict";
  function showToast(html, text) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var el = document.createElement("div");
    if (html) {
      el.innerHTML = html;
      var inner = el.querySelector(".toast");
      el = inner || el;
    } else {
      el.className = "toast toast-error";
      el.textContent = text;
    }
    el.setAttribute("role", "alert");
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, 8000);
  }
  // A request that failed: say so plainly; the form keeps what was typed (nothing was swapped).
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    var body = xhr.responseText || "";
    if (body.indexOf('class="toast') >= 0) { showToast(body); return; }
    try { showToast(null, JSON.parse(body).detail); } catch (e) { showToast(null, "操作失败（" + xhr.status + "），请重试"); }
  });
  // Inside a <form data-queue> the phone's queue takes a failed submission and the form's own
  // look-ups simply wait for the network (static/js/offline.js) — when that script is running.
  var queued = function (evt) {
    var elt = evt.detail && evt.detail.elt;
    return !!(window.sztOffline && elt && elt.closest && elt.closest("[data-queue]"));
  };
  document.addEventListener("htmx:sendError", function (evt) {
    if (!queued(evt)) showToast(null, "网络连接失败，内容没有丢失，请检查网络后再提交一次");
  });
  document.addEventListener("htmx:timeout", function (evt) {
    if (!queued(evt)) showToast(null, "网络太慢，请求超时；内容没有丢失，请再提交一次");
  });
})();
// Mark pages where htmx runs: CSS then hides the pickers' reload buttons, which are only needed
// without JavaScript (or when htmx failed to load on a weak network — then they stay).
if (window.htmx) document.documentElement.classList.add("htmx");

// Behaviour the templates ask for with data-* attributes, so the Content-Security-Policy can refuse
// every inline script and on…= handler (app/security.py):
// - <form data-confirm="问题？">: asks before sending (plain or htmx form); on yes, its
//   [data-confirmed] inputs are enabled, telling the server the question was answered (without
//   JavaScript they stay disabled and the server asks on a page of its own).
// - <input type=checkbox data-check-all="selector">: ticks or clears every box the selector finds.
// - <button data-print>: prints the page. <button data-clear="#id">: empties that enclosing element.
// - [data-back] (hidden until here): its links go back one page.
(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  // Capture phase: runs before htmx's own submit listener, which a "no" must not reach.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (!question) return;
    if (!window.confirm(question)) {
      e.preventDefault();
      e.stopImmediatePropagation();
      return;
    }
    each(form.querySelectorAll("[data-confirmed]"), function (input) { input.disabled = false; });
  }, true);
  document.addEventListener("change", function (e) {
    var box = e.target;
    var selector = box.getAttribute && box.getAttribute("data-check-all");
    if (!selector) return;
    each(document.querySelectorAll(selector), function (b) { if (!b.disabled) b.checked = box.checked; });
  });
  document.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-print], [data-clear], [data-back] a");
    if (!el) return;
    if (el.hasAttribute("data-print")) { window.print(); return; }
    if (el.hasAttribute("data-clear")) {
      var panel = el.closest(el.getAttribute("data-clear"));
      if (panel) panel.innerHTML = "";
      return;
    }
    e.preventDefault();
    history.back();
  });
  if (history.length > 1) each(document.querySelectorAll("[data-back]"), function (el) { el.hidden = false; });
})();

// <input data-over="N" aria-describedby="hint">: a figure above N (the plausibility rule's bound,
// given by the server in the unit typed) shows its hint while it is typed. Nothing is refused here:
// the server asks 「请确认数值无误」 on submit.
(function () {
  "use strict";
  function check(input) {
    var hint = document.getElementById(input.getAttribute("aria-describedby"));
    if (!hint) return;
    var text = (input.value || "").replace(/[，,\s]/g, "").replace(/[０-９]/g, function (d) {
      return String.fromCharCode(d.charCodeAt(0) - 0xFF10 + 48);
    }).replace(/[．。]/g, ".");
    var value = parseFloat(text), max = parseFloat(input.getAttribute("data-over"));
    hint.hidden = !(isFinite(value) && isFinite(max) && value > max);
  }
  document.addEventListener("input", function (e) {
    if (e.target && e.target.matches && e.target.matches("input[data-over]")) check(e.target);
  });
  document.addEventListener("htmx:afterSwap", function () {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-over]"), check);
  });
})();

// <button data-countdown="60">: a code was just sent; the button waits that many seconds before it
// may ask for another (the server refuses sooner anyway — this only says so before the tap).
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("[data-countdown]"), function (button) {
    var left = parseInt(button.getAttribute("data-countdown"), 10) || 0;
    if (left <= 0) return;
    var label = button.textContent;
    button.disabled = true;
    var tick = function () {
      if (left <= 0) {
        button.disabled = false;
        button.textContent = "重新获取";
        return;
      }
      button.textContent = label + "（" + left + " 秒）";
      left -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  });
})();
