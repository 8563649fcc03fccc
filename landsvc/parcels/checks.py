"""The rules a parcel row must meet, checked for whole batches at once.

One :class:`RowChecker` serves every way a parcel is written — a file import's batches and a
single create or update through the API — so that both refuse the same things with the same
words. It needs no database: the districts come in as a :class:`DistrictIndex`.

Its geometry and location checks (:class:`PolygonChecker`) serve every domain of polygons
(parks too), so that all refuse a bad polygon, or one outside Guangdong, alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from landsvc.districts.index import DistrictIndex
from landsvc.geo import GUANGDONG_BOUNDS, WGS84, ewkb_multipolygon_hex
from landsvc.parcels.models import LandSource, ParcelStatus, Servicing

FIELDS = ("code", "name", "district", "land_use", "land_source", "status",
          "plot_ratio_min", "plot_ratio_max", "servicing")
"""The writable properties of a parcel, in the order they are checked and stored."""

PLOT_RATIO_RANGE = (0.01, 999.99)
"""容积率 as stored (NUMERIC(5, 2), above zero)."""

ENUMS = {"land_source": LandSource, "status": ParcelStatus, "servicing": Servicing}
ENUM_LOOKUPS = {name: cls.lookup() for name, cls in ENUMS.items()}
ENUM_LOOKUPS["land_source"] |= {"存量": "stock", "新增": "new_quota"}


@dataclass
class CheckedBatch:
    """Rows ready for COPY (``rows``) and the rejected ones, by file index."""

    rows: pd.DataFrame
    rejected: dict[int, list[str]]
    notes: dict[int, str]


def rejector(first: int, rejected: dict[int, list[str]]):
    """A ``reject(where, reason)`` recording reasons by file index into ``rejected``.

    ``where`` is a boolean mask or batch positions; ``reason`` a text or a function of the
    position.
    """
    def reject(where, reason) -> None:
        where = np.asarray(where)
        for i in (np.flatnonzero(where) if where.dtype == bool else where):
            msg = reason(i) if callable(reason) else reason
            rejected.setdefault(first + i, []).append(msg)

    return reject


class PolygonChecker:
    """Checks of polygon rows common to every domain: geometry, CRS and location.

    Parameters
    ----------
    districts : DistrictIndex
    source_crs : CRS
        The CRS the geometries come in; they leave in EPSG:4326.
    repair : bool
        Repair invalid polygons with ``make_valid`` (noting it) instead of rejecting them.
    """

    noun = "地块"
    """What a row is, in the notes (“地块不与任何区县相交…”)."""
    fields: tuple[str, ...] = ()
    """The attribute columns a row carries (``district`` among them)."""

    def __init__(self, districts: DistrictIndex, source_crs: CRS, *, repair: bool = False):
        self.districts = districts
        self.repair = repair
        wgs84 = CRS.from_epsg(WGS84)
        self.transformer = (None if source_crs.equals(wgs84, ignore_axis_order=True)
                            else Transformer.from_crs(source_crs, wgs84, always_xy=True))

    def check(self, first: int, geoms: np.ndarray, attrs: pd.DataFrame) -> CheckedBatch:
        """Check one batch whose first row has file index ``first``."""
        n = len(geoms)
        rejected: dict[int, list[str]] = {}
        notes: dict[int, str] = {}
        reject = rejector(first, rejected)
        rows = pd.DataFrame({f: attrs[f].to_numpy() if f in attrs else np.full(n, None, object)
                             for f in self.fields})
        geoms = self._check_geometry(geoms, first, reject, notes)
        self._check_attributes(rows, reject)
        rows["district"] = self.locate(first, geoms, rows.district, reject, notes)
        rows["geom"] = geoms
        return self.finish(first, rows, rejected, notes)

    def _check_attributes(self, rows: pd.DataFrame, reject) -> None:
        """The domain's own checks of ``rows``' attributes (in place), rejecting bad rows."""
        raise NotImplementedError

    def locate(self, first: int, geoms: np.ndarray, given: pd.Series, reject,
               notes: dict[int, str]) -> np.ndarray:
        """Each row's district: the ``given`` adcode if it is a district the geometry touches,
        else the one it overlaps most; rejects unknown adcodes and rows outside Guangdong.

        ``geoms`` are the checked ones (:meth:`_check_geometry`, None where rejected).
        """
        unknown = (~pd.isna(given) & ~given.isin(self.districts.adcodes)).to_numpy()
        reject(unknown, lambda i: f"district: 未知的广东省区县代码 {given.iat[i]!r}")
        given = given.where(~unknown, None).to_numpy()
        ok_geom = ~pd.isna(geoms)

        adcodes, near = self.districts.assign(np.where(ok_geom, geoms, None))
        reject(ok_geom & pd.isna(adcodes),
               "位于广东省范围外（坐标是否颠倒？坐标系是否正确？）")
        for i in np.flatnonzero(near):
            notes[first + i] = join_reasons(notes.get(first + i),
                                            f"{self.noun}不与任何区县相交，按最近区县（沿海）归属")
        differs = ok_geom & ~pd.isna(adcodes) & ~pd.isna(given) & (given != adcodes)
        differs &= pd.Series(given).isin(self.districts.by_adcode).to_numpy()
        if differs.any():
            idx = np.flatnonzero(differs)
            far = ~self.districts.touches(geoms[idx], given[idx])
            reject(idx[far], lambda i: f"district: 行政区代码 {given[i]} 与{self.noun}位置不符"
                                       f"（{self.noun}位于 {adcodes[i]}）")
        return np.where(pd.isna(given), adcodes, given)

    @staticmethod
    def finish(first: int, rows: pd.DataFrame, rejected: dict[int, list[str]],
               notes: dict[int, str]) -> CheckedBatch:
        """The batch's good ``rows`` (``geom`` as hex EWKB) and its rejections in order."""
        keep = np.ones(len(rows), dtype=bool)
        keep[np.array(sorted(i - first for i in rejected), dtype=int)] = False
        good = rows[keep]
        if len(good):
            good = good.assign(geom=ewkb_multipolygon_hex(good.geom.to_numpy()))
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


