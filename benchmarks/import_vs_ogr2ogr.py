"""Bulk import of parcels: ``landsvc parcels import`` (validation included) against ``ogr2ogr``.

    python benchmarks/import_vs_ogr2ogr.py --sizes 100000 1000000 --repeat 3

For each size the synthetic GeoPackage is generated once and cached in ``benchmarks/out/``.
Both tools then load it, alternating which goes first in each repetition, into the same
database (an embedded PostgreSQL cluster in ``--db-home`` unless ``--database-url`` is given):

* ours: ``landsvc parcels import FILE`` as a subprocess, into an emptied ``parcel`` table;
* baseline: ``ogr2ogr -f PostgreSQL ... -nln bench_ogr -t_srs EPSG:4326 -nlt MULTIPOLYGON``,
  into a fresh ``bench_ogr`` table (dropped afterwards).

Each run records wall time, the client process's peak RSS and CPU time (GNU
``/usr/bin/time``), and the PostgreSQL server's CPU time (all server processes, from
``/proc``), and the CPU time everything else on the machine used meanwhile (interference on a
shared machine); the row count is checked after every run. A CHECKPOINT precedes every run so that neither tool pays for the
other's dirty buffers. Raw results go to ``benchmarks/out/results-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
VENV_BIN = Path(sys.executable).parent
LANDSVC = shutil.which("landsvc", path=str(VENV_BIN)) or "landsvc"
CLK_TCK = os.sysconf("SC_CLK_TCK")
GNU_TIME = "/usr/bin/time"


# -- code under test -----------------------------------------------------------------------
CODE_ENV: dict[str, str] = {}
"""Extra environment for every process that runs landsvc: PYTHONPATH of a pinned snapshot."""


def pin_code(rev: str) -> dict:
    """Run landsvc from ``rev`` (exported once to benchmarks/out/code-<sha>) or the work tree.

    Pinning keeps the code fixed for the whole run while others edit the work tree; the
    snapshot's directory comes first on PYTHONPATH, ahead of the editable install.
    """
    if rev == "worktree":
        return {"code": "worktree", "path": str(REPO)}
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout.strip()
    tree = OUT / f"code-{sha[:12]}"
    if not tree.exists():
        archive = subprocess.run(["git", "archive", "--format=tar", sha, "landsvc", "geodata"],
                                 cwd=REPO, check=True, capture_output=True).stdout
        partial = tree.with_name(tree.name + ".tmp")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(partial, filter="data")
        partial.rename(tree)
    CODE_ENV["PYTHONPATH"] = str(tree)
    return {"code": sha, "path": str(tree)}


def landsvc_env(**extra: str) -> dict:
    return os.environ | CODE_ENV | extra


# -- database -------------------------------------------------------------------------------
def start_database(args) -> tuple[str, str]:
    """(SQLAlchemy URL, libpq conninfo) of a database with the schema and districts loaded.

    The embedded cluster's database is dropped and created afresh, so that its schema is the
    one the code under test creates (a migration may have been edited in place).
    """
    if args.database_url:
        url = args.database_url
    else:
        start = ("import sys; from pathlib import Path; from landsvc.pgcluster import PgCluster; "
                 "print(PgCluster(Path(sys.argv[1]), fast=False).start().url)")

        def cluster_url() -> str:
            return subprocess.run([sys.executable, "-c", start, str(args.db_home)],
                                  env=landsvc_env(), check=True, capture_output=True,
                                  text=True).stdout.strip()

        url = cluster_url()
        admin = conninfo(url).replace("dbname=landsvc", "dbname=postgres")
        sql(admin, "DROP DATABASE IF EXISTS landsvc WITH (FORCE)")
        url = cluster_url()  # creates the database and PostGIS again
    env = landsvc_env(LANDSVC_DATABASE_URL=url)
    for cmd in (["db", "upgrade"], ["geodata", "load"]):
        subprocess.run([LANDSVC, *cmd], env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return url, conninfo(url)


def conninfo(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    parts = {"host": u.host or "127.0.0.1", "port": u.port or 5432, "user": u.username,
             "password": u.password, "dbname": u.database}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None)


def sql(dsn: str, statement: str):
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else None


APPEND_ONLY = ("approval_event", "quota_movement")
"""Tables whose triggers refuse TRUNCATE (the platform's append-only histories)."""


def truncate_cascade(conn: psycopg.Connection, tables: str) -> None:
    """``TRUNCATE tables RESTART IDENTITY CASCADE`` on a benchmark database, the append-only
    histories it reaches included: their guard is lifted for this one transaction."""
    with conn.transaction():
        for table in APPEND_ONLY:
            conn.execute(f"ALTER TABLE IF EXISTS {table} DISABLE TRIGGER USER")
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        for table in APPEND_ONLY:
            conn.execute(f"ALTER TABLE IF EXISTS {table} ENABLE TRIGGER USER")


def server_cpu_seconds(dsn: str) -> float | None:
    """CPU seconds used so far by the postmaster, its live children and its reaped children.

    Only works when the server runs on this machine and /proc is readable (e.g. as root or as
    the server's user); otherwise None.
    """
    try:
        data_dir = sql(dsn, "SHOW data_directory")[0][0]
        postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])

        def fields(pid: int) -> list[str]:
            stat = Path(f"/proc/{pid}/stat").read_text()
            return stat[stat.rindex(")") + 2:].split()

        f = fields(postmaster)
        ticks = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])  # utime stime cutime cstime
        for child in Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split():
            try:
                c = fields(int(child))
                ticks += int(c[11]) + int(c[12])
            except (FileNotFoundError, ProcessLookupError):
                pass  # exited meanwhile: counted in the postmaster's cutime once reaped
        return ticks / CLK_TCK
    except (OSError, PermissionError, ValueError, psycopg.Error):
        return None


