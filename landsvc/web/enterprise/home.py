"""The enterprise portal's own pages: overview, profile, consortia, approval cases,
notifications and utility mark-up complaints (``/enterprise/…``; demands live in
:mod:`landsvc.web.enterprise.demands`).

Every page calls the same service functions as the API, with the signed-in user's
principal; a refusal comes back next to the field it names. A form's service call runs in
a savepoint, so a refused form stores nothing even though the request's session commits.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from landsvc import lists
from landsvc.approvals import service as approvals
from landsvc.approvals.audit import ACTION_LABELS
from landsvc.approvals.models import ApprovalStatus, Stage
from landsvc.approvals.schemas import CaseTransition
from landsvc.db import SessionDep
from landsvc.demands import service as demands
from landsvc.demands.models import DemandStatus
from landsvc.districts.service import cached, list_districts
from landsvc.enterprises import service as enterprises
from landsvc.enterprises.schemas import ConsortiumCreate, EnterpriseCreate, EnterpriseProperties
from landsvc.errors import LandsvcError, NotFound, status_of
from landsvc.fields import today
from landsvc.notifications import service as notifications
from landsvc.utilities import service as utilities
from landsvc.utilities.models import ComplaintStatus, Utility
from landsvc.utilities.schemas import ComplaintCreate
from landsvc.web.forms import attempt, field_errors, text
from landsvc.web.security import CsrfForm, EnterpriseUser
from landsvc.web.templating import pager, render

router = APIRouter()

PAGE_SIZE = 20
APPLICANT_ACTIONS = ("resubmit", "withdraw")
"""The steps an applicant may take on its case (the rest are the bureau's)."""
CLOSED = {ApprovalStatus.approved.value, ApprovalStatus.rejected.value,
          ApprovalStatus.withdrawn.value}
STAGE_LABELS = {s.value: s.label for s in Stage}
UTILITY_UNITS = {u.value: utilities.UNITS[u] for u in Utility}
CATEGORIES = {"electricity": ["一般工商业", "大工业"], "water": ["非居民", "特种行业"],
              "gas": ["工商业"]}


# -- helpers --------------------------------------------------------------------------------
def status_for(exc: Exception) -> int:
    return status_of(exc) if isinstance(exc, LandsvcError) else 422


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def page_of(offset: int | None) -> lists.Page:
    return lists.Page(PAGE_SIZE, max(0, offset or 0))


def district_options(session: Session) -> list[tuple[str, str]]:
    """(adcode, "城市 区县") of every county-level district, kept until the districts change."""
    def build() -> list[tuple[str, str]]:
        return [(f["properties"]["adcode"],
                 f"{f['properties']['city_name']} {f['properties']['name']}"
                 if f["properties"]["city_name"] != f["properties"]["name"]
                 else f["properties"]["name"])
                for f in list_districts(session=session)]

    return cached(session=session, name="web-enterprise-district-options", build=build)


def district_names(session: Session) -> dict[str, str]:
    return dict(district_options(session))


def ctx(request: Request, nav: str, **values: Any) -> dict[str, Any]:
    return {"section": "enterprise", "nav": nav, **values}


def own_record(session: Session, user) -> dict | None:
    """The signed-in enterprise's record, or None before it is registered."""
    try:
        record, _ = enterprises.get_enterprise(session=session,
                                               uscc=user.principal.enterprise_uscc,
                                               principal=user.principal)
    except NotFound:
        return None
    return record


def tier_note(record: dict, on: date) -> str | None:
    """Why the tier in force differs from the tier recorded (lapsed, not yet in force)."""
    if record["tier"] == record["effective_tier"]:
        return None
    start, end = record["tier_valid_from"], record["tier_valid_to"]
    if end is not None and on.isoformat() > end:
        return f"认定的梯度「{record['tier_label']}」已于 {end} 到期，今日不再有效"
    if start is not None and on.isoformat() < start:
        return f"认定的梯度「{record['tier_label']}」自 {start} 起生效，今日尚未生效"
    return None


# -- overview and registration ---------------------------------------------------------------
@router.get("/")
def overview(request: Request, session: SessionDep, user: EnterpriseUser) -> Response:
    principal = user.principal
    record = own_record(session, user)
    if record is None:
        return render(request, "enterprise/home_register.html", ctx(
            request, "home", values={"uscc": principal.enterprise_uscc}, errors={},
            districts=district_options(session)))
    one = lists.Page(1, 0)
    _, open_demands = demands.search_demands(session=session, status=DemandStatus.open,
                                             page=one, principal=principal)

    def cases(overdue: bool | None, page: lists.Page) -> tuple[list[dict], int]:
        items, matched = approvals.search_cases(session=session, status=None, channel=None,
                                                overdue=overdue, as_of=None, page=page,
                                                principal=principal)
        return items, matched.count

    first, cases_total = cases(None, lists.Page(5, 0))  # most urgent first, open ones ahead
    _, late = cases(True, one)
    _, on_time = cases(False, one)
    _, unread = notifications.search_notifications(session=session, unread=True, page=one,
                                                   principal=principal)
    latest, _ = notifications.search_notifications(session=session, unread=None,
                                                   page=lists.Page(5, 0), principal=principal)
    return render(request, "enterprise/home.html", ctx(
        request, "home", e=record, tier_note=tier_note(record, today()), today=today(),
        open_demands=open_demands.count, cases_total=cases_total, cases_open=late + on_time,
        cases_overdue=late,
        urgent=[with_open_stage(c) for c in first if c["status"] not in CLOSED],
        unread=unread.count,
        latest=latest, stage_labels=STAGE_LABELS))


@router.post("/register")
def register(request: Request, session: SessionDep, user: EnterpriseUser,
             form: CsrfForm) -> Response:
    values = {name: text(form, name) for name in ("uscc", "name", "district", "industry_code",
                                                  "webhook_url")}
    sent = {k: v for k, v in values.items() if v is not None}
    _, error = attempt(session, lambda: enterprises.create_enterprise(
        session=session, principal=user.principal,
        properties=EnterpriseCreate.model_validate(sent).model_dump(exclude_unset=True)))
    if error is not None:
        return render(request, "enterprise/home_register.html", ctx(
            request, "home", values=values, errors=field_errors(error),
            districts=district_options(session)), status_code=status_for(error))
    return see_other("/enterprise/")


# -- profile ------------------------------------------------------------------------------
EDITABLE = ("name", "district", "industry_code", "webhook_url")


@router.get("/profile")
def profile(request: Request, session: SessionDep, user: EnterpriseUser,
            saved: bool = False) -> Response:
    try:
        record, tag = enterprises.get_enterprise(session=session,
                                                 uscc=user.principal.enterprise_uscc,
                                                 principal=user.principal)
    except NotFound:
        return see_other("/enterprise/")
    return render(request, "enterprise/profile.html", ctx(
        request, "profile", e=record, version=tag, values=record, errors={}, saved=saved,
        tier_note=tier_note(record, today()), districts=district_options(session)))


@router.post("/profile")
def save_profile(request: Request, session: SessionDep, user: EnterpriseUser,
                 form: CsrfForm) -> Response:
    uscc = user.principal.enterprise_uscc
    values = {name: text(form, name) for name in EDITABLE}
    version = text(form, "version")
    _, error = attempt(session, lambda: enterprises.update_enterprise(
        session=session, uscc=uscc, principal=user.principal,
        properties=EnterpriseProperties.model_validate(values).model_dump(exclude_unset=True),
        if_match=[version] if version else None))
    if error is None:
        return see_other("/enterprise/profile?saved=1")
    record, tag = enterprises.get_enterprise(session=session, uscc=uscc,
                                             principal=user.principal)
    return render(request, "enterprise/profile.html", ctx(
        request, "profile", e=record, version=tag, values=values, errors=field_errors(error),
        saved=False, tier_note=tier_note(record, today()),
        districts=district_options(session)), status_code=status_for(error))


# -- consortia ----------------------------------------------------------------------------
@router.get("/consortia")
def consortia(request: Request, session: SessionDep, user: EnterpriseUser,
              offset: int = 0) -> Response:
    page = page_of(offset)
    items, matched = enterprises.search_consortia(
        session=session, flt=enterprises.ConsortiumFilter(user.principal.enterprise_uscc),
        page=page, principal=user.principal)
    return render(request, "enterprise/consortium_list.html", ctx(
        request, "consortia", items=items, page=pager(request, page, matched)))


def _blank_rows(uscc: str | None, count: int = 6) -> list[dict[str, str]]:
    rows = [{"uscc": "", "share_percent": ""} for _ in range(count)]
    rows[0]["uscc"] = uscc or ""
    return rows


@router.get("/consortia/new")
def new_consortium(request: Request, user: EnterpriseUser) -> Response:
    uscc = user.principal.enterprise_uscc
    return render(request, "enterprise/consortium_new.html", ctx(
        request, "consortia", values={"name": "", "lead_uscc": uscc},
        rows=_blank_rows(uscc), errors={}))


@router.post("/consortia/new")
def create_consortium(request: Request, session: SessionDep, user: EnterpriseUser,
                      form: CsrfForm) -> Response:
    usccs = [v.strip() if isinstance(v, str) else "" for v in form.getlist("member_uscc")]
    shares = [v.strip() if isinstance(v, str) else "" for v in form.getlist("member_share")]
    shares += [""] * (len(usccs) - len(shares))
    rows = [{"uscc": u, "share_percent": s} for u, s in zip(usccs, shares, strict=False)]
    sent_rows = [i for i, r in enumerate(rows) if r["uscc"] or r["share_percent"]]
    values = {"name": text(form, "name") or "", "lead_uscc": text(form, "lead_uscc") or ""}
    body = {"name": values["name"], "lead_uscc": values["lead_uscc"],
            "members": [{"uscc": rows[i]["uscc"], "share_percent": rows[i]["share_percent"]
                         or None} for i in sent_rows]}

    def create() -> dict:
        checked = ConsortiumCreate.model_validate(body)
        return enterprises.create_consortium(
            session=session, name=checked.name, lead_uscc=checked.lead_uscc,
            members=[m.model_dump() for m in checked.members], principal=user.principal)

    made, error = attempt(session, create)
    if error is None:
        return see_other(f"/enterprise/consortia?created={made['id']}")
    errors: dict[str, str] = {}
    for key, message in field_errors(error).items():
        parts = key.split(".")
        if parts[0] == "members" and len(parts) >= 2 and parts[1].isdigit() \
                and int(parts[1]) < len(sent_rows):
            parts[1] = str(sent_rows[int(parts[1])])  # back to the row on the form
            errors.setdefault(".".join(parts), message)
        else:
            errors.setdefault(key, message)
    while rows and not (rows[-1]["uscc"] or rows[-1]["share_percent"]):
        rows.pop()
    rows += [{"uscc": "", "share_percent": ""} for _ in range(max(1, 6 - len(rows)))]
    return render(request, "enterprise/consortium_new.html", ctx(
        request, "consortia", values=values, rows=rows, errors=errors),
        status_code=status_for(error))


# -- approval cases -------------------------------------------------------------------------
def with_open_stage(case: dict) -> dict:
    """The case with ``open`` — its open stage's clock (None once decided or withdrawn)."""
    open_stage = next((s for s in case["stages"] if s["stage"] == case["stage"]), None)
    return {**case, "open": open_stage}


@router.get("/approvals")
def approval_list(request: Request, session: SessionDep, user: EnterpriseUser,
                  status: str | None = None, offset: int = 0) -> Response:
    chosen = ApprovalStatus(status) if status in {s.value for s in ApprovalStatus} else None
    page = page_of(offset)
    items, matched = approvals.search_cases(session=session, status=chosen, channel=None,
                                            overdue=None, as_of=None, page=page,
                                            principal=user.principal)
    return render(request, "enterprise/case_list.html", ctx(
        request, "approvals", items=[with_open_stage(c) for c in items],
        statuses=[(s.value, s.label) for s in ApprovalStatus],
        status=chosen.value if chosen else None, page=pager(request, page, matched),
        stage_labels=STAGE_LABELS, districts=district_names(session)))


def _case_page(request: Request, session: Session, user, case_id: int, *,
               errors: dict[str, str] | None = None, comment: str | None = None,
               failed: str | None = None, status_code: int = 200) -> Response:
    case = approvals.get_case(session=session, case_id=case_id, principal=user.principal)
    history = approvals.history(session=session, case_id=case_id, principal=user.principal)
    actions = [(a, ACTION_LABELS[a]) for a in case["allowed_actions"] if a in APPLICANT_ACTIONS]
    statuses = {s.value: s.label for s in ApprovalStatus}
    return render(request, "enterprise/case_detail.html", ctx(
        request, "approvals", case=with_open_stage(case), history=history, actions=actions,
        stage_labels=STAGE_LABELS, statuses=statuses, districts=district_names(session),
        errors=errors or {}, comment=comment, failed=failed), status_code=status_code)


@router.get("/approvals/{case_id}")
def approval_detail(request: Request, session: SessionDep, user: EnterpriseUser,
                    case_id: int) -> Response:
    return _case_page(request, session, user, case_id)


@router.post("/approvals/{case_id}/transitions")
def approval_step(request: Request, session: SessionDep, user: EnterpriseUser, case_id: int,
                  form: CsrfForm) -> Response:
    action, comment = text(form, "action"), text(form, "comment")

    def step() -> dict:
        body = CaseTransition.model_validate({"action": action, "comment": comment})
        return approvals.transition(session=session, case_id=case_id, action=body.action,
                                    comment=body.comment, on=None, principal=user.principal)

    _, error = attempt(session, step)
    if error is None:
        return see_other(f"/enterprise/approvals/{case_id}")
    if isinstance(error, NotFound):
        raise error
    errors = field_errors(error)
    if "comment" not in errors:  # a refusal of the step itself goes on top of the page
        errors = {"_": "；".join(errors.values())}
    return _case_page(request, session, user, case_id, errors=errors, comment=comment,
                      failed=action, status_code=status_for(error))


# -- notifications -------------------------------------------------------------------------
@router.get("/notifications")
def notification_list(request: Request, session: SessionDep, user: EnterpriseUser,
                      unread: bool | None = None, offset: int = 0) -> Response:
    page = page_of(offset)
    items, matched = notifications.search_notifications(session=session, unread=unread or None,
                                                        page=page, principal=user.principal)
    return render(request, "enterprise/notification_list.html", ctx(
        request, "notifications", items=items, unread=bool(unread),
        page=pager(request, page, matched)))


@router.post("/notifications/{notification_id}/read")
def notification_read(request: Request, session: SessionDep, user: EnterpriseUser,
                      notification_id: int, form: CsrfForm) -> Response:
    notifications.mark_read(session=session, notification_id=notification_id,
                            read=text(form, "read") != "false", principal=user.principal)
    back = text(form, "next") or "/enterprise/notifications"
    return see_other(back if back.startswith("/enterprise/") else "/enterprise/notifications")


# -- utility mark-up complaints -------------------------------------------------------------
@router.get("/complaints")
def complaint_list(request: Request, session: SessionDep, user: EnterpriseUser,
                   offset: int = 0) -> Response:
    page = page_of(offset)
    items, matched = utilities.search_complaints(session=session, district=None, status=None,
                                                 utility=None, page=page,
                                                 principal=user.principal)
    return render(request, "enterprise/complaint_list.html", ctx(
        request, "complaints", items=items, page=pager(request, page, matched),
        districts=district_names(session), units=UTILITY_UNITS))


COMPLAINT_FIELDS = ("listing_id", "landlord", "district", "utility", "category",
                    "billed_unit_price_yuan", "quantity", "period_start", "period_end")


def _complaint_form(request: Request, session: Session, values: dict, errors: dict,
                    status_code: int = 200) -> Response:
    return render(request, "enterprise/complaint_new.html", ctx(
        request, "complaints", values=values, errors=errors,
        districts=district_options(session),
        utilities=[(u.value, f"{u.label}（{utilities.UNITS[u]}）") for u in Utility],
        categories=sorted({c for cs in CATEGORIES.values() for c in cs})),
        status_code=status_code)


@router.get("/complaints/new")
def new_complaint(request: Request, session: SessionDep, user: EnterpriseUser,
                  listing_id: str | None = None) -> Response:
    last_month_end = today().replace(day=1).toordinal() - 1
    end = date.fromordinal(last_month_end)
    values = {"listing_id": listing_id if listing_id and listing_id.isdigit() else "",
              "utility": "electricity", "category": "一般工商业",
              "period_start": end.replace(day=1).isoformat(), "period_end": end.isoformat()}
    return _complaint_form(request, session, values, {})


@router.post("/complaints/new")
def file_complaint(request: Request, session: SessionDep, user: EnterpriseUser,
                   form: CsrfForm) -> Response:
    values = {name: text(form, name) for name in COMPLAINT_FIELDS}

    def file() -> dict:
        body = ComplaintCreate.model_validate({k: v for k, v in values.items() if v is not None})
        return utilities.file_complaint(session=session, body=body.model_dump(),
                                        principal=user.principal)

    made, error = attempt(session, file)
    if error is None:
        return see_other(f"/enterprise/complaints/{made['id']}")
    return _complaint_form(request, session, values, field_errors(error), status_for(error))


@router.get("/complaints/{complaint_id}")
def complaint_detail(request: Request, session: SessionDep, user: EnterpriseUser,
                     complaint_id: int) -> Response:
    complaint = utilities.get_complaint(session=session, complaint_id=complaint_id,
                                        principal=user.principal)
    return render(request, "enterprise/complaint_detail.html", ctx(
        request, "complaints", c=complaint, districts=district_names(session),
        unit=UTILITY_UNITS[complaint["utility"]],
        statuses={s.value: s.label for s in ComplaintStatus}))
