"""Rent records in: a CSV file or JSON rows → a staging table (COPY) → checks in SQL → one
``INSERT … SELECT``.

Nothing is checked row by row in Python: the file's text goes into a temporary table as
it is, every check is one set-based query over it, and the report names each bad row by
its 0-based index in the file's own order (the header is not a row). All-or-nothing unless
``partial``: the rows are written only after every row was checked.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from landsvc import access, observability
from landsvc.access import OPERATOR, Principal
from landsvc.db import without_statement_timeout
from landsvc.errors import Conflict, ImportRejected, InvalidInput, UnsupportedMediaType
from landsvc.ingest import writer
from landsvc.policies.service import effective
from landsvc.rents.models import RentRecord
from landsvc.rents.rules import RentRules
from landsvc.tokens.models import Role

FIELDS = ("contract_no", "listing_id", "lon", "lat", "district", "building_type", "floor",
          "area_m2", "rent_yuan_per_m2_month", "rent_yuan_month_total", "start_date",
          "end_date", "registered_date")
"""The columns of a rent-record file (and keys of a JSON row), in the staging table's order."""

ALIASES = {
    "合同编号": "contract_no", "合同号": "contract_no", "备案编号": "contract_no",
    "租赁合同编号": "contract_no", "备案号": "contract_no",
    "房源编号": "listing_id", "房源id": "listing_id",
    "经度": "lon", "lng": "lon", "longitude": "lon", "x": "lon",
    "纬度": "lat", "latitude": "lat", "y": "lat",
    "行政区代码": "district", "行政区划代码": "district", "区县代码": "district",
    "adcode": "district",
    "建筑类型": "building_type", "厂房类型": "building_type", "楼型": "building_type",
    "楼层": "floor", "所在楼层": "floor",
    "面积": "area_m2", "租赁面积": "area_m2", "面积（㎡）": "area_m2", "面积(㎡)": "area_m2",
    "面积(m2)": "area_m2", "面积（平方米）": "area_m2", "面积(平方米)": "area_m2",
    "area": "area_m2",
    "单价": "rent_yuan_per_m2_month", "租金单价": "rent_yuan_per_m2_month",
    "单位租金": "rent_yuan_per_m2_month", "月租金单价": "rent_yuan_per_m2_month",
    "月租金": "rent_yuan_month_total", "月租金总额": "rent_yuan_month_total",
    "租金总额": "rent_yuan_month_total",
    "开始日期": "start_date", "起租日期": "start_date", "租期开始": "start_date",
    "租赁起始日": "start_date", "起始日期": "start_date",
    "结束日期": "end_date", "到期日期": "end_date", "租期结束": "end_date",
    "租赁终止日": "end_date", "终止日期": "end_date",
    "备案日期": "registered_date", "登记日期": "registered_date",
}
"""Other names spreadsheets give the columns (matched after trimming, case-insensitively)."""

BUILDING_TYPES = {
    "single_storey": "single_storey", "单层": "single_storey", "单层厂房": "single_storey",
    "multi_storey": "multi_storey", "多层": "multi_storey", "多层厂房": "multi_storey",
    "high_rise": "high_rise", "高层": "high_rise", "高层厂房": "high_rise",
}
"""Accepted spellings of the building types (English identifiers and the Chinese labels)."""

REPORT_LIMIT = 100_000
"""At most this many rejected rows are listed one by one; ``rejected_count`` has them all."""

MAX_JSON_ROWS = 100_000
"""A JSON body holds at most this many rows; larger loads come as a CSV file."""

MAX_AREA_M2 = 10_000_000
"""Above 10 km² of leased floor space a figure is a typing error (and would overflow)."""

FLOOR_RANGE = (-5, 200)
"""Basements down to -5; the tallest building (a building's ``floors`` CHECK) 200."""

READ_BLOCK = 8 << 20
"""Bytes of CSV parsed per batch (about 100,000 rows)."""

BULK_LOAD_MIN_ROWS = 10_000
"""A file at least this large going into an empty table is loaded as a first, bulk load:
the table's indexes are built after the rows instead of updated row by row."""

NEAR_COAST_DEGREES = 0.02
"""A point in no district but this close to one (≈2 km, a simplified shoreline) is given
the nearest district, as parcel imports do."""

Progress = Callable[[int, int], None]


