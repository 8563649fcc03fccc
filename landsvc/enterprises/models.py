from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base, LabelledEnum, enum_column
from landsvc.enterprises.tiers import USCC_ALPHABET, Tier
from landsvc.fields import INDUSTRY_CODE_PATTERN

USCC_PATTERN = f"^[{USCC_ALPHABET}]{{18}}$"


class EvaluationGrade(LabelledEnum):
    """粤产粤优 — the province's yearly grading of an enterprise's land use and output."""

    A = "A", "A类"
    B = "B", "B类"
    C = "C", "C类"
    D = "D", "D类"


class Enterprise(Base):
    """企业 — a registered enterprise, keyed by its unified social credit code.

    ``tier`` is what a bureau recorded, valid from ``tier_valid_from`` to ``tier_valid_to``
    (either end open); the tier in force on a day is ``service.effective_tier``."""

    __tablename__ = "enterprise"
    __table_args__ = (
        Index("ix_enterprise_district", "district",
              postgresql_ops={"district": "varchar_pattern_ops"}),
        CheckConstraint(f"uscc ~ '{USCC_PATTERN}'", name="uscc_format",
                        info={"field": "uscc",
                              "rule": "须为 18 位统一社会信用代码（GB 32100-2015 字符集）"}),
        CheckConstraint(f"industry_code ~ '{INDUSTRY_CODE_PATTERN}'", name="industry_code_format",
                        info={"field": "industry_code",
                              "rule": "须为 GB/T 4754-2017 行业代码（门类字母 A–T 加 2–4 位数字）"}),
        CheckConstraint("tier_valid_from <= tier_valid_to", name="tier_validity",
                        info={"field": "tier_valid_to", "rule": "梯度有效期截止日不得早于起始日"}),
        CheckConstraint("evaluation_year BETWEEN 2000 AND 2100", name="evaluation_year_range",
                        info={"field": "evaluation_year", "rule": "评价年度须在 2000–2100 之间"}),
        CheckConstraint("(evaluation_year IS NULL) = (evaluation_grade IS NULL)",
                        name="evaluation_pair",
                        info={"field": "evaluation_grade", "rule": "评价年度与评价等级须同时填写"}),
    )

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(6))
    industry_code: Mapped[str | None] = mapped_column(String(5))
    tier: Mapped[Tier] = mapped_column(enum_column(Tier), default=Tier.none,
                                       server_default=Tier.none.value)
    tier_valid_from: Mapped[date | None] = mapped_column(Date)
    tier_valid_to: Mapped[date | None] = mapped_column(Date)
    evaluation_year: Mapped[int | None] = mapped_column(SmallInteger)
    evaluation_grade: Mapped[EvaluationGrade | None] = mapped_column(enum_column(EvaluationGrade))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    uscc_check_override: Mapped[bool] = mapped_column(Boolean, default=False,
                                                      server_default=text("false"))
    override_by: Mapped[str | None] = mapped_column(String(200))
    override_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Consortium(Base):
    """联合竞买体 — enterprises bidding together, one of them the lead."""

    __tablename__ = "consortium"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    lead_uscc: Mapped[str] = mapped_column(ForeignKey("enterprise.uscc"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ConsortiumMember(Base):
    __tablename__ = "consortium_member"
    __table_args__ = (
        CheckConstraint("share_percent > 0", name="share_positive",
                        info={"field": "share_percent", "rule": "出资比例须大于 0"}),
    )

    consortium_id: Mapped[int] = mapped_column(
        ForeignKey("consortium.id", ondelete="CASCADE"), primary_key=True)
    uscc: Mapped[str] = mapped_column(ForeignKey("enterprise.uscc"), primary_key=True, index=True)
    share_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
