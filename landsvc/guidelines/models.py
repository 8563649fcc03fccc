"""租金指导价 — guideline zones (片区), computed versions and their items.

A version is computed as a draft and published once; from then on the database refuses any
change to it or to its items (triggers of migration 0012). A correction is a new version.
"""

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
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.buildings.models import BuildingType
from landsvc.db import Base, LabelledEnum, enum_column
from landsvc.geo import WGS84


class GuidelineLevel(LabelledEnum):
    district = "district", "区县"
    zone = "zone", "片区"


class VersionStatus(LabelledEnum):
    draft = "draft", "草稿"
    published = "published", "已发布"


class ItemSource(LabelledEnum):
    zone = "zone", "片区样本"
    district = "district", "区县样本"
    city_fallback = "city_fallback", "样本不足，采用全市数据"


class RentZone(Base):
    """片区 — a bureau's own guideline zone, a polygon inside one district of its jurisdiction."""

    __tablename__ = "rent_zone"
    __table_args__ = (
        UniqueConstraint("district", "name", name="uq_rent_zone_district_name"),
        CheckConstraint("district ~ '^44[0-9]{4}$'", name="district_format",
                        info={"field": "district", "rule": "区县须为广东省 6 位行政区划代码"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    district: Mapped[str] = mapped_column(String(6), index=True)
    """The district holding the zone (the one it overlaps most)."""
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=True),
                         nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GuidelineVersion(Base):
    """One computation of the guideline prices of a period, for a jurisdiction (``scope``)
    at one level; a draft until published, immutable after."""

    __tablename__ = "rent_guideline_version"
    __table_args__ = (
        CheckConstraint("period ~ '^[0-9]{4}([HQ][1-4])?$'", name="period_format",
                        info={"field": "period", "rule": "期间须为 2026、2026H2 或 2026Q3 的形式"}),
        CheckConstraint("period_end >= period_start", name="period_order",
                        info={"field": "period", "rule": "期间结束日不能早于开始日"}),
        CheckConstraint("scope ~ '^44([0-9]{2}){0,2}$'", name="scope_format",
                        info={"field": "scope", "rule": "范围须为广东省内 2、4 或 6 位行政区划代码"}),
        CheckConstraint("(status = 'published') = (effective_date IS NOT NULL "
                        "AND published_at IS NOT NULL)", name="published_when",
                        info={"field": "effective_date", "rule": "已发布的版本须有生效日期"}),
        Index("ix_rent_guideline_version_in_force", "status", "effective_date"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    period: Mapped[str] = mapped_column(String(6))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    level: Mapped[GuidelineLevel] = mapped_column(enum_column(GuidelineLevel))
    scope: Mapped[str] = mapped_column(String(6))
    """The jurisdiction computed (an adcode prefix; ``44`` the whole province)."""
    status: Mapped[VersionStatus] = mapped_column(enum_column(VersionStatus),
                                                  default=VersionStatus.draft)
    min_samples: Mapped[int] = mapped_column(Integer)
    iqr_factor = mapped_column(Numeric(4, 2), nullable=False)
    records_considered: Mapped[int] = mapped_column(Integer, default=0)
    effective_date: Mapped[date | None] = mapped_column(Date)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("rent_guideline_version.id"))
    """The version this one corrects (the latest published before it, same period, level
    and scope), set on publication."""
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_by: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GuidelineItem(Base):
    """The figures of one zone or district and building type in a version (元/㎡·月)."""

    __tablename__ = "rent_guideline_item"
    __table_args__ = (
        Index("ix_rent_guideline_item_lookup", "district", "building_type", "version_id"),
        Index("ix_rent_guideline_item_version_id", "version_id"),
        CheckConstraint("samples > 0", name="samples_positive",
                        info={"field": "samples", "rule": "样本数须大于 0"}),
        CheckConstraint("p25 <= median AND median <= p75", name="quartiles_order",
                        info={"field": "median", "rule": "须满足 P25 ≤ 中位数 ≤ P75"}),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("rent_guideline_version.id"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("rent_zone.id"), index=True)
    district: Mapped[str] = mapped_column(String(6))
    building_type: Mapped[BuildingType] = mapped_column(enum_column(BuildingType))
    median = mapped_column(Numeric(10, 2), nullable=False)
    p25 = mapped_column(Numeric(10, 2), nullable=False)
    p75 = mapped_column(Numeric(10, 2), nullable=False)
    weighted_mean = mapped_column(Numeric(10, 2), nullable=False)
    samples: Mapped[int] = mapped_column(Integer)
    source: Mapped[ItemSource] = mapped_column(enum_column(ItemSource))
    excluded: Mapped[int] = mapped_column(Integer, default=0)
    """Records of the group the figures come from left out as outliers."""
