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
