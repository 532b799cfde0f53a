// The workbench's small enhancements (the pages work without them):
// - draws the DPD history chart with plotly.js (served from the installed plotly package);
// - live quotes: a form with data-quote fetches its quote fragment as the collector types.
(function () {
  "use strict";

  function drawChart() {
    var data = document.getElementById("dpd-chart-data");
    var target = document.getElementById("dpd-chart");
    if (!data || !target || !window.Plotly || target.dataset.drawn) return;
    target.dataset.drawn = "1";
    var spec = JSON.parse(data.textContent);
    window.Plotly.newPlot(target, spec.figure.data, spec.figure.layout, spec.config);
  }

  function liveQuote(form) {
    var target = document.getElementById(form.dataset.quoteTarget);
    var timer = null;
    var latest = 0;
    function refresh() {
      var params = new URLSearchParams(new FormData(form));
      params.delete("csrf_token"); // a GET that changes nothing: the token stays out of URLs
      params.delete("reason");
      params.delete("details");
      params.delete("action");
      var url = form.dataset.quote + "&" + params.toString();
      var mine = ++latest;
      fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          if (mine === latest) {
            target.innerHTML = html; // server-rendered and escaped
            target.dataset.ready = String(mine);
          }
        })
        .catch(function () { /* the Preview button still works */ });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 300);
    });
    form.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 50);
    });
    if (form.closest("details")) {
      form.closest("details").addEventListener("toggle", function (event) {
        if (event.target.open && !target.innerHTML.trim()) refresh();
      });
    }
  }

  function start() {
    drawChart();
    document.querySelectorAll("form[data-quote]").forEach(liveQuote);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  window.addEventListener("load", drawChart);
})();