# -- reading ------------------------------------------------------------------------------
def _encoding(path: Path) -> str:
    """``utf-8`` (with or without BOM) when the whole file decodes so, else ``gb18030``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        try:
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def _header(path: Path, encoding: str) -> list[str]:
    with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding,
              newline="") as fh:
        try:
            line = next(csv.reader(fh), None)
        except (UnicodeDecodeError, csv.Error):
            raise InvalidInput("CSV 的表头无法读取：请保存为 UTF-8 或 GBK/GB18030 编码的 CSV",
                               code="malformed_file") from None
    if not line:
        raise InvalidInput("CSV 文件为空：第一行应为列名", code="malformed_file")
    return line


def _known_names() -> dict[str, str]:
    return {f: f for f in FIELDS} | {k.lower(): v for k, v in ALIASES.items()}


def map_columns(names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """``file column -> field`` for the known columns, and the names of the ignored ones."""
    known = _known_names()
    mapping: dict[str, str] = {}
    ignored: list[str] = []
    for name in names:
        field = known.get(name.strip().lower())
        if field is None:
            ignored.append(name)
        elif field in mapping.values():
            raise InvalidInput(f"{name}: 列 {field} 出现了不止一次", code="duplicate_column")
        else:
            mapping[name] = field
    return mapping, ignored


def require_columns(fields: Iterable[str]) -> None:
    """422 when a column every row needs is missing from the file altogether."""
    present = set(fields)
    missing = [f for f in ("contract_no", "area_m2", "start_date", "end_date")
               if f not in present]
    if not present & {"rent_yuan_per_m2_month", "rent_yuan_month_total"}:
        missing.append("rent_yuan_per_m2_month 或 rent_yuan_month_total")
    if "listing_id" not in present and not {"lon", "lat"} <= present:
        missing.append("lon 和 lat（或 listing_id）")
    if "listing_id" not in present and "building_type" not in present:
        missing.append("building_type（或 listing_id）")
    if missing:
        raise InvalidInput(f"缺少列：{'、'.join(missing)}（列名与别名见 docs/rents.md）",
                           code="missing_column")


def _count_lines(path: Path) -> int:
    lines = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
    return max(lines, 1)


def csv_batches(path: Path, progress: Progress | None = None
                ) -> tuple[Iterator[pa.Table], list[str], str]:
    """The file's known columns as text tables, batch by batch; the ignored columns; the
    encoding read."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise UnsupportedMediaType("租赁备案请上传 CSV 文件（.csv，UTF-8 或 GBK/GB18030 编码）")
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if b"\x00" in head or head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"<"):
        raise InvalidInput(".csv: 内容不是 CSV 文本（不含 NUL 字节，不是 XML/HTML）",
                           code="malformed_file")
    encoding = _encoding(path)
    names = _header(path, encoding)
    mapping, ignored = map_columns(names)
    require_columns(mapping.values())
    total = _count_lines(path) - 1 if progress else 0

    def batches() -> Iterator[pa.Table]:
        try:
            reader = pa_csv.open_csv(
                path,
                read_options=pa_csv.ReadOptions(encoding=encoding, block_size=READ_BLOCK,
                                                column_names=names, skip_rows=1),
                convert_options=pa_csv.ConvertOptions(
                    include_columns=list(mapping), column_types=dict.fromkeys(mapping, pa.string()),
                    strings_can_be_null=True, quoted_strings_can_be_null=True),
            )
            done = 0
            for batch in reader:
                table = pa.Table.from_batches([batch]).rename_columns(
                    [mapping[n] for n in batch.schema.names])
                yield table
                done += batch.num_rows
                if progress:
                    progress(done, max(total, done))
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            message = str(exc).splitlines()[0][:200]
            raise InvalidInput(f"CSV 无法解析：{message}", code="malformed_file") from None

    return batches(), ignored, "CSV (" + ("UTF-8" if encoding == "utf-8" else "GB18030") + ")"


