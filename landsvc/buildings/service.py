"""Buildings: public inventory of factories and dormitories (split transfer: :mod:`.split`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import shapely
from sqlalchemy import ColumnElement, and_, func, insert, literal_column, select, text, update
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import OPERATOR, Principal
from landsvc.buildings.models import Building, BuildingType, BuildingUnit
from landsvc.districts.models import District
from landsvc.districts.service import district_index
from landsvc.errors import InvalidGeometry, InvalidInput, NotFound
from landsvc.etags import check_if_match, etag
from landsvc.fields import (
    amount_field,
    choice_field,
    count_field,
    flag_field,
    industry_code_field,
    text_field,
    uscc_field,
)
from landsvc.geo import WGS84, bbox_clause, feature, shape_from_geojson
from landsvc.listings.models import Listing, ListingStatus

FIELDS = ("name", "building_type", "floors", "total_floor_area_m2", "completed", "holder_uscc",
          "holder_name", "holder_industry_code", "freight_lift")
"""The writable properties of a building."""

MAX_FLOORS = 200


# -- access -------------------------------------------------------------------------------
def visible(principal: Principal | None) -> ColumnElement:
    """Buildings are public inventory: everybody sees every one."""
    return access.read_filter(principal)


# -- search -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BuildingFilter:
    bbox: tuple[float, float, float, float] | None = None
    district: str | None = None
    park: int | None = None
    building_type: BuildingType | None = None

    def clauses(self) -> list[ColumnElement]:
        return [
            bbox_clause(Building.geom, self.bbox),
            lists.adcode_prefix_clause(Building.district, self.district),
            lists.equals_clause(Building.park_id, self.park),
            lists.equals_clause(Building.building_type, self.building_type),
        ]


_READ_COLUMNS = (
    Building.id, Building.name, Building.building_type, Building.floors,
    Building.total_floor_area_m2, Building.completed, Building.holder_uscc,
    Building.holder_name, Building.holder_industry_code, Building.freight_lift,
    Building.district, District.name.label("district_name"), Building.park_id,
    Building.created_at, Building.updated_at,
    func.ST_AsGeoJSON(Building.geom, 7).label("geometry"),
    literal_column("building.xmin::text").label("version"),
)


def _read_query():
    return (select(*_READ_COLUMNS).select_from(Building)
            .join(District, District.adcode == Building.district))


def _as_feature(row) -> dict[str, Any]:
    return feature(row.id, row.geometry, {
        "name": row.name,
        "building_type": row.building_type.value,
        "building_type_label": row.building_type.label,
        "floors": row.floors,
        "total_floor_area_m2": float(row.total_floor_area_m2),
        "completed": row.completed,
        "holder_uscc": row.holder_uscc,
        "holder_name": row.holder_name,
        "holder_industry_code": row.holder_industry_code,
        "freight_lift": row.freight_lift,
        "district": row.district,
        "district_name": row.district_name,
        "park_id": row.park_id,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    })


def search_buildings(*, session: Session, flt: BuildingFilter, page: lists.Page,
                     principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """One page of buildings as Features (by id), and how many match in all."""
    where = and_(*flt.clauses(), visible(principal))
    rows, matched = lists.fetch_page(session, _read_query().order_by(Building.id), where=where,
                                     page=page, count_from=Building)
    return [_as_feature(row) for row in rows], matched


def get_building(*, session: Session, building_id: int,
                 principal: Principal | None) -> tuple[dict, str]:
    """One building as a Feature, and its ETag."""
    row = session.execute(
        _read_query().where(Building.id == building_id, visible(principal))
    ).one_or_none()
    if row is None:
        raise NotFound(f"楼栋 {building_id} 不存在")
    return _as_feature(row), etag(row.id, row.version)


# -- writes -------------------------------------------------------------------------------
def _check_properties(props: Mapping) -> dict[str, Any]:
    """The column values of a building's properties (create: all given; update: merged)."""
    return {
        "name": text_field(props, "name", "楼栋名称", 200, required=True),
        "building_type": choice_field(props, "building_type", BuildingType, required=True),
        "floors": count_field(props, "floors", "层数", 1, MAX_FLOORS, required=True),
        "total_floor_area_m2": amount_field(props, "total_floor_area_m2", "总建筑面积",
                                            precision=14, scale=2, required=True, unit=" ㎡"),
        "completed": flag_field(props, "completed"),
        "holder_uscc": uscc_field(props, "holder_uscc", "权利人统一社会信用代码"),
        "holder_name": text_field(props, "holder_name", "权利人名称", 200),
        "holder_industry_code": industry_code_field(props, "holder_industry_code",
                                                    "权利人行业代码"),
        "freight_lift": flag_field(props, "freight_lift"),
    }


