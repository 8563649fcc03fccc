from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
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
from landsvc.offerings.models import Offering


class DemandStatus(LabelledEnum):
    open = "open", "待匹配"
    matched = "matched", "已匹配"
    fulfilled = "fulfilled", "已满足"
    withdrawn = "withdrawn", "已撤回"


class DemandKind(LabelledEnum):
    land = "land", "用地（供地）"
    premises = "premises", "厂房（房源）"


class Demand(Base):
    """用地需求 — what an enterprise (or a consortium) needs: land, premises or both.

    The place is kept as SQL can search it: ``districts`` (adcode prefixes), ``parks`` (ids),
    ``near_point`` + ``near_radius_m`` and ``within_geom``, both with GiST indexes. ``scope``
    holds every county-level adcode prefix the demand concerns (the owner's registered
    district, the districts named, the district of its point or polygon): bureaus read the
    demands whose scope meets their jurisdiction."""

    __tablename__ = "demand"
    __table_args__ = (
        CheckConstraint("(enterprise_uscc IS NULL) <> (consortium_id IS NULL)", name="one_owner",
                        info={"field": "enterprise_uscc",
                              "rule": "需求须由一家企业（enterprise_uscc）或一个联合竞买体"
                                      "（consortium_id）提出，二者取一"}),
        CheckConstraint("area_min_m2 <= area_max_m2", name="area_range",
                        info={"field": "area_min_m2", "rule": "最小面积不得大于最大面积"}),
        CheckConstraint("(near_point IS NULL) = (near_radius_m IS NULL)", name="near_pair",
                        info={"field": "near", "rule": "半径须与中心点同时给出"}),
        CheckConstraint("cardinality(kinds) > 0", name="kinds_given",
                        info={"field": "kinds", "rule": "须说明需要用地（land）或厂房（premises）"}),
        Index("ix_demand_status", "status"),
        Index("ix_demand_scope", "scope", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    enterprise_uscc: Mapped[str | None] = mapped_column(ForeignKey("enterprise.uscc"),
                                                        index=True)
    consortium_id: Mapped[int | None] = mapped_column(ForeignKey("consortium.id"), index=True)
    status: Mapped[DemandStatus] = mapped_column(enum_column(DemandStatus),
                                                 default=DemandStatus.open)
    kinds: Mapped[list[str]] = mapped_column(ARRAY(String(10)))
    area_min_m2 = mapped_column(Numeric(14, 2))
    area_max_m2 = mapped_column(Numeric(14, 2))
    districts: Mapped[list[str]] = mapped_column(ARRAY(String(6)), server_default=text("'{}'"))
    parks: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default=text("'{}'"))
    near_point = mapped_column(Geometry("POINT", srid=WGS84, spatial_index=True))
    near_radius_m = mapped_column(Numeric(9, 1))
    # The circle's bounding box, widened a little (1° ≥ 100 km everywhere in Guangdong), with
    # its own GiST index: "which demands can reach this offering" is then one index probe
    # before the exact geodesic ST_DWithin, not a distance computed for every demand.
    near_box = mapped_column(
        Geometry("GEOMETRY", srid=WGS84, spatial_index=True),
        Computed("ST_Expand(near_point, (near_radius_m / 100000.0)::float8)", persisted=True))
    within_geom = mapped_column(Geometry("POLYGON", srid=WGS84, spatial_index=True))
    supply_modes: Mapped[list[str]] = mapped_column(ARRAY(String(30)),
                                                    server_default=text("'{}'"))
    max_price_wan = mapped_column(Numeric(14, 2))
    max_annual_rent_yuan = mapped_column(Numeric(16, 2))
    max_rent_yuan_per_m2_month = mapped_column(Numeric(10, 2))
    term_years: Mapped[int | None] = mapped_column(SmallInteger)
    industry_code: Mapped[str | None] = mapped_column(String(5))
    power_kva = mapped_column(Numeric(10, 1))
    floor_load_kn_m2 = mapped_column(Numeric(6, 2))
    clear_height_m = mapped_column(Numeric(5, 2))
    needed_by_date: Mapped[date | None] = mapped_column(Date)
    offering_id: Mapped[int | None] = mapped_column(ForeignKey("offering.id"), index=True)
    scope: Mapped[list[str]] = mapped_column(ARRAY(String(6)), server_default=text("'{}'"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


# Matching searches published offerings only: a partial GiST index keeps the nearest-first
# scan off drafts and history (declared here, next to what needs it; migration 0005).
Index("ix_offering_published_geom", Offering.geom, postgresql_using="gist",
      postgresql_where=text("status = 'published'"))