def json_table(rows: list[dict]) -> tuple[pa.Table, list[str]]:
    """JSON rows as a text table of the known fields; the unknown keys met. Each row may
    name its fields in English or by an alias."""
    if len(rows) > MAX_JSON_ROWS:
        raise InvalidInput(f"body: 一次最多 {MAX_JSON_ROWS} 行，更多的请上传 CSV 文件",
                           code="too_many_rows")
    known = _known_names()
    values: dict[str, list] = {f: [None] * len(rows) for f in FIELDS}
    present: set[str] = set()
    ignored: set[str] = set()
    for i, row in enumerate(rows):
        for key, value in row.items():
            field = known.get(key.strip().lower())
            if field is None:
                ignored.add(key)
            elif values[field][i] is not None:
                raise InvalidInput(f"第 {i} 行 {key}: 字段 {field} 给出了不止一次",
                                   code="duplicate_column")
            elif value is not None:
                values[field][i] = str(value)
                present.add(field)
    if rows:  # an empty list loads nothing and says so
        require_columns(present)
    return pa.table({f: pa.array(v, pa.string()) for f, v in values.items()}), sorted(ignored)


# -- staging ------------------------------------------------------------------------------
_STAGE = "rent_stage"
_CHECKED = "rent_checked"


@contextmanager
def _staging(session: Session) -> Iterator[Callable[[pa.Table], None]]:
    """A temporary table of the rows as text; yields a function that COPYs a batch in."""
    without_statement_timeout(session)  # a bulk load's checks may outlast the request limit
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{_STAGE}, pg_temp.{_CHECKED}"))
    columns = ", ".join(f"{f} text" for f in FIELDS)
    session.execute(text(f"CREATE TEMP TABLE {_STAGE} (idx bigint, {columns})"))
    conn: psycopg.Connection = session.connection().connection.driver_connection
    cursor = conn.cursor()
    first = 0

    def write(table: pa.Table) -> None:
        nonlocal first
        _refuse_nul(table, first)
        table = table.add_column(0, "idx", pa.array(range(first, first + table.num_rows),
                                                    pa.int64()))
        statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
            sql.Identifier(_STAGE), sql.SQL(", ").join(map(sql.Identifier, table.column_names)))
        buffer = io.BytesIO()
        pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
        with cursor.copy(statement) as copy:
            copy.write(buffer.getvalue())
        first += table.num_rows

    yield write


def _refuse_nul(table: pa.Table, first: int) -> None:
    for name in table.column_names:
        hits = pc.match_substring(table.column(name), "\x00")
        if pc.any(hits).as_py():
            row = first + pc.index(hits, True).as_py()
            raise InvalidInput(f"第 {row} 行 {name}: 不能含有 NUL 字符 (\\u0000)",
                               code="nul_character")


# -- checks -------------------------------------------------------------------------------
def _text(column: str) -> str:
    return f"nullif(btrim(s.{column}), '')"


def _number(column: str) -> str:
    value = f"replace(btrim(s.{column}), ',', '')"
    return (f"CASE WHEN {value} ~ '^[+]?([0-9]{{1,15}}([.][0-9]*)?|[.][0-9]+)$' "
            f"THEN {value}::numeric END")


def _signed_number(column: str) -> str:
    value = f"replace(btrim(s.{column}), ',', '')"
    return (f"CASE WHEN {value} ~ '^[+-]?([0-9]{{1,15}}([.][0-9]*)?|[.][0-9]+)$' "
            f"THEN {value}::float8 END")


def _integer(column: str) -> str:
    value = f"btrim(s.{column})"
    return f"CASE WHEN {value} ~ '^[+-]?[0-9]{{1,9}}$' THEN {value}::bigint END"


def _date_parts(column: str) -> str:
    """The year, month and day texts of a date column: 2026-01-05, 2026/1/5, 2026.1.5 or
    2026年1月5日, a time after a space ignored. (``regexp_match`` costs ~60 µs a row here;
    ``translate`` and a plain ``~`` test a few.)"""
    value = f"translate(split_part(btrim(s.{column}), ' ', 1), '/.年月日', '----')"
    return (f"CASE WHEN {value} ~ '^[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}$' "
            f"THEN string_to_array({value}, '-') END")


def _date(parts: str) -> str:
    """The date of matched ``parts``; NULL when they name no calendar day (years 1900–2200)."""
    y, m, d = (f"{parts}[{i}]::int" for i in (1, 2, 3))
    return (f"CASE WHEN {y} BETWEEN 1900 AND 2200 AND {m} BETWEEN 1 AND 12 "
            f"AND {d} BETWEEN 1 AND extract(day from make_date({y}, {m}, 1) "
            f"+ interval '1 month - 1 day') "
            f"THEN make_date({y}, {m}, {d}) END")


