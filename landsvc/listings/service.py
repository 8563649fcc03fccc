"""Listings (房源): factory space and affordable rental housing to let, in a building."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, literal_column, select, true, update
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import OPERATOR, Principal
from landsvc.buildings.models import Building
from landsvc.districts.models import District
from landsvc.errors import Conflict, InvalidInput, NotFound
from landsvc.etags import check_if_match, etag
from landsvc.fields import amount_field, choice_field, count_field, number, text_field
from landsvc.geo import bbox_clause, feature
from landsvc.guidelines import service as guidelines
from landsvc.lifecycle import Lifecycle, move
from landsvc.listings.models import LandlordKind, Listing, ListingKind, ListingStatus
from landsvc.notifications import service as notifications
from landsvc.tokens.models import Role

LISTING_LIFECYCLE = Lifecycle("房源", {
    "publish": move({ListingStatus.draft}, ListingStatus.published),
    "let": move({ListingStatus.published}, ListingStatus.let),
    "withdraw": move({ListingStatus.draft, ListingStatus.published}, ListingStatus.withdrawn),
})
"""draft → published → let; withdrawn from draft or published."""

EDITABLE = (ListingStatus.draft, ListingStatus.published)
"""A listing may be changed while it is a draft or on offer; let and withdrawn are records."""

FACTORY_KINDS = (ListingKind.factory, ListingKind.standard_factory)

FIELDS = ("kind", "floor", "area_m2", "rent_yuan_per_m2_month", "units",
          "rent_yuan_per_unit_month", "floor_load_kn_m2", "clear_height_m", "freight_lift",
          "power_kva", "landlord", "landlord_kind", "owner_authorisation_ref")
"""The writable properties of a listing (besides ``building_id``, fixed at creation)."""

MAX_UNITS = 100_000

WRITERS = (Role.enterprise, Role.bureau, Role.admin)
"""Roles that may write a listing at all (which ones: :func:`_require_landlord_rights`)."""


# -- access -------------------------------------------------------------------------------
def visible(principal: Principal | None) -> ColumnElement:
    """Published listings for everybody; all in a bureau's jurisdiction; all on the buildings
    an enterprise holds."""
    return access.read_filter(principal, public=Listing.status == ListingStatus.published,
                              district=Building.district, owner=Building.holder_uscc)


def _require_landlord_rights(principal: Principal | None, building: Building) -> None:
    """Listings on a building are written by its holder enterprise (as owner landlord), a
    bureau governing its district, or an admin."""
    if (building.holder_uscc and principal is not None
            and principal.enterprise_uscc == building.holder_uscc):
        access.require_owner(principal, building.holder_uscc, district=building.district)
        return
    access.require_manage(principal, [building.district])


# -- search -------------------------------------------------------------------------------
def _rent_per_m2() -> ColumnElement:
    """元/㎡·月 of any listing: a factory's asking rent; housing's rent of all its units over
    its area."""
    return func.coalesce(Listing.rent_yuan_per_m2_month,
                         Listing.rent_yuan_per_unit_month * Listing.units / Listing.area_m2)


@dataclass(frozen=True)
class ListingFilter:
    bbox: tuple[float, float, float, float] | None = None
    kind: ListingKind | None = None
    status: ListingStatus | None = None
    district: str | None = None
    park: int | None = None
    building_id: int | None = None
    min_area_m2: float | None = None
    max_area_m2: float | None = None
    max_rent: float | None = None
    """元/㎡·月; housing is compared by its rent per ㎡ (per-unit rent × units / area)."""
    max_rent_per_unit: float | None = None
    """元/套·月; only housing has one, so factories never match it."""
    flag: str | None = None
    """``above_guideline``: published factory listings asking more than the guideline's P75
    plus the margin (bureaus inside their jurisdiction, admins)."""

    def clauses(self) -> list[ColumnElement]:
        return [
            bbox_clause(Building.geom, self.bbox),
            lists.equals_clause(Listing.kind, self.kind),
            lists.equals_clause(Listing.status, self.status),
            lists.adcode_prefix_clause(Building.district, self.district),
            lists.equals_clause(Building.park_id, self.park),
            lists.equals_clause(Listing.building_id, self.building_id),
            lists.range_clause(Listing.area_m2, self.min_area_m2, self.max_area_m2),
            true() if self.max_rent is None else _rent_per_m2() <= self.max_rent,
            lists.range_clause(Listing.rent_yuan_per_unit_month, high=self.max_rent_per_unit),
        ]


_READ_COLUMNS = (
    Listing.id, Listing.building_id, Building.name.label("building_name"),
    Building.building_type, Listing.kind, Listing.status, Listing.floor, Listing.area_m2,
    Listing.rent_yuan_per_m2_month, Listing.units, Listing.rent_yuan_per_unit_month,
    Listing.floor_load_kn_m2, Listing.clear_height_m, Listing.freight_lift, Listing.power_kva,
    Listing.landlord, Listing.landlord_kind, Listing.owner_authorisation_ref,
    Building.district, District.name.label("district_name"), Building.park_id,
    Listing.published_at, Listing.created_at, Listing.updated_at,
    func.ST_AsGeoJSON(Building.geom, 7).label("geometry"),
    literal_column("listing.xmin::text").label("version"),
)

_LISTING_BUILDING = Listing.__table__.join(Building.__table__,
                                           Building.id == Listing.building_id)
"""What a listing search filters: the listing and its building (joined by primary key)."""


FLAGS = ("above_guideline",)


def _with_guideline():
    """The listing and its building, with the guideline item in force today (lateral)."""
    guideline = guidelines.listing_guideline(Building)
    return _LISTING_BUILDING.outerjoin(guideline, true()), guideline


def _above_guideline(guideline) -> ColumnElement:
    """A published factory listing asking more than P75 × (1 + margin/100)."""
    return and_(Listing.status == ListingStatus.published, Listing.kind.in_(FACTORY_KINDS),
                guideline.c.g_p75.is_not(None),
                Listing.rent_yuan_per_m2_month
                > guideline.c.g_p75 * (1 + guideline.c.g_margin_percent / 100))


def _read(guideline):
    return (*_READ_COLUMNS, *guideline.c,
            _above_guideline(guideline).label("above_guideline"))


def read_query():
    joined, guideline = _with_guideline()
    return (select(*_read(guideline)).select_from(joined)
            .join(District, District.adcode == Building.district))



def as_feature(row) -> dict[str, Any]:
    return feature(row.id, row.geometry, {
        "building_id": row.building_id,
        "building_name": row.building_name,
        "building_type": row.building_type.value,
        "building_type_label": row.building_type.label,
        "kind": row.kind.value,
        "kind_label": row.kind.label,
        "status": row.status.value,
        "status_label": row.status.label,
        "floor": row.floor,
        "area_m2": float(row.area_m2),
        "rent_yuan_per_m2_month": number(row.rent_yuan_per_m2_month),
        "units": row.units,
        "rent_yuan_per_unit_month": number(row.rent_yuan_per_unit_month),
        "floor_load_kn_m2": number(row.floor_load_kn_m2),
        "clear_height_m": number(row.clear_height_m),
        "freight_lift": row.freight_lift,
        "power_kva": number(row.power_kva),
        "landlord": row.landlord,
        "landlord_kind": row.landlord_kind.value,
        "landlord_kind_label": row.landlord_kind.label,
        "owner_authorisation_ref": row.owner_authorisation_ref,
        "district": row.district,
        "district_name": row.district_name,
        "park_id": row.park_id,
        "published_at": row.published_at.isoformat() if row.published_at else None,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "guideline": guidelines.guideline_json(row),
        "flags": ["above_guideline"] if row.above_guideline else [],
    })


def search_listings(*, session: Session, flt: ListingFilter, page: lists.Page,
                    principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """One page of listings as Features (by id), and how many match in all."""
    where = and_(*flt.clauses(), visible(principal))
    joined, guideline = _with_guideline()
    query = (select(*_read(guideline)).select_from(joined)
             .join(District, District.adcode == Building.district))
    count_from = _LISTING_BUILDING
    if flt.flag is not None:
        where = and_(where, _flag_clause(flt.flag, guideline, principal))
        count_from = joined
    rows, matched = lists.fetch_page(session, query.order_by(Listing.id), where=where,
                                     page=page, count_from=count_from)
    return [as_feature(row) for row in rows], matched


def _flag_clause(flag: str, guideline, principal: Principal | None) -> ColumnElement:
    """``?flag=``: a supervision list, for bureaus (their jurisdiction only) and admins."""
    if flag not in FLAGS:
        raise InvalidInput(f"flag: 应为 {'、'.join(FLAGS)}，收到 {flag[:30]!r}",
                           code="invalid_value")
    principal = access.require_role(principal, Role.bureau, Role.admin)
    scope = (lists.adcode_prefix_clause(Building.district, principal.jurisdiction)
             if principal.role is Role.bureau else true())
    return and_(scope, _above_guideline(guideline))


def get_listing(*, session: Session, listing_id: int,
                principal: Principal | None) -> tuple[dict, str]:
    """One listing as a Feature, and its ETag; 404 when missing or not visible."""
    row = session.execute(
        read_query().where(Listing.id == listing_id, visible(principal))
    ).one_or_none()
    if row is None:
        raise NotFound(f"房源 {listing_id} 不存在")
    return as_feature(row), etag(row.id, row.version)


# -- writes -------------------------------------------------------------------------------
def _check_fields(props: Mapping, building: Building) -> dict[str, Any]:
    """The column values of a listing on ``building`` (create: as given; update: merged)."""
    kind = choice_field(props, "kind", ListingKind, required=True)
    floor = props.get("floor")
    if floor is not None:
        floor = count_field(props, "floor", "楼层", 1, building.floors, code="floor_out_of_range")
    area = amount_field(props, "area_m2", "可租面积", precision=12, scale=2, required=True,
                        unit=" ㎡")
    if area > building.total_floor_area_m2:
        raise InvalidInput(f"area_m2: 可租面积 {area} ㎡ 超过楼栋「{building.name}」的总建筑面积 "
                           f"{building.total_floor_area_m2} ㎡", code="listing_exceeds_building")
    rent_m2 = amount_field(props, "rent_yuan_per_m2_month", "租金（元/㎡·月）", precision=10,
                           scale=2)
    units = count_field(props, "units", "套数", 1, MAX_UNITS)
    rent_unit = amount_field(props, "rent_yuan_per_unit_month", "租金（元/套·月）", precision=10,
                             scale=2)
    _check_rent_basis(kind, rent_m2, units, rent_unit)

    landlord_kind = choice_field(props, "landlord_kind", LandlordKind, default=LandlordKind.owner)
    authorisation = text_field(props, "owner_authorisation_ref", "业主授权文件编号", 100)
    if landlord_kind is LandlordKind.sublessor and authorisation is None:
        raise InvalidInput("owner_authorisation_ref: 二房东（转租）须提供业主同意转租的授权文件编号",
                           code="sublessor_unauthorised")
    landlord = text_field(props, "landlord", "出租人名称", 200)
    if landlord is None and landlord_kind is LandlordKind.owner:
        landlord = building.holder_name
    freight_lift = props.get("freight_lift")
    if freight_lift is None:
        freight_lift = building.freight_lift
    elif not isinstance(freight_lift, bool):
        raise InvalidInput("freight_lift: 应为 true 或 false", code="invalid_value")
    return {
        "kind": kind, "floor": floor, "area_m2": area, "rent_yuan_per_m2_month": rent_m2,
        "units": units, "rent_yuan_per_unit_month": rent_unit,
        "floor_load_kn_m2": amount_field(props, "floor_load_kn_m2", "楼面荷载", precision=6,
                                         scale=2, unit=" kN/㎡"),
        "clear_height_m": amount_field(props, "clear_height_m", "净高", precision=5, scale=2,
                                       unit=" m"),
        "freight_lift": freight_lift,
        "power_kva": amount_field(props, "power_kva", "供电容量", precision=10, scale=1,
                                  unit=" kVA"),
        "landlord": landlord, "landlord_kind": landlord_kind,
        "owner_authorisation_ref": authorisation,
    }


def _check_rent_basis(kind: ListingKind, rent_m2, units, rent_unit) -> None:
    """Factories ask 元/㎡·月; housing asks 元/套·月 for a number of units."""
    if kind in FACTORY_KINDS:
        if rent_m2 is None:
            raise InvalidInput(f"rent_yuan_per_m2_month: {kind.label}须填写租金（元/㎡·月）",
                               code="rent_required")
        if units is not None or rent_unit is not None:
            raise InvalidInput(f"units: {kind.label}按面积计租（元/㎡·月），不填套数与每套租金"
                               "（units、rent_yuan_per_unit_month）", code="rent_basis_mismatch")
        return
    if units is None or rent_unit is None:
        missing = "、".join(n for n, v in (("units", units), ("rent_yuan_per_unit_month", rent_unit))
                           if v is None)
        raise InvalidInput(f"{missing}: 保障性租赁住房须填写套数与每套月租金（元/套·月）",
                           code="rent_required")
    if rent_m2 is not None:
        raise InvalidInput("rent_yuan_per_m2_month: 保障性租赁住房按套计租（元/套·月），"
                           "不填每平方米租金", code="rent_basis_mismatch")


def _building_for_listing(session: Session, building_id: Any) -> Building:
    if building_id is None:
        raise InvalidInput("building_id: 缺少楼栋 id", code="missing_value")
    building = session.get(Building, building_id)
    if building is None:
        raise InvalidInput(f"building_id: 楼栋 {building_id} 不存在", code="unknown_reference")
    return building


def create_listing(*, session: Session, properties: Mapping,
                   principal: Principal = OPERATOR) -> tuple[dict, str]:
    """Create a draft listing on a building."""
    access.require_role(principal, *WRITERS)
    building = _building_for_listing(session, properties.get("building_id"))
    _require_landlord_rights(principal, building)
    values = _check_fields(properties, building)
    listing_id = session.scalar(insert(Listing).values(
        **values, building_id=building.id, status=ListingStatus.draft).returning(Listing.id))
    return get_listing(session=session, listing_id=listing_id, principal=principal)


def _locked(session: Session, listing_id: int,
            principal: Principal | None) -> tuple[Listing, Building, str]:
    """The listing (locked), its building and its version; 404 when missing or not visible."""
    access.require_role(principal, *WRITERS)
    found = session.execute(
        select(Listing, Building, literal_column("listing.xmin::text"))
        .join(Building, Building.id == Listing.building_id)
        .where(Listing.id == listing_id, visible(principal))
        .with_for_update(of=Listing).execution_options(populate_existing=True)
    ).one_or_none()
    if found is None:
        raise NotFound(f"房源 {listing_id} 不存在")
    listing, building, version = found
    _require_landlord_rights(principal, building)
    return listing, building, version


def update_listing(*, session: Session, listing_id: int, properties: Mapping,
                   principal: Principal = OPERATOR,
                   if_match: list[str] | None = None) -> tuple[dict, str]:
    """Change only what ``properties`` name, while the listing is draft or published."""
    listing, building, version = _locked(session, listing_id, principal)
    check_if_match(if_match, etag(listing_id, version), f"房源 {listing_id} ")
    if listing.status not in EDITABLE:
        raise Conflict(f"房源 {listing_id} 状态为「{listing.status.label}」，只有草稿或招租中的房源"
                       "可以修改", code="listing_not_editable")
    merged = {f: getattr(listing, f) for f in FIELDS} | dict(properties)
    values = _check_fields(merged, building)
    session.execute(update(Listing).where(Listing.id == listing_id)
                    .values(**values, updated_at=func.now()))
    session.expire(listing)
    return get_listing(session=session, listing_id=listing_id, principal=principal)


def transition_listing(*, session: Session, listing_id: int, action: str,
                       principal: Principal = OPERATOR) -> tuple[dict, str]:
    """Move a listing through its lifecycle (409 naming the allowed actions otherwise)."""
    listing, _, _ = _locked(session, listing_id, principal)
    target = LISTING_LIFECYCLE.target(listing.status, action)
    changes: dict[str, Any] = {"status": target, "updated_at": func.now()}
    if target is ListingStatus.published:
        changes["published_at"] = func.now()
    session.execute(update(Listing).where(Listing.id == listing_id).values(**changes))
    if target is ListingStatus.published:  # 精准推送, in this transaction
        notifications.notify_published(session, listing_id=listing_id)
    session.expire(listing)
    return get_listing(session=session, listing_id=listing_id, principal=principal)

