// 进入测评's camera steps: the device check (设备调试) and the entry face verification (人脸验证).
// The front camera's picture, downsized to at most 640 px, goes over the exam channel (/exam):
// `camera_check` answers with the engine's instruction until the picture is good; then
// `entry_frames` sends several frames and the server decides against the registration photo.
// 活体检测: when the server chose a challenge (blink, turn the head, open the mouth), the page
// shows it large after the still frames and films the movement (10 frames over ~2 s, the last
// two still frames first as its baseline) for the server to judge.
// 首次登录人脸核验 (mode "claim") is the same step on the /claim channel, before the first password.
// 排队: in both verifications, a press of the button first asks for a slot (`admission`);
// a waiting page asks again when told (`poll_in`), or at once on `admission_turn`.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("camera-data").textContent);
  var text = data.text;
  var video = document.getElementById("preview");
  var instruction = document.getElementById("instruction");
  var next = document.getElementById("next");
  var verifyButton = document.getElementById("verify");
  var result = document.getElementById("result");
  var help = document.getElementById("help");
  var canvas = document.createElement("canvas");
  var socket = null;
  var checking = false;
  var verifying = false;
  var good = false;
  var FRAMES = 3;
  var MOTION = 10;
  var challenge = data.challenge;
  var challengeBox = document.getElementById("challenge");

  function say(element, message, kind) {
    if (!element) { return; }
    element.textContent = message || "";
    element.className = element.className.replace(/\b(good|bad)\b/g, "").trim() + (kind ? " " + kind : "");
  }

  function noCamera(reason) {
    document.getElementById("camera-step").hidden = true;
    document.getElementById("no-camera").hidden = false;
    document.getElementById("no-camera-why").textContent = reason;
  }

  // One frame as a JPEG (ArrayBuffer), the long side at most 640 px.
  function grab() {
    var w = video.videoWidth, h = video.videoHeight;
    var scale = Math.min(1, 640 / Math.max(w, h));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) {
      canvas.toBlob(function (blob) {
        if (!blob) { resolve(null); return; }
        blob.arrayBuffer().then(resolve, function () { resolve(null); });
      }, "image/jpeg", 0.8);
    });
  }

  function wait(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  // A 503 (busy, database_unavailable) says when to come back: its retry_after, with jitter.
  function retryIn(ack, otherwise) {
    var after = ack && ack.status === 503 && ack.error && Number(ack.error.retry_after);
    return after ? (after + Math.random() * after) * 1000 : otherwise;
  }

  function emit(event, payload) {
    return new Promise(function (resolve) {
      if (!socket || !socket.connected) { resolve(null); return; }
      socket.timeout(60000).emit(event, payload, function (err, ack) { resolve(err ? null : ack); });
    });
  }

  // The device check, again and again while the page is open.
  function check() {
    if (checking || verifying) { return; }
    if (!socket.connected) { setTimeout(check, 500); return; }
    checking = true;
    grab().then(function (image) {
      return image ? emit("camera_check", { image: image }) : null;
    }).then(function (ack) {
      checking = false;
      if (verifying) { return; }
      if (!ack) { say(instruction, socket && socket.connected ? text.busy : text.offline, "bad"); good = false; }
      else if (!ack.ok) {  // busy (503): nothing was looked at, the last verdict stands
        say(instruction, ack.error.message, "bad");
        if (ack.status !== 503) { good = false; }
      }
      else {
        good = ack.good;
        say(instruction, good ? (data.mode === "device" ? text.good : text.goodVerify) : ack.message, good ? "good" : "bad");
      }
      if (data.mode === "device") { if (good) { next.hidden = false; } }
      else if (verifyButton) { verifyButton.disabled = !good; }
      // Every 1 s until the picture is good, then every 3 s: a thousand pages open at a
      // synchronised start must leave the face pool to the verifications (排队).
      setTimeout(check, retryIn(ack, good ? 3000 : 1000));
    });
  }

  function verify() {
    if (verifying) { return; }
    verifying = true;
    verifyButton.disabled = true;
    say(result, "", null);
    say(instruction, text.sending, null);
    if (challenge) { say(instruction, text.still, null); }
    var frames = [];
    var motion = [];
    var chain = Promise.resolve();
    for (var i = 0; i < FRAMES; i++) {
      chain = chain.then(function () { return grab(); }).then(function (f) { if (f) { frames.push(f); } return wait(400); });
    }
    if (challenge) {
      chain = chain.then(function () {
        motion = frames.slice(-2);
        document.getElementById("challenge-cue").textContent = challenge.cue;
        document.getElementById("challenge-text").textContent = challenge.text;
        challengeBox.hidden = false;
        say(instruction, "", null);
      });
      for (var j = 0; j < MOTION; j++) {
        chain = chain.then(function () { return wait(200); }).then(function () { return grab(); }).then(function (f) { if (f) { motion.push(f); } });
      }
      chain = chain.then(function () { challengeBox.hidden = true; say(instruction, text.sending, null); });
    }
    chain.then(function () {
      if (data.mode === "claim") { return emit("claim_frames", { frames: frames, motion: motion }); }
      return emit("entry_frames", { paper_id: data.paperId, frames: frames, motion: motion });
    }).then(function (ack) {
      verifying = false;
      say(instruction, "", null);
      if (ack && !ack.ok && ack.error.code === "not_admitted") { queue(); return; }  // the slot expired
      if (ack && ack.challenge) { challenge = ack.challenge; }
      if (!ack) { say(result, text.busy, "bad"); verifyButton.disabled = false; setTimeout(check, 500); return; }
      if (!ack.ok) {  // busy: the button comes back with the next check, after retry_after
        say(result, ack.error.message, "bad"); verifyButton.disabled = ack.status === 503; setTimeout(check, retryIn(ack, 500)); return;
      }
      if (ack.admitted) {
        say(instruction, "", null);
        say(result, ack.outcome === "review" ? text.review : text.passed, "good");
        next.hidden = false;
        verifyButton.hidden = true;
        return;
      }
      say(result, ack.message, "bad");
      if (ack.ask_for_help) { help.hidden = false; }
      verifyButton.disabled = false;
      setTimeout(check, 500);
    });
  }

  // 排队 (the entry verification and the first-login check): ask the server for a slot;
  // while waiting, show the place and ask again when the server says (less often the further
  // back), or at once when the server says a slot freed for us (`admission_turn`), then start
  // by itself.
  // `verifying` is held meanwhile so that the device check pauses. One ask at a time: the
  // next is either the pending timer (`queueTimer`) or, when the turn comes while an ask is
  // on its way (`turned`), asked again as soon as that one is answered.
  var queueBox = document.getElementById("queue");
  var queueTimer = null;
  var turned = false;
  function askAgain(ms) {
    queueTimer = setTimeout(function () { queueTimer = null; verifying = false; queue(); }, ms);
  }
  function turn() {
    if (queueBox.hidden) { return; }  // not waiting: the press of the button asks
    if (queueTimer === null) { turned = true; return; }  // an ask is on its way
    clearTimeout(queueTimer);
    queueTimer = null;
    verifying = false;
    queue();
  }
  function queue() {
    if (verifying) { return; }
    verifying = true;
    turned = false;
    verifyButton.disabled = true;
    say(result, "", null);
    emit("admission", {}).then(function (ack) {
      var waiting = !queueBox.hidden;
      if (ack && ack.ok && ack.admitted) {
        queueBox.hidden = true;
        verifying = false;
        if (!waiting) { verify(); return; }
        // The candidate looks up from the wait; the slot is held meanwhile, so briefly.
        say(instruction, text.turn, null);
        setTimeout(verify, 1500);
        return;
      }
      if (ack && ack.ok) {
        queueBox.hidden = false;
        say(instruction, "", null);
        document.getElementById("queue-place").textContent = ack.ahead > 0
          ? text.place.replace("{n}", ack.ahead).replace("{minutes}", ack.wait_minutes) : text.placeNext;
        askAgain(turned ? 0 : ack.poll_in * 1000);
        return;
      }
      if (!ack && waiting) { askAgain(3000); return; }
      verifying = false;
      queueBox.hidden = true;
      say(result, ack ? ack.error.message : text.busy, "bad");
      verifyButton.disabled = false;
      setTimeout(check, 500);
    });
  }

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { noCamera(text.none); return; }
  say(instruction, text.opening, null);
  navigator.mediaDevices.getUserMedia({
    video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } }, audio: false
  }).then(function (stream) {
    video.srcObject = stream;
    socket = window.io(data.mode === "claim" ? "/claim" : "/exam", { transports: ["websocket", "polling"] });
    socket.on("disconnect", function () { say(instruction, text.offline, "bad"); });
    socket.on("admission_turn", turn);
    // Refused while the server is busy: a refusal is not retried by itself; connect again later.
    socket.on("connect_error", function (err) {
      var error = err && err.data;
      if (error && (error.code === "busy" || error.code === "database_unavailable")) {
        say(instruction, error.message, "bad");
        setTimeout(function () { socket.connect(); }, retryIn({ status: 503, error: error }, 2000));
      }
    });
    video.addEventListener("loadeddata", function () { say(instruction, text.checking, null); check(); }, { once: true });
    if (verifyButton) { verifyButton.addEventListener("click", queue); }
  }).catch(function (err) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") { noCamera(text.denied); }
    else if (name === "NotFoundError" || name === "OverconstrainedError") { noCamera(text.none); }
    else { noCamera(text.failed); }
  });
})();
