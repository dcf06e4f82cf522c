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
