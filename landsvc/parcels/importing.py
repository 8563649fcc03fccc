"""Parcel files in: the import pipeline (safe reader → parcel row checks → COPY) for parcels.

Every row is checked before anything is written, and the report names each bad row by its
0-based index in the file's own order. All-or-nothing unless ``partial``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import psycopg
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from landsvc import access, observability
from landsvc.access import OPERATOR, Principal
from landsvc.districts.service import district_index
from landsvc.errors import Conflict, ImportRejected
from landsvc.ingest import reader, writer
from landsvc.parcels.checks import FIELDS, RowChecker, join_reasons
from landsvc.parcels.models import Parcel
from landsvc.parcels.service import COPY_COLUMNS, stored_codes

LAYOUT = reader.Layout(
    fields=FIELDS,
    aliases={
        "宗地代码": "code", "宗地编号": "code", "地块编号": "code", "地块代码": "code",
        "地块名称": "name", "宗地名称": "name", "名称": "name",
        "行政区代码": "district", "行政区划代码": "district", "区县代码": "district",
        "adcode": "district",
        "土地用途": "land_use", "用途": "land_use",
        "土地来源": "land_source", "供地来源": "land_source",
        "状态": "status", "地块状态": "status", "供应状态": "status",
        "容积率下限": "plot_ratio_min", "容积率上限": "plot_ratio_max",
        "far_min": "plot_ratio_min", "far_max": "plot_ratio_max",
        "开发程度": "servicing", "土地开发程度": "servicing",
    },
    required=("code",),
    geometry="polygon",
    csv_options={"GEOM_POSSIBLE_NAMES": "wkt,geometry", "KEEP_GEOM_COLUMNS": "NO"},
    csv_geometry_hint="CSV 需要名为 wkt 或 geometry 的列（WKT 文本）",
)

REPORT_LIMIT = 100_000
"""At most this many rejected rows are listed one by one; ``rejected_count`` has them all."""

BULK_LOAD_MIN_ROWS = 10_000
"""A file at least this large going into an empty table is loaded as a first, bulk load."""

Progress = Callable[[int, int], None]


@observability.counts_import("parcels")
def import_parcels(*, session: Session, path: str | Path, crs: str | None = None,
                   partial: bool = False, repair: bool = False,
                   principal: Principal = OPERATOR, progress: Progress | None = None) -> dict:
    """Import a parcel file: every row checked; all-or-nothing unless ``partial``."""
    with reader.open_source(path, LAYOUT, crs) as source:
        codes = reader.read_column(source, "code")
        empty = _is_empty(session)
        stored = set() if empty else stored_codes(session, codes.dropna().unique().tolist())
        checker = RowChecker(district_index(session=session), source.crs, repair=repair,
                             bad_codes=find_duplicate_codes(codes, stored))
        rejected: dict[int, list[str]] = {}
        notes: dict[int, str] = {}
        imported = 0
        bulk = empty and source.count >= BULK_LOAD_MIN_ROWS
        table = Parcel.__table__
        try:
            with (writer.indexes_built_after(session, table, bulk),
                  writer.copy_into(session, table, COPY_COLUMNS) as copy):
                for first, geoms, attrs in reader.iter_batches(source):
                    batch = checker.check(first, geoms, attrs)
                    access.require_manage(principal, batch.rows.district.unique())
                    rejected |= batch.rejected
                    notes |= batch.notes
                    # All-or-nothing: after the first bad row keep checking, stop writing.
                    if len(batch.rows) and (partial or not rejected):
                        copy.write(writer.csv_rows(batch.rows, COPY_COLUMNS))
                        imported += len(batch.rows)
                    if progress:
                        progress(first + len(attrs), source.count)
        except psycopg.errors.UniqueViolation as exc:
            raise unique_violation(exc) from None
        except IntegrityError as exc:  # the unique index rebuilt after a bulk load
            if isinstance(exc.orig, psycopg.errors.UniqueViolation):
                raise unique_violation(exc.orig) from None
            raise
        session.flush()
        if rejected and not partial:
            report = _report(source, 0, rejected, notes, codes)
            raise ImportRejected(f"{len(rejected)} 行有误，整个文件未导入（可用 partial=true 只导入正确的行）",
                                 extra={"report": report})
        return _report(source, imported, rejected, notes, codes)


def find_duplicate_codes(codes: pd.Series, stored: set[str]) -> dict[str, str]:
    """``code -> reason`` for codes repeated in the file or already in the database."""
    bad: dict[str, str] = {}
    counts = codes.dropna()
    repeated = counts[counts.duplicated(keep=False)]
    for code, index in repeated.groupby(repeated).groups.items():
        rows = ", ".join(str(i) for i in index)
        bad[code] = f"code: 宗地代码 {code} 在文件中重复（第 {rows} 行，行号从 0 起）"
    for code in stored:
        bad[code] = join_reasons(bad.get(code), f"code: 宗地代码 {code} 已存在于数据库")
    return bad


def unique_violation(exc: psycopg.errors.UniqueViolation) -> Conflict:
    """A duplicate code met by COPY, which only the database could see (a concurrent write)."""
    return Conflict(f"宗地代码重复（可能有另一导入同时写入）：{exc.diag.message_detail or exc}",
                    code="duplicate_code")


def _is_empty(session: Session) -> bool:
    return session.scalar(select(~select(Parcel.id).exists()))


def _report(source: reader.Source, imported: int, rejected: dict[int, list[str]],
            notes: dict[int, str], codes: pd.Series) -> dict:
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

