"""Park files in: the import pipeline (safe reader → park row checks → INSERT) for parks.

Every row is checked before anything is written, and the report names each bad row by its
0-based index in the file's own order. All-or-nothing unless ``partial``. A province has a
few hundred parks: the checked rows are held until the whole file is read (two parks of one
name in one district are refused, every row involved named), then written with one
multi-row INSERT per batch — the park triggers link each new park's parcels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import bindparam, insert
from sqlalchemy.orm import Session

from landsvc import access, observability
from landsvc.access import OPERATOR, Principal
from landsvc.districts.service import district_index
from landsvc.errors import ImportRejected, InvalidInput
from landsvc.ingest import reader
from landsvc.parcels.checks import join_reasons
from landsvc.parks.checks import FIELDS, ParkChecker
from landsvc.parks.models import Park
from landsvc.parks.service import geometry_value, record, stored_names

LAYOUT = reader.Layout(
    fields=FIELDS,
    aliases={
        "园区名称": "name", "园区": "name", "名称": "name",
        "行政区代码": "district", "行政区划代码": "district", "区县代码": "district",
        "adcode": "district",
        "主导产业": "leading_industries", "主导产业代码": "leading_industries",
        "行业代码": "leading_industries", "industries": "leading_industries",
        "特色园区": "featured_srdi", "专精特新特色园区": "featured_srdi",
        "配套服务": "services", "配套": "services",
    },
    required=("name",),
    geometry="polygon",
    csv_options={"GEOM_POSSIBLE_NAMES": "wkt,geometry", "KEEP_GEOM_COLUMNS": "NO"},
    csv_geometry_hint="CSV 需要名为 wkt 或 geometry 的列（WKT 文本）",
)

MAX_FEATURES = 10_000
"""A park file holds at most this many features (a province has a few hundred parks)."""

Progress = Callable[[int, int], None]


@observability.counts_import("parks")
def import_parks(*, session: Session, path: str | Path, crs: str | None = None,
                 partial: bool = False, repair: bool = False,
                 principal: Principal = OPERATOR, progress: Progress | None = None) -> dict:
    """Import a park file: every row checked; all-or-nothing unless ``partial``."""
    with reader.open_source(path, LAYOUT, crs) as source:
        if source.count > MAX_FEATURES:
            raise InvalidInput(f"园区文件最多 {MAX_FEATURES} 个要素，此文件有 {source.count} 个"
                               "（是否选错了文件，如地块文件？）", code="too_many_features")
        checker = ParkChecker(district_index(session=session), source.crs, repair=repair)
        rejected: dict[int, list[str]] = {}
        notes: dict[int, str] = {}
        names: list[pd.Series] = []
        good: list[pd.DataFrame] = []
        for first, geoms, attrs in reader.iter_batches(source):
            batch = checker.check(first, geoms, attrs)
            access.require_manage(principal, batch.rows.district.unique())
            rejected |= batch.rejected
            notes |= batch.notes
            names.append(attrs["name"])
            good.append(batch.rows.set_axis(batch.rows.index + first))
            if progress:
                progress(first + len(attrs), source.count)
        names_ = pd.concat(names, ignore_index=True) if names else pd.Series(dtype=object)
        rows = pd.concat(good) if good else pd.DataFrame(columns=[*FIELDS, "geom"])
        for i, reason in _same_names(session, rows).items():
            rejected[i] = [*rejected.get(i, []), reason]
        rejected = dict(sorted(rejected.items()))
        if rejected and not partial:
            raise ImportRejected(f"{len(rejected)} 行有误，整个文件未导入（可用 partial=true 只导入正确的行）",
                                 extra={"report": _report(source, 0, rejected, notes, names_)})
        rows = rows[~rows.index.isin(list(rejected))]
        _insert(session, rows)
        return _report(source, len(rows), rejected, notes, names_)


def _same_names(session: Session, rows: pd.DataFrame) -> dict[int, str]:
    """``index -> reason`` for parks named alike in one district, in the file or stored."""
    by_key: dict[tuple[str, str], list[int]] = {}
    for i, district, name in zip(rows.index, rows["district"], rows["name"], strict=True):
        by_key.setdefault((district, name), []).append(int(i))
    bad: dict[int, str] = {}
    for (district, name), index in by_key.items():
        if len(index) > 1:
            listed = ", ".join(map(str, index))
            for i in index:
                bad[i] = f"name: 区县 {district} 的园区 {name!r} 在文件中重复（第 {listed} 行，行号从 0 起）"
    for district, name in stored_names(session, list(by_key)):
        for i in by_key[(district, name)]:
            bad[i] = join_reasons(bad.get(i), f"name: 区县 {district} 已有名为 {name!r} 的园区")
    return bad


_INSERT = insert(Park).values(
    name=bindparam("name"), district=bindparam("district"),
    leading_industries=bindparam("leading_industries"),
    featured_srdi=bindparam("featured_srdi"), services=bindparam("services"),
    geom=geometry_value(bindparam("geom_hex")),
)


def _insert(session: Session, rows: pd.DataFrame) -> None:
    """One multi-row INSERT per batch of checked rows."""
    for start in range(0, len(rows), reader.BATCH_SIZE):
        chunk = rows.iloc[start:start + reader.BATCH_SIZE]
        session.execute(_INSERT, [record(row) | {"geom_hex": row["geom"]}
                                  for _, row in chunk.iterrows()])
    session.flush()


def _report(source: reader.Source, imported: int, rejected: dict[int, list[str]],
            notes: dict[int, str], names: pd.Series) -> dict:
    def name(i: int) -> str | None:
        return names.iat[i] if i < len(names) else None

    return {
        "imported": imported,
        "rejected": [{"index": int(i), "name": name(i), "reason": "；".join(reasons)}
                     for i, reasons in rejected.items()],
        "rejected_count": len(rejected),
        "notes": [{"index": int(i), "name": name(i), "note": note}
                  for i, note in sorted(notes.items())],
        "features": source.count,
        "format": source.format,
        "crs": source.crs.to_string(),
        "ignored_columns": source.ignored,
    }
