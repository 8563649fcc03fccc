"""Demands (用地需求): create, read, change while open, withdraw or fulfil.

Who sees a demand (docs/matching.md): its owner enterprise, every member of its owner
consortium, bureaus whose jurisdiction meets the demand's ``scope`` (the owner's registered
district, the districts it names, the district of its point or polygon), admins. Anybody
else gets 404, anonymous callers 401. Only the owner (an enterprise, a consortium member)
or an admin writes a demand; bureaus read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import orjson
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session, aliased

from landsvc import access, lists
from landsvc.access import OPERATOR, Principal
from landsvc.demands.models import Demand, DemandKind, DemandStatus
from landsvc.districts.models import District
from landsvc.districts.service import division_exists
from landsvc.enterprises import service as enterprises
from landsvc.enterprises.models import Consortium, ConsortiumMember, Enterprise
from landsvc.enterprises.tiers import Tier
from landsvc.errors import Conflict, Forbidden, InvalidGeometry, InvalidInput, NotFound
from landsvc.etags import check_if_match, etag
from landsvc.fields import amount_field, choice_field, count_field, industry_code_field, number
from landsvc.geo import (
    GUANGDONG_BOUNDS,
    M2_PER_MU,
    WGS84,
    adcode_prefix,
    feature,
    shape_from_geojson,
)
from landsvc.lifecycle import Lifecycle, move
from landsvc.offerings.models import Offering, OfferingStatus, SupplyMode
from landsvc.parks.models import Park
from landsvc.tokens.models import Role

D = DemandStatus

LIFECYCLE = Lifecycle("用地需求", {
    "withdraw": move({D.open, D.matched}, D.withdrawn),
    "fulfil": move({D.open, D.matched}, D.fulfilled),
})
"""open → (matched, set by allocation) → fulfilled | withdrawn."""

MAX_RADIUS_KM = 200
"""A radius beyond this covers most of the province: name districts instead."""

_ARRAYS = ("kinds", "districts", "parks", "supply_modes")
FIELDS = ("kinds", "area_min_m2", "area_max_m2", "districts", "parks", "near", "within",
          "supply_modes", "max_price_wan", "max_annual_rent_yuan", "max_rent_yuan_per_m2_month",
          "term_years", "industry_code", "power_kva", "floor_load_kn_m2", "clear_height_m",
          "needed_by_date", "offering_id")


# -- access -------------------------------------------------------------------------------
def _member_of(uscc: str | None) -> ColumnElement:
    return Demand.consortium_id.in_(
        select(ConsortiumMember.consortium_id).where(ConsortiumMember.uscc == uscc))


def visible(principal: Principal | None) -> ColumnElement:
    """The demands ``principal`` may read (nothing is public)."""
    access.require_role(principal, Role.enterprise, Role.bureau, Role.admin)
    if principal.role is Role.admin:
        return true()
    if principal.role is Role.enterprise:
        return or_(Demand.enterprise_uscc == principal.enterprise_uscc,
                   _member_of(principal.enterprise_uscc))
    if not principal.jurisdiction:
        return false()
    code = func.unnest(Demand.scope).table_valued("code").render_derived()
    j = principal.jurisdiction
    return exists(select(literal(1)).select_from(code).where(
        or_(code.c.code.startswith(j), literal(j).startswith(code.c.code))))


def _require_owner(session: Session, principal: Principal | None, uscc: str | None,
                   consortium_id: int | None) -> None:
    """Writes: the owner enterprise, a member of the owner consortium, or an admin."""
    principal = access.require_role(principal, Role.enterprise, Role.bureau, Role.admin)
    if principal.role is Role.admin:
        return
    me = principal.enterprise_uscc
    if principal.role is Role.enterprise:
        if uscc is not None and uscc == me:
            return
        if consortium_id is not None and session.scalar(
                select(literal(1)).where(ConsortiumMember.consortium_id == consortium_id,
                                         ConsortiumMember.uscc == me)):
            return
    raise Forbidden("只有需求方企业（或联合竞买体成员）可以提出或修改用地需求",
                           code="not_owner")


# -- reading ------------------------------------------------------------------------------
def _geometry_sql():
    return func.ST_AsGeoJSON(func.coalesce(Demand.within_geom, Demand.near_point), 7)


READ_COLUMNS = (Demand, _geometry_sql().label("geometry"),
                 func.ST_X(Demand.near_point).label("near_lon"),
                 func.ST_Y(Demand.near_point).label("near_lat"),
                 func.ST_AsGeoJSON(Demand.within_geom, 7).label("within"),
                 literal_column("demand.xmin::text").label("version"))



def _mu(value) -> float | None:
    return None if value is None else round(float(value) / M2_PER_MU, 4)


def owner_tiers(session: Session, demands: list[Demand], on: date | None = None
                ) -> dict[int, Tier]:
    """The tier in force today of each demand's owner."""
    usccs = {d.enterprise_uscc for d in demands if d.enterprise_uscc}
    consortia = {d.consortium_id for d in demands if d.consortium_id}
    of_enterprise = {u: enterprises.enterprise_tier(session, u, on) for u in usccs}
    of_consortium = enterprises.consortium_tiers(session, consortia, on) if consortia else {}
    return {d.id: (of_enterprise.get(d.enterprise_uscc) if d.enterprise_uscc
                   else of_consortium.get(d.consortium_id)) or Tier.none for d in demands}


