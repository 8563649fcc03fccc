/* The public portal's maps: every element with data-layers="<id of a JSON script>" gets a
 * Leaflet map of those layers ([{kind, data: FeatureCollection}]), fitted to them. Popups
 * are text (landsvcGeoJSON), never HTML. */
(function () {
  "use strict";
  var STYLES = {
    park: { color: "#0b5cad", weight: 2, dashArray: "6 4", fillOpacity: 0.08 },
    offering: { color: "#bc4c00", weight: 2, fillColor: "#fb8f44", fillOpacity: 0.45 },
    listing: { color: "#116329", weight: 2, fillColor: "#4ac26b", fillOpacity: 0.7 }
  };

  function draw(el) {
    var source = document.getElementById(el.getAttribute("data-layers"));
    if (!source || !window.L || !window.landsvcMap) return;
    var layers = JSON.parse(source.textContent).map(function (layer) {
      var style = STYLES[layer.kind] || {};
      var drawn = landsvcGeoJSON(layer.data, function () { return style; },
                                 function (f) { return f.properties.popup; });
      if (drawn.setStyle) drawn.setStyle(style);
      return drawn;
    });
    var group = L.featureGroup(layers);
    var bounds = group.getLayers().some(function (l) { return l.getLayers().length; })
      ? group.getBounds() : null;
    var map = landsvcMap(el.id, bounds && bounds.isValid() ? { bounds: bounds } : {});
    group.addTo(map);
    el.setAttribute("data-ready", "true");
  }

  function start() {
    document.querySelectorAll("[data-layers]").forEach(draw);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
