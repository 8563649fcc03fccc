from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base, LabelledEnum, enum_column


class ListingKind(LabelledEnum):
    factory = "factory", "厂房"
    standard_factory = "standard_factory", "标准厂房"
    affordable_housing = "affordable_housing", "保障性租赁住房"


class ListingStatus(LabelledEnum):
    draft = "draft", "草稿"
    published = "published", "招租中"
    let = "let", "已出租"
    withdrawn = "withdrawn", "已撤回"


class LandlordKind(LabelledEnum):
    owner = "owner", "业主"
    sublessor = "sublessor", "二房东（转租）"


class Listing(Base):
    """房源 — space to let in a building: factory floors or affordable rental housing.

    Its place (geometry, district, park) is its building's."""

    __tablename__ = "listing"
    __table_args__ = (
        # Every list filters on status (anonymous callers: published only), often on kind.
        Index("ix_listing_status_kind", "status", "kind"),
        # A demand's area range: when no listing in reach fits it, this answers at once
        # instead of the spatial index visiting every listing in the radius.
        Index("ix_listing_published_area", "area_m2",
              postgresql_where=text("status = 'published'")),
        CheckConstraint("landlord_kind <> 'sublessor' OR owner_authorisation_ref IS NOT NULL",
                        name="sublessor_authorised",
                        info={"field": "owner_authorisation_ref",
                              "rule": "二房东（转租）须提供业主授权文件编号"}),
        CheckConstraint("area_m2 > 0", name="area_positive",
                        info={"field": "area_m2", "rule": "面积须大于 0"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    kind: Mapped[ListingKind] = mapped_column(enum_column(ListingKind))
    status: Mapped[ListingStatus] = mapped_column(
        enum_column(ListingStatus), default=ListingStatus.draft)
    floor: Mapped[int | None] = mapped_column(SmallInteger)
    area_m2 = mapped_column(Numeric(12, 2), nullable=False)
    rent_yuan_per_m2_month = mapped_column(Numeric(10, 2))
    units: Mapped[int | None] = mapped_column(Integer)
    rent_yuan_per_unit_month = mapped_column(Numeric(10, 2))
    floor_load_kn_m2 = mapped_column(Numeric(6, 2))
    clear_height_m = mapped_column(Numeric(5, 2))
    freight_lift: Mapped[bool | None] = mapped_column(Boolean)
    power_kva = mapped_column(Numeric(10, 1))
    landlord: Mapped[str | None] = mapped_column(String(200))
    landlord_kind: Mapped[LandlordKind] = mapped_column(
        enum_column(LandlordKind), default=LandlordKind.owner)
    owner_authorisation_ref: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