def as_feature(d: Demand, row, tier: Tier, principal: Principal | None) -> dict[str, Any]:
    near = None
    if d.near_point is not None:
        near = {"lon": round(row.near_lon, 7), "lat": round(row.near_lat, 7),
                "radius_km": float(d.near_radius_m) / 1000}
    mine = principal is not None and principal.role in (Role.admin, Role.enterprise)
    return feature(d.id, row.geometry, {
        "enterprise_uscc": d.enterprise_uscc,
        "consortium_id": d.consortium_id,
        "owner_tier": tier.value,
        "owner_tier_label": tier.label,
        "status": d.status.value,
        "status_label": d.status.label,
        "allowed_actions": LIFECYCLE.allowed(d.status) if mine else [],
        "kinds": list(d.kinds),
        "area_min_m2": number(d.area_min_m2),
        "area_max_m2": number(d.area_max_m2),
        "area_min_mu": _mu(d.area_min_m2),
        "area_max_mu": _mu(d.area_max_m2),
        "districts": list(d.districts),
        "parks": list(d.parks),
        "near": near,
        "within": None if row.within is None else orjson.loads(row.within),
        "supply_modes": list(d.supply_modes),
        "max_price_wan": number(d.max_price_wan),
        "max_annual_rent_yuan": number(d.max_annual_rent_yuan),
        "max_rent_yuan_per_m2_month": number(d.max_rent_yuan_per_m2_month),
        "term_years": d.term_years,
        "industry_code": d.industry_code,
        "power_kva": number(d.power_kva),
        "floor_load_kn_m2": number(d.floor_load_kn_m2),
        "clear_height_m": number(d.clear_height_m),
        "needed_by_date": d.needed_by_date.isoformat() if d.needed_by_date else None,
        "offering_id": d.offering_id,
        "created_at": d.created_at.isoformat(),
        "updated_at": d.updated_at.isoformat(),
    })


def load_demand(session: Session, demand_id: int, principal: Principal | None):
    """The demand row and its read columns; 404 when missing or not the caller's to see."""
    row = session.execute(select(*READ_COLUMNS).where(Demand.id == demand_id,
                                                       visible(principal))).one_or_none()
    if row is None:
        raise NotFound(f"用地需求 {demand_id} 不存在")
    return row


