"""OGC API – Features: the collections GIS clients see, each a domain's public list.

One table, :data:`COLLECTIONS`, names every collection with its titles and two adapters
that call the domain's own service as an anonymous caller (``principal=None``): the
collections show exactly the rows and properties ``/api/v1`` shows the public, and this
module never queries a table itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from landsvc import lists
from landsvc.districts import service as districts
from landsvc.errors import NotFound
from landsvc.geo import GUANGDONG_BOUNDS
from landsvc.listings import service as listings
from landsvc.offerings import service as offerings
from landsvc.parcels import service as parcels
from landsvc.parks import service as parks

BBox = tuple[float, float, float, float]
Search = Callable[[Session, BBox | None, lists.Page], tuple[list[dict], lists.Matched]]
Get = Callable[[Session, str], dict]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

EXTENT = GUANGDONG_BOUNDS
"""Every collection's spatial extent: Guangdong (every row is checked to lie inside it).
A constant, so no request computes an extent over a table."""


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    search: Search
    get: Get


def _numeric_id(feature_id: str, noun: str) -> int:
    """A feature id of an integer-keyed collection; anything else names no feature (404)."""
    if not (feature_id.isascii() and feature_id.isdigit() and len(feature_id) <= 18):
        raise NotFound(f"{noun} {feature_id[:40]!r} 不存在")
    return int(feature_id)


# -- adapters: one pair per collection ------------------------------------------------------
def _search_districts(session: Session, bbox: BBox | None, page: lists.Page):
    return districts.search_divisions(session=session, level="district", page=page, bbox=bbox)


def _get_district(session: Session, adcode: str) -> dict:
    found = districts.get_division(session=session, adcode=adcode)
    if found["properties"]["level"] != "district":  # a city: not a member of this collection
        raise NotFound(f"区县 {adcode} 不存在（地级市代码不是本集合的要素）")
    return found


def _public(search, make_filter, get, id_name: str, noun: str) -> tuple[Search, Get]:
    """The adapters of a domain keyed by integer ids, with its search filtered by bbox alone."""

    def find(session: Session, bbox: BBox | None, page: lists.Page):
        return search(session=session, flt=make_filter(bbox=bbox), page=page, principal=None)

    def one(session: Session, feature_id: str) -> dict:
        return get(session=session, principal=None,
                   **{id_name: _numeric_id(feature_id, noun)})[0]

    return find, one


COLLECTIONS: dict[str, Collection] = {c.id: c for c in (
    Collection(
        "districts", "区县 Districts",
        "广东省 124 个县级行政区（含不设区的东莞市、中山市），要素 id 为 6 位行政区划代码。"
        " Guangdong's county-level divisions; the feature id is the 6-digit adcode.",
        _search_districts, _get_district),
    Collection(
        "parks", "特色产业园区 Specialty industrial parks",
        "特色产业园区的边界、主导产业（GB/T 4754-2017 代码）、是否专精特新特色园区、服务与面积。"
        " Specialty industrial parks: boundary, leading industries, SRDI feature, services.",
        *_public(parks.search_parks, parks.ParkFilter, parks.get_park, "park_id", "园区")),
    Collection(
        "parcels", "地块 Parcels",
        "可供应的工业用地地块（不含已撤回的地块），含面积（㎡、亩）、土地来源、状态与所属园区。"
        " Industrial land parcels (withdrawn ones excepted): area, land source, status, park.",
        *_public(parcels.search_parcels, parcels.ParcelFilter, parcels.get_parcel,
                 "parcel_id", "地块")),
    Collection(
        "offerings", "供地 Land offerings",
        "已发布、竞价结束与已成交的供地（草稿与撤销的不显示）：供地方式（出让、弹性年期出让、租赁、"
        "先租后让、租让结合）、年期、起始价、租金、竞买条件与竞价时间；几何为地块边界。"
        " Published, closed and awarded land offerings in five supply modes; the parcel's shape.",
        *_public(offerings.search_offerings, offerings.OfferingFilter, offerings.get_offering,
                 "offering_id", "供地")),
    Collection(
        "listings", "厂房与保障性租赁住房房源 Factory and housing listings",
        "招租中的厂房、标准厂房与保障性租赁住房（草稿、已出租与撤回的不显示）：面积、租金、楼层、"
        "荷载、层高、电力与出租人；几何为所在楼宇（点或占地轮廓）。"
        " Factory space and affordable rental housing to let (published listings only);"
        " the building's point or footprint.",
        *_public(listings.search_listings, listings.ListingFilter, listings.get_listing,
                 "listing_id", "房源")),
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
                 page: lists.Page) -> tuple[list[dict], lists.Matched]:
    """One page of a collection's features (by id), and how many match."""
    return collection(collection_id).search(session, bbox, page)


def get_item(*, session: Session, collection_id: str, feature_id: str) -> dict:
    """One feature of a collection; 404 when missing or not published."""
    return collection(collection_id).get(session, feature_id)
