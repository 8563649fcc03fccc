"""Where the time of ``import_parcels`` goes: client phases (cProfile) and server-side COPY cost.

    python benchmarks/profile_import.py 200000 [--seed 2023] [--db-home /tmp/landsvc-bench]

1. Runs ``import_parcels`` in-process under cProfile on a cached synthetic file into an emptied
   ``parcel`` table, and prints the wall time of each phase (functions named in PHASES) and
   the top functions by own time; the profile is saved to ``benchmarks/out/``.
2. Writes the exact CSV that import sends to COPY once to a file, then replays it with COPY
   into copies of ``parcel`` with parts of its schema removed (generated area columns,
   foreign key, secondary indexes, GiST), so the server-side cost of each can be read off.
   The copies live only in the benchmark database and are dropped afterwards.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from import_vs_ogr2ogr import OUT, conninfo, parcel_file, sql  # noqa: E402

PHASES = [
    ("open_source", "importing.py", "open_source"),
    ("read_codes (code column)", "importing.py", "read_codes"),
    ("_stored_codes (codes vs DB)", "service.py", "_stored_codes"),
    ("find_duplicate_codes", "importing.py", "find_duplicate_codes"),
    ("_district_index (load+subdivide)", "service.py", "_district_index"),
    ("iter_batches (read Arrow+from_wkb)", "importing.py", "iter_batches"),
    ("  _from_wkb", "importing.py", "_from_wkb"),
    ("  _text (attribute columns)", "importing.py", "_text"),
    ("RowChecker.check (all checks)", "importing.py", "check"),
    ("  _check_geometry", "importing.py", "_check_geometry"),
    ("    _to_wgs84 (reprojection)", "importing.py", "_to_wgs84"),
    ("  DistrictIndex.assign", "importing.py", "assign"),
    ("  _check_attributes", "importing.py", "_check_attributes"),
    ("  _ewkb_hex", "importing.py", "_ewkb_hex"),
    ("_csv (DataFrame.to_csv)", "service.py", "_csv"),
    ("Copy.write (send to server)", "copy.py", "write"),
    ("Copy.__exit__ (finish COPY)", "copy.py", "__exit__"),
]


def phase_times(stats: pstats.Stats) -> list[tuple[str, float, int]]:
    out = []
    for label, filename, func in PHASES:
        total, calls = 0.0, 0
        for (file, _, name), (cc, _nc, _tt, ct, _callers) in stats.stats.items():
            if name == func and file.endswith(filename):
                total, calls = total + ct, calls + cc
        out.append((label, total, calls))
    return out


def profile_client(path: Path, n: int, url: str, dsn: str) -> Path:
    os.environ["LANDSVC_DATABASE_URL"] = url
    from landsvc.db import session_scope
    from landsvc.parcels.service import import_parcels

    sql(dsn, "TRUNCATE parcel")
    sql(dsn, "CHECKPOINT")
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    with session_scope() as session:
        report = import_parcels(session=session, path=path)
    profiler.disable()
    wall = time.perf_counter() - start
    assert report["imported"] == n, report
    assert sql(dsn, "SELECT count(*) FROM parcel")[0][0] == n
    sql(dsn, "TRUNCATE parcel")

    target = OUT / f"profile-import-{n}.prof"
    profiler.dump_stats(target)
    stats = pstats.Stats(profiler)
    print(f"\nimport_parcels, {n} rows, in-process under cProfile: {wall:.1f} s wall "
          f"(cProfile adds overhead to Python-level calls)\n")
    print(f"{'phase':<40} {'cum s':>7} {'share':>6} {'calls':>6}")
    for label, seconds, calls in phase_times(stats):
        print(f"{label:<40} {seconds:>7.2f} {seconds / wall:>6.0%} {calls:>6}")
    print("\ntop 25 functions by own time:")
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(25)
    print("\n".join(buffer.getvalue().splitlines()[6:]))
    print(f"profile: {target}")
    return target


def capture_csv(path: Path, target: Path) -> None:
    """The bytes import_parcels would send to COPY, without a database write."""
    from landsvc.db import session_scope
    from landsvc.parcels import importing, service

    with session_scope() as session, target.open("wb") as fh:
        source = importing.open_source(path, None)
        checker = service.RowChecker(service._district_index(session), source.crs)
        for first, geoms, attrs in importing.iter_batches(source):
            fh.write(service._csv(checker.check(first, geoms, attrs).rows))


AREA = ["ALTER TABLE {t} DROP COLUMN area_mu", "ALTER TABLE {t} DROP COLUMN area_m2"]
FK = ["ALTER TABLE {t} DROP CONSTRAINT {t}_district_fkey"]
BTREE = ["DROP INDEX {t}_district_idx", "DROP INDEX {t}_status_idx"]
GIST = ["DROP INDEX {t}_geom_idx"]
# label -> (statements before COPY, statements after COPY inside the timed transaction)
VARIANTS = {
    "parcel as is": ([], []),
    "without area_mu only (one ST_Area less)": (["ALTER TABLE {t} DROP COLUMN area_mu"], []),
    "without generated area columns": (AREA, []),
    "without FK to district": (FK, []),
    "without btree indexes (district, status)": (BTREE, []),
    "without GiST index": (GIST, []),
    "GiST built after COPY (time included)": (
        GIST, ["CREATE INDEX {t}_geom_idx ON {t} USING gist (geom)"]),
    "bare (no area cols, FK, btrees, GiST)": (AREA + FK + BTREE + GIST, []),
}


def profile_server(csv_path: Path, dsn: str, repeat: int) -> None:
    from landsvc.parcels.service import COPY_COLUMNS

    columns = ", ".join(COPY_COLUMNS)
    print(f"\nserver side: COPY of the same {csv_path.stat().st_size / 2**20:.0f} MiB CSV "
          f"into copies of parcel (one transaction each, median of {repeat})\n")
    baseline = None
    for label, (alter, after) in VARIANTS.items():
        times = []
        for _ in range(repeat):
            t = "bench_copy"
            sql(dsn, f"DROP TABLE IF EXISTS {t}")
            # LIKE ... INCLUDING ALL copies generated columns, checks and indexes, not FKs.
            sql(dsn, f"CREATE TABLE {t} (LIKE parcel INCLUDING ALL)")
            sql(dsn, f"ALTER TABLE {t} ADD CONSTRAINT {t}_district_fkey "
                     "FOREIGN KEY (district) REFERENCES district(adcode)")
            names = dict(sql(dsn, f"SELECT indexdef, indexname FROM pg_indexes "
                                  f"WHERE tablename = '{t}'"))
            renames = {"(geom)": "geom_idx", "(district)": "district_idx", "(status)": "status_idx"}
            for definition, name in names.items():
                for key, new in renames.items():
                    if definition.endswith(key) and name != f"{t}_{new}":
                        sql(dsn, f"ALTER INDEX {name} RENAME TO {t}_{new}")
            for statement in alter:
                sql(dsn, statement.format(t=t))
            sql(dsn, "CHECKPOINT")
            with psycopg.connect(dsn) as conn, csv_path.open("rb") as fh:
                start = time.perf_counter()
                with conn.cursor().copy(f"COPY {t} ({columns}) FROM STDIN WITH (FORMAT csv)"
                                        ) as copy:
                    while chunk := fh.read(1 << 20):
                        copy.write(chunk)
                for statement in after:
                    conn.execute(statement.format(t=t))
                conn.commit()
                times.append(time.perf_counter() - start)
            sql(dsn, f"DROP TABLE {t}")
        median = sorted(times)[len(times) // 2]
        baseline = baseline or median
        print(f"{label:<44} {median:>6.1f} s   ({median - baseline:+.1f} s vs as is)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=200_000)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--db-home", type=Path, default=Path("/tmp/landsvc-bench"))
    parser.add_argument("--server-repeat", type=int, default=1)
    parser.add_argument("--skip-client", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()

    from landsvc.pgcluster import PgCluster

    url = PgCluster(args.db_home, fast=False).start().url
    os.environ["LANDSVC_DATABASE_URL"] = url
    dsn = conninfo(url)
    path = parcel_file(args.count, args.seed)
    if not args.skip_client:
        profile_client(path, args.count, url, dsn)
    if not args.skip_server:
        csv_path = OUT / f"copy-{args.count}.csv"
        if not csv_path.exists():
            capture_csv(path, csv_path)
        profile_server(csv_path, dsn, args.server_repeat)


if __name__ == "__main__":
    main()
