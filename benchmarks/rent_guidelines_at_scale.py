"""Rent guidelines at provincial scale: computing a period, a pandas baseline, the map page.

    .venv/bin/python benchmarks/rent_guidelines_at_scale.py [--code HEAD] [--records 2000000]

The data set (an embedded cluster in ``$BENCH_DIR/pg``, default /tmp/landsvc-rent-bench):
``--records`` rent records over all 124 districts, generated set-based in SQL and rebuilt only
when its fingerprint changes. Rent levels follow the cities (NOTES-domain.md): each district
draws its own level, Shenzhen 25–60 元/㎡·月, Guangzhou/Dongguan/Foshan 15–35, the other
cities 8–20; single-storey ×0.9, multi-storey ×1.0, high-rise ×1.15; per lease a log-normal
spread (σ 0.18) and ~2 % outliers (×3 or ×0.3). The four big cities carry six times the
leases of a district elsewhere; high-rise leases are rare outside them, so some districts fall
back to their city. Terms start 2023-01 … 2026-12 and run 1–5 years.

Phases, in one run:

1. ``landsvc.guidelines.service.compute`` for ``--period`` (admin, level district), in a child
   process on the pinned code, ``--repeat`` times, each in a transaction rolled back; the
   median time is the figure.
2. The pandas baseline: the leases in force read with ``COPY`` into a DataFrame (timed
   apart), then the same statistics by group-by — outlier fences at Q1 − 1.5·IQR … Q3 + 1.5·IQR
   (linear quantiles, as ``percentile_cont``) per district × building type and per city ×
   building type, median/P25/P75/area-weighted mean of the rest, district if ≥ 10 samples,
   else the city (``city_fallback``), rounded half away from zero to 0.01 as PostgreSQL's
   ``round(numeric, 2)``. Every figure of every item is compared with ours.
3. The rent-guide page: the draft published inside the child's transaction, then
   ``landsvc.webmaps.rent_guide.render_rent_guide`` cold (district base built) and warm; its
   size in bytes.

A markdown summary goes to stdout, raw results to
``benchmarks/out/rent-guidelines-<ts>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_vs_ogr2ogr as base  # noqa: E402

REPO = base.REPO
OUT = base.OUT
VENV_BIN = Path(sys.executable).parent
TYPES = ("single_storey", "multi_storey", "high_rise")
FIELDS = ("median", "p25", "p75", "weighted_mean", "samples", "source")

GENERATE_SQL = """
SELECT setseed(%(seed)s);
DROP TABLE IF EXISTS bench_district_level, bench_point;
-- Each district's own rent level, drawn inside its city's band.
CREATE TEMP TABLE bench_district_level AS
SELECT d.adcode,
       CASE WHEN left(d.adcode, 4) = '4403' THEN 6
            WHEN left(d.adcode, 4) IN ('4401', '4419', '4406') THEN 6 ELSE 1 END AS weight,
       left(d.adcode, 4) IN ('4403', '4401', '4419', '4406') AS core,
       CASE WHEN left(d.adcode, 4) = '4403' THEN 25 + 35 * random()
            WHEN left(d.adcode, 4) IN ('4401', '4419', '4406') THEN 15 + 20 * random()
            ELSE 8 + 12 * random() END AS level
FROM (SELECT adcode FROM district ORDER BY adcode) d;
-- 64 points inside each district for the leases' locations.
CREATE TEMP TABLE bench_point AS
SELECT d.adcode, p.path[1] - 1 AS k, p.geom
FROM district d, ST_Dump(ST_GeneratePoints(d.geom, 64, 9)) p;
CREATE INDEX ON bench_point (adcode, k);
ANALYZE bench_point;
INSERT INTO rent_record (contract_no, geom, district, building_type, floor, area_m2,
                         rent_yuan_per_m2_month, rent_yuan_month_total, start_date, end_date,
                         registered_date, created_by)
