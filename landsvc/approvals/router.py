from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from landsvc.approvals import service
from landsvc.approvals.models import ApprovalStatus, Channel
from landsvc.approvals.schemas import CaseCreate, CaseList, CaseOut, CaseTransition, History
from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import TransitionErrorBody, responses
from landsvc.lists import FastJSONResponse, PageDep, item_page

router = APIRouter(prefix="/api/v1/approvals", tags=["用地审批 approvals"])


@router.get("", summary="审批案件列表（部门：按紧急程度排序的待办；企业：自己的）",
            responses={200: {"model": CaseList}} | responses(400, 401, 403, 422))
def list_cases(request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep,
               status_: Annotated[ApprovalStatus | None, Query(alias="status")] = None,
               channel: Channel | None = None,
               overdue: Annotated[bool | None, Query(description="只看（不）超期的在办案件")] = None,
               as_of: Annotated[date | None, Query(description="按此日计算期限（默认今天）")] = None):
    items, matched = service.search_cases(session=session, status=status_, channel=channel,
                                          overdue=overdue, as_of=as_of, page=page,
                                          principal=principal)
    return item_page(request, items, page, matched)


@router.post("", status_code=201, response_model=CaseOut, summary="提交用地审批申请（即提交）",
             responses=responses(400, 401, 403, 413, 422))
def file_case(session: SessionDep, principal: PrincipalDep, body: CaseCreate):
    return service.file_case(session=session, values=body.model_dump(exclude_unset=True),
                             principal=principal)


@router.get("/stats", summary="绿色通道成效：各通道各阶段用时中位数、P90 与超期率",
            responses=responses(400, 401, 403, 422))
def case_stats(session: SessionDep, principal: PrincipalDep,
               jurisdiction: Annotated[str | None, Query(description="辖区代码（默认本部门）")]
               = None,
               from_: Annotated[date | None, Query(alias="from", description="申请日起")] = None,
               to: Annotated[date | None, Query(description="申请日止")] = None):
    return FastJSONResponse(service.stats(session=session, jurisdiction=jurisdiction,
                                          start=from_, end=to, principal=principal))


@router.get("/{case_id}", response_model=CaseOut, summary="审批案件详情（含各阶段期限）",
            responses=responses(401, 403, 404, 422))
def get_case(session: SessionDep, principal: PrincipalDep, case_id: int,
             as_of: Annotated[date | None, Query(description="按此日计算期限（默认今天）")] = None):
    return service.get_case(session=session, case_id=case_id, principal=principal, as_of=as_of)


@router.post("/{case_id}/transitions", response_model=CaseOut,
             summary="审批步骤：accept | start_review | return | resubmit | approve | reject | withdraw",
             responses=responses(400, 401, 403, 404, 409, 413, 422, s409=TransitionErrorBody))
def transition_case(session: SessionDep, principal: PrincipalDep, case_id: int,
                    body: CaseTransition):
    return service.transition(session=session, case_id=case_id, action=body.action,
                              comment=body.comment, on=body.on, principal=principal)


@router.get("/{case_id}/history", response_model=History,
            summary="审批记录（只追加，哈希链防篡改）", responses=responses(401, 403, 404, 422))
def case_history(session: SessionDep, principal: PrincipalDep, case_id: int):
    return {"items": service.history(session=session, case_id=case_id, principal=principal)}