def get_demand(*, session: Session, demand_id: int,
               principal: Principal | None) -> tuple[dict, str]:
    """One demand as a Feature, and its ETag; 404 when missing or not visible."""
    row = load_demand(session, demand_id, principal)
    tier = owner_tiers(session, [row.Demand])[row.Demand.id]
    return as_feature(row.Demand, row, tier, principal), etag(demand_id, row.version)


def search_demands(*, session: Session, status: DemandStatus | None, page: lists.Page,
                   principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """One page of the demands the caller may see (by id), and how many match."""
    where = and_(visible(principal), lists.equals_clause(Demand.status, status))
    rows, matched = lists.fetch_page(session, select(*READ_COLUMNS).order_by(Demand.id),
                                     where=where, page=page, count_from=Demand)
    tiers = owner_tiers(session, [r.Demand for r in rows])
    return [as_feature(r.Demand, r, tiers[r.Demand.id], principal) for r in rows], matched


# -- checking -----------------------------------------------------------------------------
def _list_of(props: Mapping, name: str) -> list:
    value = props.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{name}: 应为列表", code="invalid_value")
    return value


def _area(props: Mapping, bound: str) -> Any:
    m2, mu = props.get(f"area_{bound}_m2"), props.get(f"area_{bound}_mu")
    if m2 is not None and mu is not None:
        raise InvalidInput(f"area_{bound}_m2: 面积用 ㎡ 或亩给出其一，不能同时给出",
                           code="area_unit_twice")
    if mu is not None:
        value = amount_field(props, f"area_{bound}_mu", "面积（亩）", precision=12, scale=4)
        return amount_field({"v": float(value) * M2_PER_MU}, "v", "面积", precision=14, scale=2)
    return amount_field(props, f"area_{bound}_m2", "面积（㎡）", precision=14, scale=2,
                        unit=" ㎡")


def _districts(session: Session, props: Mapping) -> list[str]:
    out = []
    for value in _list_of(props, "districts"):
        text_ = str(value)
        if not text_.isdigit() or len(text_) not in (2, 4, 6):
            raise InvalidInput(f"districts: 应为 2、4 或 6 位行政区划代码（前缀），收到 "
                               f"{text_[:20]!r}", code="invalid_district")
        prefix = adcode_prefix(text_)
        if not division_exists(session=session, prefix=prefix):
            raise InvalidInput(f"districts: 广东省没有行政区划 {text_}", code="unknown_district")
        out.append(prefix)
    return sorted(set(out))


def _parks(session: Session, props: Mapping) -> list[int]:
    ids = _list_of(props, "parks")
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise InvalidInput("parks: 应为园区 id（整数）列表", code="invalid_value")
    ids = sorted(set(ids))
    if not ids:
        return []
    if any(not 0 < i < 2**63 for i in ids):
        raise InvalidInput("parks: 园区 id 须为正整数", code="unknown_park")
    found = set(session.scalars(select(Park.id).where(Park.id.in_(ids))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput(f"parks: 园区 {', '.join(map(str, missing[:10]))} 不存在",
                           code="unknown_park")
    return ids


def _district_at(session: Session, geom) -> str | None:
    return session.scalar(select(District.adcode).where(func.ST_Intersects(District.geom, geom))
                          .order_by(District.adcode).limit(1))


def _near(session: Session, near: Any) -> tuple[Any, Any, str | None]:
    if near is None:
        return None, None, None
    if not isinstance(near, Mapping):
        raise InvalidInput("near: 应为 {lon, lat, radius_km}", code="invalid_value")
    lon, lat, radius = near.get("lon"), near.get("lat"), near.get("radius_km")
    if lon is None or lat is None:
        raise InvalidInput("near: 给出半径（radius_km）须同时给出中心点经纬度（lon、lat）",
                           code="radius_without_point")
    if radius is None:
        raise InvalidInput("near.radius_km: 给出中心点须同时给出半径（km）", code="point_without_radius")
    numbers = (lon, lat, radius)
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers):
        raise InvalidInput("near: lon、lat、radius_km 须为数字", code="invalid_value")
    if not 0 < radius <= MAX_RADIUS_KM:
        raise InvalidInput(f"near.radius_km: 半径须在 0–{MAX_RADIUS_KM} km 之间，收到 {radius}",
                           code="radius_out_of_range")
    minx, miny, maxx, maxy = GUANGDONG_BOUNDS
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), WGS84)
    district = (_district_at(session, point) if minx <= lon <= maxx and miny <= lat <= maxy
                else None)
    if district is None:
        raise InvalidInput(f"near: 中心点 ({lon}, {lat}) 不在广东省内（经纬度是否颠倒？）",
                           code="outside_guangdong")
    return (func.ST_SetSRID(func.ST_MakePoint(lon, lat), WGS84),
            round(radius * 1000, 1), district)


