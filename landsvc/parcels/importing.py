"""Reading parcel files and checking every row — the part of an import that needs no database.

A file is read in batches straight from GDAL's Arrow stream (pyogrio), so a million-parcel
GeoPackage never sits in memory whole. Each batch is checked with vectorised shapely/pandas
operations; :mod:`landsvc.parcels.service` then writes the good rows with COPY.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS, Transformer

from landsvc.errors import InvalidInput, UnsupportedMediaType
from landsvc.geo import GUANGDONG_BOUNDS, WGS84, resolve_crs
from landsvc.parcels.models import LandSource, ParcelStatus, Servicing

BATCH_SIZE = 50_000

FORMATS = {".gpkg": "GPKG", ".zip": "ESRI Shapefile (zip)", ".shp": "ESRI Shapefile",
           ".geojson": "GeoJSON", ".json": "GeoJSON", ".csv": "CSV"}

FIELDS = ("code", "name", "district", "land_use", "land_source", "status",
          "plot_ratio_min", "plot_ratio_max", "servicing")

FIELD_ALIASES = {
    "宗地代码": "code", "宗地编号": "code", "地块编号": "code", "地块代码": "code",
    "地块名称": "name", "宗地名称": "name", "名称": "name",
    "行政区代码": "district", "行政区划代码": "district", "区县代码": "district", "adcode": "district",
    "土地用途": "land_use", "用途": "land_use",
    "土地来源": "land_source", "供地来源": "land_source",
    "状态": "status", "地块状态": "status", "供应状态": "status",
    "容积率下限": "plot_ratio_min", "容积率上限": "plot_ratio_max",
    "far_min": "plot_ratio_min", "far_max": "plot_ratio_max",
    "开发程度": "servicing", "土地开发程度": "servicing",
}

ENUMS: dict[str, tuple[type, dict[str, str]]] = {
    "land_source": (LandSource, {"存量": "stock", "新增": "new_quota"}),
    "status": (ParcelStatus, {}),
    "servicing": (Servicing, {}),
}

NEAR_COAST_DEGREES = 0.02
"""A parcel touching no district but this close to one (≈2 km) is taken as coastal land
(reclamation, a simplified shoreline) and given the nearest district."""


@dataclass
class Source:
    """An opened parcel file: what GDAL sees, and how its columns map to parcel fields."""

    path: str
    format: str
    layer: str | None
    crs: CRS
    count: int
    columns: dict[str, str]  # file column -> parcel field
    ignored: list[str]
    read_options: dict = field(default_factory=dict)


def _enum_lookup(cls: type, extra: dict[str, str]) -> dict[str, str]:
    lookup = {m.value: m.value for m in cls} | {m.label: m.value for m in cls}
    return lookup | extra


ENUM_LOOKUPS = {name: _enum_lookup(cls, extra) for name, (cls, extra) in ENUMS.items()}


def _map_columns(names: list[str]) -> tuple[dict[str, str], list[str]]:
    mapping: dict[str, str] = {}
    ignored = []
    for name in names:
        key = name.strip().lower()
        target = key if key in FIELDS else FIELD_ALIASES.get(name.strip()) or FIELD_ALIASES.get(key)
        if target is None and len(key) == 10:
            # Shapefile field names are cut to 10 characters (land_sourc).
            matches = [f for f in FIELDS if f.startswith(key)]
            target = matches[0] if len(matches) == 1 else None
        if target is None:
            ignored.append(name)
        elif target in mapping.values():
            other = next(k for k, v in mapping.items() if v == target)
            raise InvalidInput(f"列 {other!r} 与 {name!r} 都对应字段 {target}，请只保留一列",
                               code="duplicate_column")
        else:
            mapping[name] = target
    if "code" not in mapping.values():
        raise InvalidInput("缺少必需列 code（宗地代码）", code="missing_column")
    return mapping, ignored


def _dbf_encoding(dbf: bytes) -> str:
    """The encoding of a .dbf without .cpg: UTF-8 if its bytes decode so, else GB18030."""
    try:
        dbf.decode("utf-8")
    except UnicodeDecodeError:
        return "GB18030"
    return "UTF-8"


def _shapefile_encoding(path: Path) -> str | None:
    """None when a .cpg names the encoding (GDAL honours it); otherwise a guess from the bytes."""
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if any(n.lower().endswith(".cpg") for n in names):
                return None
            dbfs = [n for n in names if n.lower().endswith(".dbf")]
            return _dbf_encoding(zf.read(dbfs[0])) if dbfs else None
    if path.with_suffix(".cpg").exists() or path.with_suffix(".CPG").exists():
        return None
    dbf = path.with_suffix(".dbf")
    return _dbf_encoding(dbf.read_bytes()) if dbf.exists() else None


def _sniff_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UnsupportedMediaType(
            f"不支持的文件类型 {suffix or '(无扩展名)'}：请上传 GeoPackage (.gpkg)、"
            "zip 压缩的 Shapefile (.zip)、GeoJSON (.geojson/.json) 或带 WKT 列的 CSV (.csv)"
        )
    with open(path, "rb") as fh:
        head = fh.read(16)
    expected = {".gpkg": b"SQLite format 3", ".zip": b"PK"}.get(suffix)
    if expected and not head.startswith(expected):
        raise InvalidInput(f"文件内容不是有效的 {FORMATS[suffix]}（文件头不符，可能已损坏或被截断）",
                           code="malformed_file")
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except zipfile.BadZipFile:
            raise InvalidInput("zip 文件已损坏或被截断", code="malformed_file") from None
        if not any(n.lower().endswith(".shp") for n in names):
            raise InvalidInput("zip 文件中没有 .shp：请把 .shp/.shx/.dbf/.prj（及 .cpg）一起压缩",
                               code="malformed_file")
    return FORMATS[suffix]


def _pick_layer(path: Path) -> str | None:
    layers = pyogrio.list_layers(path)
    if len(layers) <= 1:
        return None
    polygonal = [name for name, kind in layers if kind and "Polygon" in kind]
    if len(polygonal) == 1:
        return polygonal[0]
    raise InvalidInput(f"文件含多个图层 {', '.join(layers[:, 0])}：请只保留一个地块图层",
                       code="ambiguous_layer")


def open_source(path: str | os.PathLike, crs: str | None = None) -> Source:
    """Open a parcel file and check its layout (not its rows).

    Parameters
    ----------
    path : path-like
        A ``.gpkg``, zipped Shapefile ``.zip`` (or ``.shp``), ``.geojson``/``.json`` or ``.csv``
        with a ``wkt``/``geometry`` column.
    crs : str, optional
        The file's CRS when it has none or a wrong one; CSV without it is EPSG:4326.

    Raises
    ------
    UnsupportedMediaType, InvalidInput
        Unknown type, unreadable file, several layers, no ``code`` column, unknown CRS.
    """
    path = Path(path)
    fmt = _sniff_format(path)
    options: dict = {}
    if fmt == "CSV":
        options |= {"GEOM_POSSIBLE_NAMES": "wkt,geometry", "KEEP_GEOM_COLUMNS": "NO"}
    if fmt.startswith("ESRI"):
        encoding = _shapefile_encoding(path)
        if encoding:
            options["encoding"] = encoding
    try:
        layer = _pick_layer(path)
        info = pyogrio.read_info(path, layer=layer, force_feature_count=True, **options)
    except (DataSourceError, DataLayerError, zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"无法读取 {fmt} 文件：{exc}", code="malformed_file") from None
    if fmt == "CSV" and info["geometry_type"] is None:
        raise InvalidInput("CSV 缺少几何列：需要名为 wkt 或 geometry 的列（WKT 文本）",
                           code="missing_column")
    if crs is not None:
        source_crs = resolve_crs(crs)
    elif info["crs"]:
        source_crs = resolve_crs(info["crs"])
    elif fmt == "CSV":
        source_crs = CRS.from_epsg(WGS84)
    else:
        raise InvalidInput("文件未声明坐标系（如 Shapefile 缺少 .prj）：请用 crs 指定，例如 EPSG:4526",
                           code="unknown_crs")
    columns, ignored = _map_columns(list(info["fields"]))
    return Source(str(path), fmt, layer, source_crs, int(info["features"]), columns, ignored,
                  options)


def read_codes(source: Source) -> pd.Series:
    """Every row's code, as text, in file order (for duplicate checks before any write)."""
    column = next(k for k, v in source.columns.items() if v == "code")
    _, table = pyogrio.read_arrow(source.path, layer=source.layer, columns=[column],
                                  read_geometry=False, **source.read_options)
    return _text(table.column(column))


