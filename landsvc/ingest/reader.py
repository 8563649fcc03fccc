"""Opening untrusted GIS files safely and reading them in batches.

A file is accepted by its extension, then checked against its content (magic bytes, a
parse) before GDAL sees it, and opened with exactly one driver: ``GPKG:``, ``GeoJSON:``
and ``CSV:`` prefixes force theirs; a Shapefile is opened only after its header proved it
one. A zip is never opened by GDAL (no ``/vsizip/``): the one Shapefile in it is copied out
with its side-car files, its member count and unpacked size capped before any byte is
inflated. Together with :mod:`landsvc.ingest.gdal_env` this keeps an upload from making
the server read anything but the upload itself. GDAL's own error messages are logged, not
returned: they can quote the file.

Rows are read in batches straight from GDAL's Arrow stream (pyogrio), so a million-row
GeoPackage never sits in memory whole.
"""

from __future__ import annotations

import codecs
import logging
import shutil
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
import pyogrio.errors
import shapely
from pyogrio import raw
from pyproj import CRS

from landsvc.config import get_settings
from landsvc.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from landsvc.geo import WGS84, resolve_crs
from landsvc.ingest.gdal_env import SKIPPED_DRIVERS

log = logging.getLogger("landsvc.ingest")

BATCH_SIZE = 50_000

FORMATS = {".gpkg": "GPKG", ".zip": "ESRI Shapefile (zip)", ".shp": "ESRI Shapefile",
           ".geojson": "GeoJSON", ".json": "GeoJSON", ".csv": "CSV"}
"""Accepted file extensions and the one format each may hold."""

ACCEPTED_HINT = ("请上传 GeoPackage (.gpkg)、zip 压缩的 Shapefile (.zip)、GeoJSON (.geojson/.json) "
                 "或带几何列的 CSV (.csv)")

MAX_ZIP_MEMBERS = 1000
"""A zip listing more members than this is refused before its directory is read."""

SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
"""The members of a Shapefile that are copied out of a zip; anything else stays inside."""

_GDAL_ERRORS = (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.CRSError, pyogrio.errors.FieldError,
                pyogrio.errors.FeatureError, pyogrio.errors.GeometryError)

_SHAPE_TYPES = {"polygon": {5, 15, 25}, "point": {1, 11, 21, 8, 18, 28}}
"""Shapefile header shape-type codes per geometry kind (with their Z and M variants)."""

_GPKG_IDS = (b"GPKG", b"GP10", b"GP11")
"""SQLite ``application_id`` values of GeoPackage 1.2+ and of 1.0/1.1."""

_SHP_MAGIC = b"\x00\x00\x27\x0a"  # file code 9994, big-endian
_ZIP_EOCD = struct.Struct("<4s4H2LH")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Layout:
    """What a domain expects of its files: fields, the other names people give them, and
    which geometry kind and columns are required.

    ``csv_options`` are GDAL CSV open options naming the geometry columns (WKT, or lon/lat).
    """

    fields: tuple[str, ...]
    aliases: dict[str, str]
    required: tuple[str, ...]
    geometry: str  # "polygon" | "point"
    csv_options: dict[str, str]
    csv_geometry_hint: str


@dataclass
class Source:
    """An opened file: what GDAL sees, and how its columns map to the layout's fields."""

    path: str
    format: str
    layer: str | None
    crs: CRS
    count: int
    columns: dict[str, str]  # file column -> field
    ignored: list[str]
    read_options: dict = field(default_factory=dict)


def upload_suffix(filename: str | None) -> str:
    """The extension of an uploaded file's name, if it is one we accept; the name itself is
    never used as a path.

    Raises
    ------
    UnsupportedMediaType
        A missing name, ``.``/``..``, control characters, or an extension of no accepted
        format.
    """
    name = PurePath((filename or "").replace("\\", "/")).name
    if not name.isprintable():
        raise UnsupportedMediaType("文件名含有控制字符（如 NUL）：请重命名后上传")
    suffix = PurePath(name).suffix.lower()
    if suffix not in FORMATS or name in ("", ".", ".."):
        raise _unsupported(suffix)
    return suffix


