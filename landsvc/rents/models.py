from datetime import date, datetime

from geoalchemy2 import Geometry
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
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.buildings.models import BuildingType
from landsvc.db import Base, enum_column
from landsvc.geo import WGS84


class RentRecord(Base):
    """租赁备案 — one registered lease: where, what kind of building, how much space, the rent
    normalised to 元/㎡·月 (and the monthly total kept beside it), and its term."""

    __tablename__ = "rent_record"
    __table_args__ = (
        Index("ix_rent_record_district", "district",
              postgresql_ops={"district": "varchar_pattern_ops"}),
        Index("ix_rent_record_term", "start_date", "end_date"),
        Index("ix_rent_record_building_type", "building_type"),
        CheckConstraint("area_m2 > 0", name="area_positive",
                        info={"field": "area_m2", "rule": "租赁面积须大于 0"}),
        CheckConstraint("end_date > start_date", name="end_after_start",
                        info={"field": "end_date", "rule": "租期结束日须晚于开始日"}),
        CheckConstraint("rent_yuan_per_m2_month > 0", name="unit_rent_positive",
                        info={"field": "rent_yuan_per_m2_month", "rule": "单位租金须大于 0"}),
        CheckConstraint("rent_yuan_month_total > 0", name="total_rent_positive",
                        info={"field": "rent_yuan_month_total", "rule": "月租金须大于 0"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    contract_no: Mapped[str] = mapped_column(String(60), unique=True)
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listing.id"))
    geom = mapped_column(Geometry("POINT", srid=WGS84, spatial_index=True), nullable=False)
    district: Mapped[str] = mapped_column(String(6))
    building_type: Mapped[BuildingType] = mapped_column(enum_column(BuildingType))
    floor: Mapped[int | None] = mapped_column(SmallInteger)
    area_m2 = mapped_column(Numeric(12, 2), nullable=False)
    rent_yuan_per_m2_month = mapped_column(Numeric(10, 2), nullable=False)
    rent_yuan_month_total = mapped_column(Numeric(14, 2), nullable=False)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    registered_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(100))
