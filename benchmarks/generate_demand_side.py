"""The demand side of the provincial data set, set-based in SQL on top of parcels and offerings.

Every choice comes from ``md5(n || seed)`` (as the offering SQL of ``ogc_vs_peers.py``), so a
seed gives the same rows each time:

* ~40k buildings: a point on a pseudo-random parcel, its district, 1–8 floors;
* 300k listings: published, the two factory kinds, 200–6,000 ㎡, rent 8–45 元/㎡·月,
  floor load, clear height, power, freight lift;
* 50k enterprises: USCC-shaped codes (``uscc_check_override``: bulk data, the check character
  is not computed), tiers none 40 % / innovative 30 % / SRDI 20 % / little giant 10 %, valid
  2025–2028, an industry code;
* 50k open demands, one per enterprise: a point near a parcel of a Pearl River Delta city with
  a radius of 5–30 km; land 55 %, premises 30 %, both 15 %; an area range around the area of
  that parcel (land) or 300–8,000 ㎡ (premises); supply modes (none named for a third), a price
  ceiling, an annual-rent ceiling, a rent ceiling of 20–50 元/㎡·月.
"""

from __future__ import annotations

import hashlib

import psycopg
from import_vs_ogr2ogr import truncate_cascade

PRD_CITIES = ("4401", "4403", "4404", "4406", "4407", "4412", "4413", "4419", "4420")
"""Guangzhou, Shenzhen, Zhuhai, Foshan, Jiangmen, Zhaoqing, Huizhou, Dongguan, Zhongshan."""

_H = "('x' || substr(md5(n::text || %(seed)s), {0}, 8))::bit(32)::bigint"

BUILDINGS_SQL = f"""
INSERT INTO building (name, geom, district, building_type, floors, total_floor_area_m2,
                      completed, freight_lift)
WITH pick AS (
    SELECT n, {_H.format(1)} AS h, {_H.format(9)} AS g
    FROM generate_series(1, %(count)s) n
), at AS (
    SELECT pick.*, p.geom AS pgeom, p.district
    FROM pick JOIN parcel p ON p.id = 1 + pick.h %% %(parcels)s
)
SELECT '厂房 ' || n, ST_PointOnSurface(pgeom), district,
       (ARRAY['single_storey', 'multi_storey', 'high_rise'])[g %% 3 + 1],
       CASE g %% 3 WHEN 0 THEN 1 WHEN 1 THEN 2 + g / 3 %% 5 ELSE 8 + g / 3 %% 8 END,
       2000 + g / 100 %% 30000, true, g %% 2 = 0
FROM at
"""

LISTINGS_SQL = f"""
INSERT INTO listing (building_id, kind, status, floor, area_m2, rent_yuan_per_m2_month,
                     floor_load_kn_m2, clear_height_m, freight_lift, power_kva, landlord,
                     landlord_kind, published_at)
WITH pick AS (
    SELECT n, {_H.format(1)} AS h, {_H.format(9)} AS g
    FROM generate_series(1, %(count)s) n
), b AS (SELECT min(id) AS lo, max(id) - min(id) + 1 AS span FROM building)
SELECT b.lo + h %% b.span,
       (ARRAY['factory', 'standard_factory'])[g %% 2 + 1], 'published',
       1 + g / 2 %% 6, 200 + g / 12 %% 5800, 8 + (h / 7 %% 3700) / 100.0,
       (ARRAY[5, 8, 10, 15, 20])[g / 70000 %% 5 + 1], 4 + g / 350000 %% 7,
       g / 2450000 %% 2 = 0, 100 + (h / 26000 %% 20) * 50, '某某实业有限公司', 'owner',
       timestamptz '2026-06-01 09:00+08' + (h %% 4000) * interval '1 hour'
FROM pick, b
"""

ENTERPRISES_SQL = f"""
INSERT INTO enterprise (uscc, name, district, industry_code, tier, tier_valid_from,
                        tier_valid_to, uscc_check_override, override_by, override_at)
WITH pick AS (
    SELECT n, {_H.format(1)} AS h, {_H.format(9)} AS g
    FROM generate_series(1, %(count)s) n
), at AS (
    SELECT pick.*, p.district
    FROM pick JOIN parcel p ON p.id = 1 + pick.h %% %(parcels)s
)
SELECT '91' || district || 'MB' || lpad(n::text, 8, '0'), '基准企业 ' || n, district,
       (ARRAY['C39', 'C38', 'C35', 'C34', 'C26', 'C27', 'I65', 'M73'])[g %% 8 + 1],
       CASE WHEN g / 8 %% 10 < 4 THEN 'none' WHEN g / 8 %% 10 < 7 THEN 'innovative_sme'
            WHEN g / 8 %% 10 < 9 THEN 'srdi_sme' ELSE 'little_giant' END,
       date '2025-01-01', date '2028-12-31', true, 'benchmark', now()
FROM at
"""

