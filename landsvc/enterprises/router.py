from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.enterprises import service
from landsvc.enterprises.schemas import (
    ConsortiumCreate,
    ConsortiumPage,
    ConsortiumRead,
    EnterpriseCreate,
    EnterprisePage,
    EnterpriseProperties,
    EnterpriseRead,
)
from landsvc.enterprises.tiers import Tier
from landsvc.errors import responses
from landsvc.etags import IfMatchDep, with_etag
from landsvc.lists import PageDep, item_page

router = APIRouter(prefix="/api/v1", tags=["企业与联合竞买体 enterprises"])

_ETAG = {"ETag": {"description": "企业记录的当前版本；修改时放进 If-Match",
                  "schema": {"type": "string"}}}


async def enterprise_filter(
    district: Annotated[str | None, Query(description="行政区代码或前缀：440306、4403、44")] = None,
    tier: Annotated[Tier | None, Query(description="认定的梯度")] = None,
    effective_tier: Annotated[Tier | None, Query(description="今日有效的梯度")] = None,
    industry: Annotated[str | None, Query(description="GB/T 4754-2017 行业代码或其前缀，如 C39")]
    = None,
) -> service.EnterpriseFilter:
    return service.EnterpriseFilter(district, tier, effective_tier, industry)


@router.get("/enterprises", summary="企业列表（企业只见本企业，主管部门见辖区内企业）",
            responses={200: {"model": EnterprisePage}} | responses(400, 401, 403, 422))
def list_enterprises(request: Request, session: SessionDep, principal: PrincipalDep,
                     flt: Annotated[service.EnterpriseFilter, Depends(enterprise_filter)],
                     page: PageDep):
    items, matched = service.search_enterprises(session=session, flt=flt, page=page,
                                                principal=principal)
    return item_page(request, items, page, matched)


@router.post("/enterprises", status_code=201, summary="登记企业",
             responses={201: {"model": EnterpriseRead, "headers": _ETAG}}
             | responses(400, 401, 403, 409, 413, 422))
def create_enterprise(response: Response, session: SessionDep, principal: PrincipalDep,
                      body: EnterpriseCreate):
    return with_etag(response, service.create_enterprise(
        session=session, properties=body.model_dump(exclude_unset=True), principal=principal))


@router.get("/enterprises/{uscc}", summary="企业详情",
            responses={200: {"model": EnterpriseRead, "headers": _ETAG}}
            | responses(401, 403, 404, 422))
def get_enterprise(response: Response, session: SessionDep, principal: PrincipalDep,
                   uscc: str):
    return with_etag(response, service.get_enterprise(session=session, uscc=uscc,
                                                      principal=principal))


@router.patch("/enterprises/{uscc}", summary="修改企业（只改所给字段；If-Match 防止覆盖他人修改）",
              responses={200: {"model": EnterpriseRead, "headers": _ETAG}}
              | responses(400, 401, 403, 404, 409, 412, 413, 422))
def update_enterprise(response: Response, session: SessionDep, principal: PrincipalDep,
                      uscc: str, body: EnterpriseProperties, if_match: IfMatchDep):
    return with_etag(response, service.update_enterprise(
        session=session, uscc=uscc, properties=body.model_dump(exclude_unset=True),
        principal=principal, if_match=if_match))


@router.get("/consortia", summary="联合竞买体列表（成员、牵头企业所在地主管部门可见）",
            responses={200: {"model": ConsortiumPage}} | responses(400, 401, 403, 422))
def list_consortia(
    request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep,
    member: Annotated[str | None, Query(max_length=72, description="只看含此成员的联合竞买体")]
    = None,
):
    items, matched = service.search_consortia(
        session=session, flt=service.ConsortiumFilter(member), page=page, principal=principal)
    return item_page(request, items, page, matched)


@router.post("/consortia", status_code=201, summary="组建联合竞买体",
             responses={201: {"model": ConsortiumRead}}
             | responses(400, 401, 403, 409, 413, 422))
def create_consortium(session: SessionDep, principal: PrincipalDep, body: ConsortiumCreate):
    return service.create_consortium(
        session=session, name=body.name, lead_uscc=body.lead_uscc,
        members=[m.model_dump() for m in body.members], principal=principal)


@router.get("/consortia/{consortium_id}", summary="联合竞买体详情",
            responses={200: {"model": ConsortiumRead}} | responses(401, 403, 404, 422))
def get_consortium(session: SessionDep, principal: PrincipalDep, consortium_id: int):
    return service.get_consortium(session=session, consortium_id=consortium_id,
                                  principal=principal)
