"""Parcel request bodies, and the documented shape of parcel answers (built by the service)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from landsvc.lists import PageMembers
from landsvc.schemas import Body


class ParcelProperties(Body):
    """Properties of a parcel as written by a bureau; enum fields take English or Chinese."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(None, description="宗地代码（唯一）", max_length=64)
    name: str | None = Field(None, description="地块名称", max_length=200)
    district: str | None = Field(None, description="行政区代码；缺省时按位置（最大重叠）确定")
    land_use: str | None = Field(None, description="土地用途", max_length=100)
    land_source: str | None = Field(None, description="stock 存量建设用地 | new_quota 新增计划指标")
    status: str | None = Field(
        None, description="available | reserved | offered | leased | transferred | withdrawn")
    plot_ratio_min: float | None = Field(None, description="容积率下限（0.01–999.99）")
    plot_ratio_max: float | None = Field(None, description="容积率上限（0.01–999.99）")
    servicing: str | None = Field(
        None, description="raw_land 生地 | three_links 三通一平 | five_links 五通一平 | seven_links 七通一平")


class ParcelCreate(Body):
    """A GeoJSON Feature (Polygon or MultiPolygon, lon/lat) with the parcel's properties."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: dict[str, Any]
    properties: ParcelProperties


class ParcelUpdate(Body):
    """A GeoJSON Feature whose geometry and properties are optional."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: dict[str, Any] | None = None
    properties: ParcelProperties = ParcelProperties()


# -- answers (documentation: the service builds them) -------------------------------------
class ParcelRead(BaseModel):
    code: str
    name: str | None
    district: str = Field(description="区县行政区划代码")
    district_name: str
    park_id: int | None = Field(description="所在特色产业园区（只读）")
    land_use: str | None
    land_source: Literal["stock", "new_quota"]
    land_source_label: str
    status: Literal["available", "reserved", "offered", "leased", "transferred", "withdrawn"]
    status_label: str
    area_m2: float = Field(description="面积（㎡，椭球面积，0.01）")
    area_mu: float = Field(description="面积（亩，0.0001）")
    plot_ratio_min: float | None
    plot_ratio_max: float | None
    servicing: Literal["raw_land", "three_links", "five_links", "seven_links"] | None
    servicing_label: str | None
    created_at: str
    updated_at: str


class ParcelFeature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any] = Field(description="GeoJSON MultiPolygon（WGS-84 经纬度）")
    properties: ParcelRead


class ParcelCollection(PageMembers):
    type: Literal["FeatureCollection"]
    features: list[ParcelFeature]


class ImportRow(BaseModel):
    index: int
    code: str | None
    reason: str


class ImportNote(BaseModel):
    index: int
    code: str | None
    note: str


class ImportReport(BaseModel):
    imported: int
    rejected: list[ImportRow]
    rejected_count: int
    notes: list[ImportNote]
    features: int
    format: str
    crs: str
    ignored_columns: list[str]


class ImportRejectedBody(BaseModel):
    """422: the file's checks failed (``report``), or the request itself was invalid."""

    detail: str
    code: str
    report: ImportReport | None = None
