"""Synthetic parcels inside Guangdong's real districts, for the demo and the benchmarks.

Parcels sit in the cells of a regular grid laid over the province, so they never overlap;
each is a slightly rotated, irregular quadrilateral of 20–80 % of its cell. The Pearl River
Delta's nine cities, where most industrial land is, get four times the density of the rest.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from landsvc.config import get_settings

PRD_CITIES = {"440100", "440300", "440400", "440600", "440700", "441300", "441200", "441900",
              "442000"}
LAND_USES = (["工业用地", "仓储用地", "新型产业用地（M0）"], [0.75, 0.15, 0.10])
LAND_SOURCES = (["stock", "new_quota"], [0.7, 0.3])
# No "offered": a parcel is offered while it has a published offering, which a file cannot say.
STATUSES = (["available", "reserved", "leased", "transferred"], [0.75, 0.1, 0.075, 0.075])
SERVICING = ["raw_land", "three_links", "five_links", "seven_links"]
WORK_CRS = "EPSG:4526"
"""CGCS2000 3-degree Gauss-Krüger zone 38 (central meridian 114°E), as cadastral files use."""


def load_districts(path: Path | None = None) -> gpd.GeoDataFrame:
    from landsvc.districts.service import DIVISIONS_FILE

    frame = gpd.read_file(path or get_settings().geodata_dir / DIVISIONS_FILE)
    return frame[frame.level == "district"].reset_index(drop=True)


def generate_parcels(districts: gpd.GeoDataFrame, count: int, *, seed: int = 2023,
                     crs: str = WORK_CRS) -> gpd.GeoDataFrame:
    """``count`` parcels in ``crs``, with the attributes a bureau's file carries (no district)."""
    rng = np.random.default_rng(seed)
    local = districts.to_crs(crs)
    area = local.area.sum()
    cell = float(np.clip(np.sqrt(area / (count * 3)), 60, 400))

    xs_all, ys_all, owner = [], [], []
    for i, poly in enumerate(local.geometry):
        minx, miny, maxx, maxy = poly.bounds
        xs, ys = np.meshgrid(np.arange(minx, maxx, cell) + cell / 2,
                             np.arange(miny, maxy, cell) + cell / 2)
        xs, ys = xs.ravel(), ys.ravel()
        shapely.prepare(poly)
        inside = shapely.contains_xy(poly, xs, ys)
        xs_all.append(xs[inside])
        ys_all.append(ys[inside])
        owner.append(np.full(inside.sum(), i))
    xs, ys, owner = np.concatenate(xs_all), np.concatenate(ys_all), np.concatenate(owner)
    if len(xs) < count:
        raise ValueError(f"only {len(xs)} cells for {count} parcels")
    weight = np.where(local.city_adcode.isin(PRD_CITIES).to_numpy()[owner], 4.0, 1.0)
    pick = rng.choice(len(xs), size=count, replace=False, p=weight / weight.sum())
    pick.sort()
    cx, cy, owner = xs[pick], ys[pick], owner[pick]

    # Corners of a rotated rectangle, each nudged a little, closed back to the first.
    half_w = cell * rng.uniform(0.10, 0.45, count)
    half_h = cell * rng.uniform(0.10, 0.45, count)
    angle = rng.uniform(-0.3, 0.3, count)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)
    dx = corners[None, :, 0] * half_w[:, None] * (1 + rng.uniform(-0.08, 0.08, (count, 4)))
    dy = corners[None, :, 1] * half_h[:, None] * (1 + rng.uniform(-0.08, 0.08, (count, 4)))
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    ring = np.stack([cx[:, None] + dx * cos - dy * sin, cy[:, None] + dx * sin + dy * cos], -1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    geoms = shapely.polygons(ring)

    adcode = local.adcode.to_numpy()[owner]
    seq = np.zeros(count, dtype=int)
    for code in np.unique(adcode):  # numbered within each district, as real codes are
        mask = adcode == code
        seq[mask] = np.arange(mask.sum())
    land_use = rng.choice(LAND_USES[0], count, p=LAND_USES[1])
    pr_min = rng.choice([1.0, 1.2, 1.5, 2.0], count)
    # 宗地代码: adcode + 街道(3) + 村(3) + 宗地特征码 GB + 宗地顺序号(5).
    codes = [f"{a}{s // 1_000_000 + 1:03d}{s // 1000 % 1000 + 1:03d}GB{s % 1000 + 1:05d}"
             for a, s in zip(adcode, seq, strict=True)]
    names = [f"{d}{u}{s + 1:05d}号地块"
             for d, u, s in zip(local.name.to_numpy()[owner], land_use, seq, strict=True)]
    frame = gpd.GeoDataFrame({
        "code": codes,
        "name": names,
        "land_use": land_use,
        "land_source": rng.choice(LAND_SOURCES[0], count, p=LAND_SOURCES[1]),
        "status": rng.choice(STATUSES[0], count, p=STATUSES[1]),
        "plot_ratio_min": pr_min,
        "plot_ratio_max": pr_min + rng.choice([1.0, 1.5, 2.0, 2.5], count),
        "servicing": rng.choice(SERVICING, count),
    }, geometry=geoms, crs=crs)
    # Rows in no geographic order, as in a real register: a file's first rows (and the
    # first parcels by id) then spread over the whole province.
    return frame.iloc[rng.permutation(count)].reset_index(drop=True)


def write_parcels(path: Path, count: int, *, seed: int = 2023, crs: str = WORK_CRS,
                  districts: gpd.GeoDataFrame | None = None) -> Path:
    """Write ``count`` synthetic parcels to a GeoPackage that GDAL 3.6 reads too."""
    frame = generate_parcels(districts if districts is not None else load_districts(), count,
                             seed=seed, crs=crs)
    frame.to_file(path, layer="parcels", driver="GPKG", engine="pyogrio",
                  dataset_options={"VERSION": "1.3"})
    return path