def machine_busy_seconds() -> float:
    """CPU seconds all processes on this machine have used since boot (non-idle time)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


# -- measuring ------------------------------------------------------------------------------
def measure(argv: list[str], env: dict, dsn: str) -> dict:
    """Run ``argv`` to completion; wall time, peak RSS and CPU of the child, server CPU."""
    sql(dsn, "CHECKPOINT")
    server_before = server_cpu_seconds(dsn)
    busy_before = machine_busy_seconds()
    # Peak RSS comes from GNU time, not from os.wait4 on our own child: a child forked from
    # this (large) Python process can report the parent's RSS as its own high-water mark.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as usage:
        start = time.perf_counter()
        proc = subprocess.run([GNU_TIME, "-o", usage.name, "-f", "%M %U %S", *argv], env=env,
                              cwd=REPO, stdout=out, stderr=err)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        maxrss_kib, utime, stime = usage.read().split()[-3:]
    time.sleep(0.5)  # let the postmaster reap the client's backend
    server_after = server_cpu_seconds(dsn)
    busy = machine_busy_seconds() - busy_before
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {proc.returncode}:\n{stderr[-4000:]}")
    server = None if server_before is None or server_after is None else server_after - server_before
    client = float(utime) + float(stime)
    return {
        "wall_s": wall,
        "peak_rss_mb": int(maxrss_kib) / 1024,  # GNU time reports KiB
        "client_cpu_s": client,
        "server_cpu_s": server,
        # CPU used meanwhile by everything else on the machine: a measure of interference.
        "other_cpu_s": busy - client - (server or 0),
        "stdout": stdout,
    }


def emptied_parcels(dsn: str) -> None:
    """An empty ``parcel`` table (and what refers to it: a demo may have filled them)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        truncate_cascade(conn, "parcel")


def run_ours(path: Path, n: int, url: str, dsn: str) -> dict:
    emptied_parcels(dsn)
    env = landsvc_env(LANDSVC_DATABASE_URL=url)
    result = measure([LANDSVC, "parcels", "import", str(path)], env, dsn)
    report = json.loads(result.pop("stdout"))
    rows = sql(dsn, "SELECT count(*) FROM parcel")[0][0]
    if report["imported"] != n or rows != n:
        raise RuntimeError(f"ours: expected {n} rows, report says {report['imported']}, "
                           f"table has {rows}")
    emptied_parcels(dsn)
    return result | {"rows": rows}


def ogr2ogr_argv(path: Path, dsn: str) -> list[str]:
    return ["ogr2ogr", "-f", "PostgreSQL", f"PG:{dsn}", str(path), "-nln", "bench_ogr",
            "-t_srs", "EPSG:4326", "-nlt", "MULTIPOLYGON", "-lco", "GEOMETRY_NAME=geom",
            "-overwrite"]