_TYPES = ", ".join(f"('{k}', '{v}')" for k, v in BUILDING_TYPES.items())

_PARSE = f"""
CREATE TEMP TABLE {_CHECKED} AS
WITH p0 AS MATERIALIZED (
    SELECT s.idx,
           {_text('contract_no')} AS contract_no,
           {_text('listing_id')} AS listing_raw, {_integer('listing_id')} AS listing_id,
           {_text('lon')} AS lon_raw, {_signed_number('lon')} AS lon,
           {_text('lat')} AS lat_raw, {_signed_number('lat')} AS lat,
           {_text('district')} AS district_raw,
           {_text('building_type')} AS type_raw,
           (SELECT t.v FROM (VALUES {_TYPES}) AS t(k, v)
             WHERE t.k = lower(btrim(s.building_type))) AS type_given,
           {_text('floor')} AS floor_raw, {_integer('floor')} AS floor_given,
           {_text('area_m2')} AS area_raw, round({_number('area_m2')}, 2) AS area_m2,
           {_text('rent_yuan_per_m2_month')} AS unit_raw,
           round({_number('rent_yuan_per_m2_month')}, 2) AS unit_given,
           {_text('rent_yuan_month_total')} AS total_raw,
           round({_number('rent_yuan_month_total')}, 2) AS total_given,
           {_text('start_date')} AS start_raw, {_date_parts('start_date')} AS start_parts,
           {_text('end_date')} AS end_raw, {_date_parts('end_date')} AS end_parts,
           {_text('registered_date')} AS registered_raw,
           {_date_parts('registered_date')} AS registered_parts
    FROM {_STAGE} s
), p AS MATERIALIZED (
    SELECT p0.*, {_date('start_parts')} AS start_date, {_date('end_parts')} AS end_date,
           {_date('registered_parts')} AS registered_date
    FROM p0
), g AS MATERIALIZED (
    SELECT p.*, l.id AS listing_found, b.district AS building_district,
           b.building_type AS building_type_of_listing, l.floor AS listing_floor,
           CASE WHEN p.lon BETWEEN -180 AND 180 AND p.lat BETWEEN -90 AND 90
                THEN ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326)
                WHEN p.lon_raw IS NULL AND p.lat_raw IS NULL AND b.id IS NOT NULL
                THEN ST_PointOnSurface(b.geom) END AS geom
    FROM p LEFT JOIN listing l ON l.id = p.listing_id
           LEFT JOIN building b ON b.id = l.building_id
)
SELECT g.*,
       CASE WHEN g.lon_raw IS NULL AND g.lat_raw IS NULL AND g.listing_found IS NOT NULL
            THEN g.building_district ELSE d.adcode END AS found_district,
       coalesce(d.given_ok, false)
         OR (g.lon_raw IS NULL AND g.lat_raw IS NULL AND g.building_district = g.district_raw)
         AS given_ok,
       coalesce(g.type_given, g.building_type_of_listing) AS building_type,
       coalesce(g.floor_given, g.listing_floor) AS floor,
       coalesce(g.unit_given, round(g.total_given / nullif(g.area_m2, 0), 2)) AS unit,
       coalesce(g.total_given, round(g.unit_given * g.area_m2, 2)) AS total,
       NULL::text AS district,
       NULL::text[] AS reasons
FROM g LEFT JOIN LATERAL (
    SELECT min(dp.adcode) AS adcode, bool_or(dp.adcode = g.district_raw) AS given_ok
    FROM district_part dp
    WHERE g.geom IS NOT NULL AND (g.lon_raw IS NOT NULL OR g.lat_raw IS NOT NULL)
      AND ST_Covers(dp.geom, g.geom)
) d ON true
"""

_NEAR_COAST = f"""
UPDATE {_CHECKED} c
SET found_district = n.adcode, given_ok = (n.adcode = c.district_raw)
FROM (
    SELECT c2.idx, (SELECT dp.adcode FROM district_part dp
                    WHERE ST_DWithin(dp.geom, c2.geom, {NEAR_COAST_DEGREES})
                    ORDER BY dp.geom <-> c2.geom, dp.adcode LIMIT 1) AS adcode
    FROM {_CHECKED} c2
    WHERE c2.found_district IS NULL AND c2.geom IS NOT NULL
) n
WHERE c.idx = n.idx AND n.adcode IS NOT NULL
"""

