/* The enterprise demand pages' maps.
 *
 * /enterprise/demands/new (#draw-map): draw the demand's area with Leaflet-Geoman (one
 * polygon; its GeoJSON geometry goes into the hidden field "within"), or pick the centre
 * point of "near" by clicking. A form sent back with errors redraws the polygon kept there.
 *
 * /enterprise/demands/{id} (#match-map): the demand's area (polygon, or point and radius)
 * and the matched offerings and listings, numbered by rank. Popups are text, never HTML. */
(function () {
  "use strict";

  function byId(id) { return document.getElementById(id); }
  function readJSON(id) {
    var el = byId(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  var PARK_STYLE = { color: "#57606a", weight: 1.5, fillColor: "#57606a", fillOpacity: 0.08 };

  /* The parks' outlines, named in a tooltip (text); under everything drawn, not clickable
   * while drawing (pmIgnore: Geoman neither edits nor snaps to them). */
  function parksLayer(parks) {
    return L.geoJSON({ type: "FeatureCollection", features: parks || [] }, {
      style: PARK_STYLE, interactive: true, pmIgnore: true,
      onEachFeature: function (f, layer) {
        var name = document.createElement("span");
        name.textContent = f.properties.name;
        layer.bindTooltip(name, { sticky: true });
      }
    });
  }

  var DEMAND_STYLE = { color: "#0b5cad", weight: 2, fillColor: "#0b5cad", fillOpacity: 0.12,
                       dashArray: "6 4" };

  // -- drawing ----------------------------------------------------------------------------
  function setupDraw() {
    var holder = byId("draw-map");
    if (!holder) return;
    var config = readJSON("draw-config") || {};
    var map = window.landsvcMap("draw-map", { bounds: config.bounds });
    window.landsvcDemandMap = map;
    parksLayer(config.parks).addTo(map);
    var field = byId("f-within");
    var status = byId("draw-status");
    var lonField = byId("f-near_lon"), latField = byId("f-near_lat"),
        radiusField = byId("f-near_radius_km");
    var drawn = null, nearLayer = null, picking = false;

    if (map.pm.setLang) map.pm.setLang("zh");
    map.pm.addControls({
      position: "topleft", drawMarker: false, drawCircleMarker: false, drawPolyline: false,
      drawCircle: false, drawText: false, drawRectangle: true, drawPolygon: true,
      cutPolygon: false, rotateMode: false, editMode: true, dragMode: true, removalMode: true
    });
    map.pm.setGlobalOptions({ allowSelfIntersection: false, templineStyle: DEMAND_STYLE,
                              pathOptions: DEMAND_STYLE });

    function say(text) { if (status) status.textContent = text; }

    function store() {
      if (!drawn) { field.value = ""; return; }
      var geometry = drawn.toGeoJSON().geometry;
      field.value = JSON.stringify(geometry);
      say("已画出区域（" + (geometry.coordinates[0].length - 1) + " 个拐点）");
    }

    function adopt(layer) {
      if (drawn && drawn !== layer) map.removeLayer(drawn);
      drawn = layer;
      layer.on("pm:edit pm:dragend pm:markerdragend pm:vertexadded pm:vertexremoved", store);
      layer.on("pm:remove", function () { drawn = null; store(); say("已清除区域"); });
      store();
    }

    map.on("pm:create", function (e) { adopt(e.layer); });
    map.on("pm:drawstart", function () { say("正在绘制：依次单击各拐点，单击第一个点完成"); });

    // A polygon kept from a form sent back with errors: drawn again, editable.
    if (field.value) {
      try {
        var geometry = JSON.parse(field.value);
        var kept = L.geoJSON(geometry, { style: DEMAND_STYLE }).getLayers()[0];
        if (kept) {
          kept.addTo(map);
          adopt(kept);
          map.fitBounds(kept.getBounds(), { maxZoom: 15 });
        }
      } catch (err) {
        field.value = "";
      }
    }

    byId("draw-start").addEventListener("click", function () {
      picking = false;
      map.pm.enableDraw("Polygon");
    });
    byId("draw-clear").addEventListener("click", function () {
      map.pm.disableDraw();
      if (drawn) map.removeLayer(drawn);
      drawn = null;
      store();
      say("已清除区域");
    });

    function showNear() {
      if (nearLayer) { map.removeLayer(nearLayer); nearLayer = null; }
      var lon = parseFloat(lonField.value), lat = parseFloat(latField.value),
          radius = parseFloat(radiusField.value);
      if (!isFinite(lon) || !isFinite(lat)) return;
      nearLayer = isFinite(radius) && radius > 0
        ? L.circle([lat, lon], { radius: radius * 1000, color: "#9a6700", weight: 2, fillOpacity: 0.08 })
        : L.circleMarker([lat, lon], { radius: 6, color: "#9a6700" });
      nearLayer.addTo(map);
    }
    [lonField, latField, radiusField].forEach(function (el) {
      if (el) el.addEventListener("change", showNear);
    });
    showNear();

    byId("near-pick").addEventListener("click", function () {
      map.pm.disableDraw();
      picking = true;
      say("请在地图上单击中心点");
    });
    map.on("click", function (e) {
      if (!picking) return;
      picking = false;
      lonField.value = e.latlng.lng.toFixed(6);
      latField.value = e.latlng.lat.toFixed(6);
      if (!radiusField.value) radiusField.value = "5";
      showNear();
      say("已选中心点 (" + lonField.value + ", " + latField.value + ")");
    });
  }

  // -- matches ------------------------------------------------------------------------------
  function text(parts) { return parts.filter(function (p) { return p; }).join("\n"); }

  function setupMatches() {
    if (!byId("match-map")) return;
    var data = readJSON("match-data");
    var map = window.landsvcMap("match-map", {});
    window.landsvcMatchMap = map;
    var bounds = L.latLngBounds([]);
    var demand = data.demand, p = demand.properties;
    parksLayer(data.parks).addTo(map);

    if (p.within) {
      var area = L.geoJSON(p.within, { style: DEMAND_STYLE }).addTo(map);
      area.bindTooltip("需求区域");
      bounds.extend(area.getBounds());
    }
    if (p.near) {
      var circle = L.circle([p.near.lat, p.near.lon], {
        radius: p.near.radius_km * 1000, color: "#9a6700", weight: 2, fillOpacity: 0.06,
        dashArray: "6 4" }).addTo(map);
      circle.bindTooltip("需求中心点周边 " + p.near.radius_km + " km");
      bounds.extend(circle.getBounds());
    }

    data.matches.forEach(function (m) {
      var f = m.feature, props = f.properties || {};
      if (!f.geometry) return;
      var colour = m.kind === "offering" ? "#1a7f37" : "#8250df";
      var title = m.kind === "offering"
        ? "供地 " + m.id + " · " + (props.supply_mode_label || "")
        : "房源 " + m.id + " · " + (props.building_name || "");
      var popup = text(["第 " + m.rank + " 名 · 得分 " + m.score.toFixed(2), title,
                        props.district_name, (props.area_m2 || 0).toLocaleString("zh-CN") + " ㎡"]);
      var shape = window.landsvcGeoJSON(f, { color: colour, weight: 2, fillOpacity: 0.3 },
                                        function () { return popup; }).addTo(map);
      var b = shape.getBounds();
      if (!b.isValid()) return;
      bounds.extend(b);
      var label = L.marker(b.getCenter(), {
        icon: L.divIcon({ className: "match-rank " + m.kind, html: String(m.rank),
                          iconSize: [24, 24], iconAnchor: [12, 12] }),
        title: title, keyboard: true, riseOnHover: true,
        zIndexOffset: 1000 - m.rank
      }).addTo(map);
      var el = document.createElement("div");
      el.textContent = popup;
      el.style.whiteSpace = "pre-line";
      label.bindPopup(el);
    });

    if (bounds.isValid()) map.fitBounds(bounds.pad(0.1), { maxZoom: 16 });
    else map.setView([23.1, 113.3], 7);
  }

  function start() { setupDraw(); setupMatches(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
