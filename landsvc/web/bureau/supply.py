"""The bureau console's supply side: parcel files in (with their report and a map),
offerings, buildings and listings through their lifecycles.

Every page calls the service the API route calls, with the signed-in bureau's principal;
a bureau acting outside its jurisdiction gets the service's 403, and nothing is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from shapely.geometry import mapping
from starlette.datastructures import FormData, UploadFile

from landsvc import access, lists
from landsvc.buildings import service as buildings
from landsvc.buildings.models import BuildingType
from landsvc.buildings.schemas import BuildingCreate, BuildingProperties
from landsvc.db import LabelledEnum, SessionDep
from landsvc.districts.service import district_index
from landsvc.enterprises.tiers import Tier
from landsvc.errors import (
    Forbidden,
    IllegalTransition,
    ImportRejected,
    InvalidInput,
    LandsvcError,
    NotFound,
    status_of,
)
from landsvc.ingest import reader
from landsvc.ingest.upload import saved_upload
from landsvc.listings import service as listings
from landsvc.listings.models import LandlordKind, ListingKind, ListingStatus
from landsvc.listings.schemas import ListingCreate, ListingTransition
from landsvc.offerings import rules as offering_rules
from landsvc.offerings import service as offerings
from landsvc.offerings.models import OfferingStatus, SupplyMode
from landsvc.offerings.schemas import OfferingCreate, OfferingTransition, OfferingUpdate
from landsvc.parcels import importing
from landsvc.parcels import service as parcels
from landsvc.parcels.checks import RowChecker
from landsvc.parcels.models import ParcelStatus
from landsvc.web import forms
from landsvc.web.security import BureauUser, CsrfForm
from landsvc.web.templating import pager, render

router = APIRouter(include_in_schema=False)

SECTION = "bureau"

MAP_ROWS = 2000
"""At most this many rows of an uploaded file are drawn on the report's map."""


# -- parcel import -------------------------------------------------------------------------
@router.get("/parcels/import")
def import_form(request: Request, user: BureauUser):
    return render(request, "bureau/parcel_import.html",
                  {"section": SECTION, "values": {}, "errors": {}})


@router.post("/parcels/import")
def import_upload(request: Request, session: SessionDep, user: BureauUser, form: CsrfForm):
    """The same import as ``POST /api/v1/parcels/import``, answered with its report as a page."""
    values = {"crs": forms.text(form, "crs"), "partial": _checked(form, "partial"),
              "repair": _checked(form, "repair")}
    context: dict[str, Any] = {"section": SECTION, "values": values, "errors": {}}
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        context["errors"] = {"file": "请选择要导入的文件"}
        return render(request, "bureau/parcel_import.html", context, status_code=422)
    context["filename"] = upload.filename
    try:
        reader.upload_suffix(upload.filename)  # what saved_upload checks first: next to the field
    except LandsvcError as exc:
        context["errors"] = {"file": exc.detail}
        return render(request, "bureau/parcel_import.html", context, status_code=status_of(exc))
    status = 200
    with saved_upload(upload) as path:
        # A savepoint of our own: a refused file leaves nothing behind, though the page
        # itself answers normally (and the request's session then commits).
        attempt = session.begin_nested()
        try:
            report = importing.import_parcels(
                session=session, path=path, crs=values["crs"], partial=values["partial"],
                repair=values["repair"], principal=user.principal)
            attempt.commit()
        except ImportRejected as exc:
            attempt.rollback()
            report, status = exc.extra["report"], 422
            context["rejected_whole"] = exc.detail
        except LandsvcError as exc:
            attempt.rollback()
            # Refusals of the file (type, content, size, CRS) belong next to the file
            # field; the rest (outside the jurisdiction: 403) above the form.
            context["errors"] = ({"_": exc.detail} if isinstance(exc, Forbidden)
                                 else {"file": exc.detail})
            return render(request, "bureau/parcel_import.html", context,
                          status_code=status_of(exc))
        context["report"] = report
        context["rows"] = _row_map(session, path, values["crs"], report)
    return render(request, "bureau/parcel_import.html", context, status_code=status)


def _checked(form: FormData, name: str) -> bool:
    return forms.text(form, name) in ("true", "on", "1")


