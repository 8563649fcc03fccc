"""Matching at provincial scale: the matches endpoint against a naive geopandas baseline.

    .venv/bin/python benchmarks/matching_at_scale.py [--code HEAD]

The data set (an embedded cluster in ``$BENCH_DIR/pg``, default /tmp/landsvc-scale-bench):
1M parcels and ~100k offerings as ``ogc_vs_peers.py`` builds them (~70k published), then
``generate_demand_side.py``: ~40k buildings, 300k published factory listings, 50k
enterprises with tiers and 50k open demands near points of the Pearl River Delta cities. Both
parts are rebuilt only when their fingerprint changes.

Phases, in one run:

1. ``GET /api/v1/demands/{id}/matches?kind=offerings&limit=20`` and ``kind=listings`` for a
   random sample of demands wanting land, resp. premises: one uvicorn worker on loopback, an
   admin token, one keep-alive ``httpx.Client``; the time of a request runs from sending it
   to having read the body. The server process's CPU per request is read from ``/proc``.
2. Allocation of 10k demands over 50k offerings, when ``landsvc.allocations`` offers a
   service to run (else reported as pending).
3. The naive baseline, for the same demands: the published candidates of the demand's city
   loaded with ``geopandas.read_postgis``, then filtered in pandas (geodesic distance of the
   centroid with ``pyproj.Geod``, area, mode, budget, tier, technical needs), scored with the
   same scoring functions, sorted; the time per demand.

A markdown summary goes to stdout, raw results to ``benchmarks/out/scale-results-<ts>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate_demand_side as demand_side  # noqa: E402
import import_vs_ogr2ogr as base  # noqa: E402
import ogc_vs_peers as ogc  # noqa: E402

REPO = base.REPO
OUT = base.OUT
VENV_BIN = Path(sys.executable).parent
LIMIT = 20


# -- data set -------------------------------------------------------------------------------
def demand_fingerprint(args) -> dict:
    return {"seed": args.seed, "buildings": args.buildings, "listings": args.listings,
            "enterprises": args.enterprises, "demands": args.demands,
            "sql": demand_side.digest()}


def prepare_demand_side(args, dsn: str, rebuilt: bool) -> dict:
    want = demand_fingerprint(args)
    row = base.sql(dsn, "SELECT obj_description('demand'::regclass, 'pg_class')")
    stored = json.loads(row[0][0]) if row and row[0][0] else None
    if stored == want and not rebuilt and not args.rebuild:
        print("demand side: reusing " + ", ".join(
            f"{base.sql(dsn, f'SELECT count(*) FROM {t}')[0][0]:,} {t}s"
            for t in ("building", "listing", "enterprise", "demand")))
        return {}
    timings = demand_side.generate(dsn, seed=args.seed, buildings=args.buildings,
                                   listings=args.listings, enterprises=args.enterprises,
                                   demands=args.demands)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("COMMENT ON TABLE demand IS {}").format(
            psycopg.sql.Literal(json.dumps(want))))
    print("demand side generated: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return timings


def counts(dsn: str) -> dict:
    q = {"parcels": "SELECT count(*) FROM parcel",
         "offerings_published": "SELECT count(*) FROM offering WHERE status = 'published'",
         "buildings": "SELECT count(*) FROM building",
         "listings_published": "SELECT count(*) FROM listing WHERE status = 'published'",
         "enterprises": "SELECT count(*) FROM enterprise",
         "demands_open": "SELECT count(*) FROM demand WHERE status = 'open'",
         "demands_by_kinds": "SELECT json_object_agg(k, n) FROM (SELECT array_to_string(kinds, "
                             "'+') k, count(*) n FROM demand GROUP BY 1) s"}
    return {k: base.sql(dsn, v)[0][0] for k, v in q.items()}


def sample_demands(dsn: str, want: str, count: int, seed: int) -> list[int]:
    ids = [r[0] for r in base.sql(dsn, f"SELECT id FROM demand WHERE status = 'open' AND "
                                       f"'{want}' = ANY(kinds) ORDER BY id")]
    return random.Random(f"{seed}-{want}").sample(ids, count)


# -- phase 1: the endpoint ------------------------------------------------------------------
def admin_token(db_url: str) -> str:
    return subprocess.run([str(VENV_BIN / "landsvc"), "token", "create", "--role", "admin",
                           "--label", "matching_at_scale benchmark"],
                          env=base.landsvc_env(LANDSVC_DATABASE_URL=db_url), cwd="/",
                          check=True, capture_output=True, text=True).stdout.strip()


def quantiles(ms: list[float]) -> dict:
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    return {"n": len(ms), "p50_ms": statistics.median(ms), "p95_ms": cuts[94],
            "p99_ms": cuts[98], "mean_ms": statistics.fmean(ms), "max_ms": max(ms)}


def measure_endpoint(client: httpx.Client, server, kind: str, ids: list[int],
                     warmup: int) -> tuple[dict, dict[int, list[int]]]:
    def ask(demand_id: int) -> tuple[float, httpx.Response]:
        start = time.perf_counter()
        r = client.get(f"/api/v1/demands/{demand_id}/matches",
                       params={"kind": kind, "limit": LIMIT})
        r.read()
        return time.perf_counter() - start, r

    for demand_id in ids[:warmup]:
        if ask(demand_id)[1].status_code != 200:
            raise RuntimeError(f"warm-up: demand {demand_id} {kind}: {ask(demand_id)[1].text}")
    timed, ms, returned, errors, answers = ids[warmup:], [], [], 0, {}
    cpu = server.cpu_seconds()
    gc.disable()
    try:
        for demand_id in timed:
            seconds, r = ask(demand_id)
            ms.append(seconds * 1000)
            if r.status_code != 200:
                errors += 1
                continue
            items = r.json()["items"]
            returned.append(len(items))
            answers[demand_id] = [i["id"] for i in items]
    finally:
        gc.enable()
    cpu = server.cpu_seconds() - cpu
    return (quantiles(ms) | {"errors": errors, "server_cpu_ms_per_request": cpu * 1000 / len(ms),
                             "median_returned": statistics.median(returned) if returned else 0,
                             "empty_answers": sum(n == 0 for n in returned),
                             "latencies_ms": [round(v, 3) for v in ms]}), answers


# -- phase 3: the naive baseline ------------------------------------------------------------
NAIVE_OFFERINGS = """
SELECT o.id, o.geom, o.area_m2::float8 AS area_m2, o.supply_mode, o.min_tier, o.srdi_priority,
       o.start_price_wan::float8 AS start_price_wan,
       o.annual_rent_yuan::float8 AS annual_rent_yuan, o.term_years, o.lease_years,
       o.transfer_years, p.park_id, k.leading_industries, k.services
