"""Vector tiles (MVT) cut by PostGIS, one layer per tile, and the layers' last update.

Every layer selects its rows with the indexed ``geom && envelope`` test in EPSG:4326 (the
tables' SRID, so their GiST indexes serve it), transforms only those rows to EPSG:3857 and
clips them to the tile with ``ST_AsMVTGeom``; ``ST_AsMVT`` encodes the rows. Who sees what
is the domains' own access rule (``visible``), the same as their APIs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, String, case, cast, func, select, true
from sqlalchemy.orm import Session

from landsvc import lists
from landsvc.access import Principal
from landsvc.buildings.models import Building
from landsvc.db import LabelledEnum
from landsvc.districts.models import City, District
from landsvc.errors import InvalidInput, NotFound
from landsvc.listings import service as listings
from landsvc.listings.models import Listing, ListingKind, ListingStatus
from landsvc.offerings import service as offerings
from landsvc.offerings.models import Offering, OfferingStatus, SupplyMode
from landsvc.parcels import service as parcels
from landsvc.parcels.models import LandSource, Parcel, ParcelStatus
from landsvc.parks.models import Park

EXTENT = 4096
"""Tile coordinate space (the MVT default)."""
BUFFER = 64
"""Pixels (of :data:`EXTENT`) drawn beyond the tile edge, so outlines do not break at it."""
MAX_ZOOM = 18
"""Deepest zoom served; deeper tiles are 404 (the page over-zooms level 18)."""
WEB_MERCATOR_HALF = 20037508.342789244
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"


def _label(column, enum: type[LabelledEnum]):
    """The Chinese label of an enum column, in SQL."""
    return case({member: member.label for member in enum}, value=column)


def _text(column):
    return cast(column, String)


def _float(column):
    return cast(column, Float)


@dataclass(frozen=True)
class TileFilter:
    """Optional narrowing, from the tile URL's query: the same meaning as in the APIs."""

    district: str | None = None
    status: str | None = None
    land_source: str | None = None
    supply_mode: str | None = None
    min_area_m2: float | None = None
    max_area_m2: float | None = None


@dataclass(frozen=True)
class TileLayer:
    """One layer: its table(s), the properties each feature carries, who sees which rows."""

    name: str
    min_zoom: int
    geom: Any
    columns: Callable[[], list]
    source: Callable[[], Any]
    visible: Callable[[Principal | None], Any]
    updated_at: Any = None
    district: Any = None
    status: tuple[Any, type[LabelledEnum]] | None = None
    extra: dict[str, tuple[Any, type[LabelledEnum]]] | None = None
    area: Any = None

    def clauses(self, flt: TileFilter) -> list:
        found = [] if flt.district is None else [
            lists.adcode_prefix_clause(self._need("district", self.district), flt.district)]
        for name in ("min_area_m2", "max_area_m2"):
            if getattr(flt, name) is not None:
                self._need(name, self.area)
        if flt.min_area_m2 is not None or flt.max_area_m2 is not None:
            found.append(lists.range_clause(self.area, flt.min_area_m2, flt.max_area_m2))
        wanted = {"status": (flt.status, self.status)} | {
            name: (getattr(flt, name), (self.extra or {}).get(name))
            for name in ("land_source", "supply_mode")}
        for name, (value, spec) in wanted.items():
            if value is None:
                continue
            column, enum = self._need(name, spec)
            if value not in enum._value2member_map_:
                allowed = "、".join(m.value for m in enum)
                raise InvalidInput(f"{name}: 图层 {self.name} 的取值应为 {allowed}，"
                                   f"收到 {value[:30]!r}", code="invalid_filter")
            found.append(column == enum(value))
        return found

    def _need(self, name: str, spec):
        if spec is None:
            raise InvalidInput(f"{name}: 图层 {self.name} 不支持按此筛选", code="invalid_filter")
        return spec


def _parcel_columns() -> list:
    return [Parcel.id, Parcel.code, Parcel.name, _text(Parcel.status).label("status"),
            _label(Parcel.status, ParcelStatus).label("status_label"), Parcel.land_use,
            _text(Parcel.land_source).label("land_source"),
            _label(Parcel.land_source, LandSource).label("land_source_label"),
            _float(Parcel.area_m2).label("area_m2"), Parcel.district,
            District.name.label("district_name"), Parcel.park_id]


def _offering_columns() -> list:
    return [Offering.id, Offering.parcel_id, Parcel.code.label("parcel_code"),
            _text(Offering.supply_mode).label("supply_mode"),
            _label(Offering.supply_mode, SupplyMode).label("supply_mode_label"),
            _text(Offering.status).label("status"),
            _label(Offering.status, OfferingStatus).label("status_label"),
            _float(Offering.area_m2).label("area_m2"),
            _float(Offering.start_price_wan).label("start_price_wan"),
            _float(Offering.annual_rent_yuan).label("annual_rent_yuan"),
            Offering.district, District.name.label("district_name")]


def _listing_columns() -> list:
    return [Listing.id, Listing.building_id, Building.name.label("building_name"),
            _text(Listing.kind).label("kind"), _label(Listing.kind, ListingKind).label("kind_label"),
            _text(Listing.status).label("status"),
            _label(Listing.status, ListingStatus).label("status_label"),
            _float(Listing.area_m2).label("area_m2"),
            _float(Listing.rent_yuan_per_m2_month).label("rent_yuan_per_m2_month"),
            Building.district, District.name.label("district_name")]


