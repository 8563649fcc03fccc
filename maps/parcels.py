"""The parcels map: Guangdong's districts as the base, parcels coloured by status, offerings
coloured by supply mode, parks outlined.

Few parcels travel inside the page as GeoJSON; many (a provincial register) are drawn from
vector tiles (``/tiles/...``), which the browser fetches for the area in view only."""

from __future__ import annotations

from collections.abc import Mapping

import folium
import pandas as pd

from landsvc.geo import GUANGDONG_BOUNDS, adcode_prefix
from maps.assets import ASSETS_URL, OfflineMap
from maps.common import MapFacts, TileSource, VectorTileLayer, finish_page
from maps.layers import (
    DistrictBase,
    Features,
    GeoJsonLayer,
    MetricScale,
    Panel,
    as_frame,
    bounds_of,
    district_base,
    district_layers,
    escape,
    feature_collection_json,
    fit,
    page,
    round_coordinates,
)

STATUS_COLOURS = {
    "available": "#1a9850",
    "reserved": "#e08214",
    "offered": "#2166ac",
    "leased": "#8e3fa0",
    "transferred": "#6b6b6b",
    "withdrawn": "#b2182b",
}
"""Fill and outline colour per parcel status."""

SUPPLY_MODE_COLOURS = {
    "transfer": "#1f4e9c",
    "flexible_term_transfer": "#00a1b5",
    "lease": "#d7301f",
    "lease_then_transfer": "#f08c00",
    "lease_and_transfer": "#7b2cbf",
}
"""Outline colour per offering supply mode (drawn over the parcel, dashed)."""

PARK_COLOUR = "#2d6a4f"

PAGE_TITLE = "地块地图 · 广东省专精特新企业用地保障平台"
MAP_TITLE = "广东省产业用地地块分布"

_PARCEL_COLUMNS = ("code", "name", "district", "district_name", "land_use",
                   "land_source_label", "status", "status_label", "area_m2", "area_mu",
                   "plot_ratio_min", "plot_ratio_max", "servicing_label")

_POPUP = {  # feature property -> row label
    "code": "宗地代码",
    "name": "地块名称",
    "district": "区县",
    "land_use": "用途",
    "land_source": "土地来源",
    "status": "状态",
    "area": "面积",
    "plot_ratio": "容积率",
    "servicing": "开发程度",
}


def parcels_map(
    parcels: Features | None,
    districts: Features | DistrictBase,
    *,
    number_matched: int,
    status_labels: Mapping[str, str],
    facts: MapFacts = MapFacts(),
    tiles: Mapping[str, TileSource] | None = None,
    supply_mode_labels: Mapping[str, str] | None = None,
    district: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    filters: Mapping[str, str] | None = None,
    assets_url: str = ASSETS_URL,
) -> folium.Map:
    """A map page of parcels coloured by status over the county-level districts.

    Parameters
    ----------
    parcels : sequence of dict or GeoDataFrame, or None
        Every matching parcel, embedded as GeoJSON; None draws ``tiles["parcels"]`` instead.
        Features as ``landsvc.parcels.service.search_parcels`` returns them
        (properties ``code``, ``name``, ``district``, ``district_name``, ``land_use``,
        ``land_source_label``, ``status``, ``status_label``, ``area_m2``, ``area_mu``,
        ``plot_ratio_min``, ``plot_ratio_max``, ``servicing_label``).
    districts : DistrictBase, or sequence of dict or GeoDataFrame
        The district base layer: a :class:`maps.layers.DistrictBase` kept between pages,
        or the district Features to simplify now (see :func:`maps.layers.district_base`).
    number_matched : int
        How many parcels the query matched in all.
    status_labels : mapping of str to str
        Status value -> Chinese label, in legend order (e.g. ``available`` -> ``可供应``).
    facts : MapFacts
        Update date, 审图号, boundary source and basemap (see :func:`maps.common.finish_page`).
    tiles : mapping of str to TileSource, optional
        Vector-tile sources by layer: ``parcels`` (when ``parcels`` is None), ``offerings``
        (coloured by supply mode) and ``parks`` (outlined), each drawn when given.
    supply_mode_labels : mapping of str to str, optional
        Supply mode value -> Chinese label, in legend order.
    district : str, optional
        The adcode (prefix) the query was filtered by: named in the header, its districts
        drawn stronger, and the view fitted to them when no parcel matched.
    bbox : tuple of float, optional
        The ``(minlon, minlat, maxlon, maxlat)`` filter, likewise.
    filters : mapping of str to str, optional
        Other filters to name in the header, label -> value (``状态`` -> ``可供应``).
    assets_url : str
        URL path where Leaflet is served (see :mod:`maps.assets`).

    Returns
    -------
    folium.Map
        Render it with :func:`maps.render`.
    """
    tiles = tiles or {}
    tiled = parcels is None
    frame = as_frame([] if tiled else parcels, _PARCEL_COLUMNS)
    districts = districts if isinstance(districts, DistrictBase) else district_base(districts)
    base = districts.frame
    prefix = _prefix(district)

    m = OfflineMap(assets_url=assets_url, tiles=None,
                   zoom_control="bottomleft", location=None, zoom_snap=0.25)
    page(m, title=PAGE_TITLE, assets_url=assets_url)
    finish_page(m, facts)
    MetricScale().add_to(m)
    for layer in district_layers(districts, highlight=prefix):
        layer.add_to(m)
    if "parks" in tiles:
        _park_tiles(tiles["parks"]).add_to(m)
    if tiled and "parcels" in tiles:
        _parcel_tiles(tiles["parcels"]).add_to(m)
    elif not frame.empty:
        _parcel_layer(frame).add_to(m)
    if "offerings" in tiles:
        _offering_tiles(tiles["offerings"]).add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)

    min_zoom = tiles["parcels"].min_zoom if tiled and "parcels" in tiles else None
    header = _header(shown=len(frame), matched=number_matched, tiled_from=min_zoom,
                     criteria=_criteria(base, district, prefix, bbox, filters or {}))
    Panel(header, position="topleft", css_class="lsv-header").add_to(m)
    counts = None if tiled else (frame.status.value_counts().to_dict() if not frame.empty
                                 else {})
    Panel(_legend(status_labels, counts, supply_mode_labels if "offerings" in tiles else None,
                  parks="parks" in tiles),
          position="bottomright", css_class="lsv-legend").add_to(m)

    fit(m, bounds_of(frame.geometry.values)
        or _fallback_bounds(base, prefix, bbox)
        or GUANGDONG_BOUNDS)
    return m


