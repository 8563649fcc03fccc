from fastapi import APIRouter

from landsvc.allocations import service
from landsvc.allocations.schemas import AllocationCreate, AllocationOut
from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import TransitionErrorBody, responses

router = APIRouter(prefix="/api/v1/allocations", tags=["分配方案 allocations"])


@router.post("", status_code=201, response_model=AllocationOut,
             summary="生成分配方案草案（梯度优先，再求匹配总分最高）",
             responses=responses(400, 401, 403, 413, 422))
def create_allocation(session: SessionDep, principal: PrincipalDep, body: AllocationCreate):
    return service.create_allocation(session=session, jurisdiction=body.jurisdiction,
                                     offering_ids=body.offering_ids, demand_ids=body.demand_ids,
                                     principal=principal)


@router.get("/{allocation_id}", response_model=AllocationOut, summary="分配方案详情",
            responses=responses(401, 403, 404, 422))
def get_allocation(session: SessionDep, principal: PrincipalDep, allocation_id: int):
    return service.get_allocation(session=session, allocation_id=allocation_id,
                                  principal=principal)


@router.post("/{allocation_id}/confirm", response_model=AllocationOut,
             summary="确认分配方案：供地成交给需求方，需求转为已匹配；方案过时则 409 且不作变更",
             responses=responses(401, 403, 404, 409, 422, s409=TransitionErrorBody))
def confirm_allocation(session: SessionDep, principal: PrincipalDep, allocation_id: int):
    return service.confirm_allocation(session=session, allocation_id=allocation_id,
                                      principal=principal)