def _district_columns() -> list:
    return [District.adcode, District.name, District.city_adcode, City.name.label("city_name")]


def _park_columns() -> list:
    return [Park.id, Park.name, Park.district, _float(Park.area_m2).label("area_m2")]


LAYERS: dict[str, TileLayer] = {
    layer.name: layer for layer in (
        TileLayer("parcels", 12, Parcel.geom, _parcel_columns,
                  lambda: Parcel.__table__.join(District.__table__,
                                                District.adcode == Parcel.district),
                  parcels.visible, Parcel.updated_at, Parcel.district,
                  (Parcel.status, ParcelStatus), {"land_source": (Parcel.land_source, LandSource)}, Parcel.area_m2),
        TileLayer("offerings", 10, Offering.geom, _offering_columns,
                  lambda: Offering.__table__.join(Parcel.__table__,
                                                  Parcel.id == Offering.parcel_id)
                  .join(District.__table__, District.adcode == Offering.district),
                  offerings.visible, Offering.updated_at, Offering.district,
                  (Offering.status, OfferingStatus),
                  {"supply_mode": (Offering.supply_mode, SupplyMode)}, Offering.area_m2),
        TileLayer("listings", 12, Building.geom, _listing_columns,
                  lambda: Listing.__table__.join(Building.__table__,
                                                 Building.id == Listing.building_id)
                  .join(District.__table__, District.adcode == Building.district),
                  listings.visible, Listing.updated_at, Building.district,
                  (Listing.status, ListingStatus), None, Listing.area_m2),
        TileLayer("districts", 0, District.geom, _district_columns,
                  lambda: District.__table__.join(City.__table__,
                                                  City.adcode == District.city_adcode),
                  lambda principal: true(), None, District.adcode),
        TileLayer("parks", 6, Park.geom, _park_columns, lambda: Park.__table__,
                  lambda principal: true(), Park.updated_at, Park.district, None, None,
                  Park.area_m2),
    )
}
"""The tile layers by URL name. ``min_zoom``: shallower tiles of the layer are empty. With 1M
parcels (the scale benchmark's data) a parcels tile at z12 is ~110 KiB in ~16 ms (p95 44 ms),
at z10 ~1.2 MiB (up to 1.9 MiB) in ~230 ms (p95 0.8 s): too much to draw as SVG."""


def layer_of(name: str) -> TileLayer:
    """The layer called ``name``; 404 otherwise."""
    layer = LAYERS.get(name)
    if layer is None:
        raise NotFound(f"没有图层 {name[:40]!r}（可用：{'、'.join(LAYERS)}）",
                       code="unknown_layer")
    return layer


def check_tile(z: int, x: int, y: int) -> None:
    """404 for a tile that does not exist: zoom outside 0–:data:`MAX_ZOOM`, x or y outside
    0–2^z−1."""
    if not 0 <= z <= MAX_ZOOM:
        raise NotFound(f"z: 缩放级别应在 0–{MAX_ZOOM} 之间，收到 {z}", code="no_such_tile")
    side = 1 << z
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < side:
            raise NotFound(f"{name}: 第 {z} 级的瓦片编号应在 0–{side - 1} 之间，收到 {value}",
                           code="no_such_tile")


def tile(*, session: Session, layer: str, z: int, x: int, y: int,
         flt: TileFilter = TileFilter(), principal: Principal | None) -> bytes:
    """One MVT tile of ``layer`` (an empty ``bytes`` when nothing lies in it)."""
    spec = layer_of(layer)
    check_tile(z, x, y)
    clauses = spec.clauses(flt)
    if z < spec.min_zoom:
        return b""
    world = func.ST_MakeEnvelope(-WEB_MERCATOR_HALF, -WEB_MERCATOR_HALF,
                                 WEB_MERCATOR_HALF, WEB_MERCATOR_HALF, 3857)
    # The search box carries the buffer too, so shapes just outside still draw their edge.
    margin = BUFFER / EXTENT
    envelope = func.ST_TileEnvelope(z, x, y, world)
    search = func.ST_Transform(func.ST_TileEnvelope(z, x, y, world, margin), 4326)
    rows = (
        select(func.ST_AsMVTGeom(func.ST_Transform(spec.geom, 3857), envelope, EXTENT, BUFFER,
                                 True).label("geom"), *spec.columns())
        .select_from(spec.source())
        .where(spec.geom.op("&&")(search), spec.visible(principal), *clauses)
        .subquery("t")
    )
    data = session.scalar(select(func.ST_AsMVT(rows.table_valued(), layer, EXTENT, "geom"))
                          .where(rows.c.geom.is_not(None)))
    return bytes(data or b"")


def last_updated(*, session: Session, layers: list[str], district: str | None = None,
                 principal: Principal | None = None) -> datetime | None:
    """The latest ``updated_at`` among the rows of ``layers`` the caller sees (in
    ``district``), or None when they have none; layers without the column are skipped."""
    latest = []
    for name in layers:
        spec = layer_of(name)
        if spec.updated_at is None:
            continue
        where = [spec.visible(principal), *spec.clauses(TileFilter(district=district))]
        latest.append(session.scalar(select(func.max(spec.updated_at))
                                     .select_from(spec.source()).where(*where)))
    found = [t for t in latest if t is not None]
    return max(found) if found else None