def _prefix(district: str | None) -> str | None:
    # The parcel search treats 440300 as 4403 and 440000 as 44; so does the map.
    return adcode_prefix(district) if district else None


def _fallback_bounds(base, prefix, bbox):
    if bbox is not None:
        return bbox
    if prefix:
        return bounds_of(base.geometry.values[base.adcode.astype(str).str.startswith(prefix)])
    return bounds_of(base.geometry.values)


def _parcel_layer(frame) -> GeoJsonLayer:
    properties = [_popup_properties(row) for row in frame.itertuples()]
    return GeoJsonLayer(
        feature_collection_json(round_coordinates(frame.geometry.values, 6), properties),
        name="地块",
        # A heavy outline keeps parcels of a few hundred metres visible as dots at
        # province scale.
        style={"weight": 3, "opacity": 0.9, "fillOpacity": 0.55},
        style_by=("status_value", {status: {"color": colour, "fillColor": colour}
                                   for status, colour in STATUS_COLOURS.items()}),
        tooltip=[("name", None), ("status", None)],
        popup=list(_POPUP.items()),
        highlight={"weight": 5, "fillOpacity": 0.85},
        bring_to_front=True,
    )


_TILE_POPUP = [("code", "宗地代码"), ("name", "地块名称"), ("district_name", "区县"),
               ("land_use", "用途"), ("land_source_label", "土地来源"), ("status_label", "状态"),
               ("area_m2", "面积（㎡）")]
_OFFERING_POPUP = [("parcel_code", "宗地代码"), ("supply_mode_label", "供应方式"),
                   ("status_label", "供地状态"), ("district_name", "区县"),
                   ("area_m2", "面积（㎡）"), ("start_price_wan", "起始价（万元）"),
                   ("annual_rent_yuan", "年租金（元）")]


def _parcel_tiles(source: TileSource) -> VectorTileLayer:
    return VectorTileLayer(
        source, name="地块",
        style={"weight": 1.5, "opacity": 0.9, "fill": True, "fillOpacity": 0.55},
        style_by=("status", {status: {"color": colour, "fillColor": colour}
                             for status, colour in STATUS_COLOURS.items()}),
        popup=_TILE_POPUP,
    )


def _offering_tiles(source: TileSource) -> VectorTileLayer:
    return VectorTileLayer(
        source, name="供地（按供应方式）",
        style={"weight": 3, "opacity": 1, "dashArray": "6 3", "fill": True,
               "fillOpacity": 0.05},
        style_by=("supply_mode", {mode: {"color": colour, "fillColor": colour}
                                  for mode, colour in SUPPLY_MODE_COLOURS.items()}),
        popup=_OFFERING_POPUP,
    )


def _park_tiles(source: TileSource) -> VectorTileLayer:
    return VectorTileLayer(
        source, name="产业园区",
        style={"color": PARK_COLOUR, "weight": 2, "opacity": 0.9, "fill": False},
        interactive=False,
    )


def _text(value) -> str | None:
    return None if _missing(value) or value == "" else str(value)


