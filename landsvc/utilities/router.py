"""Routes of utility tariffs and mark-up complaints; every decision is the service's."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import TransitionErrorBody, responses
from landsvc.lists import FastJSONResponse, PageDep, item_page
from landsvc.utilities import service
from landsvc.utilities.models import ComplaintStatus, Utility
from landsvc.utilities.schemas import (
    ComplaintCreate,
    ComplaintPage,
    ComplaintRead,
    ComplaintStats,
    ComplaintTransition,
    TariffCreate,
    TariffPage,
    TariffRead,
)

router = APIRouter(prefix="/api/v1", tags=["水电气加价 utilities"])

District = Annotated[str | None, Query(max_length=24,
                                       description="行政区划代码（前缀）：2、4 或 6 位")]


@router.get("/tariffs", summary="水电气政府定价（公开）",
            responses={200: {"model": TariffPage}} | responses(401, 422))
def list_tariffs(request: Request, session: SessionDep, page: PageDep, district: District = None,
                 utility: Annotated[Utility | None, Query(description="electricity | water | gas")]
                 = None,
                 category: Annotated[str | None, Query(max_length=50, description="类别")] = None):
    items, matched = service.search_tariffs(session=session, district=district, utility=utility,
                                            category=category, page=page)
    return item_page(request, items, page, matched)


@router.post("/tariffs", status_code=201, response_model=TariffRead,
             summary="录入水电气政府定价（管辖区内的主管部门、管理员）",
             responses=responses(400, 401, 403, 409, 413, 422))
def create_tariff(session: SessionDep, principal: PrincipalDep, body: TariffCreate):
    return service.create_tariff(session=session, body=body.model_dump(), principal=principal)


@router.post("/utility-complaints", status_code=201, response_model=ComplaintRead,
             summary="承租企业投诉水电气加价：平台按计费期的政府定价核算加价并决定是否立案",
             responses=responses(400, 401, 403, 413, 422))
def file_complaint(session: SessionDep, principal: PrincipalDep, body: ComplaintCreate):
    return service.file_complaint(session=session, body=body.model_dump(), principal=principal)


@router.get("/utility-complaints", summary="水电气加价投诉列表（投诉企业、辖区主管部门、管理员）",
            responses={200: {"model": ComplaintPage}} | responses(401, 403, 422))
def list_complaints(request: Request, session: SessionDep, principal: PrincipalDep,
                    page: PageDep, district: District = None,
                    status: Annotated[ComplaintStatus | None, Query(description="状态")] = None,
                    utility: Annotated[Utility | None, Query(description="品类")] = None):
    items, matched = service.search_complaints(session=session, district=district, status=status,
                                               utility=utility, page=page, principal=principal)
    return item_page(request, items, page, matched)


@router.get("/utility-complaints/stats",
            summary="各区水电气加价投诉统计：件数、立案、处理、驳回、多收与退还金额",
            responses={200: {"model": ComplaintStats}} | responses(400, 401, 403, 422))
def complaint_stats(session: SessionDep, principal: PrincipalDep,
                    jurisdiction: Annotated[str | None, Query(
                        max_length=24, description="辖区代码（默认本部门）")] = None,
                    from_: Annotated[date | None, Query(alias="from", description="投诉日起")]
                    = None,
                    to: Annotated[date | None, Query(description="投诉日止")] = None):
    return FastJSONResponse(service.stats(session=session, jurisdiction=jurisdiction,
                                          start=from_, end=to, principal=principal))


@router.get("/utility-complaints/{complaint_id}", response_model=ComplaintRead,
            summary="水电气加价投诉详情", responses=responses(401, 403, 404, 422))
def get_complaint(session: SessionDep, principal: PrincipalDep, complaint_id: int):
    return service.get_complaint(session=session, complaint_id=complaint_id,
                                 principal=principal)


@router.post("/utility-complaints/{complaint_id}/transitions", response_model=ComplaintRead,
             summary="投诉处理：investigate | resolve（附 refund_yuan）| dismiss（辖区主管部门、管理员）",
             responses=responses(400, 401, 403, 404, 409, 413, 422, s409=TransitionErrorBody))
def transition_complaint(session: SessionDep, principal: PrincipalDep, complaint_id: int,
                         body: ComplaintTransition):
    return service.transition(session=session, complaint_id=complaint_id, action=body.action,
                              refund_yuan=body.refund_yuan, note=body.note, principal=principal)
