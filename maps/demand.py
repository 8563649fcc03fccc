"""The map of one demand (用地需求): its area of interest and its best matches, ranked."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import folium
import shapely
from branca.element import Element
from folium.map import Layer
from folium.template import Template

from landsvc.geo import GUANGDONG_BOUNDS
from maps.assets import ASSETS_URL, OfflineMap
from maps.common import MapFacts, finish_page
from maps.layers import (
    _DETAILS_JS,
    DistrictBase,
    GeoJsonLayer,
    MetricScale,
    Panel,
    _Script,
    bounds_of,
    district_layers,
    escape,
    feature_collection_json,
    fit,
    page,
    script_json,
)

PAGE_TITLE = "用地需求匹配地图 · 广东省专精特新企业用地保障平台"
AREA_COLOUR = "#0b4f8a"
TOP_COLOUR = "#c2410c"
"""The first three matches."""
REST_COLOUR = "#2563eb"
TOP = 3

DEMAND_CSS = """
<style>
  .lsv-rank { background: #2563eb; color: #fff; border: 2px solid #fff; border-radius: 50%;
      width: 24px !important; height: 24px !important; line-height: 20px; text-align: center;
      font: 600 12px/20px sans-serif; box-shadow: 0 1px 3px rgba(0,0,0,.4); }
  .lsv-rank.lsv-top { background: #c2410c; }
  .lsv-matches td, .lsv-matches th { padding: 1px 6px 1px 0; text-align: left;
      white-space: nowrap; }
  .lsv-matches .lsv-score { text-align: right; font-variant-numeric: tabular-nums; }
</style>
"""


class MatchesLayer(Layer):
    """Ranked matches: polygons (offerings) or points (listings) coloured by rank, a numbered
    label on each, and a popup table (values set as text)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function () {
            var rows = {{ this.popup_json }};
            var data = {{ this.data }};
            data.features.forEach(function (f) {
                var top = f.properties.rank <= {{ this.top }};
                var colour = top ? {{ this.top_colour|tojson }} : {{ this.rest_colour|tojson }};
                var shape = L.geoJSON(f, {
                    style: {color: colour, weight: 3, fillColor: colour, fillOpacity: 0.35},
                    pointToLayer: function (p, latlng) {
                        return L.circleMarker(latlng, {radius: 9});
                    }
                });
                shape.setStyle({color: colour, weight: 3, fillColor: colour, fillOpacity: 0.35});
                shape.bindPopup(function () { return landsvcDetails(f.properties, rows); },
                                {maxWidth: 420});
                shape.bindTooltip(f.properties.label, {sticky: true});
                shape.addTo({{ this.get_name() }});
                var label = L.marker([f.properties.label_lat, f.properties.label_lon], {
                    icon: L.divIcon({className: "lsv-rank" + (top ? " lsv-top" : ""),
                                     html: String(f.properties.rank), iconSize: [24, 24]}),
                    title: f.properties.label, keyboard: false
                });
                label.on("click", function () { shape.openPopup(label.getLatLng()); });
                label.addTo({{ this.get_name() }});
            });
        })();
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, data: str, popup: Sequence[tuple[str, str]], name: str):
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "MatchesLayer"
        self.data = data
        self.popup_json = script_json([list(r) for r in popup])
        self.top, self.top_colour, self.rest_colour = TOP, TOP_COLOUR, REST_COLOUR

    def render(self, **kwargs):
        figure = self.get_root()
        figure.header.add_child(Element(_DETAILS_JS), name="landsvc_details_js")
        script = self._template.module.__dict__["script"]
        figure.script.add_child(_Script(script(self, kwargs)), name=self.get_name())


_POPUP = [("label", "排名"), ("title", "名称"), ("mode", "方式"), ("district", "区县"),
          ("area", "面积"), ("price", "价格"), ("reasons", "得分构成")]


