"""Tariff and complaint request bodies, and the documented shape of their answers.

Types stay loose where the service checks a value and names the field in Chinese (money as
numbers, rounded there as its column keeps it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from landsvc.lists import PageMembers
from landsvc.schemas import Body
from landsvc.utilities.models import ComplaintStatus, Utility

CATEGORY_HELP = ("类别（自由文本，按价格文件原文填写）。常用：电 — 一般工商业、大工业、居民生活、农业生产；"
                 "水 — 非居民、居民、特种行业；燃气 — 工商业、居民")


class TariffCreate(Body):
    model_config = ConfigDict(extra="forbid")

    district: str = Field(max_length=24, description="适用地区：2、4 或 6 位行政区划代码（前缀），如 44、4403、440306")
    utility: str = Field(max_length=40, description="electricity 电 | water 水 | gas 燃气")
    category: str = Field(max_length=200, description=CATEGORY_HELP)
    unit_price_yuan: float = Field(description="单价（元/千瓦时 或 元/立方米，保留 4 位小数，须大于 0）")
    effective_from: date = Field(description="起执行日期")


class TariffRead(BaseModel):
    id: int
    district: str
    utility: Utility
    utility_label: str
    category: str
    unit_price_yuan: float
    unit: str = Field(description="元/千瓦时 或 元/立方米")
    effective_from: date
    created_by: str
    created_at: datetime


class TariffPage(PageMembers):
    items: list[TariffRead]


class ComplaintCreate(Body):
    model_config = ConfigDict(extra="forbid")

    listing_id: int | None = Field(None, description="所租房源 id（与 landlord 至少填一项）")
    landlord: str | None = Field(None, max_length=800, description="出租方（收费方）名称")
    district: str | None = Field(None, max_length=24,
                                 description="6 位县级行政区划代码；填了 listing_id 时可省略（取房源所在区）")
    utility: str = Field(max_length=40, description="electricity 电 | water 水 | gas 燃气")
    category: str = Field(max_length=200, description=CATEGORY_HELP)
    billed_unit_price_yuan: float = Field(description="出租方收取的单价（元/千瓦时 或 元/立方米）")
    quantity: float = Field(description="计费用量（千瓦时 或 立方米，保留 3 位小数）")
    period_start: date = Field(description="计费期起日（含）")
    period_end: date = Field(description="计费期止日（含）")


class TariffSegment(BaseModel):
    start: date
    end: date
    days: int
    tariff_id: int
    district: str = Field(description="该价格的适用地区")
    unit_price_yuan: float


class ComplaintRead(BaseModel):
    id: int
    complainant_uscc: str
    listing_id: int | None
    landlord: str | None
    district: str
    utility: Utility
    utility_label: str
    category: str
    billed_unit_price_yuan: float
    quantity: float
    period_start: date
    period_end: date
    tariff_unit_price_yuan: float = Field(description="计费期内的政府定价，按各价格执行天数加权（元，4 位小数）")
    tariff_segments: list[TariffSegment] = Field(description="计费期内各段执行的价格")
    tolerance_percent: float = Field(description="允许偏差（%），按辖区规则")
    markup_percent: float = Field(description="加价幅度 =（收费单价 − 政府定价）÷ 政府定价 × 100")
    overcharge_yuan: float = Field(description="多收金额 =（收费单价 − 政府定价 ×（1 + 允许偏差））× 用量，不小于 0")
    case_opened: bool
    status: ComplaintStatus
    status_label: str
    reason: str | None
    refund_yuan: float | None = Field(description="已处理时核定的退还金额（元）")
    note: str | None
    allowed_actions: list[str]
    filed_on: date
    filed_at: datetime
    updated_at: datetime
    updated_by: str | None


class ComplaintPage(PageMembers):
    items: list[ComplaintRead]


class ComplaintTransition(Body):
    model_config = ConfigDict(extra="forbid")

    action: Literal["investigate", "resolve", "dismiss"]
    refund_yuan: float | None = Field(None, description="resolve 必填：核定退还金额（元，≥ 0）")
    note: str | None = Field(None, max_length=1000, description="处理意见")


class DistrictStats(BaseModel):
    district: str
    district_name: str | None
    cases: int = Field(description="投诉数")
    opened: int = Field(description="立案数（case_opened）")
    resolved: int
    dismissed: int
    overcharge_yuan: float = Field(description="多收金额合计（元）")
    refund_yuan: float = Field(description="已退还金额合计（元）")


class ComplaintStats(BaseModel):
    jurisdiction: str
    from_: date | None = Field(None, alias="from")
    to: date | None
    totals: DistrictStats
    districts: list[DistrictStats]
