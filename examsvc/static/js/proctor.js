// The exam page's camera (随机抓拍) and page events, beside the answers (exam.js).
// The server decides when a snapshot is taken: it answers `exam_join` and every snapshot
// with `next_in` (seconds), and may ask at any time (`snapshot_request`). A snapshot is the
// front camera's frame, at most 640 px on its long side, JPEG of ~30–60 KB, sent as binary
// over the exam's Socket.IO connection; at most one is in flight (a frame due while one is
// on its way is dropped, never queued). Nothing here blocks or delays answering: losing the
// camera or the socket only shows a notice. Page events (hidden/visible, blur/focus, camera
// stopped/started, full screen left/entered) are kept in localStorage until acknowledged.
// The invigilator's `warning` and `voided` are shown at once.
(function () {
  "use strict";
  var LONG_SIDE = 640, MAX_BYTES = 190 * 1024, TARGET = [25 * 1024, 60 * 1024];

  function start(socket, options) {
    var T = options.text, attempt = options.attempt;
    var key = "examsvc:attempt:" + attempt + ":events";
    var box = document.getElementById("camera");
    var video = document.getElementById("camera-preview");
    var note = document.getElementById("camera-note");
    var retry = document.getElementById("camera-retry");
    var stream = null, timer = null, busy = false, quality = 0.7, stopped = false, ended = false;
    var canvas = document.createElement("canvas");

    // ---- page events, kept until the server acknowledges them ----------------------------
    function load() { try { return JSON.parse(localStorage.getItem(key)) || []; } catch (e) { return []; } }
    function save(list) { try { localStorage.setItem(key, JSON.stringify(list)); } catch (e) { /* private mode: kept in memory */ } }
    var events = load(), sending = false, resumeAt = 0;
    // A refusal of the server's (503 busy, a 500): the same event again after its retry_after
    // (or a few seconds), with jitter, never at once in a loop.
    function later(reply, again) {
      var base = Math.max(1, Number(reply && reply.error && reply.error.retry_after) || 5);
      var wait = (base + Math.random() * base) * 1000;
      resumeAt = Date.now() + wait;
      setTimeout(again, wait);
    }
    function report(kind) {
      if (ended) return;
      events.push({ kind: kind, at: new Date().toISOString() }); save(events); flush();
    }
    function flush() {
      if (sending || !events.length || !socket.connected || Date.now() < resumeAt) return;
      sending = true;
      var next = events[0];
      socket.timeout(10000).emit("client_event", { attempt_id: attempt, kind: next.kind, at: next.at }, function (err, reply) {
        sending = false;
        if (err) return;  // sent again on the next connect
        if (reply && (reply.ok || reply.status < 500)) { events.shift(); save(events); flush(); }
        else later(reply, flush);
      });
    }
    document.addEventListener("visibilitychange", function () { report(document.hidden ? "hidden" : "visible"); });
    window.addEventListener("blur", function () { report("blur"); });
    window.addEventListener("focus", function () { report("focus"); });
    document.addEventListener("fullscreenchange", function () { report(document.fullscreenElement ? "fullscreen_enter" : "fullscreen_exit"); });

    // ---- the camera ----------------------------------------------------------------------
    function showCamera(ok) {
      box.classList.toggle("off", !ok);
      note.hidden = ok;
      retry.hidden = ok;
    }
    function openCamera(again) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { showCamera(false); return; }
      navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } } })
        .then(function (s) {
          stream = s; video.srcObject = s;
          var play = video.play(); if (play && play.catch) play.catch(function () { /* muted autoplay */ });
          showCamera(true);
          if (stopped || again) report("camera_started");
          stopped = false;
          s.getVideoTracks().forEach(function (track) {
            track.addEventListener("ended", function () { cameraLost(); });
          });
        })
        .catch(function () { cameraLost(); });
    }
    function cameraLost() {
      stream = null; showCamera(false);
      if (!stopped) { stopped = true; report("camera_stopped"); }
    }
    retry.addEventListener("click", function () { openCamera(true); });

    // ---- snapshots, when the server says -------------------------------------------------
    function schedule(seconds) {
      clearTimeout(timer);
      if (!ended && seconds > 0) timer = setTimeout(capture, seconds * 1000);
    }
    function frame(done) {
      var w = video.videoWidth, h = video.videoHeight;
      if (!stream || !w || !h) return done(null);
      var scale = Math.min(1, LONG_SIDE / Math.max(w, h));
      canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) {
        if (blob) {  // aim at 25–60 KB for the next frames
          if (blob.size > TARGET[1]) quality = Math.max(0.35, quality - 0.1);
          else if (blob.size < TARGET[0]) quality = Math.min(0.85, quality + 0.05);
        }
        done(blob && blob.size <= MAX_BYTES ? blob : null);
      }, "image/jpeg", quality);
    }
    function capture() {
      if (ended) return;
      if (busy || !socket.connected) return;  // one in flight at most: this one is dropped
      busy = true;
      var takenAt = new Date().toISOString();
      frame(function (blob) {
        if (!blob) { busy = false; schedule(30); return; }  // no picture now: try again later
        blob.arrayBuffer().then(function (image) {
          socket.timeout(20000).emit("snapshot", { attempt_id: attempt, image: image, taken_at: takenAt }, function (err, reply) {
            busy = false;
            schedule(!err && reply && reply.next_in ? reply.next_in : 60);
          });
        }, function () { busy = false; });
      });
    }
    function join() {
      socket.timeout(10000).emit("exam_join", { attempt_id: attempt }, function (err, reply) {
        if (!err && reply && reply.ok) schedule(reply.next_in);
        else if (!err && reply && reply.status === 503) later(reply, join);  // busy: join again
      });
      flush();
    }
    socket.on("connect", join);
    socket.on("snapshot_request", function (data) { if (data && data.attempt_id === attempt) capture(); });
    if (socket.connected) join();

    // ---- what the invigilator sends ------------------------------------------------------
    var warnings = [], warningBox = document.getElementById("warning");
    function showWarning() {
      if (!warnings.length || !warningBox.hidden) return;
      var w = warnings[0];
      document.getElementById("warning-message").textContent = w.message;
      document.getElementById("warning-time").textContent = w.sent_at ? T.sentAt.replace("{time}", new Date(w.sent_at).toLocaleTimeString(document.documentElement.lang || "zh-CN", { hour12: false, timeZone: "Asia/Shanghai" })) : "";
      warningBox.hidden = false;
      document.getElementById("warning-ok").focus();
    }
    document.getElementById("warning-ok").addEventListener("click", function () {
      var w = warnings.shift();
      warningBox.hidden = true;
      if (w && w.id) socket.emit("warning_seen", { id: w.id });
      showWarning();
    });
    socket.on("warning", function (data) {
      if (!data || ended) return;
      warnings.push(data); showWarning();
    });
    socket.on("voided", function (data) {
      if (!data || data.attempt_id !== attempt) return;
      finish();
      warningBox.hidden = true;
      document.getElementById("voided-reason").textContent = data.reason || "";
      document.getElementById("voided").hidden = false;
      document.getElementById("voided-ok").focus();
      if (options.onVoided) options.onVoided();
    });
    document.getElementById("voided-ok").addEventListener("click", function () { window.location.reload(); });

    function finish() {
      ended = true; clearTimeout(timer);
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      box.hidden = true; note.hidden = true;
      try { localStorage.removeItem(key); } catch (e) { /* private mode */ }
    }
    openCamera(false);
    return { finish: finish, capture: capture };
  }

  window.ExamProctor = { start: start };
})();
