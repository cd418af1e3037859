// The exam page. The server owns the clock and the answers; this page shows them, saves
// every change at once (Socket.IO, or HTTP when the socket is down), and keeps a journal of
// unacknowledged saves in localStorage that survives reloads and is replayed on reconnect.
// Once the attempt is submitted (here, by the deadline sweeper or on another device) the page
// stops and reloads: the server then renders the result alone, with nothing left to answer.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("exam-data").textContent);
  var T = cfg.text;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var key = "examsvc:attempt:" + cfg.attempt;
  var layout = document.querySelector(".exam-layout");
  var bar = document.querySelector(".exam-bar");
  var toggle = document.getElementById("nav-toggle");
  var items = [], deadline = 0, closed = false, finished = false, socket = null, inFlight = {}, timers = [], proctor = null;

  function load(name, fallback) { try { return JSON.parse(localStorage.getItem(key + ":" + name)) || fallback; } catch (e) { return fallback; } }
  function store(name, value) { try { localStorage.setItem(key + ":" + name, JSON.stringify(value)); } catch (e) { /* private mode: the server still has every acknowledged save */ } }
  function forget() { ["journal", "seq", "current"].forEach(function (name) { try { localStorage.removeItem(key + ":" + name); } catch (e) { /* private mode */ } }); }
  var journal = load("journal", {});           // seq -> {position, response, marked, seq, journaled_at}
  var seq = load("seq", 0);
  var current = load("current", 0);            // the question last viewed, restored after a reload

  function status(text, offline) {
    var node = document.getElementById("save-status");
    node.textContent = text; node.className = "save-status" + (offline ? " offline" : "");
  }
  function refusal(r) {  // an HTTP answer as a socket acknowledgement (retry_after: the header's)
    var error = Object.assign({}, r.body && r.body.error);
    if (error.retry_after === undefined && r.retryAfter) error.retry_after = r.retryAfter;
    return { ok: false, status: r.status, error: error };
  }
  function api(method, url, body) {
    // A request on a stalled connection fails after 15 s (and is sent again) instead of
    // holding its save in flight for as long as the browser waits.
    var abort = window.AbortSignal && AbortSignal.timeout ? AbortSignal.timeout(15000) : undefined;
    return fetch(url, { method: method, credentials: "same-origin", signal: abort,
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, status: r.status, body: b, retryAfter: Number(r.headers.get("Retry-After")) || 0 }; }); });
  }

  // ---- rendering -----------------------------------------------------------------------
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function choice(name, type, value, label, checked, onChange) {
    var wrap = el("label", { "class": "option" });
    var input = el("input", { type: type, name: name, value: String(value) });
    input.checked = checked;
    input.addEventListener("change", onChange);
    wrap.appendChild(input); wrap.appendChild(el("span", {}, label));
    return wrap;
  }
  function letters(n) { return "ABCDEFGH".charAt(n); }
  function points(item) {  // a group's points are per sub-question
    return (item.sub_questions ? T.pointsEach : T.points).replace("{n}", String(item.points));
  }

  function renderItem(item) {
    var box = el("section", { "class": "card question", id: "q" + item.position, "aria-label": String(item.position) });
    var stem = el("p", { "class": "stem" }, item.position + ". [" + (T.types[item.type] || item.label) + "] " + item.stem);
    stem.appendChild(el("span", { "class": "points" }, points(item)));
    box.appendChild(stem);
    var name = "q" + item.position;
    if (item.type === "single" || item.type === "multiple") {
      item.options.forEach(function (o, i) {
        var picked = item.type === "single" ? item.response === o.key : (item.response || []).indexOf(o.key) >= 0;
        box.appendChild(choice(name, item.type === "single" ? "radio" : "checkbox", o.key, letters(i) + ". " + o.text, picked, function () {
          var value = item.type === "single" ? o.key : Array.prototype.map.call(box.querySelectorAll("input:checked"), function (x) { return x.value; });
          answer(item, value);
        }));
      });
    } else if (item.type === "true_false") {
      [[true, T["true"]], [false, T["false"]]].forEach(function (pair) {
        box.appendChild(choice(name, "radio", pair[0], pair[1], item.response === pair[0], function () { answer(item, pair[0]); }));
      });
    } else {
      if (item.options) {
        var list = el("ol", { type: "A" });
        item.options.forEach(function (o) { list.appendChild(el("li", {}, o.text)); });
        box.appendChild(list);
      }
      item.sub_questions.forEach(function (sub, n) {
        box.appendChild(el("p", {}, "(" + (n + 1) + ") " + sub.stem));
        (sub.options || item.options).forEach(function (o, i) {
          var given = (item.response || {})[sub.id];
          box.appendChild(choice(name + "-" + sub.id, "radio", o.key, letters(i) + (sub.options ? ". " + o.text : ""), given === o.key, function () {
            var value = Object.assign({}, item.response || {}); value[sub.id] = o.key; answer(item, value);
          }));
        });
      });
    }
    return box;
  }
  function answered(item) {
    var r = item.response;
    if (r === null || r === undefined) return false;
    if (Array.isArray(r)) return r.length > 0;
    if (typeof r === "object") return item.sub_questions.every(function (s) { return r[s.id]; });
    return true;
  }
  function renderNavigator() {
    var nav = document.getElementById("navigator");
    nav.textContent = "";
    items.forEach(function (item, i) {
      var b = el("button", { type: "button", "aria-label": String(item.position) }, String(item.position));
      b.className = (answered(item) ? "answered " : "") + (item.marked ? "marked " : "") + (i === current ? "current" : "");
      b.addEventListener("click", function () { openNavigator(false); show(i, true); });
      nav.appendChild(b);
    });
    document.getElementById("progress").textContent = items.filter(answered).length + "/" + items.length;
  }
  // On a phone the navigator (答题卡) is folded away behind its button; on a PC it is a sidebar.
  function openNavigator(open) {
    layout.classList.toggle("nav-open", open);
    toggle.setAttribute("aria-expanded", String(open));
  }
  function reveal(node) {  // bring a question's top just below the sticky bar when it is out of view
    var top = node.getBoundingClientRect().top, below = bar.getBoundingClientRect().bottom;
    if (top < below || top > window.innerHeight / 2) window.scrollBy(0, top - below - 8);
  }
  function show(i, scroll) {
    current = Math.max(0, Math.min(items.length - 1, i));
    store("current", current);
    var shown = null;
    document.querySelectorAll(".question").forEach(function (q, n) {
      q.classList.toggle("current", n === current);
      if (n === current) shown = q;
    });
    renderNavigator();
    if (scroll && shown) reveal(shown);
  }

  // ---- saving --------------------------------------------------------------------------
  function answer(item, value) {
    if (closed) return;
    item.response = value;
    queue(item);
    renderNavigator();
  }
  function queue(item) {
    seq += 1; store("seq", seq);
    journal[seq] = { position: item.position, response: item.response, marked: !!item.marked, seq: seq, journaled_at: new Date().toISOString() };
    store("journal", journal);
    send(journal[seq]);
  }
  // 503 busy / database_unavailable: nothing was done and the same request may come again.
  // The journal waits (no save goes out meanwhile, each stays in it), at least the server's
  // retry_after plus jitter whose range doubles with each refusal in a row (capped at a
  // minute), so that a thousand pages do not all come back at the same instant.
  var pause = { until: 0, tries: 0, timer: null };
  function retryable(reply) {
    var code = reply && reply.status === 503 && reply.error && reply.error.code;
    return code === "busy" || code === "database_unavailable";
  }
  function backOff(error) {
    var base = Math.max(1, Number(error && error.retry_after) || 2);
    if (Date.now() >= pause.until) pause.tries += 1;  // one step per busy moment, not per reply
    var wait = Math.min(60, base + Math.random() * base * Math.pow(2, pause.tries - 1));
    pause.until = Math.max(pause.until, Date.now() + wait * 1000);
    clearTimeout(pause.timer);
    pause.timer = setTimeout(function () { pause.timer = null; replay(); }, pause.until - Date.now());
    if (!closed) status(T.busy, true);
    return pause.until - Date.now();
  }
  function acknowledged(entry, reply) {
    delete inFlight[entry.seq];
    if (reply && reply.ok) {
      pause.tries = 0;
      delete journal[entry.seq]; store("journal", journal);
      if (!Object.keys(journal).length && !closed) status(T.saved);
    } else if (retryable(reply)) {
      backOff(reply.error);  // kept in the journal: sent again when the pause ends
    } else if (reply && reply.error && reply.error.code === "unauthorized") {
      status(T.loggedOut, true);  // kept in the journal: sent again after the next login
    } else if (reply && reply.error && reply.status < 500) {  // refused for good (time up, closed, invalid): never retried
      delete journal[entry.seq]; store("journal", journal);
      status(T.refused + (reply.error.message || reply.error.code), true);
      if (reply.error.code === "attempt_closed" || reply.error.code === "deadline_passed") refresh();
    }  // a server error keeps the save in the journal: it is sent again
  }
  function send(entry) {
    if (inFlight[entry.seq] || finished || Date.now() < pause.until) return;
    inFlight[entry.seq] = true;
    if (!closed) status(T.saving);
    var payload = Object.assign({ attempt_id: cfg.attempt }, entry);
    if (socket && socket.connected) {
      socket.timeout(8000).emit("answer", payload, function (err, reply) {
        if (err) {
          delete inFlight[entry.seq]; status(T.offline, true);
          // No acknowledgement within 8 s on a socket that still looks connected: its
          // connection is dead (a NAT forgot it, the phone changed networks). Open a new one
          // now rather than after the ping timeout; the journal replays on connect.
          if (socket.connected) { socket.disconnect(); socket.connect(); }
          return;
        }
        acknowledged(entry, reply);
      });
      return;
    }
    api("PUT", cfg.answers + entry.position, entry).then(function (r) {
      acknowledged(entry, r.ok ? r.body : refusal(r));
    }).catch(function () { delete inFlight[entry.seq]; status(T.offline, true); });
  }
  function replay() {
    Object.keys(journal).map(Number).sort(function (a, b) { return a - b; }).forEach(function (s) { send(journal[s]); });
  }

  // ---- time ----------------------------------------------------------------------------
  var warned = false;
  function tick() {
    if (!deadline) return;  // not loaded yet
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var timer = document.getElementById("timer");
    timer.textContent = String(Math.floor(left / 60)).padStart(2, "0") + ":" + String(left % 60).padStart(2, "0");
    timer.classList.toggle("warn", left <= 300);
    if (left <= 300 && !warned && left > 0) { warned = true; status(T.fiveMinutes, true); }
    if (left === 0 && !closed) { close(); status(T.timeUp, true); replay(); setTimeout(submit, 1500); }
  }

  // ---- loading, closing and submitting -------------------------------------------------
  function apply(state) {
    if (state.result) return end();
    deadline = Date.now() + state.remaining_seconds * 1000;  // the server's remaining time, not the device clock
    // The server wins for acknowledged saves; the journal re-applies newer local ones.
    state.items.forEach(function (item) {
      Object.keys(journal).forEach(function (s) {
        var j = journal[s];
        if (j.position === item.position && j.seq > item.seq) { item.response = j.response; item.marked = j.marked; }
      });
    });
    items = state.items;
    var box = document.getElementById("questions");
    box.textContent = "";
    items.forEach(function (item) { box.appendChild(renderItem(item)); });
    seq = Math.max(seq, state.last_seq); store("seq", seq);
    show(current, false);
    if (closed) close();  // time is up but the paper is not handed in yet: still nothing to answer
    tick();
    replay();
  }
  function refresh() {
    if (finished) return;
    api("GET", cfg.state).then(function (r) {
      var refused = r.ok ? null : refusal(r);
      if (!refused) apply(r.body);
      else if (retryable(refused)) setTimeout(refresh, backOff(refused.error));
    });
  }
  // Time is up or the paper is being handed in: no more answers, nothing to click.
  function close() {
    closed = true;
    layout.querySelectorAll("input, button").forEach(function (x) { x.disabled = true; });
  }
  // Submitted: stop everything and let the server show the result.
  function end() {
    if (finished) return;
    close(); finished = true;
    timers.forEach(clearInterval);
    if (proctor) proctor.finish();
    if (socket) socket.disconnect();
    forget();
    window.location.reload();
  }
  function submit() {
    // Paused by a busy server: the journal's saves go first, when the pause ends.
    if (Date.now() < pause.until) { setTimeout(submit, pause.until - Date.now() + 1000); return; }
    api("POST", cfg.submit).then(function (r) {
      var refused = r.ok ? null : refusal(r);
      if (!refused) end();
      else if (retryable(refused)) setTimeout(submit, backOff(refused.error));  // handed in later
      else refresh();
    })
      .catch(function () { status(T.offline, true); document.getElementById("do-submit").disabled = false; });
  }

  toggle.addEventListener("click", function () { openNavigator(!layout.classList.contains("nav-open")); });
  document.getElementById("prev").addEventListener("click", function () { show(current - 1, true); });
  document.getElementById("next").addEventListener("click", function () { show(current + 1, true); });
  document.getElementById("mark").addEventListener("click", function () {
    var item = items[current]; if (closed || !item) return;
    item.marked = !item.marked; queue(item); renderNavigator();
  });
  document.getElementById("submit").addEventListener("click", function () {
    var left = items.filter(function (i) { return !answered(i); }).length;
    document.getElementById("unanswered").textContent = left ? T.unanswered.replace("{n}", left) : T.allAnswered;
    document.getElementById("confirm").hidden = false;
    document.getElementById("do-submit").focus();
  });
  document.getElementById("cancel-submit").addEventListener("click", function () { document.getElementById("confirm").hidden = true; });
  document.getElementById("do-submit").addEventListener("click", function () {
    this.disabled = true; status(T.submitting); replay(); submit();
  });
  document.addEventListener("keydown", function (e) {
    if (closed || (e.target.tagName === "INPUT" && (e.key === " " || e.key === "Enter"))) return;
    if (e.key === "ArrowRight" || e.key === "n" || e.key === "N") show(current + 1, true);
    if (e.key === "ArrowLeft" || e.key === "p" || e.key === "P") show(current - 1, true);
  });

  if (window.io) {
    socket = window.io("/exam", { transports: ["websocket", "polling"] });
    socket.on("connect", function () { refresh(); });
    socket.on("disconnect", function () { if (!finished) status(T.offline, true); });
    // Refused while the server is busy: no automatic reconnection after a refusal, so connect
    // again after the pause (the saves go over HTTP meanwhile, and back off the same way).
    socket.on("connect_error", function (err) {
      var error = err && err.data;
      if (!finished && retryable({ status: 503, error: error })) setTimeout(function () { socket.connect(); }, backOff(error));
    });
    // The camera and page events (proctor.js): beside the answers, never in their way.
    if (window.ExamProctor) {
      proctor = window.ExamProctor.start(socket, { attempt: cfg.attempt, text: T, onVoided: function () {
        // Voided by an invigilator: nothing more to answer; the dialog's button reloads the page.
        close(); finished = true; timers.forEach(clearInterval); forget(); status("");
      } });
    }
  }
  window.addEventListener("online", function () { if (closed) submit(); else refresh(); });
  refresh();
  timers.push(setInterval(tick, 1000));
  timers.push(setInterval(function () { if (Object.keys(journal).length) replay(); }, 10000));
})();
