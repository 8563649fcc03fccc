from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Query, Request, Response, UploadFile

from landsvc.auth import LandManager, PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import responses
from landsvc.etags import IfMatchDep, with_etag
from landsvc.geo import parse_bbox
from landsvc.ingest.upload import ImportOptionsDep, multipart_only, saved_upload
from landsvc.lists import PageDep, feature_page
from landsvc.parks import importing, service
from landsvc.parks.schemas import (
    ParkCollection,
    ParkCreate,
    ParkFeature,
    ParkImportRejectedBody,
    ParkImportReport,
    ParkProperties,
    ParkUpdate,
)

router = APIRouter(prefix="/api/v1/parks", tags=["特色产业园区 parks"])

_ETAG = {"ETag": {"description": "园区的当前版本；修改或删除时放进 If-Match",
                  "schema": {"type": "string"}}}


async def park_filter(
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
    district: Annotated[str | None, Query(description="行政区代码或前缀：440306、4403、44")] = None,
    featured_srdi: Annotated[bool | None, Query(description="只看专精特新特色园区（true）或其余（false）")]
    = None,
    industry: Annotated[str | None, Query(
        description="GB/T 4754-2017 行业代码或门类字母：C39 找到主导产业为 C39、C397、C3971 的园区，"
                    "C3971 也找到主导产业为 C39、C397 的园区；C 找到制造业门类的全部园区")] = None,
) -> service.ParkFilter:
    """The park filters of the query string."""
    return service.ParkFilter(parse_bbox(bbox), district, featured_srdi, industry)


ParkFilterDep = Annotated[service.ParkFilter, Depends(park_filter)]


@router.get("", summary="特色产业园区列表（GeoJSON FeatureCollection）",
            responses={200: {"model": ParkCollection}} | responses(400, 401, 422))
def list_parks(request: Request, session: SessionDep, principal: PrincipalDep,
               flt: ParkFilterDep, page: PageDep):
    features, matched = service.search_parks(session=session, flt=flt, page=page,
                                             principal=principal)
    return feature_page(request, features, page, matched)


@router.post("", status_code=201, summary="新增特色产业园区",
             responses={201: {"model": ParkFeature, "headers": _ETAG}}
             | responses(400, 401, 403, 409, 413, 422))
def create_park(response: Response, session: SessionDep, principal: LandManager,
                body: ParkCreate, repair: bool = False):
    return with_etag(response, service.create_park(
        session=session, geometry=body.geometry,
        properties=body.properties.model_dump(exclude_unset=True),
        principal=principal, repair=repair,
    ))


@router.post("/import", summary="从 GIS 文件批量导入特色产业园区",
             dependencies=[Depends(multipart_only)],
             responses={200: {"model": ParkImportReport}}
             | responses(400, 401, 403, 409, 413, 415, 422, s422=ParkImportRejectedBody))
def import_parks(
    session: SessionDep,
    principal: LandManager,
    file: Annotated[UploadFile, File(description="GeoPackage / zip Shapefile / GeoJSON / CSV+WKT")],
    options: ImportOptionsDep,
):
    with saved_upload(file) as path:
        return importing.import_parks(session=session, path=path, crs=options.crs,
                                      partial=options.partial, repair=options.repair,
                                      principal=principal)


@router.get("/{park_id}", summary="特色产业园区详情",
            responses={200: {"model": ParkFeature, "headers": _ETAG}} | responses(401, 404, 422))
def get_park(response: Response, session: SessionDep, principal: PrincipalDep, park_id: int):
    return with_etag(response, service.get_park(session=session, park_id=park_id,
                                                 principal=principal))


@router.patch("/{park_id}", summary="修改特色产业园区（只改所给字段；If-Match 防止覆盖他人修改）",
              responses={200: {"model": ParkFeature, "headers": _ETAG}}
              | responses(400, 401, 403, 404, 409, 412, 413, 422))
def update_park(
    response: Response,
    session: SessionDep,
    principal: LandManager,
    park_id: int,
    body: Annotated[ParkUpdate | ParkProperties, Body()],
    if_match: IfMatchDep,
    repair: bool = False,
):
    if isinstance(body, ParkUpdate):
        geometry, properties = body.geometry, body.properties
    else:
        geometry, properties = None, body
    return with_etag(response, service.update_park(
        session=session, park_id=park_id, geometry=geometry,
        properties=properties.model_dump(exclude_unset=True),
        principal=principal, repair=repair, if_match=if_match,
    ))


@router.delete("/{park_id}", status_code=204, summary="删除特色产业园区（园区内地块不再归属此园区）",
               responses=responses(401, 403, 404, 412, 422))
def delete_park(session: SessionDep, principal: LandManager, park_id: int,
                if_match: IfMatchDep) -> Response:
    service.delete_park(session=session, park_id=park_id, principal=principal,
                        if_match=if_match)
    return Response(status_code=204)