def _checked_place(session: Session, geometry: Any) -> tuple[Any, str]:
    """The geometry to store (a point, or polygons as a MultiPolygon) and its district."""
    geom = shape_from_geojson(geometry)
    if geom.is_empty:
        raise InvalidGeometry("geometry: 几何为空")
    if geom.geom_type not in ("Point", "Polygon", "MultiPolygon"):
        raise InvalidGeometry(
            f"geometry: 几何类型为 {geom.geom_type}，须为点（Point）或楼栋轮廓面（Polygon/MultiPolygon）")
    geom = shapely.force_2d(geom)
    minx, miny, maxx, maxy = geom.bounds
    if not (all(math.isfinite(v) for v in geom.bounds)
            and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidGeometry("geometry: 经纬度超出范围（经度 -180~180，纬度 -90~90；是否颠倒？）")
    if not geom.is_valid:
        raise InvalidGeometry(f"geometry: 几何无效：{shapely.is_valid_reason(geom)}")
    if geom.geom_type == "Polygon":
        geom = shapely.MultiPolygon([geom])
    district = _district_of(session, geom)
    if district is None:
        raise InvalidInput("geometry: 楼栋位于广东省范围外（经纬度是否颠倒？）",
                           code="outside_guangdong")
    return func.ST_GeomFromWKB(shapely.to_wkb(geom), WGS84), district


def _district_of(session: Session, geom) -> str | None:
    """A point's district (on a border: the lower adcode); a footprint's by largest overlap,
    as parcels are placed (a footprint just off the coast goes to the nearest district)."""
    if geom.geom_type == "Point":
        return session.scalar(text(
            "SELECT adcode FROM district_part "
            "WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
            "ORDER BY adcode LIMIT 1"), {"lon": geom.x, "lat": geom.y})
    adcodes, _ = district_index(session=session).assign(np.array([geom], dtype=object))
    return adcodes[0]


def create_building(*, session: Session, geometry: Any, properties: dict,
                    principal: Principal = OPERATOR) -> tuple[dict, str]:
    """Create one building from a GeoJSON geometry and its properties."""
    values = _check_properties(properties)
    geom, district = _checked_place(session, geometry)
    access.require_manage(principal, [district])
    building_id = session.scalar(
        insert(Building).values(**values, geom=geom, district=district).returning(Building.id))
    return get_building(session=session, building_id=building_id, principal=principal)


def lock_building(session: Session, building_id: int) -> Building:
    """The building, locked until the transaction ends (read-modify-write, split transfer)."""
    building = session.scalars(
        select(Building).where(Building.id == building_id)
        .with_for_update(of=Building).execution_options(populate_existing=True)
    ).one_or_none()
    if building is None:
        raise NotFound(f"楼栋 {building_id} 不存在")
    return building


def update_building(*, session: Session, building_id: int, geometry: Any | None,
                    properties: dict, principal: Principal = OPERATOR,
                    if_match: list[str] | None = None) -> tuple[dict, str]:
    """Change only what ``geometry``/``properties`` name; the result is checked whole."""
    building = lock_building(session, building_id)
    version = session.scalar(select(literal_column("building.xmin::text"))
                             .select_from(Building).where(Building.id == building_id))
    access.require_manage(principal, [building.district])
    check_if_match(if_match, etag(building_id, version), f"楼栋 {building_id} ")
    values = _check_properties({f: getattr(building, f) for f in FIELDS} | properties)
    if geometry is not None:
        values["geom"], values["district"] = _checked_place(session, geometry)
        access.require_manage(principal, [values["district"]])
    _check_what_it_holds(session, building_id, values)
    session.execute(update(Building).where(Building.id == building_id)
                    .values(**values, updated_at=func.now()))
    session.expire(building)
    return get_building(session=session, building_id=building_id, principal=principal)


def _check_what_it_holds(session: Session, building_id: int, values: dict) -> None:
    """A building may not shrink below its units or its live listings."""
    floors, total = values["floors"], values["total_floor_area_m2"]
    units = session.execute(select(BuildingUnit.floors, BuildingUnit.area_m2)
                            .where(BuildingUnit.building_id == building_id)).all()
    highest = max((f for u in units for f in (u.floors or ())), default=0)
    if highest > floors:
        raise InvalidInput(f"floors: 楼栋已有分割单元位于第 {highest} 层，层数不能少于 {highest}",
                           code="units_beyond_floors")
    unit_area = sum((u.area_m2 for u in units), Decimal(0))
    if unit_area > total:
        raise InvalidInput(f"total_floor_area_m2: 已有分割单元合计 {unit_area} ㎡，"
                           f"总建筑面积不能小于此数", code="units_exceed_building")
    live = session.execute(
        select(func.max(Listing.floor), func.max(Listing.area_m2))
        .where(Listing.building_id == building_id,
               Listing.status.in_((ListingStatus.draft, ListingStatus.published)))
    ).one()
    if live[0] is not None and live[0] > floors:
        raise InvalidInput(f"floors: 楼栋有在用房源位于第 {live[0]} 层，层数不能少于 {live[0]}",
                           code="listings_beyond_floors")
    if live[1] is not None and live[1] > total:
        raise InvalidInput(f"total_floor_area_m2: 楼栋有在用房源面积 {live[1]} ㎡，"
                           "总建筑面积不能小于此数", code="listing_exceeds_building")
