"""Map pages: call the services, hand their Features to ``maps``, answer HTML.

Bad query parameters get the same JSON 4xx answers as the API (the same parsing, enums and
service checks), never a page.
"""

import logging
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

import maps
from landsvc.auth import PrincipalDep
from landsvc.config import get_settings
from landsvc.db import SessionDep
from landsvc.demands import service as demands
from landsvc.districts import service as districts
from landsvc.errors import Conflict, responses
from landsvc.lists import Page
from landsvc.matching import service as matching
from landsvc.offerings.models import SupplyMode
from landsvc.parcels import service as parcels
from landsvc.parcels.models import ParcelStatus
from landsvc.parcels.router import ParcelFilterDep
from landsvc.tiles import service as tiles
from maps.common import MapFacts, TileSource
from maps.demand import demand_map, latest_update

log = logging.getLogger("landsvc.webmaps")

router = APIRouter(prefix="/maps", tags=["地图 maps"])

GEOJSON_LIMIT = 1000
"""Up to this many matching parcels travel inside the page as GeoJSON; more are drawn from
vector tiles (``/tiles/parcels/...``) with the same filters."""

ASSETS_URL = maps.ASSETS_URL
"""Where ``main`` mounts :func:`assets`."""

PUBLIC_STATUSES = {s.value: s.label for s in ParcelStatus if s is not ParcelStatus.withdrawn}
SUPPLY_MODES = {m.value: m.label for m in SupplyMode}


class _Assets(StaticFiles):
    async def check_config(self) -> None:
        # Before scripts/assets has run the folder is missing: answer 404 file by file
        # (pages still link our own URLs) rather than 500.
        if self.directory is not None and Path(self.directory).is_dir():
            await super().check_config()


def assets() -> StaticFiles:
    """The ASGI app serving the pages' JavaScript and CSS, to mount at :data:`ASSETS_URL`."""
    missing = maps.missing_assets()
    if missing:
        log.warning("map assets missing, map pages will stay blank (run scripts/assets): %s",
                    ", ".join(missing))
    return _Assets(directory=maps.ASSETS_DIR, check_dir=False)


def _district_base(session) -> maps.DistrictBase:
    """The simplified district base layer (~2 MB of work), made once per districts version."""
    return districts.cached(
        session=session, name="map_base",
        build=lambda: maps.district_base(districts.list_districts(session=session)))


def _assets_url(request: Request) -> str:
    return request.scope.get("root_path", "") + ASSETS_URL


def _root(request: Request) -> str:
    return request.scope.get("root_path", "")


def facts(updated_at) -> MapFacts:
    """The page furniture from settings (审图号, boundary source, basemap) and the date of
    the data shown."""
    return MapFacts.from_settings(get_settings(), updated_at)


def tile_source(request: Request, layer: str, **params) -> TileSource:
    """Where a page fetches ``layer``'s vector tiles, with the filters in ``params``."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    url = f"{_root(request)}/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf" + (f"?{query}" if query else "")
    return TileSource(url, layer, tiles.LAYERS[layer].min_zoom)


@router.get("/parcels", response_class=HTMLResponse, summary="地块地图（HTML 页面）",
            responses=responses(400, 422, html=True))
def parcels_page(
    request: Request,
    session: SessionDep,
    flt: ParcelFilterDep,
):
    """Public: what anonymous callers of the API see. Up to :data:`GEOJSON_LIMIT` matching
    parcels are embedded; more are drawn from vector tiles."""
    features, matched = parcels.search_parcels(session=session, flt=flt,
                                               page=Page(GEOJSON_LIMIT, 0), principal=None)
    filters = {}
    if flt.status:
        filters["状态"] = flt.status.label
    if flt.land_source:
        filters["土地来源"] = flt.land_source.label
    if flt.min_area_m2 is not None:
        filters["面积 ≥"] = f"{flt.min_area_m2:,.2f} ㎡"
    if flt.max_area_m2 is not None:
        filters["面积 ≤"] = f"{flt.max_area_m2:,.2f} ㎡"
    sources = {
        "offerings": tile_source(request, "offerings", district=flt.district),
        "parks": tile_source(request, "parks", district=flt.district),
    }
    tiled = matched.count > GEOJSON_LIMIT
    if tiled:
        sources["parcels"] = tile_source(
            request, "parcels", district=flt.district,
            status=flt.status.value if flt.status else None,
            land_source=flt.land_source.value if flt.land_source else None,
            min_area_m2=flt.min_area_m2, max_area_m2=flt.max_area_m2)
    updated = tiles.last_updated(session=session, layers=["parcels", "offerings", "parks"],
                                 district=flt.district)
    page = maps.parcels_map(
        None if tiled else features, _district_base(session),
        number_matched=matched.count, status_labels=PUBLIC_STATUSES,
        supply_mode_labels=SUPPLY_MODES, facts=facts(updated), tiles=sources,
        district=flt.district, bbox=flt.bbox, filters=filters,
        assets_url=_assets_url(request),
    )
    return HTMLResponse(maps.render(page))


@router.get(
    "/demands/{demand_id}", response_class=HTMLResponse, summary="用地需求匹配地图（HTML 页面）",
    responses=responses(401, 403, 404, 422, html=True),
)
def demand_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    demand_id: int,
    kind: Annotated[Literal["offerings", "listings"] | None,
                    Query(description="匹配供地（offerings）或房源（listings）；缺省按需求类型")] = None,
    limit: Annotated[int, Query(ge=1, le=matching.MAX_LIMIT, description="显示前几名")] = 10,
):
    """The demand's area of interest and its best matches, for whoever may read the demand
    through the API: its enterprise (or consortium member), a bureau whose jurisdiction it
    names, an admin. The token comes in the ``Authorization`` header, never in the URL;
    anonymous callers get 401, and the page is never cached."""
    demand, _ = demands.get_demand(session=session, demand_id=demand_id, principal=principal)
    note = None
    try:
        items = matching.match_demand(session=session, demand_id=demand_id, kind=kind,
                                      limit=limit, principal=principal)["items"]
    except Conflict as exc:  # no longer open: the page still shows what was asked for
        items, note = [], f"{exc}（不再计算匹配）"
    page = demand_map(demand, items, _district_base(session),
                      facts=facts(latest_update(demand, items)), note=note,
                      assets_url=_assets_url(request))
    return HTMLResponse(maps.render(page), headers={"Cache-Control": "private, no-store",
                                                    "Vary": "Authorization"})
