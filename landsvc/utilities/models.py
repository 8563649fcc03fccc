"""Official utility tariffs (水电气价格) per division, and tenants' complaints of mark-ups
(水电气加价投诉) judged against them."""

from datetime import date, datetime

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
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base, LabelledEnum, enum_column

UNIT_PRICE = Numeric(10, 4)
"""元 per kWh or m³ to 0.0001 元 (tariffs are published to 4 decimals, e.g. 0.6523 元/kWh)."""
MONEY = Numeric(14, 2)
"""元 to the fen."""


class Utility(LabelledEnum):
    electricity = "electricity", "电"
    water = "water", "水"
    gas = "gas", "燃气"


class ComplaintStatus(LabelledEnum):
    filed = "filed", "已立案"
    investigating = "investigating", "调查中"
    resolved = "resolved", "已处理"
    dismissed = "dismissed", "不予立案/已驳回"


class UtilityTariff(Base):
    """The official unit price of a utility and category in a division (an adcode prefix:
    44 the province, 4403 a city, 440306 a county) from ``effective_from`` on."""

    __tablename__ = "utility_tariff"
    __table_args__ = (
        UniqueConstraint("district", "utility", "category", "effective_from",
                         name="uq_utility_tariff_place_day"),
        CheckConstraint("district ~ '^44([0-9]{2}){0,2}$'", name="district_format",
                        info={"field": "district",
                              "rule": "适用地区须为广东省内 2、4 或 6 位行政区划代码（前缀）"}),
        CheckConstraint("unit_price_yuan > 0", name="price_positive",
                        info={"field": "unit_price_yuan", "rule": "单价须大于 0"}),
        Index("ix_utility_tariff_lookup", "utility", "category", "district", "effective_from"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    district: Mapped[str] = mapped_column(String(6))
    utility: Mapped[Utility] = mapped_column(enum_column(Utility))
    category: Mapped[str] = mapped_column(String(50))
    unit_price_yuan = mapped_column(UNIT_PRICE, nullable=False)
    effective_from: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UtilityComplaint(Base):
    """A tenant enterprise's complaint of a bill; the figures are the platform's, computed
    on filing against the tariffs in force over the billing period."""

    __tablename__ = "utility_complaint"
    __table_args__ = (
        CheckConstraint("listing_id IS NOT NULL OR landlord IS NOT NULL", name="landlord_named",
                        info={"field": "landlord", "rule": "须提供房源 listing_id 或出租方 landlord"}),
        CheckConstraint("district ~ '^44[0-9]{4}$'", name="district_format",
                        info={"field": "district", "rule": "须为广东省内 6 位县级行政区划代码"}),
        CheckConstraint("period_end >= period_start", name="period_order",
                        info={"field": "period_end", "rule": "计费期止日不能早于起日"}),
        CheckConstraint("billed_unit_price_yuan > 0", name="billed_positive",
                        info={"field": "billed_unit_price_yuan", "rule": "收费单价须大于 0"}),
        CheckConstraint("quantity > 0", name="quantity_positive",
                        info={"field": "quantity", "rule": "用量须大于 0"}),
        CheckConstraint("overcharge_yuan >= 0", name="overcharge_nonnegative",
                        info={"field": "overcharge_yuan", "rule": "多收金额不能为负"}),
        CheckConstraint("refund_yuan IS NULL OR refund_yuan >= 0", name="refund_nonnegative",
                        info={"field": "refund_yuan", "rule": "退还金额不能为负"}),
        CheckConstraint("(status = 'resolved') = (refund_yuan IS NOT NULL)", name="refund_when",
                        info={"field": "refund_yuan", "rule": "已处理的投诉须有退还金额，其他状态不得有"}),
        Index("ix_utility_complaint_district", "district",
              postgresql_ops={"district": "varchar_pattern_ops"}),
        Index("ix_utility_complaint_complainant", "complainant_uscc"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    complainant_uscc: Mapped[str] = mapped_column(String(18))
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listing.id"))
    landlord: Mapped[str | None] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(6))
    utility: Mapped[Utility] = mapped_column(enum_column(Utility))
    category: Mapped[str] = mapped_column(String(50))
    billed_unit_price_yuan = mapped_column(UNIT_PRICE, nullable=False)
    quantity = mapped_column(Numeric(14, 3), nullable=False)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    tariff_unit_price_yuan = mapped_column(UNIT_PRICE, nullable=False)
    """The tariff over the period, weighted by days under each tariff (0.0001 元)."""
    tariff_segments = mapped_column(JSONB, nullable=False)
    """Each stretch of the period under one tariff: from, to, days, tariff_id, unit price."""
    tolerance_percent = mapped_column(Numeric(6, 2), nullable=False)
    markup_percent = mapped_column(Numeric(12, 2), nullable=False)
    overcharge_yuan = mapped_column(MONEY, nullable=False)
    case_opened: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[ComplaintStatus] = mapped_column(enum_column(ComplaintStatus))
    reason: Mapped[str | None] = mapped_column(String(200))
    refund_yuan = mapped_column(MONEY)
    note: Mapped[str | None] = mapped_column(String(1000))
    filed_on: Mapped[date] = mapped_column(Date)
    """The day (China) it was filed: the statistics' date."""
    filed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now())
    updated_by: Mapped[str | None] = mapped_column(String(100))
