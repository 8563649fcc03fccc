"""Guangdong's administrative divisions: loading and lookup."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import shapely
from sqlalchemy import and_, func, select, text, true
from sqlalchemy.orm import Session

from landsvc import lists
from landsvc.districts.index import DistrictIndex
from landsvc.districts.models import City, District
from landsvc.errors import InvalidInput, NotFound
from landsvc.geo import WGS84, bbox_clause, feature

DIVISIONS_FILE = "guangdong_divisions.geojson"

T = TypeVar("T")

_UPSERT_CITY = text("""
    INSERT INTO city (adcode, name, geom)
    VALUES (:adcode, :name, ST_Multi(ST_GeomFromText(:wkt, 4326)))
    ON CONFLICT (adcode) DO UPDATE SET name = excluded.name, geom = excluded.geom
""")
_UPSERT_DISTRICT = text("""
    INSERT INTO district (adcode, name, city_adcode, geom)
    VALUES (:adcode, :name, :city_adcode, ST_Multi(ST_GeomFromText(:wkt, 4326)))
    ON CONFLICT (adcode) DO UPDATE
    SET name = excluded.name, city_adcode = excluded.city_adcode, geom = excluded.geom
""")


GUANGDONG_CITIES = frozenset({
    "440100", "440200", "440300", "440400", "440500", "440600", "440700", "440800", "440900",
    "441200", "441300", "441400", "441500", "441600", "441700", "441800", "441900", "442000",
    "445100", "445200", "445300"})
"""The 21 prefecture-level cities (地级市) of Guangdong."""

DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}
"""The only formats a divisions file is read in — each by its one reader (no VRT, no URL)."""

COLUMNS = ("adcode", "name", "level", "city_adcode")


def _county_codes() -> frozenset[str]:
    """Every county-level code of the bundled divisions (the reference another file must
    cover exactly)."""
    from landsvc.config import get_settings

    frame = gpd.read_file(get_settings().geodata_dir / DIVISIONS_FILE, driver="GeoJSON",
                          columns=["adcode", "level"], ignore_geometry=True)
    return frozenset(frame.loc[frame["level"] == "district", "adcode"])


def check_divisions(frame: gpd.GeoDataFrame, path: Path) -> None:
    """A divisions file a bureau may put in place of the bundled one: the 21 cities, every
    county-level code once, each in its city, valid polygons forming a valid coverage (no
    overlaps between districts).

    Raises
    ------
    InvalidInput
        Naming the rule and the codes that break it.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{path.name}: 缺少字段 {', '.join(missing)}（应有 {', '.join(COLUMNS)}）",
                           code="missing_columns")
    codes = frame["adcode"].astype(str)
    cities = set(codes[frame["level"] == "city"])
    districts = codes[frame["level"] == "district"]
    if cities != GUANGDONG_CITIES:
        wrong = sorted(cities ^ GUANGDONG_CITIES)
        raise InvalidInput(f"{path.name}: 地级市应为广东省的 21 个，现为 {len(cities)} 个；"
                           f"多出或缺少 {', '.join(wrong[:10])}", code="divisions_cities")
    twice = sorted(set(districts[districts.duplicated()]))
    expected = _county_codes()
    if twice or set(districts) != expected:
        wrong = twice or sorted(set(districts) ^ expected)
        raise InvalidInput(f"{path.name}: 县级行政区应为 {len(expected)} 个代码各一次；重复、多出或缺少 "
                           f"{', '.join(wrong[:10])}", code="divisions_counties")
    level = frame["level"] == "district"
    cities_of = frame.loc[level, "city_adcode"].astype(str)
    outside = sorted(codes[level][(cities_of.str[:4] != codes[level].str[:4])
                                  | ~cities_of.isin(GUANGDONG_CITIES)])
    if outside:
        raise InvalidInput(f"{path.name}: 县级行政区 {', '.join(outside[:10])} 的 city_adcode 与其代码"
                           "不符", code="divisions_city_of")
    invalid = sorted(codes[~frame.geometry.is_valid | frame.geometry.is_empty
                           | ~frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])])
    if invalid:
        raise InvalidInput(f"{path.name}: 边界无效（非多边形、为空或自相交）：{', '.join(invalid[:10])}",
                           code="divisions_geometry")
    if not shapely.coverage_is_valid(frame.loc[level].geometry.values):
        raise InvalidInput(f"{path.name}: 县级行政区边界相互重叠或边线不吻合，不构成有效的覆盖",
                           code="divisions_coverage")