_DISTRICT = f"""
UPDATE {_CHECKED} SET district = coalesce(district_raw, found_district)
"""

_BOUNDS = "CREATE TEMP TABLE rent_bounds (district text PRIMARY KEY, low numeric, high numeric)"

_REASONS = f"""
WITH dup AS (
    SELECT contract_no, string_agg(idx::text, ', ' ORDER BY idx) AS rows_
    FROM {_CHECKED} WHERE contract_no IS NOT NULL
    GROUP BY contract_no HAVING count(*) > 1
)
UPDATE {_CHECKED} c SET reasons = array_remove(ARRAY[
    CASE WHEN c.contract_no IS NULL THEN 'contract_no: 缺少合同编号'
         WHEN length(c.contract_no) > 60
         THEN 'contract_no: 合同编号超过 60 个字符' END,
    CASE WHEN dup.rows_ IS NOT NULL
         THEN format('contract_no: 合同编号 %s 在文件中重复（第 %s 行，行号从 0 起）',
                     c.contract_no, dup.rows_) END,
    CASE WHEN EXISTS (SELECT 1 FROM rent_record r WHERE r.contract_no = c.contract_no)
         THEN format('contract_no: 合同编号 %s 已存在于数据库', c.contract_no) END,
    CASE WHEN c.listing_raw IS NOT NULL AND c.listing_id IS NULL
         THEN format('listing_id: 应为整数，收到 %s', left(c.listing_raw, 30))
         WHEN c.listing_id IS NOT NULL AND c.listing_found IS NULL
         THEN format('listing_id: 房源 %s 不存在', c.listing_id) END,
    CASE WHEN c.lon_raw IS NULL AND c.lat_raw IS NULL AND c.listing_raw IS NULL
         THEN 'lon/lat: 须给出经纬度（lon、lat）或房源 listing_id'
         WHEN (c.lon_raw IS NULL) <> (c.lat_raw IS NULL)
         THEN 'lon/lat: 经度与纬度须同时给出'
         WHEN c.lon_raw IS NOT NULL AND (c.lon IS NULL OR c.lat IS NULL)
         THEN format('lon/lat: 应为数字，收到 (%s, %s)', left(c.lon_raw, 30), left(c.lat_raw, 30))
         WHEN c.lon_raw IS NOT NULL AND c.geom IS NULL
         THEN format('lon/lat: 经纬度超出范围 (%s, %s)：经度 -180~180，纬度 -90~90', c.lon, c.lat)
         WHEN c.geom IS NOT NULL AND c.found_district IS NULL
         THEN format('lon/lat: 点 (%s, %s) 不在广东省任何区县内（经纬度是否颠倒？）',
                     round(ST_X(c.geom)::numeric, 6), round(ST_Y(c.geom)::numeric, 6)) END,
    CASE WHEN c.district_raw IS NOT NULL AND c.district_raw !~ '^44[0-9]{{4}}$'
         THEN format('district: 应为广东省 6 位区县代码，收到 %s', left(c.district_raw, 20))
         WHEN c.district_raw IS NOT NULL AND c.found_district IS NOT NULL AND NOT c.given_ok
         THEN format('district: 所填区县 %s 与位置所在区县 %s 不一致',
                     c.district_raw, c.found_district) END,
    CASE WHEN CAST(:jurisdiction AS text) IS NOT NULL AND c.district IS NOT NULL
              AND NOT starts_with(c.district, CAST(:jurisdiction AS text))
         THEN format('district: 区县 %s 超出管辖范围（%s）', c.district,
                     CAST(:jurisdiction AS text)) END,
    CASE WHEN c.type_raw IS NOT NULL AND c.type_given IS NULL
         THEN format('building_type: 应为 single_storey（单层）、multi_storey（多层）或 '
                     'high_rise（高层），收到 %s', left(c.type_raw, 30))
         WHEN c.type_raw IS NOT NULL AND c.building_type_of_listing IS NOT NULL
              AND c.type_given <> c.building_type_of_listing
         THEN format('building_type: 与房源所在建筑的类型 %s 不一致', c.building_type_of_listing)
         WHEN c.building_type IS NULL AND c.listing_raw IS NULL
         THEN 'building_type: 缺少建筑类型（或给出房源 listing_id）' END,
    CASE WHEN c.floor_raw IS NOT NULL AND (c.floor_given IS NULL
              OR c.floor_given NOT BETWEEN {FLOOR_RANGE[0]} AND {FLOOR_RANGE[1]})
         THEN format('floor: 应为 {FLOOR_RANGE[0]}–{FLOOR_RANGE[1]} 之间的整数，收到 %s',
                     left(c.floor_raw, 30)) END,
    CASE WHEN c.area_raw IS NULL THEN 'area_m2: 缺少租赁面积'
         WHEN c.area_m2 IS NULL
         THEN format('area_m2: 应为正数，收到 %s', left(c.area_raw, 30))
         WHEN c.area_m2 <= 0 THEN format('area_m2: 租赁面积须大于 0，收到 %s', c.area_raw)
         WHEN c.area_m2 > {MAX_AREA_M2}
         THEN format('area_m2: 租赁面积 %s ㎡ 超过 {MAX_AREA_M2} ㎡，疑为录入错误', c.area_m2) END,
    CASE WHEN c.unit_raw IS NULL AND c.total_raw IS NULL
         THEN 'rent: 须给出单位租金 rent_yuan_per_m2_month 或月租金 rent_yuan_month_total'
         WHEN c.unit_raw IS NOT NULL AND c.unit_given IS NULL
         THEN format('rent_yuan_per_m2_month: 应为正数，收到 %s', left(c.unit_raw, 30))
         WHEN c.total_raw IS NOT NULL AND c.total_given IS NULL
         THEN format('rent_yuan_month_total: 应为正数，收到 %s', left(c.total_raw, 30))
         WHEN c.total_given IS NOT NULL AND c.total_given <= 0
         THEN format('rent_yuan_month_total: 月租金须大于 0，收到 %s', c.total_raw)
         WHEN c.unit_given IS NOT NULL AND c.total_given IS NOT NULL AND c.area_m2 > 0
              AND round(c.total_given / c.area_m2, 2) <> c.unit_given
         THEN format('rent_yuan_per_m2_month: %s 与月租金 %s ÷ 面积 %s = %s 不一致',
                     c.unit_given, c.total_given, c.area_m2, round(c.total_given / c.area_m2, 2))
         WHEN c.unit IS NOT NULL AND b.low IS NOT NULL AND c.unit NOT BETWEEN b.low AND b.high
         THEN format('rent_yuan_per_m2_month: 单位租金 %s 元/㎡·月 超出合理范围 %s–%s',
                     c.unit, b.low, b.high) END,
    CASE WHEN c.start_raw IS NULL THEN 'start_date: 缺少租期开始日期'
         WHEN c.start_date IS NULL
         THEN format('start_date: 应为日期（如 2026-01-31），收到 %s', left(c.start_raw, 30)) END,
    CASE WHEN c.end_raw IS NULL THEN 'end_date: 缺少租期结束日期'
         WHEN c.end_date IS NULL
         THEN format('end_date: 应为日期（如 2026-01-31），收到 %s', left(c.end_raw, 30))
         WHEN c.start_date IS NOT NULL AND c.end_date <= c.start_date
         THEN format('end_date: 租期结束日 %s 须晚于开始日 %s', c.end_date, c.start_date) END,
    CASE WHEN c.registered_raw IS NOT NULL AND c.registered_date IS NULL
         THEN format('registered_date: 应为日期（如 2026-01-31），收到 %s',
                     left(c.registered_raw, 30)) END
], NULL)
FROM {_CHECKED} c0
LEFT JOIN dup ON dup.contract_no = c0.contract_no
LEFT JOIN rent_bounds b
       ON b.district = CASE WHEN c0.district ~ '^44[0-9]{{4}}$' THEN c0.district ELSE '44' END
WHERE c.idx = c0.idx
"""