def demand_map(
    demand: Mapping[str, Any],
    matches: Sequence[Mapping[str, Any]],
    districts: DistrictBase,
    *,
    facts: MapFacts = MapFacts(),
    note: str | None = None,
    assets_url: str = ASSETS_URL,
) -> folium.Map:
    """A page of one demand's area of interest and its ranked matches.

    Parameters
    ----------
    demand : dict
        The demand Feature as ``landsvc.demands.service.get_demand`` gives it (properties
        ``near`` {lon, lat, radius_km}, ``within`` (GeoJSON), ``districts``, ``kinds``,
        ``area_min_m2``, ``area_max_m2``, ``status_label`` …).
    matches : sequence of dict
        ``items`` of ``landsvc.matching.service.match_demand``, best first: ``kind``
        (``offering``/``listing``), ``id``, ``score``, ``reasons``, ``feature``.
    districts : DistrictBase
        The district base layer.
    facts : MapFacts
        Update date, 审图号, boundary source, basemap.
    note : str, optional
        Why there are no matches (e.g. the demand is no longer open), shown in the header.
    assets_url : str

    Returns
    -------
    folium.Map
    """
    props = demand.get("properties") or {}
    m = OfflineMap(assets_url=assets_url, tiles=None, zoom_control="bottomleft",
                   location=None, zoom_snap=0.25)
    page(m, title=PAGE_TITLE, assets_url=assets_url)
    m.get_root().header.add_child(Element(DEMAND_CSS), name="landsvc_demand_css")
    finish_page(m, facts)
    MetricScale().add_to(m)
    wanted = list(props.get("districts") or [])
    for layer in district_layers(districts, highlight=wanted[0] if len(wanted) == 1 else None):
        layer.add_to(m)

    area_bounds = _area_layers(m, props)
    geoms, rows = _match_rows(matches)
    if rows:
        MatchesLayer(feature_collection_json(geoms, rows), _POPUP,
                     name="匹配结果（按排名）").add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)

    Panel(_header(demand, rows, note), position="topleft", css_class="lsv-header").add_to(m)
    Panel(_legend(), position="bottomright", css_class="lsv-legend").add_to(m)
    bounds = [b for b in (area_bounds, bounds_of(geoms) if rows else None) if b]
    if bounds:
        fit(m, (min(b[0] for b in bounds), min(b[1] for b in bounds),
                max(b[2] for b in bounds), max(b[3] for b in bounds)))
    else:
        fit(m, GUANGDONG_BOUNDS)
    return m


def latest_update(demand: Mapping[str, Any], matches: Sequence[Mapping[str, Any]]
                  ) -> datetime | None:
    """The latest ``updated_at`` of the demand and its matched offerings or listings."""
    stamps = [(demand.get("properties") or {}).get("updated_at")]
    stamps += [(item.get("feature") or {}).get("properties", {}).get("updated_at")
               for item in matches]
    found = [datetime.fromisoformat(s) for s in stamps if s]
    return max(found) if found else None


def _area_layers(m: folium.Map, props: Mapping[str, Any]):
    within, near = props.get("within"), props.get("near")
    bounds = None
    if within:
        geom = shapely.geometry.shape(within)
        GeoJsonLayer(feature_collection_json([geom], [{"name": "需求范围（多边形）"}]),
                     name="需求范围",
                     style={"color": AREA_COLOUR, "weight": 3, "dashArray": "8 6",
                            "fillColor": AREA_COLOUR, "fillOpacity": 0.08},
                     tooltip=[("name", None)]).add_to(m)
        bounds = shapely.bounds(geom).tolist()
    if near:
        radius_m = float(near["radius_km"]) * 1000
        folium.Circle([near["lat"], near["lon"]], radius=radius_m, color=AREA_COLOUR,
                      weight=3, dash_array="8 6", fill=True, fill_opacity=0.06,
                      tooltip=f"需求范围：半径 {float(near['radius_km']):g} 公里").add_to(m)
        folium.CircleMarker([near["lat"], near["lon"]], radius=5, color=AREA_COLOUR,
                            fill=True, fill_opacity=1, tooltip="需求中心点").add_to(m)
        # A degree of latitude is ~111.32 km; of longitude that times cos(latitude).
        dlat = radius_m / 111_320
        dlon = dlat / math.cos(math.radians(near["lat"]))
        box = [near["lon"] - dlon, near["lat"] - dlat, near["lon"] + dlon, near["lat"] + dlat]
        bounds = box if bounds is None else [min(bounds[0], box[0]), min(bounds[1], box[1]),
                                             max(bounds[2], box[2]), max(bounds[3], box[3])]
    return tuple(bounds) if bounds else None


def _number(value, unit: str, digits: int = 2) -> str | None:
    return None if value is None else f"{float(value):,.{digits}f} {unit}"


