"""The public rent-guide map: Guangdong's districts coloured by the factory rent guideline.

One choropleth layer per building type (单层 / 多层 / 高层), switched with a layer control;
the district geometry is carried once in the page and shared by the three layers, so the
page for all 124 districts stays well under 1.5 MB. Classes come from ``mapclassify``
(Fisher–Jenks natural breaks over every median on the page, so that one legend serves all
layers and colours compare across building types).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import mapclassify
import numpy as np
import shapely
from branca.element import Element, MacroElement
from folium.template import Template

from landsvc.geo import GUANGDONG_BOUNDS
from maps.assets import ASSETS_URL, OfflineMap
from maps.common import MapFacts, finish_page
from maps.layers import (
    DistrictBase,
    Features,
    GeoJsonLayer,
    MetricScale,
    Panel,
    _collection_json,
    as_frame,
    bounds_of,
    district_base,
    escape,
    fit,
    page,
    round_coordinates,
)

RENT_TOLERANCE = 0.002
"""District borders simplified for this page, in degrees (about 200 m): at province scale
the difference from 0.001 cannot be seen, and it halves the page."""

BUILDING_TYPES = {"single_storey": "单层", "multi_storey": "多层", "high_rise": "高层"}
"""Building type -> Chinese label, in layer order."""

SOURCE_LABELS = {
    "zone": "片区样本",
    "district": "本区县样本",
    "district_fallback": "片区样本不足，沿用区县数值",
    "city_fallback": "样本不足，沿用所属地级市数值",
}
"""The ``source`` of a guideline item -> the mark shown in the tooltip."""

PALETTE = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
"""Light to dark (ColorBrewer YlOrRd), lowest class first."""

NO_DATA = "暂无数据"
NO_DATA_COLOUR = "#d9d9d9"
UNIT = "元/㎡·月"
ZONE_TOLERANCE = 0.0002
"""Zones (片区) are a few hundred metres across: simplified by about 20 m."""
MAX_CLASSES = len(PALETTE)
MAX_FISHER_JENKS = 1000
"""Above this many medians (a bureau's zones) the classes are quantiles instead."""

PAGE_TITLE = "工业厂房租金指导价地图 · 广东省专精特新企业用地保障平台"
MAP_TITLE = "广东省工业厂房租金指导价"

_RENT_CSS = """
<style>
  .lsv-legend .lsv-swatch { border-color: #7b8794; border-width: 1px; }
  .lsv-legend { max-width: 240px; }
</style>
"""


def rent_guide_map(
    items: Sequence[Mapping[str, Any]],
    districts: Features | DistrictBase,
    *,
    period: str | None,
    version: int | None = None,
    published_at: dt.datetime | str | None = None,
    effective_date: dt.date | str | None = None,
    building_type: str | None = None,
    zones: Features | None = None,
    facts: MapFacts | None = None,
    assets_url: str = ASSETS_URL,
) -> folium.Map:
    """A choropleth page of rent guideline medians per district, one layer per building type.

    Parameters
    ----------
    items : sequence of dict
        Guideline items as ``landsvc.guidelines.service.items_in_force`` returns them
        (``zone``, ``district``, ``building_type``, ``median``, ``p25``, ``p75``,
        ``weighted_mean``, ``samples``, ``source``). Items of a zone (``zone`` set) are not
        drawn on the district map; a district without an item of a building type is shown
        as 暂无数据 in that layer.
    districts : DistrictBase, or sequence of dict or GeoDataFrame
        The districts (``adcode``, ``name``, ``city_adcode``, ``city_name``) as
        ``landsvc.districts.service.list_districts`` gives them, or a :class:`DistrictBase`
        made from them with :func:`rent_district_base` and kept between pages.
    period : str or None
        The guideline period (``2026``, ``2026H2``, ``2026Q3``), shown in the header and the
        tooltips; ``None`` when nothing is published.
    version, published_at, effective_date
        The published version in force: its number, publication time and effective date.
    building_type : str, optional
        The layer shown first (default ``single_storey``); the others are a click away.
    zones : sequence of dict or GeoDataFrame, optional
        Bureaus' guideline zones (片区) as ``landsvc.guidelines.service.list_zones`` gives
        them (Feature ``id``, properties ``name``, ``district``, ``district_name``). Those with
        a zone item in ``items`` are drawn over their district in every layer, coloured by
        their own median; the others are left out (their district's colour shows).
    facts : maps.common.MapFacts, optional
        审图号, boundary source, basemap and the data's update time (default: nothing
        configured, updated at ``published_at``), printed by :func:`maps.common.finish_page`.
    assets_url : str
        URL (absolute path or relative) where Leaflet is served (see :mod:`maps.assets`).

    Returns
    -------
    folium.Map
        Render it with :func:`maps.render`.
    """
    if building_type is not None and building_type not in BUILDING_TYPES:
        raise ValueError(f"building_type: 应为 {'/'.join(BUILDING_TYPES)}，收到 {building_type!r}")
    shown = building_type or next(iter(BUILDING_TYPES))
    base = districts if isinstance(districts, DistrictBase) else rent_district_base(districts)
    frame = base.frame
    by_key = _district_items(items)
    by_zone = _zone_items(items)
    breaks = class_breaks([float(i["median"]) for i in [*by_key.values(), *by_zone.values()]])

    m = OfflineMap(assets_url=assets_url, tiles=None, zoom_control="bottomleft",
                   location=None, zoom_snap=0.25)
    page(m, title=PAGE_TITLE, assets_url=assets_url)
    m.get_root().header.add_child(Element(_RENT_CSS), name="landsvc_rent_css")
    MetricScale().add_to(m)

    adcodes = frame.adcode.astype(str).tolist() if not frame.empty else []
    properties = []
    for row, adcode in zip(frame.itertuples(), adcodes, strict=True):
        props = {"name": row.name, "city_name": row.city_name, "adcode": adcode,
                 "period": period or NO_DATA}
        for kind in BUILDING_TYPES:
            props |= _item_properties(kind, by_key.get((adcode, kind)), breaks)
        properties.append(props)
    zone_geometry, zone_properties = _zone_features(zones, by_zone, breaks, frame, period)
    data = DistrictData(_collection_json([*base.geometry_json, *zone_geometry],
                                         [*properties, *zone_properties]))
    data.add_to(m)

    for kind, label in BUILDING_TYPES.items():
        layer = GeoJsonLayer(
            data.get_name(),
            name=f"{label}厂房",
            style={"color": "#7b8794", "weight": 0.7, "fillColor": NO_DATA_COLOUR,
                   "fillOpacity": 0.85},
            style_by=(f"{kind}_class", {str(i): {"fillColor": c} for i, c in enumerate(PALETTE)}),
            tooltip=[("name", "区县"), ("city_name", "所属地级市"), (f"{kind}_label", "建筑类型"),
                     (f"{kind}_median", "指导价（中位数）"), (f"{kind}_range", "P25 – P75"),
                     (f"{kind}_samples", "样本数"), ("period", "期间"),
                     (f"{kind}_source", "数据来源")],
            highlight={"color": "#0b4f8a", "weight": 2.5},
            show=kind == shown,
        )
        layer.overlay = False  # radio buttons: one building type at a time
        layer.add_to(m)
    cities = GeoJsonLayer(base.cities_json, name="地级市界线",
                          style={"color": "#3e4c59", "weight": 1.8, "fill": False},
                          interactive=False)
    cities.add_to(m)
    KeepOnTop(cities).add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)

    Panel(_header(period, version, published_at, effective_date, len(by_key),
                  len(zone_properties)),
          position="topleft", css_class="lsv-header").add_to(m)
    Panel(_legend(breaks), position="bottomright", css_class="lsv-legend").add_to(m)
    finish_page(m, facts or MapFacts(updated_at=_datetime(published_at)))
    fit(m, bounds_of(frame.geometry.values) if not frame.empty else GUANGDONG_BOUNDS)
    return m


