// What the phone keeps (issue 18), in IndexedDB, shared by the pages (static/js/offline.js) and the
// service worker (static/js/sw.js, which loads this file with importScripts):
//   drafts  — the recording form as it is being filled (fields, the parts htmx filled, the photos),
//             one per user and form, until the server accepts it;
//   outbox  — activities submitted without a network, keyed by their submission (idempotency) key,
//             sent when the network comes back. The key makes every retry the same submission: the
//             server records one row however often an item is sent (app/activities/recording.py).
// An outbox item's state: "waiting" (to send; next_try says when), "sending" (one sender holds it
// until lease_until), "refused" (the server said no: message holds its Chinese reason; the member
// opens it as a draft), "done" (recorded: activity_id; its photos and fields are dropped, the key is
// kept a week so a page that still shows it starts a new submission).
// Items belong to the user who submitted them: a sender only sends those of the user signed in now
// (GET /session/token, app/offline.py); others wait until their member signs in again.
(function (root) {
  "use strict";
  if (root.sztOutbox) return;
  var DB = "szt-phone";
  var DONE_KEPT = 7 * 24 * 3600 * 1000;
  var LEASE = 5 * 60 * 1000; // an upload on a rural network may take minutes
  var BACKOFF = [5, 15, 30, 60, 120, 300]; // seconds before the next try, by tries so far
  var opening = null;
  var listeners = [];
  var channel = null;
  try { channel = new BroadcastChannel("szt-outbox"); } catch (e) { channel = null; }

  function open() {
    if (!root.indexedDB) return Promise.reject(new Error("IndexedDB unavailable"));
    if (!opening) {
      opening = new Promise(function (resolve, reject) {
        var req = root.indexedDB.open(DB, 1);
        req.onupgradeneeded = function () {
          var db = req.result;
          if (!db.objectStoreNames.contains("drafts")) db.createObjectStore("drafts", { keyPath: "id" });
          if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", { keyPath: "key" });
        };
        req.onsuccess = function () {
          var db = req.result;
          db.onversionchange = function () { db.close(); opening = null; };
          resolve(db);
        };
        req.onerror = function () { opening = null; reject(req.error); };
      });
    }
    return opening;
  }

  // One transaction on one store: fn(store, setResult); resolves with the result once committed.
  function run(name, mode, fn) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var result, tx = db.transaction(name, mode);
        fn(tx.objectStore(name), function (value) { result = value; });
        tx.oncomplete = function () { resolve(result); };
        tx.onerror = tx.onabort = function () { reject(tx.error || new Error("IndexedDB")); };
      });
    });
  }

  function got(req, set) { req.onsuccess = function () { set(req.result); }; }

  function changed(key, state) {
    var note = { type: "changed", key: key, state: state };
    listeners.forEach(function (fn) { try { fn(note); } catch (e) { /* a listener's own problem */ } });
    if (channel) channel.postMessage(note);
  }
  if (channel) channel.onmessage = function (e) {
    listeners.forEach(function (fn) { try { fn(e.data); } catch (err) { /* ignore */ } });
  };

  // --- drafts ---------------------------------------------------------------------------------------
  function draft(id) { return run("drafts", "readonly", function (s, set) { got(s.get(id), set); }); }
  function saveDraft(d) { return run("drafts", "readwrite", function (s) { s.put(d); }); }
  function dropDraft(id) { return run("drafts", "readwrite", function (s) { s.delete(id); }); }

  // --- the outbox -----------------------------------------------------------------------------------
  function put(item) {
    return run("outbox", "readwrite", function (s) { s.put(item); }).then(function () { changed(item.key, item.state); });
  }
  function item(key) { return run("outbox", "readonly", function (s, set) { got(s.get(key), set); }); }
  function remove(key) {
    return run("outbox", "readwrite", function (s) { s.delete(key); }).then(function () { changed(key, "removed"); });
  }
  // Every item (of ``user`` when given), oldest first; done items older than a week are dropped.
  function items(user) {
    var now = Date.now();
    return run("outbox", "readwrite", function (s, set) {
      got(s.getAll(), function (all) {
        all.forEach(function (i) { if (i.state === "done" && now - (i.done_at || 0) > DONE_KEPT) s.delete(i.key); });
        set(all.filter(function (i) {
          return !(i.state === "done" && now - (i.done_at || 0) > DONE_KEPT) && (user == null || String(i.user) === String(user));
        }).sort(function (a, b) { return a.queued_at - b.queued_at; }));
      });
    });
  }
  // Read, change and write one item in one transaction: fn(item) returns the item to keep, or
  // undefined to leave it as it was. Resolves with what was written (undefined when nothing).
  function change(key, fn) {
    return run("outbox", "readwrite", function (s, set) {
      got(s.get(key), function (current) {
        var next = current ? fn(current) : undefined;
        if (next) { s.put(next); set(next); }
      });
    }).then(function (next) { if (next) changed(key, next.state); return next; });
  }
  // A submission the server accepted straight from its page: its key is noted as used, so a kept copy
  // of the page that still carries it (the worker's) gets a new one.
  function accepted(key, user) {
    var now = Date.now();
    return put({ key: key, user: user, state: "done", done_at: now, queued_at: now, fields: [], files: [],
                 draft: null, summary: {}, tries: 0, next_try: 0, lease_until: 0, message: "" });
  }
  function retryNow(key) {
    return change(key, function (i) {
      if (i.state !== "waiting") return undefined;
      i.next_try = 0;
      return i;
    });
  }

  // --- sending --------------------------------------------------------------------------------------
  // The user signed in now and a token for their session; null when nobody is signed in. Throws
  // when the server cannot be reached.
  function token() {
    return fetch("/session/token", { credentials: "same-origin", cache: "no-store", headers: { "HX-Request": "true" } })
      .then(function (r) {
        if (r.status === 401) return null;
        if (!r.ok) throw new Error("token " + r.status);
        return r.json();
      });
  }

  function messageOf(response) {
    var raw = response.headers.get("X-Message");
    if (!raw) return "";
    try { return decodeURIComponent(raw); } catch (e) { return ""; }
  }

  // What the server made of one item: {state, activity_id?, message?, network?}.
  function sendOne(i, csrf) {
    var body = new FormData();
    i.fields.forEach(function (f) { body.append(f[0], f[0] === "csrf_token" ? csrf : f[1]); });
    i.files.forEach(function (f) { body.append(f.field, f.file, f.file.name || "photo.jpg"); });
    return fetch(i.action, {
      method: "POST", body: body, credentials: "same-origin", redirect: "manual",
      headers: { "HX-Request": "true", "X-CSRF-Token": csrf },
    }).then(function (r) {
      var recorded = (r.headers.get("HX-Redirect") || "").match(/^\/activities\/(\d+)\?created=1/);
      if (r.status === 204 && recorded) return { state: "done", activity_id: +recorded[1] };
      // The key recorded other content earlier (a kept page's key used online and not noted here):
      // this item was not recorded. It comes back to the member, to be sent under a new key.
      if (r.ok && r.headers.get("X-Recorded")) {
        return { state: "refused", collided: true, message: "这次提交的编号已用于另一条活动，这一条还没有记录，请核对后重新提交" };
      }
      if (r.status === 401) return { state: "waiting", message: "请登录后自动提交", signedOut: true };
      if (r.status === 429 || r.status >= 500 || r.status === 0) return { state: "waiting", message: messageOf(r) };
      if (r.status === 403 && /csrf|页面已过期/.test(messageOf(r))) return { state: "waiting", message: "" };
      return { state: "refused", message: messageOf(r) || "提交没有被接受（" + r.status + "），请修改后再提交" };
    }, function () {
      return { state: "waiting", network: true, message: "" };
    });
  }

  function settle(key, outcome) {
    var now = Date.now();
    return change(key, function (i) {
      i.lease_until = 0;
      i.state = outcome.state;
      i.message = outcome.message || "";
      i.collided = !!outcome.collided;
      if (outcome.state === "done") {
        i.activity_id = outcome.activity_id;
        i.done_at = now;
        i.fields = [];
        i.files = [];
        i.draft = null;
      } else if (outcome.state === "waiting") {
        i.tries = (i.tries || 0) + 1;
        i.next_try = now + 1000 * BACKOFF[Math.min(i.tries - 1, BACKOFF.length - 1)];
      }
      return i;
    });
  }

  function lease(key, force) {
    var now = Date.now();
    return change(key, function (i) {
      var free = i.state === "waiting" || (i.state === "sending" && i.lease_until < now);
      if (!free || (!force && i.next_try > now)) return undefined;
      i.state = "sending";
      i.lease_until = now + LEASE;
      return i;
    });
  }

  // Send what is due (everything waiting when force; only ``key`` when given), one at a time, as the
  // user signed in now. Resolves with {sent, refused, signedOut, offline, left}.
  var busy = null;
  function sendAll(opts) {
    opts = opts || {};
    if (busy) return busy.then(function () { return opts.force ? sendAll(opts) : { sent: 0 }; });
    busy = doSend(opts).then(function (r) { busy = null; return r; }, function (e) { busy = null; throw e; });
    return busy;
  }
  function doSend(opts) {
    var summary = { sent: 0, refused: 0, signedOut: false, offline: false };
    return items().then(function (all) {
      var now = Date.now();
      var due = all.filter(function (i) {
        var free = i.state === "waiting" || (i.state === "sending" && i.lease_until < now);
        return free && (opts.force || i.next_try <= now) && (!opts.key || i.key === opts.key);
      });
      if (!due.length) return summary;
      return token().then(function (who) {
        if (!who) { summary.signedOut = true; return summary; }
        var mine = due.filter(function (i) { return String(i.user) === String(who.user_id); });
        return mine.reduce(function (chain, i) {
          return chain.then(function (stop) {
            if (stop) return true;
            return lease(i.key, opts.force).then(function (held) {
              if (!held) return false;
              return sendOne(held, who.csrf_token).then(function (outcome) {
                if (outcome.state === "done") summary.sent += 1;
                if (outcome.state === "refused") summary.refused += 1;
                if (outcome.signedOut) summary.signedOut = true;
                if (outcome.network) summary.offline = true;
                // The network went away: the rest wait too (each try would only fail).
                return settle(i.key, outcome).then(function () { return !!outcome.network; });
              });
            });
          });
        }, Promise.resolve(false)).then(function () { return summary; });
      }, function () { summary.offline = true; return summary; });
    });
  }

  root.sztOutbox = {
    draft: draft, saveDraft: saveDraft, dropDraft: dropDraft,
    put: put, accepted: accepted, item: item, items: items, remove: remove, retryNow: retryNow, change: change,
    sendAll: sendAll, onChange: function (fn) { listeners.push(fn); },
  };
})(typeof self !== "undefined" ? self : this);
