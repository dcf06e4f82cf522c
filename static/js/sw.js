// The service worker (issue 18), served as /sw.js by app/offline.py, which writes in the two
// placeholders: outbox.js's fingerprinted URL and a version of this file with it.
// - Fingerprinted static files (/static/<hash>/…) come from its cache first: they never change.
// - 记录活动 and 我的活动 are fetched from the network when there is one, and the last copy is kept;
//   without a network that copy is shown (the page's own script then puts the draft back and gives
//   the form a fresh submission key). Any other page without a network shows /offline.
// - Background Sync ("szt-outbox"), where the browser has it, sends the queue with no page open.
//   WeChat's browser and iOS have none: the pages send the queue themselves (static/js/offline.js).
// - Signing out (POST /logout), or a page that answers with the sign-in page, drops the kept pages:
//   nobody else sees them on a shared phone. The queue stays until its member signs in again.
importScripts("__OUTBOX_URL__");

var VERSION = "__VERSION__";
var PAGES = "szt-pages-" + VERSION;
var STATIC = "szt-static-" + VERSION;
var OFFLINE = "/offline";
var KEPT_PAGES = ["/activities/new", "/activities/mine"];
var FINGERPRINTED = /^\/static\/[0-9a-f]{8}\//;

self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(PAGES).then(function (c) { return c.add(OFFLINE); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) {
      return k.indexOf("szt-") === 0 && k !== PAGES && k !== STATIC;
    }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function forgetPages() {
  return caches.open(PAGES).then(function (c) {
    return Promise.all(KEPT_PAGES.map(function (p) { return c.delete(p); }));
  });
}

function fromCacheFirst(request) {
  return caches.open(STATIC).then(function (c) {
    return c.match(request).then(function (hit) {
      if (hit) return hit;
      return fetch(request).then(function (response) {
        if (response.ok) c.put(request, response.clone());
        return response;
      });
    });
  });
}

function page(request, url) {
  var kept = KEPT_PAGES.indexOf(url.pathname) >= 0;
  return fetch(request).then(function (response) {
    if (response.redirected && new URL(response.url).pathname === "/login") {
      return forgetPages().then(function () { return response; });
    }
    if (kept && !url.search && response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(PAGES).then(function (c) { return c.put(url.pathname, copy); });
    }
    return response;
  }, function () {
    return caches.open(PAGES).then(function (c) {
      return (kept ? c.match(url.pathname) : Promise.resolve(undefined)).then(function (hit) {
        return hit || c.match(OFFLINE);
      });
    }).then(function (hit) { return hit || Response.error(); });
  });
}

self.addEventListener("fetch", function (e) {
  var request = e.request, url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") {
    if (request.method === "POST" && url.pathname === "/logout") e.waitUntil(forgetPages());
    return; // the network's, as always
  }
  if (FINGERPRINTED.test(url.pathname)) e.respondWith(fromCacheFirst(request));
  else if (request.mode === "navigate") e.respondWith(page(request, url));
});

// A page asks to keep what it needs offline: its static files and the two pages (fetched here when
// the page was loaded before this worker controlled it). Answers "kept" when done.
function keep(data) {
  var urls = (data.urls || []).map(function (u) { return new URL(u, self.location.origin); }).filter(function (u) {
    return u.origin === self.location.origin && FINGERPRINTED.test(u.pathname);
  });
  return caches.open(STATIC).then(function (s) {
    return Promise.all(urls.map(function (u) {
      return s.match(u.pathname).then(function (hit) {
        if (hit) return null;
        return fetch(u.pathname).then(function (r) { return r.ok ? s.put(u.pathname, r) : null; }, function () { return null; });
      });
    }));
  }).then(function () { return caches.open(PAGES); }).then(function (p) {
    return Promise.all(KEPT_PAGES.map(function (path) {
      return p.match(path).then(function (hit) {
        if (hit) return null;
        return fetch(path, { credentials: "same-origin" }).then(function (r) {
          return r.ok && !r.redirected ? p.put(path, r) : null;
        }, function () { return null; });
      });
    }));
  });
}

self.addEventListener("message", function (e) {
  var data = e.data || {};
  if (data.type === "keep") {
    e.waitUntil(keep(data).then(function () {
      if (e.source) e.source.postMessage({ type: "kept" });
    }));
  } else if (data.type === "forget") {
    e.waitUntil(forgetPages());
  }
});

self.addEventListener("sync", function (e) {
  if (e.tag !== "szt-outbox") return;
  e.waitUntil(self.sztOutbox.sendAll({}).then(function (r) {
    if (r && r.offline) throw new Error("still offline"); // the browser tries the sync again later
  }));
});
