// The member's phone on a weak network (issue 18), on every signed-in page (<body data-user>):
// - registers the service worker (/sw.js) and asks it to keep this page's static files and the
//   recording pages for use without a network;
// - <form data-draft="name">: a draft that survives — fields, the parts htmx filled ([data-keep-html])
//   and the chosen photos are kept in IndexedDB as they change, put back when the page is opened again
//   (after WeChat was closed, Back, a crash) with a note and 「清空，重新填写」, and dropped once the server
//   accepted the submission or it went to the queue. /activities/new?queued=KEY opens a refused
//   queued item as the draft, with the server's reason;
// - <form data-queue>: submitted without a network (or when the network fails during the upload) it
//   goes to the phone's queue (static/js/outbox.js) and the form gives way to
//   「已保存在手机上，有网络时自动提交」, which turns into 「已提交成功」 when it has been sent;
// - the queue is sent on `online`, on every page load, when the page is shown again, and on a timer
//   that backs off; by Background Sync too where the browser has it (static/js/sw.js);
// - 我的活动 ([data-queue-list]) lists the queued items with 立即重试 and 删除 (and 修改后提交 for one
//   refused); #queue-banner on every other page says how many wait.
// Choosing a task fills its value inputs from the page's own <template data-values-for> at once,
// network or not. Without JavaScript, IndexedDB or a service worker, the form works as before.
(function () {
  "use strict";
  var O = window.sztOutbox;
  var user = document.body && document.body.getAttribute("data-user");
  if (!O || !user || window.sztOffline) return;
  window.sztOffline = true;
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var SKIP = { csrf_token: true, reload: true };
  var KEY_FIELD = "idempotency_key";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text != null) node.textContent = text; // always text: what a member typed is never markup
    return node;
  }
  function toast(text) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var t = el("div", { "class": "toast toast-error", role: "alert" }, text);
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, 8000);
  }
  function newKey() {
    var bytes = new Uint8Array(24);
    crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function when(ms) {
    var d = new Date(ms), pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return (d.getMonth() + 1) + "月" + d.getDate() + "日 " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  // --- the service worker -------------------------------------------------------------------------
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", function (e) {
      if (e.data && e.data.type === "kept") document.documentElement.setAttribute("data-offline-ready", "");
    });
    navigator.serviceWorker.register("/sw.js").then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      var urls = [];
      each(document.querySelectorAll("script[src*='/static/'], link[href*='/static/']"), function (n) {
        urls.push(n.getAttribute("src") || n.getAttribute("href"));
      });
      if (reg.active) reg.active.postMessage({ type: "keep", urls: urls });
    }).catch(function () { /* no worker (blocked, old browser): the pages send the queue themselves */ });
  }
  function askForSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.sync) return reg.sync.register("szt-outbox");
      return null;
    }).catch(function () { /* no Background Sync: the page's own timer sends */ });
  }

  // --- drafts -------------------------------------------------------------------------------------
  function keepable(n) {
    return n.name && !SKIP[n.name] && n.type !== "file" && n.type !== "submit" && n.type !== "button";
  }
  function draftForm() { return document.querySelector("form[data-draft]"); }
  function draftId(form) { return user + ":" + form.getAttribute("data-draft"); }
  function photoInput(form) { return form.querySelector("input[type=file]"); }

  function snapshot(form) {
    var parts = {}, fields = [];
    each(form.querySelectorAll("[data-keep-html][id]"), function (n) { parts[n.id] = n.innerHTML; });
    each(form.elements, function (n) {
      if (!keepable(n)) return;
      if (n.type === "checkbox" || n.type === "radio") fields.push([n.name, n.value, n.checked]);
      else fields.push([n.name, n.value]);
    });
    return { parts: parts, fields: fields };
  }
  function meaningful(fields, photos) {
    return (photos && photos.length > 0) || fields.some(function (f) {
      return f.length === 2 && f[1] && (f[0] === "task_id" || f[0] === "description" || /^value_/.test(f[0]));
    });
  }
  var saving = null;
  var restored = false; // nothing is saved before the saved draft was put back: it would be lost
  // Typing is saved 300 ms after the last key; a choice (change), leaving the page or hiding it, at once.
  // A form whose submission was accepted (data-accepted) or queued is no draft any more.
  function writeDraft(form) {
    if (!restored || !form || !form.isConnected || form.hasAttribute("data-accepted")) return;
    var input = photoInput(form);
    if (input && input.hasAttribute("data-shrinking")) return; // saved when the shrunk photos are in
    var snap = snapshot(form);
    snap.id = draftId(form);
    snap.user = user;
    snap.saved_at = Date.now();
    snap.photos = input ? Array.prototype.slice.call(input.files || []) : [];
    if (!meaningful(snap.fields, snap.photos)) { O.dropDraft(snap.id).catch(function () {}); return; }
    O.saveDraft(snap).catch(function () { /* storage full or refused: the form itself still holds it */ });
  }
  function saveDraft(form, now) {
    clearTimeout(saving);
    if (now) writeDraft(form);
    else saving = setTimeout(function () { writeDraft(form); }, 300);
  }
  function fill(form, saved, photos) {
    Object.keys(saved.parts || {}).forEach(function (id) {
      var part = document.getElementById(id);
      if (part && form.contains(part) && part.hasAttribute("data-keep-html")) {
        part.innerHTML = saved.parts[id];
        if (window.htmx) window.htmx.process(part);
      }
    });
    var seen = {};
    (saved.fields || []).forEach(function (f) {
      var list = form.querySelectorAll('[name="' + CSS.escape(f[0]) + '"]');
      if (f.length === 3) {
        each(list, function (n) { if (n.value === f[1]) n.checked = f[2]; });
        return;
      }
      var i = seen[f[0]] || 0; // several fields of one name (hidden labels) are filled in order
      seen[f[0]] = i + 1;
      if (list[i] && keepable(list[i])) list[i].value = f[1];
    });
    var input = photoInput(form);
    if (input && photos && photos.length) {
      try {
        var dt = new DataTransfer();
        photos.forEach(function (p) { dt.items.add(p); });
        input.files = dt.files;
        if (window.sztPhotos) {
          window.sztPhotos.showSizes(input, photos.map(function (p) { return { file: p, before: p.size, after: p.size }; }));
        }
      } catch (e) { /* no DataTransfer: the member picks the photos again */ }
    }
  }
  function note(form, text, isError) {
    var box = form.querySelector("[data-draft-note]");
    if (!box) return;
    box.querySelector("[data-draft-text]").textContent = text;
    box.classList.toggle("alert-error", !!isError);
    box.classList.toggle("alert-ok", !isError);
    box.hidden = false;
  }
  function freshKey(form) {
    var field = form.querySelector("[name=" + KEY_FIELD + "]");
    if (field) field.value = newKey();
  }

  // On opening the page: a refused queued item (?queued=KEY), else the saved draft; and a submission
  // key the phone has used already (a kept copy of the page) is replaced by a new one.
  function restore(form) {
    var id = draftId(form);
    var field = form.querySelector("[name=" + KEY_FIELD + "]");
    var queued = new URLSearchParams(location.search).get("queued");
    var opening = queued ? Promise.all([O.item(queued), O.draft(id)]).then(function (found) {
      var i = found[0], current = found[1];
      if (!i || String(i.user) !== user || i.state !== "refused" || !i.draft) return false;
      if (current && meaningful(current.fields, current.photos) &&
          !window.confirm("表单里还有一条没有提交的内容。打开这条没有提交成功的活动，会替换表单里的内容。继续吗？")) {
        return false; // the draft stays, the refused item stays in 我的活动
      }
      fill(form, i.draft, i.files.map(function (f) { return f.file; }));
      if (i.collided) freshKey(form);
      note(form, "这条活动没有提交成功：" + (i.message || "请修改后再提交") + "。请修改后重新提交。", true);
      var snap = snapshot(form);
      snap.id = id; snap.user = user; snap.saved_at = Date.now(); snap.photos = i.files.map(function (f) { return f.file; });
      return O.saveDraft(snap).then(function () { return O.remove(i.key); }).then(function () { return true; });
    }) : Promise.resolve(false);
    return opening.then(function (done) {
      if (done) return null;
      return O.draft(id).then(function (saved) {
        if (!saved || !meaningful(saved.fields, saved.photos)) return null;
        var key = (saved.fields.filter(function (f) { return f[0] === KEY_FIELD; })[0] || [])[1];
        return (key ? O.item(key) : Promise.resolve(null)).then(function (sent) {
          if (sent) return O.dropDraft(id); // it went to the queue or was recorded: not a draft any more
          fill(form, saved, saved.photos);
          note(form, "已恢复您上次没有提交的内容（" + when(saved.saved_at) + " 保存）。");
          return null;
        });
      });
    }).then(function () {
      return field && field.value ? O.item(field.value) : null;
    }).then(function (used) {
      if (used) freshKey(form);
    }).catch(function () { /* no IndexedDB: the form works as it is */ }).then(function () {
      restored = true;
      form.setAttribute("data-draft-ready", "");
      saveDraft(form); // what was typed while the draft was being looked for
    });
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-draft-clear]");
    if (!button) return;
    var form = button.closest("form[data-draft]");
    if (!form || !window.confirm("清空后，已填写的内容和选择的照片都会删除。确定清空吗？")) return;
    O.dropDraft(draftId(form)).catch(function () {}).then(function () {
      location.href = location.pathname + (form.getAttribute("data-draft").indexOf("-behalf") > 0 ? "?on_behalf=1" : "");
    });
  });
  var onEdit = function (e) {
    var form = e.target.closest && e.target.closest("form[data-draft]");
    if (form) saveDraft(form, e.type !== "input");
  };
  var flush = function () { var form = draftForm(); if (form) saveDraft(form, true); };
  window.addEventListener("pagehide", flush);
  document.addEventListener("visibilitychange", function () { if (document.hidden) flush(); });
  document.addEventListener("input", onEdit);
  document.addEventListener("change", onEdit);
  document.addEventListener("szt:photos", onEdit);
  document.addEventListener("htmx:afterSettle", function () {
    var form = draftForm();
    if (form && restored) {
      form.setAttribute("data-draft-ready", ""); // a form htmx re-rendered holds what was typed
      saveDraft(form);
    }
  });

  // --- submitting: the server's answer, or the queue ----------------------------------------------
  function queueForm(elt) { return elt && elt.matches && elt.matches("form[data-queue]") ? elt : null; }
  function summary(form, fd) {
    var text = function (sel) {
      var s = form.querySelector(sel);
      return s && s.selectedIndex > 0 ? s.options[s.selectedIndex].text : "";
    };
    var photos = fd.getAll("photos").filter(function (f) { return f && f.size; }).length;
    return { task: text("#f-task"), county: text("#f-county"), date: fd.get("occurred_on") || "",
             description: String(fd.get("description") || "").slice(0, 200), photos: photos };
  }
  function enqueue(form, fd) {
    var fields = [], files = [];
    fd.forEach(function (value, name) {
      if (typeof value === "string") fields.push([name, value]);
      else if (value && value.size) files.push({ field: name, file: value });
    });
    var key = fd.get(KEY_FIELD);
    var item = {
      key: key, user: user, action: form.getAttribute("action"), fields: fields, files: files,
      draft: snapshot(form), summary: summary(form, fd), queued_at: Date.now(),
      state: "waiting", tries: 0, next_try: 0, lease_until: 0, message: "",
    };
    form.setAttribute("data-accepted", ""); // the queue holds it now
    O.put(item).then(function () {
      return O.dropDraft(draftId(form)).catch(function () {});
    }).then(function () {
      showQueued(form, item);
      askForSync();
      schedule();
    }).catch(function () {
      form.removeAttribute("data-accepted");
      toast("手机存储不可用，无法保存在手机上：内容没有丢失，请有网络时再提交");
    });
  }
  function panelLines(panel, i) {
    var state = panel.querySelector("[data-queued-state]"), link = panel.querySelector("[data-queued-link]");
    var box = panel.querySelector(".alert");
    box.classList.toggle("alert-error", i.state === "refused");
    box.classList.toggle("alert-ok", i.state !== "refused");
    link.hidden = true;
    if (i.state === "done") {
      state.textContent = "已提交成功，等待「双助推」办公室审核。";
      link.textContent = "查看已提交的活动";
      link.href = "/activities/" + i.activity_id;
      link.hidden = false;
    } else if (i.state === "refused") {
      state.textContent = "没有提交成功：" + (i.message || "请修改后再提交");
      link.textContent = "修改后提交";
      link.href = "/activities/new?queued=" + encodeURIComponent(i.key);
      link.hidden = false;
    } else if (i.state === "sending") {
      state.textContent = "正在提交…";
    } else if (signedOut) {
      state.textContent = "已保存在手机上。登录已过期：请重新登录，登录后自动提交。";
      link.textContent = "重新登录";
      link.href = "/login?next=" + encodeURIComponent("/activities/mine");
      link.hidden = false;
    } else {
      state.textContent = "已保存在手机上，有网络时自动提交。" + (i.message ? "（" + i.message + "）" : "");
    }
  }
  function showQueued(form, item) {
    var panel = el("div", { id: "activity-form", "class": "queued-note", "data-queued": item.key });
    var box = el("div", { "class": "alert alert-ok", role: "status" });
    var p = el("p");
    p.appendChild(el("strong", { "data-queued-state": "" }));
    box.appendChild(p);
    var s = item.summary;
    box.appendChild(el("p", { "class": "hint" }, [s.task, s.date, s.county].filter(Boolean).join(" · ") +
      (s.photos ? " · " + s.photos + " 张照片" : "")));
    panel.appendChild(box);
    var actions = el("p", { "class": "actions" });
    var link = el("a", { "class": "btn btn-primary", "data-queued-link": "", href: "#" });
    actions.appendChild(link);
    actions.appendChild(el("a", { "class": "btn", href: "/activities/mine" }, "查看我的活动"));
    actions.appendChild(el("a", { "class": "btn", href: "/activities/new" }, "再记录一条"));
    panel.appendChild(actions);
    panelLines(panel, item);
    form.replaceWith(panel);
  }

  document.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail.elt;
    // The task's value inputs come from the page itself: at once, and without a network too.
    if (elt && elt.id === "f-task") {
      var tpl = document.querySelector('template[data-values-for="' + CSS.escape(elt.value) + '"]');
      var target = document.getElementById("values");
      if (tpl && target) {
        e.preventDefault();
        target.innerHTML = "";
        target.appendChild(tpl.content.cloneNode(true));
        if (window.htmx) window.htmx.process(target);
        saveDraft(elt.form);
      }
      return;
    }
    var form = queueForm(elt);
    if (form && e.detail.requestConfig && e.detail.requestConfig.verb === "post" && navigator.onLine === false) {
      e.preventDefault();
      enqueue(form, e.detail.requestConfig.formData);
    }
  });
  var failed = function (e) {
    var form = queueForm(e.detail.elt);
    if (form && e.detail.requestConfig && e.detail.requestConfig.verb === "post") {
      enqueue(form, e.detail.requestConfig.formData);
    }
  };
  document.addEventListener("htmx:sendError", failed);
  document.addEventListener("htmx:timeout", failed);
  // Accepted: no draft any more. (On the page it goes to, ?created=1 drops it too, in case this
  // answer's navigation won the race.)
  document.addEventListener("htmx:beforeOnLoad", function (e) {
    var form = queueForm(e.detail.elt), xhr = e.detail.xhr;
    if (!form || !xhr) return;
    if ((xhr.status === 204 && xhr.getResponseHeader("HX-Redirect")) || xhr.getResponseHeader("X-Recorded")) {
      form.setAttribute("data-accepted", "");
      O.dropDraft(draftId(form)).catch(function () {});
      var key = form.querySelector("[name=" + KEY_FIELD + "]");
      if (key && key.value) O.accepted(key.value, user).catch(function () {});
    }
  });
  // Back to a form kept whole by the browser (back/forward cache) after its submission was accepted:
  // load it afresh, empty, with a new key — not the sent form again.
  window.addEventListener("pageshow", function (e) {
    if (e.persisted && document.querySelector("form[data-accepted]")) location.reload();
  });
  if (/[?&]created=1/.test(location.search)) {
    O.dropDraft(user + ":activity-new").catch(function () {});
    O.dropDraft(user + ":activity-new-behalf").catch(function () {});
  }

  // --- sending the queue --------------------------------------------------------------------------
  var timer = null;
  var signedOut = false; // the last try found nobody signed in: the queue waits for the member
  function pump(force) {
    if (navigator.onLine === false) { refresh(); return Promise.resolve(null); }
    return O.sendAll({ force: !!force }).then(function (r) {
      if (r && (r.signedOut || r.sent)) signedOut = !!r.signedOut;
      refresh();
      schedule();
      return r;
    },
      function () { schedule(); return null; });
  }
  function schedule() {
    clearTimeout(timer);
    O.items(user).then(function (list) {
      var waiting = list.filter(function (i) { return i.state === "waiting" || i.state === "sending"; });
      if (!waiting.length || navigator.onLine === false) return;
      var next = Math.min.apply(null, waiting.map(function (i) { return i.state === "sending" ? i.lease_until : i.next_try; }));
      timer = setTimeout(function () { pump(false); }, Math.min(5 * 60 * 1000, Math.max(1000, next - Date.now())));
    }).catch(function () {});
  }
  window.addEventListener("online", function () { showOffline(); pump(true); });
  window.addEventListener("offline", showOffline);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) pump(false); });

  // --- what the member sees -----------------------------------------------------------------------
  function showOffline() {
    each(document.querySelectorAll("[data-offline-note]"), function (n) { n.hidden = navigator.onLine !== false; });
  }
  var STATE = { waiting: "等待网络", sending: "正在提交", refused: "没有提交成功" };
  function listItem(i) {
    var li = el("li", { "class": "activity-item queued-item", "data-key": i.key });
    var s = i.summary || {};
    var head = el("span", { "class": "line" });
    head.appendChild(el("strong", null, s.task || "（未选实事）"));
    head.appendChild(document.createTextNode(" "));
    head.appendChild(el("span", { "class": "status status-" + (i.state === "refused" ? "returned" : "queued") }, STATE[i.state] || ""));
    li.appendChild(head);
    li.appendChild(el("span", { "class": "line muted" }, [s.date, s.county].filter(Boolean).join(" · ") +
      (s.photos ? " · " + s.photos + " 张照片" : "") + " · " + when(i.queued_at) + " 保存在手机上"));
    if (s.description) li.appendChild(el("span", { "class": "line" }, s.description.length > 60 ? s.description.slice(0, 60) + "…" : s.description));
    if (i.state === "refused") li.appendChild(el("p", { "class": "reason" }, "原因：" + (i.message || "请修改后再提交")));
    else if (i.message) li.appendChild(el("p", { "class": "hint" }, i.message));
    var actions = el("p", { "class": "actions" });
    if (i.state === "refused") {
      actions.appendChild(el("a", { "class": "btn btn-primary", href: "/activities/new?queued=" + encodeURIComponent(i.key) }, "修改后提交"));
    } else {
      actions.appendChild(el("button", { type: "button", "class": "btn", "data-queue-retry": i.key }, "立即重试"));
    }
    actions.appendChild(el("button", { type: "button", "class": "btn", "data-queue-delete": i.key }, "删除"));
    li.appendChild(actions);
    return li;
  }
  var listed = {};
  function refresh() {
    O.items(user).then(function (list) {
      var open = list.filter(function (i) { return i.state !== "done"; });
      var refused = open.filter(function (i) { return i.state === "refused"; }).length;
      var section = document.querySelector("[data-queue-list]");
      if (section) {
        section.textContent = "";
        if (open.length) {
          section.appendChild(el("h2", { "class": "section-title" }, "保存在手机上、还没有提交的活动（" + open.length + " 条）"));
          section.appendChild(el("p", { "class": "hint" }, "有网络时会自动提交，不会重复记录。"));
          var ul = el("ul", { "class": "activity-list queued-items" });
          open.forEach(function (i) { ul.appendChild(listItem(i)); });
          section.appendChild(ul);
        }
        section.hidden = open.length === 0;
        // One listed here was just sent: the server's list below shows it now.
        var sent = false;
        list.forEach(function (i) {
          if (i.state !== "done") listed[i.key] = true;
          else if (listed[i.key]) { sent = true; delete listed[i.key]; }
        });
        if (sent && window.htmx && document.getElementById("mine-list")) {
          window.htmx.ajax("GET", "/activities/mine", { target: "#mine-list", swap: "outerHTML" });
        }
      }
      var banner = document.getElementById("queue-banner");
      if (banner) {
        banner.textContent = "";
        if (open.length && !section) {
          banner.appendChild(document.createTextNode(refused
            ? refused + " 条活动没有提交成功，需要修改。"
            : "有 " + open.length + " 条活动保存在手机上，" + (signedOut ? "请重新登录，登录后自动提交。" : "有网络时自动提交。")));
          banner.appendChild(el("a", { href: "/activities/mine" }, "查看"));
        }
        banner.hidden = !(open.length && !section);
      }
      var panel = document.querySelector("[data-queued]");
      if (panel) {
        var mine = list.filter(function (i) { return i.key === panel.getAttribute("data-queued"); })[0];
        if (mine) panelLines(panel, mine);
      }
    }).catch(function () {});
  }
  document.addEventListener("click", function (e) {
    var retry = e.target.closest && e.target.closest("[data-queue-retry]");
    var del = e.target.closest && e.target.closest("[data-queue-delete]");
    if (retry) {
      if (navigator.onLine === false) { toast("当前没有网络，有网络时会自动提交"); return; }
      retry.disabled = true;
      O.retryNow(retry.getAttribute("data-queue-retry")).then(function () { return pump(true); }).then(function (r) {
        if (r && r.signedOut) toast("登录已过期，请重新登录，登录后自动提交");
        else if (r && r.offline) toast("网络连接失败，稍后会自动再试");
        refresh();
      });
    } else if (del) {
      if (!window.confirm("删除后这条活动不会提交，照片也一并删除。确定删除吗？")) return;
      O.remove(del.getAttribute("data-queue-delete")).then(refresh);
    }
  });
  O.onChange(function () { refresh(); });

  // --- on every page ------------------------------------------------------------------------------
  var form = draftForm();
  showOffline();
  (form ? restore(form) : Promise.resolve()).then(function () { refresh(); return pump(false); });
})();