def run_ogr2ogr(path: Path, n: int, dsn: str) -> dict:
    sql(dsn, "DROP TABLE IF EXISTS bench_ogr")
    result = measure(ogr2ogr_argv(path, dsn), dict(os.environ), dsn)
    result.pop("stdout")
    rows = sql(dsn, "SELECT count(*) FROM bench_ogr")[0][0]
    sql(dsn, "DROP TABLE bench_ogr")
    if rows != n:
        raise RuntimeError(f"ogr2ogr: expected {n} rows, table has {rows}")
    return result | {"rows": rows}


# -- input files ----------------------------------------------------------------------------
def generator_digest() -> str:
    """A digest of the synthetic-parcel generator, so a changed generator invalidates the cache."""
    root = Path(CODE_ENV.get("PYTHONPATH", REPO))
    source = (root / "landsvc" / "parcels" / "synthetic.py").read_bytes()
    return hashlib.sha256(source).hexdigest()[:16]


def parcel_file(n: int, seed: int) -> Path:
    """The cached GeoPackage of ``n`` parcels, (re)generated when missing or stale."""
    path = OUT / f"parcels-{n}-seed{seed}.gpkg"
    stamp = path.with_suffix(".generator")
    digest = generator_digest()
    if not path.exists() or not stamp.exists() or stamp.read_text().strip() != digest:
        OUT.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp.gpkg")
        subprocess.run([sys.executable, str(HERE / "generate_parcels.py"), str(n), str(partial),
                        "--seed", str(seed)], check=True, env=landsvc_env())
        partial.rename(path)
        stamp.write_text(digest + "\n")
    return path


def git_state() -> dict:
    """The commit, and whether (and how) landsvc/ differs from it in the working tree."""
    def git(*argv):
        return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True).stdout
    diff = git("diff", "HEAD", "--", "landsvc")
    return {"commit": git("rev-parse", "HEAD").strip(),
            "dirty_landsvc": bool(diff),
            "landsvc_diff_sha256": hashlib.sha256(diff.encode()).hexdigest()[:16] if diff else None}


# -- environment ----------------------------------------------------------------------------
def machine(dsn: str) -> dict:
    def output(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    lscpu = dict(line.split(":", 1) for line in output(["lscpu"]).splitlines() if ":" in line)
    import pyogrio
    import pyproj
    import shapely

    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    return {
        "cpu_model": lscpu.get("Model name", "").strip(),
        "cpus": os.cpu_count(),
        "mem_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "ogr2ogr": output(["ogr2ogr", "--version"]).strip(),
        "pyogrio": f"{pyogrio.__version__} (GDAL {pyogrio.__gdal_version_string__})",
        "shapely": f"{shapely.__version__} (GEOS {shapely.geos_version_string})",
        "pyproj": f"{pyproj.__version__} (PROJ {pyproj.proj_version_str})",
        "postgresql": sql(dsn, "SHOW server_version")[0][0],
        "postgis": sql(dsn, "SELECT postgis_full_version()")[0][0],
        "server_settings": {k: sql(dsn, f"SHOW {k}")[0][0] for k in
                            ("shared_buffers", "max_wal_size", "fsync", "synchronous_commit",
                             "maintenance_work_mem", "work_mem")},
    }


# -- report ---------------------------------------------------------------------------------
def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for n in sorted({r["size"] for r in runs}):
        medians = {}
        for tool in ("ours", "ogr2ogr"):
            mine = [r for r in runs if r["size"] == n and r["tool"] == tool]
            walls = [r["wall_s"] for r in mine]
            cpu = [r["server_cpu_s"] for r in mine if r["server_cpu_s"] is not None]
            medians[tool] = statistics.median(walls)
            rows.append({
                "size": n, "tool": tool, "runs": len(mine),
                "median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
                "median_rows_per_s": statistics.median(n / w for w in walls),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in mine),
                "median_client_cpu_s": statistics.median(r["client_cpu_s"] for r in mine),
                "median_server_cpu_s": statistics.median(cpu) if cpu else None,
                "max_other_cpu_s": max(r["other_cpu_s"] for r in mine),
            })
        for row in rows[-2:]:
            row["ratio_ours_over_ogr2ogr"] = medians["ours"] / medians["ogr2ogr"]
    return rows


