"""The documented shape of OGC API – Features answers (OGC 17-069r4, Part 1: Core)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class LandingPage(BaseModel):
    title: str
    description: str
    links: list[Link] = Field(description="self、service-desc、service-doc、conformance、data")


class ConformanceDeclaration(BaseModel):
    conformsTo: list[str]


class SpatialExtent(BaseModel):
    bbox: list[list[float]] = Field(description="[[minlon, minlat, maxlon, maxlat]]")
    crs: str


class Extent(BaseModel):
    spatial: SpatialExtent


class CollectionInfo(BaseModel):
    id: str
    title: str
    description: str
    links: list[Link]
    extent: Extent
    itemType: Literal["feature"]
    crs: list[str]


class Collections(BaseModel):
    links: list[Link]
    collections: list[CollectionInfo]


class Feature(BaseModel):
    type: Literal["Feature"]
    id: int | str = Field(description="与 /api/v1 相同的 id（区县：行政区划代码）")
    geometry: dict[str, Any] | None = Field(description="GeoJSON 几何（WGS-84 经纬度）")
    properties: dict[str, Any] = Field(description="与 /api/v1 对匿名用户显示的属性相同")
    links: list[Link] | None = None


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[Feature]
    numberMatched: int | None = Field(
        None, description="符合条件的要素总数；总数超过 10 万、无法廉价精确计数时省略")
    numberReturned: int
    timeStamp: str = Field(description="应答生成时间（UTC）")
    links: list[Link] = Field(description="self、collection，及存在时的 prev、next")
