from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.demands import service
from landsvc.demands.models import DemandStatus
from landsvc.demands.schemas import (
    DemandCreate,
    DemandFeature,
    DemandTransition,
    DemandUpdate,
    MatchList,
)
from landsvc.errors import TransitionErrorBody, responses
from landsvc.etags import IfMatchDep, with_etag
from landsvc.lists import FastJSONResponse, PageDep, feature_page
from landsvc.matching import service as matching

router = APIRouter(prefix="/api/v1/demands", tags=["用地需求 demands"])

_ETAG = {"ETag": {"description": "需求的当前版本；修改时放进 If-Match", "schema": {"type": "string"}}}


@router.get("", summary="用地需求列表（企业：自己的；部门：辖区内的）",
            responses=responses(400, 401, 403, 422))
def list_demands(request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep,
                 status_: Annotated[DemandStatus | None, Query(alias="status")] = None):
    features, matched = service.search_demands(session=session, status=status_, page=page,
                                               principal=principal)
    return feature_page(request, features, page, matched)


@router.post("", status_code=201, summary="提出用地需求",
             responses={201: {"model": DemandFeature, "headers": _ETAG}}
             | responses(400, 401, 403, 413, 422))
def create_demand(response: Response, session: SessionDep, principal: PrincipalDep,
                  body: DemandCreate):
    return with_etag(response, service.create_demand(
        session=session, values=body.model_dump(exclude_unset=True), principal=principal))


@router.get("/{demand_id}", summary="用地需求详情",
            responses={200: {"model": DemandFeature, "headers": _ETAG}}
            | responses(401, 403, 404, 422))
def get_demand(response: Response, session: SessionDep, principal: PrincipalDep,
               demand_id: int):
    return with_etag(response, service.get_demand(session=session, demand_id=demand_id,
                                                  principal=principal))


@router.patch("/{demand_id}", summary="修改待匹配的用地需求（只改所给字段）",
              responses={200: {"model": DemandFeature, "headers": _ETAG}}
              | responses(400, 401, 403, 404, 409, 412, 413, 422, s409=TransitionErrorBody))
def update_demand(response: Response, session: SessionDep, principal: PrincipalDep,
                  demand_id: int, body: DemandUpdate, if_match: IfMatchDep):
    return with_etag(response, service.update_demand(
        session=session, demand_id=demand_id, changes=body.model_dump(exclude_unset=True),
        principal=principal, if_match=if_match))


@router.post("/{demand_id}/transitions", summary="用地需求状态变更：withdraw | fulfil",
             responses={200: {"model": DemandFeature, "headers": _ETAG}}
             | responses(400, 401, 403, 404, 409, 412, 413, 422, s409=TransitionErrorBody))
def transition_demand(response: Response, session: SessionDep, principal: PrincipalDep,
                      demand_id: int, body: DemandTransition, if_match: IfMatchDep):
    return with_etag(response, service.transition_demand(
        session=session, demand_id=demand_id, action=body.action, principal=principal,
        if_match=if_match))


@router.get("/{demand_id}/matches", summary="匹配结果：排序、得分与逐项理由",
            responses={200: {"model": MatchList}} | responses(401, 403, 404, 409, 422))
def demand_matches(session: SessionDep, principal: PrincipalDep, demand_id: int,
                   kind: Literal["offerings", "listings"] | None = None,
                   limit: Annotated[int, Query(ge=1, le=matching.MAX_LIMIT)]
                   = matching.DEFAULT_LIMIT):
    return FastJSONResponse(matching.match_demand(session=session, demand_id=demand_id,
                                                  kind=kind, limit=limit, principal=principal))
