"""The enterprise's demands (用地需求), their ranked matches, and applying for a matched
offering through the green channel.

Every page calls the services the API calls (``landsvc/demands/router.py``,
``GET /api/v1/demands/{id}/matches``, ``POST /api/v1/approvals``) with the signed-in
enterprise as principal: another enterprise's demand is a 404 there, and so here.
"""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from landsvc import lists
from landsvc.access import Principal
from landsvc.approvals import service as approvals
from landsvc.approvals.schemas import CaseCreate
from landsvc.db import SessionDep
from landsvc.demands import service as demands
from landsvc.demands.models import DemandKind, DemandStatus
from landsvc.demands.schemas import DemandCreate
from landsvc.districts import service as districts
from landsvc.enterprises import service as enterprises
from landsvc.enterprises.tiers import Tier
from landsvc.errors import Conflict, LandsvcError, NotFound, status_of
from landsvc.matching import service as matching
from landsvc.offerings import service as offerings
from landsvc.offerings.models import SupplyMode
from landsvc.parks import service as parks
from landsvc.web.forms import FormInvalid, field_errors, text, values
from landsvc.web.security import CsrfForm, EnterpriseUser
from landsvc.web.templating import pager, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20
MATCH_LIMIT = 20
SECTION = "enterprise"

KIND_OPTIONS = [(k.value, k.label) for k in DemandKind]
MODE_OPTIONS = [(m.value, m.label) for m in SupplyMode]
STATUS_OPTIONS = [(s.value, s.label) for s in DemandStatus]
UNIT_OPTIONS = [("m2", "㎡"), ("mu", "亩")]

# The API's field names, grouped under the input they belong to on the form.
_FIELD_OF = {"area_min_m2": "area_min", "area_min_mu": "area_min", "area_max_m2": "area_max",
             "area_max_mu": "area_max", "enterprise_uscc": "owner", "consortium_id": "owner",
             "applicant_uscc": "_", "offering_id": "_", "parcel_id": "_"}


def _errors(exc: Exception) -> dict[str, str]:
    """``field_errors`` with the API's field names mapped onto this form's inputs."""
    raw = field_errors(exc)
    out: dict[str, str] = {}
    for key, message in raw.items():
        target = _FIELD_OF.get(key, key)
        if target == "_" and key != "_":
            message = f"{key}: {message}"
        out.setdefault(target, message)
    return out


def _status_of(exc: Exception) -> int:
    if isinstance(exc, LandsvcError):
        return status_of(exc)
    return 422


# -- reference data for the form --------------------------------------------------------
def _district_groups(session) -> list[dict[str, Any]]:
    """Guangdong's districts grouped by city, from the districts service (no geometry kept;
    cached until the districts change)."""

    def build():
        groups: dict[str, dict[str, Any]] = {}
        for f in districts.list_districts(session=session):
            p = f["properties"]
            group = groups.setdefault(p["city_adcode"], {
                "adcode": p["city_adcode"], "name": p["city_name"], "districts": []})
            group["districts"].append((p["adcode"], p["name"]))
        return list(groups.values())

    return districts.cached(session=session, name="web-enterprise-district-groups", build=build)


def _district_names(session) -> dict[str, str]:
    names: dict[str, str] = {}
    for group in _district_groups(session):
        names[group["adcode"][:4]] = f"{group['name']}（全市）"
        for code, name in group["districts"]:
            names[code] = name if group["name"] == name else f"{group['name']}{name}"
    return names


def _parks(session, principal: Principal) -> list[dict[str, Any]]:
    """Every park, from the parks service (the form's choices and the maps' outlines)."""
    found, _ = parks.search_parks(session=session, flt=parks.ParkFilter(),
                                  page=lists.Page(limit=lists.MAX_LIMIT), principal=principal)
    return found


def _park_options(found: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(f["id"], f"{f['properties']['name']}（{f['properties']['district_name']}）")
            for f in found]


def _outlines(found: list[dict[str, Any]]) -> list[dict]:
    """Parks as the maps draw them (context for drawing and for the matches): name and
    outline."""
    return [{"type": "Feature", "id": f["id"], "geometry": f["geometry"],
             "properties": {"name": f["properties"]["name"]}} for f in found]


def _my_consortia(session, principal: Principal) -> list[dict[str, Any]]:
    found, _ = enterprises.search_consortia(
        session=session, flt=enterprises.ConsortiumFilter(member=principal.enterprise_uscc),
        page=lists.Page(limit=lists.MAX_LIMIT), principal=principal)
    return found


