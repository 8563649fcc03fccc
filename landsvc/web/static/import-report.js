/* Maps of the bureau's supply pages: every <div class="map" data-geojson="ID"> draws the
 * GeoJSON in <script id="ID" type="application/json">. Rows of an import report are
 * coloured by their fate (imported / correct but not imported / rejected). */
(function () {
  "use strict";
  if (!window.landsvcMap) return;
  var colours = { imported: "#1a7f37", held: "#9a6700", rejected: "#cf222e" };
  var states = { imported: "已导入", held: "正确但未导入", rejected: "有误" };

  function style(f) {
    var c = colours[f.properties && f.properties.state] || "#0969da";
    return { color: c, weight: 2, fillColor: c, fillOpacity: 0.35 };
  }

  function text(f) {
    var p = f.properties || {};
    if (p.index !== undefined) {
      return "第 " + p.index + " 行" + (p.code ? "（" + p.code + "）" : "") + "：" +
        (states[p.state] || p.state) + (p.reason ? "\n" + p.reason : "");
    }
    return p.label || "";
  }

  document.querySelectorAll("div.map[data-geojson]").forEach(function (el) {
    var source = document.getElementById(el.getAttribute("data-geojson"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var map = window.landsvcMap(el.id, {});
    var empty = !data || (data.type === "FeatureCollection" && !data.features.length) ||
      (data.type === "Feature" && !data.geometry);
    if (empty) return;
    var layer = window.landsvcGeoJSON(data, style, text).addTo(map);
    if (data.type === "FeatureCollection") {
      /* Parcels are small against a province: each row also gets a dot, seen at any zoom. */
      layer.eachLayer(function (shape) {
        if (!shape.getBounds) return;
        var f = shape.feature, dot = L.circleMarker(shape.getBounds().getCenter(),
          { radius: 6, weight: 2, color: style(f).color, fillColor: style(f).color, fillOpacity: 0.8 });
        var el = document.createElement("div");
        el.textContent = text(f);
        el.style.whiteSpace = "pre-line";
        dot.bindPopup(el).addTo(map);
      });
    }
    var b = layer.getBounds();
    if (b.isValid()) map.fitBounds(b, { maxZoom: 16, padding: [20, 20] });
  });

  /* <div class="map" data-pick="LON_ID LAT_ID">: a click fills the longitude and latitude. */
  document.querySelectorAll("div.map[data-pick]").forEach(function (el) {
    var ids = el.getAttribute("data-pick").split(" ");
    var lon = document.getElementById(ids[0]), lat = document.getElementById(ids[1]);
    if (!lon || !lat) return;
    var map = window.landsvcMap(el.id, {});
    var marker = null;
    function place(latlng) {
      if (marker) marker.setLatLng(latlng);
      else marker = L.circleMarker(latlng, { radius: 7, color: "#0969da" }).addTo(map);
    }
    if (lon.value && lat.value && !isNaN(+lon.value) && !isNaN(+lat.value)) {
      place([+lat.value, +lon.value]);
      map.setView([+lat.value, +lon.value], 14);
    }
    map.on("click", function (e) {
      lon.value = e.latlng.lng.toFixed(6);
      lat.value = e.latlng.lat.toFixed(6);
      place(e.latlng);
    });
  });
})();
