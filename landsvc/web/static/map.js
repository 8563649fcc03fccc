/* landsvcMap(id, options): a Leaflet map for the portals, the same look as /maps/… pages.
 * The configured basemap (none / OpenStreetMap / 天地图) goes under; with none, the county
 * boundaries come from our own vector tiles (/tiles/districts/…), so the map never needs
 * the outside network. Options: center [lat, lon], zoom, bounds [[s, w], [n, e]]. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("map-config").textContent);

  window.landsvcMap = function (id, options) {
    options = options || {};
    var map = L.map(id, { zoomControl: true, attributionControl: true });
    map.attributionControl.setPrefix(false);
    (config.tiles || []).forEach(function (t) {
      L.tileLayer(t[0], { attribution: t[1], subdomains: t[2] || "abc", maxZoom: 18 }).addTo(map);
    });
    if (L.vectorGrid) {
      L.vectorGrid.protobuf("/tiles/districts/{z}/{x}/{y}.pbf", {
        interactive: false, maxNativeZoom: 14,
        vectorTileLayerStyles: { districts: { weight: 1, color: "#57606a", fill: true,
                                              fillColor: "#ffffff", fillOpacity: config.basemap === "none" ? 0.6 : 0 } }
      }).addTo(map);
    }
    map.attributionControl.addAttribution("审图号：" + config.review_number + " · 边界：" + config.boundary_source);
    if (options.bounds) map.fitBounds(options.bounds, { maxZoom: 15 });
    else map.setView(options.center || [23.1, 113.3], options.zoom || 7);
    return map;
  };

  /* A GeoJSON layer whose features' popups are the text (not HTML) of popupText(feature). */
  window.landsvcGeoJSON = function (data, style, popupText) {
    return L.geoJSON(data, {
      style: style,
      pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 7 }); },
      onEachFeature: function (f, layer) {
        if (!popupText) return;
        var el = document.createElement("div");
        el.textContent = popupText(f);
        el.style.whiteSpace = "pre-line";
        layer.bindPopup(el);
      }
    });
  };
})();