def _popup_properties(row) -> dict:
    district = _text(row.district_name)
    return {
        "code": _text(row.code),
        "name": _text(row.name) or _text(row.code),
        "district": f"{district}（{row.district}）" if district else _text(row.district),
        "land_use": _text(row.land_use),
        "land_source": _text(row.land_source_label),
        "status": _text(row.status_label),
        "status_value": _text(row.status),
        "area": _area(row.area_m2, row.area_mu),
        "plot_ratio": _plot_ratio(row.plot_ratio_min, row.plot_ratio_max),
        "servicing": _text(row.servicing_label),
    }


def _missing(value) -> bool:
    return value is None or pd.isna(value)


def _area(m2, mu) -> str:
    if _missing(m2):
        return "—"
    text = f"{float(m2):,.2f} ㎡"
    if not _missing(mu):
        text += f"（{float(mu):,.2f} 亩）"
    return text


def _ratio(value) -> str:
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def _plot_ratio(low, high) -> str:
    if _missing(low) and _missing(high):
        return "—"
    if _missing(high):
        return f"≥ {_ratio(low)}"
    if _missing(low):
        return f"≤ {_ratio(high)}"
    if float(low) == float(high):
        return _ratio(low)
    return f"{_ratio(low)} – {_ratio(high)}"


def _district_name(base, district: str, prefix: str) -> str:
    codes = base.adcode.astype(str)
    if prefix == "44":
        return f"广东省（{escape(district)}）"
    if len(prefix) == 4:
        names = base.city_name[codes.str.startswith(prefix)]
    else:
        hits = base[codes == prefix]
        names = hits.city_name.where(hits.city_name == hits.name, hits.city_name + hits.name)
    if names.empty:
        return f"{escape(district)}（无此区划）"
    return f"{escape(names.iloc[0])}（{escape(district)}）"


def _criteria(base, district, prefix, bbox, filters: Mapping[str, str]) -> list[str]:
    criteria = []
    if district:
        criteria.append(f"区县 {_district_name(base, district, prefix)}")
    criteria += [f"{escape(label)} {escape(value)}" for label, value in filters.items()]
    if bbox is not None:
        minx, miny, maxx, maxy = bbox
        criteria.append(f"范围 {minx:g},{miny:g} – {maxx:g},{maxy:g}")
    return criteria


def _header(*, shown: int, matched: int, criteria: list[str],
            tiled_from: int | None = None) -> str:
    count = (f"共 {matched:,} 宗地块" if tiled_from is not None
             else f"显示 {shown:,} / 共 {matched:,} 宗地块")
    lines = [
        f"<h1>{MAP_TITLE}</h1>",
        f'<div class="lsv-count">{count}</div>',
        '<div class="lsv-muted">筛选：' + (" · ".join(criteria) or "无（全省）") + "</div>",
    ]
    if tiled_from is not None:
        lines.append(f'<div class="lsv-muted">地块较多，按矢量瓦片显示：放大到第 {tiled_from} '
                     "级及以上可见。</div>")
    elif not matched:
        lines.append('<div class="lsv-muted">没有符合条件的地块。</div>')
    lines.append('<div class="lsv-muted">点击地块查看详情；鼠标移到区县上显示其名称。</div>')
    return "\n".join(lines)


def _legend(status_labels: Mapping[str, str], counts: Mapping[str, int] | None,
            supply_mode_labels: Mapping[str, str] | None = None, parks: bool = False) -> str:
    rows = ["<h2>图例 · 地块状态</h2>"]
    for status, label in status_labels.items():
        colour = STATUS_COLOURS.get(status, "#333333")
        n = "" if counts is None else f'<span class="lsv-n">{counts.get(status, 0):,}</span>'
        rows.append(
            f'<div class="lsv-legend-row"><span class="lsv-swatch" style="background:{colour}99;'
            f'border-color:{colour}"></span>{escape(label)}{n}</div>'
        )
    if supply_mode_labels:
        rows.append('<h2 style="margin-top:6px">供地 · 供应方式（虚线框）</h2>')
        for mode, label in supply_mode_labels.items():
            colour = SUPPLY_MODE_COLOURS.get(mode, "#333333")
            rows.append(f'<div class="lsv-legend-row"><span class="lsv-swatch" '
                        f'style="border:2px dashed {colour}"></span>{escape(label)}</div>')
    if parks:
        rows.append(f'<div class="lsv-legend-row"><span class="lsv-swatch" '
                    f'style="border-color:{PARK_COLOUR}"></span>产业园区</div>')
    rows += [
        '<div class="lsv-legend-row"><span class="lsv-line lsv-city"></span>地级市界线</div>',
        '<div class="lsv-legend-row"><span class="lsv-line"></span>区县界线</div>',
    ]
    if counts is not None:
        rows.append('<div class="lsv-muted">数字为本页显示的地块数。</div>')
    return "\n".join(rows)