def iter_batches(source: Source) -> Iterator[tuple[int, np.ndarray, pd.DataFrame]]:
    """Yield ``(first_index, geometries, attributes)`` per batch of :data:`BATCH_SIZE` rows."""
    try:
        with pyogrio.raw.open_arrow(source.path, layer=source.layer, batch_size=BATCH_SIZE,
                                    columns=list(source.columns), use_pyarrow=True,
                                    **source.read_options) as (meta, reader):
            geometry_column = meta["geometry_name"] or "wkb_geometry"
            first = 0
            for batch in reader:
                names = batch.schema.names
                wkb = (batch.column(names.index(geometry_column)).to_numpy(zero_copy_only=False)
                       if geometry_column in names else None)
                frame = pd.DataFrame({source.columns[name]: _text(batch.column(i))
                                      for i, name in enumerate(names) if name in source.columns})
                yield first, _from_wkb(wkb, batch.num_rows), frame
                first += batch.num_rows
    except (DataSourceError, DataLayerError) as exc:
        raise InvalidInput(f"读取文件失败（文件可能已损坏或被截断）：{exc}",
                           code="malformed_file") from None


def _from_wkb(wkb: np.ndarray | None, n: int) -> np.ndarray:
    if wkb is None:
        return np.full(n, None, dtype=object)
    return shapely.from_wkb(wkb, on_invalid="ignore")


