// The exam page. The server owns the clock and the answers; this page shows them, saves
// every change at once (Socket.IO, or HTTP when the socket is down), and keeps a journal of
// unacknowledged saves in localStorage that survives reloads and is replayed on reconnect.
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("exam-data").textContent);
  var T = cfg.text;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var key = "examsvc:attempt:" + cfg.attempt;
  var items = [], current = 0, deadline = 0, closed = false, socket = null, inFlight = {};

  function load(name, fallback) { try { return JSON.parse(localStorage.getItem(key + ":" + name)) || fallback; } catch (e) { return fallback; } }
  function store(name, value) { try { localStorage.setItem(key + ":" + name, JSON.stringify(value)); } catch (e) { /* private mode: the server still has every acknowledged save */ } }
  var journal = load("journal", {});           // seq -> {position, response, marked, seq, journaled_at}
  var seq = load("seq", 0);

  function status(text, offline) {
    var el = document.getElementById("save-status");
    el.textContent = text; el.className = "save-status" + (offline ? " offline" : "");
  }
  function api(method, url, body) {
    return fetch(url, { method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, status: r.status, body: b }; }); });
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

  function renderItem(item) {
    var box = el("section", { "class": "card question", id: "q" + item.position, "aria-label": String(item.position) });
    box.appendChild(el("p", { "class": "stem" }, item.position + ". [" + item.label + "] " + item.stem + "（" + item.points + "）"));
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
      b.addEventListener("click", function () { show(i); });
      nav.appendChild(b);
    });
  }
  function show(i) {
    current = Math.max(0, Math.min(items.length - 1, i));
    document.querySelectorAll(".question").forEach(function (q, n) { q.classList.toggle("current", n === current); });
    renderNavigator();
  }

  // ---- saving --------------------------------------------------------------------------
  function answer(item, value) {
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
  function acknowledged(entry, reply) {
    delete inFlight[entry.seq];
    if (reply && reply.ok) {
      delete journal[entry.seq]; store("journal", journal);
      if (!Object.keys(journal).length) status(T.saved);
    } else if (reply && reply.error && reply.status < 500) {  // refused for good (time up, closed, invalid): never retried
      delete journal[entry.seq]; store("journal", journal);
      status(T.refused + (reply.error.message || reply.error.code), true);
    }  // a server error keeps the save in the journal: it is sent again
  }
  function send(entry) {
    if (inFlight[entry.seq]) return;
    inFlight[entry.seq] = true;
    status(T.saving);
    var payload = Object.assign({ attempt_id: cfg.attempt }, entry);
    if (socket && socket.connected) {
      socket.timeout(8000).emit("answer", payload, function (err, reply) {
        if (err) { delete inFlight[entry.seq]; status(T.offline, true); return; }
        acknowledged(entry, reply);
      });
      return;
    }
    api("PUT", cfg.answers + entry.position, entry).then(function (r) {
      acknowledged(entry, r.ok ? r.body : { ok: false, status: r.status, error: r.body.error });
    }).catch(function () { delete inFlight[entry.seq]; status(T.offline, true); });
  }
  function replay() {
    Object.keys(journal).map(Number).sort(function (a, b) { return a - b; }).forEach(function (s) { send(journal[s]); });
  }

  // ---- time ----------------------------------------------------------------------------
  var warned = false;
  function tick() {
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var timer = document.getElementById("timer");
    timer.textContent = String(Math.floor(left / 60)).padStart(2, "0") + ":" + String(left % 60).padStart(2, "0");
    timer.classList.toggle("warn", left <= 300);
    if (left <= 300 && !warned && left > 0) { warned = true; status(T.fiveMinutes, true); }
    if (left === 0 && !closed) { closed = true; status(T.timeUp, true); replay(); setTimeout(submit, 1500); }
  }

  // ---- loading and submitting ----------------------------------------------------------
  function apply(state) {
    deadline = Date.now() + state.remaining_seconds * 1000;  // the server's remaining time, not the device clock
    if (state.result) return showResult(state);
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
    show(current);
    replay();
  }
  function refresh() { return api("GET", cfg.state).then(function (r) { if (r.ok) apply(r.body); }); }
  function showResult(state) {
    closed = true;
    document.querySelector(".exam-layout").hidden = true;
    document.getElementById("confirm").hidden = true;
    var box = document.getElementById("result");
    box.hidden = false; box.textContent = "";
    box.appendChild(el("h2", {}, state.result.message));
    if (state.result.score !== null) box.appendChild(el("p", {}, T.score + "：" + state.result.score));
    var actions = el("p", { "class": "actions" });
    if (state.can_retry) actions.appendChild(el("a", { "class": "button", href: cfg.retry }, T.retry));
    actions.appendChild(el("a", { "class": "button secondary", href: cfg.home }, T.home));
    box.appendChild(actions);
    localStorage.removeItem(key + ":journal");
  }
  function submit() {
    api("POST", cfg.submit).then(function (r) { if (r.ok) showResult(r.body); });
  }

  document.getElementById("prev").addEventListener("click", function () { show(current - 1); });
  document.getElementById("next").addEventListener("click", function () { show(current + 1); });
  document.getElementById("mark").addEventListener("click", function () {
    var item = items[current]; item.marked = !item.marked; queue(item); renderNavigator();
  });
  document.getElementById("submit").addEventListener("click", function () {
    var left = items.filter(function (i) { return !answered(i); }).length;
    document.getElementById("unanswered").textContent = left ? T.unanswered.replace("{n}", left) : T.allAnswered;
    document.getElementById("confirm").hidden = false;
    document.getElementById("do-submit").focus();
  });
  document.getElementById("cancel-submit").addEventListener("click", function () { document.getElementById("confirm").hidden = true; });
  document.getElementById("do-submit").addEventListener("click", function () { replay(); submit(); });
  document.addEventListener("keydown", function (e) {
    if (e.target.tagName === "INPUT" && (e.key === " " || e.key === "Enter")) return;
    if (e.key === "ArrowRight" || e.key === "n" || e.key === "N") show(current + 1);
    if (e.key === "ArrowLeft" || e.key === "p" || e.key === "P") show(current - 1);
  });

  if (window.io) {
    socket = window.io("/exam", { transports: ["websocket", "polling"] });
    socket.on("connect", function () { refresh(); });
    socket.on("disconnect", function () { status(T.offline, true); });
  }
  window.addEventListener("online", refresh);
  refresh();
  setInterval(tick, 1000);
  setInterval(function () { if (Object.keys(journal).length) replay(); }, 10000);
})();
