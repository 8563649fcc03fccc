from datetime import date, datetime

from geoalchemy2 import Geometry
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
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base, LabelledEnum, enum_column
from landsvc.geo import WGS84


class BuildingType(LabelledEnum):
    single_storey = "single_storey", "单层厂房"
    multi_storey = "multi_storey", "多层厂房"
    high_rise = "high_rise", "高层厂房"


class Building(Base):
    """A factory or dormitory building: a point or its footprint polygon.

    ``park_id`` is kept by the database (migration 0003), ``district`` by the service."""

    __tablename__ = "building"
    __table_args__ = (
        Index("ix_building_district", "district",
              postgresql_ops={"district": "varchar_pattern_ops"}),
        CheckConstraint("GeometryType(geom) IN ('POINT', 'MULTIPOLYGON')", name="geom_kind",
                        info={"field": "geometry", "rule": "须为点或（多）多边形"}),
        CheckConstraint("floors BETWEEN 1 AND 200", name="floors_range",
                        info={"field": "floors", "rule": "层数须在 1–200 之间"}),
        CheckConstraint("total_floor_area_m2 > 0", name="floor_area_positive",
                        info={"field": "total_floor_area_m2", "rule": "总建筑面积须大于 0"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    geom = mapped_column(Geometry("GEOMETRY", srid=WGS84, spatial_index=True), nullable=False)
    district: Mapped[str] = mapped_column(String(6))
    park_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    building_type: Mapped[BuildingType] = mapped_column(enum_column(BuildingType))
    floors: Mapped[int] = mapped_column(SmallInteger)
    total_floor_area_m2 = mapped_column(Numeric(14, 2), nullable=False)
    completed: Mapped[bool] = mapped_column(Boolean, default=False)
    holder_uscc: Mapped[str | None] = mapped_column(String(18))
    holder_name: Mapped[str | None] = mapped_column(String(200))
    holder_industry_code: Mapped[str | None] = mapped_column(String(5))
    freight_lift: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class BuildingUnit(Base):
    """分割转让单元 — a whole building or whole floors of it, transferable on its own."""

    __tablename__ = "building_unit"
    __table_args__ = (
        CheckConstraint("whole_building = (floors IS NULL)", name="whole_or_floors",
                        info={"field": "floors", "rule": "单元为整栋（whole_building）或若干整层（floors），二者取一"}),
        CheckConstraint("area_m2 > 0", name="area_positive",
                        info={"field": "area_m2", "rule": "单元面积须大于 0"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("building.id"), index=True)
    floors: Mapped[list[int] | None] = mapped_column(ARRAY(SmallInteger))
    whole_building: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    area_m2 = mapped_column(Numeric(14, 2), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UnitTransfer(Base):
    """One transfer of a unit to an industry-chain partner; a unit's transfers are its chain
    of title, the last one names its present holder."""

    __tablename__ = "unit_transfer"
    __table_args__ = (
        CheckConstraint("chain_partner", name="chain_partner",
                        info={"field": "chain_partner", "rule": "受让人须为产业链合作企业"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("building_unit.id"), index=True)
    seller_uscc: Mapped[str | None] = mapped_column(String(18))
    buyer_uscc: Mapped[str] = mapped_column(String(18))
    buyer_name: Mapped[str] = mapped_column(String(200))
    chain_partner: Mapped[bool] = mapped_column(Boolean)
    transfer_date: Mapped[date] = mapped_column(Date)
    # The last day the unit may not be transferred again (the lock's anniversary).
    locked_until: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