def load_divisions(*, session: Session, path: Path) -> dict[str, int]:
    """Check a divisions file (:func:`check_divisions`) and insert or update its cities and
    districts in place of the stored ones; counts per level."""
    if not path.exists():
        raise InvalidInput(f"找不到区划文件 {path}")
    driver = DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInput(f"{path.name}: 区划文件应为 GeoJSON（.geojson/.json）或 GeoPackage"
                           "（.gpkg）", code="unsupported_format")
    try:
        frame = gpd.read_file(path, driver=driver)
    except Exception as exc:  # the reader's own message names what is wrong with the file
        raise InvalidInput(f"{path.name}: 无法按 {driver} 读取：{exc}", code="unreadable") from None
    if frame.crs is None:
        raise InvalidInput(f"{path.name}: 未声明坐标系", code="missing_crs")
    frame = frame.to_crs(WGS84)
    check_divisions(frame, path)
    frame["wkt"] = frame.geometry.to_wkt()
    records = frame[[*COLUMNS, "wkt"]].to_dict("records")
    cities = [r for r in records if r["level"] == "city"]
    districts = [r for r in records if r["level"] == "district"]
    session.execute(_UPSERT_CITY, cities)
    session.execute(_UPSERT_DISTRICT, districts)
    session.execute(text("DELETE FROM district_part"))
    session.execute(text("INSERT INTO district_part (adcode, geom) "
                         "SELECT adcode, ST_Subdivide(geom, 64) FROM district"))
    session.flush()
    return {"city": len(cities), "district": len(districts)}


def _district_columns():
    return (
        District.adcode,
        District.name,
        District.city_adcode,
        City.name.label("city_name"),
        func.ST_AsGeoJSON(District.geom, 6).label("geometry"),
    )


def _as_feature(row, level: str = "district") -> dict:
    return feature(row.adcode, row.geometry, {
        "adcode": row.adcode,
        "name": row.name,
        "level": level,
        "city_adcode": row.city_adcode,
        "city_name": row.city_name,
    })


def normalise_city(city: str) -> str:
    """``4403`` or ``440300`` -> ``440300``."""
    if len(city) == 4 and city.isdigit():
        city += "00"
    if len(city) != 6 or not city.isdigit() or not city.endswith("00"):
        raise InvalidInput(f"city: 应为地级市 6 位行政区划代码（如 440300）或其前 4 位，收到 {city!r}")
    return city


def _district_query(city: str | None = None):
    query = select(*_district_columns()).join(City).order_by(District.adcode)
    if city is not None:
        query = query.where(District.city_adcode == normalise_city(city))
    return query


def list_districts(*, session: Session, city: str | None = None) -> list[dict]:
    """County-level districts as Features, optionally of one city."""
    return [_as_feature(row) for row in session.execute(_district_query(city))]


def _city_query():
    return select(
        City.adcode, City.name, City.adcode.label("city_adcode"), City.name.label("city_name"),
        func.ST_AsGeoJSON(City.geom, 6).label("geometry"),
    ).order_by(City.adcode)


def list_cities(*, session: Session) -> list[dict]:
    """The 21 prefecture-level cities as Features."""
    return [_as_feature(row, "city") for row in session.execute(_city_query())]


