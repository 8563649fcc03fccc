from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import TransitionErrorBody, responses
from landsvc.etags import IfMatchDep, with_etag
from landsvc.geo import parse_bbox
from landsvc.listings import service
from landsvc.listings.models import ListingKind, ListingStatus
from landsvc.listings.schemas import (
    ListingCollection,
    ListingCreate,
    ListingFeature,
    ListingTransition,
    ListingUpdate,
)
from landsvc.lists import PageDep, feature_page

router = APIRouter(prefix="/api/v1/listings", tags=["房源 listings"])

_ETAG = {"ETag": {"description": "房源的当前版本；修改时放进 If-Match", "schema": {"type": "string"}}}


async def listing_filter(
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
    kind: ListingKind | None = None,
    status_: Annotated[ListingStatus | None, Query(alias="status")] = None,
    district: Annotated[str | None, Query(description="行政区代码或前缀：440306、4403、44")] = None,
    park: Annotated[int | None, Query(description="特色产业园区 id")] = None,
    building_id: int | None = None,
    min_area_m2: Annotated[float | None, Query(ge=0)] = None,
    max_area_m2: Annotated[float | None, Query(ge=0)] = None,
    max_rent: Annotated[float | None, Query(
        ge=0, description="租金上限 元/㎡·月；保障性租赁住房按 每套月租金×套数÷面积 折算")] = None,
    max_rent_per_unit: Annotated[float | None, Query(
        ge=0, description="每套月租金上限 元/套·月（只有保障性租赁住房有，厂房不匹配）")] = None,
    flag: Annotated[str | None, Query(
        description="above_guideline：要价高于现行租金指导价 P75 加幅度的招租厂房（局方管辖范围内、管理员）")]
    = None,
) -> service.ListingFilter:
    """The listing filters of the query string."""
    return service.ListingFilter(parse_bbox(bbox), kind, status_, district, park, building_id,
                                 min_area_m2, max_area_m2, max_rent, max_rent_per_unit, flag)


ListingFilterDep = Annotated[service.ListingFilter, Depends(listing_filter)]


@router.get("", summary="房源列表（GeoJSON FeatureCollection；匿名只见招租中）",
            responses={200: {"model": ListingCollection}} | responses(400, 401, 403, 422))
def list_listings(request: Request, session: SessionDep, principal: PrincipalDep,
                  flt: ListingFilterDep, page: PageDep):
    features, matched = service.search_listings(session=session, flt=flt, page=page,
                                                principal=principal)
    return feature_page(request, features, page, matched)


@router.post("", status_code=201, summary="新增房源（草稿）",
             responses={201: {"model": ListingFeature, "headers": _ETAG}}
             | responses(400, 401, 403, 413, 422))
def create_listing(response: Response, session: SessionDep, principal: PrincipalDep,
                   body: ListingCreate):
    return with_etag(response, service.create_listing(
        session=session, properties=body.model_dump(exclude_unset=True), principal=principal))


@router.get("/{listing_id}", summary="房源详情",
            responses={200: {"model": ListingFeature, "headers": _ETAG}}
            | responses(401, 404, 422))
def get_listing(response: Response, session: SessionDep, principal: PrincipalDep,
                listing_id: int):
    return with_etag(response, service.get_listing(session=session, listing_id=listing_id,
                                                    principal=principal))


@router.patch("/{listing_id}", summary="修改房源（草稿或招租中；只改所给字段）",
              responses={200: {"model": ListingFeature, "headers": _ETAG}}
              | responses(400, 401, 403, 404, 409, 412, 413, 422))
def update_listing(response: Response, session: SessionDep, principal: PrincipalDep,
                   listing_id: int, body: ListingUpdate, if_match: IfMatchDep):
    return with_etag(response, service.update_listing(
        session=session, listing_id=listing_id, properties=body.model_dump(exclude_unset=True),
        principal=principal, if_match=if_match))


@router.post("/{listing_id}/transitions", summary="房源状态变更：publish | let | withdraw",
             responses={200: {"model": ListingFeature, "headers": _ETAG}}
             | responses(400, 401, 403, 404, 409, 413, 422, s409=TransitionErrorBody))
def transition_listing(response: Response, session: SessionDep, principal: PrincipalDep,
                       listing_id: int, body: ListingTransition):
    return with_etag(response, service.transition_listing(
        session=session, listing_id=listing_id, action=body.action, principal=principal))
