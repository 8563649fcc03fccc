"""Where the time of ``import_parcels`` goes: client phases (cProfile) and server-side COPY cost.

    python benchmarks/profile_import.py 200000 [--code HEAD] [--seed 2023] [--db-home DIR]

1. Runs ``import_parcels`` in-process under cProfile on a cached synthetic file into an emptied
   ``parcel`` table, and prints the wall time of each phase (functions named in PHASES) and
   the top functions by own time; the profile is saved to ``benchmarks/out/``.
2. Writes the exact CSV that import sends to COPY once to a file, then replays it with COPY
   into copies of ``parcel``: first as the import loads an empty table (secondary and unique
   indexes built after the COPY), then with one part of the schema changed at a time (each generated
   column, foreign key and key, as found in the catalogue), so the server-side cost of each
   can be read off. The copies live only in the
   benchmark database and are dropped afterwards.
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

from import_vs_ogr2ogr import (  # noqa: E402
    CODE_ENV,
    OUT,
    landsvc_env,
    parcel_file,
    pin_code,
    sql,
    start_database,
)

PHASES = [
    ("open_source", "reader.py", "open_source"),
    ("read_column (code column)", "reader.py", "read_column"),
    ("_is_empty", "importing.py", "_is_empty"),
    ("stored_codes (codes vs DB)", "service.py", "stored_codes"),
    ("find_duplicate_codes", "importing.py", "find_duplicate_codes"),
    ("district_index (load+subdivide)", "service.py", "district_index"),
    ("iter_batches (read Arrow+from_wkb)", "reader.py", "iter_batches"),
    ("  _from_wkb", "reader.py", "_from_wkb"),
    ("  text_column (attribute columns)", "reader.py", "text_column"),
    ("RowChecker.check (all checks)", "checks.py", "check"),
    ("  _check_geometry", "checks.py", "_check_geometry"),
    ("    _to_wgs84 (reprojection)", "checks.py", "_to_wgs84"),
    ("  DistrictIndex.assign", "index.py", "assign"),
    ("  _check_attributes", "checks.py", "_check_attributes"),
    ("  ewkb_multipolygon_hex", "geo.py", "ewkb_multipolygon_hex"),
    ("csv_rows (Arrow CSV)", "writer.py", "csv_rows"),
    ("Copy.write (hand data to COPY writer)", "copy.py", "write"),
    ("Copy.__exit__ (drain writer, end COPY)", "copy.py", "__exit__"),
    ("indexes_built_after (drop/build/ANALYZE)", "writer.py", "indexes_built_after"),
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
    from landsvc.parcels.importing import import_parcels

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
          f"(cProfile adds overhead to Python-level calls and sees only the main thread,\n"
          f"not psycopg's COPY writer thread)\n")
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
    from landsvc.districts.service import district_index
    from landsvc.ingest import reader, writer
    from landsvc.parcels.checks import RowChecker
    from landsvc.parcels.importing import LAYOUT
    from landsvc.parcels.service import COPY_COLUMNS

    with (session_scope() as session, target.open("wb") as fh,
          reader.open_source(path, LAYOUT) as source):
        checker = RowChecker(district_index(session=session), source.crs)
        for first, geoms, attrs in reader.iter_batches(source):
            rows = checker.check(first, geoms, attrs).rows
            fh.write(writer.csv_rows(rows, COPY_COLUMNS))


def schema_parts(dsn: str) -> dict[str, list]:
    """The parts of ``parcel`` that cost something per COPY row, read from the catalogue."""
    generated = [r[0] for r in sql(dsn, """
        SELECT column_name FROM information_schema.columns
        WHERE table_name = 'parcel' AND is_generated = 'ALWAYS' ORDER BY ordinal_position""")]
    indexes = sql(dsn, """
        SELECT i.indexname, i.indexdef, c.contype
        FROM pg_indexes i
        LEFT JOIN pg_constraint c ON c.conname = i.indexname AND c.contype IN ('p', 'u')
        WHERE i.tablename = 'parcel' ORDER BY i.indexname""")
    fks = sql(dsn, """
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = 'parcel'::regclass AND contype = 'f' ORDER BY conname""")
    return {"generated": generated,
            "keys": [(n, d) for n, d, kind in indexes if kind == "p"],
            "uniques": [(n, d) for n, d, kind in indexes if kind == "u"],
            "indexes": [(n, d) for n, d, kind in indexes if kind is None],
            "fks": list(fks)}


def variants(parts: dict) -> dict[str, dict]:
    """label -> what to leave out of the copy of ``parcel`` (and which indexes to build after).

    The first is what ``import_parcels`` does with an empty table (secondary indexes and the
    unique code's dropped for the COPY and built afterwards); the others change one thing.
    """
    secondary = [n for n, _ in parts["indexes"]]
    unique = [n for n, _ in parts["uniques"]]
    bulk = {"indexes": secondary + unique, "after": secondary + unique}
    out = {"empty-table import (indexes built after)": bulk}
    for column in parts["generated"]:
        out[f"  without generated column {column}"] = bulk | {"columns": [column]}
    for name, _ in parts["fks"]:
        out[f"  without foreign key {name}"] = bulk | {"fks": [name]}
    for name in unique:
        out[f"  {name} maintained during COPY"] = {"indexes": secondary, "after": secondary}
    out["  all indexes kept during COPY (non-empty table)"] = {}
    out["  bare heap (no keys, indexes, generated cols)"] = {
        "columns": parts["generated"], "fks": [n for n, _ in parts["fks"]],
        "indexes": secondary + unique + [n for n, _ in parts["keys"]]}
    return out


def build_copy(dsn: str, t: str, parts: dict, leave_out: dict) -> list[str]:
    """Create ``t`` like ``parcel`` without the parts named; return the deferred index DDL."""
    sql(dsn, f"DROP TABLE IF EXISTS {t}")
    sql(dsn, f"CREATE TABLE {t} (LIKE parcel INCLUDING ALL EXCLUDING INDEXES)")
    for column in leave_out.get("columns", []):
        sql(dsn, f"ALTER TABLE {t} DROP COLUMN {column}")
    for name, definition in parts["fks"]:
        if name not in leave_out.get("fks", []):
            sql(dsn, f"ALTER TABLE {t} ADD CONSTRAINT {t}_{name} {definition}")
    after = []
    for name, definition in parts["keys"] + parts["uniques"] + parts["indexes"]:
        ddl = (definition.replace(f"INDEX {name} ON", f"INDEX {t}_{name} ON")
               .replace("ON public.parcel ", f"ON {t} "))
        if name in leave_out.get("after", []):
            after.append(ddl)
        elif name not in leave_out.get("indexes", []):
            sql(dsn, ddl)
    return after


def profile_server(csv_path: Path, dsn: str, repeat: int, only: list[str] | None = None) -> None:
    from landsvc.parcels.service import COPY_COLUMNS

    columns = ", ".join(COPY_COLUMNS)
    parts = schema_parts(dsn)
    print(f"\nserver side: COPY of the same {csv_path.stat().st_size / 2**20:.0f} MiB CSV "
          f"into copies of parcel (one transaction each, median of {repeat})")
    print(f"parcel has: generated {parts['generated']}, foreign keys {[n for n, _ in parts['fks']]}, "
          f"keys {[n for n, _ in parts['keys'] + parts['uniques']]}, "
          f"indexes {[n for n, _ in parts['indexes']]}\n")
    baseline = None
    t = "bench_copy"
    for label, leave_out in variants(parts).items():
        if only and label != next(iter(variants(parts))) and not any(o in label for o in only):
            continue
        times = []
        for _ in range(repeat):
            after = build_copy(dsn, t, parts, leave_out)
            sql(dsn, "CHECKPOINT")
            with psycopg.connect(dsn) as conn, csv_path.open("rb") as fh:
                start = time.perf_counter()
                with conn.cursor().copy(f"COPY {t} ({columns}) FROM STDIN WITH (FORMAT csv)"
                                        ) as copy:
                    while chunk := fh.read(1 << 20):
                        copy.write(chunk)
                for ddl in after:
                    conn.execute(ddl)
                if after:
                    conn.execute(f"ANALYZE {t}")  # as the import does after building them
                conn.commit()
                times.append(time.perf_counter() - start)
            sql(dsn, f"DROP TABLE {t}")
        median = sorted(times)[len(times) // 2]
        baseline = baseline or median
        runs = " ".join(f"{t:.1f}" for t in times)
        print(f"{label:<50} {median:>6.1f} s   ({median - baseline:+.1f} s)   runs: {runs}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, nargs="?", default=200_000)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--db-home", type=Path, default=Path("/tmp/landsvc-bench"))
    parser.add_argument("--database-url", help="use this server instead of the embedded cluster")
    parser.add_argument("--server-repeat", type=int, default=1)
    parser.add_argument("--skip-client", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--only", nargs="+", default=None,
                        help="server side: run only variants whose label contains one of these")
    parser.add_argument("--code", default="worktree",
                        help="git revision of landsvc to profile (default: the work tree)")
    args = parser.parse_args()

    code = pin_code(args.code)
    if CODE_ENV and os.environ.get("PYTHONPATH") != CODE_ENV["PYTHONPATH"]:
        # landsvc is imported in-process: restart with the snapshot first on the path.
        os.execve(sys.executable, [sys.executable, *sys.argv], landsvc_env())
    import landsvc

    print(f"profiling landsvc from {Path(landsvc.__file__).parent} ({code['code'][:12]})")

    url, dsn = start_database(args)
    os.environ["LANDSVC_DATABASE_URL"] = url
    path = parcel_file(args.count, args.seed)
    if not args.skip_client:
        profile_client(path, args.count, url, dsn)
    if not args.skip_server:
        csv_path = OUT / f"copy-{args.count}.csv"
        stamp, key = csv_path.with_suffix(".code"), f"{code['code']} {path.stat().st_mtime_ns}"
        if not csv_path.exists() or not stamp.exists() or stamp.read_text() != key:
            capture_csv(path, csv_path)
            stamp.write_text(key)
        profile_server(csv_path, dsn, args.server_repeat, args.only)


if __name__ == "__main__":
    main()
