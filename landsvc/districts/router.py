from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from landsvc.db import SessionDep
from landsvc.districts import service
from landsvc.districts.schemas import DivisionCollection, DivisionFeature
from landsvc.errors import responses
from landsvc.lists import PageDep, feature_page

router = APIRouter(prefix="/api/v1/districts", tags=["行政区划 districts"])


@router.get("", summary="广东省区县（或地级市）列表",
            responses={200: {"model": DivisionCollection}} | responses(422))
def list_districts(
    request: Request,
    session: SessionDep,
    page: PageDep,
    city: Annotated[str | None, Query(description="地级市代码 440300 或 4403")] = None,
    level: Annotated[Literal["district", "city"], Query(description="district 区县；city 地级市")] = "district",
):
    features, matched = service.search_divisions(session=session, level=level, city=city,
                                                 page=page)
    return feature_page(request, features, page, matched)


@router.get("/locate", summary="坐标所在区县",
            responses={200: {"model": DivisionFeature}} | responses(404, 422))
def locate(
    session: SessionDep,
    lon: Annotated[float, Query(description="经度（WGS-84）")],
    lat: Annotated[float, Query(description="纬度（WGS-84）")],
):
    return service.locate(session=session, lon=lon, lat=lat)


@router.get("/{adcode}", summary="区县或地级市",
            responses={200: {"model": DivisionFeature}} | responses(404, 422))
def get_division(session: SessionDep, adcode: str):
    return service.get_division(session=session, adcode=adcode)
