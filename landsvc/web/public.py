"""The public portal (no login): the rent guide, published offerings and listings, parks.

Every page asks the services with ``principal=None``: the published view, the same for a
visitor and for a signed-in user (their own drafts live in their portals). Filters are GET
forms; a bad value is shown next to its field (422) instead of the results.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from landsvc import lists
from landsvc.buildings.models import BuildingType
from landsvc.db import SessionDep
from landsvc.districts import service as districts
from landsvc.errors import LandsvcError
from landsvc.guidelines import service as guidelines
from landsvc.listings import service as listings
from landsvc.listings.models import ListingKind, ListingStatus
from landsvc.offerings import service as offerings
from landsvc.offerings.models import PUBLIC_STATUSES, OfferingStatus, SupplyMode
from landsvc.parks import service as parks
from landsvc.web.forms import field_errors
from landsvc.web.security import OptionalUser
from landsvc.web.templating import beijing, pager, render

router = APIRouter(include_in_schema=False)

PUBLISHED_VIEW = None
"""The principal every public page passes: anonymous, whoever is signed in."""
PAGE_SIZE = 20
M2_PER_MU = 2000 / 3
CHINA = ZoneInfo("Asia/Shanghai")
AREA_UNITS = [("m2", "㎡"), ("mu", "亩")]
MAX_PARKS = 1000
"""Parks offered in the park filter (Guangdong counts a few hundred specialty parks)."""

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


# -- reading a GET form -------------------------------------------------------------------
class _Form:
    """A GET form's values: blanks are absent; bad values become field errors."""

    def __init__(self, request: Request):
        self._params = request.query_params
        self.values: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def text(self, name: str, max_length: int = 40) -> str | None:
        value = (self._params.get(name) or "").strip()[:max_length]
        self.values[name] = value
        return value or None

    def choice(self, name: str, options, label: str):
        value = self.text(name)
        if value is None:
            return None
        allowed = {str(v): v for v, _ in options}
        if value not in allowed:
            self.errors[name] = f"无效的{label}：{value}"
            return None
        return allowed[value]

    def number(self, name: str, label: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0:
            self.errors[name] = f"{label}应为不小于 0 的数字"
            return None
        return number

    def integer(self, name: str, label: str, default: int | None = None) -> int | None:
        value = self.text(name)
        if value is None:
            return default
        if not value.isdigit() or int(value) > 2**63 - 1:
            self.errors[name] = f"{label}应为非负整数"
            return default
        return int(value)

    def offset(self) -> int:
        """Where a page starts; a bad value belongs to no field of the form."""
        value = self.integer("offset", "分页位置", 0)
        if "offset" in self.errors:
            self.errors["_"] = self.errors.pop("offset")
        return value or 0

    def day(self, name: str, label: str) -> dt.date | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            self.errors[name] = f"{label}应为日期，如 2026-07-01"
            return None

    def area_range(self, unit: str) -> tuple[float | None, float | None]:
        """``min_area``/``max_area`` in ``unit`` (㎡ or 亩), as ㎡."""
        low, high = self.number("min_area", "最小面积"), self.number("max_area", "最大面积")
        if low is not None and high is not None and low > high:
            self.errors["max_area"] = "最大面积不能小于最小面积"
        factor = M2_PER_MU if unit == "mu" else 1.0
        return tuple(None if v is None else round(v * factor, 2) for v in (low, high))

    def refuse(self, exc: LandsvcError) -> None:
        self.errors |= field_errors(exc)


# -- shared look-ups ----------------------------------------------------------------------
def _district_groups(session) -> list[dict[str, Any]]:
    """Cities with their districts, for the district select (cached until they change)."""

    def build() -> list[dict[str, Any]]:
        groups: dict[str, dict[str, Any]] = {}
        for f in districts.list_districts(session=session):
            p = f["properties"]
            group = groups.setdefault(p["city_adcode"], {
                "prefix": p["city_adcode"][:4], "name": p["city_name"], "districts": []})
            group["districts"].append((p["adcode"], p["name"]))
        return list(groups.values())

    return districts.cached(session=session, name="web_public_district_groups", build=build)


def _district_codes(groups: list[dict[str, Any]]) -> list[tuple[str, str]]:
    codes = [("44", "广东省")]
    for g in groups:
        if len(g["districts"]) > 1:
            codes.append((g["prefix"], g["name"]))
        codes += g["districts"]
    return codes


def _parks_named(session) -> dict[int, str]:
    features, _ = parks.search_parks(session=session, flt=parks.ParkFilter(),
                                     page=lists.Page(MAX_PARKS, 0, count=False),
                                     principal=PUBLISHED_VIEW)
    return {f["id"]: f["properties"]["name"] for f in features}


def _layer(kind: str, features: list[dict], popup: Callable[[dict], str]) -> dict[str, Any]:
    """A map layer for ``public.js``: the Features' geometry and their popup text only."""
    return {"kind": kind, "data": {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": f["id"], "geometry": f["geometry"],
         "properties": {"popup": popup(f)}} for f in features if f.get("geometry")]}}