def _row_map(session, path, crs: str | None, report: dict) -> dict:
    """The file's rows as GeoJSON (EPSG:4326) for the map: read again with the importer's
    own reader and reprojected by the importer's own checker, each row marked imported,
    rejected or (all-or-nothing refused) correct but not imported."""
    rejected = {r["index"]: r["reason"] for r in report["rejected"]}
    whole = report["imported"] > 0 or not rejected
    features: list[dict] = []
    unlocated: list[int] = []
    try:
        with reader.open_source(path, importing.LAYOUT, crs) as source:
            checker = RowChecker(district_index(session=session), source.crs)
            code_column = next((k for k, v in source.columns.items() if v == "code"), None)
            for first, geoms, attrs in reader.iter_batches(source):
                if first >= MAP_ROWS:
                    break
                geoms = np.asarray(geoms, dtype=object)[:MAP_ROWS - first]
                ok = ~np.array([g is None for g in geoms], dtype=bool)
                ok[ok] = ~shapely.is_empty(geoms[ok])
                drawn = np.full(len(geoms), None, dtype=object)
                if ok.any():
                    drawn[ok] = checker._to_wgs84(shapely.force_2d(geoms[ok]))
                codes = attrs["code"] if code_column else None
                for j, geom in enumerate(drawn):
                    index = first + j
                    if geom is None:
                        if index in rejected:
                            unlocated.append(index)
                        continue
                    state = ("rejected" if index in rejected
                             else "imported" if whole else "held")
                    features.append({
                        "type": "Feature",
                        "geometry": mapping(geom),
                        "properties": {"index": index, "state": state,
                                       "code": None if codes is None else codes.iat[j],
                                       "reason": rejected.get(index)}})
    except LandsvcError:
        return {"features": [], "unlocated": sorted(rejected), "truncated": False}
    return {"features": features, "unlocated": unlocated,
            "truncated": report["features"] > MAP_ROWS}


# -- shared helpers ------------------------------------------------------------------------
PAGE_SIZE = 20

ZONE = ZoneInfo("Asia/Shanghai")


def _local_input(value: str | None) -> str | None:
    """An ISO timestamp as a ``datetime-local`` input's value (Beijing time)."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def _moment(value: str | None) -> str | None:
    """A ``datetime-local`` value (Beijing time, no zone) as ISO 8601 with +08:00."""
    if not value:
        return None
    return value if ("+" in value[10:] or value.endswith("Z")) else f"{value}+08:00"


def _choice(cls: type[LabelledEnum], value: str | None, field: str):
    """A filter's enum value from the query string: blank is no filter, unknown is a 422."""
    if not value:
        return None
    try:
        return cls(value)
    except ValueError:
        raise InvalidInput(f"{field}: 无法识别的值 {value[:30]!r}") from None


