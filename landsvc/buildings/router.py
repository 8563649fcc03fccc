from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from landsvc.auth import LandManager, PrincipalDep
from landsvc.buildings import service, split
from landsvc.buildings.models import BuildingType
from landsvc.buildings.schemas import (
    BuildingCollection,
    BuildingCreate,
    BuildingFeature,
    BuildingProperties,
    BuildingUpdate,
    TransferCreate,
    UnitCreate,
    UnitPage,
    UnitRead,
)
from landsvc.db import SessionDep
from landsvc.errors import responses
from landsvc.etags import IfMatchDep, with_etag
from landsvc.geo import parse_bbox
from landsvc.lists import PageDep, feature_page, item_page

router = APIRouter(tags=["厂房楼栋与分割转让 buildings"])

_ETAG = {"ETag": {"description": "楼栋的当前版本；修改时放进 If-Match", "schema": {"type": "string"}}}


async def building_filter(
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
    district: Annotated[str | None, Query(description="行政区代码或前缀：440306、4403、44")] = None,
    park: Annotated[int | None, Query(description="特色产业园区 id")] = None,
    building_type: BuildingType | None = None,
) -> service.BuildingFilter:
    return service.BuildingFilter(parse_bbox(bbox), district, park, building_type)


BuildingFilterDep = Annotated[service.BuildingFilter, Depends(building_filter)]


@router.get("/api/v1/buildings", summary="楼栋列表（GeoJSON FeatureCollection）",
            responses={200: {"model": BuildingCollection}} | responses(400, 401, 422))
def list_buildings(request: Request, session: SessionDep, principal: PrincipalDep,
                   flt: BuildingFilterDep, page: PageDep):
    features, matched = service.search_buildings(session=session, flt=flt, page=page,
                                                 principal=principal)
    return feature_page(request, features, page, matched)


@router.post("/api/v1/buildings", status_code=201, summary="新增楼栋（点或轮廓面）",
             responses={201: {"model": BuildingFeature, "headers": _ETAG}}
             | responses(400, 401, 403, 413, 422))
def create_building(response: Response, session: SessionDep, principal: LandManager,
                    body: BuildingCreate):
    return with_etag(response, service.create_building(
        session=session, geometry=body.geometry,
        properties=body.properties.model_dump(exclude_unset=True), principal=principal))


@router.get("/api/v1/buildings/{building_id}", summary="楼栋详情",
            responses={200: {"model": BuildingFeature, "headers": _ETAG}}
            | responses(401, 404, 422))
def get_building(response: Response, session: SessionDep, principal: PrincipalDep,
                 building_id: int):
    return with_etag(response, service.get_building(session=session, building_id=building_id,
                                                     principal=principal))


@router.patch("/api/v1/buildings/{building_id}",
              summary="修改楼栋（只改所给字段；If-Match 防止覆盖他人修改）",
              responses={200: {"model": BuildingFeature, "headers": _ETAG}}
              | responses(400, 401, 403, 404, 412, 413, 422))
def update_building(
    response: Response,
    session: SessionDep,
    principal: LandManager,
    building_id: int,
    body: Annotated[BuildingUpdate | BuildingProperties, Body()],
    if_match: IfMatchDep,
):
    if isinstance(body, BuildingUpdate):
        geometry, properties = body.geometry, body.properties
    else:
        geometry, properties = None, body
    return with_etag(response, service.update_building(
        session=session, building_id=building_id, geometry=geometry,
        properties=properties.model_dump(exclude_unset=True), principal=principal,
        if_match=if_match))


@router.get("/api/v1/buildings/{building_id}/units", summary="楼栋的分割单元及其转让记录",
            responses={200: {"model": UnitPage}} | responses(401, 403, 404, 422))
def list_units(request: Request, session: SessionDep, principal: PrincipalDep,
               building_id: int, page: PageDep):
    items, matched, summary = split.list_units(session=session, building_id=building_id,
                                                 page=page, principal=principal)
    return item_page(request, items, page, matched, **summary)


@router.post("/api/v1/buildings/{building_id}/units", status_code=201,
             summary="登记分割单元（整栋或若干整层）",
             responses={201: {"model": UnitRead}} | responses(400, 401, 403, 404, 413, 422))
def define_unit(session: SessionDep, principal: LandManager, building_id: int,
                body: UnitCreate):
    return split.define_unit(session=session, building_id=building_id,
                               body=body.model_dump(exclude_unset=True), principal=principal)


@router.get("/api/v1/units/{unit_id}", summary="分割单元详情",
            responses={200: {"model": UnitRead}} | responses(401, 403, 404, 422))
def get_unit(session: SessionDep, principal: PrincipalDep, unit_id: int):
    return split.get_unit(session=session, unit_id=unit_id, principal=principal)


@router.post("/api/v1/units/{unit_id}/transfers", status_code=201,
             summary="登记分割单元的转让（受让人须为产业链合作企业）",
             responses={201: {"model": UnitRead}} | responses(400, 401, 403, 404, 413, 422))
def transfer_unit(session: SessionDep, principal: LandManager, unit_id: int,
                  body: TransferCreate):
    return split.transfer_unit(session=session, unit_id=unit_id,
                                 body=body.model_dump(exclude_unset=True), principal=principal)
