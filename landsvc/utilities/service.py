"""Utility tariffs and mark-up complaints (水、电、气不合理加价).

Tariffs are public: they are the government's published prices. A bureau loads them inside
its jurisdiction (or an admin anywhere). A tenant enterprise files a complaint of a bill;
the platform judges it against the tariffs in force over the billing period in the place
(:mod:`landsvc.utilities.rules`) with the tolerance in force in its district, and opens a
case or keeps it dismissed. Complaints are read by the filing enterprise, the bureaus
covering the district and admins (anyone else: 404); the bureaus and admins move cases.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true, update
from sqlalchemy.orm import Session

from landsvc import access, fields, lists
from landsvc.access import Principal
from landsvc.buildings.models import Building
from landsvc.districts.models import District
from landsvc.districts.service import division_exists
from landsvc.errors import Conflict, Forbidden, InvalidInput, NotFound
from landsvc.geo import adcode_prefix
from landsvc.listings.models import Listing, ListingStatus
from landsvc.listings.service import visible as listing_visible
from landsvc.policies.service import effective
from landsvc.tokens.models import Role
from landsvc.utilities import rules
from landsvc.utilities.models import ComplaintStatus, Utility, UtilityComplaint, UtilityTariff

UNITS = {Utility.electricity: "元/千瓦时", Utility.water: "元/立方米", Utility.gas: "元/立方米"}


def _category(body: dict) -> str:
    return fields.text_field(body, "category", "类别", 50, required=True)


def _prefix(session: Session, value: Any, field: str) -> str:
    """A Guangdong division given as a 2-, 4- or 6-digit adcode (prefix), as its prefix."""
    if not isinstance(value, str) or not value.isdigit() or len(value) not in (2, 4, 6):
        raise InvalidInput(f"{field}: 应为 2、4 或 6 位行政区划代码（前缀），收到 "
                           f"{fields.shown(value)!r}", code="invalid_district")
    prefix = adcode_prefix(value)
    if not prefix.startswith("44") or not division_exists(session=session, prefix=prefix):
        raise InvalidInput(f"{field}: 广东省没有行政区划 {value}", code="unknown_district")
    return prefix


# -- tariffs ------------------------------------------------------------------------------
def create_tariff(*, session: Session, body: dict[str, Any], principal: Principal | None) -> dict:
    """A tariff from its effective date (bureau inside its jurisdiction, admin)."""
    access.require_role(principal, Role.bureau, Role.admin)
    district = _prefix(session, fields.text_field(body, "district", "适用地区", 24, required=True),
                       "district")
    access.require_manage(principal, [district])
    utility = fields.choice_field(body, "utility", Utility, required=True)
    category = _category(body)
    price = fields.amount_field(body, "unit_price_yuan", "单价", precision=10, scale=4,
                                required=True, unit=f" {UNITS[utility]}")
    day = body.get("effective_from")
    if not isinstance(day, date):
        raise InvalidInput("effective_from: 缺少起执行日期", code="missing_value")
    existing = session.scalar(select(UtilityTariff.id).where(
        UtilityTariff.district == district, UtilityTariff.utility == utility,
        UtilityTariff.category == category, UtilityTariff.effective_from == day))
    if existing is not None:
        raise Conflict(f"effective_from: {district} 的{utility.label}价（{category}）自 "
                       f"{day.isoformat()} 起已有定价（id {existing}）", code="duplicate_tariff")
    tariff = UtilityTariff(district=district, utility=utility, category=category,
                           unit_price_yuan=price, effective_from=day, created_by=principal.actor)
    session.add(tariff)
    session.flush()
    session.refresh(tariff)
    return tariff_dict(tariff)


def tariff_dict(t: UtilityTariff) -> dict:
    utility = Utility(t.utility)
    return {"id": t.id, "district": t.district, "utility": utility.value,
            "utility_label": utility.label, "category": t.category,
            "unit_price_yuan": fields.number(t.unit_price_yuan), "unit": UNITS[utility],
            "effective_from": t.effective_from, "created_by": t.created_by,
            "created_at": t.created_at}


def _covering(column, district: str) -> ColumnElement:
    """``column`` (an adcode prefix) covers the 6-digit ``district``."""
    return func.strpos(district, column) == 1


def search_tariffs(*, session: Session, district: str | None, utility: Utility | None,
                   category: str | None, page: lists.Page) -> tuple[list[dict], lists.Matched]:
    """Tariffs (public), by division, utility, category and date. ``district`` gives those
    that apply there: of the division itself, of the divisions above it and below it."""
    where = and_(lists.equals_clause(UtilityTariff.utility, utility),
                 lists.equals_clause(UtilityTariff.category, category),
                 _overlapping(district))
    query = select(UtilityTariff).order_by(UtilityTariff.district, UtilityTariff.utility,
                                           UtilityTariff.category,
                                           UtilityTariff.effective_from.desc(), UtilityTariff.id)
    rows, matched = lists.fetch_page(session, query, where=where, page=page,
                                     count_from=UtilityTariff)
    return [tariff_dict(r[0]) for r in rows], matched


def _overlapping(district: str | None) -> ColumnElement:
    if district is None:
        return true()
    if not district.isdigit() or len(district) not in (2, 4, 6):
        raise InvalidInput(f"district: 应为 2、4 或 6 位行政区划代码（前缀），收到 "
                           f"{fields.shown(district)!r}", code="invalid_district")
    prefix = adcode_prefix(district)
    return or_(UtilityTariff.district.startswith(prefix), _covering(UtilityTariff.district, prefix))


def _tariffs_for(session: Session, district: str, utility: Utility, category: str,
                 until: date) -> list[rules.Tariff]:
    rows = session.scalars(select(UtilityTariff).where(
        UtilityTariff.utility == utility, UtilityTariff.category == category,
        _covering(UtilityTariff.district, district), UtilityTariff.effective_from <= until))
    return [rules.Tariff(t.id, t.district, Decimal(t.unit_price_yuan), t.effective_from)
            for t in rows]


def _no_tariff(session: Session, district: str, utility: Utility, category: str,
               day: date) -> InvalidInput:
    known = sorted(set(session.scalars(select(UtilityTariff.category).where(
        UtilityTariff.utility == utility, _covering(UtilityTariff.district, district)))))
    hint = f"；该地已有的{utility.label}价类别：{'、'.join(known)}" if known else ""
    return InvalidInput(
        f"period_start: {district} 在 {day.isoformat()} 没有执行中的{utility.label}价"
        f"（类别“{category}”），无法核算加价{hint}", code="no_tariff",
        extra={"district": district, "utility": utility.value, "category": category,
               "day": day.isoformat()})


# -- complaints ---------------------------------------------------------------------------
def _place(session: Session, body: dict, principal: Principal) -> tuple[int | None, str | None, str]:
    """The listing (if named), the landlord and the county of the complaint."""
    listing_id = body.get("listing_id")
    landlord = fields.text_field(body, "landlord", "出租方", 200)
    district = fields.text_field(body, "district", "行政区", 24)
    if listing_id is not None:
        # The tenant of a let listing no longer sees it as published: let ones count too.
        row = session.execute(
            select(Listing.id, Listing.landlord, Building.district)
            .join(Building, Building.id == Listing.building_id)
            .where(Listing.id == listing_id,
                   or_(Listing.status == ListingStatus.let, listing_visible(principal)))
        ).one_or_none()
        if row is None:
            raise InvalidInput(f"listing_id: 房源 {listing_id} 不存在", code="unknown_listing")
        if district is not None and district != row.district:
            raise InvalidInput(f"district: 房源 {listing_id} 位于 {row.district}，与填写的 "
                               f"{fields.shown(district)} 不符", code="district_mismatch")
        return row.id, landlord or row.landlord, row.district
    if landlord is None:
        raise InvalidInput("landlord: 须提供所租房源 listing_id 或出租方 landlord",
                           code="missing_value")
    if district is None:
        raise InvalidInput("district: 未填写房源时须提供 6 位县级行政区划代码", code="missing_value")
    if (len(district) != 6 or not district.isdigit()
            or session.get(District, district) is None):
        raise InvalidInput(f"district: 广东省没有县级行政区 {fields.shown(district)!r}"
                           "（须为 6 位县级代码，如 440306）", code="unknown_district")
    return None, landlord, district


def file_complaint(*, session: Session, body: dict[str, Any],
                   principal: Principal | None) -> dict:
    """A tenant enterprise's complaint, judged on filing (422 when no tariff covers a day of
    the period)."""
    principal = access.require_role(principal, Role.enterprise)
    listing_id, landlord, district = _place(session, body, principal)
    utility = fields.choice_field(body, "utility", Utility, required=True)
    category = _category(body)
    billed = fields.amount_field(body, "billed_unit_price_yuan", "收费单价", precision=10,
                                 scale=4, required=True, unit=f" {UNITS[utility]}")
    quantity = fields.amount_field(body, "quantity", "用量", precision=14, scale=3,
                                   required=True)
    start, end = body.get("period_start"), body.get("period_end")
    if end < start:
        raise InvalidInput(f"period_end: 计费期止日 {end.isoformat()} 早于起日 "
                           f"{start.isoformat()}", code="dates_in_wrong_order")
    if (end - start).days + 1 > rules.MAX_PERIOD_DAYS:
        raise InvalidInput(f"period_end: 计费期不能超过 {rules.MAX_PERIOD_DAYS} 天，请按账单分期投诉",
                           code="period_too_long")
    if end > fields.today():
        raise InvalidInput(f"period_end: 计费期止日 {end.isoformat()} 尚未到来",
                           code="period_in_future")
    tariffs = _tariffs_for(session, district, utility, category, end)
    parts, uncovered = rules.segments(tariffs, start, end)
    if uncovered is not None:
        raise _no_tariff(session, district, utility, category, uncovered)
    tolerance = effective(session, "utilities", district).tolerance(utility)
    verdict = rules.judge(parts, billed, quantity, tolerance)
    complaint = UtilityComplaint(
        complainant_uscc=principal.enterprise_uscc, listing_id=listing_id, landlord=landlord,
        district=district, utility=utility, category=category, billed_unit_price_yuan=billed,
        quantity=quantity, period_start=start, period_end=end,
        tariff_unit_price_yuan=verdict.tariff_unit_price_yuan,
        tariff_segments=[_segment_dict(s) for s in parts], tolerance_percent=tolerance,
        markup_percent=verdict.markup_percent, overcharge_yuan=verdict.overcharge_yuan,
        case_opened=verdict.case_opened,
        status=ComplaintStatus.filed if verdict.case_opened else ComplaintStatus.dismissed,
        reason=None if verdict.case_opened else rules.WITHIN_TARIFF,
        filed_on=fields.today(), updated_by=principal.actor)
    session.add(complaint)
    session.flush()
    session.refresh(complaint)
    return complaint_dict(complaint)


def _segment_dict(s: rules.Segment) -> dict:
    return {"start": s.start.isoformat(), "end": s.end.isoformat(), "days": s.days,
            "tariff_id": s.tariff.id, "district": s.tariff.district,
            "unit_price_yuan": float(s.tariff.unit_price_yuan)}


def complaint_dict(c: UtilityComplaint) -> dict:
    utility, status = Utility(c.utility), ComplaintStatus(c.status)
    return {
        "id": c.id, "complainant_uscc": c.complainant_uscc, "listing_id": c.listing_id,
        "landlord": c.landlord, "district": c.district, "utility": utility.value,
        "utility_label": utility.label, "category": c.category,
        "billed_unit_price_yuan": fields.number(c.billed_unit_price_yuan),
        "quantity": fields.number(c.quantity), "period_start": c.period_start,
        "period_end": c.period_end,
        "tariff_unit_price_yuan": fields.number(c.tariff_unit_price_yuan),
        "tariff_segments": c.tariff_segments,
        "tolerance_percent": fields.number(c.tolerance_percent),
        "markup_percent": fields.number(c.markup_percent),
        "overcharge_yuan": fields.number(c.overcharge_yuan), "case_opened": c.case_opened,
        "status": status.value, "status_label": status.label, "reason": c.reason,
        "refund_yuan": fields.number(c.refund_yuan), "note": c.note,
        "allowed_actions": rules.LIFECYCLE.allowed(status), "filed_on": c.filed_on,
        "filed_at": c.filed_at, "updated_at": c.updated_at, "updated_by": c.updated_by,
    }


def _readable(principal: Principal | None) -> ColumnElement:
    """The filing enterprise, bureaus covering the district, admins."""
    principal = access.require_role(principal, Role.enterprise, Role.bureau, Role.admin)
    if principal.role is Role.admin:
        return true()
    if principal.role is Role.enterprise:
        return UtilityComplaint.complainant_uscc == principal.enterprise_uscc
    if not principal.jurisdiction:
        return false()
    return UtilityComplaint.district.startswith(principal.jurisdiction)


def _load(session: Session, complaint_id: int, principal: Principal | None, *,
          lock: bool = False) -> UtilityComplaint:
    query = select(UtilityComplaint).where(UtilityComplaint.id == complaint_id,
                                           _readable(principal))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    complaint = session.scalar(query)
    if complaint is None:
        raise NotFound(f"水电气加价投诉 {complaint_id} 不存在")
    return complaint


def get_complaint(*, session: Session, complaint_id: int, principal: Principal | None) -> dict:
    return complaint_dict(_load(session, complaint_id, principal))


def search_complaints(*, session: Session, district: str | None, status: ComplaintStatus | None,
                      utility: Utility | None, page: lists.Page,
                      principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """The complaints the caller may read, newest first."""
    where = and_(_readable(principal),
                 lists.adcode_prefix_clause(UtilityComplaint.district, district),
                 lists.equals_clause(UtilityComplaint.status, status),
                 lists.equals_clause(UtilityComplaint.utility, utility))
    query = select(UtilityComplaint).order_by(UtilityComplaint.id.desc())
    rows, matched = lists.fetch_page(session, query, where=where, page=page,
                                     count_from=UtilityComplaint)
    return [complaint_dict(r[0]) for r in rows], matched


def transition(*, session: Session, complaint_id: int, action: str,
               refund_yuan: float | None = None, note: str | None = None,
               principal: Principal | None) -> dict:
    """investigate | resolve (with ``refund_yuan`` ≥ 0) | dismiss, by a bureau covering the
    district or an admin: 404 unreadable, 403 the enterprise, 409 not allowed now."""
    complaint = _load(session, complaint_id, principal, lock=True)
    if principal.role is Role.enterprise:
        raise Forbidden("投诉的调查与处理由辖区主管部门或管理员进行", code="bureau_only")
    target = rules.LIFECYCLE.target(ComplaintStatus(complaint.status), action)
    refund = None
    if action == "resolve":
        if refund_yuan is None:
            raise InvalidInput("refund_yuan: 处理（resolve）须填写核定退还金额（元，可为 0）",
                               code="missing_value")
        refund = _refund(refund_yuan)
    elif refund_yuan is not None:
        raise InvalidInput(f"refund_yuan: 只有 resolve 可以填写退还金额（本次为 {action}）",
                           code="unexpected_refund")
    session.execute(update(UtilityComplaint).where(UtilityComplaint.id == complaint.id).values(
        status=target, refund_yuan=refund, note=note if note is not None else complaint.note,
        updated_at=func.now(), updated_by=principal.actor))
    session.expire(complaint)
    return get_complaint(session=session, complaint_id=complaint_id, principal=principal)


def _refund(value: float) -> Decimal:
    if value == 0:
        return Decimal("0.00")
    if value < 0:
        raise InvalidInput(f"refund_yuan: 退还金额不能为负，收到 {fields.shown(value)}",
                           code="out_of_range")
    return fields.amount_field({"refund_yuan": value}, "refund_yuan", "退还金额", precision=14,
                               scale=2, required=True, unit=" 元")


# -- statistics ---------------------------------------------------------------------------
def stats(*, session: Session, jurisdiction: str | None, start: date | None, end: date | None,
          principal: Principal | None) -> dict:
    """Per district of ``jurisdiction``, for complaints filed within ``start``–``end``: cases,
    opened, resolved, dismissed, the overcharge and the refunds — one SQL aggregation."""
    principal = access.require_role(principal, Role.bureau, Role.admin)
    scope = jurisdiction or principal.jurisdiction or "44"
    where = lists.adcode_prefix_clause(UtilityComplaint.district, scope, "jurisdiction")
    scope = adcode_prefix(scope)
    access.require_manage(principal, [scope])
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"from: {start.isoformat()} 晚于 to {end.isoformat()}",
                           code="dates_in_wrong_order")
    where = and_(where, lists.range_clause(UtilityComplaint.filed_on, start, end))
    c = UtilityComplaint
    figures = (
        func.count().label("cases"),
        func.count().filter(c.case_opened).label("opened"),
        func.count().filter(c.status == ComplaintStatus.resolved).label("resolved"),
        func.count().filter(c.status == ComplaintStatus.dismissed).label("dismissed"),
        func.coalesce(func.sum(c.overcharge_yuan), 0).label("overcharge_yuan"),
        func.coalesce(func.sum(c.refund_yuan), 0).label("refund_yuan"),
    )
    rows = session.execute(
        select(c.district, District.name, *figures)
        .join(District, District.adcode == c.district, isouter=True)
        .where(where).group_by(c.district, District.name).order_by(c.district)).all()
    total = session.execute(select(*figures).where(where)).one()
    return {"jurisdiction": scope, "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None,
            "totals": _figures(total, scope, None),
            "districts": [_figures(r, r.district, r.name) for r in rows]}


def _figures(row, district: str, name: str | None) -> dict:
    return {"district": district, "district_name": name, "cases": row.cases,
            "opened": row.opened, "resolved": row.resolved, "dismissed": row.dismissed,
            "overcharge_yuan": float(row.overcharge_yuan), "refund_yuan": float(row.refund_yuan)}
