"""The rent market in the bureau console: guideline versions (compute, compare with the
version in force, publish) and utility mark-up complaints (investigate, resolve, dismiss).

Every decision is the services': :mod:`landsvc.guidelines.service` and
:mod:`landsvc.utilities.service`, called with the signed-in officer's principal."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from landsvc import lists
from landsvc.buildings.models import BuildingType
from landsvc.db import SessionDep
from landsvc.errors import IllegalTransition, LandsvcError, status_of
from landsvc.guidelines import service as guidelines
from landsvc.guidelines.schemas import ComputeRequest, PublishRequest
from landsvc.utilities import service as utilities
from landsvc.utilities.models import ComplaintStatus, Utility
from landsvc.utilities.schemas import ComplaintTransition
from landsvc.web.forms import field_errors, model, text
from landsvc.web.security import BureauUser, CsrfForm
from landsvc.web.templating import pager, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
BIG_CHANGE_PERCENT = 10.0
"""A row of a version whose median moves this much (either way) from the figure in force is
highlighted for the officer's attention before publishing."""

LEVELS = [("district", "区县"), ("zone", "片区")]
ACTIONS = {"investigate": "开始调查", "resolve": "处理完毕（核定退还）", "dismiss": "驳回"}


# -- paging -------------------------------------------------------------------------------
def _page(offset: int) -> lists.Page:
    return lists.Page(limit=PAGE_SIZE, offset=max(0, offset))


def _errors(exc: Exception, values: dict[str, Any]) -> tuple[dict[str, str], int]:
    """Field messages (in Chinese) and the status the API would answer."""
    if isinstance(exc, ValidationError):
        return {field: _invalid(field, values.get(field)) for field in field_errors(exc)}, 422
    if isinstance(exc, LandsvcError):
        return field_errors(exc), status_of(exc)
    raise exc


def _invalid(field: str, given: Any) -> str:
    """What pydantic found wrong with a form field, said in Chinese."""
    shown = repr(str(given)[:20]) if given not in (None, "") else None
    messages = {
        "period": "请填写期间：年度 2026、半年 2026H1/2026H2 或季度 2026Q1–2026Q4",
        "level": "统计层级应为区县（district）或片区（zone）",
        "effective_date": (f"日期格式应为 YYYY-MM-DD，收到 {shown}" if shown
                           else "请填写生效日期（YYYY-MM-DD）"),
        "refund_yuan": (f"退还金额应为数字（元），收到 {shown}" if shown
                        else "请填写核定退还金额（元，可为 0）"),
        "note": "处理意见不能超过 1000 字",
        "action": "未知的处理动作",
    }
    return messages.get(field, "输入无效")


# -- guidelines ---------------------------------------------------------------------------
def _versions_page(request: Request, session, user, offset: int, *,
                   errors: dict[str, str] | None = None, form: dict[str, Any] | None = None,
                   status_code: int = 200) -> Response:
    page = _page(offset)
    versions, matched = guidelines.list_versions(session=session, principal=user.principal,
                                                 page=page)
    return render(request, "bureau/guidelines.html", {
        "section": "bureau", "versions": versions, "pager": pager(request, page, matched),
        "levels": LEVELS, "errors": errors or {},
        "form": form or {"period": "", "level": "district"},
    }, status_code=status_code)


@router.get("/guidelines")
def guideline_versions(request: Request, session: SessionDep, user: BureauUser,
                       offset: int = 0) -> Response:
    return _versions_page(request, session, user, offset)


@router.post("/guidelines/compute")
def compute_guidelines(request: Request, session: SessionDep, user: BureauUser,
                       form: CsrfForm) -> Response:
    values = {"period": text(form, "period"), "level": text(form, "level") or "district"}
    try:
        body = model(ComputeRequest, values)
        with session.begin_nested():  # a refusal leaves nothing behind
            version = guidelines.compute(session=session, period=body.period,
                                         level=body.level, principal=user.principal)
    except (ValidationError, LandsvcError) as exc:
        errors, status = _errors(exc, values)
        return _versions_page(request, session, user, 0, errors=errors,
                              form={k: v or "" for k, v in values.items()}, status_code=status)
    return RedirectResponse(f"/bureau/guidelines/versions/{version['id']}", status_code=303)


def _key(item: dict) -> tuple:
    return item["zone"], item["district"], item["building_type"]


def compare_with_in_force(session, version: dict, principal) -> tuple[list[dict], set[int]]:
    """Each item of ``version`` beside the figure in force today for the same zone or
    district and building type (the guidelines service's answer for the version's scope
    and level): the difference of the medians and its percentage; and the versions those
    figures come from."""
    in_force = guidelines.search_items(session=session, principal=principal,
                                       district=version["scope"], level=version["level"])
    current = {_key(i): i for i in in_force["items"]}
    rows = []
    for item in version["items"]:
        now = current.get(_key(item))
        diff = pct = None
        if now is not None:
            diff = round(item["median"] - now["median"], 2)
            pct = round(diff / now["median"] * 100, 1) if now["median"] else None
        rows.append({"item": item, "in_force": now, "difference": diff, "percent": pct,
                     "big": pct is not None and abs(pct) >= BIG_CHANGE_PERCENT})
    return rows, {i["version"] for i in in_force["items"]}


