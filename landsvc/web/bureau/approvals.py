"""The bureau console's approvals queue and cases, allocation proposals (分配方案) and the
provincial quota pools (省级用地指标).

Every page calls the service functions the API routers call, with the signed-in user's
principal: the queue is :func:`landsvc.approvals.service.search_cases` (the API's
``GET /api/v1/approvals``) in its order, a step is :func:`~landsvc.approvals.service.transition`,
and so on. A refusal the user can correct (409, 422) comes back next to the form with the
input kept; one about who may act (403) or what exists (404) is the error page.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from landsvc import lists
from landsvc.access import Principal
from landsvc.allocations import service as allocations
from landsvc.allocations.models import AllocationStatus
from landsvc.allocations.schemas import AllocationCreate
from landsvc.approvals import service as approvals
from landsvc.approvals.audit import ACTION_LABELS
from landsvc.approvals.models import ApprovalStatus, Channel, Stage
from landsvc.approvals.schemas import CaseTransition
from landsvc.db import SessionDep
from landsvc.districts.service import cached, list_districts
from landsvc.enterprises import service as enterprises
from landsvc.enterprises.tiers import Tier
from landsvc.errors import LandsvcError, status_of
from landsvc.fields import today
from landsvc.quota import service as quota
from landsvc.quota.models import AllocationStatus as QuotaAllocationStatus
from landsvc.quota.models import MovementKind
from landsvc.quota.schemas import AllocationCreate as QuotaAllocationCreate
from landsvc.quota.schemas import QuotaPoolCreate
from landsvc.web.forms import FormInvalid, field_errors, model, text
from landsvc.web.security import BureauUser, CsrfForm
from landsvc.web.templating import beijing, pager, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
BUREAU_ACTIONS = [a for a in approvals.LIFECYCLE.moves if a not in approvals.APPLICANT_ACTIONS]
"""The steps a bureau takes, in the workflow's order (accept … reject)."""
ACTION_HINTS = {
    "accept": "受理申请，开始审查期限",
    "start_review": "审查完毕，提交决定",
    "return": "退回申请人补正，期限暂停",
    "approve": "批准用地申请",
    "reject": "不予批准",
}
ACTION_STYLE = {"approve": "primary", "reject": "danger"}
_IDS = re.compile(r"[\s,，、;；]+")
# -- helpers --------------------------------------------------------------------------------
def _refusal_status(exc: Exception) -> int:
    """The status a re-rendered form answers with (as the API would); 403 and 404 are not
    re-rendered — they go to the error page."""
    if isinstance(exc, LandsvcError):
        status = status_of(exc)
        if status in (401, 403, 404):
            raise exc
        return status
    return 422