def _within(session: Session, within: Any) -> tuple[Any, str | None]:
    if within is None:
        return None, None
    if not isinstance(within, Mapping) or within.get("type") != "Polygon":
        raise InvalidGeometry("within: 应为 GeoJSON Polygon", code="invalid_geometry")
    shape = shape_from_geojson(dict(within))
    if shape.is_empty or not shape.is_valid:
        raise InvalidGeometry(f"within: 多边形无效：{shapely.is_valid_reason(shape)}")
    minx, miny, maxx, maxy = GUANGDONG_BOUNDS
    bx0, by0, bx1, by1 = shape.bounds
    geom = from_shape(shape, srid=WGS84)
    district = (_district_at(session, func.ST_PointOnSurface(geom))
                if minx <= bx0 and bx1 <= maxx and miny <= by0 and by1 <= maxy else None)
    if district is None:
        raise InvalidGeometry("within: 多边形须在广东省内（其内部一点须落在省内区县）",
                              code="outside_guangdong")
    return geom, district


def _choices(props: Mapping, name: str, enum) -> list[str]:
    return sorted({choice_field({name: v}, name, enum, required=True).value
                   for v in _list_of(props, name)})


def _offering(session: Session, offering_id: Any) -> int | None:
    if offering_id is None:
        return None
    found = session.scalar(select(Offering.id).where(
        Offering.id == offering_id, Offering.status == OfferingStatus.published))
    if found is None:
        raise InvalidInput(f"offering_id: 没有已发布的供地 {offering_id}", code="unknown_offering")
    return found


def _checked(session: Session, props: Mapping) -> tuple[dict[str, Any], list[str]]:
    """The columns of a demand from merged properties, and the districts its place lies in."""
    kinds = _choices(props, "kinds", DemandKind)
    if not kinds:
        raise InvalidInput("kinds: 须说明需要用地（land）、厂房（premises）或两者", code="missing_value")
    low, high = _area(props, "min"), _area(props, "max")
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"area_min_m2: 最小面积 {low} ㎡ 大于最大面积 {high} ㎡",
                           code="area_range")
    near_point, radius_m, near_district = _near(session, props.get("near"))
    within_geom, within_district = _within(session, props.get("within"))
    out = {
        "kinds": kinds, "area_min_m2": low, "area_max_m2": high,
        "districts": _districts(session, props), "parks": _parks(session, props),
        "near_point": near_point, "near_radius_m": radius_m, "within_geom": within_geom,
        "supply_modes": _choices(props, "supply_modes", SupplyMode),
        "max_price_wan": amount_field(props, "max_price_wan", "最高起始价（万元）",
                                      precision=14, scale=2),
        "max_annual_rent_yuan": amount_field(props, "max_annual_rent_yuan", "最高年地租（元）",
                                             precision=16, scale=2),
        "max_rent_yuan_per_m2_month": amount_field(
            props, "max_rent_yuan_per_m2_month", "最高厂房租金（元/㎡·月）", precision=10, scale=2),
        "term_years": count_field(props, "term_years", "年期", 1, 70),
        "industry_code": industry_code_field(props, "industry_code", "行业代码"),
        "power_kva": amount_field(props, "power_kva", "供电容量", precision=10, scale=1),
        "floor_load_kn_m2": amount_field(props, "floor_load_kn_m2", "楼面荷载", precision=6,
                                         scale=2),
        "clear_height_m": amount_field(props, "clear_height_m", "净高", precision=5, scale=2),
        "needed_by_date": props.get("needed_by_date"),
        "offering_id": _offering(session, props.get("offering_id")),
    }
    if out["offering_id"] is not None and "land" not in kinds:
        raise InvalidInput("offering_id: 竞买意向须是用地需求（kinds 含 land）",
                           code="offering_needs_land")
    return out, [d for d in (near_district, within_district) if d]


