"""用地审批 — land-use approval cases on the green or the standard channel, and their
append-only, hash-chained history."""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base, LabelledEnum, enum_column
from landsvc.enterprises.tiers import Tier


class Channel(LabelledEnum):
    green = "green", "绿色通道"
    standard = "standard", "普通通道"


class ApprovalStatus(LabelledEnum):
    submitted = "submitted", "已提交"
    accepted = "accepted", "已受理"
    under_review = "under_review", "审查中"
    returned = "returned", "退回补正"
    approved = "approved", "已批准"
    rejected = "rejected", "不予批准"
    withdrawn = "withdrawn", "已撤回"


class Stage(LabelledEnum):
    acceptance = "acceptance", "受理"
    review = "review", "审查"
    decision = "decision", "决定"


class ApprovalCase(Base):
    """One application. ``status`` and ``stage`` are kept by the transitions; the clocks are
    computed from the history (``approval_event``), never stored."""

    __tablename__ = "approval_case"
    __table_args__ = (
        CheckConstraint("(applicant_uscc IS NULL) <> (consortium_id IS NULL)",
                        name="one_applicant",
                        info={"field": "applicant_uscc", "rule": "申请人须为企业或联合体之一"}),
        CheckConstraint("investment_wan IS NULL OR investment_wan >= 0",
                        name="investment_not_negative",
                        info={"field": "investment_wan", "rule": "投资额不能为负"}),
        Index("ix_approval_case_district", "district",
              postgresql_ops={"district": "varchar_pattern_ops"}),
        Index("ix_approval_case_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    applicant_uscc: Mapped[str | None] = mapped_column(ForeignKey("enterprise.uscc"), index=True)
    consortium_id: Mapped[int | None] = mapped_column(ForeignKey("consortium.id"), index=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"), index=True)
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offering.id"))
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("demand.id"))
    project_name: Mapped[str] = mapped_column(String(200))
    investment_wan = mapped_column(Numeric(14, 2))
    industry_code: Mapped[str | None] = mapped_column(String(5))
    area_m2 = mapped_column(Numeric(14, 2), nullable=False)
    district: Mapped[str] = mapped_column(String(6))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    channel_reason: Mapped[str] = mapped_column(Text)
    applicant_tier: Mapped[Tier] = mapped_column(enum_column(Tier))
    """The applicant's tier in force on ``filed_on`` (what chose the channel)."""
    status: Mapped[ApprovalStatus] = mapped_column(enum_column(ApprovalStatus),
                                                   default=ApprovalStatus.submitted)
    filed_on: Mapped[date] = mapped_column(Date)
    last_step_on: Mapped[date] = mapped_column(Date)
    """The day of the latest step: a new step may not precede it."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())


class ApprovalEvent(Base):
    """One step of a case, appended and never changed: the database refuses UPDATE, DELETE
    and TRUNCATE (migration 0009), and each row carries the SHA-256 of its content and of the
    previous row of its case, so that an edit made behind the application's back (triggers
    disabled) is found by ``landsvc audit verify``."""

    __tablename__ = "approval_event"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_approval_event_case_seq"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("approval_case.id"))
    seq: Mapped[int] = mapped_column(Integer)
    """1 for the filing, then 2, 3, … within the case."""
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    on: Mapped[date] = mapped_column(Date)
    comment: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