def _version_page(request: Request, session, user, version_id: int, *,
                  errors: dict[str, str] | None = None, effective_date: str = "",
                  status_code: int = 200) -> Response:
    version = guidelines.get_version(session=session, version_id=version_id,
                                     principal=user.principal)
    rows, sources = compare_with_in_force(session, version, user.principal)
    # the officer's view of a long table: one district, one building type, big changes only
    query = request.query_params
    districts = sorted({(r["item"]["district"], r["item"]["district_name"]) for r in rows})
    chosen = {"district": query.get("district") or "", "building_type":
              query.get("building_type") or "", "big": query.get("big") == "1"}
    shown = [r for r in rows
             if (not chosen["district"] or r["item"]["district"] == chosen["district"])
             and (not chosen["building_type"]
                  or r["item"]["building_type"] == chosen["building_type"])
             and (not chosen["big"] or r["big"])]
    return render(request, "bureau/guideline_version.html", {
        "section": "bureau", "version": version, "rows": shown, "all_rows": len(rows),
        "in_force_versions": sorted(sources), "big_change": BIG_CHANGE_PERCENT,
        "big_rows": sum(1 for r in rows if r["big"]), "districts": districts,
        "building_types": [(b.value, b.label) for b in BuildingType], "chosen": chosen,
        "errors": errors or {}, "effective_date": effective_date,
        "published": request.query_params.get("published") == "1",
    }, status_code=status_code)


@router.get("/guidelines/versions/{version_id}")
def guideline_version(request: Request, session: SessionDep, user: BureauUser,
                      version_id: int) -> Response:
    return _version_page(request, session, user, version_id)


@router.post("/guidelines/versions/{version_id}/publish")
def publish_guidelines(request: Request, session: SessionDep, user: BureauUser,
                       form: CsrfForm, version_id: int) -> Response:
    given = text(form, "effective_date")
    try:
        body = model(PublishRequest, {"effective_date": given})
        with session.begin_nested():
            guidelines.publish(session=session, version_id=version_id,
                               effective_date=body.effective_date, principal=user.principal)
    except (ValidationError, LandsvcError) as exc:
        errors, status = _errors(exc, {"effective_date": given})
        if status == 404:
            raise
        return _version_page(request, session, user, version_id, errors=errors,
                             effective_date=given or "", status_code=status)
    return RedirectResponse(f"/bureau/guidelines/versions/{version_id}?published=1",
                            status_code=303)


# -- utility complaints -------------------------------------------------------------------
def _choice(value: str | None, enum) -> Any:
    return enum(value) if value in {m.value for m in enum} else None


@router.get("/complaints")
def complaints(request: Request, session: SessionDep, user: BureauUser,
               status: str | None = None, utility: str | None = None,
               offset: int = 0) -> Response:
    chosen_status, chosen_utility = _choice(status, ComplaintStatus), _choice(utility, Utility)
    page = _page(offset)
    items, matched = utilities.search_complaints(
        session=session, district=None, status=chosen_status, utility=chosen_utility,
        page=page, principal=user.principal)
    return render(request, "bureau/complaints.html", {
        "section": "bureau", "items": items, "pager": pager(request, page, matched),
        "status": chosen_status.value if chosen_status else "",
        "utility": chosen_utility.value if chosen_utility else "",
        "statuses": [(s.value, s.label) for s in ComplaintStatus],
        "utilities": [(u.value, u.label) for u in Utility],
    })


def _complaint_page(request: Request, session, user, complaint_id: int, *,
                    errors: dict[str, str] | None = None, form: dict[str, Any] | None = None,
                    allowed: list[str] | None = None, status_code: int = 200) -> Response:
    complaint = utilities.get_complaint(session=session, complaint_id=complaint_id,
                                        principal=user.principal)
    return render(request, "bureau/complaint.html", {
        "section": "bureau", "c": complaint, "errors": errors or {}, "form": form or {},
        "actions": ACTIONS, "refused_allowed": allowed,
        "done": request.query_params.get("done"),
    }, status_code=status_code)


@router.get("/complaints/{complaint_id}")
def complaint(request: Request, session: SessionDep, user: BureauUser,
              complaint_id: int) -> Response:
    return _complaint_page(request, session, user, complaint_id)


def _transition_values(form: FormData) -> dict[str, Any]:
    return {"action": text(form, "action"), "refund_yuan": text(form, "refund_yuan"),
            "note": text(form, "note")}


@router.post("/complaints/{complaint_id}/transitions")
def complaint_transition(request: Request, session: SessionDep, user: BureauUser,
                         form: CsrfForm, complaint_id: int) -> Response:
    values = _transition_values(form)
    try:
        body = model(ComplaintTransition, values)
        with session.begin_nested():
            utilities.transition(session=session, complaint_id=complaint_id,
                                 action=body.action, refund_yuan=body.refund_yuan,
                                 note=body.note, principal=user.principal)
    except (ValidationError, LandsvcError) as exc:
        errors, status = _errors(exc, values)
        if status == 404:
            raise
        if "action" in errors:  # no field of its own: the hidden input of each button
            errors["_"] = errors.pop("action")
        allowed = exc.extra.get("allowed") if isinstance(exc, IllegalTransition) else None
        return _complaint_page(request, session, user, complaint_id, errors=errors,
                               form={k: v or "" for k, v in values.items()}, allowed=allowed,
                               status_code=status)
    return RedirectResponse(f"/bureau/complaints/{complaint_id}?done={body.action}",
                            status_code=303)
