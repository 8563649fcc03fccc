"""The bureau console's overview (``/bureau/``): the figures of the officer's jurisdiction.

Four charts, each drawn by ``static/dashboard.js`` from a ``<script type="application/json">``
block and repeated as a table for screen readers and printing:

1. green-channel vs standard processing times per stage (median and P90 working days) and
2. the overdue rate per channel — both straight from the approvals stats service for the
   period of the form (default: the last 12 months);
3. supply by mode — offerings and their area per supply mode and status (one SQL aggregate);
4. guideline trends — per published guideline version, the median across the jurisdiction's
   districts (or zones) of their median rents, per building type (one SQL aggregate).

Above them: overdue cases, draft offerings and open complaints, each linking to its queue.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from landsvc import lists
from landsvc.access import Principal
from landsvc.approvals import service as approvals
from landsvc.approvals.models import Channel, Stage
from landsvc.buildings.models import BuildingType
from landsvc.db import SessionDep
from landsvc.errors import LandsvcError, status_of
from landsvc.fields import today
from landsvc.guidelines import service as guidelines
from landsvc.offerings import service as offerings
from landsvc.offerings.models import OfferingStatus, SupplyMode
from landsvc.utilities import service as utilities
from landsvc.utilities.models import ComplaintStatus
from landsvc.web.forms import field_errors
from landsvc.web.security import BureauUser
from landsvc.web.templating import render

router = APIRouter(include_in_schema=False)

OPEN_COMPLAINTS = (ComplaintStatus.filed, ComplaintStatus.investigating)
"""Complaints still awaiting the bureau: filed (a case opened) and under investigation."""


def _count_complaints(session: Session, principal: Principal,
                      status: ComplaintStatus) -> int:
    _, matched = utilities.search_complaints(
        session=session, district=None, status=status, utility=None,
        page=lists.Page(limit=1, offset=0), principal=principal)
    return matched.count


def _overdue_cases(session: Session, principal: Principal) -> int:
    _, matched = approvals.search_cases(session=session, status=None, channel=None,
                                        overdue=True, as_of=None,
                                        page=lists.Page(limit=1, offset=0), principal=principal)
    return matched.count


# -- the period of the form ---------------------------------------------------------------
def default_period(day: date) -> tuple[date, date]:
    """The last 12 months: from the day after the same day a year ago, through ``day``."""
    try:
        year_ago = day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        year_ago = day.replace(year=day.year - 1, day=28)
    return year_ago + timedelta(days=1), day


def _day(value: str | None, field: str, errors: dict[str, str]) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        errors[field] = f"日期格式应为 YYYY-MM-DD，收到 {value.strip()[:20]!r}"
        return None


# -- the page -----------------------------------------------------------------------------
def _label_tables() -> dict[str, dict[str, str]]:
    return {
        "channel": {c.value: c.label for c in Channel},
        "stage": {s.value: s.label for s in Stage} | {"total": "合计"},
        "supply_mode": {m.value: m.label for m in SupplyMode},
        "offering_status": {s.value: s.label for s in OfferingStatus},
        "building_type": {b.value: b.label for b in BuildingType},
    }


@router.get("/")
def dashboard(request: Request, session: SessionDep, user: BureauUser,
              to: str | None = None) -> Response:
    principal = user.principal
    jurisdiction = principal.jurisdiction
    errors: dict[str, str] = {}
    given_from = request.query_params.get("from")  # "from" is a Python keyword
    start, end = default_period(today())
    start = _day(given_from, "from", errors) or start
    end = _day(to, "to", errors) or end
    status = 200
    stats = None
    try:
        stats = approvals.stats(session=session, jurisdiction=None, start=start, end=end,
                                principal=principal)
    except LandsvcError as exc:
        errors.update({("from" if k == "_" else k): v for k, v in field_errors(exc).items()})
        status = status_of(exc)
    if errors and status == 200:
        status = 422
    supply = offerings.supply_by_mode(session=session, jurisdiction=jurisdiction)
    trend = guidelines.trend(session=session, jurisdiction=jurisdiction)
    labels = _label_tables()
    counts = {
        "overdue_cases": _overdue_cases(session, principal),
        "draft_offerings": sum(r["offerings"] for r in supply if r["status"] == "draft"),
        "open_complaints": {s.value: _count_complaints(session, principal, s)
                            for s in OPEN_COMPLAINTS},
    }
    counts["open_complaints_total"] = sum(counts["open_complaints"].values())
    supply_modes = [m.value for m in SupplyMode]
    supply_statuses = [s.value for s in OfferingStatus
                       if any(r["status"] == s.value for r in supply)]
    supply_table = {m: {r["status"]: r for r in supply if r["supply_mode"] == m}
                    for m in supply_modes}
    trend_versions: list[dict[str, Any]] = []
    for row in trend:
        if not trend_versions or trend_versions[-1]["version"] != row["version"]:
            trend_versions.append({"version": row["version"], "period": row["period"],
                                   "level": row["level"],
                                   "effective_date": row["effective_date"], "medians": {}})
        trend_versions[-1]["medians"][row["building_type"]] = row["median"]
    return render(request, "bureau/dashboard.html", {
        "section": "bureau", "jurisdiction": jurisdiction or "44",
        "period": {"from": given_from if "from" in errors else start.isoformat(),
                   "to": to if "to" in errors else end.isoformat()},
        "errors": errors, "stats": stats, "supply": supply, "supply_modes": supply_modes,
        "supply_statuses": supply_statuses, "supply_table": supply_table,
        "trend": trend, "trend_versions": trend_versions, "labels": labels, "counts": counts,
        "stages": [s.value for s in Stage] + ["total"],
        "charts": {
            "approvals": {"stats": stats, "labels": labels},
            "supply": {"rows": supply, "labels": labels},
            "trend": {"rows": trend, "labels": labels},
        },
    }, status_code=status)