def print_table(summary: list[dict]) -> None:
    head = (f"{'size':>9} {'tool':<8} {'median s':>9} {'min s':>8} {'max s':>8} "
            f"{'rows/s':>9} {'peak RSS MB':>11} {'client CPU s':>12} {'server CPU s':>12} "
            f"{'ours/ogr':>8} {'other CPU s':>11}")
    print(head)
    print("-" * len(head))
    for r in summary:
        server = f"{r['median_server_cpu_s']:.1f}" if r["median_server_cpu_s"] is not None else "-"
        ratio = f"{r['ratio_ours_over_ogr2ogr']:.2f}" if r["tool"] == "ours" else ""
        print(f"{r['size']:>9} {r['tool']:<8} {r['median_s']:>9.1f} {r['min_s']:>8.1f} "
              f"{r['max_s']:>8.1f} {r['median_rows_per_s']:>9,.0f} {r['peak_rss_mb']:>11,.0f} "
              f"{r['median_client_cpu_s']:>12.1f} {server:>12} {ratio:>8} "
              f"{r['max_other_cpu_s']:>11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, nargs="+", default=[3],
                        help="repetitions: one number for all sizes, or one per size")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--db-home", type=Path, default=Path("/tmp/landsvc-bench"),
                        help="embedded cluster directory (its parents must be traversable "
                             "by the postgres user)")
    parser.add_argument("--database-url", help="use this server instead of the embedded cluster")
    parser.add_argument("--code", default="worktree",
                        help="git revision of landsvc to benchmark (exported to benchmarks/out/); "
                             "default: the work tree as it is")
    args = parser.parse_args()
    if len(args.repeat) not in (1, len(args.sizes)):
        parser.error("--repeat takes one number or one per size")
    repeats = dict(zip(args.sizes, args.repeat * len(args.sizes) if len(args.repeat) == 1
                       else args.repeat, strict=False))

    code = pin_code(args.code)
    url, dsn = start_database(args)
    started = dt.datetime.now().astimezone()
    info = machine(dsn)
    git_start = git_state()
    print(f"{started:%Y-%m-%d %H:%M %Z} | {info['cpu_model']} x{info['cpus']} | "
          f"{info['ogr2ogr']} | PostgreSQL {info['postgresql']} | Python {info['python']} | "
          + (f"code {code['code'][:7]} (pinned)" if code["code"] != "worktree" else
             f"work tree at {git_start['commit'][:7]}"
             f"{' + uncommitted landsvc/ changes' * git_start['dirty_landsvc']}"))

    runs = []
    for n in args.sizes:
        path = parcel_file(n, args.seed)
        for rep in range(repeats[n]):
            order = ("ours", "ogr2ogr") if rep % 2 == 0 else ("ogr2ogr", "ours")
            for tool in order:
                result = (run_ours(path, n, url, dsn) if tool == "ours"
                          else run_ogr2ogr(path, n, dsn))
                runs.append({"size": n, "tool": tool, "rep": rep} | result)
                print(f"  {n:>9} {tool:<8} rep {rep}: {result['wall_s']:7.1f} s, "
                      f"peak RSS {result['peak_rss_mb']:6.0f} MB, "
                      f"client CPU {result['client_cpu_s']:6.1f} s, server CPU "
                      f"{result['server_cpu_s'] or float('nan'):6.1f} s, "
                      f"other processes {result['other_cpu_s']:5.1f} CPU s", flush=True)

    git_end = git_state()
    if code["code"] == "worktree" and git_end != git_start:
        print(f"WARNING: the code changed during the run ({git_start} -> {git_end})")
    summary = summarise(runs)
    print()
    print_table(summary)
    results = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": info,
        "code": code,
        "git_start": git_start,
        "git_end": git_end,
        "seed": args.seed,
        "commands": {"ours": [Path(LANDSVC).name, "parcels", "import", "FILE"],
                     "ogr2ogr": ogr2ogr_argv(Path("FILE"), "host=... dbname=...")},
        "summary": summary,
        "runs": runs,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"results-{started:%Y%m%dT%H%M%S}.json"
    target.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nraw results: {target.relative_to(REPO)}")


if __name__ == "__main__":
    main()