# -- the list ----------------------------------------------------------------------------
@router.get("/demands")
def demand_list(request: Request, session: SessionDep, user: EnterpriseUser,
                status: str | None = None, offset: int = 0) -> Response:
    status_value = DemandStatus(status) if status in DemandStatus.__members__ else None
    offset = max(0, offset)
    page = lists.Page(limit=PAGE_SIZE, offset=offset)
    found, matched = demands.search_demands(session=session, status=status_value, page=page,
                                            principal=user.principal)

    pager_ = pager(request, page, matched)
    return render(request, "enterprise/demand_list.html", {
        "section": SECTION, "nav": "demands", "demands": found, "pager": pager_,
        "status": status_value.value if status_value else "", "status_options": STATUS_OPTIONS,
        "district_names": _district_names(session),
        "me": user.principal.enterprise_uscc})


# -- creating ----------------------------------------------------------------------------
def _registered(session, principal: Principal) -> dict[str, Any] | None:
    """The signed-in enterprise's record, None while it has not registered."""
    try:
        return enterprises.get_enterprise(session=session, uscc=principal.enterprise_uscc,
                                          principal=principal)[0]
    except NotFound:
        return None


def _form_context(session, user, form: dict[str, Any], errors: dict[str, str]
                  ) -> dict[str, Any]:
    all_parks = _parks(session, user.principal)
    return {"section": SECTION, "nav": "demands", "form": form, "errors": errors,
            "kind_options": KIND_OPTIONS, "mode_options": MODE_OPTIONS,
            "unit_options": UNIT_OPTIONS, "district_groups": _district_groups(session),
            "park_options": _park_options(all_parks),
            "draw_config": {"bounds": [[20.1, 109.6], [25.6, 117.4]],
                            "parks": _outlines(all_parks)},
            "consortia": _my_consortia(session, user.principal),
            "registered": _registered(session, user.principal)}


@router.get("/demands/new")
def new_demand(request: Request, session: SessionDep, user: EnterpriseUser) -> Response:
    form = {"kinds": ["land"], "area_unit": "m2", "owner": "self", "districts": [],
            "parks": [], "supply_modes": []}
    return render(request, "enterprise/demand_new.html",
                  _form_context(session, user, form, {}))


def _number(raw: str | None, name: str, errors: dict[str, str]) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.replace(",", "").replace("，", ""))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        errors.setdefault(name, "应为数字")
        return None
    return value


def _integer(raw: str | None, name: str, errors: dict[str, str]) -> int | None:
    value = _number(raw, name, errors)
    if value is None:
        return None
    if value != int(value):
        errors.setdefault(name, "应为整数")
        return None
    return int(value)


_TEXT_FIELDS = ("area_min", "area_max", "area_unit", "near_lon", "near_lat", "near_radius_km",
                "max_price_wan", "max_annual_rent_yuan", "max_rent_yuan_per_m2_month",
                "term_years", "industry_code", "power_kva", "floor_load_kn_m2",
                "clear_height_m", "needed_by_date", "within", "owner")
_LIST_FIELDS = ("kinds", "districts", "parks", "supply_modes")


def _kept(form: FormData) -> dict[str, Any]:
    """What the user typed, to fill the form again."""
    return ({name: text(form, name) for name in _TEXT_FIELDS}
            | {name: values(form, name) for name in _LIST_FIELDS})


