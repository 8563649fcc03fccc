"""Buildings (public inventory) and their split transfer (分割转让): units and transfers."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from sqlalchemy import ColumnElement, and_, func, insert, literal_column, select, text, update
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import OPERATOR, Principal
from landsvc.buildings.models import Building, BuildingType, BuildingUnit, UnitTransfer
from landsvc.buildings.rules import MANUFACTURING_SECTION, SplitTransferRules, lock_end
from landsvc.db import LabelledEnum
from landsvc.districts.models import District
from landsvc.districts.service import district_index
from landsvc.enterprises.tiers import uscc_well_formed
from landsvc.errors import InvalidGeometry, InvalidInput, NotFound
from landsvc.etags import check_if_match, etag
from landsvc.geo import WGS84, bbox_clause, feature, shape_from_geojson
from landsvc.listings.models import Listing, ListingStatus
from landsvc.policies.service import effective

CHINA = ZoneInfo("Asia/Shanghai")

FIELDS = ("name", "building_type", "floors", "total_floor_area_m2", "completed", "holder_uscc",
          "holder_name", "holder_industry_code", "freight_lift")
"""The writable properties of a building."""

MAX_FLOORS = 200
INDUSTRY_CODE = re.compile(r"[A-T][0-9]{2,4}")
"""GB/T 4754-2017: a section letter A–T and a division, group or class of 2–4 digits."""


def today() -> date:
    """Today in China (Beijing time), whatever the server's zone."""
    return datetime.now(CHINA).date()


# -- field checks (listings use them too) ---------------------------------------------------
def text_field(props: Mapping, name: str, label: str, max_length: int, *,
               required: bool = False) -> str | None:
    """A trimmed text property, None when absent or blank."""
    value = props.get(name)
    value = value.strip() if isinstance(value, str) else value
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{name}: 缺少{label}", code="missing_value")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name}: {label}应为文本", code="invalid_value")
    if len(value) > max_length:
        raise InvalidInput(f"{name}: {label}超过 {max_length} 个字符", code="too_long")
    return value


def choice_field(props: Mapping, name: str, enum: type[LabelledEnum], *,
                 required: bool = False, default: LabelledEnum | None = None):
    """An enum property given by its English identifier or Chinese label."""
    value = props.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{name}: 缺少取值（可用：{_choices(enum)}）", code="missing_value")
        return default
    lookup = enum.lookup()
    found = lookup.get(value) or lookup.get(str(value).strip().lower())
    if found is None:
        raise InvalidInput(f"{name}: 无法识别的值 {str(value)[:40]!r}（可用：{_choices(enum)}）",
                           code="invalid_value")
    return enum(found)


def _choices(enum: type[LabelledEnum]) -> str:
    return "、".join(f"{m.value}/{m.label}" for m in enum)


def count_field(props: Mapping, name: str, label: str, low: int, high: int, *,
                required: bool = False, code: str = "out_of_range") -> int | None:
    """A whole number property within ``low``–``high``."""
    value = props.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name}: 缺少{label}", code="missing_value")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name}: {label}应为整数", code="invalid_value")
    if not low <= value <= high:
        raise InvalidInput(f"{name}: {label}须在 {low}–{high} 之间，收到 {_shown(value)}",
                           code=code)
    return value


def amount_field(props: Mapping, name: str, label: str, *, precision: int, scale: int,
                 required: bool = False, unit: str = "") -> Decimal | None:
    """A positive number property, rounded as its NUMERIC(precision, scale) column keeps it."""
    value = props.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name}: 缺少{label}", code="missing_value")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidInput(f"{name}: {label}应为数字", code="invalid_value")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{name}: {label}应为有限的数字", code="invalid_value")
    try:
        rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-scale), ROUND_HALF_UP)
    except InvalidOperation:
        rounded = Decimal("Infinity")
    limit = Decimal(10) ** (precision - scale)
    if not rounded > 0 or not rounded < limit:
        step = Decimal(1).scaleb(-scale)
        raise InvalidInput(f"{name}: {label}保留 {scale} 位小数后须在 {step}–{limit - step}"
                           f"{unit} 之间，收到 {_shown(value)}", code="out_of_range")
    return rounded


def _shown(value: Any) -> str:
    text_ = str(value)
    return text_ if len(text_) <= 24 else text_[:24] + "…"


def _flag(props: Mapping, name: str, default: bool = False) -> bool:
    value = props.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidInput(f"{name}: 应为 true 或 false", code="invalid_value")
    return value


