"""The documented shape of division answers (built by the service)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from landsvc.lists import PageMembers


class DivisionRead(BaseModel):
    adcode: str = Field(description="6 位行政区划代码")
    name: str
    level: Literal["district", "city"]
    city_adcode: str
    city_name: str


class DivisionFeature(BaseModel):
    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any] = Field(description="GeoJSON MultiPolygon（WGS-84 经纬度）")
    properties: DivisionRead


class DivisionCollection(PageMembers):
    type: Literal["FeatureCollection"]
    features: list[DivisionFeature]
