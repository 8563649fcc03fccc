"""What every map page carries, and the vector-tile layer.

The furniture a public map in China needs — the date its data were last updated, the map
review number (审图号) and the source of its boundaries, an attribution without Leaflet's
flag — and the configurable basemap, in one call: :func:`finish_page`. Pages describe what
they need to show with a :class:`MapFacts`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import folium
from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template

from maps.layers import _DETAILS_JS, Panel, _Script, script_json

CHINA_TIME = ZoneInfo("Asia/Shanghai")

ATTRIBUTION_PREFIX = '<a href="https://leafletjs.com" title="Leaflet 地图库">Leaflet</a>'
"""Leaflet 1.9's default prefix carries a national flag; government pages carry none."""

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> 贡献者'
TIANDITU_TILES = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                  "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                  "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}")
TIANDITU_ATTRIBUTION = '© <a href="https://www.tianditu.gov.cn/">天地图</a>'

CREDITS_CSS = """
<style>
  .leaflet-container .lsv-credits { font-size: 12px; line-height: 1.5; padding: 4px 8px;
      max-width: 460px; color: #323f4b; }
  .lsv-credits b { font-weight: 600; }
</style>
"""


@dataclass(frozen=True)
class MapFacts:
    """What a page must state besides its data, from settings and from the data.

    Parameters
    ----------
    updated_at : datetime, optional
        The latest change of what the page shows (max ``updated_at``); None: no data.
    review_number : str
        审图号; empty is shown as 未配置.
    boundary_source : str
        Where the boundaries come from.
    basemap : str
        ``none``, ``osm`` or ``tianditu``.
    tianditu_key : str
        The 天地图 browser key; without one a ``tianditu`` basemap falls back to none.
    """

    updated_at: datetime | None = None
    review_number: str = ""
    boundary_source: str = ""
    basemap: str = "none"
    tianditu_key: str = ""

    @classmethod
    def from_settings(cls, settings: Any, updated_at: datetime | None) -> MapFacts:
        """The facts of a page from a :class:`landsvc.config.Settings` and its data's date."""
        return cls(updated_at=updated_at, review_number=settings.map_review_number,
                   boundary_source=settings.map_boundary_source,
                   basemap=settings.map_basemap, tianditu_key=settings.tianditu_key)


def updated_text(updated_at: datetime | None) -> str:
    """The update date as people in Guangdong read it (China time), or 暂无数据."""
    if updated_at is None:
        return "暂无数据"
    if updated_at.tzinfo is not None:
        updated_at = updated_at.astimezone(CHINA_TIME)
    return updated_at.strftime("%Y-%m-%d")


def credits_html(facts: MapFacts) -> str:
    """数据更新 · 审图号 · 边界来源, as escaped HTML lines."""
    return "\n".join([
        f"<div><b>数据更新：</b>{html.escape(updated_text(facts.updated_at))}</div>",
        f"<div><b>审图号：</b>{html.escape(facts.review_number or '未配置')}</div>",
        f"<div><b>边界来源：</b>{html.escape(facts.boundary_source or '未注明')}</div>",
    ])


