// Demo only: capture a frame from the camera and send it as the registration photo.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("demo-data").textContent);
  var video = document.getElementById("camera");
  var canvas = document.getElementById("shot");
  var status = document.getElementById("status");
  var button = document.getElementById("take");
  var token = document.querySelector('meta[name="csrf-token"]').content;

  navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480, facingMode: "user" }, audio: false })
    .then(function (stream) { video.srcObject = stream; })
    .catch(function () { status.textContent = data.noCamera; button.disabled = true; });

  button.addEventListener("click", function () {
    canvas.width = video.videoWidth || 640;
    canvas.height = video.videoHeight || 480;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    button.disabled = true;
    canvas.toBlob(function (blob) {
      var form = new FormData();
      form.append("photo", blob, "photo.jpg");
      fetch(data.upload, { method: "POST", body: form, headers: { "X-CSRFToken": token }, credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          status.textContent = res.ok ? res.body.message : res.body.error.message;
          if (res.ok) { setTimeout(function () { window.location = data.home; }, 1200); } else { button.disabled = false; }
        })
        .catch(function () { status.textContent = "…"; button.disabled = false; });
    }, "image/jpeg", 0.9);
  });
})();