def _offset(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 9 else 0


def _scope(user, district: str | None) -> str | None:
    """The district a list shows: the one asked for, else the bureau's jurisdiction."""
    return district or user.principal.jurisdiction


def _options(cls: type[LabelledEnum]) -> list[tuple[str, str]]:
    return [(m.value, m.label) for m in cls]


def _flag(form: FormData, name: str) -> bool | None:
    """A checkbox: True when ticked, else left out (the service's default applies)."""
    return True if _checked(form, name) else None


def _failed(exc: Exception) -> tuple[dict[str, str], int]:
    """A refused form's field errors and its status (422 for invalid input, else the
    service's own: 403 outside the jurisdiction, 409 conflicts…)."""
    if isinstance(exc, ValidationError | forms.FormInvalid):
        return forms.field_errors(exc), 422
    return forms.field_errors(exc), status_of(exc)


def _transition_refused(exc: LandsvcError) -> dict:
    """What a refused lifecycle step shows: the message, and the allowed actions."""
    return {"message": exc.detail, "status": status_of(exc),
            "allowed": exc.extra.get("allowed") if isinstance(exc, IllegalTransition) else None}


# -- offerings -----------------------------------------------------------------------------
OFFERING_ACTIONS = {"publish": "发布", "close": "结束竞价", "award": "成交", "fail": "流拍",
                    "cancel": "撤销"}
OFFERING_NUMBERS = ("term_years", "lease_years", "transfer_years", "lease_share_percent",
                    "start_price_wan", "annual_rent_yuan", "appraised_price_wan",
                    "rent_review_years", "rent_review_cap_percent")
CONDITION_FIELDS = ("investment_intensity_wan_per_mu", "output_per_mu_wan", "tax_per_mu_wan",
                    "deadline_date")


def _offering_context(**extra: Any) -> dict:
    return {"section": SECTION, "modes": _options(SupplyMode),
            "statuses": _options(OfferingStatus), "tiers": _options(Tier),
            "actions": OFFERING_ACTIONS, "mode_fields": offering_rules.MODES,
            "field_labels": offering_rules.FIELD_LABELS, **extra}


@router.get("/offerings")
def offering_list(request: Request, session: SessionDep, user: BureauUser,
                  status: str | None = None, supply_mode: str | None = None,
                  district: str | None = None, offset: str | None = None):
    at = _offset(offset)
    flt = offerings.OfferingFilter(
        supply_mode=_choice(SupplyMode, supply_mode, "supply_mode"),
        status=_choice(OfferingStatus, status, "status"), district=_scope(user, district))
    features, matched = offerings.search_offerings(
        session=session, flt=flt, page=lists.Page(PAGE_SIZE, at), principal=user.principal)
    return render(request, "bureau/offering_list.html", _offering_context(
        features=features, page=pager(request, lists.Page(PAGE_SIZE, at), matched),
        filters={"status": status, "supply_mode": supply_mode, "district": district}))


def _offerable_parcels(session, user) -> list[dict]:
    """Parcels the bureau may offer (available, in its jurisdiction), for the form's list."""
    found, _ = parcels.search_parcels(
        session=session, page=lists.Page(200, 0), principal=user.principal,
        flt=parcels.ParcelFilter(district=user.principal.jurisdiction,
                                 status=ParcelStatus.available))
    return found


def _offering_values(form: FormData) -> dict[str, Any]:
    """The API's ``OfferingCreate`` input from the form (blank fields left out)."""
    values: dict[str, Any] = {name: forms.text(form, name) for name in
                              ("parcel_id", "supply_mode", *OFFERING_NUMBERS, "min_tier")}
    values["rent_credited"] = {"true": True, "false": False}.get(forms.text(form, "rent_credited"))
    conditions = {name: forms.text(form, f"conditions.{name}") for name in CONDITION_FIELDS}
    values["conditions"] = {k: v for k, v in conditions.items() if v} or None
    for name in ("srdi_priority", "joint_bidding_allowed"):
        values[name] = _flag(form, name)
    for name in ("bidding_opens_at", "bidding_closes_at"):
        values[name] = _moment(forms.text(form, name))
    return values


def _form_echo(form: FormData) -> dict[str, Any]:
    """The user's input as typed, to fill the form again."""
    return {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrf_token"}


@router.get("/offerings/new")
def offering_new(request: Request, session: SessionDep, user: BureauUser,
                 parcel_id: str | None = None):
    return render(request, "bureau/offering_form.html", _offering_context(
        values={"parcel_id": parcel_id} if parcel_id else {}, errors={},
        parcels=_offerable_parcels(session, user)))


@router.post("/offerings/new")
def offering_create(request: Request, session: SessionDep, user: BureauUser, form: CsrfForm):
    try:
        body = forms.model(OfferingCreate, _offering_values(form))
        with session.begin_nested():  # as POST /api/v1/offerings calls it
            created, _ = offerings.create_offering(
                session=session, values=body.model_dump(exclude_unset=True) | {
                    "parcel_id": body.parcel_id, "supply_mode": body.supply_mode},
                principal=user.principal)
    except (ValidationError, LandsvcError) as exc:
        errors, status = _failed(exc)
        return render(request, "bureau/offering_form.html", _offering_context(
            values=_form_echo(form), errors=errors, parcels=_offerable_parcels(session, user)),
            status_code=status)
    return RedirectResponse(f"/bureau/offerings/{created['id']}", status_code=303)


def _offering_form_values(props: dict) -> dict[str, Any]:
    """A stored offering as the form's fields (to edit a draft)."""
    values: dict[str, Any] = {"parcel_id": props["parcel_id"], "supply_mode": props["supply_mode"],
                              "min_tier": props["min_tier"]}
    for name in OFFERING_NUMBERS:
        value = props[name]
        values[name] = None if value is None else (
            f"{value:g}" if isinstance(value, float) else str(value))
    if props["rent_credited"] is not None:
        values["rent_credited"] = "true" if props["rent_credited"] else "false"
    for name in CONDITION_FIELDS:
        value = (props["conditions"] or {}).get(name)
        values[f"conditions.{name}"] = None if value is None else (
            f"{value:g}" if isinstance(value, float) else str(value))
    for name in ("srdi_priority", "joint_bidding_allowed"):
        values[name] = props[name]
    for name in ("bidding_opens_at", "bidding_closes_at"):
        values[name] = _local_input(props[name])
    return values


@router.get("/offerings/{offering_id}/edit")
def offering_edit(request: Request, session: SessionDep, user: BureauUser, offering_id: int):
    offering, tag = offerings.get_offering(session=session, offering_id=offering_id,
                                           principal=user.principal)
    return render(request, "bureau/offering_form.html", _offering_context(
        offering=offering, etag=tag, values=_offering_form_values(offering["properties"]),
        errors={}, parcels=[]))


@router.post("/offerings/{offering_id}/edit")
def offering_update(request: Request, session: SessionDep, user: BureauUser,
                    offering_id: int, form: CsrfForm):
    """The draft's fields as the form shows them all: a blank field clears it (``null`` in
    the API's PATCH), an unticked box is false; If-Match is the version the form was read at."""
    changes = _offering_values(form)
    changes.pop("parcel_id")
    for name in ("srdi_priority", "joint_bidding_allowed"):
        changes[name] = bool(changes[name])
    tag = forms.text(form, "etag")
    try:
        body = OfferingUpdate.model_validate(changes)
        with session.begin_nested():  # as PATCH /api/v1/offerings/{id} calls it
            offerings.update_offering(
                session=session, offering_id=offering_id,
                changes=body.model_dump(exclude_unset=True), principal=user.principal,
                if_match=[tag] if tag else None)
    except (ValidationError, LandsvcError) as exc:
        if isinstance(exc, NotFound):
            raise
        errors, status = _failed(exc)
        try:
            offering, current = offerings.get_offering(
                session=session, offering_id=offering_id, principal=user.principal)
        except NotFound:  # not visible to this bureau: the refusal alone, as a page
            raise exc from None
        return render(request, "bureau/offering_form.html", _offering_context(
            offering=offering, etag=tag or current, values=_form_echo(form), errors=errors,
            parcels=[]), status_code=status)
    return RedirectResponse(f"/bureau/offerings/{offering_id}", status_code=303)


def _offering_page(request: Request, session, user, offering_id: int, *,
                   refused: dict | None = None, award: dict | None = None):
    offering, tag = offerings.get_offering(session=session, offering_id=offering_id,
                                           principal=user.principal)
    return render(request, "bureau/offering_detail.html", _offering_context(
        offering=offering, props=offering["properties"], etag=tag, refused=refused,
        award=award or {"values": {}, "errors": {}}),
        status_code=refused["status"] if refused else 200)


@router.get("/offerings/{offering_id}")
def offering_detail(request: Request, session: SessionDep, user: BureauUser, offering_id: int):
    return _offering_page(request, session, user, offering_id)


@router.post("/offerings/{offering_id}/transitions")
def offering_transition(request: Request, session: SessionDep, user: BureauUser,
                        offering_id: int, form: CsrfForm):
    etag_sent = forms.text(form, "etag")
    data = {"action": forms.text(form, "action"),
            "awardee_uscc": forms.text(form, "awardee_uscc"),
            "awardee_name": forms.text(form, "awardee_name")}
    try:
        body = forms.model(OfferingTransition, data)
        with session.begin_nested():
            offerings.transition_offering(
                session=session, offering_id=offering_id, action=body.action,
                awardee_uscc=body.awardee_uscc, awardee_name=body.awardee_name,
                principal=user.principal, if_match=[etag_sent] if etag_sent else None)
    except (ValidationError, LandsvcError) as exc:
        if isinstance(exc, NotFound):
            raise
        errors, status = _failed(exc)
        refused = (_transition_refused(exc) if isinstance(exc, LandsvcError) else
                   {"message": "；".join(errors.values()), "status": status, "allowed": None})
        award = {"values": data, "errors": errors} if data["action"] == "award" else None
        try:
            return _offering_page(request, session, user, offering_id, refused=refused,
                                  award=award)
        except NotFound:  # not even visible to this bureau: the refusal alone, as a page
            raise exc from None
    return RedirectResponse(f"/bureau/offerings/{offering_id}", status_code=303)


# -- buildings -----------------------------------------------------------------------------
BUILDING_TEXT = ("name", "building_type", "floors", "total_floor_area_m2", "holder_uscc",
                 "holder_name", "holder_industry_code")


def _building_context(**extra: Any) -> dict:
    return {"section": SECTION, "building_types": _options(BuildingType),
            **extra}


@router.get("/buildings")
def building_list(request: Request, session: SessionDep, user: BureauUser,
                  building_type: str | None = None, district: str | None = None,
                  offset: str | None = None):
    at = _offset(offset)
    flt = buildings.BuildingFilter(
        district=_scope(user, district),
        building_type=_choice(BuildingType, building_type, "building_type"))
    features, matched = buildings.search_buildings(
        session=session, flt=flt, page=lists.Page(PAGE_SIZE, at), principal=user.principal)
    return render(request, "bureau/building_list.html", _building_context(
        features=features, page=pager(request, lists.Page(PAGE_SIZE, at), matched),
        filters={"building_type": building_type, "district": district}))


@router.get("/buildings/new")
def building_new(request: Request, user: BureauUser):
    return render(request, "bureau/building_form.html", _building_context(values={}, errors={}))


def _point(form: FormData) -> dict:
    """The building's place from the form's longitude and latitude (a GeoJSON Point)."""
    errors: dict[str, str] = {}
    coordinates = []
    for name, label in (("lon", "经度"), ("lat", "纬度")):
        raw = forms.text(form, name)
        try:
            coordinates.append(float(raw))
        except (TypeError, ValueError):
            errors[name] = f"请填写{label}（十进制度数）" if raw is None else f"{label}应为数字"
    if errors:
        raise forms.FormInvalid(errors)
    return {"type": "Point", "coordinates": coordinates}


@router.post("/buildings/new")
def building_create(request: Request, session: SessionDep, user: BureauUser, form: CsrfForm):
    properties = {name: forms.text(form, name) for name in BUILDING_TEXT}
    properties |= {"completed": _flag(form, "completed"),
                   "freight_lift": _flag(form, "freight_lift")}
    try:
        geometry = _point(form)
        body = BuildingCreate(type="Feature", geometry=geometry, properties=forms.model(
            BuildingProperties, properties))
        with session.begin_nested():  # as POST /api/v1/buildings calls it
            created, _ = buildings.create_building(
                session=session, geometry=body.geometry,
                properties=body.properties.model_dump(exclude_unset=True),
                principal=user.principal)
    except (ValidationError, LandsvcError, forms.FormInvalid) as exc:
        errors, status = _failed(exc)
        if "geometry" in errors:
            errors.setdefault("lon", errors.pop("geometry"))
        return render(request, "bureau/building_form.html", _building_context(
            values=_form_echo(form), errors=errors), status_code=status)
    return RedirectResponse(f"/bureau/buildings/{created['id']}", status_code=303)


@router.get("/buildings/{building_id}")
def building_detail(request: Request, session: SessionDep, user: BureauUser, building_id: int):
    building, _ = buildings.get_building(session=session, building_id=building_id,
                                         principal=user.principal)
    on_it, matched = listings.search_listings(
        session=session, flt=listings.ListingFilter(building_id=building_id),
        page=lists.Page(100, 0), principal=user.principal)
    return render(request, "bureau/building_detail.html", _building_context(
        building=building, props=building["properties"], listings=on_it,
        listings_matched=matched, manages=access.covers(user.principal,
                                                        building["properties"]["district"])))


# -- listings ------------------------------------------------------------------------------
LISTING_ACTIONS = {"publish": "发布", "let": "标记已出租", "withdraw": "撤回"}
LISTING_TEXT = ("building_id", "kind", "floor", "area_m2", "rent_yuan_per_m2_month", "units",
                "rent_yuan_per_unit_month", "floor_load_kn_m2", "clear_height_m", "power_kva",
                "landlord", "landlord_kind", "owner_authorisation_ref")


def _listing_context(**extra: Any) -> dict:
    return {"section": SECTION, "kinds": _options(ListingKind),
            "statuses": _options(ListingStatus), "landlord_kinds": _options(LandlordKind),
            "actions": LISTING_ACTIONS, **extra}


@router.get("/listings")
def listing_list(request: Request, session: SessionDep, user: BureauUser,
                 status: str | None = None, kind: str | None = None,
                 district: str | None = None, flag: str | None = None,
                 offset: str | None = None):
    at = _offset(offset)
    flt = listings.ListingFilter(
        kind=_choice(ListingKind, kind, "kind"), status=_choice(ListingStatus, status, "status"),
        district=_scope(user, district), flag=flag or None)
    features, matched = listings.search_listings(
        session=session, flt=flt, page=lists.Page(PAGE_SIZE, at), principal=user.principal)
    return render(request, "bureau/listing_list.html", _listing_context(
        features=features, page=pager(request, lists.Page(PAGE_SIZE, at), matched),
        filters={"status": status, "kind": kind, "district": district, "flag": flag}))


def _buildings_here(session, user) -> list[dict]:
    """Buildings in the bureau's jurisdiction, for the listing form's suggestions."""
    found, _ = buildings.search_buildings(
        session=session, page=lists.Page(200, 0), principal=user.principal,
        flt=buildings.BuildingFilter(district=user.principal.jurisdiction))
    return found


@router.get("/listings/new")
def listing_new(request: Request, session: SessionDep, user: BureauUser,
                building_id: str | None = None):
    return render(request, "bureau/listing_form.html", _listing_context(
        values={"building_id": building_id} if building_id else {}, errors={},
        buildings=_buildings_here(session, user)))


@router.post("/listings/new")
def listing_create(request: Request, session: SessionDep, user: BureauUser, form: CsrfForm):
    values: dict[str, Any] = {name: forms.text(form, name) for name in LISTING_TEXT}
    values["freight_lift"] = {"true": True, "false": False}.get(forms.text(form, "freight_lift"))
    try:
        body = forms.model(ListingCreate, values)
        with session.begin_nested():  # as POST /api/v1/listings calls it
            created, _ = listings.create_listing(
                session=session, properties=body.model_dump(exclude_unset=True),
                principal=user.principal)
    except (ValidationError, LandsvcError) as exc:
        errors, status = _failed(exc)
        return render(request, "bureau/listing_form.html", _listing_context(
            values=_form_echo(form), errors=errors, buildings=_buildings_here(session, user)),
            status_code=status)
    return RedirectResponse(f"/bureau/listings/{created['id']}", status_code=303)


def _listing_page(request: Request, session, user, listing_id: int, *,
                  refused: dict | None = None):
    listing, _ = listings.get_listing(session=session, listing_id=listing_id,
                                      principal=user.principal)
    props = listing["properties"]
    return render(request, "bureau/listing_detail.html", _listing_context(
        listing=listing, props=props, refused=refused,
        allowed=listings.LISTING_LIFECYCLE.allowed(ListingStatus(props["status"]))),
        status_code=refused["status"] if refused else 200)


@router.get("/listings/{listing_id}")
def listing_detail(request: Request, session: SessionDep, user: BureauUser, listing_id: int):
    return _listing_page(request, session, user, listing_id)


@router.post("/listings/{listing_id}/transitions")
def listing_transition(request: Request, session: SessionDep, user: BureauUser,
                       listing_id: int, form: CsrfForm):
    try:
        body = forms.model(ListingTransition, {"action": forms.text(form, "action")})
        with session.begin_nested():  # as POST /api/v1/listings/{id}/transitions calls it
            listings.transition_listing(session=session, listing_id=listing_id,
                                        action=body.action, principal=user.principal)
    except (ValidationError, LandsvcError) as exc:
        if isinstance(exc, NotFound):
            raise
        errors, status = _failed(exc)
        refused = (_transition_refused(exc) if isinstance(exc, LandsvcError) else
                   {"message": "；".join(errors.values()), "status": status, "allowed": None})
        try:
            return _listing_page(request, session, user, listing_id, refused=refused)
        except NotFound:
            raise exc from None
    return RedirectResponse(f"/bureau/listings/{listing_id}", status_code=303)