def _unsupported(suffix: str) -> UnsupportedMediaType:
    shown = suffix if suffix.isprintable() and len(suffix) <= 16 else ""
    return UnsupportedMediaType(f"不支持的文件类型 {shown or '（无扩展名）'}：{ACCEPTED_HINT}")


@contextmanager
def open_source(path: str | Path, layout: Layout, crs: str | None = None) -> Iterator[Source]:
    """Check a file's content, open it with its one driver and map its columns.

    Parameters
    ----------
    path : path-like
        A ``.gpkg``, zipped Shapefile ``.zip`` (or a local ``.shp``), ``.geojson``/``.json``
        or ``.csv``.
    layout : Layout
        The domain's fields and geometry kind.
    crs : str, optional
        The file's CRS when it has none or a wrong one; CSV without it is EPSG:4326.

    Yields
    ------
    Source
        Valid while the ``with`` block lasts (a zip's contents are unpacked until then).

    Raises
    ------
    UnsupportedMediaType, InvalidInput, PayloadTooLarge
        Wrong type or content, unreadable file, several layers, a required column missing,
        an unknown CRS, a zip too large when unpacked.
    """
    _require_safe_gdal()
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise _unsupported(suffix)
    fmt = FORMATS[suffix]
    user_crs = resolve_crs(crs) if crs is not None else None
    with tempfile.TemporaryDirectory(prefix="landsvc-read-") as tmp:
        work = Path(tmp)
        gdal_path, options = _prepare(path, suffix, layout, work)
        try:
            layer = _pick_layer(gdal_path, layout)
            info = pyogrio.read_info(gdal_path, layer=layer, force_feature_count=True,
                                     **options)
        except _GDAL_ERRORS as exc:
            raise _unreadable(fmt, exc) from None
        if info["geometry_type"] is None:
            raise InvalidInput(f"文件中没有几何列：{layout.csv_geometry_hint}", code="missing_column")
        if user_crs is not None:
            source_crs = user_crs
        elif info["crs"]:
            source_crs = resolve_crs(info["crs"])
        elif fmt == "CSV":
            source_crs = CRS.from_epsg(WGS84)
        else:
            raise InvalidInput("文件未声明坐标系（如 Shapefile 缺少 .prj）：请用 crs 指定，例如 EPSG:4526",
                               code="unknown_crs")
        columns, ignored = _map_columns(list(info["fields"]), layout)
        yield Source(gdal_path, fmt, layer, source_crs, int(info["features"]), columns, ignored,
                     options)


def read_column(source: Source, name: str) -> pd.Series:
    """Every row's value of one field, as text, in file order."""
    column = next(k for k, v in source.columns.items() if v == name)
    try:
        _, table = pyogrio.read_arrow(source.path, layer=source.layer, columns=[column],
                                      read_geometry=False, **source.read_options)
    except _GDAL_ERRORS as exc:
        raise _unreadable(source.format, exc) from None
    return text_column(table.column(column))


def iter_batches(source: Source) -> Iterator[tuple[int, np.ndarray, pd.DataFrame]]:
    """Yield ``(first_index, geometries, attributes)`` per batch of :data:`BATCH_SIZE` rows."""
    try:
        with raw.open_arrow(source.path, layer=source.layer, batch_size=BATCH_SIZE,
                            columns=list(source.columns), use_pyarrow=True,
                            **source.read_options) as (meta, reader):
            geometry_column = meta["geometry_name"] or "wkb_geometry"
            first = 0
            for batch in reader:
                names = batch.schema.names
                wkb = (batch.column(names.index(geometry_column)).to_numpy(zero_copy_only=False)
                       if geometry_column in names else None)
                frame = pd.DataFrame({source.columns[name]: text_column(batch.column(i))
                                      for i, name in enumerate(names) if name in source.columns})
                yield first, _from_wkb(wkb, batch.num_rows), frame
                first += batch.num_rows
    except (*_GDAL_ERRORS, OSError) as exc:
        raise _unreadable(source.format, exc) from None


