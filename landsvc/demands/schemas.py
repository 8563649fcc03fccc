"""Demand request bodies, and the documented shape of demand and match answers."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from landsvc.schemas import Body


class Near(Body):
    model_config = ConfigDict(extra="forbid")

    lon: float | None = Field(None, description="中心点经度（WGS-84）")
    lat: float | None = Field(None, description="中心点纬度（WGS-84）")
    radius_km: float | None = Field(None, description="半径 km（0–200，须与中心点同时给出）")


class DemandFields(Body):
    """What an enterprise needs; every part is optional except ``kinds`` at creation."""

    model_config = ConfigDict(extra="forbid")

    kinds: list[str] | None = Field(None, description='["land"] 用地、["premises"] 厂房，或两者')
    area_min_m2: float | None = Field(None, description="最小面积 ㎡（或用 area_min_mu）")
    area_max_m2: float | None = Field(None, description="最大面积 ㎡（或用 area_max_mu）")
    area_min_mu: float | None = Field(None, description="最小面积 亩（存为 ㎡）")
    area_max_mu: float | None = Field(None, description="最大面积 亩（存为 ㎡）")
    districts: list[str] | None = Field(None, description="行政区代码或前缀：440306、4403")
    parks: list[int] | None = Field(None, description="特色产业园区 id")
    near: Near | None = Field(None, description="中心点与半径 {lon, lat, radius_km}")
    within: dict[str, Any] | None = Field(None, description="GeoJSON Polygon（须在广东省内）")
    supply_modes: list[str] | None = Field(
        None, description="可接受的供地方式：transfer、flexible_term_transfer、lease、"
                          "lease_then_transfer、lease_and_transfer")
    max_price_wan: float | None = Field(None, description="可接受的最高起始价（万元）")
    max_annual_rent_yuan: float | None = Field(None, description="可接受的最高年地租（元）")
    max_rent_yuan_per_m2_month: float | None = Field(None, description="可接受的最高厂房租金（元/㎡·月）")
    term_years: int | None = Field(None, description="希望的年期（年）")
    industry_code: str | None = Field(None, description="GB/T 4754-2017 行业代码，如 C3971")
    power_kva: float | None = Field(None, description="需要的供电容量 kVA")
    floor_load_kn_m2: float | None = Field(None, description="需要的楼面荷载 kN/㎡")
    clear_height_m: float | None = Field(None, description="需要的净高 m")
    needed_by_date: date | None = Field(None, description="最迟需要日期")
    offering_id: int | None = Field(None, description="竞买意向：只匹配这一宗供地")


class DemandCreate(DemandFields):
    enterprise_uscc: str | None = Field(None, description="需求企业（与 consortium_id 二者取一）")
    consortium_id: int | None = Field(None, description="联合竞买体（与 enterprise_uscc 二者取一）")


class DemandUpdate(DemandFields):
    """The fields to change (only while the demand is open)."""


class DemandTransition(Body):
    model_config = ConfigDict(extra="forbid")

    action: Literal["withdraw", "fulfil"] = Field(description="withdraw 撤回 | fulfil 已满足")


# -- answers (documentation: the service builds them) -------------------------------------
class DemandRead(BaseModel):
    enterprise_uscc: str | None
    consortium_id: int | None
    owner_tier: str
    status: Literal["open", "matched", "fulfilled", "withdrawn"]
    status_label: str
    allowed_actions: list[str]
    kinds: list[str]
    area_min_m2: float | None
    area_max_m2: float | None
    area_min_mu: float | None
    area_max_mu: float | None
    districts: list[str]
    parks: list[int]
    near: dict[str, float] | None
    within: dict[str, Any] | None
    supply_modes: list[str]
    max_price_wan: float | None
    max_annual_rent_yuan: float | None
    max_rent_yuan_per_m2_month: float | None
    term_years: int | None
    industry_code: str | None
    power_kva: float | None
    floor_load_kn_m2: float | None
    clear_height_m: float | None
    needed_by_date: str | None
    offering_id: int | None
    created_at: str
    updated_at: str


class DemandFeature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any] | None
    properties: DemandRead


class DemandPage(BaseModel):
    items: list[DemandFeature]
    numberMatched: int
    numberMatchedExact: bool
    numberReturned: int
    links: list[dict[str, Any]]


class Reason(BaseModel):
    criterion: Literal["location", "area", "price", "term", "industry", "servicing"]
    criterion_label: str
    value: Any
    fit: float
    weight: float
    contribution: float
    note: str


class Match(BaseModel):
    kind: Literal["offering", "listing", "demand"]
    id: int
    score: float
    tier: str | None = None
    reasons: list[Reason]
    feature: dict[str, Any]


class MatchList(BaseModel):
    items: list[Match]
    numberReturned: int
