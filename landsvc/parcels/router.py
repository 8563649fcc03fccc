import shutil
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile, status

from landsvc.auth import LandManager, PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import UnsupportedMediaType
from landsvc.geo import feature_collection, parse_bbox
from landsvc.parcels import service
from landsvc.parcels.models import LandSource, ParcelStatus
from landsvc.parcels.schemas import ParcelCreate, ParcelProperties, ParcelUpdate

router = APIRouter(prefix="/api/v1/parcels", tags=["地块 parcels"])


def page_links(request: Request, *, limit: int, offset: int, matched: int) -> list[dict]:
    """``self`` and, unless this is the last page, an absolute ``next`` link."""
    links = [{"rel": "self", "type": "application/geo+json", "href": str(request.url)}]
    if offset + limit < matched:
        href = request.url.include_query_params(limit=limit, offset=offset + limit)
        links.append({"rel": "next", "type": "application/geo+json", "href": str(href)})
    return links


def parcel_filter(
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


@router.get("", summary="地块列表（GeoJSON FeatureCollection）")
def list_parcels(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    flt: ParcelFilterDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
):
    features, matched = service.search_parcels(session=session, flt=flt, limit=limit,
                                               offset=offset, principal=principal)
    return feature_collection(
        features, numberMatched=matched, numberReturned=len(features),
        links=page_links(request, limit=limit, offset=offset, matched=matched),
    )


@router.post("", status_code=status.HTTP_201_CREATED, summary="新增地块")
def create_parcel(session: SessionDep, principal: LandManager, body: ParcelCreate,
                  repair: bool = False):
    return service.create_parcel(
        session=session, geometry=body.geometry,
        properties=body.properties.model_dump(exclude_unset=True),
        principal=principal, repair=repair,
    )


def _multipart_only(request: Request) -> None:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedMediaType("请以 multipart/form-data 上传，文件字段名为 file")


@router.post("/import", summary="从 GIS 文件批量导入地块",
             dependencies=[Depends(_multipart_only)])
def import_parcels(
    session: SessionDep,
    principal: LandManager,
    file: Annotated[UploadFile, File(description="GeoPackage / zip Shapefile / GeoJSON / CSV+WKT")],
    crs: Annotated[str | None, Form()] = None,
    partial: Annotated[bool | None, Form()] = None,
    repair: Annotated[bool | None, Form()] = None,
    crs_q: Annotated[str | None, Query(alias="crs")] = None,
    partial_q: Annotated[bool, Query(alias="partial")] = False,
    repair_q: Annotated[bool, Query(alias="repair")] = False,
):
    name = Path(file.filename or "upload").name
    with tempfile.TemporaryDirectory(prefix="landsvc-import-") as tmp:
        path = Path(tmp) / name
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        return service.import_parcels(
            session=session, path=path, crs=crs or crs_q,
            partial=partial if partial is not None else partial_q,
            repair=repair if repair is not None else repair_q,
            principal=principal,
        )


@router.get("/{parcel_id}", summary="地块详情")
def get_parcel(session: SessionDep, principal: PrincipalDep, parcel_id: int):
    return service.get_parcel(session=session, parcel_id=parcel_id, principal=principal)


@router.patch("/{parcel_id}", summary="修改地块（只改所给字段）")
def update_parcel(
    session: SessionDep,
    principal: LandManager,
    parcel_id: int,
    body: Annotated[ParcelUpdate | ParcelProperties, Body()],
    repair: bool = False,
):
    if isinstance(body, ParcelUpdate):
        geometry, properties = body.geometry, body.properties
    else:
        geometry, properties = None, body
    return service.update_parcel(
        session=session, parcel_id=parcel_id, geometry=geometry,
        properties=properties.model_dump(exclude_unset=True),
        principal=principal, repair=repair,
    )
