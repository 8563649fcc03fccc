from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base, LabelledEnum, enum_column
from landsvc.enterprises.tiers import Tier
from landsvc.geo import WGS84
from landsvc.parcels.models import ParcelStatus


class SupplyMode(LabelledEnum):
    transfer = "transfer", "出让"
    flexible_term_transfer = "flexible_term_transfer", "弹性年期出让"
    lease = "lease", "长期租赁"
    lease_then_transfer = "lease_then_transfer", "先租后让"
    lease_and_transfer = "lease_and_transfer", "租让结合"


class OfferingStatus(LabelledEnum):
    draft = "draft", "草稿"
    published = "published", "已发布"
    closed = "closed", "竞价结束"
    awarded = "awarded", "已成交"
    failed = "failed", "流拍"
    cancelled = "cancelled", "已撤销"


LIVE_STATUSES = (OfferingStatus.draft, OfferingStatus.published, OfferingStatus.closed)
"""At most one offering per parcel may be in these states (a partial unique index)."""

PUBLIC_STATUSES = (OfferingStatus.published, OfferingStatus.closed, OfferingStatus.awarded)
"""What anonymous callers see."""


def _in(statuses) -> str:
    return "status IN (" + ", ".join(f"'{s.value}'" for s in statuses) + ")"


class Offering(Base):
    """供地 — a parcel offered in one supply mode, from draft to award.

    ``geom``, ``district`` and ``area_m2`` are copied from the parcel when the offering is
    created (a parcel under a live offering cannot be moved): spatial searches then run on
    the offering's own GiST index, not through a join."""

    __tablename__ = "offering"
    __table_args__ = (
        Index("uq_offering_live_parcel", "parcel_id", unique=True,
              postgresql_where=text(_in(LIVE_STATUSES))),
        # Lists filter by mode and county and page by id: the index answers all three.
        Index("ix_offering_mode_district", "supply_mode", "district", "id",
              postgresql_ops={"district": "varchar_pattern_ops"}),
        Index("ix_offering_district", "district", postgresql_ops={"district": "varchar_pattern_ops"}),
        CheckConstraint("bidding_opens_at < bidding_closes_at", name="bidding_window",
                        info={"field": "bidding_closes_at", "rule": "竞价截止时间须晚于开始时间"}),
        CheckConstraint("status <> 'awarded' OR awardee_uscc IS NOT NULL", name="awardee",
                        info={"field": "awardee_uscc", "rule": "成交须写明受让人"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    parcel_id: Mapped[int] = mapped_column(ForeignKey("parcel.id"), index=True)
    supply_mode: Mapped[SupplyMode] = mapped_column(enum_column(SupplyMode))
    status: Mapped[OfferingStatus] = mapped_column(
        enum_column(OfferingStatus), default=OfferingStatus.draft)
    term_years = mapped_column(SmallInteger)
    lease_years = mapped_column(SmallInteger)
    transfer_years = mapped_column(SmallInteger)
    lease_share_percent = mapped_column(Numeric(5, 2))
    start_price_wan = mapped_column(Numeric(14, 2))
    annual_rent_yuan = mapped_column(Numeric(16, 2))
    appraised_price_wan = mapped_column(Numeric(14, 2))
    rent_review_years = mapped_column(SmallInteger)
    rent_review_cap_percent = mapped_column(Numeric(5, 2))
    rent_credited: Mapped[bool | None] = mapped_column(Boolean)
    conditions = mapped_column(JSONB)
    min_tier: Mapped[Tier] = mapped_column(enum_column(Tier), default=Tier.none)
    srdi_priority: Mapped[bool] = mapped_column(Boolean, default=False)
    joint_bidding_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    bidding_opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    bidding_closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The parcel's status before it was offered, given back on fail or cancel.
    parcel_status_before: Mapped[ParcelStatus] = mapped_column(enum_column(ParcelStatus))
    awardee_uscc: Mapped[str | None] = mapped_column(String(18))
    awardee_name: Mapped[str | None] = mapped_column(String(200))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=True), nullable=False)
    district: Mapped[str] = mapped_column(String(6))
    area_m2 = mapped_column(Numeric(14, 2), nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
