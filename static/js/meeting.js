// 大屏 (meeting mode, templates/meeting/screen.html): shows each slide of the playlist in turn every
// data-every seconds; pausable (button or space bar), arrows step back and forth. Each slide is
// fetched with the screen's scale (s = height ÷ 1080, or width ÷ 1920 on a narrower screen) so its
// charts' type grows with the screen as the CSS does; a slide keeps itself live (it polls its own
// version), so a paused slide still shows new figures. The bar's clock ticks in Beijing time.
(function () {
  "use strict";
  var root = document.getElementById("meeting");
  if (!root) return;
  var urls = Array.prototype.map.call(root.querySelectorAll(".meeting-slides li"), function (li) {
    return { url: li.getAttribute("data-url"), name: li.textContent };
  });
  var every = Math.max(5, parseInt(root.getAttribute("data-every"), 10) || 20) * 1000;
  var at = -1, paused = false, timer = null;
  var pos = document.getElementById("meeting-pos");
  var pauseButton = document.getElementById("meeting-pause");
  var clock = document.getElementById("meeting-clock");

  function scale() {
    var s = Math.min(window.innerHeight / 1080, window.innerWidth / 1920);
    return Math.max(0.25, Math.min(8, Math.round(s * 100) / 100));
  }

  function show(n) {
    if (!urls.length) return;
    at = (n + urls.length) % urls.length;
    pos.textContent = (at + 1) + " / " + urls.length + " · " + urls[at].name;
    root.setAttribute("data-slide", String(at));
    root.removeAttribute("data-loaded");
    var wanted = at;
    htmx.ajax("GET", urls[at].url + "&s=" + scale(), { target: "#slide", swap: "innerHTML" }).then(function () {
      if (wanted === at) root.setAttribute("data-loaded", String(at));
    });
  }
  function schedule() {
    clearTimeout(timer);
    if (!paused) timer = setTimeout(function () { show(at + 1); schedule(); }, every);
  }
  function togglePause() {
    paused = !paused;
    pauseButton.textContent = paused ? "继续" : "暂停";
    pauseButton.setAttribute("aria-pressed", paused ? "true" : "false");
    root.classList.toggle("is-paused", paused);
    schedule();
  }
  function tick() {
    clock.textContent = new Date().toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
  }
  pauseButton.addEventListener("click", togglePause);
  document.getElementById("meeting-next").addEventListener("click", function () { show(at + 1); schedule(); });
  document.getElementById("meeting-prev").addEventListener("click", function () { show(at - 1); schedule(); });
  document.addEventListener("keydown", function (e) {
    if (e.key === " ") { e.preventDefault(); togglePause(); }
    else if (e.key === "ArrowRight") { show(at + 1); schedule(); }
    else if (e.key === "ArrowLeft") { show(at - 1); schedule(); }
  });
  tick();
  setInterval(tick, 1000);
  show(0);
  schedule();
})();