_INSERT = f"""
INSERT INTO rent_record (contract_no, listing_id, geom, district, building_type, floor,
                         area_m2, rent_yuan_per_m2_month, rent_yuan_month_total,
                         start_date, end_date, registered_date, created_by)
SELECT contract_no, listing_found, geom, district, building_type, floor, area_m2, unit, total,
       start_date, end_date, registered_date, :who
FROM {_CHECKED}
WHERE cardinality(reasons) = 0
ORDER BY idx
"""


def _principal_name(principal: Principal) -> str:
    if principal.role is Role.bureau:
        return f"bureau:{principal.jurisdiction}"
    return principal.role.value


@observability.counts_import("rent_records")
def _load(session: Session, tables: Iterable[pa.Table], *, partial: bool,
          principal: Principal, fmt: str, ignored: list[str]) -> dict:
    with _staging(session) as write:
        rows = 0
        for table in tables:
            write(table)
            rows += table.num_rows
    session.execute(text(f"ANALYZE {_STAGE}"))
    session.execute(text(_PARSE))
    session.execute(text(_NEAR_COAST))
    session.execute(text(_DISTRICT))
    _bounds(session)
    jurisdiction = principal.jurisdiction if principal.role is Role.bureau else None
    session.execute(text(_REASONS), {"jurisdiction": jurisdiction})
    rejected = session.execute(text(
        f"SELECT idx, contract_no, array_to_string(reasons, '；') FROM {_CHECKED} "
        f"WHERE cardinality(reasons) > 0 ORDER BY idx LIMIT {REPORT_LIMIT}")).all()
    rejected_count = (len(rejected) if len(rejected) < REPORT_LIMIT else session.scalar(text(
        f"SELECT count(*) FROM {_CHECKED} WHERE cardinality(reasons) > 0")))
    report = {
        "imported": 0,
        "rejected": [{"index": int(i), "contract_no": c, "reason": r} for i, c, r in rejected],
        "rejected_count": rejected_count,
        "rows": rows,
        "format": fmt,
        "ignored_columns": ignored,
    }
    if rejected and not partial:
        raise ImportRejected(
            f"{rejected_count} 行有误，整个文件未导入（可用 partial=true 只导入正确的行）",
            extra={"report": report})
    bulk = rows >= BULK_LOAD_MIN_ROWS and _is_empty(session)
    try:
        with (session.begin_nested(),
              writer.indexes_built_after(session, RentRecord.__table__, bulk)):
            report["imported"] = session.execute(
                text(_INSERT), {"who": _principal_name(principal)}).rowcount
    except (IntegrityError, psycopg.errors.UniqueViolation) as exc:
        # A concurrent import stored the same contract number first.
        orig = getattr(exc, "orig", exc)
        if isinstance(orig, psycopg.errors.UniqueViolation):
            raise Conflict(f"合同编号重复（可能有另一导入同时写入）："
                           f"{orig.diag.message_detail or orig}", code="duplicate_contract_no"
                           ) from None
        raise
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{_STAGE}, pg_temp.{_CHECKED}, "
                         "pg_temp.rent_bounds"))
    return report


