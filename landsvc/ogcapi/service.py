"""OGC API – Features: the collections GIS clients see, each a domain's public list.

One table, :data:`COLLECTIONS`, names every collection with its titles, the property
filters its items take, and two adapters that call the domain's own service as an
anonymous caller (``principal=None``): the collections show exactly the rows and properties
``/api/v1`` shows the public, and this module never queries a table itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from landsvc import lists
from landsvc.db import LabelledEnum
from landsvc.districts import service as districts
from landsvc.errors import BadQuery, NotFound
from landsvc.geo import GUANGDONG_BOUNDS
from landsvc.listings import service as listings
from landsvc.listings.models import ListingKind
from landsvc.offerings import service as offerings
from landsvc.offerings.models import OfferingStatus, SupplyMode
from landsvc.parcels import service as parcels
from landsvc.parcels.models import LandSource, ParcelStatus
from landsvc.parks import service as parks

BBox = tuple[float, float, float, float]
Search = Callable[[Session, BBox | None, lists.Page, dict[str, Any]],
                  tuple[list[dict], lists.Matched]]
Get = Callable[[Session, str], dict]
Parse = Callable[[str], Any]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

EXTENT = GUANGDONG_BOUNDS
"""Every collection's spatial extent: Guangdong (every row is checked to lie inside it).
A constant, so no request computes an extent over a table."""


@dataclass(frozen=True)
class Filter:
    """A feature property the items may be filtered on (``?district=440306``)."""

    parse: Parse
    argument: str
    """The name the domain's search filter gives it."""
    description: str


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    search: Search
    get: Get
    filters: Mapping[str, Filter] = field(default_factory=dict)


# -- property filters -----------------------------------------------------------------------
def _choice(name: str, kind: type[LabelledEnum]) -> Parse:
    known = kind.lookup()

    def parse(text: str):
        if text not in known:
            allowed = "、".join(f"{m.value}（{m.label}）" for m in kind)
            raise BadQuery(f"{name}: 应为 {allowed} 之一，收到 {text[:30]!r}",
                           code="invalid_parameter")
        return kind(known[text])

    return parse


def _adcode(name: str, lengths: tuple[int, ...]) -> Parse:
    def parse(text: str) -> str:
        if not (text.isascii() and text.isdigit() and len(text) in lengths):
            raise BadQuery(f"{name}: 应为 {'、'.join(map(str, lengths))} 位行政区划代码，"
                           f"收到 {text[:20]!r}", code="invalid_parameter")
        return text

    return parse


def _city(text: str) -> str:
    if not (text.isascii() and text.isdigit()
            and (len(text) == 4 or (len(text) == 6 and text.endswith("00")))):
        raise BadQuery(f"city_adcode: 应为地级市代码（如 440300 或 4403），收到 {text[:20]!r}",
                       code="invalid_parameter")
    return text


def _flag(name: str) -> Parse:
    def parse(text: str) -> bool:
        if text not in ("true", "false"):
            raise BadQuery(f"{name}: 应为 true 或 false，收到 {text[:20]!r}",
                           code="invalid_parameter")
        return text == "true"

    return parse


def _id(name: str) -> Parse:
    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise BadQuery(f"{name}: 应为整数 id，收到 {text[:20]!r}", code="invalid_parameter")
        return int(text)

    return parse


DISTRICT = Filter(_adcode("district", (2, 4, 6)), "district",
                  "行政区划代码或前缀：440306（区县）、4403 或 440300（全市）、44")
PARK = Filter(_id("park_id"), "park", "园区 id")


def _enum_filter(name: str, kind: type[LabelledEnum], argument: str | None = None) -> Filter:
    values = "、".join(f"{m.value}（{m.label}）" for m in kind)
    return Filter(_choice(name, kind), argument or name, values)


def _numeric_id(feature_id: str, noun: str) -> int:
    """A feature id of an integer-keyed collection; anything else names no feature (404)."""
    if not (feature_id.isascii() and feature_id.isdigit() and len(feature_id) <= 18):
        raise NotFound(f"{noun} {feature_id[:40]!r} 不存在")
    return int(feature_id)


# -- adapters: one pair per collection ------------------------------------------------------
def _search_districts(session: Session, bbox: BBox | None, page: lists.Page,
                      arguments: dict[str, Any]):
    return districts.search_divisions(session=session, level="district", page=page, bbox=bbox,
                                      **arguments)


def _get_district(session: Session, adcode: str) -> dict:
    found = districts.get_division(session=session, adcode=adcode)
    if found["properties"]["level"] != "district":  # a city: not a member of this collection
        raise NotFound(f"区县 {adcode} 不存在（地级市代码不是本集合的要素）")
    return found