SELECT 'BENCH-' || r.g, p.geom, r.adcode, r.building_type,
       CASE r.building_type WHEN 'single_storey' THEN 1
            WHEN 'multi_storey' THEN 1 + floor(random() * 6)::int
            ELSE 1 + floor(random() * 20)::int END,
       r.area, r.rent, round(r.rent * r.area, 2), r.start_date,
       (r.start_date + make_interval(years => r.years))::date,
       r.start_date - floor(random() * 20)::int, 'rent_guidelines_at_scale'
FROM (
    SELECT g, l.adcode,
           round((l.level * CASE t.building_type WHEN 'single_storey' THEN 0.9
                                  WHEN 'multi_storey' THEN 1.0 ELSE 1.15 END
                  * exp(0.18 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
                  * CASE WHEN random() < 0.01 THEN 3.0 WHEN random() < 0.0101 THEN 0.3
                         ELSE 1 END)::numeric, 2) AS rent,
           round((200 * exp(1.2 * random() + 0.9 * random()))::numeric, 2) AS area,
           t.building_type,
           DATE '2023-01-01' + floor(random() * 1461)::int AS start_date,
           1 + floor(random() * 5)::int AS years,
           floor(random() * 64)::int AS k
    FROM (SELECT g, (SELECT array_agg(adcode) FROM bench_district_level,
                            generate_series(1, weight)) AS pool,
                 random() AS u, random() AS v
          FROM generate_series(1, %(records)s) g) s
    CROSS JOIN LATERAL (SELECT s.pool[1 + floor(s.u * array_length(s.pool, 1))::int] AS adcode) a
    JOIN bench_district_level l ON l.adcode = a.adcode
    CROSS JOIN LATERAL (SELECT CASE
        WHEN s.v < 0.30 THEN 'single_storey'
        WHEN s.v < 0.80 OR (NOT l.core AND random() > 0.01) THEN 'multi_storey'
        ELSE 'high_rise' END AS building_type) t
) r
JOIN bench_point p ON p.adcode = r.adcode AND p.k = r.k;
"""

CHILD = r"""
import json, sys, time
from datetime import date
from landsvc.db import get_engine
from sqlalchemy.orm import Session
from landsvc.guidelines import service as guidelines
from landsvc.guidelines.rules import parse_period
from landsvc.webmaps import rent_guide

period, repeat = sys.argv[1], int(sys.argv[2])
engine = get_engine()
times, answer = [], None
for _ in range(repeat):
    with Session(engine) as session:
        start = time.perf_counter()
        version = guidelines.compute(session=session, period=period, level="district")
        times.append(time.perf_counter() - start)
        answer = version
        session.rollback()
pages = {}
with Session(engine) as session:
    version = guidelines.compute(session=session, period=period, level="district")
    effective = parse_period(period).start
    guidelines.publish(session=session, version_id=version["id"], effective_date=effective)
    for run in ("cold", "warm"):
        start = time.perf_counter()
        html = rent_guide.render_rent_guide(session=session, period=period, as_of=effective)
        pages[run] = {"seconds": time.perf_counter() - start,
                      "bytes": len(html.encode("utf-8"))}
    session.rollback()
keys = ("district", "building_type", "zone", "median", "p25", "p75", "weighted_mean",
        "samples", "excluded", "source")
print(json.dumps({"compute_s": times, "records_considered": answer["records_considered"],
                  "items": [{k: i.get(k) for k in keys} for i in answer["items"]],
                  "page": pages}))
"""


def pin_maps(code: dict) -> None:
    """The snapshot of ``pin_code`` holds landsvc/ and geodata/; the page also needs maps/
    of the same commit (its vendor files are not in git and not needed to render)."""
    tree = Path(code["path"])
    if (tree / "maps").exists():
        return
    archive = subprocess.run(["git", "archive", "--format=tar", code["code"], "maps"], cwd=REPO,
                             check=True, capture_output=True).stdout
    partial = tree / "maps.tmp"
    partial.mkdir(exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(partial, filter="data")
    (partial / "maps").rename(tree / "maps")
    partial.rmdir()


# -- data set -------------------------------------------------------------------------------
def fingerprint(args) -> dict:
    code_root = Path(base.CODE_ENV.get("PYTHONPATH", REPO))
    migrations = hashlib.sha256()
    for path in sorted((code_root / "landsvc" / "alembic" / "versions").glob("*.py")):
        migrations.update(path.read_bytes())
    return {"records": args.records, "seed": args.seed,
            "sql": hashlib.sha256(GENERATE_SQL.encode()).hexdigest()[:16],
            "migrations": migrations.hexdigest()[:16]}


def cluster_url(home: Path) -> str:
    start = ("import sys; from pathlib import Path; from landsvc.pgcluster import PgCluster; "
             "print(PgCluster(Path(sys.argv[1]), fast=False).start().url)")
    return subprocess.run([sys.executable, "-c", start, str(home)], env=base.landsvc_env(),
                          cwd="/", check=True, capture_output=True, text=True).stdout.strip()


def prepare(args) -> tuple[str, str, dict]:
    """(url, dsn, build timings) of the database holding the data set."""
    home = args.bench_dir / "pg"
    args.bench_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(args.bench_dir, 0o755)  # the postgres user must traverse it
    url = cluster_url(home)
    dsn = base.conninfo(url)
    want = fingerprint(args)
    row = base.sql(dsn, "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                        "WHERE datname = current_database()")
    stored = json.loads(row[0][0]) if row and row[0][0] else None
    if stored == want and not args.rebuild:
        print(f"data set: reusing {base.sql(dsn, 'SELECT count(*) FROM rent_record')[0][0]:,} "
              "rent records")
        return url, dsn, {}
    base.sql(dsn.replace("dbname=landsvc", "dbname=postgres"),
             "DROP DATABASE IF EXISTS landsvc WITH (FORCE)")
    url = cluster_url(home)
    env = base.landsvc_env(LANDSVC_DATABASE_URL=url)
    # "heads": while issue 9's migrations are parallel branches (the CLI's default is "head").
    for cmd in (["db", "upgrade", "--revision", "heads"], ["geodata", "load"]):
        subprocess.run([str(VENV_BIN / "landsvc"), *cmd], env=env, check=True, cwd="/",
                       stdout=subprocess.DEVNULL)
    start = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Client-side binding: one round trip for the whole script of statements.
        psycopg.ClientCursor(conn).execute(
            GENERATE_SQL, {"seed": (args.seed % 1000) / 1000, "records": args.records})
        conn.execute("VACUUM (ANALYZE) rent_record")
        conn.execute(psycopg.sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            psycopg.sql.Identifier(conn.info.dbname), psycopg.sql.Literal(json.dumps(want))))
    seconds = time.perf_counter() - start
    print(f"data set: {args.records:,} rent records generated in {seconds:.0f} s")
    return url, dsn, {"generate_s": seconds}


def describe(dsn: str, period_start: dt.date, period_end: dt.date) -> dict:
    rows = base.sql(dsn, "SELECT left(district, 4), count(*), "
                         "percentile_cont(0.5) WITHIN GROUP (ORDER BY rent_yuan_per_m2_month) "
                         "FROM rent_record GROUP BY 1 ORDER BY 1")
    in_force = base.sql(dsn, f"SELECT count(*) FROM rent_record WHERE start_date <= "
                             f"'{period_end}' AND end_date >= '{period_start}'")[0][0]
    return {"records": sum(r[1] for r in rows), "in_force": in_force,
            "per_city": {r[0]: {"records": r[1], "median_rent": round(r[2], 2)} for r in rows}}


# -- phases 1 and 3: the service, in a child process on the pinned code -----------------------
def run_service(url: str, period: str, repeat: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, period, str(repeat)],
                          env=base.landsvc_env(LANDSVC_DATABASE_URL=url, LANDSVC_LOG_LEVEL="ERROR"),
                          cwd="/", check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- phase 2: the pandas baseline ------------------------------------------------------------
def load_frame(dsn: str, period_start: dt.date, period_end: dt.date):
    import pandas as pd

    query = ("COPY (SELECT district, left(district, 4) AS city, building_type, "
             "area_m2::float8 AS area, rent_yuan_per_m2_month::float8 AS rent FROM rent_record "
             f"WHERE start_date <= '{period_end}' AND end_date >= '{period_start}') "
             "TO STDOUT WITH (FORMAT csv, HEADER)")
    buffer = io.BytesIO()
    with psycopg.connect(dsn) as conn, conn.cursor().copy(query) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype={"district": str, "city": str, "building_type": str})


def pandas_stats(frame, key: str, iqr_factor: float):
    """Per (key, building_type): the statistics after dropping rents outside the fences."""
    import numpy as np

    groups = [key, "building_type"]
    q = frame.groupby(groups).rent.quantile([0.25, 0.75]).unstack()
    q.columns = ["q1", "q3"]
    q["lo"] = q.q1 - iqr_factor * (q.q3 - q.q1)
    q["hi"] = q.q3 + iqr_factor * (q.q3 - q.q1)
    joined = frame.join(q[["lo", "hi"]], on=groups)
    kept = joined[(joined.rent >= joined.lo) & (joined.rent <= joined.hi)].copy()
    kept["weighted"] = kept.area * kept.rent
    grouped = kept.groupby(groups)
    out = grouped.rent.quantile([0.25, 0.5, 0.75]).unstack()
    out.columns = ["p25", "median", "p75"]
    out["weighted_mean"] = grouped.weighted.sum() / grouped.area.sum()
    out["samples"] = grouped.size().astype(np.int64)
    return out


def pandas_items(frame, districts: list[str], iqr_factor: float, min_samples: int) -> list[dict]:
    by_district = pandas_stats(frame, "district", iqr_factor)
    by_city = pandas_stats(frame, "city", iqr_factor)
    items = []
    for district in districts:
        for kind in TYPES:
            for stats, key, source in ((by_district, district, "district"),
                                       (by_city, district[:4], "city_fallback")):
                if (key, kind) in stats.index and stats.loc[(key, kind), "samples"] >= min_samples:
                    row = stats.loc[(key, kind)]
                    items.append({"district": district, "building_type": kind,
                                  **{f: pg_round(row[f]) for f in
                                     ("median", "p25", "p75", "weighted_mean")},
                                  "samples": int(row.samples), "source": source})
                    break
    return items


def pg_round(value: float) -> float:
    """``round(value::numeric, 2)`` as PostgreSQL does it: float8 -> numeric through 15
    significant digits, then half away from zero."""
    return float(Decimal(f"{value:.15g}").quantize(Decimal("0.01"), ROUND_HALF_UP))


def compare(ours: list[dict], theirs: list[dict]) -> dict:
    key = lambda i: (i["district"], i["building_type"])  # noqa: E731
    mine, base_ = {key(i): i for i in ours if i.get("zone") is None}, {key(i): i for i in theirs}
    only_ours = sorted(set(mine) - set(base_))
    only_baseline = sorted(set(base_) - set(mine))
    mismatches = []
    for k in sorted(set(mine) & set(base_)):
        for field in FIELDS:
            a, b = mine[k][field], base_[k][field]
            if (a != b) if field in ("samples", "source") else abs(float(a) - float(b)) > 1e-9:
                mismatches.append({"item": list(k), "field": field, "ours": a, "pandas": b})
    return {"items_ours": len(mine), "items_pandas": len(base_), "only_ours": only_ours,
            "only_pandas": only_baseline, "mismatches": mismatches,
            "equal": not (only_ours or only_baseline or mismatches)}


# -- report -----------------------------------------------------------------------------------
def markdown(result: dict) -> str:
    s, p, c = result["service"], result["pandas"], result["comparison"]
    page = s["page"]
    sources = {}
    for item in s["items"]:
        sources[item["source"]] = sources.get(item["source"], 0) + 1
    lines = [
        f"rent records {result['data']['records']:,}, in force in {result['period']} "
        f"{result['data']['in_force']:,}; load average {result['load_start']} at the start, "
        f"{result['load_end']} at the end",
        "",
        "| phase | n | median s | min s | max s | target |",
        "|---|--:|--:|--:|--:|--|",
        f"| compute every guideline of {result['period']} (service) | {len(s['compute_s'])} | "
        f"{statistics.median(s['compute_s']):.2f} | {min(s['compute_s']):.2f} | "
        f"{max(s['compute_s']):.2f} | ≤ 10 s |",
        f"| pandas: read the leases in force (COPY → DataFrame) | {len(p['load_s'])} | "
        f"{statistics.median(p['load_s']):.2f} | {min(p['load_s']):.2f} | {max(p['load_s']):.2f} | |",
        f"| pandas: the same statistics by group-by | {len(p['stats_s'])} | "
        f"{statistics.median(p['stats_s']):.2f} | {min(p['stats_s']):.2f} | "
        f"{max(p['stats_s']):.2f} | |",
        f"| rent-guide page, cold (district base built) | 1 | {page['cold']['seconds']:.2f} | | "
        "| ≤ 2 s |",
        f"| rent-guide page, warm | 1 | {page['warm']['seconds']:.2f} | | | ≤ 2 s |",
        "",
        f"- Items: {c['items_ours']} ours, {c['items_pandas']} pandas; by source "
        + ", ".join(f"{k} {v}" for k, v in sorted(sources.items())) + ".",
        f"- Equal: {'yes, every figure of every item' if c['equal'] else 'NO'}; "
        f"{len(c['mismatches'])} mismatched figures, {len(c['only_ours'])} items only ours, "
        f"{len(c['only_pandas'])} only pandas.",
        f"- Page: {page['warm']['bytes']:,} bytes (budget 1,500,000).",
    ]
    return "\n".join(lines)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--period", default="2025")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--bench-dir", type=Path,
                        default=Path(os.environ.get("BENCH_DIR", "/tmp/landsvc-rent-bench")))
    parser.add_argument("--code", default="worktree",
                        help="git revision to run landsvc from (default: the work tree)")
    args = parser.parse_args()
    args.bench_dir = args.bench_dir.resolve()
    load_start = load_average()
    code = base.pin_code(args.code)
    if code["code"] != "worktree":
        pin_maps(code)
    sys.path.insert(0, code["path"])
    from landsvc.guidelines.rules import GuidelineRules, parse_period

    url, dsn, build = prepare(args)
    period = parse_period(args.period)
    data = describe(dsn, period.start, period.end)
    print("data: " + json.dumps(data, ensure_ascii=False))

    service = run_service(url, period.text, args.repeat)
    print(f"service: compute {[round(t, 2) for t in service['compute_s']]} s, "
          f"{len(service['items'])} items, page {service['page']}")

    rules = GuidelineRules()
    districts = [r[0] for r in base.sql(dsn, "SELECT adcode FROM district ORDER BY adcode")]
    load_s, stats_s, theirs = [], [], None
    for _ in range(args.repeat):
        start = time.perf_counter()
        frame = load_frame(dsn, period.start, period.end)
        load_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = pandas_items(frame, districts, float(rules.iqr_factor), int(rules.min_samples))
        stats_s.append(time.perf_counter() - start)
    comparison = compare(service["items"], theirs)
    result = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "code": code,
              "period": period.text, "args": {k: str(v) for k, v in vars(args).items()},
              "build": build, "data": data, "service": service,
              "pandas": {"load_s": load_s, "stats_s": stats_s, "rows": len(frame)},
              "comparison": comparison, "load_start": load_start, "load_end": load_average()}
    OUT.mkdir(exist_ok=True)
    path = OUT / f"rent-guidelines-{dt.datetime.now():%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), "utf-8")
    print(markdown(result))
    print(f"raw results: {path.relative_to(REPO)}")
    if not comparison["equal"]:
        print("mismatches (first 20): " + json.dumps(comparison["mismatches"][:20],
                                                      ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
