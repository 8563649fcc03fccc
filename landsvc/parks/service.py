"""Parks (特色产业园区): search, read, create, update and delete (file imports: :mod:`.importing`).

Parks are public. Which parcels and buildings a park holds is kept by the database's
triggers (migration 0003) on every write here: nothing in this module links them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import OPERATOR, Principal
from landsvc.districts.models import District
from landsvc.districts.service import district_index
from landsvc.errors import Conflict, InvalidInput, NotFound
from landsvc.etags import check_if_match, etag
from landsvc.geo import WGS84, bbox_clause, feature, shape_from_geojson
from landsvc.parcels import service as parcels
from landsvc.parcels.models import Parcel
from landsvc.parks.checks import FIELDS, ParkChecker
from landsvc.parks.models import Park

# -- search -------------------------------------------------------------------------------
_INDUSTRY_FILTER = re.compile(r"[A-T](?:[0-9]{2,4})?")


def industry_clause(column, code: str | None) -> ColumnElement:
    """Parks with a leading industry inside ``code`` or containing it.

    GB/T 4754 codes nest by prefix (C ⊃ C39 ⊃ C397 ⊃ C3971): ``C39`` finds a park led by
    ``C3971`` (more specific) and ``C3971`` finds one led by ``C39`` (its division); a
    section letter alone (``C``) finds every park with a code in that section.

    Raises
    ------
    InvalidInput
        Naming ``industry`` when the value is not such a code.
    """
    if code is None:
        return true()
    wanted = code.strip().upper()
    if not _INDUSTRY_FILTER.fullmatch(wanted):
        raise InvalidInput(f"industry: 应为 GB/T 4754-2017 行业门类字母或代码（如 C、C39、C3971），"
                           f"收到 {code[:20]!r}", code="invalid_industry_code")
    led = func.unnest(column).table_valued("code").render_derived(name="led")
    return exists(select(literal(1)).select_from(led).where(
        or_(func.starts_with(led.c.code, wanted), func.starts_with(literal(wanted), led.c.code))))


@dataclass(frozen=True)
class ParkFilter:
    bbox: tuple[float, float, float, float] | None = None
    district: str | None = None
    featured_srdi: bool | None = None
    industry: str | None = None

    def clauses(self) -> list[ColumnElement]:
        return [
            bbox_clause(Park.geom, self.bbox),
            lists.adcode_prefix_clause(Park.district, self.district),
            lists.equals_clause(Park.featured_srdi, self.featured_srdi),
            industry_clause(Park.leading_industries, self.industry),
        ]


def _parcel_count(principal: Principal | None):
    """The parcels the caller can see whose ``park_id`` is the park."""
    return (select(func.count()).select_from(Parcel)
            .where(Parcel.park_id == Park.id, parcels.visible(principal))
            .correlate(Park).scalar_subquery())


def _read_query(principal: Principal | None):
    return (select(
        Park.id, Park.name, Park.district, District.name.label("district_name"),
        Park.leading_industries, Park.featured_srdi, Park.services, Park.area_m2, Park.area_mu,
        _parcel_count(principal).label("parcel_count"), Park.created_at, Park.updated_at,
        func.ST_AsGeoJSON(Park.geom, 7).label("geometry"),
        literal_column("park.xmin::text").label("version"),
    ).select_from(Park).join(District, District.adcode == Park.district))


def _as_feature(row) -> dict[str, Any]:
    return feature(row.id, row.geometry, {
        "name": row.name,
        "district": row.district,
        "district_name": row.district_name,
        "leading_industries": list(row.leading_industries),
        "featured_srdi": row.featured_srdi,
        "services": list(row.services),
        "area_m2": float(row.area_m2),
        "area_mu": float(row.area_mu),
        "parcel_count": row.parcel_count,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    })


def search_parks(*, session: Session, flt: ParkFilter, page: lists.Page,
                 principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """One page of parks as Features (by id), and how many match in all."""
    rows, matched = lists.fetch_page(session, _read_query(principal).order_by(Park.id),
                                     where=and_(*flt.clauses()), page=page, count_from=Park)
    return [_as_feature(row) for row in rows], matched


def get_park(*, session: Session, park_id: int,
             principal: Principal | None) -> tuple[dict, str]:
    """One park as a Feature, and its ETag; 404 when missing."""
    row = session.execute(_read_query(principal).where(Park.id == park_id)).one_or_none()
    if row is None:
        raise NotFound(f"园区 {park_id} 不存在")
    return _as_feature(row), etag(row.id, row.version)


# -- writes -------------------------------------------------------------------------------
def stored_names(session: Session, pairs: list[tuple[str, str]], *,
                 except_id: int | None = None) -> set[tuple[str, str]]:
    """Which ``(district, name)`` pairs are already stored (but on park ``except_id``)."""
    if not pairs:
        return set()
    query = select(Park.district, Park.name).where(tuple_(Park.district, Park.name).in_(pairs))
    if except_id is not None:
        query = query.where(Park.id != except_id)
    return {tuple(row) for row in session.execute(query)}


def geometry_value(hex_ewkb) -> ColumnElement:
    """A checked row's geometry (hex EWKB, as :class:`ParkChecker` leaves it) in SQL."""
    return func.ST_GeomFromEWKB(func.decode(hex_ewkb, "hex"))