def _public(search, make_filter, get, id_name: str, noun: str) -> tuple[Search, Get]:
    """The adapters of a domain keyed by integer ids: its search and its read."""

    def find(session: Session, bbox: BBox | None, page: lists.Page,
             arguments: dict[str, Any]):
        return search(session=session, flt=make_filter(bbox=bbox, **arguments), page=page,
                      principal=None)

    def one(session: Session, feature_id: str) -> dict:
        return get(session=session, principal=None,
                   **{id_name: _numeric_id(feature_id, noun)})[0]

    return find, one


COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection(
        "districts", "区县 Districts",
        "广东省 124 个县级行政区（含不设区的东莞市、中山市），要素 id 为 6 位行政区划代码。"
        " Guangdong's county-level divisions; the feature id is the 6-digit adcode.",
        _search_districts, _get_district,
        {"city_adcode": Filter(_city, "city", "地级市代码：440300 或 4403")}),
    Collection(
        "parks", "特色产业园区 Specialty industrial parks",
        "特色产业园区的边界、主导产业（GB/T 4754-2017 代码）、是否专精特新特色园区、服务与面积。"
        " Specialty industrial parks: boundary, leading industries, SRDI feature, services.",
        *_public(parks.search_parks, parks.ParkFilter, parks.get_park, "park_id", "园区"),
        {"district": DISTRICT,
         "featured_srdi": Filter(_flag("featured_srdi"), "featured_srdi", "true 或 false")}),
    Collection(
        "parcels", "地块 Parcels",
        "可供应的工业用地地块（不含已撤回的地块），含面积（㎡、亩）、土地来源、状态与所属园区。"
        " Industrial land parcels (withdrawn ones excepted): area, land source, status, park.",
        *_public(parcels.search_parcels, parcels.ParcelFilter, parcels.get_parcel,
                 "parcel_id", "地块"),
        {"district": DISTRICT, "status": _enum_filter("status", ParcelStatus),
         "land_source": _enum_filter("land_source", LandSource)}),
    Collection(
        "offerings", "供地 Land offerings",
        "已发布、竞价结束与已成交的供地（草稿与撤销的不显示）：供地方式（出让、弹性年期出让、租赁、"
        "先租后让、租让结合）、年期、起始价、租金、竞买条件与竞价时间；几何为地块边界。"
        " Published, closed and awarded land offerings in five supply modes; the parcel's shape.",
        *_public(offerings.search_offerings, offerings.OfferingFilter, offerings.get_offering,
                 "offering_id", "供地"),
        {"supply_mode": _enum_filter("supply_mode", SupplyMode),
         "status": _enum_filter("status", OfferingStatus), "district": DISTRICT,
         "park_id": PARK}),
    Collection(
        "listings", "厂房与保障性租赁住房房源 Factory and housing listings",
        "招租中的厂房、标准厂房与保障性租赁住房（草稿、已出租与撤回的不显示）：面积、租金、楼层、"
        "荷载、层高、电力与出租人；几何为所在楼宇（点或占地轮廓）。"
        " Factory space and affordable rental housing to let (published listings only);"
        " the building's point or footprint.",
        *_public(listings.search_listings, listings.ListingFilter, listings.get_listing,
                 "listing_id", "房源"),
        {"kind": _enum_filter("kind", ListingKind), "district": DISTRICT, "park_id": PARK}),
)}


# -- the service ----------------------------------------------------------------------------
def collections() -> list[Collection]:
    """Every collection, in the order clients list them."""
    return list(COLLECTIONS.values())


def collection(collection_id: str) -> Collection:
    """One collection; 404 naming the ones there are."""
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise NotFound(f"没有名为 {collection_id[:40]!r} 的集合；现有：{'、'.join(COLLECTIONS)}",
                       code="unknown_collection")
    return found


def search_items(*, session: Session, collection_id: str, bbox: BBox | None,
                 page: lists.Page, properties: Mapping[str, str] | None = None
                 ) -> tuple[list[dict], lists.Matched]:
    """One page of a collection's features (by id), and how many match.

    ``properties``: query parameters by name; those naming one of the collection's property
    filters filter (a bad value: 400), the others are ignored.
    """
    found = collection(collection_id)
    arguments = {f.argument: f.parse(properties[name])
                 for name, f in found.filters.items() if name in (properties or {})}
    return found.search(session, bbox, page, arguments)


def get_item(*, session: Session, collection_id: str, feature_id: str) -> dict:
    """One feature of a collection; 404 when missing or not published."""
    return collection(collection_id).get(session, feature_id)