def _owner_district(session: Session, uscc: str | None, consortium_id: int | None) -> str:
    if uscc is not None:
        district = session.scalar(select(Enterprise.district).where(Enterprise.uscc == uscc))
        if district is None:
            raise InvalidInput(f"enterprise_uscc: 企业 {uscc} 尚未登记", code="unknown_enterprise")
        return district
    district = session.scalar(select(Enterprise.district).join(
        Consortium, Consortium.lead_uscc == Enterprise.uscc).where(Consortium.id == consortium_id))
    if district is None:
        raise InvalidInput(f"consortium_id: 联合竞买体 {consortium_id} 不存在",
                           code="unknown_consortium")
    return district


# -- writes -------------------------------------------------------------------------------
def create_demand(*, session: Session, values: dict[str, Any],
                  principal: Principal = OPERATOR) -> tuple[dict, str]:
    """Register an open demand for its owner (an enterprise token: its own by default)."""
    access.require_role(principal, Role.enterprise, Role.bureau, Role.admin)
    uscc, consortium_id = values.get("enterprise_uscc"), values.get("consortium_id")
    if uscc is None and consortium_id is None and principal.role is Role.enterprise:
        uscc = principal.enterprise_uscc
    if (uscc is None) == (consortium_id is None):
        raise InvalidInput("enterprise_uscc: 需求须由一家企业（enterprise_uscc）或一个联合竞买体"
                           "（consortium_id）提出，二者取一", code="one_owner")
    if uscc is not None:
        uscc = str(uscc).strip().upper()
    owner_district = _owner_district(session, uscc, consortium_id)
    _require_owner(session, principal, uscc, consortium_id)
    columns, places = _checked(session, values)
    _refuse_rival_consortium(session, consortium_id, columns["offering_id"])
    scope = sorted({owner_district, *columns["districts"], *places})
    demand = Demand(enterprise_uscc=uscc, consortium_id=consortium_id, status=D.open,
                    scope=scope, **columns)
    session.add(demand)
    session.flush()
    return get_demand(session=session, demand_id=demand.id, principal=principal)


def _refuse_rival_consortium(session: Session, consortium_id: int | None,
                             offering_id: int | None, except_id: int | None = None) -> None:
    """An enterprise may not sit in two consortia whose open demands name the same offering
    (联合竞买: one bidder, one bid). The offering row is locked, so two consortia filing at
    once are checked one after the other."""
    if consortium_id is None or offering_id is None:
        return
    session.execute(select(Offering.id).where(Offering.id == offering_id).with_for_update())
    ours = aliased(ConsortiumMember)
    theirs = aliased(ConsortiumMember)
    rival = session.execute(
        select(Demand.id, Demand.consortium_id, ours.uscc)
        .join(theirs, theirs.consortium_id == Demand.consortium_id)
        .join(ours, and_(ours.uscc == theirs.uscc, ours.consortium_id == consortium_id))
        .where(Demand.offering_id == offering_id, Demand.status == D.open,
               Demand.consortium_id != consortium_id,
               true() if except_id is None else Demand.id != except_id)
        .order_by(Demand.id).limit(1)
    ).first()
    if rival is not None:
        raise Conflict(
            f"offering_id: 企业 {rival.uscc} 已是联合竞买体 {rival.consortium_id} 的成员，该联合体"
            f"已就供地 {offering_id} 提出竞买需求 {rival.id}；同一企业不能参加两个联合体竞买同一宗供地",
            code="member_in_rival_consortium",
            extra={"demand_id": rival.id, "consortium_id": rival.consortium_id,
                   "uscc": rival.uscc})