def text_column(column: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A file column as stripped text, blanks as None (440306.0 reads as '440306')."""
    try:
        column = pc.cast(column, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        column = pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())
    column = pc.utf8_trim_whitespace(column)
    column = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    return pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)


def text_frame(records: list[dict], fields: tuple[str, ...]) -> pd.DataFrame:
    """Attribute records from the API (JSON values) in the form :func:`iter_batches` yields."""
    return pd.DataFrame({
        f: text_column(pa.array([None if r.get(f) is None else str(r[f]) for r in records],
                                pa.string()))
        for f in fields
    })


# -- opening ------------------------------------------------------------------------------
def _require_safe_gdal() -> None:
    # GDAL_SKIP works only if set before pyogrio registered the drivers; landsvc sets it on
    # import, so this fails only if something loaded GDAL before landsvc. Refuse to read then.
    present = set(SKIPPED_DRIVERS) & set(pyogrio.list_drivers())
    if present:
        raise RuntimeError("GDAL was loaded before landsvc: drivers that follow references "
                           f"are registered ({', '.join(sorted(present))}); refusing uploads")


def _prepare(path: Path, suffix: str, layout: Layout, work: Path) -> tuple[str, dict]:
    """Check the content and place the file in ``work`` under a name of ours.

    Returns the name GDAL opens (with its driver prefix) and the open options.
    """
    if suffix == ".zip":
        shp = _unpack_shapefile(path, layout, work)
        return str(shp), _shapefile_options(shp)
    head = _head(path, 1 << 16)
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()
    if suffix == ".gpkg":
        if not (head.startswith(b"SQLite format 3\x00") and head[68:72] in _GPKG_IDS):
            raise _wrong_content(".gpkg", "GeoPackage（SQLite 文件头与 GPKG 标识）")
        return "GPKG:" + str(_link(path, work / "upload.gpkg")), {}
    if suffix == ".shp":  # a local file at the CLI, its side-car files beside it
        if not head.startswith(_SHP_MAGIC):
            raise _wrong_content(".shp", "Shapefile（.shp 文件头）")
        shp = work / "upload.shp"
        for part in SHAPEFILE_PARTS:
            for sidecar in (path.with_suffix(part), path.with_suffix(part.upper())):
                if sidecar.exists():
                    _link(sidecar, shp.with_suffix(part))
                    break
        return str(shp), _shapefile_options(shp)
    if suffix in (".geojson", ".json"):
        if not text.startswith(b"{"):
            raise _wrong_content(suffix, "GeoJSON（以 { 开头的 JSON 文本）")
        if _contains(path, b"\\u0000"):  # GDAL would silently cut the text at it
            raise InvalidInput("GeoJSON 的文本中含有 NUL 字符（\\u0000）：请删除后再上传",
                               code="nul_character")
        return "GeoJSON:" + str(_link(path, work / "upload.geojson")), {}
    # CSV: text, not markup, no NUL bytes; GDAL reads UTF-8, so GBK (Excel's default here)
    # is converted.
    if b"\x00" in head or text.startswith(b"<"):
        raise _wrong_content(".csv", "CSV 文本文件（不是 XML/HTML，不含 NUL 字节）")
    target = work / "upload.csv"
    if _is_utf8(path):
        _link(path, target)
    else:
        _transcode(path, target, "gb18030")
    return "CSV:" + str(target), dict(layout.csv_options)


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _contains(path: Path, needle: bytes) -> bool:
    """Whether the file holds ``needle``, read in chunks."""
    tail = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            if needle in tail + chunk[:len(needle)] or needle in chunk:
                return True
            tail = chunk[-len(needle):]
    return False


def _link(source: Path, target: Path) -> Path:
    target.symlink_to(source.resolve())
    return target


def _wrong_content(suffix: str, expected: str) -> InvalidInput:
    return InvalidInput(f"文件内容与扩展名 {suffix} 不符：应为 {expected}。文件可能已损坏、被截断，"
                        "或是另一种格式", code="malformed_file")


def _unreadable(fmt: str, exc: Exception) -> InvalidInput:
    log.info("GDAL could not read an upload (%s): %s", fmt, exc)
    return InvalidInput(f"无法读取 {fmt} 文件：文件可能已损坏、被截断，或不是有效的 {fmt}",
                        code="malformed_file")


def _pick_layer(gdal_path: str, layout: Layout) -> str | None:
    layers = pyogrio.list_layers(gdal_path)
    if len(layers) <= 1:
        return None
    kind = layout.geometry.capitalize()
    matching = [name for name, geometry in layers if geometry and kind in geometry]
    if len(matching) == 1:
        return matching[0]
    raise InvalidInput(f"文件含 {len(layers)} 个图层：请只保留一个{_KIND_LABEL[layout.geometry]}图层",
                       code="ambiguous_layer")


_KIND_LABEL = {"polygon": "面", "point": "点"}


def _map_columns(names: list[str], layout: Layout) -> tuple[dict[str, str], list[str]]:
    mapping: dict[str, str] = {}
    ignored = []
    for name in names:
        key = name.strip().lower()
        target = (key if key in layout.fields
                  else layout.aliases.get(name.strip()) or layout.aliases.get(key))
        if target is None and len(key) == 10:
            # Shapefile field names are cut to 10 characters (land_sourc).
            matches = [f for f in layout.fields if f.startswith(key)]
            target = matches[0] if len(matches) == 1 else None
        if target is None:
            ignored.append(name)
        elif target in mapping.values():
            other = next(k for k, v in mapping.items() if v == target)
            raise InvalidInput(f"列 {other!r} 与 {name!r} 都对应字段 {target}，请只保留一列",
                               code="duplicate_column")
        else:
            mapping[name] = target
    missing = [f for f in layout.required if f not in mapping.values()]
    if missing:
        raise InvalidInput(f"缺少必需列 {'、'.join(missing)}", code="missing_column")
    return mapping, ignored


def _from_wkb(wkb: np.ndarray | None, n: int) -> np.ndarray:
    if wkb is None:
        return np.full(n, None, dtype=object)
    return shapely.from_wkb(wkb, on_invalid="ignore")


# -- zip ----------------------------------------------------------------------------------
def _unpack_shapefile(path: Path, layout: Layout, work: Path) -> Path:
    """Copy the one Shapefile of a zip (and its side-car files) into ``work``."""
    if not _head(path, 4) == b"PK\x03\x04":
        raise _wrong_content(".zip", "zip 压缩包")
    members = _zip_member_count(path)
    if members > MAX_ZIP_MEMBERS:
        raise InvalidInput(f"zip 中有 {members} 个文件，超过 {MAX_ZIP_MEMBERS} 个的上限",
                           code="zip_too_many_members")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            stem = _pick_shapefile(zf, infos, layout)
            parts = {}
            for info in infos:
                name = info.filename.lower()
                if name.startswith(stem) and name[len(stem):] in SHAPEFILE_PARTS:
                    parts[name[len(stem):]] = info
            for needed in (".shx", ".dbf"):
                if needed not in parts:
                    raise InvalidInput(f"zip 中的 Shapefile 缺少 {needed} 文件：请把 .shp/.shx/.dbf/.prj"
                                       "（及 .cpg）一起压缩", code="malformed_file")
            limit = get_settings().max_unzipped_mib << 20
            if sum(i.file_size for i in parts.values()) > limit:
                raise _unzipped_too_large(limit)
            shp = work / "upload.shp"
            for ext, info in parts.items():
                _copy_member(zf, info, shp.with_suffix(ext))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        log.info("unreadable zip upload: %s", exc)
        raise InvalidInput("zip 文件已损坏、被截断或使用了不支持的压缩方式", code="malformed_file") from None
    if not _head(shp, 4) == _SHP_MAGIC:
        raise _wrong_content(".shp", "Shapefile（.shp 文件头）")
    return shp


def _zip_member_count(path: Path) -> int:
    """Members listed in a zip's end-of-central-directory record, read before the directory."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - (_ZIP_EOCD.size + 0xFFFF)))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _ZIP_EOCD.size:
        raise InvalidInput("zip 文件已损坏或被截断（找不到目录）", code="malformed_file")
    total = _ZIP_EOCD.unpack_from(tail, at)[4]
    return MAX_ZIP_MEMBERS + 1 if total == 0xFFFF else total  # 0xFFFF: a Zip64 count


def _pick_shapefile(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], layout: Layout) -> str:
    """The lower-cased path stem of the zip's one Shapefile of the layout's geometry kind."""
    shps = [i for i in infos if i.filename.lower().endswith(".shp")
            and not i.filename.startswith("__MACOSX/")]
    if not shps:
        raise InvalidInput("zip 文件中没有 .shp：请把 .shp/.shx/.dbf/.prj（及 .cpg）一起压缩",
                           code="malformed_file")
    if len(shps) > 1:
        wanted = _SHAPE_TYPES[layout.geometry]
        shps = [i for i in shps if _shape_type(zf, i) in wanted]
        if len(shps) != 1:
            raise InvalidInput(f"zip 中有多个 Shapefile：请只保留一个{_KIND_LABEL[layout.geometry]}图层",
                               code="ambiguous_layer")
    return shps[0].filename.lower()[:-4]