class RowChecker(PolygonChecker):
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

    fields = FIELDS

    def __init__(self, districts: DistrictIndex, source_crs: CRS, *, repair: bool = False,
                 bad_codes: dict[str, str] | None = None):
        super().__init__(districts, source_crs, repair=repair)
        self.bad_codes = bad_codes or {}

    # -- attributes --------------------------------------------------------------------
    def _check_attributes(self, rows: pd.DataFrame, reject) -> None:
        for name in FIELDS:
            nul = rows[name].str.contains("\x00", regex=False)
            reject(nul.fillna(False).to_numpy(dtype=bool), f"{name}: 不能含有 NUL 字符")
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
            choices = "、".join(f"{m.value}/{m.label}" for m in ENUMS[name])
            reject(unknown, lambda i, r=raw, n=name, c=choices: f"{n}: 无法识别的值 {r.iat[i]!r}（可用：{c}）")
            rows[name] = mapped
        rows["land_source"] = rows.land_source.fillna(LandSource.stock.value)
        rows["status"] = rows.status.fillna(ParcelStatus.available.value)

        # Checked as stored: NUMERIC(5, 2) keeps two decimals, so 0.001 is 0.00 and 999.999
        # is 1000.00 — both out of range, whatever the digits sent.
        for name in ("plot_ratio_min", "plot_ratio_max"):
            raw = rows[name]
            value = pd.to_numeric(_per_value(raw, _float), errors="coerce").round(2)
            reject((~pd.isna(raw) & pd.isna(value)).to_numpy(),
                   lambda i, r=raw, n=name: f"{n}: 应为数字，收到 {r.iat[i]!r}")
            reject(((value < PLOT_RATIO_RANGE[0]) | (value > PLOT_RATIO_RANGE[1])).to_numpy(),
                   f"{name}: 容积率保留两位小数后应在 {PLOT_RATIO_RANGE[0]}–{PLOT_RATIO_RANGE[1]} 之间")
            rows[name] = value.astype(object).where(~pd.isna(value), None)
        reversed_ = (pd.to_numeric(rows.plot_ratio_min) > pd.to_numeric(rows.plot_ratio_max))
        reject(reversed_.to_numpy(), "plot_ratio: 容积率下限大于上限")


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


def join_reasons(a: str | None, b: str) -> str:
    """Two reasons (the first may be None) joined as one."""
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
