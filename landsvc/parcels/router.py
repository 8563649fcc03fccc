from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Query, Request, Response, UploadFile

from landsvc.auth import LandManager, PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import responses
from landsvc.etags import IfMatchDep, with_etag
from landsvc.geo import parse_bbox
from landsvc.ingest.upload import ImportOptionsDep, multipart_only, saved_upload
from landsvc.lists import PageDep, feature_page
from landsvc.parcels import importing, service
from landsvc.parcels.models import LandSource, ParcelStatus
from landsvc.parcels.schemas import (
    ImportRejectedBody,
    ImportReport,
    ParcelCollection,
    ParcelCreate,
    ParcelFeature,
    ParcelProperties,
    ParcelUpdate,
)

router = APIRouter(prefix="/api/v1/parcels", tags=["地块 parcels"])

_ETAG = {"ETag": {"description": "地块的当前版本；修改时放进 If-Match", "schema": {"type": "string"}}}


async def parcel_filter(
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
    district: Annotated[str | None, Query(description="行政区代码或前缀：440306、4403、44")] = None,
    status_: Annotated[ParcelStatus | None, Query(alias="status")] = None,
    land_source: LandSource | None = None,
    min_area_m2: Annotated[float | None, Query(ge=0)] = None,
    max_area_m2: Annotated[float | None, Query(ge=0)] = None,
) -> service.ParcelFilter:
    """The parcel filters of the query string (the API's lists and the map pages share them)."""
    return service.ParcelFilter(parse_bbox(bbox), district, status_, land_source,
                                min_area_m2, max_area_m2)


ParcelFilterDep = Annotated[service.ParcelFilter, Depends(parcel_filter)]


@router.get("", summary="地块列表（GeoJSON FeatureCollection）",
            responses={200: {"model": ParcelCollection}} | responses(400, 401, 422))
def list_parcels(request: Request, session: SessionDep, principal: PrincipalDep,
                 flt: ParcelFilterDep, page: PageDep):
    features, matched = service.search_parcels(session=session, flt=flt, page=page,
                                               principal=principal)
    return feature_page(request, features, page, matched)


@router.post("", status_code=201, summary="新增地块",
             responses={201: {"model": ParcelFeature, "headers": _ETAG}}
             | responses(400, 401, 403, 409, 413, 422))
def create_parcel(response: Response, session: SessionDep, principal: LandManager,
                  body: ParcelCreate, repair: bool = False):
    return with_etag(response, service.create_parcel(
        session=session, geometry=body.geometry,
        properties=body.properties.model_dump(exclude_unset=True),
        principal=principal, repair=repair,
    ))


@router.post("/import", summary="从 GIS 文件批量导入地块",
             dependencies=[Depends(multipart_only)],
             responses={200: {"model": ImportReport}}
             | responses(400, 401, 403, 409, 413, 415, 422, s422=ImportRejectedBody))
def import_parcels(
    session: SessionDep,
    principal: LandManager,
    file: Annotated[UploadFile, File(description="GeoPackage / zip Shapefile / GeoJSON / CSV+WKT")],
    options: ImportOptionsDep,
):
    with saved_upload(file) as path:
        return importing.import_parcels(session=session, path=path, crs=options.crs,
                                        partial=options.partial, repair=options.repair,
                                        principal=principal)


@router.get("/{parcel_id}", summary="地块详情",
            responses={200: {"model": ParcelFeature, "headers": _ETAG}} | responses(401, 404, 422))
def get_parcel(response: Response, session: SessionDep, principal: PrincipalDep,
               parcel_id: int):
    return with_etag(response, service.get_parcel(session=session, parcel_id=parcel_id,
                                                   principal=principal))


@router.patch("/{parcel_id}", summary="修改地块（只改所给字段；If-Match 防止覆盖他人修改）",
              responses={200: {"model": ParcelFeature, "headers": _ETAG}}
              | responses(400, 401, 403, 404, 409, 412, 413, 422))
def update_parcel(
    response: Response,
    session: SessionDep,
    principal: LandManager,
    parcel_id: int,
    body: Annotated[ParcelUpdate | ParcelProperties, Body()],
    if_match: IfMatchDep,
    repair: bool = False,
):
    if isinstance(body, ParcelUpdate):
        geometry, properties = body.geometry, body.properties
    else:
        geometry, properties = None, body
    return with_etag(response, service.update_parcel(
        session=session, parcel_id=parcel_id, geometry=geometry,
        properties=properties.model_dump(exclude_unset=True),
        principal=principal, repair=repair, if_match=if_match,
    ))