def _day(value: str | None, field: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[field] = f"日期格式应为 YYYY-MM-DD，收到 {value[:20]!r}"
        return None


def _ids(value: str | None, field: str, errors: dict[str, str]) -> list[int] | None:
    """``"12, 15 18"`` → ``[12, 15, 18]``; blank → None (all)."""
    if not value:
        return None
    parts = [p for p in _IDS.split(value) if p]
    if not all(p.isdigit() for p in parts):
        errors[field] = "应为以逗号或空格分隔的编号（整数）"
        return None
    return [int(p) for p in parts]


def _choice(value: str | None, enum, field: str, errors: dict[str, str]):
    if not value:
        return None
    try:
        return enum(value)
    except ValueError:
        errors[field] = f"无此选项：{value[:20]!r}"
        return None


def _district_names(session) -> dict[str, str]:
    def build() -> dict[str, str]:
        return {f["properties"]["adcode"]: f["properties"]["name"]
                for f in list_districts(session=session)}

    return cached(session=session, name="web.bureau.district_names", build=build)


def _shown_times(allocation: dict) -> dict:
    return allocation | {"created": beijing(allocation["created_at"]),
                         "confirmed": beijing(allocation["confirmed_at"])}


def _open_stage(case: dict) -> dict | None:
    return next((s for s in case["stages"] if s["stage"] == case["stage"]), None)


def _may_manage_quota(principal: Principal) -> bool:
    try:
        quota.require_province(principal)
    except LandsvcError:
        return False
    return True


def _applicant(session, case: dict, principal: Principal) -> dict | None:
    """The applicant's record (an enterprise, or a consortium with its members) when the
    bureau may read it: an applicant registered outside the jurisdiction is shown by its
    code alone."""
    try:
        if case["applicant_uscc"] is not None:
            found, _ = enterprises.get_enterprise(session=session, uscc=case["applicant_uscc"],
                                                  principal=principal)
            return found
        return enterprises.get_consortium(session=session, consortium_id=case["consortium_id"],
                                          principal=principal)
    except LandsvcError:
        return None


def _labels() -> dict[str, Any]:
    return {
        "statuses": [(s.value, s.label) for s in ApprovalStatus],
        "channels": [(c.value, c.label) for c in Channel],
        "stage_labels": {s.value: s.label for s in Stage},
        "status_labels": {s.value: s.label for s in ApprovalStatus},
        "action_labels": ACTION_LABELS,
        "tier_labels": {t.value: t.label for t in Tier},
    }


# -- the queue ------------------------------------------------------------------------------
@router.get("/approvals")
def approval_queue(request: Request, session: SessionDep, user: BureauUser,
                   status: str | None = None, channel: str | None = None,
                   overdue: str | None = None, as_of: str | None = None,
                   offset: int = Query(0, ge=0)) -> Response:
    """The cases inside the jurisdiction, most urgent first, as the API's queue orders them."""
    errors: dict[str, str] = {}
    chosen_status = _choice(status, ApprovalStatus, "status", errors)
    chosen_channel = _choice(channel, Channel, "channel", errors)
    day = _day(as_of, "as_of", errors)
    only_overdue = overdue in ("true", "1", "on")
    filters = {"status": status or "", "channel": channel or "", "overdue": only_overdue,
               "as_of": as_of or ""}
    page = lists.Page(PAGE_SIZE, offset)
    context = {"section": "bureau", "filters": filters, "errors": errors, **_labels(),
               "names": _district_names(session)}
    if errors:
        return render(request, "bureau/approvals.html",
                      context | {"rows": [], "paging": None}, status_code=422)
    cases, matched = approvals.search_cases(
        session=session, status=chosen_status, channel=chosen_channel,
        overdue=True if only_overdue else None, as_of=day, page=page,
        principal=user.principal)
    rows = [{"case": c, "open": _open_stage(c)} for c in cases]
    return render(request, "bureau/approvals.html", context | {
        "rows": rows, "paging": pager(request, page, matched)})


# -- one case -------------------------------------------------------------------------------
def _case_page(request: Request, session, user, case_id: int, *, errors: dict | None = None,
               failed: str | None = None, kept: dict | None = None,
               allowed: list[str] | None = None, status_code: int = 200) -> Response:
    case = approvals.get_case(session=session, case_id=case_id, principal=user.principal)
    history = approvals.history(session=session, case_id=case_id, principal=user.principal)
    actions = [a for a in case["allowed_actions"] if a in BUREAU_ACTIONS]
    return render(request, "bureau/approval.html", {
        "section": "bureau", "case": case, "history": history, "actions": actions,
        "applicant": _applicant(session, case, user.principal),
        "hints": ACTION_HINTS, "styles": ACTION_STYLE, "errors": errors or {},
        "failed": failed, "kept": kept or {}, "allowed": allowed,
        "names": _district_names(session), **_labels(),
    }, status_code=status_code)


@router.get("/approvals/{case_id}")
def approval_case(request: Request, session: SessionDep, user: BureauUser,
                  case_id: int) -> Response:
    """A case: its facts, stage clocks, history, and a form per step the bureau may take."""
    return _case_page(request, session, user, case_id)


@router.post("/approvals/{case_id}/transitions")
def approval_step(request: Request, session: SessionDep, user: BureauUser, form: CsrfForm,
                  case_id: int) -> Response:
    """Take a step (the API's ``POST /api/v1/approvals/{id}/transitions``), then back to
    the case."""
    kept = {"action": text(form, "action"), "comment": text(form, "comment"),
            "on": text(form, "on")}
    errors: dict[str, str] = {}
    _day(kept["on"], "on", errors)
    try:
        if errors:
            raise FormInvalid(errors)
        body = model(CaseTransition, kept)
        with session.begin_nested():  # a refusal shown as a page leaves nothing
            approvals.transition(session=session, case_id=case_id, action=body.action,
                                 comment=body.comment, on=body.on, principal=user.principal)
    except (FormInvalid, ValidationError) as exc:
        return _case_page(request, session, user, case_id, errors=field_errors(exc),
                          failed=kept["action"], kept=kept, status_code=422)
    except LandsvcError as exc:
        code = _refusal_status(exc)
        return _case_page(request, session, user, case_id, errors=field_errors(exc),
                          failed=kept["action"], kept=kept,
                          allowed=exc.extra.get("allowed"), status_code=code)
    return RedirectResponse(f"/bureau/approvals/{case_id}", status_code=303)


# -- allocations (分配方案) ------------------------------------------------------------------
def _allocations_page(request: Request, session, user, *, offset: int = 0,
                      status: str | None = None, errors: dict | None = None,
                      kept: dict | None = None, status_code: int = 200) -> Response:
    errors = dict(errors or {})
    filter_errors: dict[str, str] = {}
    chosen = _choice(status, AllocationStatus, "status", filter_errors)
    page = lists.Page(PAGE_SIZE, offset)
    items, paging = [], None
    if not filter_errors:
        items, matched = allocations.search_allocations(session=session, status=chosen,
                                                        page=page, principal=user.principal)
        paging = pager(request, page, matched)
    default = {"jurisdiction": user.principal.jurisdiction or "44"}
    return render(request, "bureau/allocations.html", {
        "section": "bureau", "items": [_shown_times(a) for a in items], "paging": paging,
        "errors": errors, "filter_errors": filter_errors, "kept": kept or default,
        "status": status or "",
        "statuses": [(s.value, s.label) for s in AllocationStatus],
    }, status_code=status_code if not filter_errors else 422)


@router.get("/allocations")
def allocation_list(request: Request, session: SessionDep, user: BureauUser,
                    status: str | None = None, offset: int = Query(0, ge=0)) -> Response:
    """The allocations of the jurisdiction, and the form to propose a new one."""
    return _allocations_page(request, session, user, offset=offset, status=status)


@router.post("/allocations")
def allocation_propose(request: Request, session: SessionDep, user: BureauUser,
                       form: CsrfForm) -> Response:
    """Compute a draft (the API's ``POST /api/v1/allocations``) and open it."""
    kept = {k: text(form, k) or "" for k in ("jurisdiction", "offering_ids", "demand_ids")}
    errors: dict[str, str] = {}
    offering_ids = _ids(kept["offering_ids"], "offering_ids", errors)
    demand_ids = _ids(kept["demand_ids"], "demand_ids", errors)
    try:
        if errors:
            raise FormInvalid(errors)
        body = model(AllocationCreate, {"jurisdiction": kept["jurisdiction"],
                                        "offering_ids": offering_ids,
                                        "demand_ids": demand_ids})
        with session.begin_nested():
            made = allocations.create_allocation(
                session=session, jurisdiction=body.jurisdiction, offering_ids=body.offering_ids,
                demand_ids=body.demand_ids, principal=user.principal)
    except (FormInvalid, ValidationError) as exc:
        return _allocations_page(request, session, user, errors=field_errors(exc),
                                 kept=kept, status_code=422)
    except LandsvcError as exc:
        code = _refusal_status(exc)
        return _allocations_page(request, session, user, errors=field_errors(exc), kept=kept,
                                 status_code=code)
    return RedirectResponse(f"/bureau/allocations/{made['id']}", status_code=303)


def _allocation_page(request: Request, session, user, allocation_id: int, *,
                     errors: dict | None = None, status_code: int = 200) -> Response:
    allocation = allocations.get_allocation(session=session, allocation_id=allocation_id,
                                            principal=user.principal)
    may_confirm = "confirm" in allocations.LIFECYCLE.allowed(
        AllocationStatus(allocation["status"]))
    return render(request, "bureau/allocation.html", {
        "section": "bureau", "allocation": _shown_times(allocation), "may_confirm": may_confirm,
        "errors": errors or {}, "tier_labels": {t.value: t.label for t in Tier},
    }, status_code=status_code)


@router.get("/allocations/{allocation_id}")
def allocation_detail(request: Request, session: SessionDep, user: BureauUser,
                      allocation_id: int) -> Response:
    """A draft or confirmed allocation: who gets which offering, who is left out and why."""
    return _allocation_page(request, session, user, allocation_id)


@router.post("/allocations/{allocation_id}/confirm")
def allocation_confirm(request: Request, session: SessionDep, user: BureauUser,
                       form: CsrfForm, allocation_id: int) -> Response:
    """Confirm a draft (the API's ``POST /api/v1/allocations/{id}/confirm``)."""
    try:
        with session.begin_nested():
            allocations.confirm_allocation(session=session, allocation_id=allocation_id,
                                           principal=user.principal)
    except LandsvcError as exc:
        code = _refusal_status(exc)
        return _allocation_page(request, session, user, allocation_id, errors=field_errors(exc),
                                status_code=code)
    return RedirectResponse(f"/bureau/allocations/{allocation_id}", status_code=303)


# -- quota pools (省级用地指标) -------------------------------------------------------------
def _pools_page(request: Request, session, user, *, year: str | None = None,
                offset: int = 0, errors: dict | None = None, kept: dict | None = None,
                status_code: int = 200) -> Response:
    filter_errors: dict[str, str] = {}
    chosen = None
    if year:
        if year.isdigit() and len(year) == 4:
            chosen = int(year)
        else:
            filter_errors["year"] = "年度应为 4 位数字"
    page = lists.Page(PAGE_SIZE, offset)
    pools, paging = [], None
    if not filter_errors:
        pools, matched = quota.search_pools(session=session, year=chosen, page=page,
                                           principal=user.principal)
        paging = pager(request, page, matched)
    return render(request, "bureau/quota.html", {
        "section": "bureau", "pools": pools, "paging": paging, "year": year or "",
        "filter_errors": filter_errors, "errors": errors or {},
        "kept": kept or {"year": str(today().year), "scope": "44"},
        "may_manage": _may_manage_quota(user.principal),
    }, status_code=422 if filter_errors else status_code)


@router.get("/quota")
def quota_pools(request: Request, session: SessionDep, user: BureauUser,
                year: str | None = None, offset: int = Query(0, ge=0)) -> Response:
    """The quota pools the bureau may read, and (province, admin) the form for a new one."""
    return _pools_page(request, session, user, year=year, offset=offset)


@router.post("/quota")
def quota_pool_create(request: Request, session: SessionDep, user: BureauUser,
                      form: CsrfForm) -> Response:
    """A new pool (the API's ``POST /api/v1/quota-pools``); the service decides who may."""
    kept = {k: text(form, k) or "" for k in ("year", "scope", "name", "total_ha")}
    try:
        body = model(QuotaPoolCreate, kept)
        with session.begin_nested():
            made = quota.create_pool(session=session, body=body.model_dump(),
                                     principal=user.principal)
    except (ValidationError, LandsvcError) as exc:
        code = _refusal_status(exc)
        return _pools_page(request, session, user, errors=field_errors(exc), kept=kept,
                           status_code=code)
    return RedirectResponse(f"/bureau/quota/{made['id']}", status_code=303)


def _pool_page(request: Request, session, user, pool_id: int, *, errors: dict | None = None,
               kept: dict | None = None, refusal: dict | None = None,
               status_code: int = 200) -> Response:
    pool = quota.get_pool(session=session, pool_id=pool_id, principal=user.principal)
    may_manage = _may_manage_quota(user.principal)
    approved: list[dict] = []
    if may_manage:
        approved, _ = approvals.search_cases(
            session=session, status=ApprovalStatus.approved, channel=None, overdue=None,
            as_of=None, page=lists.Page(100, 0), principal=user.principal)
    pool = pool | {
        "allocations": [a | {"cancelled": beijing(a["cancelled_at"])}
                        for a in pool["allocations"]],
        "movements": [m | {"when": beijing(m["at"])} for m in pool["movements"]]}
    return render(request, "bureau/quota_pool.html", {
        "section": "bureau", "pool": pool, "may_manage": may_manage, "approved": approved,
        "errors": errors or {}, "kept": kept or {}, "refusal": refusal or {},
        "allocation_labels": {s.value: s.label for s in QuotaAllocationStatus},
        "movement_labels": {k.value: k.label for k in MovementKind},
        "tier_labels": {t.value: t.label for t in Tier},
    }, status_code=status_code)


@router.get("/quota/{pool_id}")
def quota_pool(request: Request, session: SessionDep, user: BureauUser,
               pool_id: int) -> Response:
    """A pool: total, allocated and remaining hectares, its allocations and movements."""
    return _pool_page(request, session, user, pool_id)


@router.post("/quota/{pool_id}/allocations")
def quota_allocate(request: Request, session: SessionDep, user: BureauUser, form: CsrfForm,
                   pool_id: int) -> Response:
    """Draw an approved case's land from the pool (the API's
    ``POST /api/v1/quota-pools/{id}/allocations``)."""
    kept = {"approval_id": text(form, "approval_id") or ""}
    try:
        body = model(QuotaAllocationCreate, kept)
        with session.begin_nested():
            quota.allocate(session=session, pool_id=pool_id, approval_id=body.approval_id,
                           principal=user.principal)
    except (ValidationError, LandsvcError) as exc:
        code = _refusal_status(exc)
        extra = exc.extra if isinstance(exc, LandsvcError) else {}
        return _pool_page(request, session, user, pool_id, errors=field_errors(exc), kept=kept,
                          refusal=extra, status_code=code)
    return RedirectResponse(f"/bureau/quota/{pool_id}", status_code=303)


@router.post("/quota/{pool_id}/allocations/{allocation_id}/cancel")
def quota_cancel(request: Request, session: SessionDep, user: BureauUser, form: CsrfForm,
                 pool_id: int, allocation_id: int) -> Response:
    """Cancel an allocation: its hectares return to the pool (the API's ``DELETE``)."""
    try:
        with session.begin_nested():
            quota.cancel(session=session, pool_id=pool_id, allocation_id=allocation_id,
                         principal=user.principal)
    except LandsvcError as exc:
        code = _refusal_status(exc)
        return _pool_page(request, session, user, pool_id, errors=field_errors(exc),
                          status_code=code)
    return RedirectResponse(f"/bureau/quota/{pool_id}", status_code=303)

