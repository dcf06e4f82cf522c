// 大屏 (meeting mode): shows each slide of the list in turn every data-every seconds; pausable
// (button or space bar), arrows step back and forth. A slide is a board fragment that keeps itself
// live (it polls its own version), so a paused slide still shows new figures.
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

  function show(n) {
    if (!urls.length) return;
    at = (n + urls.length) % urls.length;
    pos.textContent = (at + 1) + " / " + urls.length + " · " + urls[at].name;
    root.setAttribute("data-slide", String(at));
    htmx.ajax("GET", urls[at].url, { target: "#slide", swap: "innerHTML" });
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
  pauseButton.addEventListener("click", togglePause);
  document.getElementById("meeting-next").addEventListener("click", function () { show(at + 1); schedule(); });
  document.getElementById("meeting-prev").addEventListener("click", function () { show(at - 1); schedule(); });
  document.addEventListener("keydown", function (e) {
    if (e.key === " ") { e.preventDefault(); togglePause(); }
    else if (e.key === "ArrowRight") { show(at + 1); schedule(); }
    else if (e.key === "ArrowLeft") { show(at - 1); schedule(); }
  });
  show(0);
  schedule();
})();
