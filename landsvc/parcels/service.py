"""Parcels: search, create, update and the bulk import from GIS files."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
from pyproj import CRS
from sqlalchemy import ColumnElement, UniqueConstraint, and_, func, select, text, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from landsvc.districts.models import District
from landsvc.errors import Conflict, ImportRejected, InvalidInput, NotFound
from landsvc.geo import WGS84, adcode_prefix, bbox_clause, feature, shape_from_geojson
from landsvc.parcels import importing
from landsvc.parcels.importing import FIELDS, DistrictIndex, RowChecker
from landsvc.parcels.models import LandSource, Parcel, ParcelStatus, Servicing
from landsvc.tokens.models import Role
from landsvc.tokens.service import OPERATOR, Principal

REPORT_LIMIT = 100_000
"""At most this many rejected rows are listed one by one; ``rejected_count`` has them all."""

COPY_COLUMNS = ("code", "name", "geom", "district", "land_use", "land_source", "status",
                "plot_ratio_min", "plot_ratio_max", "servicing")

Progress = Callable[[int, int], None]


# -- search -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParcelFilter:
    bbox: tuple[float, float, float, float] | None = None
    district: str | None = None
    status: ParcelStatus | None = None
    land_source: LandSource | None = None
    min_area_m2: float | None = None
    max_area_m2: float | None = None


def _visible(principal: Principal | None) -> ColumnElement:
    """Withdrawn parcels are seen only by those who manage them."""
    withdrawn = Parcel.status == ParcelStatus.withdrawn
    if principal is None or principal.role is Role.enterprise:
        return ~withdrawn
    if principal.role is Role.admin:
        return true()
    return ~withdrawn | Parcel.district.startswith(principal.jurisdiction)


def _district_clause(district: str | None) -> ColumnElement:
    if district is None:
        return true()
    if not district.isdigit() or len(district) not in (2, 4, 6):
        raise InvalidInput(f"district: 应为 2、4 或 6 位行政区划代码（前缀），收到 {district!r}")
    return Parcel.district.startswith(adcode_prefix(district))


def _filter_clauses(flt: ParcelFilter, principal: Principal | None) -> list[ColumnElement]:
    area = Parcel.area_m2
    return [
        bbox_clause(Parcel.geom, flt.bbox),
        _district_clause(flt.district),
        Parcel.status == flt.status if flt.status else true(),
        Parcel.land_source == flt.land_source if flt.land_source else true(),
        area >= flt.min_area_m2 if flt.min_area_m2 is not None else true(),
        area <= flt.max_area_m2 if flt.max_area_m2 is not None else true(),
        _visible(principal),
    ]


_READ_COLUMNS = (
    Parcel.id, Parcel.code, Parcel.name, Parcel.district, District.name.label("district_name"),
    Parcel.park_id, Parcel.land_use, Parcel.land_source, Parcel.status, Parcel.area_m2,
    Parcel.area_mu, Parcel.plot_ratio_min, Parcel.plot_ratio_max, Parcel.servicing,
    Parcel.created_at, Parcel.updated_at, func.ST_AsGeoJSON(Parcel.geom, 7).label("geometry"),
)


def _read_query():
    return (select(*_READ_COLUMNS).select_from(Parcel)
            .join(District, District.adcode == Parcel.district))


def _number(value) -> float | None:
    return None if value is None else float(value)


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
        "area_m2": _number(row.area_m2),
        "area_mu": _number(row.area_mu),
        "plot_ratio_min": _number(row.plot_ratio_min),
        "plot_ratio_max": _number(row.plot_ratio_max),
        "servicing": row.servicing.value if row.servicing else None,
        "servicing_label": row.servicing.label if row.servicing else None,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    })


def search_parcels(*, session: Session, flt: ParcelFilter, limit: int, offset: int,
                   principal: Principal | None) -> tuple[list[dict], int]:
    """One page of parcels as Features, and how many match in all."""
    where = and_(*_filter_clauses(flt, principal))
    matched = session.scalar(select(func.count()).select_from(Parcel).where(where))
    rows = session.execute(
        _read_query().where(where)
        .order_by(Parcel.id).limit(limit).offset(offset)
    )
    return [_as_feature(row) for row in rows], matched


def get_parcel(*, session: Session, parcel_id: int, principal: Principal | None) -> dict:
    """One parcel as a Feature; 404 when missing or not visible to the caller."""
    row = session.execute(
        _read_query()
        .where(Parcel.id == parcel_id, _visible(principal))
    ).one_or_none()
    if row is None:
        raise NotFound(f"地块 {parcel_id} 不存在")
    return _as_feature(row)


def count_parcels(*, session: Session) -> int:
    """How many parcels are stored, withdrawn ones included."""
    return session.scalar(select(func.count()).select_from(Parcel))


# -- shared checking ----------------------------------------------------------------------
_district_cache: dict[tuple, DistrictIndex] = {}


def _district_index(session: Session) -> DistrictIndex:
    """The districts as shapely geometries, whole and in pieces; cached until they change."""
    key = tuple(session.execute(
        text("SELECT count(*), coalesce(sum(ST_NPoints(geom)), 0) FROM district")
    ).one())
    if key[0] == 0:
        raise InvalidInput("尚未加载行政区划：请先运行 landsvc geodata load", code="no_districts")
    if key not in _district_cache:
        whole = session.execute(
            text("SELECT adcode, ST_AsBinary(geom) FROM district ORDER BY adcode")
        ).all()
        parts = session.execute(text("SELECT adcode, ST_AsBinary(geom) FROM district_part")).all()
        _district_cache.clear()
        _district_cache[key] = DistrictIndex(
            [r[0] for r in whole], shapely.from_wkb([bytes(r[1]) for r in whole]),
            [r[0] for r in parts], shapely.from_wkb([bytes(r[1]) for r in parts]),
        )
    return _district_cache[key]


def _stored_codes(session: Session, codes: list[str], *, except_id: int | None = None
                  ) -> set[str]:
    if not codes:
        return set()
    query = select(Parcel.code).where(Parcel.code == func.any(codes))
    if except_id is not None:
        query = query.where(Parcel.id != except_id)
    return set(session.scalars(query))


def _copy(session: Session):
    """A COPY into ``parcel`` on the session's own connection (so it shares the transaction)."""
    conn: psycopg.Connection = session.connection().connection.driver_connection
    statement = sql.SQL("COPY parcel ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
    )
    cursor = conn.cursor()
    # A writer thread feeds the server while this thread checks the next batch: with the
    # server busy parsing and indexing, the two overlap instead of taking turns.
    return cursor.copy(statement, writer=QueuedLibpqWriter(cursor))


