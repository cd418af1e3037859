// The invigilators' wall: the server renders every candidate's card; this page joins the
// session's room on /invigilate and, for each `candidate` {card} the server pushes, patches
// that one card and moves it to its place (most serious first) — never the whole wall. Time
// left counts down from the server's remaining seconds. Images come by signed URL only.
// On a candidate's timeline it only replaces images that cannot be shown (purged, expired).
(function () {
  "use strict";

  // An image that cannot be shown (purged, or its link expired) gives way to its words.
  document.addEventListener("error", function (e) {
    var img = e.target;
    if (!img || img.tagName !== "IMG") return;
    if (img.getAttribute("data-role") === "thumb") {
      img.hidden = true;
      img.removeAttribute("data-snapshot");  // a later card's fresh token tries again
      var none = img.parentNode.querySelector("[data-role=nothumb]");
      if (none) none.hidden = false;
    } else if (img.classList.contains("evidence")) {
      var box = document.createElement("div");
      box.className = "evidence-none";
      box.textContent = img.alt;
      img.replaceWith(box);
    }
  }, true);

  var data = document.getElementById("wall-data");
  if (!data) return;
  var cfg = JSON.parse(data.textContent);
  var T = cfg.text;
  var L = cfg.labels;  // the words for the cards' codes, in this page's language
  var wall = document.getElementById("wall");
  var live = document.getElementById("live");
  var template = document.getElementById("card-template");

  function status(text, offline) { live.textContent = text; live.className = "live" + (offline ? " offline" : ""); }
  function role(li, name) { return li.querySelector("[data-role=" + name + "]"); }
  function clock(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    var mm = (h && m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return (h ? h + ":" : "") + mm + ":" + ss;
  }

  // ---- time left: one timer for the whole wall -------------------------------------------
  function setRemaining(li, remaining) {
    var timer = role(li, "timer");
    timer.endsAt = (remaining === null || remaining === undefined || remaining === "") ? null
      : performance.now() + Number(remaining) * 1000;
    tickOne(timer, performance.now());
  }
  function tickOne(timer, now) {
    if (timer.endsAt === null || timer.endsAt === undefined) { timer.textContent = ""; return; }
    var left = (timer.endsAt - now) / 1000;
    timer.textContent = left > 0 ? clock(left) : T.ended;
  }
  function tick() {
    var now = performance.now();
    wall.querySelectorAll("[data-role=timer]").forEach(function (t) { tickOne(t, now); });
  }

  // ---- one card --------------------------------------------------------------------------
  function badge(node, text, cls) {
    node.hidden = !text;
    node.textContent = text || "";
    node.className = "badge " + cls;
  }
  function patch(li, card) {
    li.setAttribute("data-physician", card.physician_id);
    li.setAttribute("data-order", card.order);
    li.setAttribute("data-name", card.name);
    li.className = "wall-card order-" + Math.floor(card.order / 10);
    role(li, "name").textContent = card.name;
    role(li, "masked").textContent = card.masked_id;
    role(li, "paper").textContent = card.paper;
    role(li, "paper").title = card.paper;
    var link = role(li, "link");
    if (card.attempt_id) link.href = cfg.timeline.replace("2147483647", card.attempt_id);
    else link.removeAttribute("href");
    var img = role(li, "thumb"), none = role(li, "nothumb");
    if (card.thumb) {
      // A new token comes with every card; the image is fetched again only for a new snapshot.
      if (img.getAttribute("data-snapshot") !== String(card.thumb_id)) {
        img.setAttribute("data-snapshot", card.thumb_id);
        img.src = cfg.evidence.replace("TOKEN", card.thumb);
        img.hidden = false; none.hidden = true;
      }
    } else { img.hidden = true; img.removeAttribute("src"); img.removeAttribute("data-snapshot"); none.hidden = false; }
    badge(role(li, "state"), L.state[card.state], "state-" + card.state);
    badge(role(li, "connection"), card.connection && L.connection[card.connection], card.connection === "disconnected" ? "fail" : "pass");
    badge(role(li, "camera"), card.camera && L.camera[card.camera], card.camera === "off" ? "fail" : card.camera === "none" ? "wait" : "pass");
    var flags = role(li, "flags");
    flags.textContent = "";
    card.flags.forEach(function (f) {
      var span = document.createElement("span");
      span.className = "badge fail flag-" + f.code;
      span.textContent = (L.flag[f.code] || f.code) + (f.count > 1 ? " ×" + f.count : "");
      flags.appendChild(span);
    });
    setRemaining(li, card.remaining_seconds);
  }
  function before(a, b) {  // does card a come before card b (order, then name)?
    var oa = Number(a.getAttribute("data-order")), ob = Number(b.getAttribute("data-order"));
    if (oa !== ob) return oa < ob;
    return a.getAttribute("data-name") < b.getAttribute("data-name");
  }
  function place(li) {
    var next = null;
    for (var node = wall.firstElementChild; node; node = node.nextElementSibling) {
      if (node !== li && before(li, node)) { next = node; break; }
    }
    if (li.nextElementSibling !== next || li.parentNode !== wall) wall.insertBefore(li, next);
  }
  function update(card) {
    if (!wall) return;
    var li = wall.querySelector('[data-physician="' + card.physician_id + '"]');
    var order = li && li.getAttribute("data-order"), name = li && li.getAttribute("data-name");
    if (!li) li = template.content.firstElementChild.cloneNode(true);
    patch(li, card);
    if (li.parentNode !== wall || order !== String(card.order) || name !== card.name) place(li);
  }

  if (wall) {
    wall.querySelectorAll(".wall-card").forEach(function (li) {
      setRemaining(li, role(li, "timer").getAttribute("data-remaining"));
    });
    setInterval(tick, 1000);
  }

  // ---- live updates ------------------------------------------------------------------------
  var socket = window.io("/invigilate", { transports: ["websocket", "polling"] });
  function join() {
    socket.emit("join", { session_id: cfg.session }, function (ack) {
      if (!ack || !ack.ok) { status(T.refused + ((ack && ack.error && ack.error.message) || ""), true); return; }
      (ack.cards || []).forEach(update);  // whatever changed while the wall was away
      status(T.live);
    });
  }
  socket.on("connect", function () { status(T.connecting); join(); });
  // The session's invigilators changed: join again, and the server checks this user again.
  socket.on("rejoin", join);
  socket.on("connect_error", function (err) {
    var message = err && err.data && err.data.message;
    status(message ? T.refused + message : T.offline, true);
  });
  socket.on("disconnect", function () { status(T.offline, true); });
  socket.on("candidate", function (message) { if (message && message.card) update(message.card); });
})();