def record(row: pd.Series) -> dict[str, Any]:
    """A checked row's column values as the driver takes them (plain Python values)."""
    return {"name": str(row["name"]), "district": str(row["district"]),
            "leading_industries": list(row["leading_industries"]),
            "featured_srdi": bool(row["featured_srdi"]), "services": list(row["services"])}


def _check_one(session: Session, geometry: dict, props: dict, *,
               repair: bool) -> dict[str, Any]:
    """Run one park through the same checks as an import row; its column values, or raise."""
    geom = shape_from_geojson(geometry)
    attrs = pd.DataFrame({f: pd.Series([props.get(f)], dtype=object) for f in FIELDS})
    checker = ParkChecker(district_index(session=session), CRS.from_epsg(WGS84), repair=repair)
    batch = checker.check(0, np.array([geom], dtype=object), attrs)
    if batch.rejected:
        raise InvalidInput("；".join(batch.rejected[0]), code="invalid_park")
    row = batch.rows.iloc[0]
    return record(row) | {"geom": geometry_value(row["geom"])}


def _refuse_same_name(session: Session, values: dict, except_id: int | None = None) -> None:
    if stored_names(session, [(values["district"], values["name"])], except_id=except_id):
        raise Conflict(f"name: 区县 {values['district']} 已有名为 {values['name']!r} 的园区",
                       code="duplicate_park_name")


def create_park(*, session: Session, geometry: dict, properties: dict,
                principal: Principal = OPERATOR, repair: bool = False) -> tuple[dict, str]:
    """Create one park from a GeoJSON geometry and its properties."""
    values = _check_one(session, geometry, properties, repair=repair)
    access.require_manage(principal, [values["district"]])
    _refuse_same_name(session, values)
    park_id = session.scalar(insert(Park).values(**values).returning(Park.id))
    return get_park(session=session, park_id=park_id, principal=principal)


def _lock(session: Session, park_id: int, principal: Principal | None,
          if_match: list[str] | None):
    """The park and its geometry (WKB), locked for a write the caller may do; else raise."""
    current = session.execute(
        select(Park, literal_column("park.xmin::text"), func.ST_AsBinary(Park.geom))
        .where(Park.id == park_id).with_for_update(of=Park)
    ).one_or_none()
    if current is None:
        raise NotFound(f"园区 {park_id} 不存在")
    park, version, wkb = current
    access.require_manage(principal, [park.district])
    check_if_match(if_match, etag(park_id, version), f"园区 {park_id} ")
    return park, wkb


def update_park(*, session: Session, park_id: int, geometry: dict | None, properties: dict,
                principal: Principal = OPERATOR, repair: bool = False,
                if_match: list[str] | None = None) -> tuple[dict, str]:
    """Change only what ``geometry``/``properties`` name; the result is checked whole.

    The row is locked for the read-modify-write; with ``if_match`` a stale version is refused
    (412) and nothing changes. A bureau must govern the park's district before and after.
    """
    park, wkb = _lock(session, park_id, principal, if_match)
    merged = {f: getattr(park, f) for f in FIELDS}
    if geometry is not None and "district" not in properties:
        merged["district"] = None  # moved: let the new location decide
    merged |= properties
    moved = geometry is not None
    if not moved:
        geometry = shapely.geometry.mapping(shapely.from_wkb(bytes(wkb)))
    values = _check_one(session, geometry, merged, repair=repair)
    access.require_manage(principal, [values["district"]])
    _refuse_same_name(session, values, except_id=park_id)
    if not moved:
        del values["geom"]  # an unchanged boundary need not relink the park's parcels
    session.execute(update(Park).where(Park.id == park_id)
                    .values(**values, updated_at=func.now()))
    session.expire(park)
    return get_park(session=session, park_id=park_id, principal=principal)


def delete_park(*, session: Session, park_id: int, principal: Principal = OPERATOR,
                if_match: list[str] | None = None) -> None:
    """Delete a park; the parcels and buildings it held lose their ``park_id``."""
    _lock(session, park_id, principal, if_match)
    session.execute(delete(Park).where(Park.id == park_id))


def count_parks(*, session: Session) -> int:
    """How many parks are stored."""
    return session.scalar(select(func.count()).select_from(Park))