def _area_text(p: dict) -> str:
    return f"{p['area_m2']:,.2f} ㎡（{p['area_mu']:,.2f} 亩）"


def _offering_popup(f: dict) -> str:
    p = f["properties"]
    return (f"供地 {f['id']} · {p['supply_mode_label']}（{p['status_label']}）\n"
            f"{p['district_name']} · 地块 {p['parcel_code']}\n{_area_text(p)}")


def _listing_rent_text(p: dict) -> str:
    if p["rent_yuan_per_m2_month"] is not None:
        return f"{p['rent_yuan_per_m2_month']:,.2f} 元/㎡·月"
    if p["rent_yuan_per_unit_month"] is not None:
        return f"{p['rent_yuan_per_unit_month']:,.2f} 元/套·月"
    return "租金面议"


def _listing_popup(f: dict) -> str:
    p = f["properties"]
    return (f"房源 {f['id']} · {p['kind_label']} · {p['building_name']}\n"
            f"{p['district_name']} · {p['area_m2']:,.2f} ㎡ · {_listing_rent_text(p)}")


def _park_popup(f: dict) -> str:
    p = f["properties"]
    return (f"{p['name']}\n{p['district_name']} · {p['area_m2'] / 10_000:,.2f} 公顷"
            + ("\n专精特新特色园区" if p["featured_srdi"] else ""))