FROM offering o JOIN parcel p ON p.id = o.parcel_id LEFT JOIN park k ON k.id = p.park_id
WHERE o.status = 'published' AND left(o.district, 4) = %(city)s
"""
NAIVE_LISTINGS = """
SELECT l.id, b.geom, l.area_m2::float8 AS area_m2,
       l.rent_yuan_per_m2_month::float8 AS rent_yuan_per_m2_month, l.power_kva::float8 AS
       power_kva, l.floor_load_kn_m2::float8 AS floor_load_kn_m2, l.clear_height_m::float8 AS
       clear_height_m, l.freight_lift, b.park_id, k.leading_industries, k.services
FROM listing l JOIN building b ON b.id = l.building_id LEFT JOIN park k ON k.id = b.park_id
WHERE l.status = 'published' AND l.kind IN ('factory', 'standard_factory')
  AND left(b.district, 4) = %(city)s
"""
NAIVE_DEMAND = """
SELECT d.*, ST_X(d.near_point) AS lon, ST_Y(d.near_point) AS lat, e.tier,
       (e.tier_valid_from IS NULL OR e.tier_valid_from <= current_date)
       AND (e.tier_valid_to IS NULL OR e.tier_valid_to >= current_date) AS tier_in_force
FROM demand d JOIN enterprise e ON e.uscc = d.enterprise_uscc WHERE d.id = %(id)s
"""


def naive_match(engine, geod, kind: str, demand_id: int) -> list[int]:
    """The best LIMIT candidate ids, the way a script would do it without the service."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from landsvc.enterprises.tiers import Tier
    from landsvc.matching import scoring
    from landsvc.matching import service as matching

    d = pd.read_sql(NAIVE_DEMAND, engine, params={"id": demand_id}).iloc[0]
    sql = NAIVE_OFFERINGS if kind == "offerings" else NAIVE_LISTINGS
    gdf = gpd.read_postgis(sql, engine, geom_col="geom", params={"city": d.scope[0][:4]})
    with warnings.catch_warnings():  # degrees: metre-sized error on parcels, none on points
        warnings.simplefilter("ignore", UserWarning)
        centroids = gdf.geometry.centroid
    _, _, metres = geod.inv(np.full(len(gdf), d.lon), np.full(len(gdf), d.lat),
                            centroids.x.to_numpy(), centroids.y.to_numpy())
    gdf["distance_km"] = metres / 1000
    keep = gdf.distance_km <= float(d.near_radius_m) / 1000
    if d.area_min_m2 is not None:
        keep &= gdf.area_m2 >= float(d.area_min_m2)
    if d.area_max_m2 is not None:
        keep &= gdf.area_m2 <= float(d.area_max_m2)
    if kind == "offerings":
        tier = Tier(d.tier) if d.tier_in_force else Tier.none
        if len(d.supply_modes):
            keep &= gdf.supply_mode.isin(list(d.supply_modes))
        for column, bound in (("start_price_wan", d.max_price_wan),
                              ("annual_rent_yuan", d.max_annual_rent_yuan)):
            if bound is not None and not pd.isna(bound):
                keep &= gdf[column].isna() | (gdf[column] <= float(bound))
        keep &= gdf.min_tier.map(lambda t: Tier(t).rank <= tier.rank)
    else:
        if d.max_rent_yuan_per_m2_month is not None and not pd.isna(d.max_rent_yuan_per_m2_month):
            keep &= gdf.rent_yuan_per_m2_month <= float(d.max_rent_yuan_per_m2_month)
        for need in ("power_kva", "floor_load_kn_m2", "clear_height_m"):
            if d[need] is not None and not pd.isna(d[need]):
                keep &= gdf[need] >= float(d[need])
    candidates = gdf[keep]
    weights = scoring.MatchingWeights()
    w = matching.Wanted(
        radius_km=float(d.near_radius_m) / 1000, constrained=True,
        area_min=float(d.area_min_m2), area_max=float(d.area_max_m2),
        max_price_wan=None if pd.isna(d.max_price_wan) else float(d.max_price_wan),
        max_annual_rent_yuan=None if pd.isna(d.max_annual_rent_yuan)
        else float(d.max_annual_rent_yuan),
        max_rent=None if pd.isna(d.max_rent_yuan_per_m2_month)
        else float(d.max_rent_yuan_per_m2_month),
        term_years=None if pd.isna(d.term_years) else int(d.term_years),
        industry_code=d.industry_code,
        needs={n: None if pd.isna(d[n]) else float(d[n])
               for n in ("power_kva", "floor_load_kn_m2", "clear_height_m")})
    fits = matching.offering_fits if kind == "offerings" else matching.listing_fits
    scored = []
    for r in candidates.itertuples():
        r = r._replace(**{c: None for c in ("start_price_wan", "annual_rent_yuan",
                                            "term_years", "lease_years", "transfer_years")
                          if c in r._fields and pd.isna(getattr(r, c))})
        score, _ = scoring.explain(weights, fits(w, r))
        scored.append((-score, r.id))
    scored.sort()
    return [i for _, i in scored[:LIMIT]]