def _csv(rows: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(rows.loc[:, list(COPY_COLUMNS)], preserve_index=False)
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    return buffer.getvalue()


def _unique_violation(exc: psycopg.errors.UniqueViolation) -> Conflict:
    return Conflict(f"宗地代码重复（可能有另一导入同时写入）：{exc.diag.message_detail or exc}",
                    code="duplicate_code")


# -- bulk import --------------------------------------------------------------------------
BULK_LOAD_MIN_ROWS = 10_000
"""A file at least this large going into an empty table is loaded as a first, bulk load."""


@contextmanager
def _indexes_built_after(session: Session, enabled: bool) -> Iterator[None]:
    """Drop the parcel table's indexes but the primary key for the COPY; build each after.

    Building an index over a million sorted rows is several times cheaper than a million
    inserts into it; codes were checked for duplicates before the COPY, and the rebuilt unique
    index checks them again. The drop holds the table's lock until the import commits, so no
    reader ever sees the table without its indexes; that is why it is used only on an empty
    table.
    """
    if not enabled:
        yield
        return
    connection = session.connection()
    indexes = list(Parcel.__table__.indexes)
    unique = [c for c in Parcel.__table__.constraints if isinstance(c, UniqueConstraint)]
    for index in indexes:
        index.drop(connection)
    for constraint in unique:
        connection.execute(DropConstraint(constraint))
    yield
    for constraint in unique:
        connection.execute(AddConstraint(constraint))
    for index in indexes:
        index.create(connection)
    session.execute(text("ANALYZE parcel"))


def _is_empty(session: Session) -> bool:
    return session.scalar(select(~select(Parcel.id).exists()))


def import_parcels(*, session: Session, path: str | Path, crs: str | None = None,
                   partial: bool = False, repair: bool = False,
                   principal: Principal = OPERATOR, progress: Progress | None = None) -> dict:
    """Import a parcel file: every row checked; all-or-nothing unless ``partial``."""
    source = importing.open_source(path, crs)
    codes = importing.read_codes(source)
    empty = _is_empty(session)
    stored = set() if empty else _stored_codes(session, codes.dropna().unique().tolist())
    checker = RowChecker(_district_index(session), source.crs, repair=repair,
                         bad_codes=importing.find_duplicate_codes(codes, stored))
    rejected: dict[int, list[str]] = {}
    notes: dict[int, str] = {}
    imported = 0
    bulk = empty and source.count >= BULK_LOAD_MIN_ROWS
    try:
        with _indexes_built_after(session, bulk), _copy(session) as copy:
            for first, geoms, attrs in importing.iter_batches(source):
                batch = checker.check(first, geoms, attrs)
                principal.require_covers(batch.rows.district.unique())
                rejected |= batch.rejected
                notes |= batch.notes
                # All-or-nothing: after the first bad row keep checking, stop writing.
                if len(batch.rows) and (partial or not rejected):
                    copy.write(_csv(batch.rows))
                    imported += len(batch.rows)
                if progress:
                    progress(first + len(attrs), source.count)
    except psycopg.errors.UniqueViolation as exc:
        raise _unique_violation(exc) from None
    except IntegrityError as exc:  # the unique index rebuilt after a bulk load
        if isinstance(exc.orig, psycopg.errors.UniqueViolation):
            raise _unique_violation(exc.orig) from None
        raise
    session.flush()
    if rejected and not partial:
        report = _report(source, 0, rejected, notes, codes)
        raise ImportRejected(f"{len(rejected)} 行有误，整个文件未导入（可用 partial=true 只导入正确的行）",
                             extra={"report": report})
    return _report(source, imported, rejected, notes, codes)


def _report(source, imported, rejected, notes, codes: pd.Series) -> dict:
    listed = list(rejected.items())[:REPORT_LIMIT]
    return {
        "imported": imported,
        "rejected": [{"index": int(i), "code": codes.iat[i], "reason": "；".join(reasons)}
                     for i, reasons in listed],
        "rejected_count": len(rejected),
        "notes": [{"index": int(i), "code": codes.iat[i], "note": note}
                  for i, note in sorted(notes.items())],
        "features": source.count,
        "format": source.format,
        "crs": source.crs.to_string(),
        "ignored_columns": source.ignored,
    }


# -- single-parcel writes -----------------------------------------------------------------
def _check_one(session: Session, geometry: dict | None, props: dict, *, repair: bool,
               except_id: int | None = None) -> pd.DataFrame:
    """Run one parcel through the same checks as an import row; raise on any problem."""
    geom = shape_from_geojson(geometry) if geometry is not None else None
    attrs = importing.text_frame([props])
    code = attrs.code.iat[0]
    stored = _stored_codes(session, [code] if code else [], except_id=except_id)
    checker = RowChecker(_district_index(session), CRS.from_epsg(WGS84),
                         repair=repair,
                         bad_codes={c: f"code: 宗地代码 {c} 已存在" for c in stored})
    batch = checker.check(0, np.array([geom], dtype=object), attrs)
    if batch.rejected:
        reasons = "；".join(batch.rejected[0])
        raise (Conflict if stored else InvalidInput)(reasons, code="invalid_parcel")
    return batch.rows


def create_parcel(*, session: Session, geometry: dict, properties: dict,
                  principal: Principal = OPERATOR, repair: bool = False) -> dict:
    """Create one parcel from a GeoJSON geometry and its properties."""
    rows = _check_one(session, geometry, properties, repair=repair)
    principal.require_covers(rows.district)
    try:
        with _copy(session) as copy:
            copy.write(_csv(rows))
    except psycopg.errors.UniqueViolation as exc:
        raise _unique_violation(exc) from None
    parcel_id = session.scalar(select(Parcel.id).where(Parcel.code == rows.code.iat[0]))
    return get_parcel(session=session, parcel_id=parcel_id, principal=principal)


def update_parcel(*, session: Session, parcel_id: int, geometry: dict | None,
                  properties: dict, principal: Principal = OPERATOR,
                  repair: bool = False) -> dict:
    """Change only what ``geometry``/``properties`` name; the result is checked whole."""
    current = session.get(Parcel, parcel_id)
    if current is None:
        raise NotFound(f"地块 {parcel_id} 不存在")
    principal.require_covers([current.district])
    merged = {f: getattr(current, f) for f in FIELDS}
    merged = {k: (v.value if isinstance(v, LandSource | ParcelStatus | Servicing) else v)
              for k, v in merged.items()}
    if geometry is not None and "district" not in properties:
        merged["district"] = None  # moved: let the new location decide
    merged |= properties
    if geometry is None:
        geometry = shapely.geometry.mapping(
            shapely.from_wkb(bytes(session.scalar(select(func.ST_AsBinary(Parcel.geom))
                                                  .where(Parcel.id == parcel_id))))
        )
    rows = _check_one(session, geometry, merged, repair=repair, except_id=parcel_id)
    principal.require_covers(rows.district)
    row = rows.iloc[0]
    values = {f: (None if pd.isna(row[f]) else row[f]) for f in FIELDS}
    session.execute(
        update(Parcel).where(Parcel.id == parcel_id).values(
            **values, geom=func.ST_GeomFromEWKB(func.decode(row["geom"], "hex")),
            updated_at=func.now(),
        )
    )
    session.expire(current)
    return get_parcel(session=session, parcel_id=parcel_id, principal=principal)
