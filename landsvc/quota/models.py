"""省级先进制造业用地指标 — provincial quota pools of land (hectares), the allocations drawn
from them for approved cases, and the append-only record of every movement.

The database itself keeps a pool from being over-allocated: ``quota_pool.allocated_ha`` is
the running sum of its active allocations, changed only in the transaction that inserts or
cancels one, and a CHECK holds it between 0 and ``total_ha`` whatever the writer.
"""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base, LabelledEnum, enum_column
from landsvc.enterprises.models import EvaluationGrade
from landsvc.enterprises.tiers import Tier

HECTARES = Numeric(12, 4)
"""Hectares to 1 ㎡ (0.0001 ha), up to 99,999,999.9999 ha — Guangdong is ~18 million."""


class AllocationStatus(LabelledEnum):
    active = "active", "有效"
    cancelled = "cancelled", "已撤销"


class MovementKind(LabelledEnum):
    allocate = "allocate", "分配"
    cancel = "cancel", "撤销退回"


class QuotaPool(Base):
    """One year's quota for a scope (an adcode prefix: 44 the province, 4403 a city …)."""

    __tablename__ = "quota_pool"
    __table_args__ = (
        UniqueConstraint("year", "scope", "name", name="uq_quota_pool_year_scope_name"),
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year_range",
                        info={"field": "year", "rule": "年度须在 2000–2100 之间"}),
        CheckConstraint("scope ~ '^44([0-9]{2}){0,2}$'", name="scope_format",
                        info={"field": "scope", "rule": "适用范围须为广东省内 2、4 或 6 位行政区划代码"}),
        CheckConstraint("total_ha > 0", name="total_positive",
                        info={"field": "total_ha", "rule": "指标总量须大于 0 公顷"}),
        CheckConstraint("allocated_ha >= 0 AND allocated_ha <= total_ha", name="within_total",
                        info={"field": "allocated_ha", "rule": "已分配面积须在 0 与指标总量之间"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    year: Mapped[int] = mapped_column(SmallInteger)
    scope: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(String(200))
    total_ha = mapped_column(HECTARES, nullable=False)
    allocated_ha = mapped_column(HECTARES, nullable=False, default=0, server_default=text("0"))
    """The sum of the active allocations; only the allocation service changes it."""
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class QuotaAllocation(Base):
    """Hectares of one pool drawn for one approved case; cancelled, never deleted."""

    __tablename__ = "quota_allocation"
    __table_args__ = (
        CheckConstraint("area_ha > 0", name="area_positive",
                        info={"field": "area_ha", "rule": "分配面积须大于 0 公顷"}),
        CheckConstraint("(status = 'cancelled') = (cancelled_at IS NOT NULL)",
                        name="cancelled_when",
                        info={"field": "cancelled_at", "rule": "撤销的分配须有撤销时间"}),
        # A case holds at most one active allocation, whichever pool it comes from.
        Index("uq_quota_allocation_active_case", "approval_id", unique=True,
              postgresql_where=text("status = 'active'")),
        Index("ix_quota_allocation_pool_id", "pool_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("quota_pool.id"))
    approval_id: Mapped[int] = mapped_column(ForeignKey("approval_case.id"))
    area_ha = mapped_column(HECTARES, nullable=False)
    status: Mapped[AllocationStatus] = mapped_column(enum_column(AllocationStatus),
                                                     default=AllocationStatus.active)
    allocated_on: Mapped[date] = mapped_column(Date)
    """The day (China) the eligibility was judged on."""
    applicant_tier: Mapped[Tier] = mapped_column(enum_column(Tier))
    evaluation_grade: Mapped[EvaluationGrade] = mapped_column(enum_column(EvaluationGrade))
    who: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(String(100))


class QuotaMovement(Base):
    """One change of a pool's allocated hectares, appended and never changed: the database
    refuses UPDATE, DELETE and TRUNCATE (migration 0010)."""

    __tablename__ = "quota_movement"
    __table_args__ = (
        CheckConstraint("(kind = 'allocate' AND delta_ha > 0) OR (kind = 'cancel' AND delta_ha < 0)",
                        name="delta_sign",
                        info={"field": "delta_ha", "rule": "分配增加、撤销减少已分配面积"}),
        Index("ix_quota_movement_pool_id", "pool_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("quota_pool.id"))
    allocation_id: Mapped[int] = mapped_column(ForeignKey("quota_allocation.id"))
    kind: Mapped[MovementKind] = mapped_column(enum_column(MovementKind))
    delta_ha = mapped_column(HECTARES, nullable=False)
    """The change of the pool's allocated hectares: + drawn, − returned."""
    allocated_after_ha = mapped_column(HECTARES, nullable=False)
    who: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