def _text(column: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A file column as stripped text, blanks as None (440306.0 reads as '440306')."""
    try:
        column = pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        column = pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())
    column = pc.utf8_trim_whitespace(column)
    column = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    return pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)


def text_frame(records: list[dict]) -> pd.DataFrame:
    """Attribute records from the API (JSON values) in the form the file reader yields."""
    return pd.DataFrame({
        f: _text(pa.array([None if r.get(f) is None else str(r[f]) for r in records], pa.string()))
        for f in FIELDS
    })


class DistrictIndex:
    """Assigns each parcel the district it overlaps most.

    Parameters
    ----------
    adcodes, polygons : arrays
        The county-level districts.
    part_adcodes, parts : arrays
        The same districts cut into small pieces (``ST_Subdivide``), so that the few parcels
        crossing a border get exact overlap areas cheaply.
    """

    def __init__(self, adcodes, polygons, part_adcodes, parts):
        self.adcodes = np.asarray(adcodes, dtype=object)
        self.polygons = np.asarray(polygons)
        shapely.prepare(self.polygons)
        self.by_adcode = dict(zip(self.adcodes, self.polygons, strict=True))
        self.part_adcodes = np.asarray(part_adcodes, dtype=object)
        self.parts = np.asarray(parts)
        self.part_tree = shapely.STRtree(self.parts)

    def assign(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per geometry: the adcode (None outside Guangdong), and whether it was only near."""
        result = np.full(len(geoms), None, dtype=object)
        near = np.zeros(len(geoms), dtype=bool)
        if not len(geoms):
            return result, near
        # Most parcels lie wholly inside one district: prepared containment settles them.
        district_idx, geom_idx = shapely.STRtree(geoms).query(self.polygons, predicate="contains")
        result[geom_idx] = self.adcodes[district_idx]
        rest = np.flatnonzero(pd.isna(result))
        if rest.size:
            g, p = self.part_tree.query(geoms[rest], predicate="intersects")
            overlap = pd.DataFrame({
                "row": rest[g],
                "adcode": self.part_adcodes[p],
                "area": shapely.area(shapely.intersection(geoms[rest[g]], self.parts[p])),
            })
            overlap = overlap[overlap.area > 0].groupby(["row", "adcode"], as_index=False).area.sum()
            best = overlap.sort_values(["row", "area", "adcode"], ascending=[True, False, True])
            best = best.drop_duplicates("row")
            result[best.row.to_numpy()] = best.adcode.to_numpy()
        rest = np.flatnonzero(pd.isna(result))
        if rest.size:
            g, p = self.part_tree.query_nearest(geoms[rest], max_distance=NEAR_COAST_DEGREES,
                                                all_matches=False)
            result[rest[g]] = self.part_adcodes[p]
            near[rest[g]] = True
        return result, near

    def touches(self, geoms: np.ndarray, adcodes: np.ndarray) -> np.ndarray:
        """Whether each geometry overlaps (or is near) the district named beside it."""
        polygons = np.array([self.by_adcode[a] for a in adcodes], dtype=object)
        return shapely.dwithin(geoms, polygons, NEAR_COAST_DEGREES)


@dataclass
class CheckedBatch:
    """Rows ready for COPY (``rows``) and the rejected ones, by file index."""

    rows: pd.DataFrame
    rejected: dict[int, list[str]]
    notes: dict[int, str]


class RowChecker:
    """Checks batches of parcel rows: geometry, CRS, location, attributes and codes.

    Parameters
    ----------
    districts : DistrictIndex
    source_crs : CRS
        The CRS the geometries come in; they leave in EPSG:4326.
    repair : bool
        Repair invalid polygons with ``make_valid`` (noting it) instead of rejecting them.
    bad_codes : dict
        ``code -> reason`` for codes that are duplicated in the file or already stored.
    """

    def __init__(self, districts: DistrictIndex, source_crs: CRS, *, repair: bool = False,
                 bad_codes: dict[str, str] | None = None):
        self.districts = districts
        self.repair = repair
        self.bad_codes = bad_codes or {}
        wgs84 = CRS.from_epsg(WGS84)
        self.transformer = (None if source_crs.equals(wgs84, ignore_axis_order=True)
                            else Transformer.from_crs(source_crs, wgs84, always_xy=True))

    def check(self, first: int, geoms: np.ndarray, attrs: pd.DataFrame) -> CheckedBatch:
        """Check one batch whose first row has file index ``first``."""
        n = len(geoms)
        rejected: dict[int, list[str]] = {}
        notes: dict[int, str] = {}

        def reject(where, reason) -> None:
            """Reject rows given by a boolean mask or by batch positions."""
            where = np.asarray(where)
            for i in (np.flatnonzero(where) if where.dtype == bool else where):
                msg = reason(i) if callable(reason) else reason
                rejected.setdefault(first + i, []).append(msg)

        rows = pd.DataFrame({f: attrs[f].to_numpy() if f in attrs else np.full(n, None, object)
                             for f in FIELDS})
        geoms = self._check_geometry(geoms, first, reject, notes)
        self._check_attributes(rows, reject)
        ok_geom = ~pd.isna(geoms)

        adcodes, near = self.districts.assign(np.where(ok_geom, geoms, None))
        reject(ok_geom & pd.isna(adcodes),
               "位于广东省范围外（坐标是否颠倒？坐标系是否正确？）")
        for i in np.flatnonzero(near):
            notes[first + i] = _join(notes.get(first + i), "地块不与任何区县相交，按最近区县（沿海）归属")
        given = rows.district.to_numpy()
        differs = ok_geom & ~pd.isna(adcodes) & ~pd.isna(given) & (given != adcodes)
        differs &= pd.Series(given).isin(self.districts.by_adcode).to_numpy()
        if differs.any():
            idx = np.flatnonzero(differs)
            far = ~self.districts.touches(geoms[idx], given[idx])
            reject(idx[far],
                   lambda i: f"district: 行政区代码 {given[i]} 与地块位置不符（地块位于 {adcodes[i]}）")
        rows["district"] = np.where(pd.isna(given), adcodes, given)
        rows["geom"] = geoms

        bad = np.array(sorted(i - first for i in rejected), dtype=int)
        keep = np.ones(n, dtype=bool)
        keep[bad] = False
        good = rows[keep]
        if len(good):
            good = good.assign(geom=_ewkb_hex(good.geom.to_numpy()))
        return CheckedBatch(good, {i: rejected[i] for i in sorted(rejected)}, notes)

    # -- geometry ----------------------------------------------------------------------
    def _check_geometry(self, geoms, first, reject, notes) -> np.ndarray:
        geoms = np.asarray(geoms, dtype=object)
        missing = pd.isna(geoms)
        geoms = np.where(missing, None, geoms)
        empty = ~missing & shapely.is_empty(geoms)
        reject(missing | empty, "几何为空")
        type_id = shapely.get_type_id(geoms)
        polygonal = np.isin(type_id, (3, 6))
        wrong = ~(missing | empty) & ~polygonal
        reject(wrong, lambda i: f"几何类型为 {geoms[i].geom_type}，须为面（Polygon/MultiPolygon）")
        geoms = np.where(polygonal & ~empty, geoms, None)
        if shapely.has_z(geoms).any():
            geoms = shapely.force_2d(geoms)
        geoms = self._to_wgs84(geoms)

        minx, miny, maxx, maxy = shapely.bounds(geoms).T
        lon0, lat0, lon1, lat1 = GUANGDONG_BOUNDS
        outside = ~pd.isna(geoms) & ~((minx >= lon0) & (maxx <= lon1) & (miny >= lat0)
                                      & (maxy <= lat1))
        reject(outside, lambda i: "位于广东省范围外（范围 "
               f"{minx[i]:.4f},{miny[i]:.4f}–{maxx[i]:.4f},{maxy[i]:.4f}；坐标是否颠倒？坐标系是否正确？）")
        geoms = np.where(outside, None, geoms)

        invalid = ~pd.isna(geoms) & ~shapely.is_valid(geoms)
        if invalid.any():
            idx = np.flatnonzero(invalid)
            reasons = shapely.is_valid_reason(geoms[idx])
            if self.repair:
                repaired = _polygonal_part(shapely.make_valid(geoms[idx]))
                for j, i in enumerate(idx):
                    if repaired[j] is None:
                        reject([i], f"几何无效且无法修复：{reasons[j]}")
                    else:
                        notes[first + i] = f"几何无效（{reasons[j]}），已用 make_valid 修复"
                geoms[idx] = repaired
            else:
                for j, i in enumerate(idx):
                    reject([i], f"几何无效：{reasons[j]}（可用 repair=true 自动修复）")
                geoms[idx] = None
        return geoms

    def _to_wgs84(self, geoms: np.ndarray) -> np.ndarray:
        if self.transformer is None:
            return geoms

        def project(xy):
            x, y = self.transformer.transform(xy[:, 0], xy[:, 1])
            return np.column_stack([x, y])

        return shapely.transform(geoms, project)

    # -- attributes --------------------------------------------------------------------
    def _check_attributes(self, rows: pd.DataFrame, reject) -> None:
        code = rows.code
        reject(pd.isna(code), "code: 缺少宗地代码")
        reject(code.str.len().gt(64).to_numpy(), "code: 宗地代码超过 64 个字符")
        if self.bad_codes:
            dup = code.isin(self.bad_codes.keys()).to_numpy()
            reject(dup, lambda i: self.bad_codes[code.iat[i]])
        reject(rows.name.str.len().gt(200).to_numpy(), "name: 地块名称超过 200 个字符")
        reject(rows.land_use.str.len().gt(100).to_numpy(), "land_use: 土地用途超过 100 个字符")

        for name, lookup in ENUM_LOOKUPS.items():
            raw = rows[name]
            mapped = _per_value(raw, lambda v, lk=lookup: lk.get(v, lk.get(v.lower())))
            unknown = (~pd.isna(raw) & pd.isna(mapped)).to_numpy()
            choices = "、".join(f"{m.value}/{m.label}" for m in ENUMS[name][0])
            reject(unknown, lambda i, r=raw, n=name, c=choices: f"{n}: 无法识别的值 {r.iat[i]!r}（可用：{c}）")
            rows[name] = mapped
        rows["land_source"] = rows.land_source.fillna(LandSource.stock.value)
        rows["status"] = rows.status.fillna(ParcelStatus.available.value)

        for name in ("plot_ratio_min", "plot_ratio_max"):
            raw = rows[name]
            value = pd.to_numeric(_per_value(raw, _float), errors="coerce")
            reject((~pd.isna(raw) & pd.isna(value)).to_numpy(),
                   lambda i, r=raw, n=name: f"{n}: 应为数字，收到 {r.iat[i]!r}")
            reject(((value <= 0) | (value >= 1000)).to_numpy(), f"{name}: 容积率应大于 0 且小于 1000")
            rows[name] = value.round(2).astype(object).where(~pd.isna(value), None)
        reversed_ = (pd.to_numeric(rows.plot_ratio_min) > pd.to_numeric(rows.plot_ratio_max))
        reject(reversed_.to_numpy(), "plot_ratio: 容积率下限大于上限")

        district = rows.district
        unknown = (~pd.isna(district) & ~district.isin(self.districts.adcodes)).to_numpy()
        reject(unknown, lambda i: f"district: 未知的广东省区县代码 {district.iat[i]!r}")
        rows["district"] = district.where(~unknown, None)


def _per_value(values: pd.Series, fn) -> pd.Series:
    """``fn`` of each value, computed once per distinct value (columns repeat a few values)."""
    codes, uniques = pd.factorize(values)
    if not len(uniques):
        return pd.Series(np.full(len(values), None, dtype=object), index=values.index)
    results = np.array([fn(u) for u in uniques] + [None], dtype=object)
    return pd.Series(results[codes], index=values.index)  # code -1 (missing) takes the None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _join(a: str | None, b: str) -> str:
    return f"{a}；{b}" if a else b


def _polygonal_part(geoms: np.ndarray) -> np.ndarray:
    """The polygons of each (repaired) geometry as one MultiPolygon, or None if none remain."""
    out = np.full(len(geoms), None, dtype=object)
    for i, g in enumerate(geoms):
        parts = [p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")]
        polys = [q for p in parts for q in shapely.get_parts(p)]
        if polys:
            out[i] = shapely.MultiPolygon(polys)
    return out


_MULTI_EWKB = "0106000020E6100000"  # little-endian MultiPolygon with SRID 4326
_ONE_PART = "01000000"


def _ewkb_hex(geoms: np.ndarray) -> list[str]:
    """Hex EWKB of each (Multi)Polygon as a MultiPolygon in EPSG:4326, as COPY takes it.

    Spliced from plain WKB: a Polygon becomes a one-part MultiPolygon by a header, a
    MultiPolygon gets the SRID in its header — several times faster than building geometries.
    """
    wkb = shapely.to_wkb(geoms, byte_order=1)
    return [_MULTI_EWKB + (_ONE_PART + w.hex() if w[1] == 3 else w[5:].hex()) for w in wkb]


def find_duplicate_codes(codes: pd.Series, stored: set[str]) -> dict[str, str]:
    """``code -> reason`` for codes repeated in the file or already in the database."""
    bad: dict[str, str] = {}
    counts = codes.dropna()
    repeated = counts[counts.duplicated(keep=False)]
    for code, index in repeated.groupby(repeated).groups.items():
        rows = ", ".join(str(i) for i in index)
        bad[code] = f"code: 宗地代码 {code} 在文件中重复（第 {rows} 行，行号从 0 起）"
    for code in stored:
        bad[code] = _join(bad.get(code), f"code: 宗地代码 {code} 已存在于数据库")
    return bad