def _match_rows(matches):
    geoms, rows = [], []
    for rank, item in enumerate(matches, start=1):
        feature = item.get("feature") or {}
        p = feature.get("properties") or {}
        geom = shapely.geometry.shape(feature["geometry"])
        point = geom.representative_point()
        offering = item.get("kind") == "offering"
        score = float(item["score"])
        title = (p.get("parcel_code") if offering
                 else p.get("building_name")) or f"#{item['id']}"
        price = (_number(p.get("start_price_wan"), "万元（起始价）")
                 or _number(p.get("annual_rent_yuan"), "元/年")) if offering else \
            _number(p.get("rent_yuan_per_m2_month"), "元/㎡·月")
        reasons = " · ".join(f"{r['criterion_label']} {float(r['contribution']):g}/"
                             f"{float(r['weight']):g}" for r in item.get("reasons") or [])
        geoms.append(geom)
        rows.append({
            "rank": rank, "score": score, "label": f"第 {rank} 名 · {score:.2f} 分",
            "title": title,
            "mode": p.get("supply_mode_label") if offering else p.get("kind_label"),
            "district": p.get("district_name"),
            "area": _number(p.get("area_m2"), "㎡"), "price": price, "reasons": reasons,
            "label_lon": round(point.x, 7), "label_lat": round(point.y, 7),
        })
    return geoms, rows


def _demand_summary(props: Mapping[str, Any]) -> list[str]:
    kinds = {"land": "用地", "premises": "厂房"}
    parts = ["、".join(kinds.get(k, k) for k in props.get("kinds") or [])]
    low, high = props.get("area_min_m2"), props.get("area_max_m2")
    if low is not None or high is not None:
        parts.append(f"面积 {escape(low, '—')} – {escape(high, '—')} ㎡")
    near = props.get("near")
    if near:
        parts.append(f"中心点 {near['lon']:.4f}, {near['lat']:.4f} 半径 {near['radius_km']:g} 公里")
    if props.get("within"):
        parts.append("指定范围（多边形）")
    if props.get("districts"):
        parts.append("意向区县 " + "、".join(escape(d) for d in props["districts"]))
    return [p for p in parts if p]


def _header(demand, rows, note) -> str:
    props = demand.get("properties") or {}
    lines = [f"<h1>用地需求 {escape(demand.get('id'))} · 匹配结果</h1>",
             f'<div class="lsv-muted">状态：{escape(props.get("status_label"))} · '
             + " · ".join(_demand_summary(props)) + "</div>"]
    if note:
        lines.append(f'<div class="lsv-muted">{escape(note)}</div>')
    if rows:
        lines.append(f'<div class="lsv-count">前 {len(rows)} 个匹配</div>')
        table = ['<table class="lsv-matches"><tr><th>排名</th><th>名称</th><th>方式</th>'
                 '<th class="lsv-score">匹配分</th></tr>']
        for r in rows:
            table.append(f"<tr><td>{r['rank']}</td><td>{escape(r['title'])}</td>"
                         f"<td>{escape(r['mode'])}</td>"
                         f'<td class="lsv-score">{r["score"]:.2f}</td></tr>')
        table.append("</table>")
        lines.append("".join(table))
    elif not note:
        lines.append('<div class="lsv-muted">暂无符合条件的供地或房源。</div>')
    lines.append('<div class="lsv-muted">匹配分满分 100；点击图上的编号或图形查看得分构成。</div>')
    return "\n".join(lines)


def _legend() -> str:
    return "\n".join([
        "<h2>图例</h2>",
        f'<div class="lsv-legend-row"><span class="lsv-swatch" style="border:2px dashed '
        f'{AREA_COLOUR}"></span>需求范围</div>',
        f'<div class="lsv-legend-row"><span class="lsv-swatch" style="background:{TOP_COLOUR}99;'
        f'border-color:{TOP_COLOUR}"></span>前 {TOP} 名匹配</div>',
        f'<div class="lsv-legend-row"><span class="lsv-swatch" style="background:{REST_COLOUR}99;'
        f'border-color:{REST_COLOUR}"></span>其他匹配</div>',
        '<div class="lsv-legend-row"><span class="lsv-line lsv-city"></span>地级市界线</div>',
        '<div class="lsv-legend-row"><span class="lsv-line"></span>区县界线</div>',
    ])
