// Monitor tab and dashboard: draws each <figure data-chart> with uPlot from the page's JSON
// endpoint (rollups only), and each figure's <details> table from the same JSON when it is opened
// (without this script its link renders that table on the server); a preset range is applied as
// soon as it is picked.
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

  function cell(tag, text, scope) {
    var node = document.createElement(tag);
    node.textContent = text;
    if (scope) node.scope = scope;
    return node;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function stamp(seconds) {
    var d = new Date(seconds * 1000);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  function number(v) {
    if (v == null) return "\u2013";
    return String(Math.round(v * 100) / 100);
  }

  // The figure's table of points that have a value, as the server renders it for ?numbers=<id>.
  function table(figure, data) {
    var details = figure.querySelector("details.chart-data");
    if (!details || details.querySelector("table, .chart-data-empty")) return;
    var keys = figure.dataset.series.split(",").map(function (pair) { return pair.split(":"); });
    var rows = [];
    data.series.t.forEach(function (t, i) {
      var values = keys.map(function (k) { return data.series[k[0]][i]; });
      if (values.some(function (v) { return v; })) rows.push([t, values]);
    });
    var link = details.querySelector(".chart-data-link");
    if (link) link.remove();
    if (!rows.length) {
      var empty = cell("p", "Nothing in this range.");
      empty.className = "small chart-data-empty";
      details.appendChild(empty);
      return;
    }
    var tableNode = document.createElement("table");
    var caption = cell("caption", figure.querySelector("figcaption").textContent);
    caption.className = "sr-only";
    tableNode.appendChild(caption);
    var head = document.createElement("thead"), headRow = document.createElement("tr");
    headRow.appendChild(cell("th", "Time (UTC)", "col"));
    keys.forEach(function (k) { headRow.appendChild(cell("th", k.slice(1).join(":"), "col")); });
    head.appendChild(headRow);
    tableNode.appendChild(head);
    var body = document.createElement("tbody");
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.appendChild(cell("td", stamp(row[0])));
      row[1].forEach(function (v) { tr.appendChild(cell("td", number(v))); });
      body.appendChild(tr);
    });
    tableNode.appendChild(body);
    details.appendChild(tableNode);
  }

  function charts() {
    var holder = document.getElementById("monitor-charts");
    if (!holder || !window.uPlot || !window.fetch) return;
    var plots = [];
    fetch(holder.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { if (!response.ok) throw new Error(response.status); return response.json(); })
      .then(function (data) {
        holder.querySelectorAll("figure[data-chart]").forEach(function (figure) {
          draw(figure, data, plots);
          var details = figure.querySelector("details.chart-data");
          if (details.open) table(figure, data);
          details.addEventListener("toggle", function () { if (details.open) table(figure, data); });
        });
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
