// The statistics page's charts, drawn from the numbers its tables already show (the page
// reads the same without this script). Words come from the page (#chart-data).
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || !window.Chart) return;
  var data = JSON.parse(source.textContent);
  var colours = ["#1a73e8", "#e8710a", "#188038", "#a142f4", "#d93025", "#12b5cb", "#f9ab00"];
  var common = { responsive: true, maintainAspectRatio: false, animation: false };
  var narrow = window.matchMedia("(max-width: 600px)").matches;
  function short(label) {  // a long paper name, cut on a phone
    return narrow && label.length > 8 ? label.slice(0, 7) + "…" : label;
  }

  var rate = document.getElementById("pass-rate-chart");
  if (rate) {
    new window.Chart(rate, {
      type: "bar",
      data: {
        labels: data.papers,
        datasets: [{
          label: data.text.rate,
          data: data.rates.map(function (r) { return r === null ? null : Math.round(1000 * r) / 10; }),
          backgroundColor: colours[0]
        }]
      },
      options: Object.assign({}, common, {
        indexAxis: "y",
        scales: {
          x: { min: 0, max: 100, title: { display: true, text: data.text.rate } },
          y: { ticks: { callback: function (value) { return short(this.getLabelForValue(value)); } } }
        },
        plugins: { legend: { display: false } }
      })
    });
  }
  var scores = document.getElementById("score-chart");
  if (scores) {
    new window.Chart(scores, {
      type: "bar",
      data: {
        labels: data.bands,
        datasets: data.papers.map(function (name, i) {
          return { label: name, data: data.scores[i], backgroundColor: colours[i % colours.length] };
        })
      },
      options: Object.assign({}, common, {
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        scales: {
          x: { title: { display: true, text: data.text.band } },
          y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: data.text.people } }
        }
      })
    });
  }
})();