# -- the rent guide -----------------------------------------------------------------------
@router.get("/")
def home(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    form = _Form(request)
    building_type = form.choice("building_type", [(t.value, t.label) for t in BuildingType],
                                "建筑类型")
    period = form.text("period", 20)
    as_of = form.day("as_of", "查看日期")
    found: dict[str, Any] = {"items": [], "version": None}
    if not form.errors:
        try:
            found = guidelines.items_in_force(session, period=period, as_of=as_of,
                                              building_type=building_type)
        except LandsvcError as exc:
            form.refuse(exc)
    query = {k: v for k, v in (("building_type", form.values["building_type"]),
                               ("period", found.get("period") or ""),
                               ("as_of", form.values["as_of"])) if v}
    featured, featured_matched = parks.search_parks(
        session=session, flt=parks.ParkFilter(featured_srdi=True), page=lists.Page(6, 0),
        principal=PUBLISHED_VIEW)
    counts = {
        "offerings": offerings.search_offerings(
            session=session, flt=offerings.OfferingFilter(status=OfferingStatus.published),
            page=lists.Page(1, 0), principal=PUBLISHED_VIEW)[1].count,
        "listings": listings.search_listings(
            session=session, flt=listings.ListingFilter(status=ListingStatus.published),
            page=lists.Page(1, 0), principal=PUBLISHED_VIEW)[1].count,
        "featured_parks": featured_matched.count,
    }
    return render(request, "public/home.html", {
        "section": "public", "form": form.values, "errors": form.errors, "found": found,
        "building_types": [(t.value, t.label) for t in BuildingType],
        "map_url": "/maps/rent-guide" + (f"?{urlencode(query)}" if query else ""),
        "counts": counts, "featured": featured,
    }, status_code=422 if form.errors else 200)


# -- offerings ----------------------------------------------------------------------------
_OFFERING_STATUSES = [(s.value, s.label) for s in PUBLIC_STATUSES]
_SUPPLY_MODES = [(m.value, m.label) for m in SupplyMode]


@router.get("/portal/offerings")
def offering_list(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    form = _Form(request)
    groups = _district_groups(session)
    park_names = _parks_named(session)
    district = form.choice("district", _district_codes(groups), "行政区")
    mode = form.choice("supply_mode", _SUPPLY_MODES, "供地方式")
    status = form.choice("status", _OFFERING_STATUSES, "状态")
    park_options = [(str(i), name) for i, name in park_names.items()]
    park = form.choice("park", park_options, "园区")
    unit = form.choice("area_unit", AREA_UNITS, "面积单位") or "m2"
    low, high = form.area_range(unit)
    page = lists.Page(PAGE_SIZE, form.offset())
    features: list[dict] = []
    matched = lists.Matched(0, True, False)
    if not form.errors:
        flt = offerings.OfferingFilter(
            supply_mode=SupplyMode(mode) if mode else None,
            status=OfferingStatus(status) if status else None,
            district=district, park=int(park) if park else None, min_area_m2=low, max_area_m2=high)
        try:
            features, matched = offerings.search_offerings(session=session, flt=flt, page=page,
                                                           principal=PUBLISHED_VIEW)
        except LandsvcError as exc:
            form.refuse(exc)
    return render(request, "public/offerings.html", {
        "section": "offerings", "form": form.values, "errors": form.errors,
        "district_groups": groups, "supply_modes": _SUPPLY_MODES,
        "statuses": _OFFERING_STATUSES, "parks": park_options,
        "park_names": park_names, "area_units": AREA_UNITS, "features": features,
        "paging": pager(request, page, matched),
        "layers": [_layer("offering", features, _offering_popup)],
    }, status_code=422 if form.errors else 200)


@router.get("/portal/offerings/{offering_id}")
def offering_detail(request: Request, session: SessionDep, user: OptionalUser,
                    offering_id: Id) -> Response:
    offering, _ = offerings.get_offering(session=session, offering_id=offering_id,
                                         principal=PUBLISHED_VIEW)
    p = offering["properties"]
    park = None
    if p["park_id"] is not None:
        park = parks.get_park(session=session, park_id=p["park_id"],
                              principal=PUBLISHED_VIEW)[0]
    return render(request, "public/offering.html", {
        "section": "offerings", "offering": offering, "p": p, "park": park,
        "bidding": {"opens": beijing(p["bidding_opens_at"]),
                    "closes": beijing(p["bidding_closes_at"])},
        # the guideline in force today in its district, every building type
        "guideline": guidelines.items_in_force(session, district=p["district"]),
        "layers": [_layer("offering", [offering], _offering_popup)],
    })


# -- listings -----------------------------------------------------------------------------
_KINDS = [(k.value, k.label) for k in ListingKind]


@router.get("/portal/listings")
def listing_list(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    form = _Form(request)
    groups = _district_groups(session)
    park_names = _parks_named(session)
    district = form.choice("district", _district_codes(groups), "行政区")
    kind = form.choice("kind", _KINDS, "房源类型")
    park_options = [(str(i), name) for i, name in park_names.items()]
    park = form.choice("park", park_options, "园区")
    low, high = form.area_range("m2")
    max_rent = form.number("max_rent", "租金上限")
    page = lists.Page(PAGE_SIZE, form.offset())
    features: list[dict] = []
    matched = lists.Matched(0, True, False)
    if not form.errors:
        flt = listings.ListingFilter(kind=ListingKind(kind) if kind else None,
                                     district=district, park=int(park) if park else None, min_area_m2=low,
                                     max_area_m2=high, max_rent=max_rent)
        try:
            features, matched = listings.search_listings(session=session, flt=flt, page=page,
                                                         principal=PUBLISHED_VIEW)
        except LandsvcError as exc:
            form.refuse(exc)
    return render(request, "public/listings.html", {
        "section": "listings", "form": form.values, "errors": form.errors,
        "district_groups": groups, "kinds": _KINDS, "parks": park_options,
        "park_names": park_names, "features": features,
        "paging": pager(request, page, matched),
        "layers": [_layer("listing", features, _listing_popup)],
    }, status_code=422 if form.errors else 200)


@router.get("/portal/listings/{listing_id}")
def listing_detail(request: Request, session: SessionDep, user: OptionalUser,
                   listing_id: Id) -> Response:
    listing, _ = listings.get_listing(session=session, listing_id=listing_id,
                                      principal=PUBLISHED_VIEW)
    p = listing["properties"]
    park = None
    if p["park_id"] is not None:
        park = parks.get_park(session=session, park_id=p["park_id"],
                              principal=PUBLISHED_VIEW)[0]
    return render(request, "public/listing.html", {
        "section": "listings", "listing": listing, "p": p, "park": park,
        "guideline": p["guideline"], "above": "above_guideline" in p["flags"],
        "layers": [_layer("listing", [listing], _listing_popup)],
    })


# -- parks --------------------------------------------------------------------------------
_FEATURED = [("true", "是"), ("false", "否")]


@router.get("/portal/parks")
def park_list(request: Request, session: SessionDep, user: OptionalUser) -> Response:
    form = _Form(request)
    groups = _district_groups(session)
    district = form.choice("district", _district_codes(groups), "行政区")
    featured = form.choice("featured_srdi", _FEATURED, "是否专精特新特色园区")
    industry = form.text("industry", 10)
    page = lists.Page(PAGE_SIZE, form.offset())
    features: list[dict] = []
    matched = lists.Matched(0, True, False)
    if not form.errors:
        flt = parks.ParkFilter(district=district, industry=industry,
                               featured_srdi=None if featured is None else featured == "true")
        try:
            features, matched = parks.search_parks(session=session, flt=flt, page=page,
                                                   principal=PUBLISHED_VIEW)
        except LandsvcError as exc:
            form.refuse(exc)
    return render(request, "public/parks.html", {
        "section": "parks", "form": form.values, "errors": form.errors,
        "district_groups": groups, "featured_options": _FEATURED, "features": features,
        "paging": pager(request, page, matched),
        "layers": [_layer("park", features, _park_popup)],
    }, status_code=422 if form.errors else 200)


@router.get("/portal/parks/{park_id}")
def park_detail(request: Request, session: SessionDep, user: OptionalUser,
                park_id: Id) -> Response:
    park, _ = parks.get_park(session=session, park_id=park_id, principal=PUBLISHED_VIEW)
    page = lists.Page(lists.DEFAULT_LIMIT, 0)
    in_park, offerings_matched = offerings.search_offerings(
        session=session, flt=offerings.OfferingFilter(park=park_id), page=page,
        principal=PUBLISHED_VIEW)
    to_let, listings_matched = listings.search_listings(
        session=session, flt=listings.ListingFilter(park=park_id,
                                                    status=ListingStatus.published),
        page=page, principal=PUBLISHED_VIEW)
    return render(request, "public/park.html", {
        "section": "parks", "park": park, "p": park["properties"],
        "offerings": in_park, "offerings_matched": offerings_matched,
        "listings": to_let, "listings_matched": listings_matched,
        "layers": [_layer("park", [park], _park_popup),
                   _layer("offering", in_park, _offering_popup),
                   _layer("listing", to_let, _listing_popup)],
    })
