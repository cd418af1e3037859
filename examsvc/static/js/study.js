// Study mode: before submitting, turn the choices of each question into its JSON response.
(function () {
  "use strict";
  var form = document.getElementById("mock-form");
  if (!form) return;
  form.addEventListener("submit", function () {
    var responses = {};
    form.querySelectorAll("input[data-q]:checked").forEach(function (input) {
      var q = input.dataset.q, type = input.dataset.type;
      if (type === "single") responses[q] = input.value;
      else if (type === "multiple") (responses[q] = responses[q] || []).push(input.value);
      else if (type === "true_false") responses[q] = input.value === "true";
      else { responses[q] = responses[q] || {}; responses[q][input.dataset.sub] = input.value; }
    });
    Object.keys(responses).forEach(function (q) { document.getElementById("q" + q).value = JSON.stringify(responses[q]); });
  });
})();