def rent_district_base(districts: Features) -> DistrictBase:
    """The districts simplified for the rent-guide page (see :data:`RENT_TOLERANCE`).

    Parameters
    ----------
    districts : sequence of dict or GeoDataFrame
        As for :func:`maps.layers.district_base`.

    Returns
    -------
    DistrictBase
    """
    return district_base(districts, RENT_TOLERANCE)


def class_breaks(values: Sequence[float]) -> list[float]:
    """Upper bounds of the colour classes of ``values`` (Fisher–Jenks, at most five).

    With at most five distinct values each is its own class.

    Parameters
    ----------
    values : sequence of float
        The medians on the page.

    Returns
    -------
    list of float
        Ascending upper bounds; the last is the maximum. Empty without values.
    """
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    distinct = np.unique(values)
    if len(distinct) == 0:
        return []
    if len(distinct) <= MAX_CLASSES:
        return [float(v) for v in distinct]
    with warnings.catch_warnings():
        # Without numba mapclassify says it runs its pure-Python Fisher–Jenks: fine for the
        # few hundred medians of a page (~0.1 s); beyond that quantiles stay fast.
        warnings.simplefilter("ignore", UserWarning)
        if len(values) > MAX_FISHER_JENKS:
            return [float(b) for b in mapclassify.Quantiles(values, k=MAX_CLASSES).bins]
        return [float(b) for b in mapclassify.FisherJenks(values, k=MAX_CLASSES).bins]


