from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import responses
from landsvc.guidelines import service
from landsvc.guidelines.schemas import (
    ComputeRequest,
    GuidelineAnswer,
    PublishRequest,
    VersionPage,
    VersionWithItems,
    ZoneCollection,
    ZoneCreate,
    ZoneFeature,
)
from landsvc.lists import PageDep, feature_page, item_page

router = APIRouter(tags=["租金指导价 rent guidelines"])


@router.get("/api/v1/rent-zones", summary="租金指导价片区（GeoJSON FeatureCollection）",
            responses={200: {"model": ZoneCollection}} | responses(400, 401, 422))
def list_zones(request: Request, session: SessionDep, page: PageDep,
               district: Annotated[str | None, Query(description="行政区代码或前缀")] = None):
    features, matched = service.list_zones(session=session, district=district, page=page)
    return feature_page(request, features, page, matched)


@router.post("/api/v1/rent-zones", status_code=201, summary="新增片区（管辖范围内的多边形）",
             responses={201: {"model": ZoneFeature}} | responses(400, 401, 403, 409, 413, 422))
def create_zone(session: SessionDep, principal: PrincipalDep, body: ZoneCreate):
    return service.create_zone(session=session, name=body.name, geometry=body.geometry,
                               principal=principal)


@router.post("/api/v1/rent-guidelines/compute", status_code=201,
             summary="计算一个期间的租金指导价（草稿版本）",
             responses={201: {"model": VersionWithItems}} | responses(400, 401, 403, 413, 422))
def compute(session: SessionDep, principal: PrincipalDep, body: ComputeRequest):
    return service.compute(session=session, period=body.period, level=body.level,
                           principal=principal)


@router.get("/api/v1/rent-guidelines/versions", summary="租金指导价版本（含已被更正的历史版本）",
            responses={200: {"model": VersionPage}} | responses(400, 401, 422))
def list_versions(request: Request, session: SessionDep, principal: PrincipalDep,
                  page: PageDep, period: Annotated[str | None, Query()] = None):
    items, matched = service.list_versions(session=session, principal=principal, page=page,
                                           period=period)
    return item_page(request, items, page, matched)


@router.get("/api/v1/rent-guidelines/versions/{version_id}", summary="一个版本及其条目",
            responses={200: {"model": VersionWithItems}} | responses(401, 404, 422))
def get_version(session: SessionDep, principal: PrincipalDep, version_id: int):
    return service.get_version(session=session, version_id=version_id, principal=principal)


@router.post("/api/v1/rent-guidelines/versions/{version_id}/publish",
             summary="发布版本（此后不可更改）",
             responses={200: {"model": VersionWithItems}}
             | responses(400, 401, 403, 404, 409, 413, 422))
def publish(session: SessionDep, principal: PrincipalDep, version_id: int,
            body: PublishRequest):
    return service.publish(session=session, version_id=version_id,
                           effective_date=body.effective_date, principal=principal)


@router.get("/api/v1/rent-guidelines", summary="现行租金指导价（公开；草稿须 version 与局方令牌）",
            responses={200: {"model": GuidelineAnswer}} | responses(400, 401, 404, 422))
def get_guidelines(
    session: SessionDep, principal: PrincipalDep,
    period: Annotated[str | None, Query(description="2026、2026H2、2026Q3")] = None,
    district: Annotated[str | None, Query(description="行政区代码或前缀")] = None,
    building_type: Annotated[str | None, Query(
        description="single_storey 单层 | multi_storey 多层 | high_rise 高层")] = None,
    as_of: Annotated[date | None, Query(description="哪一天现行的（缺省今天）")] = None,
    version: Annotated[int | None, Query(description="指定版本（草稿只对局方可见）")] = None,
    level: Annotated[str | None, Query(description="district | zone")] = None,
):
    return service.search_items(session=session, principal=principal, period=period,
                                district=district, building_type=building_type, as_of=as_of,
                                version_id=version, level=level)
