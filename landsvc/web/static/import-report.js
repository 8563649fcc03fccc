/* The parcel import report's map: each row of the uploaded file, coloured by its fate. */
(function () {
  "use strict";
  var el = document.getElementById("import-map");
  var data = document.getElementById("import-rows");
  if (!el || !data || !window.landsvcMap) return;
  var rows = JSON.parse(data.textContent);
  var colours = { imported: "#1a7f37", held: "#9a6700", rejected: "#cf222e" };
  var states = { imported: "已导入", held: "正确但未导入", rejected: "有误" };
  var map = window.landsvcMap("import-map", {});
  var layer = window.landsvcGeoJSON(rows, function (f) {
    var c = colours[f.properties.state] || "#0969da";
    return { color: c, weight: 2, fillColor: c, fillOpacity: 0.35 };
  }, function (f) {
    var p = f.properties;
    return "第 " + p.index + " 行" + (p.code ? "（" + p.code + "）" : "") + "：" +
      (states[p.state] || p.state) + (p.reason ? "\n" + p.reason : "");
  }).addTo(map);
  if (rows.features.length) {
    var b = layer.getBounds();
    if (b.isValid()) map.fitBounds(b, { maxZoom: 15, padding: [20, 20] });
  }
})();