def uscc_field(props: Mapping, name: str, label: str, *, required: bool = False) -> str | None:
    """A USCC property in GB 32100 form (upper case)."""
    value = text_field(props, name, label, 18 * 4, required=required)
    if value is None:
        return None
    value = value.upper()
    if not uscc_well_formed(value):
        raise InvalidInput(f"{name}: {label} {_shown(value)!r} 不符合 GB 32100 格式"
                           "（18 位，数字与大写字母，不含 I、O、S、V、Z）", code="invalid_uscc")
    return value


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
    industry = text_field(props, "holder_industry_code", "权利人行业代码", 5 * 4)
    if industry is not None:
        industry = industry.upper()
        if not INDUSTRY_CODE.fullmatch(industry):
            raise InvalidInput(
                f"holder_industry_code: 行业代码 {_shown(industry)!r} 不符合 GB/T 4754-2017"
                "（门类字母 A–T 加 2–4 位数字，如 C39、C3971）", code="invalid_industry_code")
    return {
        "name": text_field(props, "name", "楼栋名称", 200, required=True),
        "building_type": choice_field(props, "building_type", BuildingType, required=True),
        "floors": count_field(props, "floors", "层数", 1, MAX_FLOORS, required=True),
        "total_floor_area_m2": amount_field(props, "total_floor_area_m2", "总建筑面积",
                                            precision=14, scale=2, required=True, unit=" ㎡"),
        "completed": _flag(props, "completed"),
        "holder_uscc": uscc_field(props, "holder_uscc", "权利人统一社会信用代码"),
        "holder_name": text_field(props, "holder_name", "权利人名称", 200),
        "holder_industry_code": industry,
        "freight_lift": _flag(props, "freight_lift"),
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


# -- split transfer -----------------------------------------------------------------------
def _rules(session: Session, building: Building) -> SplitTransferRules:
    return effective(session, "split_transfer", building.district)


def _check_splittable(building: Building, rules: SplitTransferRules) -> None:
    """Only a completed building held by a manufacturer may be split and its units sold."""
    if rules.require_completed and not building.completed:
        raise InvalidInput(f"楼栋「{building.name}」尚未竣工验收（completed=false）：只有已竣工、"
                           "已确权登记的工业物业可以分割转让", code="building_not_completed")
    if not building.holder_uscc:
        raise InvalidInput(f"楼栋「{building.name}」未登记权利人（holder_uscc），不能分割转让",
                           code="holder_unknown")
    industry = building.holder_industry_code
    if rules.require_manufacturer and not (industry or "").startswith(MANUFACTURING_SECTION):
        raise InvalidInput(
            f"楼栋权利人行业代码为 {industry or '空'}：只有制造业企业（GB/T 4754 门类 C）"
            "的工业物业可以分割转让", code="holder_not_manufacturer")


@dataclass
class _Split:
    """A building's units and their transfers (oldest first), read under the building lock."""

    building: Building
    units: list[BuildingUnit]
    transfers: dict[int, list[UnitTransfer]]

    def holder_of(self, unit: BuildingUnit) -> tuple[str | None, str | None]:
        chain = self.transfers.get(unit.id)
        if chain:
            return chain[-1].buyer_uscc, chain[-1].buyer_name
        return self.building.holder_uscc, self.building.holder_name

    def holder_area(self) -> Decimal:
        """The floor area the building's holder still holds."""
        others = sum((u.area_m2 for u in self.units
                      if self.holder_of(u)[0] != self.building.holder_uscc), Decimal(0))
        return self.building.total_floor_area_m2 - others

    def unit_dict(self, unit: BuildingUnit) -> dict[str, Any]:
        chain = self.transfers.get(unit.id, [])
        holder_uscc, holder_name = self.holder_of(unit)
        return {
            "id": unit.id,
            "building_id": unit.building_id,
            "floors": list(unit.floors) if unit.floors is not None else None,
            "whole_building": unit.whole_building,
            "area_m2": float(unit.area_m2),
            "holder_uscc": holder_uscc,
            "holder_name": holder_name,
            "locked_until": chain[-1].locked_until.isoformat() if chain else None,
            "transfers": [{
                "id": t.id,
                "seller_uscc": t.seller_uscc,
                "buyer_uscc": t.buyer_uscc,
                "buyer_name": t.buyer_name,
                "chain_partner": t.chain_partner,
                "date": t.transfer_date.isoformat(),
                "locked_until": t.locked_until.isoformat(),
            } for t in chain],
            "created_at": unit.created_at.isoformat(),
        }

    def summary(self) -> dict[str, Any]:
        total = self.building.total_floor_area_m2
        held = self.holder_area()
        return {
            "building_id": self.building.id,
            "holder_uscc": self.building.holder_uscc,
            "holder_area_m2": float(held),
            "holder_share_percent": float((held * 100 / total).quantize(Decimal("0.01"))),
        }


def _split_of(session: Session, building: Building,
              unit_ids: list[int] | None = None) -> _Split:
    """The building's units (or only ``unit_ids``) and their transfers."""
    query = select(BuildingUnit).where(BuildingUnit.building_id == building.id)
    if unit_ids is not None:
        query = query.where(BuildingUnit.id == func.any(unit_ids))
    units = list(session.scalars(query.order_by(BuildingUnit.id)))
    transfers: dict[int, list[UnitTransfer]] = {}
    if units:
        rows = session.scalars(
            select(UnitTransfer).where(UnitTransfer.unit_id == func.any([u.id for u in units]))
            .order_by(UnitTransfer.transfer_date, UnitTransfer.id))
        for t in rows:
            transfers.setdefault(t.unit_id, []).append(t)
    return _Split(building, units, transfers)


def _require_split_reader(session: Session, principal: Principal | None,
                          building: Building) -> None:
    """Property records are not public (不动产登记资料): bureaus in the jurisdiction, admins,
    the building's holder and any enterprise that bought a unit of it."""
    uscc = principal.enterprise_uscc if principal is not None else None
    if uscc and uscc == building.holder_uscc:
        return
    if uscc and session.scalar(
        select(UnitTransfer.id).join(BuildingUnit, BuildingUnit.id == UnitTransfer.unit_id)
        .where(BuildingUnit.building_id == building.id, UnitTransfer.buyer_uscc == uscc).limit(1)
    ) is not None:
        return
    access.require_manage(principal, [building.district])


def list_units(*, session: Session, building_id: int, page: lists.Page,
               principal: Principal | None) -> tuple[list[dict], lists.Matched, dict]:
    """One page of a building's units (by id), how many in all, and the holder's share."""
    building = session.get(Building, building_id)
    if building is None:
        raise NotFound(f"楼栋 {building_id} 不存在")
    _require_split_reader(session, principal, building)
    rows, matched = lists.fetch_page(
        session, select(BuildingUnit.id).order_by(BuildingUnit.id),
        where=BuildingUnit.building_id == building_id, page=page, count_from=BuildingUnit)
    whole = _split_of(session, building)
    on_page = {r.id for r in rows}
    items = [whole.unit_dict(u) for u in whole.units if u.id in on_page]
    return items, matched, whole.summary()


def get_unit(*, session: Session, unit_id: int, principal: Principal | None) -> dict:
    """One unit with its transfers."""
    building_id = session.scalar(select(BuildingUnit.building_id).where(BuildingUnit.id == unit_id))
    if building_id is None:
        raise NotFound(f"分割单元 {unit_id} 不存在")
    building = session.get(Building, building_id)
    _require_split_reader(session, principal, building)
    split = _split_of(session, building, [unit_id])
    return split.unit_dict(split.units[0])


def define_unit(*, session: Session, building_id: int, body: Mapping,
                principal: Principal = OPERATOR) -> dict:
    """Record a unit of whole floors or the whole building (分割单元)."""
    building = lock_building(session, building_id)
    access.require_manage(principal, [building.district])
    _check_splittable(building, _rules(session, building))
    floors, whole = body.get("floors"), _flag(body, "whole_building")
    if whole == bool(floors) or (whole and floors is not None):
        raise InvalidInput("floors: 单元须为整栋（whole_building: true）或若干整层（floors: [层号…]），"
                           "二者取一", code="unit_floors_or_whole_building")
    area = amount_field(body, "area_m2", "单元建筑面积", precision=14, scale=2, required=True,
                        unit=" ㎡")
    split = _split_of(session, building)
    if whole:
        if split.units:
            raise InvalidInput(f"whole_building: 楼栋已有 {len(split.units)} 个分割单元，"
                               "整栋单元不能与其他单元并存", code="unit_overlaps_whole_building")
    else:
        floors = _checked_floors(floors, building)
        for unit in split.units:
            if unit.whole_building:
                raise InvalidInput(f"floors: 楼栋已整栋分割为单元 {unit.id}，不能再按层分割",
                                   code="unit_overlaps_whole_building")
            shared = sorted(set(floors) & set(unit.floors))
            if shared:
                raise InvalidInput(f"floors: 第 {'、'.join(map(str, shared))} 层已属于单元 {unit.id}"
                                   "：一层只能属于一个单元", code="unit_floors_overlap")
    taken = sum((u.area_m2 for u in split.units), Decimal(0))
    total = building.total_floor_area_m2
    if taken + area > total:
        raise InvalidInput(
            f"area_m2: 各单元面积合计不得超过楼栋总建筑面积 {total} ㎡：已有单元 {taken} ㎡，"
            f"本单元 {area} ㎡，最多还可 {total - taken} ㎡", code="units_exceed_building",
            extra={"total_floor_area_m2": float(total), "units_area_m2": float(taken),
                   "available_m2": float(total - taken)})
    unit_id = session.scalar(insert(BuildingUnit).values(
        building_id=building_id, floors=None if whole else floors, whole_building=whole,
        area_m2=area).returning(BuildingUnit.id))
    split = _split_of(session, building, [unit_id])
    return split.unit_dict(split.units[0])


def _checked_floors(floors: Any, building: Building) -> list[int]:
    if not isinstance(floors, list) or not all(
            isinstance(f, int) and not isinstance(f, bool) for f in floors):
        raise InvalidInput("floors: 应为楼层号（整数）列表", code="invalid_value")
    outside = sorted({f for f in floors if not 1 <= f <= building.floors})
    if outside:
        shown = "、".join(_shown(f) for f in outside[:5])
        raise InvalidInput(f"floors: 楼层须在 1–{building.floors} 之间（楼栋「{building.name}」"
                           f"共 {building.floors} 层），收到 {shown}", code="unit_floor_out_of_range")
    repeated = sorted({f for f in floors if floors.count(f) > 1})
    if repeated:
        raise InvalidInput(f"floors: 第 {'、'.join(map(str, repeated))} 层重复", code="invalid_value")
    return sorted(floors)


def transfer_unit(*, session: Session, unit_id: int, body: Mapping,
                  principal: Principal = OPERATOR) -> dict:
    """Record the transfer of a unit to an industry-chain partner, under the rules in force in
    the building's district; the building stays locked while they are checked."""
    building_id = session.scalar(select(BuildingUnit.building_id).where(BuildingUnit.id == unit_id))
    if building_id is None:
        raise NotFound(f"分割单元 {unit_id} 不存在")
    building = lock_building(session, building_id)
    access.require_manage(principal, [building.district])
    rules = _rules(session, building)
    _check_splittable(building, rules)
    if body.get("chain_partner") is not True:
        raise InvalidInput("chain_partner: 受让人须为转让人的产业链合作企业（chain_partner: true）",
                           code="not_chain_partner")
    buyer = uscc_field(body, "buyer_uscc", "受让人统一社会信用代码", required=True)
    buyer_name = text_field(body, "buyer_name", "受让人名称", 200, required=True)
    on = body.get("date") or today()
    if on > today():
        raise InvalidInput(f"date: 转让日期 {on} 晚于今天（{today()}）", code="transfer_date_in_future")

    split = _split_of(session, building)
    unit = next(u for u in split.units if u.id == unit_id)
    seller, _ = split.holder_of(unit)
    if buyer == seller:
        raise InvalidInput(f"buyer_uscc: 受让人 {buyer} 已是单元 {unit_id} 的现权利人",
                           code="buyer_is_holder")
    chain = split.transfers.get(unit_id, [])
    if chain:
        last = chain[-1]
        if on < last.transfer_date:
            raise InvalidInput(f"date: 转让日期 {on} 早于该单元上一次转让（{last.transfer_date}）",
                               code="transfer_before_previous")
        if on <= last.locked_until:
            lifts = last.locked_until + timedelta(days=1)
            raise InvalidInput(
                f"date: 单元 {unit_id} 于 {last.transfer_date} 转让，锁定至 {last.locked_until}"
                f"（含）不得再次转让，{lifts} 起方可转让", code="resale_locked",
                extra={"locked_until": last.locked_until.isoformat(),
                       "lifts_on": lifts.isoformat()})
    if seller == building.holder_uscc:
        _check_holder_share(split, unit, rules)
    session.add(UnitTransfer(
        unit_id=unit_id, seller_uscc=seller, buyer_uscc=buyer, buyer_name=buyer_name,
        chain_partner=True, transfer_date=on,
        locked_until=lock_end(on, rules.resale_lock_years)))
    session.flush()
    split = _split_of(session, building, [unit_id])
    return split.unit_dict(split.units[0])


def _check_holder_share(split: _Split, unit: BuildingUnit, rules: SplitTransferRules) -> None:
    """The original holder keeps at least the minimum share of the floor area."""
    total = split.building.total_floor_area_m2
    after = split.holder_area() - unit.area_m2
    minimum_percent = Decimal(str(rules.holder_min_share_percent))
    if after * 100 >= minimum_percent * total:
        return
    minimum = (total * minimum_percent / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    share = (after * 100 / total).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    raise InvalidInput(
        f"转让后原权利人 {split.building.holder_uscc} 仅持有 {after} ㎡，占总建筑面积 {total} ㎡ 的 "
        f"{share} %，低于 {minimum_percent.normalize():f} % 的下限（须至少保留 {minimum} ㎡；"
        f"本单元 {unit.area_m2} ㎡）", code="holder_share_below_minimum",
        extra={"holder_area_after_m2": float(after), "holder_share_after_percent": float(share),
               "minimum_share_percent": float(minimum_percent),
               "minimum_area_m2": float(minimum)})
