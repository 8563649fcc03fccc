"""Building and split-transfer request bodies, and the documented shape of their answers.

Bodies only parse; the service checks every rule and names the field in Chinese.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from landsvc.lists import Link, PageMembers
from landsvc.schemas import Body


class BuildingProperties(Body):
    """Properties of a building as written by a bureau; enum fields take English or Chinese.

    On create, ``name``, ``building_type``, ``floors`` and ``total_floor_area_m2`` are required.
    """

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="楼栋名称（必填，≤200 字）")
    building_type: str | None = Field(
        None, description="single_storey 单层厂房 | multi_storey 多层厂房 | high_rise 高层厂房（必填）")
    floors: int | None = Field(None, description="地上层数，1–200（必填）")
    total_floor_area_m2: float | None = Field(None, description="总建筑面积 ㎡（必填，> 0）")
    completed: bool | None = Field(None, description="已竣工验收（缺省 false）")
    holder_uscc: str | None = Field(None, description="权利人统一社会信用代码（GB 32100，18 位）")
    holder_name: str | None = Field(None, description="权利人名称")
    holder_industry_code: str | None = Field(
        None, description="权利人行业代码（GB/T 4754-2017，如 C39、C3971）")
    freight_lift: bool | None = Field(None, description="有载货电梯（缺省 false）")


class BuildingCreate(Body):
    """A GeoJSON Feature: a Point or the footprint (Polygon/MultiPolygon), lon/lat."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: dict[str, Any]
    properties: BuildingProperties


class BuildingUpdate(Body):
    """A GeoJSON Feature whose geometry and properties are optional."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: dict[str, Any] | None = None
    properties: BuildingProperties = BuildingProperties()


class UnitCreate(Body):
    """A unit: whole floors (``floors``) or the whole building (``whole_building: true``)."""

    model_config = ConfigDict(extra="forbid")

    floors: list[int] | None = Field(None, description="整层：楼层号列表（1–楼栋层数）")
    whole_building: bool | None = Field(None, description="整栋为一个单元")
    area_m2: float | None = Field(None, description="单元建筑面积 ㎡（必填，> 0）")


class TransferCreate(Body):
    """A transfer of a unit to an industry-chain partner."""

    model_config = ConfigDict(extra="forbid")

    buyer_uscc: str | None = Field(None, description="受让人统一社会信用代码（必填）")
    buyer_name: str | None = Field(None, description="受让人名称（必填）")
    chain_partner: bool | None = Field(None, description="受让人为产业链合作企业（须为 true）")
    date: dt.date | None = Field(None, description="转让日期 YYYY-MM-DD（缺省：今天，北京时间）")


# -- answers (documentation: the service builds them) -------------------------------------
class BuildingRead(BaseModel):
    name: str
    building_type: Literal["single_storey", "multi_storey", "high_rise"]
    building_type_label: str
    floors: int
    total_floor_area_m2: float
    completed: bool
    holder_uscc: str | None
    holder_name: str | None
    holder_industry_code: str | None
    freight_lift: bool
    district: str = Field(description="区县行政区划代码（只读，按位置确定）")
    district_name: str
    park_id: int | None = Field(description="所在特色产业园区（只读）")
    created_at: str
    updated_at: str


class BuildingFeature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any] = Field(description="GeoJSON Point 或 MultiPolygon（WGS-84 经纬度）")
    properties: BuildingRead


class BuildingCollection(PageMembers):
    type: Literal["FeatureCollection"]
    features: list[BuildingFeature]


class TransferRead(BaseModel):
    id: int
    seller_uscc: str | None
    buyer_uscc: str
    buyer_name: str
    chain_partner: bool
    date: str = Field(description="转让日期")
    locked_until: str = Field(description="锁定期最后一日：此日（含）之前不得再次转让")


class UnitRead(BaseModel):
    id: int
    building_id: int
    floors: list[int] | None
    whole_building: bool
    area_m2: float
    holder_uscc: str | None = Field(description="现权利人：最后一次转让的受让人，未转让时为楼栋权利人")
    holder_name: str | None
    locked_until: str | None = Field(description="最后一次转让的锁定期最后一日；从未转让为 null")
    transfers: list[TransferRead] = Field(description="转让记录，按日期由早到晚")
    created_at: str


class UnitPage(BaseModel):
    items: list[UnitRead]
    numberMatched: int
    numberMatchedExact: bool
    numberReturned: int
    links: list[Link]
    building_id: int
    holder_uscc: str | None = Field(description="楼栋（原）权利人")
    holder_area_m2: float = Field(description="原权利人仍持有的建筑面积 ㎡")
    holder_share_percent: float = Field(description="原权利人持有比例 %（0.01）")
