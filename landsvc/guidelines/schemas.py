"""Guideline request bodies and the documented shape of the answers (built by the service)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from landsvc.lists import PageMembers
from landsvc.schemas import Body


class ComputeRequest(Body):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(description="期间：年度 2026、半年 2026H1/2026H2、季度 2026Q1–2026Q4")
    level: Literal["district", "zone"] = Field("district", description="district 区县 | zone 片区")


class PublishRequest(Body):
    model_config = ConfigDict(extra="forbid")

    effective_date: date = Field(description="生效日期 YYYY-MM-DD")


class ZoneCreate(Body):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="片区名称")
    geometry: dict[str, Any] = Field(description="GeoJSON Polygon/MultiPolygon（WGS-84），须在管辖范围内")


class GuidelineItemRead(BaseModel):
    zone: int | None = Field(description="片区 id（区县级为 null）")
    zone_name: str | None
    district: str
    district_name: str
    building_type: Literal["single_storey", "multi_storey", "high_rise"]
    building_type_label: str
    median: float = Field(description="指导价（中位数）元/㎡·月")
    p25: float
    p75: float
    weighted_mean: float = Field(description="按面积加权的平均租金 元/㎡·月")
    samples: int
    excluded: int = Field(description="作为异常值剔除的备案数")
    source: Literal["zone", "district", "city_fallback"]
    source_label: str
    version: int
    period: str
    effective_date: str | None


class GuidelineAnswer(BaseModel):
    items: list[GuidelineItemRead]
    version: int | None
    effective_date: str | None
    period: str | None
    published_at: str | None
    as_of: str | None


class VersionRead(BaseModel):
    id: int
    status: Literal["draft", "published"]
    status_label: str
    period: str
    period_start: str
    period_end: str
    level: Literal["district", "zone"]
    scope: str
    min_samples: int
    iqr_factor: float
    records_considered: int
    effective_date: str | None
    published_at: str | None
    supersedes: int | None
    superseded_by: int | None
    created_at: str
    created_by: str | None
    published_by: str | None


class VersionWithItems(VersionRead):
    items: list[GuidelineItemRead]


class VersionPage(PageMembers):
    items: list[VersionRead]


class ZoneProperties(BaseModel):
    name: str
    district: str
    district_name: str
    created_at: str


class ZoneFeature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any]
    properties: ZoneProperties


class ZoneCollection(PageMembers):
    type: Literal["FeatureCollection"]
    features: list[ZoneFeature]
