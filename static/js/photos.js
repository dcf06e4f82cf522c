// Photos shrink on the phone before they travel (issue 18). A 12-megapixel camera photo (4–6 MB)
// is decoded here, turned upright (EXIF orientation), scaled to a long edge of data-shrink pixels
// (never up) and re-encoded as JPEG, then put back into the file input, so the htmx or plain
// submission sends a few hundred KB instead. A file the browser cannot decode (HEIC on many phones),
// one already within the long edge and under 1 MB, or one that would not get smaller goes as it is:
// the server checks, converts and re-encodes every photo anyway (app/activities/photos.py). Without
// JavaScript, or without DataTransfer, nothing changes.
//   <input type=file data-shrink="1600" data-shrink-sizes="#id">: the list #id shows each photo's
//   name and size, before → after. While shrinking, the form's submit buttons wait.
//   While it works the input carries data-shrinking; when the files to send are in place it fires
//   "szt:photos" (bubbling) — the draft (static/js/offline.js) keeps those, not the originals.
//   window.sztPhotos.showSizes(input, [{file, before, after, note}]) lists files put back by a script.
//   <form data-upload-progress="#id">: #id (hidden) holds a <progress> and a text; shown with
//   「正在上传 42%」 while htmx sends the form, hidden when the request ends.
(function () {
  "use strict";
  if (window.sztPhotos) return; // the script came twice (a page swapped in by htmx)
  var QUALITY = 0.82;
  var SMALL = 1024 * 1024; // within the long edge and at most this: sent as it is
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };

  function size(bytes) {
    if (bytes >= 1024 * 1024) return (bytes / 1024 / 1024).toFixed(1) + " MB";
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  // An upright bitmap (or <img>) of the file, or null when the browser cannot decode it.
  function decode(file) {
    var viaImg = function () {
      return new Promise(function (resolve) {
        var url = URL.createObjectURL(file), img = new Image();
        img.onload = function () { resolve(img); }; // browsers draw an <img> upright (EXIF applied)
        img.onerror = function () { URL.revokeObjectURL(url); resolve(null); };
        img.src = url;
      });
    };
    if (!window.createImageBitmap) return viaImg();
    return window.createImageBitmap(file, { imageOrientation: "from-image" }).catch(viaImg);
  }

  function release(source) {
    if (source.close) source.close();
    else if (source.src && source.src.indexOf("blob:") === 0) URL.revokeObjectURL(source.src);
  }

  // Resolves to { file, before, after, note }: the file to send and what to say about it.
  function shrink(file, longEdge) {
    var keep = function (note) { return { file: file, before: file.size, after: file.size, note: note }; };
    return decode(file).then(function (source) {
      if (!source) return keep("原样上传");
      var w = source.naturalWidth || source.width, h = source.naturalHeight || source.height;
      if (!w || !h) { release(source); return keep("原样上传"); }
      var scale = Math.min(1, longEdge / Math.max(w, h));
      // Small enough already (a photo sent before, a screenshot): a second JPEG pass would only
      // blur it for a few KB; the server turns it upright.
      if (scale === 1 && file.size <= SMALL) { release(source); return keep(""); }
      var canvas = document.createElement("canvas");
      canvas.width = Math.max(1, Math.round(w * scale));
      canvas.height = Math.max(1, Math.round(h * scale));
      var ctx = canvas.getContext("2d");
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = "high";
      ctx.fillStyle = "#fff"; // a transparent PNG becomes white, not black
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
      release(source);
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          canvas.width = canvas.height = 0; // give the memory back at once (phones have little)
          if (!blob || blob.size >= file.size) { resolve(keep("原样上传")); return; }
          var name = (file.name || "photo").replace(/\.[^.\/]*$/, "") + ".jpg";
          var small = new File([blob], name, { type: "image/jpeg", lastModified: file.lastModified });
          resolve({ file: small, before: file.size, after: small.size, note: "" });
        }, "image/jpeg", QUALITY);
      });
    }).catch(function () { return keep("原样上传"); });
  }

  function showSizes(input, results) {
    var list = document.querySelector(input.getAttribute("data-shrink-sizes") || "#none");
    if (!list) return;
    list.textContent = "";
    results.forEach(function (r) {
      var li = document.createElement("li");
      var text = r.before === r.after ? size(r.before) : size(r.before) + " → " + size(r.after);
      li.textContent = r.file.name + "：" + text + (r.note ? "（" + r.note + "）" : "");
      list.appendChild(li);
    });
    list.hidden = results.length === 0;
  }

  window.sztPhotos = { showSizes: showSizes };

  function setWaiting(input, waiting) {
    if (waiting) input.setAttribute("data-shrinking", "");
    else input.removeAttribute("data-shrinking");
    var form = input.form;
    if (!form) return;
    each(form.querySelectorAll("button[type=submit]:not(.enter-guard), input[type=submit]"), function (b) {
      var label = b.classList.contains("submit") ? b.querySelector(".idle") || b : null; // 提交 says why
      if (waiting && !b.disabled && !b.hasAttribute("data-shrink-wait")) {
        b.setAttribute("data-shrink-wait", label ? label.textContent : "");
        if (label) label.textContent = "正在压缩照片…";
        b.disabled = true;
      } else if (!waiting && b.hasAttribute("data-shrink-wait")) {
        if (label) label.textContent = b.getAttribute("data-shrink-wait");
        b.removeAttribute("data-shrink-wait");
        b.disabled = false;
      }
    });
    var list = document.querySelector(input.getAttribute("data-shrink-sizes") || "#none");
    if (list && waiting) {
      list.textContent = "";
      var li = document.createElement("li");
      li.textContent = "正在压缩照片…";
      list.appendChild(li);
      list.hidden = false;
    }
  }

  var DataTransferOk = (function () {
    try { return !!new DataTransfer().items; } catch (e) { return false; }
  })();

  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!DataTransferOk || !input.matches || !input.matches("input[type=file][data-shrink]")) return;
    var chosen = Array.prototype.slice.call(input.files || []);
    var run = (parseInt(input.getAttribute("data-shrink-run"), 10) || 0) + 1;
    input.setAttribute("data-shrink-run", String(run)); // a newer choice makes this one moot
    if (!chosen.length) { showSizes(input, []); return; }
    var longEdge = parseInt(input.getAttribute("data-shrink"), 10) || 1600;
    setWaiting(input, true);
    // One at a time: a phone holds one decoded 12-MP photo (48 MB) in memory, not six.
    var results = [];
    chosen.reduce(function (done, file) {
      return done.then(function () { return shrink(file, longEdge); }).then(function (r) { results.push(r); });
    }, Promise.resolve()).then(function () {
      if (input.getAttribute("data-shrink-run") !== String(run)) return;
      if (results.some(function (r, i) { return r.file !== chosen[i]; })) {
        var dt = new DataTransfer();
        results.forEach(function (r) { dt.items.add(r.file); });
        input.files = dt.files; // setting files fires no change event: this runs once per choice
      }
      showSizes(input, results);
    }).catch(function () {
      showSizes(input, []); // whatever failed, the files chosen are still there and go as they are
    }).then(function () {
      if (input.getAttribute("data-shrink-run") !== String(run)) return;
      setWaiting(input, false);
      input.dispatchEvent(new CustomEvent("szt:photos", { bubbles: true }));
    });
  });

  function progressBox(form) {
    var sel = form && form.getAttribute && form.getAttribute("data-upload-progress");
    return sel ? document.querySelector(sel) : null;
  }
  // htmx reports the upload and then the answer's download alike: the first total seen in a
  // request is the body being sent, the rest is ignored.
  document.addEventListener("htmx:beforeRequest", function (e) {
    if (progressBox(e.target)) e.target.removeAttribute("data-upload-total");
  });
  document.addEventListener("htmx:xhr:progress", function (e) {
    var box = progressBox(e.target), d = e.detail || {};
    if (!box || !d.lengthComputable || !d.total) return;
    var total = e.target.getAttribute("data-upload-total");
    if (total === null) e.target.setAttribute("data-upload-total", String(d.total));
    else if (total !== String(d.total)) return;
    var pct = Math.min(100, Math.floor(d.loaded / d.total * 100));
    var bar = box.querySelector("progress"), text = box.querySelector("[data-upload-text]");
    if (bar) bar.value = pct;
    if (text) text.textContent = "正在上传 " + pct + "%";
    box.hidden = false;
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var box = progressBox(e.target);
    if (box) box.hidden = true;
  });
})();
