"""Offerings (供地): search, read, create, change while draft, and the lifecycle.

An offering copies its parcel's geometry, district and area when it is created, so that
searches run on the offering's own columns and indexes; the parcel is joined by primary key
only, for what may change on it (its code, land source and park). The parcel follows the
offering's lifecycle in the same transaction, its row locked: ``offered`` while the offering
is published or closed, ``leased``/``transferred`` on award, its former status on fail or
cancel. Locks are always taken parcel first, then offering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, literal_column, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import OPERATOR, Principal
from landsvc.districts.models import District
from landsvc.enterprises.service import registered_name
from landsvc.enterprises.tiers import Tier, uscc_well_formed
from landsvc.errors import Conflict, InvalidInput, NotFound
from landsvc.etags import check_if_match, etag
from landsvc.fields import number
from landsvc.geo import bbox_clause, feature
from landsvc.lifecycle import Lifecycle, move
from landsvc.notifications import service as notifications
from landsvc.offerings import rules
from landsvc.offerings.models import (
    LIVE_STATUSES,
    PUBLIC_STATUSES,
    Offering,
    OfferingStatus,
    SupplyMode,
)
from landsvc.parcels import service as parcels
from landsvc.parcels.models import Parcel, ParcelStatus
from landsvc.policies.service import effective
from landsvc.tokens.models import Role

S = OfferingStatus

LIFECYCLE = Lifecycle("供地", {
    "publish": move({S.draft}, S.published),
    "close": move({S.published}, S.closed),
    "award": move({S.closed}, S.awarded),
    "fail": move({S.closed}, S.failed),
    "cancel": move({S.draft, S.published, S.closed}, S.cancelled),
})
"""draft → published → closed → awarded | failed; cancelled from any of the first three."""

OFFERABLE = (ParcelStatus.available, ParcelStatus.reserved)
"""A parcel in one of these states may be offered."""

LEASE_FIRST = (SupplyMode.lease, SupplyMode.lease_then_transfer)
"""Modes whose award starts with a lease: the parcel becomes ``leased``."""


def parcel_status_after(action: str, mode: SupplyMode, before: ParcelStatus
                        ) -> ParcelStatus | None:
    """The parcel's status once ``action`` has been taken on its offering (None: unchanged).

    ``before`` is the parcel's status when the offering was created, given back on fail or
    cancel.
    """
    if action == "publish":
        return ParcelStatus.offered
    if action == "award":
        return ParcelStatus.leased if mode in LEASE_FIRST else ParcelStatus.transferred
    if action in ("fail", "cancel"):
        return before
    return None


_STAMP = {"publish": "published_at", "close": "closed_at", "award": "decided_at",
          "fail": "decided_at", "cancel": "decided_at"}
"""The timestamp each action sets."""

_COMMON_DEFAULTS = {"min_tier": Tier.none, "srdi_priority": False,
                    "joint_bidding_allowed": False, "bidding_opens_at": None,
                    "bidding_closes_at": None}
"""Fields every mode takes, with the value ``null`` (or leaving them out) stands for."""


# -- access -------------------------------------------------------------------------------
def visible(principal: Principal | None) -> ColumnElement:
    """Published, closed and awarded offerings are public; bureaus see all in their
    jurisdiction, admins all."""
    return access.read_filter(principal, public=Offering.status.in_(PUBLIC_STATUSES),
                              district=Offering.district)


# -- search -------------------------------------------------------------------------------
@dataclass(frozen=True)
class OfferingFilter:
    bbox: tuple[float, float, float, float] | None = None
    supply_mode: SupplyMode | None = None
    status: OfferingStatus | None = None
    district: str | None = None
    park: int | None = None
    min_area_m2: float | None = None
    max_area_m2: float | None = None

    def clauses(self) -> list[ColumnElement]:
        return [
            bbox_clause(Offering.geom, self.bbox),
            lists.equals_clause(Offering.supply_mode, self.supply_mode),
            lists.equals_clause(Offering.status, self.status),
            lists.adcode_prefix_clause(Offering.district, self.district),
            _park_clause(self.park),
            lists.range_clause(Offering.area_m2, self.min_area_m2, self.max_area_m2),
        ]


def _park_clause(park: int | None) -> ColumnElement:
    # The parcel's current park (kept by triggers), through parcel.park_id's index: the
    # clause stays on the offering table, so counting needs no join.
    if park is None:
        return true()
    return Offering.parcel_id.in_(select(Parcel.id).where(Parcel.park_id == park))


_READ_COLUMNS = (
    Offering.id, Offering.parcel_id, Parcel.code.label("parcel_code"), Offering.supply_mode,
    Offering.status, Offering.term_years, Offering.lease_years, Offering.transfer_years,
    Offering.lease_share_percent, Offering.start_price_wan, Offering.annual_rent_yuan,
    Offering.appraised_price_wan, Offering.rent_review_years, Offering.rent_review_cap_percent,
    Offering.rent_credited, Offering.conditions, Offering.min_tier, Offering.srdi_priority,
    Offering.joint_bidding_allowed, Offering.bidding_opens_at, Offering.bidding_closes_at,
    Parcel.land_source, Offering.district, District.name.label("district_name"),
    Parcel.park_id, Offering.area_m2, Offering.awardee_uscc, Offering.awardee_name,
    Offering.published_at, Offering.closed_at, Offering.decided_at, Offering.created_at,
    Offering.updated_at, func.ST_AsGeoJSON(Offering.geom, 7).label("geometry"),
    literal_column("offering.xmin::text").label("version"),
)


def read_query():
    return (select(*_READ_COLUMNS).select_from(Offering)
            .join(Parcel, Parcel.id == Offering.parcel_id)
            .join(District, District.adcode == Offering.district))



def _moment(value) -> str | None:
    return None if value is None else value.isoformat()


def as_feature(row, principal: Principal | None) -> dict[str, Any]:
    allowed = LIFECYCLE.allowed(row.status) if access.covers(principal, row.district) else []
    area_m2 = float(row.area_m2)
    return feature(row.id, row.geometry, {
        "parcel_id": row.parcel_id,
        "parcel_code": row.parcel_code,
        "supply_mode": row.supply_mode.value,
        "supply_mode_label": row.supply_mode.label,
        "status": row.status.value,
        "status_label": row.status.label,
        "allowed_actions": allowed,
        "term_years": row.term_years,
        "lease_years": row.lease_years,
        "transfer_years": row.transfer_years,
        "lease_share_percent": number(row.lease_share_percent),
        "start_price_wan": number(row.start_price_wan),
        "annual_rent_yuan": number(row.annual_rent_yuan),
        "appraised_price_wan": number(row.appraised_price_wan),
        "rent_review_years": row.rent_review_years,
        "rent_review_cap_percent": number(row.rent_review_cap_percent),
        "rent_credited": row.rent_credited,
        "conditions": row.conditions,
        "min_tier": row.min_tier.value,
        "min_tier_label": row.min_tier.label,
        "srdi_priority": row.srdi_priority,
        "joint_bidding_allowed": row.joint_bidding_allowed,
        "bidding_opens_at": _moment(row.bidding_opens_at),
        "bidding_closes_at": _moment(row.bidding_closes_at),
        "land_source": row.land_source.value,
        "land_source_label": row.land_source.label,
        "district": row.district,
        "district_name": row.district_name,
        "park_id": row.park_id,
        "area_m2": area_m2,
        "area_mu": round(area_m2 * 3 / 2000, 4),
        "awardee_uscc": row.awardee_uscc,
        "awardee_name": row.awardee_name,
        "published_at": _moment(row.published_at),
        "closed_at": _moment(row.closed_at),
        "decided_at": _moment(row.decided_at),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    })


def search_offerings(*, session: Session, flt: OfferingFilter, page: lists.Page,
                     principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """One page of offerings as Features (by id), and how many match in all."""
    where = and_(*flt.clauses(), visible(principal))
    rows, matched = lists.fetch_page(session, read_query().order_by(Offering.id), where=where,
                                     page=page, count_from=Offering)
    return [as_feature(row, principal) for row in rows], matched


def get_offering(*, session: Session, offering_id: int,
                 principal: Principal | None) -> tuple[dict, str]:
    """One offering as a Feature, and its ETag; 404 when missing or not visible."""
    row = session.execute(
        read_query().where(Offering.id == offering_id, visible(principal))
    ).one_or_none()
    if row is None:
        raise NotFound(f"供地 {offering_id} 不存在")
    return as_feature(row, principal), etag(row.id, row.version)


# -- writes -------------------------------------------------------------------------------
def _stored_conditions(conditions: dict | None) -> dict | None:
    if conditions is None:
        return None
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in conditions.items()}


def _checked(session: Session, mode: SupplyMode, values: dict[str, Any], district: str
             ) -> dict[str, Any]:
    """The columns of an offering in ``mode`` from ``values``, under the rules in force in
    ``district``; 422 naming the rule otherwise."""
    in_force = effective(session, "offerings", district)
    mode_values = {f: values.get(f) for f in rules.MODE_FIELDS}
    mode_values["conditions"] = _stored_conditions(mode_values["conditions"])
    out = rules.check_mode(mode, mode_values, in_force)
    for field, default in _COMMON_DEFAULTS.items():
        value = values.get(field)
        out[field] = default if value is None else value
    rules.check_bidding_window(out["bidding_opens_at"], out["bidding_closes_at"])
    return out


def create_offering(*, session: Session, values: dict[str, Any],
                    principal: Principal = OPERATOR) -> tuple[dict, str]:
    """Create a draft offering on a parcel that is available or reserved and has no live
    offering; the parcel's status is unchanged until the offering is published."""
    access.require_role(principal, Role.bureau, Role.admin)
    values = dict(values)
    parcel_id = values.pop("parcel_id")
    mode = SupplyMode(values.pop("supply_mode"))
    parcel = session.execute(
        select(Parcel.id, Parcel.status, Parcel.district, Parcel.area_m2)
        .where(Parcel.id == parcel_id, parcels.visible(principal))
        .with_for_update(of=Parcel)
    ).one_or_none()
    if parcel is None:
        raise InvalidInput(f"parcel_id: 地块 {parcel_id} 不存在", code="unknown_parcel")
    access.require_manage(principal, [parcel.district])
    _refuse_second_offering(session, parcel_id)
    if parcel.status not in OFFERABLE:
        raise Conflict(f"parcel_id: 地块 {parcel_id} 当前状态为「{parcel.status.label}」"
                       f"（{parcel.status.value}），只有可供应（available）或已预留（reserved）"
                       f"的地块可以供地", code="parcel_not_available")
    columns = _checked(session, mode, values, parcel.district)
    statement = insert(Offering).values(
        parcel_id=parcel_id, supply_mode=mode, status=OfferingStatus.draft, **columns,
        parcel_status_before=parcel.status, district=parcel.district, area_m2=parcel.area_m2,
        geom=select(Parcel.geom).where(Parcel.id == parcel_id).scalar_subquery(),
    ).returning(Offering.id)
    try:
        with session.begin_nested():
            offering_id = session.scalar(statement)
    except IntegrityError as exc:
        # A writer that did not lock the parcel first: the partial unique index decides.
        if getattr(exc.orig.diag, "constraint_name", None) == "uq_offering_live_parcel":
            _refuse_second_offering(session, parcel_id, racing=True)
        raise
    return get_offering(session=session, offering_id=offering_id, principal=principal)


