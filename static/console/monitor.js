// Monitor tab and dashboard: draws each <figure data-chart> with uPlot from the page's JSON
// endpoint (rollups only). The numbers are also in each figure's <details> table, so the page reads
// without this script; a preset range is applied as soon as it is picked.
(function () {
  "use strict";
  var COLORS = ["#2563eb", "#dc2626", "#d97706", "#059669"];

  function picker() {
    var form = document.getElementById("monitor-picker");
    if (!form) return;
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.name === "range" && target.value !== "custom") {
        form.querySelectorAll("input[type=datetime-local]").forEach(function (input) { input.disabled = true; });
        form.submit();
      }
    });
  }

  function draw(figure, data, plots) {
    var canvas = figure.querySelector(".chart-canvas");
    var series = figure.dataset.series.split(",").map(function (pair) {
      var i = pair.indexOf(":");
      return { key: pair.slice(0, i), label: pair.slice(i + 1) };
    });
    var unit = figure.dataset.unit;
    var columns = [data.series.t];
    var opts = {
      width: Math.max(240, canvas.clientWidth || figure.clientWidth - 24),
      height: 180,
      legend: { show: true },
      cursor: { points: { show: true } },
      scales: { x: { time: true } },
      axes: [{}, { size: 56, values: function (u, ticks) { return ticks.map(function (v) { return v == null ? "" : (unit === "ms" ? v + " ms" : v); }); } }],
      series: [{ label: "Time" }],
    };
    series.forEach(function (s, index) {
      columns.push(data.series[s.key]);
      opts.series.push({ label: s.label, stroke: COLORS[index % COLORS.length], width: 1.5, spanGaps: unit === "ms", points: { show: unit === "ms", size: 5 } });
    });
    canvas.textContent = "";
    plots.push({ figure: figure, plot: new window.uPlot(opts, columns, canvas) });
  }

  function charts() {
    var holder = document.getElementById("monitor-charts");
    if (!holder || !window.uPlot || !window.fetch) return;
    var plots = [];
    fetch(holder.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
      .then(function (data) {
        holder.querySelectorAll("figure[data-chart]").forEach(function (figure) { draw(figure, data, plots); });
        holder.dataset.drawn = String(plots.length);
      })
      .catch(function () { holder.dataset.drawn = "failed"; });
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () {
        plots.forEach(function (p) {
          var canvas = p.figure.querySelector(".chart-canvas");
          p.plot.setSize({ width: Math.max(240, p.figure.clientWidth - 24), height: 180 });
        });
      }, 150);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { picker(); charts(); });
})();
