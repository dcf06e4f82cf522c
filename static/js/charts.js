// 双助推行动平台: charts. Every element [data-chart] whose ECharts option is JSON in a child
// <script type="application/json"> becomes a chart:
//
//   <div data-chart id="trend" class="chart">
//     <script type="application/json">{{ option|tojson }}</script>
//     <p class="chart-fallback">…the same figures as text, shown until the chart is drawn…</p>
//   </div>
//
// - ECharts (static/vendor, ~1 MB) is fetched only by pages that have a chart: a member's phone on a
//   rural network never downloads it. Its URL comes from this script tag's data-echarts attribute
//   (templates/base.html), the map's from data-map-yunnan; nothing is ever fetched from outside.
// - SVG renderer (crisp on a 1920×1080 screen and on paper), Chinese locale, ARIA description and
//   decal patterns, and the page's own font (the Noto CJK fonts of the intranet PCs, not a web font).
// - Live boards: when a chart's JSON changes — its <script> replaced or rewritten, or the region
//   around it swapped by htmx with a new element of the same id — the drawn chart stays and gets
//   setOption(option, {notMerge: true}): the figures move, the chart never blanks. A chart whose
//   element left the page is disposed. Keep hx-* attributes off the [data-chart] element itself.
// - Several charts per page; each resizes with its box (window resize, ResizeObserver, printing).
(function () {
  "use strict";
  var me = document.currentScript;
  var ECHARTS_URL = me && me.getAttribute("data-echarts");
  var MAP_URL = me && me.getAttribute("data-map-yunnan");
  var JSON_CHILD = ':scope > script[type="application/json"]';
  var reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var live = [];  // elements with a drawn chart (el.__szt = {chart, text})
  var echartsLoading = null;
  var mapLoading = null;
  var resizer = window.ResizeObserver ? new ResizeObserver(function (entries) {
    entries.forEach(function (e) { resize(e.target); });
  }) : null;

  function ensureEcharts() {
    if (window.echarts) return Promise.resolve(window.echarts);
    if (!echartsLoading) {
      echartsLoading = new Promise(function (resolve, reject) {
        if (!ECHARTS_URL) { reject(new Error("no data-echarts")); return; }
        var s = document.createElement("script");
        s.src = ECHARTS_URL;
        s.onload = function () { window.echarts ? resolve(window.echarts) : reject(new Error("echarts missing")); };
        s.onerror = function () { s.remove(); echartsLoading = null; reject(new Error("echarts did not load")); };
        document.head.appendChild(s);
      });
    }
    return echartsLoading;
  }

  // The map of the 16 州市 is registered once, the first time an option asks for it.
  function usesYunnan(option) {
    function any(list) {
      list = Array.isArray(list) ? list : (list ? [list] : []);
      return list.some(function (x) { return x && x.map === "yunnan"; });
    }
    return any(option.geo) || any(option.series);
  }

  function ensureMap(echarts) {
    if (echarts.getMap && echarts.getMap("yunnan")) return Promise.resolve();
    if (!mapLoading) {
      mapLoading = fetch(MAP_URL, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error("map " + r.status); return r.json(); })
        .then(function (geo) { echarts.registerMap("yunnan", geo); })
        .catch(function (err) { mapLoading = null; throw err; });
    }
    return mapLoading;
  }

  // ECharts inserts a tooltip formatter's result into the page as HTML, so every formatter here
  // encodes what it shows with escapeHtml: a name is whatever someone typed or imported.
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function textFormatter(text) {
    var html = escapeHtml(text).replace(/\n/g, "<br>");
    return function () { return html; };
  }

  // The options (app/boards/charts.py) carry tooltips and labels as plain text — {"text": "昆明市：推进进度 80%"} —
  // never as HTML or label templates; here each becomes a formatter that shows it as it is.
  function textOnly(option) {
    function fix(holder) {
      var tip = holder && holder.tooltip;
      if (tip && typeof tip.text === "string") {
        tip.formatter = textFormatter(tip.text);
        delete tip.text;
      }
      // A label's text is drawn as SVG text (never HTML); a function's result is not read as a
      // template, so a name holding {b} or {c} shows as typed.
      var label = holder && holder.label;
      if (label && typeof label.text === "string") {
        var shown = label.text;
        label.formatter = function () { return shown; };
        delete label.text;
      }
    }
    function list(x) { return Array.isArray(x) ? x : (x ? [x] : []); }
    fix(option);
    list(option.series).forEach(function (series) {
      fix(series);
      list(series && series.data).forEach(function (item) {
        if (item && typeof item === "object" && !Array.isArray(item)) fix(item);
      });
    });
  }

  // What every chart shares; an option may still say otherwise.
  function withDefaults(option, el) {
    textOnly(option);
    var aria = option.aria || (option.aria = {});
    if (aria.enabled === undefined) aria.enabled = true;
    if (!aria.decal) aria.decal = { show: true };
    var text = option.textStyle || (option.textStyle = {});
    if (!text.fontFamily) text.fontFamily = getComputedStyle(el).fontFamily;
    if (reduceMotion && option.animation === undefined) option.animation = false;
    return option;
  }

  function showProblem(el, message) {
    var p = el.querySelector(":scope > .chart-error");
    if (!p) {
      p = document.createElement("p");
      p.className = "chart-error";
      p.setAttribute("role", "status");
      el.appendChild(p);
    }
    p.textContent = message;
  }

  function draw(el) {
    var source = el.querySelector(JSON_CHILD);
    if (!source) return;
    var text = source.textContent;
    if (el.__sztText === text) return;  // drawn, or being drawn, with exactly this data
    el.__sztText = text;
    var option;
    try {
      option = JSON.parse(text);
    } catch (e) {
      showProblem(el, "图表数据有误，无法显示");
      return;
    }
    ensureEcharts().then(function (echarts) {
      return (usesYunnan(option) ? ensureMap(echarts) : Promise.resolve()).then(function () { return echarts; });
    }).then(function (echarts) {
      // Newer data may have arrived while loading, or the element may have gone.
      if (el.__sztText !== text || !el.isConnected) return;
      withDefaults(option, el);
      if (el.__szt) {
        el.__szt.chart.setOption(option, { notMerge: true });
      } else {
        var chart = echarts.init(el, null, { renderer: "svg", locale: "ZH" });
        chart.setOption(option);
        el.__szt = { chart: chart };
        live.push(el);
        if (resizer) resizer.observe(el);
      }
      el.classList.add("chart-ready");
      var problem = el.querySelector(":scope > .chart-error");
      if (problem) problem.remove();
    }).catch(function (err) {
      el.__sztText = null;  // try again on the next swap or reload
      if (window.console) console.error("chart", el.id || "", err);
      showProblem(el, "图表暂时无法显示，请刷新页面；页面上的数字不受影响");
    });
  }

  function dispose(el) {
    if (resizer) resizer.unobserve(el);
    el.__szt.chart.dispose();
    el.__szt = null;
    el.__sztText = null;
  }

  // A region around a chart was re-rendered: keep the drawn element, hand it the new JSON.
  function adopt(old, fresh) {
    var mine = old.querySelector(JSON_CHILD);
    var theirs = fresh.querySelector(JSON_CHILD);
    if (mine && theirs) mine.textContent = theirs.textContent;
    fresh.replaceWith(old);
  }

  function scan() {
    live.forEach(function (el) {
      if (el.isConnected || !el.id) return;
      var fresh = document.getElementById(el.id);
      if (fresh && fresh !== el && fresh.hasAttribute("data-chart") && !fresh.__szt) adopt(el, fresh);
    });
    live = live.filter(function (el) {
      if (el.isConnected) return true;
      dispose(el);
      return false;
    });
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  var queued = false;
  function schedule() {
    if (queued) return;
    queued = true;
    // A microtask: after the swap that queued it, before the browser paints.
    Promise.resolve().then(function () { queued = false; scan(); });
  }

  function resize(el) {
    if (el.__szt && el.isConnected) el.__szt.chart.resize();
  }

  function resizeAll() { live.forEach(resize); }

  // Mutations that concern charts: an element added or removed outside the drawings (which
  // ECharts itself keeps changing), or the JSON of a chart rewritten.
  function concernsCharts(record) {
    var target = record.target.nodeType === 1 ? record.target : record.target.parentElement;
    if (!target) return false;
    var holder = target.closest("[data-chart]");
    if (holder && holder !== target && target.tagName !== "SCRIPT") return false;
    if (record.type === "characterData") return target.tagName === "SCRIPT" && !!holder;
    function elementIn(nodes) {
      for (var i = 0; i < nodes.length; i++) if (nodes[i].nodeType === 1) return true;
      return false;
    }
    return elementIn(record.addedNodes) || elementIn(record.removedNodes) || target.tagName === "SCRIPT";
  }

  new MutationObserver(function (records) {
    if (records.some(concernsCharts)) schedule();
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });

  document.addEventListener("htmx:afterSettle", schedule);
  document.addEventListener("htmx:load", schedule);
  var resizeQueued = false;
  window.addEventListener("resize", function () {
    if (resizeQueued) return;
    resizeQueued = true;
    requestAnimationFrame(function () { resizeQueued = false; resizeAll(); });
  });
  window.addEventListener("beforeprint", resizeAll);
  window.addEventListener("afterprint", resizeAll);
  if (window.matchMedia) {
    var printing = window.matchMedia("print");
    if (printing.addEventListener) printing.addEventListener("change", resizeAll);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", schedule);
  else schedule();
  // For the tests and the meeting view: the instance drawn in an element, and a way to ask for a scan.
  window.sztCharts = {
    scan: schedule,
    escapeHtml: escapeHtml,
    instance: function (el) { return el && el.__szt ? el.__szt.chart : null; },
  };
})();
