from typing import Annotated, Literal

from fastapi import APIRouter, Query

from landsvc.db import SessionDep
from landsvc.districts import service
from landsvc.geo import feature_collection

router = APIRouter(prefix="/api/v1/districts", tags=["行政区划 districts"])


@router.get("", summary="广东省区县（或地级市）列表")
def list_districts(
    session: SessionDep,
    city: Annotated[str | None, Query(description="地级市代码 440300 或 4403")] = None,
    level: Annotated[Literal["district", "city"], Query(description="district 区县；city 地级市")] = "district",
):
    if level == "city":
        features = service.list_cities(session=session)
    else:
        features = service.list_districts(session=session, city=city)
    return feature_collection(features, numberMatched=len(features), numberReturned=len(features))


@router.get("/locate", summary="坐标所在区县")
def locate(
    session: SessionDep,
    lon: Annotated[float, Query(description="经度（WGS-84）")],
    lat: Annotated[float, Query(description="纬度（WGS-84）")],
):
    return service.locate(session=session, lon=lon, lat=lat)


@router.get("/{adcode}", summary="区县或地级市")
def get_division(session: SessionDep, adcode: str):
    return service.get_division(session=session, adcode=adcode)
