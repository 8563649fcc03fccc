"""Rent records out: the paged list, for bureaus inside their jurisdiction and admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import Principal
from landsvc.errors import InvalidInput
from landsvc.rents.models import RentRecord
from landsvc.tokens.models import Role


@dataclass(frozen=True)
class RentFilter:
    district: str | None = None
    start: date | None = None
    """``from``: leases still in force on or after this day."""
    end: date | None = None
    """``to``: leases already in force on or before this day."""
    contract_no: str | None = None


def _columns():
    return (
        RentRecord.id, RentRecord.contract_no, RentRecord.listing_id,
        func.ST_X(RentRecord.geom).label("lon"), func.ST_Y(RentRecord.geom).label("lat"),
        RentRecord.district, RentRecord.building_type, RentRecord.floor, RentRecord.area_m2,
        RentRecord.rent_yuan_per_m2_month, RentRecord.rent_yuan_month_total,
        RentRecord.start_date, RentRecord.end_date, RentRecord.registered_date,
        RentRecord.created_at, RentRecord.created_by,
    )


def as_item(row) -> dict:
    return {
        "id": row.id,
        "contract_no": row.contract_no,
        "listing_id": row.listing_id,
        "lon": round(row.lon, 6),
        "lat": round(row.lat, 6),
        "district": row.district,
        "building_type": row.building_type.value,
        "floor": row.floor,
        "area_m2": float(row.area_m2),
        "rent_yuan_per_m2_month": float(row.rent_yuan_per_m2_month),
        "rent_yuan_month_total": float(row.rent_yuan_month_total),
        "start_date": row.start_date.isoformat(),
        "end_date": row.end_date.isoformat(),
        "registered_date": row.registered_date and row.registered_date.isoformat(),
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
    }


def where_clause(flt: RentFilter, principal: Principal):
    """The filters and the caller's reach: a bureau its jurisdiction, an admin everything."""
    if flt.start and flt.end and flt.end < flt.start:
        raise InvalidInput(f"to: 不能早于 from（{flt.start} – {flt.end}）")
    reach = (RentRecord.district.startswith(principal.jurisdiction)
             if principal.role is Role.bureau else true())
    return and_(
        reach,
        lists.adcode_prefix_clause(RentRecord.district, flt.district),
        # In force during [from, to]: the lease's term overlaps the range (both ends inclusive).
        true() if flt.start is None else RentRecord.end_date >= flt.start,
        true() if flt.end is None else RentRecord.start_date <= flt.end,
        lists.equals_clause(RentRecord.contract_no, flt.contract_no),
    )


def search_rent_records(*, session: Session, flt: RentFilter, page: lists.Page,
                        principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    principal = access.require_role(principal, Role.bureau, Role.admin)
    query = select(*_columns()).order_by(RentRecord.id)
    rows, matched = lists.fetch_page(session, query, where=where_clause(flt, principal),
                                     page=page, count_from=RentRecord)
    return [as_item(r) for r in rows], matched