def measure_naive(db_url: str, kind: str, ids: list[int], server_answers: dict) -> dict:
    from pyproj import Geod
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    geod = Geod(ellps="WGS84")
    naive_match(engine, geod, kind, ids[0])  # imports and the connection, untimed
    ms, same = [], 0
    for demand_id in ids:
        start = time.perf_counter()
        got = naive_match(engine, geod, kind, demand_id)
        ms.append((time.perf_counter() - start) * 1000)
        same += set(got) == set(server_answers.get(demand_id, []))
    engine.dispose()
    return quantiles(ms) | {"same_ids_as_endpoint": same,
                            "latencies_ms": [round(v, 3) for v in ms]}


# -- phase 2: allocation --------------------------------------------------------------------
ALLOCATE = """
import json, resource, sys, time
from landsvc.access import Principal
from landsvc.allocations import service
from landsvc.db import _session_factory
from landsvc.tokens.models import Role
offering_ids, demand_ids = json.loads(sys.stdin.read())
session = _session_factory()()
start = time.perf_counter()
try:
    out = service.create_allocation(session=session, jurisdiction="44",
                                    offering_ids=offering_ids, demand_ids=demand_ids,
                                    principal=Principal(Role.admin))
    wall = time.perf_counter() - start
finally:
    session.rollback()  # the draft is written (flushed), then not kept
codes = {}
for u in out["unassigned"]:
    codes[u["code"]] = codes.get(u["code"], 0) + 1
print(json.dumps({"service_s": wall, "assigned": len(out["assignments"]),
                  "unassigned": codes,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure_allocation(args, db: ogc.Database) -> dict:
    """``allocations.service.create_allocation`` over the first ``--alloc-offerings`` published
    offerings (those of the Pearl River Delta first) and ``--alloc-demands`` random open land
    demands, in a child process: its wall time and peak RSS (its own ``ru_maxrss``)."""
    code_root = Path(base.CODE_ENV.get("PYTHONPATH", REPO))
    if not (code_root / "landsvc" / "allocations" / "service.py").exists():
        return {"status": "pending", "why": "landsvc/allocations/service.py not in the code "
                                            "under test"}
    offerings = [r[0] for r in base.sql(db.dsn, (
        "SELECT id FROM offering WHERE status = 'published' ORDER BY left(district, 4) <> ALL("
        f"ARRAY{list(demand_side.PRD_CITIES)}), id LIMIT {args.alloc_offerings}"))]
    demands = sample_demands(db.dsn, "land", args.alloc_demands, args.seed + 7)
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", ALLOCATE], cwd="/", capture_output=True,
                              text=True, input=json.dumps([offerings, demands]),
                              env=base.landsvc_env(LANDSVC_DATABASE_URL=db.url,
                                                   LANDSVC_LOG_LEVEL="WARNING"),
                              timeout=args.alloc_timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"did not finish within {args.alloc_timeout:.0f} s (stopped)",
                "offerings": len(offerings), "demands": len(demands),
                "wall_s": time.perf_counter() - start}
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"status": "failed", "why": done.stderr[-2000:]}
    return {"status": "done", "offerings": len(offerings), "demands": len(demands),
            "wall_s": wall,  # with the child's start-up and imports
            **json.loads(done.stdout.strip().splitlines()[-1])}


# -- report ---------------------------------------------------------------------------------
def markdown(result: dict) -> str:
    lines = ["| phase | n | p50 ms | p95 ms | p99 ms | server CPU ms/req | naive p50 / p95 "
             "(ms) | ratio p50 / p95 | same top-20 |", "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for kind in ("offerings", "listings"):
        e, n = result["endpoint"][kind], result["naive"].get(kind)
        row = (f"| matches kind={kind} limit={LIMIT} | {e['n']} | {e['p50_ms']:.1f} | "
               f"{e['p95_ms']:.1f} | {e['p99_ms']:.1f} | {e['server_cpu_ms_per_request']:.1f} |")
        if n:
            row += (f" {n['p50_ms']:.0f} / {n['p95_ms']:.0f} | "
                    f"{n['p50_ms'] / e['p50_ms']:.0f}× / {n['p95_ms'] / e['p95_ms']:.0f}× | "
                    f"{n['same_ids_as_endpoint']} of {n['n']} |")
        else:
            row += " | | |"
        lines.append(row)
    lines.append("")
    for kind in ("offerings", "listings"):
        e = result["endpoint"][kind]
        lines.append(f"- {kind}: p95 {e['p95_ms']:.1f} ms ≤ 50 ms: "
                     f"{'yes' if e['p95_ms'] <= 50 else 'NO'}; errors {e['errors']}, "
                     f"empty answers {e['empty_answers']}, median returned "
                     f"{e['median_returned']:g}")
    a = result["allocation"]
    if a["status"] == "done":
        lines.append(f"- allocation of {a['demands']:,} demands over {a['offerings']:,} offerings: "
                     f"{a['wall_s']:.1f} s wall ({a['service_s']:.1f} s in the service) ≤ 60 s: "
                     f"{'yes' if a['wall_s'] <= 60 else 'NO'}; peak RSS {a['peak_rss_mib']:.0f} "
                     f"MiB ≤ 4 GiB: {'yes' if a['peak_rss_mib'] <= 4096 else 'NO'}; assigned "
                     f"{a['assigned']:,}, left out {a['unassigned']}")
    else:
        lines.append(f"- allocation: {a['status']}" + (f" ({a['why']})" if "why" in a else ""))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-dir", type=Path,
                        default=Path(os.environ.get("BENCH_DIR", "/tmp/landsvc-scale-bench")))
    parser.add_argument("--database-url", help="use this server instead of the embedded cluster")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data set")
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--offerings", type=int, default=100_000,
                        help="offerings generated (~70 %% published)")
    parser.add_argument("--buildings", type=int, default=40_000)
    parser.add_argument("--listings", type=int, default=300_000)
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--demands", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--requests", type=int, default=400,
                        help="timed matches requests per kind")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--naive", type=int, default=100,
                        help="demands per kind for the naive baseline (the first of the "
                             "endpoint's sample)")
    parser.add_argument("--alloc-demands", type=int, default=10_000)
    parser.add_argument("--alloc-offerings", type=int, default=50_000)
    parser.add_argument("--alloc-timeout", type=float, default=600,
                        help="seconds the allocation may take before it is stopped")
    parser.add_argument("--code", default="worktree",
                        help="git revision of landsvc to run (see import_vs_ogr2ogr.py)")
    args = parser.parse_args()
    args.bench_dir = args.bench_dir.resolve()
    args.servers = ["landsvc"]

    began = time.perf_counter()
    code = base.pin_code(args.code)
    phases = {}
    start = time.perf_counter()
    db, build = ogc.prepare_database(args)
    build |= prepare_demand_side(args, db.dsn, rebuilt=bool(build))
    phases["data_set_s"] = time.perf_counter() - start
    data = counts(db.dsn)
    started = dt.datetime.now().astimezone()
    load_start = os.getloadavg()
    git_start = base.git_state()
    print(f"{started:%Y-%m-%d %H:%M %Z} | load {load_start[0]:.2f} | "
          + (f"code {code['code'][:7]} (pinned)" if code["code"] != "worktree"
             else f"work tree at {git_start['commit'][:7]}"))
    print("data: " + json.dumps(data, ensure_ascii=False))

    n = args.warmup + args.requests
    samples = {"offerings": sample_demands(db.dsn, "land", n, args.seed),
               "listings": sample_demands(db.dsn, "premises", n, args.seed)}
    token = admin_token(db.url)
    server = ogc.make_servers(args, db)["landsvc"]
    result = {"endpoint": {}, "naive": {}}
    answers = {}
    try:
        server.start()
        server.wait_ready()
        with httpx.Client(base_url=server.base_url, timeout=60,
                          headers={"Authorization": f"Bearer {token}",
                                   "Accept-Encoding": "identity"}) as client:
            for kind in ("offerings", "listings"):
                start = time.perf_counter()
                result["endpoint"][kind], answers[kind] = measure_endpoint(
                    client, server, kind, samples[kind], args.warmup)
                phases[f"endpoint_{kind}_s"] = time.perf_counter() - start
    finally:
        server.stop()
    start = time.perf_counter()
    result["allocation"] = measure_allocation(args, db)
    phases["allocation_s"] = time.perf_counter() - start
    for kind in ("offerings", "listings"):
        start = time.perf_counter()
        ids = samples[kind][args.warmup:args.warmup + args.naive]
        result["naive"][kind] = measure_naive(db.url, kind, ids, answers[kind])
        phases[f"naive_{kind}_s"] = time.perf_counter() - start

    git_end = base.git_state()
    if code["code"] == "worktree" and git_end != git_start:
        print(f"WARNING: the code changed during the run ({git_start} -> {git_end})")
    phases["total_s"] = time.perf_counter() - began
    print()
    print(markdown(result))
    print("\nphases: " + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items())
          + f"; load average at start {load_start[0]:.2f}, at the end {os.getloadavg()[0]:.2f}")
    report = {"started": started.isoformat(timespec="seconds"),
              "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
              "argv": sys.argv, "code": code, "git_start": git_start, "git_end": git_end,
              "cpus": os.cpu_count(), "load_average_at_start": load_start,
              "load_average_at_end": os.getloadavg(), "data": data, "build": build,
              "phases": phases, "limit": LIMIT, **result}
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"scale-results-{started:%Y%m%dT%H%M%S}.json"
    target.write_text(json.dumps(report, indent=1, ensure_ascii=False, default=str) + "\n")
    print(f"raw results: {target.relative_to(REPO)}")


if __name__ == "__main__":
    main()