def _demand_body(kept: dict[str, Any]) -> dict[str, Any]:
    """The API body built from the form.

    Raises :class:`FormInvalid` for what is not even a number, a date or a drawn polygon;
    everything else is the API model's and the service's to judge."""
    errors: dict[str, str] = {}
    unit = "mu" if kept["area_unit"] == "mu" else "m2"
    body: dict[str, Any] = {"kinds": kept["kinds"], "districts": kept["districts"],
                            "supply_modes": kept["supply_modes"]}
    for bound in ("min", "max"):
        body[f"area_{bound}_{unit}"] = _number(kept[f"area_{bound}"], f"area_{bound}", errors)
    parks_ = []
    for raw in kept["parks"]:
        if raw.isdigit():
            parks_.append(int(raw))
        else:
            errors.setdefault("parks", "请从列表中选择园区")
    body["parks"] = parks_
    near = {"lon": _number(kept["near_lon"], "near", errors),
            "lat": _number(kept["near_lat"], "near", errors),
            "radius_km": _number(kept["near_radius_km"], "near", errors)}
    if any(v is not None for v in near.values()):
        body["near"] = near
    if kept["within"]:
        try:
            within = json.loads(kept["within"])
        except ValueError:
            errors.setdefault("within", "绘制的区域无法读取，请重新绘制")
        else:
            if isinstance(within, dict) and within.get("type") == "Feature":
                within = within.get("geometry")
            body["within"] = within
    for name in ("max_price_wan", "max_annual_rent_yuan", "max_rent_yuan_per_m2_month",
                 "power_kva", "floor_load_kn_m2", "clear_height_m"):
        body[name] = _number(kept[name], name, errors)
    body["term_years"] = _integer(kept["term_years"], "term_years", errors)
    body["industry_code"] = kept["industry_code"]
    if kept["needed_by_date"]:
        try:
            body["needed_by_date"] = date.fromisoformat(kept["needed_by_date"])
        except ValueError:
            errors["needed_by_date"] = "应为日期（年-月-日）"
    owner = kept["owner"] or "self"
    if owner != "self":
        if owner.isdigit():
            body["consortium_id"] = int(owner)
        else:
            errors["owner"] = "请选择提出需求的企业或联合竞买体"
    if errors:
        raise FormInvalid(errors)
    return {k: v for k, v in body.items() if v not in (None, "", [])}


@router.post("/demands/new")
def create_demand(request: Request, session: SessionDep, user: EnterpriseUser,
                  form: CsrfForm) -> Response:
    kept = _kept(form)
    try:
        model = DemandCreate.model_validate(_demand_body(kept))
        with session.begin_nested():
            feature, _ = demands.create_demand(
                session=session, values=model.model_dump(exclude_unset=True),
                principal=user.principal)
    except (FormInvalid, ValidationError, LandsvcError) as exc:
        return render(request, "enterprise/demand_new.html",
                      _form_context(session, user, kept, _errors(exc)),
                      status_code=_status_of(exc))
    return RedirectResponse(f"/enterprise/demands/{feature['id']}", status_code=303)


# -- one demand and its matches ------------------------------------------------------------
def _matches(session, demand: dict, principal: Principal) -> dict[str, Any]:
    """The ranked offerings and listings, as ``GET /api/v1/demands/{id}/matches`` gives
    them; ``closed`` says why there are none when the demand is no longer open."""
    kinds = demand["properties"]["kinds"]
    out: dict[str, Any] = {"offerings": None, "listings": None, "closed": None}
    try:
        if "land" in kinds:
            out["offerings"] = matching.match_demand(
                session=session, demand_id=demand["id"], kind="offerings", limit=MATCH_LIMIT,
                principal=principal)["items"]
        if "premises" in kinds:
            out["listings"] = matching.match_demand(
                session=session, demand_id=demand["id"], kind="listings", limit=MATCH_LIMIT,
                principal=principal)["items"]
    except Conflict as exc:
        out["closed"] = exc.detail
    return out


def _owner(session, demand: dict, principal: Principal) -> dict[str, Any]:
    p = demand["properties"]
    if p["consortium_id"] is None:
        return {"kind": "enterprise", "uscc": p["enterprise_uscc"], "label": "本企业"}
    try:
        c = enterprises.get_consortium(session=session, consortium_id=p["consortium_id"],
                                       principal=principal)
        label = f"联合竞买体「{c['name']}」"
    except NotFound:
        label = f"联合竞买体 {p['consortium_id']}"
    return {"kind": "consortium", "id": p["consortium_id"], "label": label}


