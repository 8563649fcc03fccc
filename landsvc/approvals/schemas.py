"""Approval request bodies, and the documented shape of a case."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from landsvc.schemas import Body

Action = Literal["accept", "start_review", "return", "resubmit", "approve", "reject", "withdraw"]


class CaseCreate(Body):
    model_config = ConfigDict(extra="forbid")

    applicant_uscc: str | None = Field(None, max_length=18,
                                       description="申请企业统一社会信用代码（企业令牌默认自己）")
    consortium_id: int | None = Field(None, description="或：申请联合体 id")
    parcel_id: int | None = Field(None, description="地块 id（或给出 offering_id）")
    offering_id: int | None = Field(None, description="供地 id（地块随之确定）")
    demand_id: int | None = Field(None, description="关联的用地需求 id（须属申请人）")
    project_name: str = Field(..., min_length=1, max_length=200, description="项目名称")
    investment_wan: float | None = Field(None, ge=0, le=1e11, description="投资额（万元）")
    industry_code: str | None = Field(None, pattern=r"^[A-T](\d{2,4})?$",
                                      description="行业代码（GB/T 4754-2017）")
    filed_on: date | None = Field(None, description="申请日（默认今天；纸质申请可补登，不能在将来）")
    comment: str | None = Field(None, max_length=2000, description="备注")


class CaseTransition(Body):
    model_config = ConfigDict(extra="forbid")

    action: Action = Field(..., description="accept 受理 | start_review 提交决定 | return 退回补正 | "
                                            "resubmit 补正后重新提交 | approve 批准 | reject 不予批准 | "
                                            "withdraw 撤回")
    comment: str | None = Field(None, max_length=2000, description="意见")
    on: date | None = Field(None, description="步骤发生的日期（默认今天；不早于上一步骤、不在将来）")


class StageClock(BaseModel):
    stage: Literal["acceptance", "review", "decision"]
    started_on: date | None
    deadline: date | None
    working_days_limit: int
    working_days_used: int
    working_days_left: int
    overdue: bool
    calendar_uncertain: bool
    paused: bool
    closed_on: date | None


class CaseOut(BaseModel):
    id: int
    applicant_uscc: str | None
    consortium_id: int | None
    parcel_id: int
    offering_id: int | None
    demand_id: int | None
    project_name: str
    investment_wan: float | None
    industry_code: str | None
    area_m2: float
    area_ha: float
    district: str
    channel: Literal["green", "standard"]
    channel_label: str
    channel_reason: str
    applicant_tier: str
    status: str
    status_label: str
    filed_on: date
    last_step_on: date
    allowed_actions: list[str]
    stage: str | None
    stages: list[StageClock]
    overdue: bool


class CaseList(BaseModel):
    items: list[CaseOut]
    numberMatched: int
    numberMatchedExact: bool
    numberReturned: int
    links: list[dict]


class HistoryEntry(BaseModel):
    seq: int
    action: str
    action_label: str
    from_status: str | None
    to_status: str
    actor: str
    role: str
    at: str
    on: date
    comment: str | None


class History(BaseModel):
    items: list[HistoryEntry]
