"""Quota request bodies, and the documented shape of their answers (hectares as numbers)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from landsvc.enterprises.models import EvaluationGrade
from landsvc.enterprises.tiers import Tier
from landsvc.lists import PageMembers
from landsvc.quota.models import AllocationStatus, MovementKind
from landsvc.schemas import Body


class QuotaPoolCreate(Body):
    """A new pool. The service checks each value and names the field in a Chinese message,
    so the types here stay loose (a year given as 2026.0 is still refused there)."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(description="指标年度（2000–2100）")
    scope: str = Field(max_length=24,
                       description="适用范围：广东省内 2、4 或 6 位行政区划代码（前缀），如 44、4403、440306")
    name: str = Field(max_length=200, description="指标名称，如“2026 年省级先进制造业用地指标”")
    total_ha: float = Field(description="指标总量（公顷，保留 4 位小数，须大于 0）")


class AllocationCreate(Body):
    model_config = ConfigDict(extra="forbid")

    approval_id: int = Field(description="已批准的用地审批案件 id；按其用地面积（公顷）占用指标")


class QuotaPoolSummary(BaseModel):
    id: int
    year: int
    scope: str
    name: str
    total_ha: float
    allocated_ha: float = Field(description="有效分配合计（公顷）")
    remaining_ha: float = Field(description="剩余可分配（公顷）= total_ha − allocated_ha")
    created_by: str
    created_at: datetime


class QuotaAllocationRead(BaseModel):
    id: int
    pool_id: int
    approval_id: int
    area_ha: float = Field(description="占用面积（公顷）= 案件用地面积 ㎡ ÷ 10000，保留 4 位小数")
    status: AllocationStatus = Field(description="active 有效、cancelled 已撤销（面积已退回）")
    allocated_on: date = Field(description="核定资格所依据的日期（分配当日，北京时间）")
    applicant_tier: Tier = Field(description="分配当日申请人的梯度")
    evaluation_grade: EvaluationGrade = Field(description="分配时申请人（联合体为牵头方）的粤产粤优等级")
    who: str = Field(description="分配人（角色:管辖区）")
    created_at: datetime
    cancelled_at: datetime | None = None
    cancelled_by: str | None = None


class QuotaAllocationCreated(QuotaAllocationRead):
    remaining_ha: float = Field(description="本次分配后指标剩余（公顷）")


class QuotaMovementRead(BaseModel):
    id: int
    allocation_id: int
    kind: MovementKind = Field(description="allocate 分配、cancel 撤销退回")
    delta_ha: float = Field(description="已分配面积的变化（公顷）：分配为正，退回为负")
    allocated_after_ha: float = Field(description="变动后的已分配合计（公顷）")
    who: str
    at: datetime


class QuotaPoolRead(QuotaPoolSummary):
    allocations: list[QuotaAllocationRead] = Field(description="全部分配（含已撤销），按时间先后")
    movements: list[QuotaMovementRead] = Field(description="每一次分配与退回，按时间先后（只增不改）")


class QuotaPoolPage(PageMembers):
    items: list[QuotaPoolSummary]


class QuotaExceededBody(BaseModel):
    """409: the pool has not enough left (``quota_exceeded``, with ``remaining_ha`` and the
    ``requested_ha``), the case is not approved, already holds an allocation, or the
    allocation is already cancelled."""

    detail: str
    code: str
    remaining_ha: float | None = None
    requested_ha: float | None = None
    allocation_id: int | None = None