def _refuse_second_offering(session: Session, parcel_id: int, *, racing: bool = False) -> None:
    """409 when the parcel already has a live offering. ``racing``: the unique index said so,
    though the other offering may not be visible yet (its writer has not committed)."""
    live = session.execute(
        select(Offering.id, Offering.status)
        .where(Offering.parcel_id == parcel_id, Offering.status.in_(LIVE_STATUSES))
    ).first()
    if live is not None:
        raise Conflict(f"parcel_id: 地块 {parcel_id} 已有进行中的供地 {live.id}"
                       f"（{live.status.label}）；一宗地同时只能有一个草稿、已发布或竞价结束的供地",
                       code="offering_exists", extra={"offering_id": live.id})
    if racing:
        raise Conflict(f"parcel_id: 地块 {parcel_id} 正在被另一请求供地", code="offering_exists")


def _locked(session: Session, offering_id: int, principal: Principal | None,
            *, lock_parcel: bool) -> tuple[Offering, str]:
    """The offering row (and, first, its parcel's) locked for a write by ``principal``;
    404 when missing, 403 outside the caller's jurisdiction (drafts included: only bureaus
    and admins get this far, and a write outside one's jurisdiction is a 403 everywhere)."""
    access.require_role(principal, Role.bureau, Role.admin)
    found = session.execute(
        select(Offering.parcel_id, Offering.district).where(Offering.id == offering_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"供地 {offering_id} 不存在")
    access.require_manage(principal, [found.district])
    if lock_parcel:
        session.execute(select(Parcel.id).where(Parcel.id == found.parcel_id)
                        .with_for_update())
    offering, version = session.execute(
        select(Offering, literal_column("offering.xmin::text"))
        .where(Offering.id == offering_id)
        .with_for_update(of=Offering)
        .execution_options(populate_existing=True)
    ).one()
    return offering, etag(offering_id, version)


def update_offering(*, session: Session, offering_id: int, changes: dict[str, Any],
                    principal: Principal = OPERATOR,
                    if_match: list[str] | None = None) -> tuple[dict, str]:
    """Change a draft: only the fields ``changes`` names, the result checked whole.

    A new ``supply_mode`` drops the stored fields it does not take (those named in
    ``changes`` are checked, and refused if foreign to it).
    """
    offering, current = _locked(session, offering_id, principal, lock_parcel=False)
    check_if_match(if_match, current, f"供地 {offering_id} ")
    if offering.status is not OfferingStatus.draft:
        allowed = LIFECYCLE.allowed(offering.status)
        raise Conflict(f"供地 {offering_id} 已是「{offering.status.label}」（{offering.status.value}），"
                       f"只有草稿可以修改；现在可执行：{'、'.join(allowed) or '无'}",
                       code="not_draft", extra={"allowed": allowed})
    mode = SupplyMode(changes.get("supply_mode") or offering.supply_mode)
    stored = {f: getattr(offering, f) for f in (*rules.MODE_FIELDS, *_COMMON_DEFAULTS)}
    if mode is not offering.supply_mode:
        taken = rules.MODES[mode].allowed
        stored |= {f: None for f in rules.MODE_FIELDS if f not in taken}
    merged = stored | {k: v for k, v in changes.items() if k != "supply_mode"}
    columns = _checked(session, mode, merged, offering.district)
    session.execute(update(Offering).where(Offering.id == offering_id)
                    .values(supply_mode=mode, **columns, updated_at=func.now()))
    return get_offering(session=session, offering_id=offering_id, principal=principal)


def transition_offering(*, session: Session, offering_id: int, action: str,
                        awardee_uscc: str | None = None, awardee_name: str | None = None,
                        principal: Principal = OPERATOR,
                        if_match: list[str] | None = None) -> tuple[dict, str]:
    """Take a lifecycle step; the parcel's status follows in the same transaction.

    ``publish`` checks the offering again under the rules in force then (they may have
    changed since the draft); ``award`` needs the awardee's USCC (GB 32100) and name.
    """
    offering, current = _locked(session, offering_id, principal, lock_parcel=True)
    check_if_match(if_match, current, f"供地 {offering_id} ")
    target = LIFECYCLE.target(offering.status, action)
    if action == "award":  # a registered awardee's name comes from its record
        awardee_name = registered_name(session, awardee_uscc, awardee_name, "awardee_name")
    awardee = _awardee(action, awardee_uscc, awardee_name)
    if action == "publish":
        stored = {f: getattr(offering, f) for f in (*rules.MODE_FIELDS, *_COMMON_DEFAULTS)}
        _checked(session, offering.supply_mode, stored, offering.district)
    session.execute(update(Offering).where(Offering.id == offering_id).values(
        status=target, **awardee, **{_STAMP[action]: func.now()}, updated_at=func.now()))
    parcel_status = parcel_status_after(action, offering.supply_mode,
                                        offering.parcel_status_before)
    if parcel_status is not None:
        session.execute(update(Parcel).where(Parcel.id == offering.parcel_id)
                        .values(status=parcel_status, updated_at=func.now()))
    if action == "publish":  # 精准推送: every open demand it satisfies, in this transaction
        notifications.notify_published(session, offering_id=offering_id)
    return get_offering(session=session, offering_id=offering_id, principal=principal)


def _awardee(action: str, uscc: str | None, name: str | None) -> dict[str, str]:
    """The awardee columns an ``award`` sets; other actions take no awardee."""
    if action != "award":
        given = [f for f, v in (("awardee_uscc", uscc), ("awardee_name", name)) if v is not None]
        if given:
            raise InvalidInput(f"{given[0]}: 只有 award（成交）需要受让人，{action} 不接受该字段",
                               code="field_not_for_action")
        return {}
    if not uscc:
        raise InvalidInput("awardee_uscc: 成交须写明受让人统一社会信用代码", code="missing_field")
    uscc = uscc.strip().upper()
    if not uscc_well_formed(uscc):
        raise InvalidInput(f"awardee_uscc: 统一社会信用代码应为 GB 32100 规定的 18 位字符"
                           f"（数字和除 I、O、Z、S、V 外的大写字母），收到 {uscc[:30]!r}",
                           code="invalid_uscc")
    if not name or not name.strip():
        raise InvalidInput("awardee_name: 成交须写明受让人名称", code="missing_field")
    return {"awardee_uscc": uscc, "awardee_name": name.strip()}


def supply_by_mode(*, session: Session, jurisdiction: str | None) -> list[dict[str, Any]]:
    """Offerings inside ``jurisdiction`` (an adcode prefix; None: the whole province) per
    supply mode and status: how many, and their area (㎡ and 亩) — one ``GROUP BY``."""
    inside = true() if not jurisdiction else Offering.district.startswith(jurisdiction)
    rows = session.execute(
        select(Offering.supply_mode, Offering.status, func.count().label("offerings"),
               func.coalesce(func.sum(Offering.area_m2), 0).label("area_m2"))
        .where(inside)
        .group_by(Offering.supply_mode, Offering.status)
        .order_by(Offering.supply_mode, Offering.status)).all()
    return [{"supply_mode": r.supply_mode.value, "status": r.status.value,
             "offerings": r.offerings, "area_m2": float(r.area_m2),
             "area_mu": round(float(r.area_m2) * 3 / 2000, 4)} for r in rows]
