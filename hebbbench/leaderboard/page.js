(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("board-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var COLORS = ["#1f6fb2", "#d1495b", "#2e8b57", "#e08e0b", "#7b4fa0", "#00798c",
                "#8c564b", "#c2185b", "#556b2f", "#4a5868"];

  function node(name, attrs, parent, text) {
    var element = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (key) { element.setAttribute(key, attrs[key]); });
    if (text !== undefined) { element.textContent = text; }
    parent.appendChild(element);
    return element;
  }

  function sortTable(table, column, header) {
    var descending = header.getAttribute("aria-sort") !== "descending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[column].getAttribute("data-value"), y = b.cells[column].getAttribute("data-value");
      var nx = parseFloat(x), ny = parseFloat(y);
      var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.title = "click to sort";
      header.addEventListener("click", function () { sortTable(table, column, header); });
    });
  });

  function niceStep(span) {
    var raw = span / 6, power = Math.pow(10, Math.floor(Math.log10(raw))), unit = raw / power;
    return power * (unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10);
  }

  function drawChart(task) {
    var svg = document.getElementById("chart-" + task.task);
    var width = 1000, height = 380, left = 64, right = 16, top = 16, bottom = 92;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    var points = [];
    task.entries.forEach(function (entry, e) {
      entry.points.forEach(function (p) { points.push({entry: entry, e: e, p: p}); });
    });
    var low = Math.min(0, Math.min.apply(null, points.map(function (q) { return q.p.lo; })));
    var high = Math.max(0, Math.max.apply(null, points.map(function (q) { return q.p.hi; })));
    var step = niceStep((high - low) || 1);
    low = Math.floor(low / step) * step; high = Math.ceil(high / step) * step;
    function y(value) { return top + (high - value) / (high - low) * (height - top - bottom); }
    for (var tick = low; tick <= high + step / 2; tick += step) {
      node("line", {x1: left, x2: width - right, y1: y(tick), y2: y(tick), "class": "grid"}, svg);
      node("text", {x: left - 6, y: y(tick) + 4, "text-anchor": "end"}, svg, String(Math.round(tick)));
    }
    node("line", {x1: left, x2: left, y1: top, y2: height - bottom, "class": "axis"}, svg);
    node("text", {transform: "translate(14," + ((top + height - bottom) / 2) + ") rotate(-90)",
                  "text-anchor": "middle"}, svg, "episode return");
    var band = (width - left - right) / task.variations.length;
    var slots = task.entries.length * 2;
    task.variations.forEach(function (variation, v) {
      node("text", {x: left + band * (v + 0.5), y: height - bottom + 18, "text-anchor": "middle"}, svg, variation);
      if (v) {
        node("line", {x1: left + band * v, x2: left + band * v, y1: top, y2: height - bottom, "class": "grid"}, svg);
      }
    });
    points.forEach(function (q) {
      var v = task.variations.indexOf(q.p.variation);
      var slot = q.e * 2 + (q.p.split === "test" ? 1 : 0);
      var x = left + band * v + band * (slot + 1) / (slots + 1);
      var color = COLORS[q.e % COLORS.length];
      var group = node("g", {"class": "point", "data-entry": q.entry.id}, svg);
      node("line", {x1: x, x2: x, y1: y(q.p.lo), y2: y(q.p.hi), stroke: color, "stroke-width": 2}, group);
      [q.p.lo, q.p.hi].forEach(function (end) {
        node("line", {x1: x - 4, x2: x + 4, y1: y(end), y2: y(end), stroke: color, "stroke-width": 2}, group);
      });
      node("circle", {cx: x, cy: y(q.p.mean), r: 5, stroke: color, "stroke-width": 2,
                      fill: q.p.split === "test" ? color : "#fff"}, group);
      node("title", {}, group, q.entry.name + " - " + q.p.variation + " (" +
           (q.p.split === "test" ? "held out" : "train") + "): mean " + q.p.mean.toFixed(1) +
           ", 95% CI [" + q.p.lo.toFixed(1) + ", " + q.p.hi.toFixed(1) + "]");
    });
    var lx = left, ly = height - bottom + 44;
    node("circle", {cx: lx + 5, cy: ly - 4, r: 5, fill: "#1d2733"}, svg);
    node("text", {x: lx + 14, y: ly}, svg, "held out");
    node("circle", {cx: lx + 85, cy: ly - 4, r: 5, fill: "#fff", stroke: "#1d2733", "stroke-width": 2}, svg);
    node("text", {x: lx + 94, y: ly}, svg, "train (bars: 95% CI of the mean)");
    var x0 = lx, y0 = ly + 22;
    task.entries.forEach(function (entry, e) {
      var label = entry.name + (entry.ranked ? "" : " (not ranked)");
      var width_ = 24 + 7 * label.length;
      if (x0 + width_ > width - right) { x0 = lx; y0 += 18; }
      node("rect", {x: x0, y: y0 - 10, width: 12, height: 12, fill: COLORS[e % COLORS.length]}, svg);
      node("text", {x: x0 + 17, y: y0}, svg, label);
      x0 += width_;
    });
    // The legend wraps onto as many rows as its entries need: the viewBox grows to hold the last one.
    svg.setAttribute("viewBox", "0 0 " + width + " " + Math.max(height, y0 + 14));
    svg.setAttribute("data-points", String(points.length));
    svg.setAttribute("data-rendered", "true");
  }

  data.tasks.forEach(drawChart);
})();
