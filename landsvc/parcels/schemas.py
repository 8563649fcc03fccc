"""Request bodies for parcels (responses are GeoJSON built by the service)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ParcelProperties(BaseModel):
    """Properties of a parcel as written by a bureau; enum fields take English or Chinese."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(None, description="宗地代码（唯一）", max_length=64)
    name: str | None = Field(None, description="地块名称", max_length=200)
    district: str | None = Field(None, description="行政区代码；缺省时按位置（最大重叠）确定")
    land_use: str | None = Field(None, description="土地用途", max_length=100)
    land_source: str | None = Field(None, description="stock 存量建设用地 | new_quota 新增计划指标")
    status: str | None = Field(
        None, description="available | reserved | offered | leased | transferred | withdrawn")
    plot_ratio_min: float | None = Field(None, description="容积率下限")
    plot_ratio_max: float | None = Field(None, description="容积率上限")
    servicing: str | None = Field(
        None, description="raw_land 生地 | three_links 三通一平 | five_links 五通一平 | seven_links 七通一平")


class ParcelCreate(BaseModel):
    """A GeoJSON Feature (Polygon or MultiPolygon, lon/lat) with the parcel's properties."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: dict[str, Any]
    properties: ParcelProperties


class ParcelUpdate(BaseModel):
    """A GeoJSON Feature whose geometry and properties are optional."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: dict[str, Any] | None = None
    properties: ParcelProperties = ParcelProperties()