def _is_empty(session: Session) -> bool:
    return session.scalar(text("SELECT NOT EXISTS (SELECT 1 FROM rent_record)"))


def _bounds(session: Session) -> None:
    """The unit-rent bounds in force in each district of the file (settings per scope)."""
    session.execute(text("DROP TABLE IF EXISTS pg_temp.rent_bounds"))
    session.execute(text(_BOUNDS))
    districts = session.scalars(text(
        f"SELECT DISTINCT district FROM {_CHECKED} WHERE district ~ '^44[0-9]{{4}}$'")).all()
    values = []
    for district in ["44", *districts]:  # the province's bounds for rows placed nowhere
        rules: RentRules = effective(session, "rents", district)
        values.append({"d": district, "low": rules.min_unit_rent_yuan,
                       "high": rules.max_unit_rent_yuan})
    if values:
        session.execute(text("INSERT INTO rent_bounds VALUES (:d, :low, :high)"), values)


def import_rent_records(*, session: Session, path: str | Path, partial: bool = False,
                        principal: Principal = OPERATOR, progress: Progress | None = None
                        ) -> dict:
    """Import a CSV of rent records: every row checked; all-or-nothing unless ``partial``."""
    access.require_role(principal, Role.bureau, Role.admin)
    tables, ignored, fmt = csv_batches(Path(path), progress)
    return _load(session, tables, partial=partial, principal=principal, fmt=fmt,
                 ignored=ignored)


def import_rent_rows(*, session: Session, rows: list[dict], partial: bool = False,
                     principal: Principal = OPERATOR) -> dict:
    """Import rent records given as JSON objects, with the same checks and report."""
    access.require_role(principal, Role.bureau, Role.admin)
    table, ignored = json_table(rows)
    return _load(session, [table], partial=partial, principal=principal, fmt="JSON",
                 ignored=ignored)
