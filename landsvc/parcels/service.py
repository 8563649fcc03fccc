"""Parcels: search, read, create and update (file imports are in :mod:`.importing`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from sqlalchemy import ColumnElement, and_, func, insert, literal_column, select, update
from sqlalchemy.orm import Session

from landsvc import access, lists
from landsvc.access import OPERATOR, Principal
from landsvc.districts.models import District
from landsvc.districts.service import district_index
from landsvc.errors import Conflict, InvalidInput, NotFound
from landsvc.etags import check_if_match, etag
from landsvc.fields import number
from landsvc.geo import WGS84, bbox_clause, feature, shape_from_geojson
from landsvc.ingest.reader import text_frame
from landsvc.offerings.models import LIVE_STATUSES, Offering
from landsvc.parcels.checks import FIELDS, RowChecker
from landsvc.parcels.models import LandSource, Parcel, ParcelStatus

COPY_COLUMNS = ("code", "name", "geom", "district", "land_use", "land_source", "status",
                "plot_ratio_min", "plot_ratio_max", "servicing")
"""The columns a checked parcel row fills, in :class:`RowChecker` output order."""


# -- access -------------------------------------------------------------------------------
def visible(principal: Principal | None) -> ColumnElement:
    """Parcels are public inventory but for withdrawn ones, seen by those who manage them."""
    return access.read_filter(principal, public=Parcel.status != ParcelStatus.withdrawn,
                              district=Parcel.district)


# -- search -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParcelFilter:
    bbox: tuple[float, float, float, float] | None = None
    district: str | None = None
    status: ParcelStatus | None = None
    land_source: LandSource | None = None
    min_area_m2: float | None = None
    max_area_m2: float | None = None

    def clauses(self) -> list[ColumnElement]:
        return [
            bbox_clause(Parcel.geom, self.bbox),
            lists.adcode_prefix_clause(Parcel.district, self.district),
            lists.equals_clause(Parcel.status, self.status),
            lists.equals_clause(Parcel.land_source, self.land_source),
            lists.range_clause(Parcel.area_m2, self.min_area_m2, self.max_area_m2),
        ]


_READ_COLUMNS = (
    Parcel.id, Parcel.code, Parcel.name, Parcel.district, District.name.label("district_name"),
    Parcel.park_id, Parcel.land_use, Parcel.land_source, Parcel.status, Parcel.area_m2,
    Parcel.area_mu, Parcel.plot_ratio_min, Parcel.plot_ratio_max, Parcel.servicing,
    Parcel.created_at, Parcel.updated_at, func.ST_AsGeoJSON(Parcel.geom, 7).label("geometry"),
    literal_column("parcel.xmin::text").label("version"),
)


def _read_query():
    return (select(*_READ_COLUMNS).select_from(Parcel)
            .join(District, District.adcode == Parcel.district))



def _as_feature(row) -> dict[str, Any]:
    return feature(row.id, row.geometry, {
        "code": row.code,
        "name": row.name,
        "district": row.district,
        "district_name": row.district_name,
        "park_id": row.park_id,
        "land_use": row.land_use,
        "land_source": row.land_source.value,
        "land_source_label": row.land_source.label,
        "status": row.status.value,
        "status_label": row.status.label,
        "area_m2": number(row.area_m2),
        "area_mu": number(row.area_mu),
        "plot_ratio_min": number(row.plot_ratio_min),
        "plot_ratio_max": number(row.plot_ratio_max),
        "servicing": row.servicing.value if row.servicing else None,
        "servicing_label": row.servicing.label if row.servicing else None,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    })


def search_parcels(*, session: Session, flt: ParcelFilter, page: lists.Page,
                   principal: Principal | None) -> tuple[list[dict], lists.Matched]:
    """One page of parcels as Features (by id), and how many match in all."""
    where = and_(*flt.clauses(), visible(principal))
    rows, matched = lists.fetch_page(session, _read_query().order_by(Parcel.id), where=where,
                                     page=page, count_from=Parcel)
    return [_as_feature(row) for row in rows], matched


def get_parcel(*, session: Session, parcel_id: int,
               principal: Principal | None) -> tuple[dict, str]:
    """One parcel as a Feature, and its ETag; 404 when missing or not visible to the caller."""
    row = session.execute(
        _read_query().where(Parcel.id == parcel_id, visible(principal))
    ).one_or_none()
    if row is None:
        raise NotFound(f"地块 {parcel_id} 不存在")
    return _as_feature(row), etag(row.id, row.version)


def count_parcels(*, session: Session) -> int:
    """How many parcels are stored, withdrawn ones included."""
    return session.scalar(select(func.count()).select_from(Parcel))


# -- writes -------------------------------------------------------------------------------
def stored_codes(session: Session, codes: list[str], *, except_id: int | None = None
                 ) -> set[str]:
    """Which of ``codes`` are already stored (but on parcel ``except_id``)."""
    if not codes:
        return set()
    query = select(Parcel.code).where(Parcel.code == func.any(codes))
    if except_id is not None:
        query = query.where(Parcel.id != except_id)
    return set(session.scalars(query))


def _check_one(session: Session, geometry: dict | None, props: dict, *, repair: bool,
               except_id: int | None = None) -> dict[str, Any]:
    """Run one parcel through the same checks as an import row; its column values, or raise."""
    geom = shape_from_geojson(geometry) if geometry is not None else None
    attrs = text_frame([props], FIELDS)
    code = attrs.code.iat[0]
    stored = stored_codes(session, [code] if code else [], except_id=except_id)
    checker = RowChecker(district_index(session=session), CRS.from_epsg(WGS84), repair=repair,
                         bad_codes={c: f"code: 宗地代码 {c} 已存在" for c in stored})
    batch = checker.check(0, np.array([geom], dtype=object), attrs)
    if batch.rejected:
        reasons = "；".join(batch.rejected[0])
        raise (Conflict if stored else InvalidInput)(reasons, code="invalid_parcel")
    row = batch.rows.iloc[0]
    values = {f: (None if pd.isna(row[f]) else row[f]) for f in FIELDS}
    return values | {"geom": func.ST_GeomFromEWKB(func.decode(row["geom"], "hex"))}


def create_parcel(*, session: Session, geometry: dict, properties: dict,
                  principal: Principal = OPERATOR, repair: bool = False) -> tuple[dict, str]:
    """Create one parcel from a GeoJSON geometry and its properties."""
    values = _check_one(session, geometry, properties, repair=repair)
    access.require_manage(principal, [values["district"]])
    parcel_id = session.scalar(insert(Parcel).values(**values).returning(Parcel.id))
    return get_parcel(session=session, parcel_id=parcel_id, principal=principal)


def update_parcel(*, session: Session, parcel_id: int, geometry: dict | None,
                  properties: dict, principal: Principal = OPERATOR, repair: bool = False,
                  if_match: list[str] | None = None) -> tuple[dict, str]:
    """Change only what ``geometry``/``properties`` name; the result is checked whole.

    The row is locked for the read-modify-write, so concurrent updates apply one after the
    other; with ``if_match`` a stale version is refused (412) and nothing changes.
    """
    current = session.execute(
        select(Parcel, literal_column("parcel.xmin::text"), func.ST_AsBinary(Parcel.geom))
        .where(Parcel.id == parcel_id, visible(principal)).with_for_update(of=Parcel)
    ).one_or_none()
    if current is None:
        raise NotFound(f"地块 {parcel_id} 不存在")
    parcel, version, wkb = current
    access.require_manage(principal, [parcel.district])
    check_if_match(if_match, etag(parcel_id, version), f"地块 {parcel_id} ")
    merged = {f: getattr(parcel, f) for f in FIELDS}
    if geometry is not None and "district" not in properties:
        merged["district"] = None  # moved: let the new location decide
    merged |= properties
    moved = geometry is not None
    if geometry is None:
        geometry = shapely.geometry.mapping(shapely.from_wkb(bytes(wkb)))
    values = _check_one(session, geometry, merged, repair=repair, except_id=parcel_id)
    access.require_manage(principal, [values["district"]])
    _refuse_change_under_offering(session, parcel, values, moved=moved)
    session.execute(update(Parcel).where(Parcel.id == parcel_id)
                    .values(**values, updated_at=func.now()))
    session.expire(parcel)
    return get_parcel(session=session, parcel_id=parcel_id, principal=principal)


def _refuse_change_under_offering(session: Session, parcel: Parcel, values: dict[str, Any],
                                  *, moved: bool) -> None:
    """A parcel under a live offering keeps its place and status: the offering copied its
    geometry and district, and its lifecycle drives the status (409 otherwise)."""
    changed = [f for f in ("status", "district") if values[f] != getattr(parcel, f)]
    if moved:  # the boundary sent back as GET answers it (to 1e-7°) is no move
        shift = session.scalar(select(func.ST_HausdorffDistance(Parcel.geom, values["geom"]))
                               .where(Parcel.id == parcel.id))
        changed += [] if shift <= 2e-7 else ["geometry"]
    if not changed:
        return
    live = session.execute(select(Offering.id, Offering.status).where(
        Offering.parcel_id == parcel.id, Offering.status.in_(LIVE_STATUSES))).first()
    if live is not None:
        raise Conflict(f"{'、'.join(changed)}: 地块 {parcel.id} 有进行中的供地 {live.id}"
                       f"（{live.status.label}），不能移动或更改状态；请先撤销或完成该供地",
                       code="parcel_under_offering")
