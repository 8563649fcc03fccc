from geoalchemy2 import Geometry
from sqlalchemy import ForeignKey, Identity, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from landsvc.db import Base
from landsvc.geo import WGS84


class City(Base):
    """地级市 — one of Guangdong's 21 prefecture-level cities."""

    __tablename__ = "city"

    adcode: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=True), nullable=False)


class DistrictPart(Base):
    """A district cut into pieces of at most 64 vertices (``ST_Subdivide``), rebuilt on load.

    Point-in-district and overlap tests against these small pieces are far cheaper than
    against a whole district of thousands of vertices.
    """

    __tablename__ = "district_part"

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    adcode: Mapped[str] = mapped_column(ForeignKey("district.adcode", ondelete="CASCADE"),
                                        index=True)
    geom = mapped_column(Geometry("POLYGON", srid=WGS84, spatial_index=True), nullable=False)


class District(Base):
    """县级行政区 — 区/县/县级市; 东莞 441900 and 中山 442000 are their own district."""

    __tablename__ = "district"

    adcode: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    city_adcode: Mapped[str] = mapped_column(ForeignKey("city.adcode"), index=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=True), nullable=False)
