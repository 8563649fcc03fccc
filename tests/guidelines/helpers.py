"""Rent records for guideline tests, written straight into rent_record (bulk)."""

from __future__ import annotations

from datetime import date
from itertools import count

import numpy as np
from sqlalchemy import insert

from landsvc.rents.models import RentRecord

_numbers = count(1)


def records(session, rows: list[dict]) -> None:
    """Insert rows ``{district, lon, lat, building_type, area_m2, rent, start, end}``."""
    values = []
    for r in rows:
        rent = round(float(r["rent"]), 2)
        area = round(float(r["area_m2"]), 2)
        values.append({
            "contract_no": f"T-{next(_numbers):08d}", "listing_id": None,
            "geom": f"SRID=4326;POINT({r['lon']} {r['lat']})", "district": r["district"],
            "building_type": r["building_type"], "floor": None, "area_m2": area,
            "rent_yuan_per_m2_month": rent, "rent_yuan_month_total": round(rent * area, 2),
            "start_date": r.get("start", date(2025, 1, 1)),
            "end_date": r.get("end", date(2027, 12, 31)), "registered_date": None,
        })
    session.execute(insert(RentRecord), values)


def group(rng: np.random.Generator, n: int, *, district: str, point: tuple[float, float],
          building_type: str, centre: float, **extra) -> list[dict]:
    """``n`` leases around ``centre`` 元/㎡·月 (log-normal), areas 200–5000 ㎡, at ``point``
    (jittered by a few metres)."""
    rents = np.round(centre * rng.lognormal(0, 0.15, n), 2)
    areas = np.round(rng.uniform(200, 5000, n), 2)
    return [{"district": district, "lon": point[0] + rng.uniform(-1e-4, 1e-4),
             "lat": point[1] + rng.uniform(-1e-4, 1e-4), "building_type": building_type,
             "area_m2": a, "rent": r, **extra} for r, a in zip(rents, areas, strict=True)]