DEMANDS_SQL = f"""
INSERT INTO demand (enterprise_uscc, status, kinds, area_min_m2, area_max_m2, near_point,
                    near_radius_m, supply_modes, max_price_wan, max_annual_rent_yuan,
                    max_rent_yuan_per_m2_month, term_years, industry_code, scope)
WITH prd AS (
    -- Parcels of the Pearl River Delta, numbered: the demands' points lie near them.
    SELECT row_number() OVER (ORDER BY id) AS k, id
    FROM parcel WHERE left(district, 4) = ANY(%(cities)s)
), sized AS (SELECT count(*) AS total FROM prd),
pick AS (
    SELECT e.uscc, e.industry_code, row_number() OVER (ORDER BY e.uscc) AS n
    FROM enterprise e ORDER BY e.uscc LIMIT %(count)s
), hashed AS (
    SELECT pick.*, {_H.format(1)} AS h, {_H.format(9)} AS g, {_H.format(17)} AS f
    FROM pick
), at AS (
    SELECT hashed.*, p.geom, p.area_m2, p.district
    FROM hashed, sized, prd JOIN parcel p USING (id)
    WHERE prd.k = 1 + hashed.h %% sized.total
), drawn AS (
    SELECT at.*,
           CASE WHEN g %% 100 < 55 THEN ARRAY['land'] WHEN g %% 100 < 85 THEN ARRAY['premises']
                ELSE ARRAY['land', 'premises'] END AS kinds,
           (f %% 1000) / 1000.0 AS u
    FROM at
)
SELECT uscc, 'open', kinds,
       CASE WHEN 'land' = ANY(kinds) THEN round(area_m2 * (0.4 + u * 0.4), 0)
            ELSE 300 + g / 100 %% 1500 END,
       CASE WHEN 'land' = ANY(kinds) THEN round(area_m2 * (1.5 + u * 1.5), 0)
            ELSE 2000 + g / 100 %% 6000 END,
       -- within ~1 km of the parcel
       ST_SetSRID(ST_MakePoint(ST_X(ST_PointOnSurface(geom)) + (h / 7 %% 200 - 100) / 10000.0,
                               ST_Y(ST_PointOnSurface(geom)) + (h / 1400 %% 200 - 100) / 10000.0),
                  4326),
       5000 + (f / 1000 %% 26) * 1000,
       CASE f / 26000 %% 3
            WHEN 0 THEN ARRAY[]::text[]
            WHEN 1 THEN ARRAY['transfer', 'flexible_term_transfer']
            ELSE ARRAY['lease', 'lease_then_transfer', 'lease_and_transfer'] END,
       CASE WHEN 'land' = ANY(kinds) THEN round(area_m2 * 0.06 * (1.5 + u * 2), 2) END,
       CASE WHEN 'land' = ANY(kinds) THEN round(area_m2 * 600 * 0.03 * (1.5 + u * 2), 2) END,
       20 + g / 7 %% 31,
       CASE WHEN f / 78000 %% 2 = 0 THEN 20 + f / 156000 %% 31 END,
       industry_code, ARRAY[district]
FROM drawn
"""

ALL_SQL = (BUILDINGS_SQL, LISTINGS_SQL, ENTERPRISES_SQL, DEMANDS_SQL)


def digest() -> str:
    return hashlib.sha256("".join(ALL_SQL).encode()).hexdigest()[:16]


def generate(dsn: str, *, seed: int, buildings: int, listings: int, enterprises: int,
             demands: int) -> dict[str, float]:
    """Empty the demand-side tables and fill them; seconds per table."""
    import time

    timings = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        truncate_cascade(conn, "demand, consortium_member, consortium, enterprise, listing, "
                               "building_unit, unit_transfer, building")
        parcels = conn.execute("SELECT max(id) FROM parcel").fetchone()[0]
        for name, statement, count in (("buildings", BUILDINGS_SQL, buildings),
                                       ("listings", LISTINGS_SQL, listings),
                                       ("enterprises", ENTERPRISES_SQL, enterprises),
                                       ("demands", DEMANDS_SQL, demands)):
            start = time.perf_counter()
            conn.execute(statement, {"seed": str(seed), "count": count, "parcels": parcels,
                                     "cities": list(PRD_CITIES)})
            timings[f"{name}_s"] = time.perf_counter() - start
        for table in ("building", "listing", "enterprise", "demand"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    return timings
