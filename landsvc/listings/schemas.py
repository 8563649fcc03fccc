"""Listing request bodies, and the documented shape of listing answers (built by the service)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from landsvc.lists import PageMembers
from landsvc.schemas import Body


class ListingFields(Body):
    """What a landlord writes about space to let; enum fields take English or Chinese."""

    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(
        None, description="factory 厂房 | standard_factory 标准厂房 | affordable_housing 保障性租赁住房（必填）")
    floor: int | None = Field(None, description="所在楼层，1–楼栋层数；整栋或跨层时不填")
    area_m2: float | None = Field(None, description="可租面积 ㎡（必填，不超过楼栋总建筑面积）")
    rent_yuan_per_m2_month: float | None = Field(
        None, description="厂房：要价 元/㎡·月（厂房必填；住房不得填写）")
    units: int | None = Field(None, description="住房：套数（住房必填）")
    rent_yuan_per_unit_month: float | None = Field(None, description="住房：租金 元/套·月（住房必填）")
    floor_load_kn_m2: float | None = Field(None, description="楼面荷载 kN/㎡")
    clear_height_m: float | None = Field(None, description="净高 m")
    freight_lift: bool | None = Field(None, description="有载货电梯（缺省：楼栋的）")
    power_kva: float | None = Field(None, description="供电容量 kVA")
    landlord: str | None = Field(None, description="出租人名称（业主出租时缺省为楼栋权利人）")
    landlord_kind: str | None = Field(None, description="owner 业主 | sublessor 二房东（转租）；缺省 owner")
    owner_authorisation_ref: str | None = Field(
        None, description="业主授权（同意转租）文件编号；二房东必填")


class ListingCreate(ListingFields):
    """A listing on a building (its place, district and park are the building's)."""

    building_id: int | None = Field(None, description="楼栋 id（必填）")


class ListingUpdate(ListingFields):
    """The fields to change (only while the listing is draft or published)."""


class ListingTransition(Body):
    model_config = ConfigDict(extra="forbid")

    action: Literal["publish", "let", "withdraw"] = Field(
        description="publish 发布 | let 已出租 | withdraw 撤回")


# -- answers (documentation: the service builds them) -------------------------------------
class ListingGuideline(BaseModel):
    """The rent guideline in force today for the listing's zone or district and its
    building's type (元/㎡·月)."""

    median: float
    p25: float
    p75: float
    weighted_mean: float
    samples: int
    source: Literal["zone", "district", "city_fallback"]
    zone: int | None
    version: int
    period: str
    effective_date: str
    margin_percent: float
    flag_threshold: float = Field(description="P75 × (1 + margin_percent/100)：要价高于此即标记")


class ListingRead(BaseModel):
    building_id: int
    building_name: str
    building_type: Literal["single_storey", "multi_storey", "high_rise"]
    building_type_label: str
    kind: Literal["factory", "standard_factory", "affordable_housing"]
    kind_label: str
    status: Literal["draft", "published", "let", "withdrawn"]
    status_label: str
    floor: int | None
    area_m2: float
    rent_yuan_per_m2_month: float | None
    units: int | None
    rent_yuan_per_unit_month: float | None
    floor_load_kn_m2: float | None
    clear_height_m: float | None
    freight_lift: bool | None
    power_kva: float | None
    landlord: str | None
    landlord_kind: Literal["owner", "sublessor"]
    landlord_kind_label: str
    owner_authorisation_ref: str | None
    district: str = Field(description="区县行政区划代码（楼栋的，只读）")
    district_name: str
    park_id: int | None = Field(description="所在特色产业园区（楼栋的，只读）")
    published_at: str | None
    created_at: str
    updated_at: str
    guideline: ListingGuideline | None
    flags: list[Literal["above_guideline"]]


class ListingFeature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any] = Field(description="楼栋的点或轮廓（GeoJSON，WGS-84 经纬度）")
    properties: ListingRead


class ListingCollection(PageMembers):
    type: Literal["FeatureCollection"]
    features: list[ListingFeature]