def _shape_type(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> int | None:
    with zf.open(info) as fh:
        header = fh.read(36)
    return struct.unpack_from("<i", header, 32)[0] if len(header) == 36 else None


def _copy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path) -> None:
    # zipfile stops at the size the directory declares (and checks the CRC), so a member
    # cannot inflate beyond what was summed up against the limit.
    with zf.open(info) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)


def _unzipped_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"zip 解压后超过 {limit >> 20} MiB 上限（LANDSVC_MAX_UNZIPPED_MIB）",
                           code="zip_too_large")


# -- encodings ----------------------------------------------------------------------------
def _shapefile_options(shp: Path) -> dict:
    encoding = shapefile_encoding(shp)
    return {"encoding": encoding} if encoding else {}


_DBF_HEADER = struct.Struct("<B3BLHH")
_DBF_UNDECIDED_LDIDS = {0x00, 0x57}
"""Language-driver bytes that do not name a code page: none, and 0x57 ("ANSI", which GDAL
reads as Latin-1 but Chinese Windows writes in GBK)."""


def shapefile_encoding(shp: Path) -> str | None:
    """The encoding of a Shapefile's attributes, or None when GDAL knows it (.cpg, LDID).

    Without either, the text fields of the records decide: valid UTF-8 stays UTF-8,
    anything else is GB18030 (a superset of GBK). The ``.dbf`` is read in chunks.
    """
    if any(shp.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return None
    dbf = shp.with_suffix(".dbf")
    if not dbf.exists():
        return None
    with open(dbf, "rb") as fh:
        header = fh.read(32)
        if len(header) < 32:
            return None
        _, _, _, _, count, header_len, record_len = _DBF_HEADER.unpack_from(header)
        if header[29] not in _DBF_UNDECIDED_LDIDS:
            return None
        descriptors = fh.read(max(0, header_len - 32))
        text_slices = _dbf_text_fields(descriptors)
        if not text_slices or record_len <= 0:
            return None
        decoder = codecs.getincrementaldecoder("utf-8")()
        per_chunk = max(1, _CHUNK // record_len)
        for _ in range(0, count, per_chunk):
            chunk = fh.read(per_chunk * record_len)
            rows = len(chunk) // record_len
            if not rows:
                break
            records = np.frombuffer(chunk[:rows * record_len], np.uint8).reshape(rows, record_len)
            text = np.concatenate([records[:, s] for s in text_slices], axis=1)
            try:
                decoder.decode(text.tobytes())
            except UnicodeDecodeError:
                return "GB18030"
    return "UTF-8"


def _dbf_text_fields(descriptors: bytes) -> list[slice]:
    """Byte ranges, within a record, of the character (``C``) fields."""
    slices, offset = [], 1  # each record starts with its deletion flag
    for at in range(0, len(descriptors) - 31, 32):
        if descriptors[at] == 0x0D:
            break
        kind, length = chr(descriptors[at + 11]), descriptors[at + 16]
        if kind == "C":
            slices.append(slice(offset, offset + length))
        offset += length
    return slices


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        try:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _transcode(source: Path, target: Path, encoding: str) -> None:
    try:
        with open(source, encoding=encoding, newline="") as src, \
                open(target, "w", encoding="utf-8", newline="") as out:
            shutil.copyfileobj(src, out, _CHUNK)
    except UnicodeDecodeError:
        raise InvalidInput("CSV 的编码无法识别：请保存为 UTF-8 或 GBK/GB18030", code="malformed_file") from None

