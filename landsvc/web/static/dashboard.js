/* The bureau dashboard's charts (ECharts, self-hosted). Each chart reads its figures from a
   <script type="application/json" id="data-…"> block written by the server; the same
   figures are in the tables under each chart. Labels are set as text, never as HTML. */
(function () {
  "use strict";
  if (typeof echarts === "undefined") return;

  function data(name) {
    var el = document.getElementById("data-" + name);
    return el ? JSON.parse(el.textContent) : null;
  }

  var COLORS = { green: "#1a7f37", standard: "#0b5cad" };
  var BASE = { textStyle: { fontFamily: "inherit" }, animation: false,
               tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
               legend: { top: 0 }, grid: { left: 48, right: 16, top: 48, bottom: 40 } };

  function merge(a, b) {
    var out = {}, k;
    for (k in a) out[k] = a[k];
    for (k in b) out[k] = b[k];
    return out;
  }

  // (1) median and P90 working days per stage, green vs standard
  function approvals(d) {
    var stages = ["acceptance", "review", "decision", "total"];
    var series = [];
    Object.keys(d.stats.channels).forEach(function (ch) {
      var c = d.stats.channels[ch];
      [["median", "中位数", 1], ["p90", "P90", 0.55]].forEach(function (m) {
        series.push({
          name: c.channel_label + " " + m[1], type: "bar",
          itemStyle: { color: COLORS[ch] || "#888", opacity: m[2] },
          data: stages.map(function (s) {
            var spread = s === "total" ? c.total : c.stages[s];
            return spread[m[0]];
          })
        });
      });
    });
    return merge(BASE, {
      xAxis: { type: "category", data: stages.map(function (s) { return d.labels.stage[s]; }) },
      yAxis: { type: "value", name: "工作日", minInterval: 1 },
      series: series
    });
  }

  // (2) overdue rate per channel
  function overdue(d) {
    var chans = Object.keys(d.stats.channels);
    return merge(BASE, {
      tooltip: { trigger: "axis", valueFormatter: function (v) { return v == null ? "—" : v.toFixed(1) + "%"; } },
      legend: { show: false },
      xAxis: { type: "category", data: chans.map(function (c) { return d.stats.channels[c].channel_label; }) },
      yAxis: { type: "value", name: "超期率 %", max: 100 },
      series: [{
        name: "超期率", type: "bar", barMaxWidth: 64,
        data: chans.map(function (c) {
          var r = d.stats.channels[c].overdue_rate;
          return { value: r == null ? null : Math.round(r * 1000) / 10,
                   itemStyle: { color: COLORS[c] || "#888" } };
        })
      }]
    });
  }

  // (3) offerings per supply mode, stacked by status
  function supply(d) {
    var modes = Object.keys(d.labels.supply_mode);
    var statuses = Object.keys(d.labels.offering_status).filter(function (s) {
      return d.rows.some(function (r) { return r.status === s; });
    });
    return merge(BASE, {
      xAxis: { type: "category", data: modes.map(function (m) { return d.labels.supply_mode[m]; }),
               axisLabel: { interval: 0 } },
      yAxis: { type: "value", name: "宗数", minInterval: 1 },
      series: statuses.map(function (s) {
        return {
          name: d.labels.offering_status[s], type: "bar", stack: "status",
          data: modes.map(function (m) {
            var row = d.rows.filter(function (r) { return r.supply_mode === m && r.status === s; })[0];
            return row ? row.offerings : 0;
          })
        };
      })
    });
  }

  // (4) median guideline rent per published version, per building type
  function trend(d) {
    var versions = [], seen = {};
    d.rows.forEach(function (r) {
      if (!seen[r.version]) { seen[r.version] = true; versions.push(r); }
    });
    var types = Object.keys(d.labels.building_type);
    return merge(BASE, {
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: versions.map(function (v) { return v.period + " #" + v.version; }) },
      yAxis: { type: "value", name: "元/㎡·月", scale: true },
      series: types.map(function (t) {
        return {
          name: d.labels.building_type[t], type: "line", connectNulls: true, symbolSize: 8,
          data: versions.map(function (v) {
            var row = d.rows.filter(function (r) { return r.version === v.version && r.building_type === t; })[0];
            return row ? row.median : null;
          })
        };
      })
    });
  }

  var BUILD = { approvals: [approvals, "approvals"], overdue: [overdue, "approvals"],
                supply: [supply, "supply"], trend: [trend, "trend"] };
  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var how = BUILD[el.getAttribute("data-chart")];
    var figures = how && data(how[1]);
    if (!figures) return;
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(how[0](figures));
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
})();
