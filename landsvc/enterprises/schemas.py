"""Enterprise and consortium request bodies, and the documented shape of their answers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from landsvc.enterprises.models import EvaluationGrade
from landsvc.enterprises.tiers import Tier
from landsvc.lists import PageMembers
from landsvc.schemas import Body

_USCC = "统一社会信用代码（GB 32100-2015：18 位，末位为校验码）"
_TIER = ("梯度：none 无、innovative_sme 创新型中小企业、srdi_sme 专精特新中小企业、"
         "little_giant 专精特新“小巨人”企业（由主管部门认定）")


class EnterpriseProperties(Body):
    """An enterprise's properties; in a PATCH only what is given changes."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200, description="企业名称")
    district: str | None = Field(None, max_length=24,
                                 description="所在区县的 6 位行政区划代码，如 440306")
    industry_code: str | None = Field(
        None, max_length=20, description="GB/T 4754-2017 行业代码，如 C39、C3971")
    tier: Tier | None = Field(None, description=_TIER)
    tier_valid_from: date | None = Field(None, description="梯度有效期起（含当日；空 = 不限）")
    tier_valid_to: date | None = Field(None, description="梯度有效期止（含当日；空 = 不限）")
    evaluation_year: int | None = Field(None, ge=2000, le=2100, description="粤产粤优评价年度")
    evaluation_grade: EvaluationGrade | None = Field(None, description="粤产粤优评价等级 A/B/C/D")
    webhook_url: str | None = Field(None, max_length=500,
                                    description="通知回调地址（http:// 或 https://）")


class EnterpriseCreate(EnterpriseProperties):
    """A new enterprise: ``uscc``, ``name`` and ``district`` are required."""

    uscc: str = Field(max_length=72, description=_USCC)
    name: str = Field(max_length=200, description="企业名称")
    district: str = Field(max_length=24, description="所在区县的 6 位行政区划代码，如 440306")
    uscc_check_override: bool = Field(
        False, description="校验码未通过时仍登记（仅主管部门、管理员；记录操作者与时间）")


class ConsortiumMemberIn(Body):
    model_config = ConfigDict(extra="forbid")

    uscc: str = Field(max_length=72, description=_USCC)
    share_percent: Decimal = Field(gt=0, le=100, max_digits=5, decimal_places=2,
                                   description="出资比例（%，至多两位小数；各成员之和为 100）")


class ConsortiumCreate(Body):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200, description="联合竞买体名称")
    lead_uscc: str = Field(max_length=72, description="牵头企业的统一社会信用代码（须为成员）")
    members: list[ConsortiumMemberIn] = Field(max_length=50,
                                              description="成员（至少两家已登记企业）")


# -- answers (documentation: the service builds them) -------------------------------------
class EnterpriseRead(BaseModel):
    uscc: str
    name: str
    district: str
    district_name: str | None
    industry_code: str | None
    tier: Tier = Field(description="主管部门认定的梯度")
    tier_label: str
    tier_valid_from: date | None
    tier_valid_to: date | None
    effective_tier: Tier = Field(description="今日（北京时间）有效的梯度：有效期外为 none")
    effective_tier_label: str
    evaluation_year: int | None
    evaluation_grade: EvaluationGrade | None
    evaluation_grade_label: str | None
    webhook_url: str | None
    uscc_check_override: bool = Field(description="是否在校验码未通过时由主管部门强制登记")
    override_by: str | None = Field(description="强制登记者（角色:管辖区）")
    override_at: str | None
    created_at: str
    updated_at: str


class EnterprisePage(PageMembers):
    items: list[EnterpriseRead]


class ConsortiumMemberRead(BaseModel):
    uscc: str
    name: str
    share_percent: float
    effective_tier: Tier
    effective_tier_label: str


class ConsortiumRead(BaseModel):
    id: int
    name: str
    lead_uscc: str
    lead_district: str
    members: list[ConsortiumMemberRead]
    effective_tier: Tier = Field(
        description="联合竞买体今日有效的梯度：牵头企业的梯度与“持股合计过半成员共同达到的最高梯度”"
                    "二者取低")
    effective_tier_label: str
    created_at: str


class ConsortiumPage(PageMembers):
    items: list[ConsortiumRead]