class _AttributionPrefix(MacroElement):
    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.setPrefix({{ this.prefix|tojson }});
        {% endmacro %}
    """)

    def __init__(self, prefix: str):
        super().__init__()
        self._name = "AttributionPrefix"
        self.prefix = prefix


def add_basemap(m: folium.Map, facts: MapFacts) -> str:
    """Put the configured basemap under the data.

    Parameters
    ----------
    m : folium.Map
        Made with ``tiles=None``.
    facts : MapFacts

    Returns
    -------
    str
        The basemap in force: ``none`` also when ``tianditu`` has no key.
    """
    if facts.basemap == "osm":
        folium.TileLayer(OSM_TILES, attr=OSM_ATTRIBUTION, name="OpenStreetMap",
                         max_zoom=19, control=False).add_to(m)
        return "osm"
    if facts.basemap == "tianditu" and facts.tianditu_key:
        # Vector map and its Chinese annotation layer (vec_w, cva_w).
        for layer, name in (("vec", "天地图矢量"), ("cva", "天地图注记")):
            url = TIANDITU_TILES.replace("{layer}", layer).replace("{key}",
                                                                  facts.tianditu_key)
            folium.TileLayer(url, attr=TIANDITU_ATTRIBUTION, name=name, subdomains="01234567",
                             max_zoom=18, control=False).add_to(m)
        return "tianditu"
    return "none"


def finish_page(m: folium.Map, facts: MapFacts, position: str = "bottomleft") -> None:
    """Basemap, attribution prefix without the flag, and the credits panel (数据更新,
    审图号, 边界来源) that every page carries.

    Parameters
    ----------
    m : folium.Map
        Made with ``tiles=None`` (see :class:`maps.assets.OfflineMap`).
    facts : MapFacts
    position : str
        Where the credits panel sits.
    """
    add_basemap(m, facts)
    _AttributionPrefix(ATTRIBUTION_PREFIX).add_to(m)
    m.get_root().header.add_child(folium.Element(CREDITS_CSS), name="landsvc_credits_css")
    Panel(credits_html(facts), position=position, css_class="lsv-credits").add_to(m)


# -- vector tiles ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TileSource:
    """Where a vector-tile layer comes from.

    Parameters
    ----------
    url : str
        A ``{z}/{x}/{y}`` URL template on our own server (``/tiles/parcels/{z}/{x}/{y}.pbf``).
    layer : str
        The layer name inside the tiles.
    min_zoom : int
        Below this zoom the server sends empty tiles; the page asks for none.
    """

    url: str
    layer: str
    min_zoom: int = 0


TILE_PANE = "lsv-tiles"
"""The vector-tile layers' own pane: a grid layer in the overlay pane is painted under the
SVG of the GeoJSON layers there, whose paths would then take every click."""


class VectorTileLayer(Layer):
    """Mapbox vector tiles drawn by Leaflet.VectorGrid as SVG, styled by one property, with a
    popup table of properties on click (values set as text, never HTML).

    Parameters
    ----------
    source : TileSource
    name : str
        The layer's name in the layer control.
    style : dict
        Leaflet path options for every feature.
    style_by : tuple of (str, dict), optional
        ``(property, {value: options})`` merged over ``style``.
    popup : list of (str, str), optional
        ``(property, label)`` rows shown on click.
    max_native_zoom : int
        Deeper zooms stretch this level's tiles.
    feature_id : str, optional
        The property that identifies a feature; VectorGrid then keeps each tile's features
        (``layer._vectorTiles[key]._features``) for restyling and for tests to read.
    interactive, control, show : bool
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        if (!{{ this._parent.get_name() }}.getPane({{ this.pane|tojson }})) {
            // Above the GeoJSON overlays (400), below markers and popups.
            {{ this._parent.get_name() }}.createPane({{ this.pane|tojson }}).style.zIndex = 450;
        }
        var {{ this.get_name() }} = L.vectorGrid.protobuf({{ this.source.url|tojson }}, {
            rendererFactory: L.svg.tile,
            interactive: {{ this.interactive|tojson }},
            {%- if this.feature_id %}
            getFeatureId: function (f) { return f.properties[{{ this.feature_id|tojson }}]; },
            {%- endif %}
            minZoom: {{ this.source.min_zoom|tojson }},
            maxNativeZoom: {{ this.max_native_zoom|tojson }},
            pane: {{ this.pane|tojson }},
            vectorTileLayerStyles: {
                {{ this.source.layer|tojson }}: function (props) {
                    var by = {{ this.style_values|tojson }};
                    return Object.assign({}, {{ this.style|tojson }},
                                         by[props[{{ this.style_property|tojson }}]] || {});
                }
            }
        });
        {%- if this.popup %}
        {{ this.get_name() }}.on("click", function (e) {
            L.popup({maxWidth: 420}).setLatLng(e.latlng)
                .setContent(landsvcDetails(e.layer.properties, {{ this.popup_json }}))
                .openOn({{ this._parent.get_name() }});
        });
        {%- endif %}
        {%- if this.show %}
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {%- endif %}
        {% endmacro %}
    """)

    def __init__(self, source: TileSource, *, name: str, style: Mapping[str, Any],
                 style_by: tuple[str, Mapping[str, Mapping[str, Any]]] | None = None,
                 popup: Sequence[tuple[str, str]] | None = None, max_native_zoom: int = 18,
                 feature_id: str | None = "id", interactive: bool = True,
                 control: bool = True, show: bool = True):
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "VectorTileLayer"
        self.source = source
        self.style = dict(style)
        self.style_property, self.style_values = style_by or ("", {})
        self.popup = [list(row) for row in popup or []]
        self.popup_json = script_json(self.popup)
        self.max_native_zoom = max_native_zoom
        self.feature_id = feature_id
        self.pane = TILE_PANE
        self.interactive = interactive

    def render(self, **kwargs):
        figure = self.get_root()
        figure.header.add_child(folium.Element(_DETAILS_JS), name="landsvc_details_js")
        script = self._template.module.__dict__["script"]
        figure.script.add_child(_Script(script(self, kwargs)), name=self.get_name())