def class_of(value: float, breaks: Sequence[float]) -> int:
    """The class (0 = lowest) of ``value``: the first upper bound it does not exceed."""
    return int(min(np.searchsorted(np.asarray(breaks), value, side="left"), len(breaks) - 1))


def _district_items(items: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping]:
    keyed = {}
    for item in items:
        if item.get("zone") not in (None, "") or item.get("median") is None:
            continue
        keyed[(str(item["district"]), str(item["building_type"]))] = item
    return keyed


def _zone_items(items: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping]:
    return {(str(i["zone"]), str(i["building_type"])): i for i in items
            if i.get("zone") not in (None, "") and i.get("median") is not None}


def _zone_features(zones, by_zone, breaks, frame, period) -> tuple[list[str], list[dict]]:
    """Zones with a guideline: geometry (simplified ~20 m, rounded ~1 m) and properties."""
    if zones is None or not by_zone:
        return [], []
    zone_frame = as_frame(zones, ("name", "district", "district_name"))
    if isinstance(zones, Sequence):
        zone_frame["zone_id"] = [str(z.get("id")) for z in zones]
    else:
        zone_frame["zone_id"] = zone_frame.get("id", zone_frame.index).astype(str)
    with_items = {zone for zone, _ in by_zone}
    zone_frame = zone_frame[zone_frame.zone_id.isin(with_items)]
    if zone_frame.empty:
        return [], []
    cities = dict(zip(frame.adcode.astype(str), frame.city_name, strict=True))
    geoms = round_coordinates(
        shapely.simplify(zone_frame.geometry.values, ZONE_TOLERANCE, preserve_topology=True), 5)
    properties = []
    for row in zone_frame.itertuples():
        district_name = row.district_name or row.district
        props = {"name": f"{row.name}（{district_name}片区）",
                 "city_name": cities.get(str(row.district)), "zone": row.zone_id,
                 "period": period or NO_DATA}
        for kind in BUILDING_TYPES:
            props |= _item_properties(kind, by_zone.get((row.zone_id, kind)), breaks)
        properties.append(props)
    return list(shapely.to_geojson(geoms)), properties


def _yuan(value) -> str:
    return f"{float(value):.2f}"


