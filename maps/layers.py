"""Pieces shared by the map pages: frames from GeoJSON, a fast GeoJSON layer, the district
base layer, panels and page furniture."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.map import Layer
from folium.template import Template

Features = Sequence[Mapping[str, Any]] | gpd.GeoDataFrame
"""GeoJSON Feature dicts (as the services return them) or a GeoDataFrame."""

DISTRICT_TOLERANCE = 0.001
"""Simplification of district borders for display, in degrees (about 100 m)."""

PAGE_CSS = """
<style>
  .leaflet-container { background: #dde1e6; }
  .leaflet-container .lsv-panel, .leaflet-container .leaflet-control-layers,
  .leaflet-container .leaflet-popup-content, .leaflet-container .leaflet-tooltip {
      font: 13px/1.5 "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC",
      "Noto Sans CJK SC", sans-serif; }
  .leaflet-container .lsv-panel { background: rgba(255, 255, 255, 0.95); padding: 8px 12px;
      border-radius: 6px; box-shadow: 0 1px 5px rgba(0, 0, 0, 0.3); color: #1f2933;
      max-width: 380px; }
  .leaflet-container .lsv-legend { max-width: 210px; }
  .lsv-panel h1 { font-size: 17px; margin: 0 0 2px; font-weight: 600; }
  .lsv-panel h2 { font-size: 13px; margin: 0 0 4px; font-weight: 600; }
  .lsv-panel .lsv-count { font-size: 15px; font-weight: 600; color: #0b4f8a; }
  .lsv-panel .lsv-muted { color: #52606d; font-size: 12px; }
  .lsv-legend-row { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
  .lsv-legend-row .lsv-n { margin-left: auto; padding-left: 12px; color: #52606d; }
  .lsv-swatch { display: inline-block; width: 14px; height: 14px; border-radius: 2px;
      border: 2px solid; box-sizing: border-box; }
  .lsv-line { display: inline-block; width: 14px; height: 0; border-top: 1px solid #7b8794; }
  .lsv-line.lsv-city { border-top: 2px solid #3e4c59; }
  .leaflet-container path.leaflet-interactive:focus { outline: none; }
  .lsv-table { border-collapse: collapse; }
  .lsv-table th { text-align: right; padding: 1px 8px 1px 0; color: #52606d;
      font-weight: normal; white-space: nowrap; vertical-align: top; }
  .lsv-table td { padding: 1px 0; }
  .lsv-assets-missing { display: none; position: absolute; z-index: 2000; top: 40%; left: 10%;
      right: 10%; padding: 16px; background: #fff4e5; border: 2px solid #c05621;
      font: 15px/1.6 sans-serif; }
</style>
"""

MISSING_ASSETS_HTML = """
<div class="lsv-assets-missing" id="lsv-assets-missing">
  地图脚本（Leaflet）未能从本站 {assets_url}/ 加载，地图无法显示。请运维人员在服务器上运行
  <code>scripts/assets</code> 后刷新本页。
</div>
<script>
  document.addEventListener("DOMContentLoaded", function () {{
    if (typeof L === "undefined") {{
      document.getElementById("lsv-assets-missing").style.display = "block";
    }}
  }});
</script>
"""


# -- frames ---------------------------------------------------------------------------------
def _shape(geometry: Mapping[str, Any] | None) -> shapely.Geometry | None:
    # shapely.geometry.shape walks coordinates in Python; polygons via numpy are ~5x faster.
    if not geometry:
        return None
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        return shapely.Polygon(np.asarray(coords[0]), [np.asarray(h) for h in coords[1:]])
    if kind == "MultiPolygon":
        return shapely.MultiPolygon([
            shapely.Polygon(np.asarray(p[0]), [np.asarray(h) for h in p[1:]]) for p in coords
        ])
    return shapely.geometry.shape(geometry)


def as_frame(features: Features, columns: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """A GeoDataFrame in EPSG:4326 from GeoJSON Feature dicts or a GeoDataFrame.

    Parameters
    ----------
    features : sequence of dict or GeoDataFrame
        GeoJSON Features in lon/lat, or a GeoDataFrame (reprojected to EPSG:4326 if it has
        another CRS).
    columns : sequence of str
        Columns the result must have; absent ones are filled with ``None``.

    Returns
    -------
    GeoDataFrame
        One row per feature in the given order, indexed from 0.
    """
    if isinstance(features, gpd.GeoDataFrame):
        frame = features.to_crs(4326) if features.crs else features.set_crs(4326)
        frame = frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame
    else:
        props = pd.DataFrame.from_records([dict(f.get("properties") or {}) for f in features],
                                          index=pd.RangeIndex(len(features)))
        geoms = np.array([_shape(f.get("geometry")) for f in features], dtype=object)
        frame = gpd.GeoDataFrame(props, geometry=gpd.GeoSeries(geoms, crs=4326))
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    return frame.reset_index(drop=True)


def round_coordinates(geoms: np.ndarray, decimals: int) -> np.ndarray:
    """Geometries with coordinates rounded to ``decimals`` places, for smaller pages.

    Parameters
    ----------
    geoms : array of shapely geometries
    decimals : int
        In degrees: 6 is about 0.1 m, 4 about 11 m.

    Returns
    -------
    array of shapely geometries
    """
    return shapely.transform(geoms, lambda coords: np.round(coords, decimals))


def bounds_of(geoms: np.ndarray) -> tuple[float, float, float, float] | None:
    """``(minlon, minlat, maxlon, maxlat)`` of the non-empty geometries, or ``None``."""
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~shapely.is_missing(geoms)]
    geoms = geoms[~shapely.is_empty(geoms)]
    if not len(geoms):
        return None
    return tuple(float(v) for v in shapely.total_bounds(geoms))


def escape(value: Any, missing: str = "—") -> str:
    """Text safe to place in HTML; ``missing`` for ``None``, NaN and the empty string."""
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return missing
    return html.escape(str(value))


def script_json(value: Any) -> str:
    """JSON text safe inside an HTML ``<script>``, with Chinese left readable.

    Parameters
    ----------
    value : Any
        JSON-serialisable.

    Returns
    -------
    str
        Compact JSON with ``<``, ``>`` and ``&`` written as ``\\u003c`` … so that no value
        (a parcel name of ``</script>``) can end the script element.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _script_safe(text)


def _script_safe(text: str) -> str:
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def feature_collection_json(geoms: np.ndarray, properties: Sequence[Mapping[str, Any]]) -> str:
    """A GeoJSON FeatureCollection as text that is safe inside an HTML ``<script>``.

    Parameters
    ----------
    geoms : array of shapely geometries
    properties : sequence of dict
        One JSON-serialisable dict per geometry.

    Returns
    -------
    str
        Compact, as :func:`script_json` writes it.
    """
    return _collection_json(shapely.to_geojson(geoms), properties)


def _collection_json(texts: Sequence[str], properties: Sequence[Mapping[str, Any]]) -> str:
    features = ",".join(
        '{"type":"Feature","geometry":' + geometry + ',"properties":'
        + json.dumps(props, ensure_ascii=False, separators=(",", ":")) + "}"
        for geometry, props in zip(texts, properties, strict=True)
    )
    return _script_safe('{"type":"FeatureCollection","features":[' + features + "]}")


# -- layers ---------------------------------------------------------------------------------
class _Script(Element):
    """Ready-made script text. (folium re-parses every rendered layer as a template, which
    takes seconds for a few megabytes of GeoJSON; this element passes its text through.)"""

    _template = Template("{{ this.text }}")

    def __init__(self, text: str):
        super().__init__()
        self.text = text


class GeoJsonLayer(Layer):
    """A GeoJSON overlay styled by one property, with tooltip, popup and hover highlight.

    Tooltip and popup values are set as text (never as HTML), so names from uploaded files
    cannot inject markup.

    Parameters
    ----------
    data : str
        A FeatureCollection from :func:`feature_collection_json`.
    name : str
        The layer's name in the layer control.
    style : dict
        Leaflet path options for every feature (``color``, ``weight``, ``fillColor`` …).
    style_by : tuple of (str, dict), optional
        ``(property, {value: options})``: options merged over ``style`` per feature.
    tooltip : list of (str, str or None), optional
        ``(property, label)`` rows shown on hover; with no labels at all, the values are
        joined on one line.
    popup : list of (str, str), optional
        ``(property, label)`` rows of a table shown on click.
    highlight : dict, optional
        Path options while the pointer is over a feature.
    interactive : bool
        ``False`` for a purely decorative layer (no hover, no clicks).
    control, show : bool
        As for :class:`folium.map.Layer`.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON(null, {
            interactive: {{ this.interactive|tojson }},
            style: function (feature) {
                var by = {{ this.style_values|tojson }};
                var key = feature.properties[{{ this.style_property|tojson }}];
                return Object.assign({}, {{ this.style|tojson }}, by[key] || {});
            },
            onEachFeature: function (feature, layer) {
                {%- if this.tooltip %}
                layer.bindTooltip(function () {
                    return landsvcDetails(feature.properties, {{ this.tooltip_json }});
                }, {sticky: true});
                {%- endif %}
                {%- if this.popup %}
                layer.bindPopup(function () {
                    return landsvcDetails(feature.properties, {{ this.popup_json }});
                }, {maxWidth: 420});
                {%- endif %}
                {%- if this.highlight %}
                layer.on({
                    mouseover: function (e) {
                        e.target.setStyle({{ this.highlight|tojson }});
                        {%- if this.bring_to_front %} e.target.bringToFront();{% endif %}
                    },
                    mouseout: function (e) { {{ this.get_name() }}.resetStyle(e.target); }
                });
                {%- endif %}
            }
        });
        {{ this.get_name() }}.addData({{ this.data }});
        {%- if this.show %}
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {%- endif %}
        {% endmacro %}
    """)

    def __init__(self, data: str, *, name: str, style: Mapping[str, Any],
                 style_by: tuple[str, Mapping[str, Mapping[str, Any]]] | None = None,
                 tooltip: Sequence[tuple[str, str | None]] | None = None,
                 popup: Sequence[tuple[str, str]] | None = None,
                 highlight: Mapping[str, Any] | None = None, bring_to_front: bool = False,
                 interactive: bool = True, control: bool = True, show: bool = True):
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "GeoJsonLayer"
        self.data = data
        self.style = dict(style)
        self.style_property, self.style_values = style_by or ("", {})
        self.tooltip = [list(row) for row in tooltip or []]
        self.popup = [list(row) for row in popup or []]
        self.tooltip_json = script_json(self.tooltip)
        self.popup_json = script_json(self.popup)
        self.highlight = dict(highlight) if highlight else None
        self.bring_to_front = bring_to_front
        self.interactive = interactive

    def render(self, **kwargs):
        figure = self.get_root()
        figure.header.add_child(Element(_DETAILS_JS), name="landsvc_details_js")
        script = self._template.module.__dict__["script"]
        figure.script.add_child(_Script(script(self, kwargs)), name=self.get_name())


_DETAILS_JS = """
<script>
  // Tooltip/popup content from feature properties, as text nodes (never HTML).
  function landsvcDetails(props, rows) {
    var labelled = rows.some(function (r) { return r[1]; });
    if (!labelled) {
      var span = document.createElement("span");
      span.textContent = rows.map(function (r) { return props[r[0]]; })
        .filter(function (v) { return v !== null && v !== undefined && v !== ""; }).join(" · ");
      return span;
    }
    var table = document.createElement("table");
    table.className = "lsv-table";
    rows.forEach(function (r) {
      var tr = table.insertRow(), th = document.createElement("th"), td = tr.insertCell(-1);
      th.textContent = r[1];
      tr.insertBefore(th, td);
      var v = props[r[0]];
      td.textContent = (v === null || v === undefined || v === "") ? "—" : v;
    });
    return table;
  }
</script>
"""


@dataclass(frozen=True)
class DistrictBase:
    """The district base layer's geometry, simplified once: it is the same on every page.

    Make it with :func:`district_base`; the web routes keep one until the districts change.
    """

    frame: gpd.GeoDataFrame
    """``adcode``, ``name``, ``city_adcode``, ``city_name`` and the simplified geometry."""
    geometry_json: Sequence[str]
    """Each district's simplified geometry as GeoJSON text."""
    cities_json: str
    """The city outlines as a FeatureCollection (script-safe text)."""


def district_base(districts: Features, tolerance: float = DISTRICT_TOLERANCE) -> DistrictBase:
    """Simplify the districts together and outline their cities.

    Parameters
    ----------
    districts : sequence of dict or GeoDataFrame
        Features with properties ``adcode``, ``name``, ``city_adcode``, ``city_name`` that
        tile the province, as ``landsvc.districts.service.list_districts`` gives them.
    tolerance : float
        Simplification in degrees. The districts are simplified together
        (``shapely.coverage_simplify``) so that neighbours keep one shared border.

    Returns
    -------
    DistrictBase
    """
    frame = as_frame(districts, ("adcode", "name", "city_adcode", "city_name"))
    if frame.empty:
        return DistrictBase(frame, [], _collection_json([], []))
    geoms = shapely.coverage_simplify(frame.geometry.values, tolerance)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=frame.crs))
    cities = frame.groupby(frame.city_adcode.astype(str), sort=True).indices
    outlines = [shapely.boundary(shapely.coverage_union_all(geoms[rows]))
                for rows in cities.values()]
    cities_json = feature_collection_json(
        round_coordinates(np.array(outlines, dtype=object), 4),
        [{"city_adcode": code} for code in cities])
    return DistrictBase(frame, list(shapely.to_geojson(round_coordinates(geoms, 4))),
                        cities_json)


def district_layers(base: DistrictBase, *, highlight: str | None = None) -> list[GeoJsonLayer]:
    """County-level districts as outlines with a tooltip, and their cities' outlines.

    Parameters
    ----------
    base : DistrictBase
        The simplified districts (:func:`district_base`).
    highlight : str, optional
        An adcode prefix (``44``, ``4403``, ``440304``) whose districts are drawn stronger.

    Returns
    -------
    list of GeoJsonLayer
        The district layer (hover shows 区县, 所属地级市, 行政区划代码) and a non-interactive
        layer of city outlines; empty without districts.
    """
    frame = base.frame
    if frame.empty:
        return []
    adcodes = frame.adcode.astype(str)
    focus = adcodes.str.startswith(highlight) if highlight else pd.Series(False, frame.index)
    properties = [
        {"name": row.name, "city_name": row.city_name, "adcode": code,
         "focus": "yes" if hit else "no"}
        for row, code, hit in zip(frame.itertuples(), adcodes, focus, strict=True)
    ]
    district_layer = GeoJsonLayer(
        _collection_json(base.geometry_json, properties),
        name="区县界线",
        style={"color": "#7b8794", "weight": 0.8, "fillColor": "#fbfaf7", "fillOpacity": 1},
        style_by=("focus", {"yes": {"color": "#102a43", "weight": 2.4,
                                    "fillColor": "#fffbea"}}),
        tooltip=[("name", "区县"), ("city_name", "所属地级市"), ("adcode", "行政区划代码")],
        highlight={"color": "#0b4f8a", "weight": 2.5},
    )
    city_layer = GeoJsonLayer(
        base.cities_json,
        name="地级市界线",
        style={"color": "#3e4c59", "weight": 1.8},
        interactive=False,
    )
    return [district_layer, city_layer]


# -- panels and page ------------------------------------------------------------------------
class Panel(MacroElement):
    """A Leaflet control holding a block of HTML (title, legend …).

    Parameters
    ----------
    html : str
        The content, inserted as HTML: escape anything that came from users.
    position : str
        ``topleft``, ``topright``, ``bottomleft`` or ``bottomright``.
    css_class : str
        Extra class of the control's ``div``.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function () {
            var div = L.DomUtil.create("div", {{ this.css_class|tojson }});
            div.innerHTML = {{ this.html_json }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, html: str, position: str = "topright", css_class: str = ""):
        super().__init__()
        self._name = "Panel"
        self.html = html
        self.html_json = script_json(html)
        self.position = position
        self.css_class = f"lsv-panel {css_class}".strip()


class MetricScale(MacroElement):
    """A scale bar in metres and kilometres only."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false, position: "bottomleft"})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)


def fit(m: folium.Map, bounds: tuple[float, float, float, float], max_zoom: int = 15) -> None:
    """Fit the view to a lon/lat box, never closer than ``max_zoom``.

    Parameters
    ----------
    m : folium.Map
    bounds : tuple of float
        ``(minlon, minlat, maxlon, maxlat)``.
    max_zoom : int
        A single small parcel would otherwise fill the screen at Leaflet's maximum zoom.
    """
    minx, miny, maxx, maxy = bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]], padding=(24, 24), max_zoom=max_zoom)


def page(m: folium.Map, *, title: str, assets_url: str) -> None:
    """Give the page its title, stylesheet and the notice shown when Leaflet did not load.

    Parameters
    ----------
    m : folium.Map
    title : str
        The browser tab's title (plain text).
    assets_url : str
        Where the page loads Leaflet from; named in the notice.
    """
    figure = m.get_root()
    figure.title = html.escape(title)
    # An empty inline icon: browsers would otherwise ask for /favicon.ico.
    figure.header.add_child(Element('<link rel="icon" href="data:,">'), name="landsvc_icon")
    figure.header.add_child(Element(PAGE_CSS), name="landsvc_css")
    figure.html.add_child(
        Element(MISSING_ASSETS_HTML.format(assets_url=html.escape(assets_url))),
        name="landsvc_assets_missing",
    )
