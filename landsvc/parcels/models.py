from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Identity,
    Index,
    Numeric,
    String,
    func,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column

from landsvc.db import Base, LabelledEnum, enum_column
from landsvc.geo import WGS84


class LandSource(LabelledEnum):
    stock = "stock", "存量建设用地"
    new_quota = "new_quota", "新增计划指标"


class ParcelStatus(LabelledEnum):
    available = "available", "可供应"
    reserved = "reserved", "已预留"
    offered = "offered", "供应中"
    leased = "leased", "已出租"
    transferred = "transferred", "已出让"
    withdrawn = "withdrawn", "已撤回"


class Servicing(LabelledEnum):
    """Site servicing before supply (土地开发程度)."""

    raw_land = "raw_land", "生地"
    three_links = "three_links", "三通一平"
    five_links = "five_links", "五通一平"
    seven_links = "seven_links", "七通一平"


# The area is geodesic (on the WGS-84 spheroid) and kept by the database itself, so that no
# write path — API, bulk COPY, or SQL by hand — can leave it out of step with the geometry.
AREA_M2_SQL = "round(st_area(geom::geography)::numeric, 2)"


class Parcel(Base):
    """地块 — a piece of land a bureau can supply."""

    __tablename__ = "parcel"
    __table_args__ = (
        # varchar_pattern_ops: district filters are prefixes (4403%) under any collation.
        Index("ix_parcel_district", "district", postgresql_ops={"district": "varchar_pattern_ops"}),
        CheckConstraint("plot_ratio_min > 0", name="plot_ratio_min_positive",
                        info={"field": "plot_ratio_min", "rule": "容积率下限须大于 0"}),
        CheckConstraint("plot_ratio_max >= plot_ratio_min", name="plot_ratio_order",
                        info={"field": "plot_ratio_max", "rule": "容积率上限不得小于下限"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=True), nullable=False)
    # No foreign key: a per-row referential check would triple the cost of a bulk COPY, and
    # every write path already checks the adcode against the district table.
    district: Mapped[str] = mapped_column(String(6))
    # Read-only: the park holding more than half of the parcel, kept by the database's
    # triggers (migration 0003) whichever way parcels or parks are written.
    park_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    land_use: Mapped[str | None] = mapped_column(String(100))
    land_source: Mapped[LandSource] = mapped_column(enum_column(LandSource), default=LandSource.stock)
    status: Mapped[ParcelStatus] = mapped_column(
        enum_column(ParcelStatus), default=ParcelStatus.available
    )
    area_m2 = mapped_column(Numeric(14, 2), Computed(AREA_M2_SQL, persisted=True))
    plot_ratio_min = mapped_column(Numeric(5, 2))
    plot_ratio_max = mapped_column(Numeric(5, 2))
    servicing: Mapped[Servicing | None] = mapped_column(enum_column(Servicing))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # 亩 derive from the stored ㎡ when read: one geodesic area per row is enough to write.
    area_mu = column_property(func.round(area_m2 * 3 / 2000, 4))