def _item_properties(kind: str, item: Mapping[str, Any] | None,
                     breaks: Sequence[float]) -> dict[str, Any]:
    label = BUILDING_TYPES[kind]
    if item is None:
        return {f"{kind}_label": label, f"{kind}_median": NO_DATA}
    median = float(item["median"])
    source = item.get("source")
    return {
        f"{kind}_label": label,
        f"{kind}_class": str(class_of(median, breaks)),
        f"{kind}_median": f"{_yuan(median)} {UNIT}",
        f"{kind}_range": (f"{_yuan(item['p25'])} – {_yuan(item['p75'])}"
                          if item.get("p25") is not None and item.get("p75") is not None
                          else None),
        f"{kind}_samples": f"{int(item['samples']):,}" if item.get("samples") is not None
        else None,
        f"{kind}_source": SOURCE_LABELS.get(source, source) if source else None,
    }


def _date(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return escape(value if isinstance(value, str) else value.isoformat())[:10]


def _header(period, version, published_at, effective_date, drawn: int, zones: int) -> str:
    lines = [f"<h1>{MAP_TITLE}</h1>"]
    if period is None:
        lines.append('<div class="lsv-count">尚未发布租金指导价</div>')
    else:
        lines.append(f'<div class="lsv-count">{escape(period)} 期 · 单位 {UNIT}</div>')
        lines.append(
            f'<div class="lsv-muted">第 {escape(version)} 版 · 发布于 {_date(published_at)}'
            f' · 自 {_date(effective_date)} 起执行</div>')
        if not drawn:
            lines.append(f'<div class="lsv-muted">本期没有区县级指导价（{NO_DATA}）。</div>')
        if zones:
            lines.append(f'<div class="lsv-muted">含 {zones:,} 个片区的指导价，'
                         "画在所属区县之上。</div>")
    lines.append('<div class="lsv-muted">颜色为租金指导价（成交租金中位数）；'
                 "鼠标移到区县上显示 P25–P75 区间与样本数。右上角切换建筑类型。</div>")
    return "\n".join(lines)


def _range_label(low: float | None, high: float) -> str:
    return f"≤ {_yuan(high)}" if low is None else f"{_yuan(low)} – {_yuan(high)}"


def _legend(breaks: Sequence[float]) -> str:
    rows = [f"<h2>图例 · 租金指导价（{UNIT}）</h2>"]
    low = None
    for i, high in enumerate(breaks):
        colour = PALETTE[i] if len(breaks) > 1 else PALETTE[len(PALETTE) // 2]
        rows.append(f'<div class="lsv-legend-row"><span class="lsv-swatch" '
                    f'style="background:{colour}"></span>{_range_label(low, high)}</div>')
        low = high
    rows += [
        f'<div class="lsv-legend-row"><span class="lsv-swatch" '
        f'style="background:{NO_DATA_COLOUR}"></span>{NO_DATA}</div>',
        '<div class="lsv-legend-row"><span class="lsv-line lsv-city"></span>地级市界线</div>',
        '<div class="lsv-legend-row"><span class="lsv-line"></span>区县界线</div>',
        '<div class="lsv-muted">分级：自然断点法（Fisher–Jenks），三种建筑类型共用。</div>',
    ]
    return "\n".join(rows)


def _datetime(value) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


# -- page elements --------------------------------------------------------------------------
class DistrictData(MacroElement):
    """The districts' FeatureCollection, once, as a script variable the layers share.

    Parameters
    ----------
    data : str
        Script-safe FeatureCollection text.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = {{ this.data }};
        {% endmacro %}
    """)

    def __init__(self, data: str):
        super().__init__()
        self._name = "DistrictData"
        self.data = data

    def render(self, **kwargs):
        # Written straight into the page: folium would re-parse the megabyte as a template.
        from maps.layers import _Script

        script = self._template.module.__dict__["script"]
        self.get_root().script.add_child(_Script(script(self, kwargs)), name=self.get_name())


class KeepOnTop(MacroElement):
    """Keeps the city outlines above whichever choropleth layer is switched on."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.on("baselayerchange", function () {
            {{ this.layer.get_name() }}.bringToFront();
        });
        {% endmacro %}
    """)

    def __init__(self, layer: GeoJsonLayer):
        super().__init__()
        self._name = "KeepOnTop"
        self.layer = layer
