// 候考: count down to the opening from the server's "opens in" (never the phone's clock),
// then enable 【我知晓--开始考试】. The server still refuses a start before the opening.
(function () {
  "use strict";
  var box = document.querySelector("[data-opens-in]");
  if (!box) return;
  var button = document.querySelector("button[data-label]");
  var shown = box.querySelector(".countdown");
  var opensAt = performance.now() + parseFloat(box.getAttribute("data-opens-in")) * 1000;

  function tick() {
    var left = Math.max(0, Math.ceil((opensAt - performance.now()) / 1000));
    shown.textContent = Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2);
    if (left > 0) return;
    clearInterval(timer);
    box.querySelector(".opens").hidden = true;
    box.querySelector(".opened").hidden = false;
    if (button) {
      button.disabled = false;
      button.textContent = button.getAttribute("data-label");
    }
  }
  var timer = setInterval(tick, 1000);
  document.addEventListener("visibilitychange", tick);
  tick();
})();
