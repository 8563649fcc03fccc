"""The public rent-guide map page: the guideline in force, coloured per district.

Bad query parameters (a period that does not parse, an unknown building type, a malformed
``as_of``) get the same JSON 4xx answers as the API, never a page.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

import maps
from landsvc.buildings.models import BuildingType
from landsvc.config import get_settings
from landsvc.db import SessionDep
from landsvc.districts import service as districts
from landsvc.errors import responses
from landsvc.guidelines import service as guidelines
from landsvc.lists import Page
from maps.common import MapFacts
from maps.rent_guide import rent_district_base, rent_guide_map

router = APIRouter(prefix="/maps", tags=["地图 maps"])

MAX_ZONES = 5000
"""Zones drawn at most (Longgang alone publishes 774)."""
PAGES_KEPT = 16
"""Rendered district pages kept in memory (each up to 1.5 MB): the colour classes take
~0.4 s of pure Python (Fisher–Jenks) and the figures change only by publication."""
_pages: OrderedDict[tuple, str] = OrderedDict()


def district_base(session: Session) -> maps.DistrictBase:
    """The districts simplified for this page, made once per districts version (~0.3 s)."""
    return districts.cached(
        session=session, name="rent_guide_base",
        build=lambda: rent_district_base(districts.list_districts(session=session)))


def render_rent_guide(*, session: Session, period: str | None = None,
                      building_type: str | None = None, as_of: dt.date | None = None,
                      assets_url: str = maps.ASSETS_URL) -> str:
    """The rent-guide page's HTML for the published guideline in force (shared with the
    static export)."""
    found = guidelines.items_in_force(session=session, period=period, as_of=as_of)
    items = found.get("items") or []
    zones = None
    if any(item.get("zone") is not None for item in items):
        zones, _ = guidelines.list_zones(session=session, district=None,
                                         page=Page(MAX_ZONES, 0, count=False))
    # A published version never changes: its page is the same until another is in force.
    # Zone pages are not kept (zones may be redrawn without a new version).
    key = None if zones is not None else (
        found.get("version"), found.get("published_at"), found.get("period") or period,
        building_type, assets_url, districts.districts_version(session=session))
    if key in _pages:
        _pages.move_to_end(key)
        return _pages[key]
    page = rent_guide_map(
        items, district_base(session), zones=zones,
        period=found.get("period") or (period if items else None),
        version=found.get("version"), published_at=found.get("published_at"),
        effective_date=found.get("effective_date"), building_type=building_type,
        facts=MapFacts.from_settings(get_settings(), updated_at=_updated(found)),
        assets_url=assets_url,
    )
    html = maps.render(page)
    if key is not None:
        _pages[key] = html
        while len(_pages) > PAGES_KEPT:
            _pages.popitem(last=False)
    return html


def _updated(found: dict) -> dt.datetime | None:
    # The figures change only by publication: the version's publication is the data's date.
    published = found.get("published_at")
    return dt.datetime.fromisoformat(published) if published else None


@router.get("/rent-guide", response_class=HTMLResponse, summary="工业厂房租金指导价地图（HTML 页面）",
            responses=responses(400, 422, html=True))
def rent_guide_page(
    request: Request,
    session: SessionDep,
    period: str | None = Query(None, description="期间：2026、2026H2 或 2026Q3；默认现行版本的期间",
                               max_length=20),
    building_type: BuildingType | None = Query(None, description="先显示的建筑类型图层"),
    as_of: dt.date | None = Query(None, description="查看该日现行的指导价（默认今天）"),
):
    """Every Guangdong district coloured by the guideline median, a layer per building type."""
    html = render_rent_guide(
        session=session, period=period,
        building_type=building_type.value if building_type else None, as_of=as_of,
        assets_url=request.scope.get("root_path", "") + maps.ASSETS_URL)
    return HTMLResponse(html)
