"""Offering request bodies, and the documented shape of offering answers (built by the
service). Which fields a supply mode takes, and their limits, are checked by
:mod:`landsvc.offerings.rules` (422 naming the rule), not here."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from landsvc.db import LabelledEnum
from landsvc.enterprises.tiers import Tier
from landsvc.lists import PageMembers
from landsvc.offerings.models import OfferingStatus, SupplyMode
from landsvc.schemas import Body


def _either_name(cls: type[LabelledEnum]):
    """Accept an enum's English identifier or its Chinese label (出让 → transfer)."""
    names = cls.lookup()
    return BeforeValidator(lambda v: names.get(v, v) if isinstance(v, str) else v)


Mode = Annotated[SupplyMode, _either_name(SupplyMode)]
TierName = Annotated[Tier, _either_name(Tier)]
Years = Annotated[int, Field(ge=-999, le=999)]
"""Years: the supply mode's rules bound them; these bounds only keep them storable."""


def _amount(limit: float):
    return Annotated[float, Field(allow_inf_nan=False, gt=-limit, lt=limit)]


class OfferingConditions(Body):
    """履约条件 (performance conditions): at least one positive target, and a deadline."""

    model_config = ConfigDict(extra="forbid")

    investment_intensity_wan_per_mu: Annotated[float, Field(allow_inf_nan=False)] | None = \
        Field(None, description="投资强度（万元/亩）")
    output_per_mu_wan: Annotated[float, Field(allow_inf_nan=False)] | None = \
        Field(None, description="亩均产值（万元/亩·年）")
    tax_per_mu_wan: Annotated[float, Field(allow_inf_nan=False)] | None = \
        Field(None, description="亩均税收（万元/亩·年）")
    deadline_date: date | None = Field(None, description="履约考核期限（YYYY-MM-DD）")


class OfferingFields(Body):
    """What a bureau writes on an offering; which mode fields apply depends on the mode."""

    model_config = ConfigDict(extra="forbid")

    term_years: Years | None = Field(
        None, description="年期：transfer = 50；flexible_term_transfer 5–49；lease 5–20")
    lease_years: Years | None = Field(
        None, description="租赁期：lease_then_transfer 1–10（缺省 5）；lease_and_transfer 5–20")
    transfer_years: Years | None = Field(None, description="出让期（租赁期之后或出让部分）")
    lease_share_percent: _amount(1e3) | None = Field(
        None, description="租让结合：租赁部分占地块面积的百分比（0–100，不含两端）")
    start_price_wan: _amount(1e12) | None = Field(None, description="起始价（万元）")
    annual_rent_yuan: _amount(1e14) | None = Field(
        None, description="年租金（元）；不低于 50 年出让评估价的 2 %（租让结合：乘以租赁占比）")
    appraised_price_wan: _amount(1e12) | None = Field(
        None, description="该宗地 50 年工业用地出让评估价（万元，整宗）")
    rent_review_years: Years | None = Field(None, description="租金调整周期（年，≥ 5；缺省 5）")
    rent_review_cap_percent: _amount(1e3) | None = Field(
        None, description="每次调整涨幅上限（上期租金的 %，≤ 10；缺省 10）")
    rent_credited: bool | None = Field(
        None, description="先租后让：已缴租金抵扣出让价款（缺省 true）")
    conditions: OfferingConditions | None = Field(None, description="履约条件")
    min_tier: TierName | None = Field(
        None, description="竞买资格最低梯度：none | innovative_sme | srdi_sme | little_giant")
    srdi_priority: bool | None = Field(None, description="专精特新优先")
    joint_bidding_allowed: bool | None = Field(None, description="允许联合竞买")
    bidding_opens_at: AwareDatetime | None = Field(None, description="竞价开始（含时区）")
    bidding_closes_at: AwareDatetime | None = Field(None, description="竞价截止（含时区）")


class OfferingCreate(OfferingFields):
    """A new offering (draft) on a parcel that is available or reserved."""

    parcel_id: int = Field(description="地块 id")
    supply_mode: Mode = Field(description="供地方式")


class OfferingUpdate(OfferingFields):
    """Changes to a draft: only the fields named; ``null`` clears a field (or restores its
    default). A new ``supply_mode`` drops the stored fields the new mode does not take."""

    supply_mode: Mode | None = Field(None, description="供地方式")


class OfferingTransition(Body):
    """A lifecycle step; ``award`` names the awardee."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["publish", "close", "award", "fail", "cancel"]
    awardee_uscc: str | None = Field(None, max_length=50,
                                     description="受让人统一社会信用代码（GB 32100，award 必填）")
    awardee_name: str | None = Field(None, max_length=200, description="受让人名称（award 必填）")


# -- answers (documentation: the service builds them) -------------------------------------
class ConditionsRead(BaseModel):
    investment_intensity_wan_per_mu: float | None = None
    output_per_mu_wan: float | None = None
    tax_per_mu_wan: float | None = None
    deadline_date: str | None = None


class OfferingRead(BaseModel):
    parcel_id: int
    parcel_code: str
    supply_mode: SupplyMode
    supply_mode_label: str
    status: OfferingStatus
    status_label: str
    allowed_actions: list[str] = Field(description="调用者现在可执行的操作")
    term_years: int | None
    lease_years: int | None
    transfer_years: int | None
    lease_share_percent: float | None
    start_price_wan: float | None
    annual_rent_yuan: float | None
    appraised_price_wan: float | None
    rent_review_years: int | None
    rent_review_cap_percent: float | None
    rent_credited: bool | None
    conditions: ConditionsRead | None
    min_tier: Tier
    min_tier_label: str
    srdi_priority: bool
    joint_bidding_allowed: bool
    bidding_opens_at: str | None
    bidding_closes_at: str | None
    land_source: Literal["stock", "new_quota"] = Field(description="地块的土地来源（只读）")
    land_source_label: str
    district: str
    district_name: str
    park_id: int | None = Field(description="地块当前所在园区（只读）")
    area_m2: float
    area_mu: float
    awardee_uscc: str | None
    awardee_name: str | None
    published_at: str | None
    closed_at: str | None
    decided_at: str | None
    created_at: str
    updated_at: str


class OfferingFeature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any] = Field(description="地块的 GeoJSON MultiPolygon")
    properties: OfferingRead


class OfferingCollection(PageMembers):
    type: Literal["FeatureCollection"]
    features: list[OfferingFeature]