def _demand_page(request: Request, session, user, demand_id: int, *,
                 errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    demand, _ = demands.get_demand(session=session, demand_id=demand_id,
                                   principal=user.principal)
    found = _matches(session, demand, user.principal)
    all_parks = _parks(session, user.principal)
    ranked = [("offering", i, m) for i, m in enumerate(found["offerings"] or [], 1)] + \
             [("listing", i, m) for i, m in enumerate(found["listings"] or [], 1)]
    map_data = {
        "demand": demand, "parks": _outlines(all_parks),
        "matches": [{"kind": kind, "rank": rank, "id": m["id"], "score": m["score"],
                     "feature": m["feature"]} for kind, rank, m in ranked],
    }
    return render(request, "enterprise/demand_detail.html", {
        "section": SECTION, "nav": "demands", "demand": demand, "p": demand["properties"],
        "owner": _owner(session, demand, user.principal), "matches": found,
        "map_data": map_data, "district_names": _district_names(session),
        "park_names": dict(_park_options(all_parks)), "mode_labels": dict(MODE_OPTIONS),
        "kind_labels": dict(KIND_OPTIONS), "errors": errors or {}},
        status_code=status_code)


@router.get("/demands/{demand_id}")
def demand_detail(request: Request, session: SessionDep, user: EnterpriseUser,
                  demand_id: int) -> Response:
    return _demand_page(request, session, user, demand_id)


@router.post("/demands/{demand_id}/withdraw")
def withdraw_demand(request: Request, session: SessionDep, user: EnterpriseUser,
                    form: CsrfForm, demand_id: int) -> Response:
    try:
        with session.begin_nested():
            demands.transition_demand(session=session, demand_id=demand_id, action="withdraw",
                                      principal=user.principal)
    except NotFound:
        raise
    except LandsvcError as exc:
        return _demand_page(request, session, user, demand_id, errors={"_": exc.detail},
                            status_code=_status_of(exc))
    return RedirectResponse(f"/enterprise/demands/{demand_id}", status_code=303)


# -- applying for a matched offering -------------------------------------------------------
def _apply_context(session, user, demand_id: int, offering_id: int) -> dict[str, Any]:
    demand, _ = demands.get_demand(session=session, demand_id=demand_id,
                                   principal=user.principal)
    offering, _ = offerings.get_offering(session=session, offering_id=offering_id,
                                         principal=user.principal)
    match = None
    if "land" in demand["properties"]["kinds"]:
        try:
            ranked = matching.match_demand(session=session, demand_id=demand_id,
                                           kind="offerings", limit=matching.MAX_LIMIT,
                                           principal=user.principal)["items"]
        except Conflict:
            ranked = []
        match = next(({"rank": i, **m} for i, m in enumerate(ranked, 1)
                      if m["id"] == offering_id), None)
    return {"section": SECTION, "nav": "demands", "demand": demand, "offering": offering,
            "o": offering["properties"], "match": match,
            "owner": _owner(session, demand, user.principal),
            "tier_labels": {t.value: t.label for t in Tier},
            "district_names": _district_names(session)}


@router.get("/demands/{demand_id}/apply")
def apply_page(request: Request, session: SessionDep, user: EnterpriseUser, demand_id: int,
               offering_id: int) -> Response:
    context = _apply_context(session, user, demand_id, offering_id)
    form = {"industry_code": context["demand"]["properties"]["industry_code"] or ""}
    return render(request, "enterprise/apply_new.html",
                  context | {"form": form, "errors": {}})


@router.post("/demands/{demand_id}/apply")
def apply(request: Request, session: SessionDep, user: EnterpriseUser, form: CsrfForm,
          demand_id: int, offering_id: int) -> Response:
    context = _apply_context(session, user, demand_id, offering_id)
    kept = {name: text(form, name) for name in ("project_name", "investment_wan",
                                                "industry_code", "comment")}
    p = context["demand"]["properties"]
    body: dict[str, Any] = {"offering_id": offering_id, "demand_id": demand_id}
    if p["consortium_id"] is not None:
        body["consortium_id"] = p["consortium_id"]
    else:
        body["applicant_uscc"] = p["enterprise_uscc"]
    try:
        errors: dict[str, str] = {}
        investment = _number(kept["investment_wan"], "investment_wan", errors)
        if errors:
            raise FormInvalid(errors)
        body |= {k: v for k, v in {"project_name": kept["project_name"],
                                   "investment_wan": investment,
                                   "industry_code": kept["industry_code"],
                                   "comment": kept["comment"]}.items() if v is not None}
        model = CaseCreate.model_validate(body)
        with session.begin_nested():
            case = approvals.file_case(session=session,
                                       values=model.model_dump(exclude_unset=True),
                                       principal=user.principal)
    except (FormInvalid, ValidationError, LandsvcError) as exc:
        return render(request, "enterprise/apply_new.html",
                      context | {"form": kept, "errors": _errors(exc)},
                      status_code=_status_of(exc))
    return RedirectResponse(f"/enterprise/approvals/{case['id']}", status_code=303)
