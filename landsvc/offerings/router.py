from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from landsvc.auth import LandManager, PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import TransitionErrorBody, responses
from landsvc.etags import IfMatchDep, with_etag
from landsvc.geo import parse_bbox
from landsvc.lists import FastJSONResponse, PageDep, feature_page
from landsvc.matching.service import candidates_for_offering
from landsvc.offerings import service
from landsvc.offerings.models import OfferingStatus, SupplyMode
from landsvc.offerings.schemas import (
    OfferingCollection,
    OfferingCreate,
    OfferingFeature,
    OfferingTransition,
    OfferingUpdate,
)

router = APIRouter(prefix="/api/v1/offerings", tags=["供地 offerings"])

_ETAG = {"ETag": {"description": "供地的当前版本；修改时放进 If-Match", "schema": {"type": "string"}}}


async def offering_filter(
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
    supply_mode: SupplyMode | None = None,
    status_: Annotated[OfferingStatus | None, Query(alias="status")] = None,
    district: Annotated[str | None, Query(description="行政区代码或前缀：440306、4403、44")] = None,
    park: Annotated[int | None, Query(description="特色产业园区 id（地块当前所在园区）")] = None,
    min_area_m2: Annotated[float | None, Query(ge=0)] = None,
    max_area_m2: Annotated[float | None, Query(ge=0)] = None,
) -> service.OfferingFilter:
    """The offering filters of the query string."""
    return service.OfferingFilter(parse_bbox(bbox), supply_mode, status_, district, park,
                                  min_area_m2, max_area_m2)


OfferingFilterDep = Annotated[service.OfferingFilter, Depends(offering_filter)]


@router.get("", summary="供地列表（GeoJSON FeatureCollection）",
            responses={200: {"model": OfferingCollection}} | responses(400, 401, 422))
def list_offerings(request: Request, session: SessionDep, principal: PrincipalDep,
                   flt: OfferingFilterDep, page: PageDep):
    features, matched = service.search_offerings(session=session, flt=flt, page=page,
                                                 principal=principal)
    return feature_page(request, features, page, matched)


@router.post("", status_code=201, summary="新建供地（草稿）",
             responses={201: {"model": OfferingFeature, "headers": _ETAG}}
             | responses(400, 401, 403, 409, 413, 422, s409=TransitionErrorBody))
def create_offering(response: Response, session: SessionDep, principal: LandManager,
                    body: OfferingCreate):
    return with_etag(response, service.create_offering(
        session=session, values=body.model_dump(exclude_unset=True) | {
            "parcel_id": body.parcel_id, "supply_mode": body.supply_mode},
        principal=principal,
    ))


@router.get("/{offering_id}", summary="供地详情",
            responses={200: {"model": OfferingFeature, "headers": _ETAG}}
            | responses(401, 404, 422))
def get_offering(response: Response, session: SessionDep, principal: PrincipalDep,
                 offering_id: int):
    return with_etag(response, service.get_offering(session=session, offering_id=offering_id,
                                                     principal=principal))


@router.patch("/{offering_id}", summary="修改供地草稿（只改所给字段；If-Match 防止覆盖他人修改）",
              responses={200: {"model": OfferingFeature, "headers": _ETAG}}
              | responses(400, 401, 403, 404, 409, 412, 413, 422, s409=TransitionErrorBody))
def update_offering(response: Response, session: SessionDep, principal: LandManager,
                    offering_id: int, body: OfferingUpdate, if_match: IfMatchDep):
    return with_etag(response, service.update_offering(
        session=session, offering_id=offering_id, changes=body.model_dump(exclude_unset=True),
        principal=principal, if_match=if_match,
    ))


@router.post("/{offering_id}/transitions",
             summary="供地状态变更：publish | close | award | fail | cancel（地块状态随之变化）",
             responses={200: {"model": OfferingFeature, "headers": _ETAG}}
             | responses(400, 401, 403, 404, 409, 412, 413, 422, s409=TransitionErrorBody))
def transition_offering(response: Response, session: SessionDep, principal: LandManager,
                        offering_id: int, body: OfferingTransition, if_match: IfMatchDep):
    return with_etag(response, service.transition_offering(
        session=session, offering_id=offering_id, action=body.action,
        awardee_uscc=body.awardee_uscc, awardee_name=body.awardee_name,
        principal=principal, if_match=if_match,
    ))


@router.get("/{offering_id}/candidates",
            summary="可满足的待匹配用地需求（梯度高者在前，再按得分；专精特新优先的供地只列专精特新）",
            responses=responses(401, 403, 404, 422))
def offering_candidates(session: SessionDep, principal: PrincipalDep, offering_id: int,
                        limit: Annotated[int, Query(ge=1, le=100)] = 20):
    return FastJSONResponse(candidates_for_offering(session=session, offering_id=offering_id,
                                                    limit=limit, principal=principal))