def search_divisions(*, session: Session, level: str = "district", city: str | None = None,
                     page: lists.Page, bbox: tuple[float, float, float, float] | None = None
                     ) -> tuple[list[dict], lists.Matched]:
    """One page of districts (optionally of one city, or meeting ``bbox``) or of cities."""
    if level == "city":
        rows, matched = lists.fetch_page(session, _city_query(),
                                         where=bbox_clause(City.geom, bbox), page=page,
                                         count_from=City)
        return [_as_feature(row, "city") for row in rows], matched
    where = true() if city is None else District.city_adcode == normalise_city(city)
    rows, matched = lists.fetch_page(session, _district_query(),
                                     where=and_(where, bbox_clause(District.geom, bbox)),
                                     page=page, count_from=District)
    return [_as_feature(row) for row in rows], matched


def get_division(*, session: Session, adcode: str) -> dict:
    """A district by adcode, or else a city (东莞/中山 answer as districts)."""
    row = session.execute(
        select(*_district_columns()).join(City).where(District.adcode == adcode)
    ).one_or_none()
    if row is not None:
        return _as_feature(row)
    row = session.execute(_city_query().where(City.adcode == adcode)).one_or_none()
    if row is None:
        raise NotFound(f"没有行政区划代码为 {adcode} 的广东省区县或地级市")
    return _as_feature(row, "city")


def locate(*, session: Session, lon: float, lat: float) -> dict:
    """The district that covers a point (lon/lat, WGS-84)."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidInput(f"lon/lat: 经纬度超出范围 ({lon}, {lat})：经度 -180~180，纬度 -90~90（是否颠倒？）")
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), WGS84)
    # A point exactly on a shared border is covered by both sides: take the lower adcode.
    row = session.execute(
        select(*_district_columns()).join(City)
        .where(func.ST_Covers(District.geom, point))
        .order_by(District.adcode).limit(1)
    ).one_or_none()
    if row is None:
        raise NotFound(f"点 ({lon}, {lat}) 不在广东省任何区县内（经纬度是否颠倒？）",
                       code="outside_guangdong")
    return _as_feature(row)


def districts_version(*, session: Session) -> tuple[int, int]:
    """Changes whenever the districts do (a load rewrites every row): for caches of them.

    The row count and the newest writing transaction (``xmin``); no geometry is read.
    """
    return tuple(session.execute(
        text("SELECT count(*), coalesce(max(xmin::text::bigint), 0) FROM district")
    ).one())


_cache: dict[str, tuple[tuple, Any]] = {}


def cached(*, session: Session, name: str, build: Callable[[], T]) -> T:
    """``build()``'s result, kept under ``name`` until the districts change."""
    version = districts_version(session=session)
    hit = _cache.get(name)
    if hit is None or hit[0] != version:
        hit = _cache[name] = (version, build())
    return hit[1]


def district_index(*, session: Session) -> DistrictIndex:
    """The districts as shapely geometries, whole and in pieces; cached until they change."""
    return cached(session=session, name="index", build=lambda: _district_index(session))


def _district_index(session: Session) -> DistrictIndex:
    whole = session.execute(
        text("SELECT adcode, ST_AsBinary(geom) FROM district ORDER BY adcode")
    ).all()
    if not whole:
        raise InvalidInput("尚未加载行政区划：请先运行 landsvc geodata load", code="no_districts")
    parts = session.execute(text("SELECT adcode, ST_AsBinary(geom) FROM district_part")).all()
    return DistrictIndex(
        [r[0] for r in whole], shapely.from_wkb([bytes(r[1]) for r in whole]),
        [r[0] for r in parts], shapely.from_wkb([bytes(r[1]) for r in parts]),
    )


def division_exists(*, session: Session, prefix: str) -> bool:
    """Whether ``prefix`` names a Guangdong division: ``44``, a city's 4 digits, a 6-digit code."""
    if prefix == "44":
        return True
    if session.scalar(select(City.adcode).limit(1)) is None:
        raise InvalidInput(f"尚未加载行政区划，无法核对 {prefix}：请先运行 landsvc geodata load",
                           code="no_districts")
    if len(prefix) == 4:
        query = select(City.adcode).where(City.adcode == prefix + "00")
    elif len(prefix) == 6:
        query = select(District.adcode).where(District.adcode == prefix).union(
            select(City.adcode).where(City.adcode == prefix))
    else:
        return False
    return session.execute(query.limit(1)).first() is not None
