from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Identity,
    Index,
    Numeric,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, column_property, mapped_column

from landsvc.db import Base
from landsvc.fields import INDUSTRY_CODE_PATTERN
from landsvc.geo import WGS84
from landsvc.parcels.models import AREA_M2_SQL


class Park(Base):
    """特色产业园区 — a specialty industrial park with its boundary and leading industries.

    Parcels and buildings it holds carry its id, kept by the database (see migration 0003:
    a parcel belongs to the park holding more than half of its area, a building point to
    the park containing it)."""

    __tablename__ = "park"
    __table_args__ = (
        Index("ix_park_district", "district", postgresql_ops={"district": "varchar_pattern_ops"}),
        CheckConstraint(
            f"array_to_string(leading_industries, ',') ~ "
            f"'^({INDUSTRY_CODE_PATTERN[1:-1]}(,|$))*$'",
            name="leading_industries_format",
            info={"field": "leading_industries",
                  "rule": "须为 GB/T 4754-2017 行业代码（门类字母 A–T 加 2–4 位数字，如 C39、C3971）"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=True), nullable=False)
    district: Mapped[str] = mapped_column(String(6))
    leading_industries: Mapped[list[str]] = mapped_column(
        ARRAY(String(5)), server_default=text("'{}'"))
    featured_srdi: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    services: Mapped[list[str]] = mapped_column(ARRAY(String(200)), server_default=text("'{}'"))
    area_m2 = mapped_column(Numeric(14, 2), Computed(AREA_M2_SQL, persisted=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    area_mu = column_property(func.round(area_m2 * 3 / 2000, 4))
