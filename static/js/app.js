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
  document.addEventListener("htmx:sendError", function () {
    showToast(null, "网络连接失败，内容没有丢失，请检查网络后再提交一次");
  });
  document.addEventListener("htmx:timeout", function () {
    showToast(null, "网络太慢，请求超时；内容没有丢失，请再提交一次");
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

// <form data-keep="name">: Back keeps every field. What is typed is saved to sessionStorage as it
// changes — with the inner HTML of its [data-keep-html] parts, which htmx filled (the chosen task's
// value inputs, the chosen site and members) — and put back when the page is shown again by Back,
// Forward or a reload (from the back/forward cache or not). Any other visit starts afresh. Photos
// are never kept here (a file input cannot be filled by a script); neither is the CSRF token.
(function () {
  "use strict";
  var PREFIX = "szt-draft:";
  var SKIP = { csrf_token: true, reload: true };
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  function store() { try { return window.sessionStorage; } catch (e) { return null; } }
  function keepable(el) {
    return el.name && !SKIP[el.name] && el.type !== "file" && el.type !== "submit" && el.type !== "button";
  }
  function save(form) {
    var s = store();
    if (!s) return;
    var parts = {}, fields = [];
    each(form.querySelectorAll("[data-keep-html][id]"), function (el) { parts[el.id] = el.innerHTML; });
    each(form.elements, function (el) {
      if (!keepable(el)) return;
      if (el.type === "checkbox" || el.type === "radio") fields.push([el.name, el.value, el.checked]);
      else fields.push([el.name, el.value]);
    });
    try { s.setItem(PREFIX + form.getAttribute("data-keep"), JSON.stringify({ parts: parts, fields: fields })); } catch (e) { /* full */ }
  }
  function restore(form) {
    var s = store(), saved = null;
    if (!s) return;
    try { saved = JSON.parse(s.getItem(PREFIX + form.getAttribute("data-keep")) || "null"); } catch (e) { saved = null; }
    if (!saved || !saved.fields) return;
    Object.keys(saved.parts || {}).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && form.contains(el) && el.hasAttribute("data-keep-html")) {
        el.innerHTML = saved.parts[id];
        if (window.htmx) window.htmx.process(el);
      }
    });
    var seen = {};
    saved.fields.forEach(function (f) {
      var name = f[0], value = f[1];
      var list = form.querySelectorAll('[name="' + CSS.escape(name) + '"]');
      if (f.length === 3) {
        each(list, function (el) { if (el.value === value) el.checked = f[2]; });
        return;
      }
      // Several fields of one name (hidden labels) are filled in order.
      var n = seen[name] || 0;
      seen[name] = n + 1;
      var el = list[n];
      if (el && keepable(el)) el.value = value;
    });
  }
  // The page's history entry is marked once it showed the form: Back, Forward and reload come to a
  // marked entry (history.state survives them), any other visit to a new one.
  function shownAgain(evt, key) {
    return !!(evt && evt.persisted) || !!(history.state && history.state.sztDraft === key);
  }
  window.addEventListener("pageshow", function (evt) {
    each(document.querySelectorAll("form[data-keep]"), function (form) {
      var key = form.getAttribute("data-keep");
      if (shownAgain(evt, key)) restore(form);
      else { var s = store(); if (s) s.removeItem(PREFIX + key); }
      try { history.replaceState(Object.assign({}, history.state, { sztDraft: key }), ""); } catch (e) { /* no history */ }
      save(form);
    });
  });
  var onEdit = function (e) {
    var form = e.target.closest && e.target.closest("form[data-keep]");
    if (form) save(form);
  };
  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);
  // htmx filled a part (the task's value inputs, a type-ahead's options) or re-rendered the form.
  document.addEventListener("htmx:afterSettle", function () {
    each(document.querySelectorAll("form[data-keep]"), save);
  });
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
