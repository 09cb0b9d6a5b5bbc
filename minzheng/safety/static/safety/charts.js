/* ECharts for 安居守护 screens: 48 h activity on the home card, incidents per day on the reports. */
(function () {
  "use strict";
  if (!window.echarts) { return; }
  var FONT = '"Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el) { return; }
    var c = echarts.init(el, null, { renderer: "canvas" });
    option.textStyle = { fontFamily: FONT };
    option.animation = false;
    c.setOption(option);
    window.addEventListener("resize", function () { c.resize(); });
  }
  var a = data("activity-data");
  if (a) {
    chart("activity-chart", {
      grid: { left: 36, right: 40, top: 28, bottom: 42 },
      legend: { top: 0, itemWidth: 12, itemHeight: 8, textStyle: { fontSize: 12 } },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: a.hours, axisLabel: { fontSize: 11, interval: 5, rotate: 0 } },
      yAxis: [{ type: "value", name: "次", minInterval: 1, nameTextStyle: { fontSize: 11 }, axisLabel: { fontSize: 11 } },
              { type: "value", name: "升", nameTextStyle: { fontSize: 11 }, axisLabel: { fontSize: 11 }, splitLine: { show: false } }],
      series: [
        { name: "人体活动", type: "bar", stack: "a", data: a.motion, itemStyle: { color: "#1d5fa8" } },
        { name: "开关门", type: "bar", stack: "a", data: a.door, itemStyle: { color: "#e8a24a" } },
        { name: "用水(升)", type: "line", yAxisIndex: 1, data: a.water, showSymbol: false, itemStyle: { color: "#2f7d4f" } }
      ]
    });
  }
  var d = data("daily-data");
  if (d) {
    chart("daily-chart", {
      grid: { left: 36, right: 16, top: 16, bottom: 30 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: d.days.map(function (s) { return s.slice(5); }), axisLabel: { fontSize: 11 } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { fontSize: 11 } },
      series: [{ name: "工单", type: "bar", data: d.counts, itemStyle: { color: "#b4232a" } }]
    });
  }
})();
