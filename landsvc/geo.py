"""Spatial reference systems, GeoJSON <-> geometry, bbox parsing and spatial clause helpers."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import orjson
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from sqlalchemy import ColumnElement, func, true

from landsvc.errors import BadQuery, InvalidGeometry, InvalidInput

WGS84 = 4326
"""Storage SRID. CGCS2000 (EPSG:4490) coincides with it within centimetres."""

M2_PER_MU = 2000 / 3
"""One 亩 in square metres."""

GUANGDONG_BOUNDS = (109.6, 20.1, 117.4, 25.6)
"""A generous lon/lat box around Guangdong's land area, for a cheap first test."""


def adcode_prefix(adcode: str) -> str:
    """The prefix an adcode stands for: ``440300`` → ``4403`` (the city), ``440000`` → ``44``."""
    return adcode.removesuffix("00").removesuffix("00")


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """Parse ``minlon,minlat,maxlon,maxlat``.

    Raises
    ------
    BadQuery
        When the text is not four finite numbers in lon/lat order within range.
    """
    if text is None:
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise BadQuery(f"bbox: 应为 4 个数字 minlon,minlat,maxlon,maxlat，收到 {text!r}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadQuery(f"bbox: 应为 4 个数字 minlon,minlat,maxlon,maxlat，收到 {text!r}")
    minx, miny, maxx, maxy = values
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise BadQuery(f"bbox: 经纬度超出范围或最小值大于最大值：{text!r}")
    return minx, miny, maxx, maxy


def bbox_clause(geom_column, bbox: tuple[float, float, float, float] | None) -> ColumnElement:
    """``geom`` intersects the box (index-assisted), or ``true()`` without a box."""
    if bbox is None:
        return true()
    return func.ST_Intersects(geom_column, func.ST_MakeEnvelope(*bbox, WGS84))


_AUTHORITY_CODE = re.compile(r"(?:(EPSG|ESRI):)?(\d{1,6})", re.IGNORECASE)
_WKT = re.compile(r"[A-Z][A-Z0-9_]*\[")


def resolve_crs(value: Any) -> CRS:
    """A pyproj CRS from ``EPSG:4526``, ``4526``, ``ESRI:102100`` or WKT.

    PROJ strings and URLs are refused: ``+init=`` and grid names make PROJ open files.

    Raises
    ------
    InvalidInput
        Naming the ``crs`` field when the value is none of these or pyproj does not know it.
    """
    text = str(value).strip()
    code = _AUTHORITY_CODE.fullmatch(text)
    if code:
        text = f"{(code[1] or 'EPSG').upper()}:{code[2]}"
    elif not _WKT.match(text):
        raise InvalidInput("crs: 应为 EPSG 代码（如 EPSG:4526）或 WKT 文本", code="unknown_crs")
    try:
        return CRS.from_user_input(text)
    except CRSError:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise InvalidInput(f"crs: 无法识别的坐标系 {shown!r}（示例：EPSG:4490、EPSG:4526）",
                           code="unknown_crs") from None


def shape_from_geojson(obj: Any) -> shapely.Geometry:
    """A shapely geometry from a GeoJSON geometry object.

    Raises
    ------
    InvalidGeometry
        When the object is not a readable GeoJSON geometry.
    """
    if not isinstance(obj, dict) or "type" not in obj:
        raise InvalidGeometry("geometry: 应为 GeoJSON 几何对象")
    try:
        return shapely.from_geojson(json.dumps(obj))
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        raise InvalidGeometry(f"geometry: 无法解析的 GeoJSON 几何：{exc}") from None


def feature(fid: Any, geometry: str | dict | None, properties: dict[str, Any]) -> dict[str, Any]:
    """A GeoJSON Feature; ``geometry`` may be the text ``ST_AsGeoJSON`` returned."""
    if isinstance(geometry, str):
        geometry = orjson.loads(geometry)
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": properties}


def feature_collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with extra foreign members (``numberMatched``, ``links`` …)."""
    return {"type": "FeatureCollection", "features": features, **members}


_MULTI_EWKB = "0106000020E6100000"  # little-endian MultiPolygon with SRID 4326
_ONE_PART = "01000000"


def ewkb_multipolygon_hex(geoms: np.ndarray) -> list[str]:
    """Hex EWKB of each (Multi)Polygon as a MultiPolygon in EPSG:4326, as COPY takes it.

    Spliced from plain WKB: a Polygon becomes a one-part MultiPolygon by a header, a
    MultiPolygon gets the SRID in its header — several times faster than building geometries.

    Parameters
    ----------
    geoms : ndarray of shapely Polygon or MultiPolygon, in EPSG:4326

    Returns
    -------
    list of str
    """
    wkb = shapely.to_wkb(geoms, byte_order=1)
    return [_MULTI_EWKB + (_ONE_PART + w.hex() if w[1] == 3 else w[5:].hex()) for w in wkb]