def _locked(session: Session, demand_id: int, principal: Principal | None
            ) -> tuple[Demand, str]:
    row = load_demand(session, demand_id, principal)
    _require_owner(session, principal, row.Demand.enterprise_uscc, row.Demand.consortium_id)
    demand, version = session.execute(
        select(Demand, literal_column("demand.xmin::text")).where(Demand.id == demand_id)
        .with_for_update().execution_options(populate_existing=True)).one()
    return demand, etag(demand_id, version)


def _stored(session: Session, d: Demand) -> dict[str, Any]:
    """A demand's columns as properties, so a PATCH can be merged and checked whole."""
    props = {f: getattr(d, f) for f in FIELDS if f not in ("near", "within")}
    for f in ("area_min_m2", "area_max_m2", "max_price_wan", "max_annual_rent_yuan",
              "max_rent_yuan_per_m2_month", "power_kva", "floor_load_kn_m2", "clear_height_m"):
        props[f] = number(props[f])
    props |= {f: list(props[f]) for f in _ARRAYS}
    row = session.execute(select(func.ST_X(Demand.near_point), func.ST_Y(Demand.near_point),
                                 func.ST_AsGeoJSON(Demand.within_geom))
                          .where(Demand.id == d.id)).one()
    props["near"] = (None if row[0] is None else
                     {"lon": row[0], "lat": row[1], "radius_km": float(d.near_radius_m) / 1000})
    props["within"] = None if row[2] is None else orjson.loads(row[2])
    return props


def update_demand(*, session: Session, demand_id: int, changes: dict[str, Any],
                  principal: Principal = OPERATOR,
                  if_match: list[str] | None = None) -> tuple[dict, str]:
    """Change an open demand: only the fields ``changes`` names, the result checked whole."""
    demand, current = _locked(session, demand_id, principal)
    check_if_match(if_match, current, f"用地需求 {demand_id} ")
    if demand.status is not D.open:
        raise Conflict(f"用地需求 {demand_id} 已是「{demand.status.label}」（{demand.status.value}），"
                       "只有待匹配（open）的需求可以修改", code="demand_not_open")
    merged = _stored(session, demand)
    for bound in ("min", "max"):
        if changes.get(f"area_{bound}_mu") is not None:
            merged.pop(f"area_{bound}_m2", None)
    merged |= changes
    columns, places = _checked(session, merged)
    _refuse_rival_consortium(session, demand.consortium_id, columns["offering_id"],
                             except_id=demand_id)
    owner_district = _owner_district(session, demand.enterprise_uscc, demand.consortium_id)
    scope = sorted({owner_district, *columns["districts"], *places})
    session.execute(update(Demand).where(Demand.id == demand_id)
                    .values(**columns, scope=scope, updated_at=func.now()))
    session.expire(demand)
    return get_demand(session=session, demand_id=demand_id, principal=principal)


def transition_demand(*, session: Session, demand_id: int, action: str,
                      principal: Principal = OPERATOR,
                      if_match: list[str] | None = None) -> tuple[dict, str]:
    """Withdraw or fulfil a demand (``matched`` is set by an allocation's confirmation)."""
    demand, current = _locked(session, demand_id, principal)
    check_if_match(if_match, current, f"用地需求 {demand_id} ")
    target = LIFECYCLE.target(demand.status, action)
    session.execute(update(Demand).where(Demand.id == demand_id)
                    .values(status=target, updated_at=func.now()))
    session.expire(demand)
    return get_demand(session=session, demand_id=demand_id, principal=principal)
