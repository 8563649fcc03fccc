from typing import Annotated

from fastapi import APIRouter, Query, Request

from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import responses
from landsvc.lists import PageDep, item_page
from landsvc.quota import service
from landsvc.quota.schemas import (
    AllocationCreate,
    QuotaAllocationCreated,
    QuotaExceededBody,
    QuotaPoolCreate,
    QuotaPoolPage,
    QuotaPoolRead,
)

router = APIRouter(prefix="/api/v1", tags=["省级先进制造业用地指标 quota"])


@router.get("/quota-pools", summary="用地指标列表（主管部门见与其管辖区相关的指标，管理员见全部）",
            responses={200: {"model": QuotaPoolPage}} | responses(401, 403, 422))
def list_pools(request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep,
               year: Annotated[int | None, Query(description="指标年度")] = None):
    items, matched = service.search_pools(session=session, year=year, page=page,
                                          principal=principal)
    return item_page(request, items, page, matched)


@router.post("/quota-pools", status_code=201, summary="新建用地指标（省级主管部门、管理员）",
             response_model=QuotaPoolRead,
             responses=responses(400, 401, 403, 409, 413, 422))
def create_pool(session: SessionDep, principal: PrincipalDep, body: QuotaPoolCreate):
    return service.create_pool(session=session, body=body.model_dump(), principal=principal)


@router.get("/quota-pools/{pool_id}", summary="用地指标详情：总量、已分配、剩余、分配与变动记录",
            response_model=QuotaPoolRead, responses=responses(401, 403, 404, 422))
def get_pool(session: SessionDep, principal: PrincipalDep, pool_id: int):
    return service.get_pool(session=session, pool_id=pool_id, principal=principal)


@router.post("/quota-pools/{pool_id}/allocations", status_code=201,
             summary="为已批准的案件分配指标（省级主管部门、管理员）",
             response_model=QuotaAllocationCreated,
             responses=responses(400, 401, 403, 404, 413, 422) | {
                 409: {"model": QuotaExceededBody,
                       "description": "案件未批准、已有有效分配，或指标剩余不足（附 remaining_ha）"}})
def allocate(session: SessionDep, principal: PrincipalDep, pool_id: int,
             body: AllocationCreate):
    return service.allocate(session=session, pool_id=pool_id, approval_id=body.approval_id,
                            principal=principal)


@router.delete("/quota-pools/{pool_id}/allocations/{allocation_id}",
               summary="撤销分配：面积退回指标，分配记录保留为已撤销（省级主管部门、管理员）",
               response_model=QuotaPoolRead,
               responses=responses(401, 403, 404, 422) | {
                   409: {"model": QuotaExceededBody, "description": "该分配已撤销"}})
def cancel_allocation(session: SessionDep, principal: PrincipalDep, pool_id: int,
                      allocation_id: int):
    return service.cancel(session=session, pool_id=pool_id, allocation_id=allocation_id,
                          principal=principal)
