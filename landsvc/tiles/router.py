"""``GET /tiles/{layer}/{z}/{x}/{y}.pbf``: Mapbox vector tiles for the map pages and GIS tools.

Anonymous callers get what the APIs show anonymously, cacheable by anyone for a minute; a
caller with ``Authorization: Bearer`` gets its own view (a bureau also sees unpublished rows in
its jurisdiction), marked ``private, no-store``. The public pages fetch tiles anonymously.
An empty tile is ``204 No Content``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from landsvc.auth import PrincipalDep
from landsvc.db import SessionDep
from landsvc.errors import responses
from landsvc.tiles import service
from landsvc.tiles.service import MEDIA_TYPE, TileFilter

router = APIRouter(prefix="/tiles", tags=["矢量瓦片 tiles"])

PUBLIC_CACHE = "public, max-age=60"
"""Anonymous tiles: a minute in browsers and proxies, so an edit shows within a minute."""
PRIVATE_CACHE = "private, no-store"


def tile_filter(
    district: Annotated[str | None, Query(description="行政区划代码（前缀）：44、4403、440306",
                                          max_length=6)] = None,
    status: Annotated[str | None, Query(description="状态（取值同该图层的 API）",
                                        max_length=30)] = None,
    land_source: Annotated[str | None, Query(description="土地来源（仅 parcels）",
                                             max_length=30)] = None,
    supply_mode: Annotated[str | None, Query(description="供应方式（仅 offerings）",
                                             max_length=30)] = None,
    min_area_m2: Annotated[float | None, Query(ge=0, allow_inf_nan=False,
                                               description="面积下限（㎡）")] = None,
    max_area_m2: Annotated[float | None, Query(ge=0, allow_inf_nan=False,
                                               description="面积上限（㎡）")] = None,
) -> TileFilter:
    return TileFilter(district=district, status=status, land_source=land_source,
                      supply_mode=supply_mode, min_area_m2=min_area_m2,
                      max_area_m2=max_area_m2)


@router.get(
    "/{layer}/{z}/{x}/{y}.pbf", summary="矢量瓦片（Mapbox Vector Tile）",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "瓦片（MVT）"},
               204: {"description": "该瓦片内没有要素"}} | responses(401, 404, 422),
)
def get_tile(
    session: SessionDep,
    principal: PrincipalDep,
    flt: Annotated[TileFilter, Depends(tile_filter)],
    layer: Annotated[str, Path(description="parcels、offerings、listings、districts、parks",
                               max_length=40)],
    z: Annotated[int, Path(description=f"缩放级别 0–{service.MAX_ZOOM}")],
    x: int,
    y: int,
):
    data = service.tile(session=session, layer=layer, z=z, x=x, y=y, flt=flt,
                        principal=principal)
    headers = {"Cache-Control": PUBLIC_CACHE if principal is None else PRIVATE_CACHE,
               "Vary": "Authorization", "Access-Control-Allow-Origin": "*"}
    if principal is not None:
        headers.pop("Access-Control-Allow-Origin")
    if not data:
        return Response(status_code=204, headers=headers)
    return Response(data, media_type=MEDIA_TYPE, headers=headers)
