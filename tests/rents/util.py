"""Shared pieces of the rent-record tests: CSV writing, a lease, the independent
point-in-district lookup."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import shapely

from landsvc.config import get_settings
from landsvc.districts.service import DIVISIONS_FILE

HEADER = ["contract_no", "lon", "lat", "building_type", "floor", "area_m2",
          "rent_yuan_per_m2_month", "rent_yuan_month_total", "start_date", "end_date",
          "registered_date"]


def write_csv(path: Path, rows: list[dict], *, header=None, encoding="utf-8") -> Path:
    header = header or HEADER
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if row.get(h) is None else row[h] for h in header])
    return path


def lease(no: str, lon_lat=(114.0596, 22.5429), **fields) -> dict:
    """A two-year 1,000 ㎡ single-storey lease at 30 元/㎡·月 in Futian (by default)."""
    return {"contract_no": no, "lon": lon_lat[0], "lat": lon_lat[1],
            "building_type": "single_storey", "area_m2": 1000, "rent_yuan_per_m2_month": 30,
            "start_date": "2026-01-01", "end_date": "2027-12-31"} | fields


_divisions: gpd.GeoDataFrame | None = None


def district_of(lon: float, lat: float) -> str | None:
    """The district containing a point, read straight from the bundled divisions file with
    shapely (not through the database or the service's lookup)."""
    global _divisions
    if _divisions is None:
        frame = gpd.read_file(get_settings().geodata_dir / DIVISIONS_FILE)
        _divisions = frame[frame["level"] == "district"].reset_index(drop=True)
    hits = _divisions[_divisions.geometry.contains(shapely.Point(lon, lat))]
    return min(hits["adcode"]) if len(hits) else None
