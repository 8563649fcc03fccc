"""OGC API items and the offering list: landsvc against pygeoapi and tipg on the same PostGIS.

    benchmarks/peers/setup.sh                       # once: the peers' virtualenvs (~35 s)
    .venv/bin/python benchmarks/ogc_vs_peers.py     # data once (~3 min), then ~2 min a run

One database (an embedded cluster in ``$BENCH_DIR/pg`` unless ``--database-url``) holds 1M
synthetic parcels (the GeoPackage and import path of ``import_vs_ogr2ogr.py``) and ~100k
offerings generated from them in one SQL statement. It is built once and reused while its
fingerprint (sizes, seed, parcel generator, migrations, offering SQL) is unchanged.

Three servers then serve the same tables, each a single-worker uvicorn on its own loopback
port: landsvc (``landsvc.main:create_app``), pygeoapi (its Starlette app, PostgreSQL
provider) and tipg. Two queries:

* ``parcels_bbox``: a bbox window holding ~10 parcels, ``limit=100``;
* ``offerings_filtered``: offerings of one supply mode in one district (full 6-digit
  adcode, equality on all three), ``limit=100``, as an anonymous caller sees them.

For each query, a warm-up, then rounds: every round sends the same case (window or
mode/district pair) to every server, in an order that rotates from round to round, over one
keep-alive ``httpx.Client`` per server on loopback. A request's time runs from sending it to
having read the whole body (decoding it comes after the clock stops). The servers' own CPU
time per request is read from ``/proc``. Every answer's ``numberMatched``, ``numberReturned``
and feature ids are compared across servers. A markdown table goes to stdout, raw results
to ``benchmarks/out/ogc-results-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import psycopg
from psycopg import sql as pgsql

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_vs_ogr2ogr as base  # noqa: E402  (the data set and code pinning are shared)

HERE = base.HERE
REPO = base.REPO
OUT = base.OUT
PEERS = HERE / "peers"
VENV_BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
LIMIT = 100
"""Page size asked of every server (``--limit``)."""
PUBLIC_OFFERING_STATUSES = ("published", "closed", "awarded")
PEER_VIEW = "bench_offering_public"
"""What the peers serve as offerings: the offering table as an anonymous caller sees it."""


# -- data set -------------------------------------------------------------------------------
OFFERINGS_SQL = """
INSERT INTO offering (
    parcel_id, supply_mode, status, term_years, lease_years, transfer_years,
    lease_share_percent, start_price_wan, annual_rent_yuan, appraised_price_wan,
    rent_review_years, rent_review_cap_percent, rent_credited, conditions, min_tier,
    srdi_priority, joint_bidding_allowed, bidding_opens_at, bidding_closes_at,
    parcel_status_before, awardee_uscc, awardee_name, geom, district, area_m2,
    published_at, closed_at, decided_at)
WITH sample AS (
    -- A fixed pseudo-random sample of parcels (ids only: the sort stays small).
    SELECT id, md5(id::text || %(seed)s) AS digest
    FROM parcel
    ORDER BY 2
    LIMIT %(count)s
), picked AS (
    -- h, from the digest, drives every other choice.
    SELECT p.id, p.geom, p.district, p.area_m2, p.status,
           ('x' || substr(s.digest, 1, 8))::bit(32)::bigint AS h
    FROM sample s JOIN parcel p USING (id)
), drawn AS (
    SELECT *,
           (ARRAY['transfer', 'flexible_term_transfer', 'lease', 'lease_then_transfer',
                  'lease_and_transfer'])[h %% 5 + 1] AS mode,
           CASE WHEN h / 5 %% 100 < 70 THEN 'published'
                WHEN h / 5 %% 100 < 78 THEN 'closed'
                WHEN h / 5 %% 100 < 86 THEN 'awarded'
                WHEN h / 5 %% 100 < 92 THEN 'draft'
                WHEN h / 5 %% 100 < 96 THEN 'failed'
                ELSE 'cancelled' END AS state,
           (h / 500 %% 1000)::int AS r,
           round(area_m2 * 0.06, 2) AS land_price_wan  -- 600 元/㎡ for 50 years
    FROM picked
)
SELECT id, mode, state,
       CASE mode WHEN 'transfer' THEN 50 WHEN 'flexible_term_transfer' THEN 20 + r %% 30
                 WHEN 'lease' THEN 5 + r %% 16 END,
       CASE mode WHEN 'lease_then_transfer' THEN 5 WHEN 'lease_and_transfer' THEN 10 + r %% 11
       END,
       CASE mode WHEN 'lease_then_transfer' THEN 45 WHEN 'lease_and_transfer' THEN 50 END,
       CASE WHEN mode = 'lease_and_transfer' THEN 40 END,
       CASE WHEN mode <> 'lease' THEN land_price_wan END,
       CASE WHEN mode IN ('lease', 'lease_then_transfer', 'lease_and_transfer')
            THEN round(land_price_wan * 10000 * 0.03, 2) END,
       CASE WHEN mode IN ('lease', 'lease_then_transfer', 'lease_and_transfer')
            THEN land_price_wan END,
       CASE WHEN mode = 'lease' THEN 5 END,
       CASE WHEN mode = 'lease' THEN 10 END,
       CASE WHEN mode = 'lease_then_transfer' THEN true END,
       CASE WHEN mode = 'lease_then_transfer'
            THEN '{"investment_intensity_wan_per_mu": 400, "deadline_date": "2029-12-31"}'::jsonb
       END,
       (ARRAY['none', 'innovative_sme', 'srdi_sme', 'little_giant'])[r %% 4 + 1],
       r %% 3 = 0, r %% 5 = 0,
       timestamptz '2026-06-01 09:00+08' + r * interval '4 hours',
       timestamptz '2026-06-21 17:00+08' + r * interval '4 hours',
       CASE WHEN status IN ('available', 'reserved') THEN status ELSE 'available' END,
       CASE WHEN state = 'awarded' THEN '91440300MA5' || lpad((h %% 10000000)::text, 7, '0')
       END,
       CASE WHEN state = 'awarded' THEN '深圳市某某科技有限公司' END,
       geom, district, area_m2,
       CASE WHEN state <> 'draft'
            THEN timestamptz '2026-05-20 09:00+08' + r * interval '4 hours' END,
       CASE WHEN state IN ('closed', 'awarded', 'failed')
            THEN timestamptz '2026-06-21 17:00+08' + r * interval '4 hours' END,
       CASE WHEN state IN ('awarded', 'failed')
            THEN timestamptz '2026-06-28 17:00+08' + r * interval '4 hours' END
FROM drawn
"""
"""~100k offerings, set-based: the five modes in equal shares; 70 % published, 8 % closed,
8 % awarded, 6 % draft, 4 % failed, 4 % cancelled; each mode with the fields it requires."""

_PUBLIC = ", ".join(f"'{s}'" for s in PUBLIC_OFFERING_STATUSES)
PEER_VIEW_SQL = f"""
DROP VIEW IF EXISTS {PEER_VIEW};
CREATE VIEW {PEER_VIEW} AS SELECT * FROM offering WHERE status IN ({_PUBLIC});
"""


@dataclass
class Database:
    url: str  # SQLAlchemy URL (postgresql+psycopg://...)
    dsn: str  # libpq conninfo
    home: Path | None  # the embedded cluster's home, None for --database-url

    def parts(self) -> dict:
        u = urlsplit(self.url.replace("postgresql+psycopg://", "postgresql://"))
        return {"host": u.hostname or "127.0.0.1", "port": u.port or 5432,
                "user": u.username, "password": u.password, "dbname": u.path.lstrip("/")}

    def plain_url(self) -> str:
        """postgresql://user:password@host:port/dbname, for tipg (asyncpg)."""
        p = self.parts()
        auth = quote(p["user"] or "", safe="")
        if p["password"] is not None:
            auth += ":" + quote(p["password"], safe="")
        return f"postgresql://{auth}@{p['host']}:{p['port']}/{p['dbname']}"


def cluster_url(home: Path) -> str:
    start = ("import sys; from pathlib import Path; from landsvc.pgcluster import PgCluster; "
             "print(PgCluster(Path(sys.argv[1]), fast=False).start().url)")
    # cwd "/": with ``-c`` the working directory comes first on sys.path, ahead of a --code
    # snapshot; the repository's own landsvc/ must not be picked up from there.
    return subprocess.run([sys.executable, "-c", start, str(home)], env=base.landsvc_env(),
                          cwd="/", check=True, capture_output=True, text=True).stdout.strip()


def fingerprint(args) -> dict:
    code_root = Path(base.CODE_ENV.get("PYTHONPATH", REPO))
    migrations = hashlib.sha256()
    for path in sorted((code_root / "landsvc" / "alembic" / "versions").glob("*.py")):
        migrations.update(path.read_bytes())
    return {"parcels": args.parcels, "offerings": args.offerings, "seed": args.seed,
            "parcel_generator": base.generator_digest(),
            "migrations": migrations.hexdigest()[:16],
            "offering_sql": hashlib.sha256((OFFERINGS_SQL + PEER_VIEW_SQL).encode()).hexdigest()[:16]}


def stored_fingerprint(dsn: str) -> dict | None:
    row = base.sql(dsn, "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                        "WHERE datname = current_database()")
    try:
        return json.loads(row[0][0]) if row and row[0][0] else None
    except ValueError:
        return None


def prepare_database(args) -> tuple[Database, dict]:
    """The database with the data set, built when missing or stale; (db, build timings)."""
    want = fingerprint(args)
    if args.database_url:
        db = Database(args.database_url, base.conninfo(args.database_url), None)
    else:
        home = args.bench_dir / "pg"
        args.bench_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(args.bench_dir, 0o755)  # the postgres user must traverse it
        url = cluster_url(home)
        db = Database(url, base.conninfo(url), home)
    if stored_fingerprint(db.dsn) == want and not args.rebuild:
        print(f"data set: reusing {want['parcels']:,} parcels and "
              f"{base.sql(db.dsn, 'SELECT count(*) FROM offering')[0][0]:,} offerings")
        return db, {}
    if db.home is not None:
        # A fresh database: the schema is then the one the code under test creates, even when
        # a migration not yet released was edited in place.
        admin = db.dsn.replace("dbname=landsvc", "dbname=postgres")
        base.sql(admin, "DROP DATABASE IF EXISTS landsvc WITH (FORCE)")
        cluster_url(db.home)
    elif not args.rebuild:
        sys.exit("the database at --database-url does not hold this data set; pass --rebuild "
                 "to empty its parcel and offering tables and load it")
    timings = {}
    env = base.landsvc_env(LANDSVC_DATABASE_URL=db.url)
    landsvc = [str(VENV_BIN / "landsvc")]
    for cmd in (["db", "upgrade"], ["geodata", "load"]):
        subprocess.run(landsvc + cmd, env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        base.truncate_cascade(conn, "parcel, offering")
    path = base.parcel_file(args.parcels, args.seed)
    start = time.perf_counter()
    subprocess.run(landsvc + ["parcels", "import", str(path)], env=env, check=True, cwd=REPO,
                   stdout=subprocess.DEVNULL)
    timings["import_s"] = time.perf_counter() - start
    start = time.perf_counter()
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        conn.execute(OFFERINGS_SQL, {"seed": str(args.seed), "count": args.offerings})
        conn.execute(PEER_VIEW_SQL)
        conn.execute("VACUUM (ANALYZE) parcel")
        conn.execute("VACUUM (ANALYZE) offering")
        conn.execute(pgsql.SQL("COMMENT ON DATABASE {} IS {}").format(
            pgsql.Identifier(conn.info.dbname), pgsql.Literal(json.dumps(want))))
    timings["offerings_s"] = time.perf_counter() - start
    print(f"data set: {args.parcels:,} parcels imported in {timings['import_s']:.0f} s, "
          f"{args.offerings:,} offerings generated in {timings['offerings_s']:.0f} s")
    return db, timings


def check_data(dsn: str) -> dict:
    """Counts, and the premise that the peers see what an anonymous landsvc caller sees."""
    parcels, withdrawn = base.sql(dsn, "SELECT count(*), count(*) FILTER "
                                       "(WHERE status = 'withdrawn') FROM parcel")[0]
    by_status = dict(base.sql(dsn, "SELECT status, count(*) FROM offering GROUP BY 1"))
    if withdrawn:
        raise RuntimeError(f"{withdrawn} withdrawn parcels: anonymous landsvc callers would not "
                           "see them but the peers serve the whole parcel table")
    return {"parcels": parcels, "offerings": sum(by_status.values()),
            "offerings_by_status": by_status,
            "offerings_public": sum(by_status.get(s, 0) for s in PUBLIC_OFFERING_STATUSES)}


# -- cases ----------------------------------------------------------------------------------
def bbox_windows(dsn: str, count: int, seed: int, target: int = 10) -> list[dict]:
    """``count`` square windows around random parcels, each sized to hold ~``target`` parcels.

    The first guess is the square as large as the disk reaching the ``target``-th nearest
    parcel; it is then scaled by sqrt(target / found) up to three times.
    """
    rng = random.Random(seed)
    windows = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        max_id = conn.execute("SELECT max(id) FROM parcel").fetchone()[0]
        while len(windows) < count:
            row = conn.execute(
                "SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM parcel "
                "WHERE id = %s) s", [rng.randint(1, max_id)]).fetchone()
            if row is None:
                continue
            x, y = row
            radius = conn.execute(
                "SELECT max(d) FROM (SELECT geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4326) d "
                "FROM parcel ORDER BY 1 LIMIT %s) s", [x, y, target]).fetchone()[0]
            half = max(radius * 0.886, 1e-4)  # sqrt(pi) / 2: the square of the disk's area
            best = None
            for _ in range(4):
                bbox = (round(x - half, 6), round(y - half, 6), round(x + half, 6),
                        round(y + half, 6))
                found = conn.execute(
                    "SELECT count(*) FROM parcel WHERE ST_Intersects(geom, "
                    "ST_MakeEnvelope(%s, %s, %s, %s, 4326))", bbox).fetchone()[0]
                if best is None or abs(found - target) < abs(best[1] - target):
                    best = (bbox, found)
                if abs(found - target) <= 2:
                    break
                half *= (target / max(found, 1)) ** 0.5
            windows.append({"bbox": ",".join(f"{v:.6f}" for v in best[0]), "parcels": best[1]})
    return windows


def offering_pairs(dsn: str, count: int, seed: int) -> list[dict]:
    """``count`` (supply mode, district) pairs drawn uniformly from those with public offerings."""
    pairs = base.sql(dsn, f"SELECT supply_mode, district, count(*) FROM {PEER_VIEW} "
                          "GROUP BY 1, 2 ORDER BY 1, 2")
    rng = random.Random(seed + 1)
    return [{"supply_mode": m, "district": d, "public_offerings": n}
            for m, d, n in (rng.choice(pairs) for _ in range(count))]


# -- servers --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict
    ready_path: str
    port: int
    log: Path
    proc: subprocess.Popen | None = None
    module: str | None = None  # where landsvc is imported from

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            # Its own session: stop() signals this server's process group and nothing else.
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.log.parent,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode}; see {self.log}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            try:
                if httpx.get(self.base_url + self.ready_path, timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log}")

    def cpu_seconds(self) -> float:
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime, all threads

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def peer_bin(bench_dir: Path, peer: str, tool: str) -> str:
    return str(bench_dir / "venvs" / peer / "bin" / tool)


def read_env_file(path: Path) -> dict:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def make_servers(args, db: Database) -> dict[str, Server]:
    logs = args.bench_dir / "logs"
    quiet = {"PYTHONUNBUFFERED": "1"}
    servers = {}
    if "landsvc" in args.servers:
        port = free_port()
        servers["landsvc"] = Server(
            "landsvc",
            [str(VENV_BIN / "uvicorn"), "landsvc.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"],
            base.landsvc_env(LANDSVC_DATABASE_URL=db.url, LANDSVC_LOG_LEVEL="WARNING", **quiet),
            "/api/v1/health", port, logs / "landsvc.log")
        # The code the server will import (a --code snapshot must win over the editable
        # install): checked with the server's own environment and working directory.
        logs.mkdir(parents=True, exist_ok=True)
        module = subprocess.run(
            [sys.executable, "-c", "import landsvc; print(landsvc.__file__)"],
            env=servers["landsvc"].env, cwd=logs, check=True, capture_output=True, text=True,
        ).stdout.strip()
        expected = Path(base.CODE_ENV.get("PYTHONPATH", REPO)) / "landsvc" / "__init__.py"
        if Path(module) != expected:
            raise RuntimeError(f"landsvc would run from {module}, not {expected}")
        servers["landsvc"].module = module
    if "pygeoapi" in args.servers:
        port = free_port()
        config_dir = args.bench_dir / "config"
        config_dir.mkdir(parents=True, exist_ok=True)
        config, openapi = config_dir / "pygeoapi.config.yml", config_dir / "pygeoapi.openapi.yml"
        config.write_text((PEERS / "pygeoapi.config.yml").read_text())
        p = db.parts()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANDSVC_")} | quiet | {
            "BENCH_PYGEOAPI_PORT": str(port), "BENCH_PG_HOST": p["host"],
            "BENCH_PG_PORT": str(p["port"]), "BENCH_PG_DBNAME": p["dbname"],
            "BENCH_PG_USER": p["user"] or "", "BENCH_PG_PASSWORD": p["password"] or "",
            "PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
        env.pop("PYTHONPATH", None)
        subprocess.run([peer_bin(args.bench_dir, "pygeoapi", "pygeoapi"), "openapi", "generate",
                        str(config), "--output-file", str(openapi)], env=env, check=True,
                       capture_output=True)
        servers["pygeoapi"] = Server(
            "pygeoapi",
            [peer_bin(args.bench_dir, "pygeoapi", "uvicorn"), "pygeoapi.starlette_app:APP",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"],
            env, "/collections/offerings?f=json", port, logs / "pygeoapi.log")
    if "tipg" in args.servers:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANDSVC_")} | quiet
        env |= read_env_file(PEERS / "tipg.env") | {"DATABASE_URL": db.plain_url()}
        env.pop("PYTHONPATH", None)
        servers["tipg"] = Server(
            "tipg",
            [peer_bin(args.bench_dir, "tipg", "uvicorn"), "tipg.main:app",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log"],
            env, f"/collections/public.{PEER_VIEW}", port, logs / "tipg.log")
    return servers


# -- what each server is asked --------------------------------------------------------------
@dataclass
class Target:
    """One way of asking one server one query."""

    label: str  # e.g. "landsvc /ogcapi"
    server: str
    query: str  # parcels_bbox | offerings_filtered
    path: str
    extra: dict = field(default_factory=dict)  # fixed parameters (output format)
    primary: bool = True  # the landsvc target the targets are judged on
    note: str = ""

    def params(self, case: dict) -> dict:
        if self.query == "parcels_bbox":
            return {"bbox": case["bbox"], "limit": LIMIT} | self.extra
        if self.query == "offerings_filtered":
            return {"supply_mode": case["supply_mode"], "district": case["district"],
                    "limit": LIMIT} | self.extra
        return dict(self.extra)  # floor: a fixed document


def candidate_targets() -> list[Target]:
    return [
        Target("landsvc /ogcapi", "landsvc", "parcels_bbox", "/ogcapi/collections/parcels/items"),
        Target("landsvc /api/v1", "landsvc", "parcels_bbox", "/api/v1/parcels", primary=False),
        Target("pygeoapi", "pygeoapi", "parcels_bbox", "/collections/parcels/items",
               {"f": "json"}),
        Target("tipg", "tipg", "parcels_bbox", "/collections/public.parcel/items",
               {"f": "geojson"}),
        Target("landsvc /api/v1", "landsvc", "offerings_filtered", "/api/v1/offerings"),
        Target("landsvc /ogcapi", "landsvc", "offerings_filtered",
               "/ogcapi/collections/offerings/items", primary=False),
        Target("pygeoapi", "pygeoapi", "offerings_filtered", "/collections/offerings/items",
               {"f": "json"}),
        Target("tipg", "tipg", "offerings_filtered", f"/collections/public.{PEER_VIEW}/items",
               {"f": "geojson"}),
        Target("landsvc /ogcapi", "landsvc", "floor", "/ogcapi/conformance"),
        Target("pygeoapi", "pygeoapi", "floor", "/conformance", {"f": "json"}),
        Target("tipg", "tipg", "floor", "/conformance", {"f": "json"}),
    ]


@dataclass
class Answer:
    seconds: float
    status: int
    size: int
    matched: int | None = None
    returned: int | None = None
    ids: list[str] | None = None


def ask(client: httpx.Client, target: Target, case: dict) -> Answer:
    params = target.params(case)
    start = time.perf_counter()
    response = client.get(target.path, params=params)  # reads the whole body
    seconds = time.perf_counter() - start
    answer = Answer(seconds, response.status_code, len(response.content))
    if response.status_code == 200:
        body = response.json()
        features = body.get("features") or []
        answer.matched = body.get("numberMatched")
        answer.returned = body.get("numberReturned", len(features))
        answer.ids = sorted(str(f.get("id")) for f in features)
    return answer


def usable_targets(targets: list[Target], clients: dict, probe: dict[str, dict]) -> list[Target]:
    """The targets whose server runs and answers the probe case; the others are reported."""
    kept = []
    reference = {}
    for t in targets:
        if t.server not in clients:
            continue
        a = ask(clients[t.server], t, probe[t.query])
        if a.status != 200 or (a.returned is None and t.query != "floor"):
            print(f"  skipped: {t.label} {t.query} ({t.path} answered {a.status})")
            continue
        if t.server != "landsvc":
            reference.setdefault(t.query, a.matched)
        kept.append((t, a))
    result = []
    for t, a in kept:
        # An extra landsvc endpoint that ignores the filter (matches everything) is left out.
        if not t.primary and reference.get(t.query) not in (None, a.matched):
            print(f"  skipped: {t.label} {t.query} (numberMatched {a.matched} where the peers "
                  f"say {reference[t.query]}: filter not supported there)")
            continue
        result.append(t)
    for query in {t.query for t in result}:
        if not any(t.server == "landsvc" and t.primary for t in result if t.query == query):
            for t in result:  # the stand-in becomes the landsvc figure, and says so
                if t.query == query and t.server == "landsvc":
                    t.primary = True
                    t.note = "stand-in: the primary landsvc endpoint is not there yet"
                    break
    return result


# -- timing ---------------------------------------------------------------------------------
def run_query(query: str, targets: list[Target], clients: dict, servers: dict[str, Server],
              cases: list[dict], warmup: int, requests: int, cap_s: float) -> dict:
    """Warm-up, then rounds of the same case to every target in rotating order."""
    mine = [t for t in targets if t.query == query]
    for case in cases[:warmup]:
        for t in mine:
            a = ask(clients[t.server], t, case)
            if a.status != 200:
                raise RuntimeError(f"{t.label} answered {a.status} during warm-up: "
                                   f"{t.path} {t.params(case)}")
    samples: dict[str, list[Answer]] = {t.label: [] for t in mine}
    cpu_before = {name: s.cpu_seconds() for name, s in servers.items()}
    start = time.perf_counter()
    rounds = 0
    gc.disable()  # the client's own collector stays out of the timed requests
    try:
        for i, case in enumerate(cases[warmup:warmup + requests]):
            if time.perf_counter() - start > cap_s:
                print(f"  {query}: time cap of {cap_s:.0f} s reached after {i} rounds")
                break
            shift = i % len(mine)
            for t in mine[shift:] + mine[:shift]:
                samples[t.label].append(ask(clients[t.server], t, case))
            rounds += 1
            gc.collect()
    finally:
        gc.enable()
    wall = time.perf_counter() - start
    cpu = {name: s.cpu_seconds() - cpu_before[name] for name, s in servers.items()}
    per_server = {}
    for t in mine:
        per_server[t.server] = per_server.get(t.server, 0) + 1
    result = {"query": query, "rounds": rounds, "wall_s": wall, "targets": {}}
    for t in mine:
        answers = samples[t.label]
        ms = [a.seconds * 1000 for a in answers]
        cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
        result["targets"][t.label] = {
            "server": t.server, "path": t.path, "primary": t.primary, "note": t.note,
            "requests": len(ms), "errors": sum(a.status != 200 for a in answers),
            "p50_ms": statistics.median(ms), "p95_ms": cuts[94], "p99_ms": cuts[98],
            "mean_ms": statistics.fmean(ms), "min_ms": min(ms), "max_ms": max(ms),
            # CPU of the server process over the phase, shared among its targets in it
            "server_cpu_ms_per_request": cpu[t.server] * 1000 / (len(ms) * per_server[t.server]),
            "mean_kib": statistics.fmean(a.size for a in answers) / 1024,
            "median_returned": statistics.median(a.returned or 0 for a in answers),
            "median_matched": statistics.median(a.matched or 0 for a in answers),
            "latencies_ms": [round(v, 3) for v in ms],
        }
    if query != "floor":
        result["agreement"] = agreement(mine, samples, cases[warmup:warmup + rounds])
    return result


def agreement(targets: list[Target], samples: dict, cases: list[dict]) -> dict:
    """Do the servers return the same numberMatched, numberReturned and feature ids?"""
    differences = []
    for i, case in enumerate(cases):
        seen = {t.label: samples[t.label][i] for t in targets}
        matched = {label: a.matched for label, a in seen.items()}
        returned = {label: a.returned for label, a in seen.items()}
        problems = []
        if len(set(matched.values())) > 1:
            problems.append({"numberMatched": matched})
        if len(set(returned.values())) > 1:
            problems.append({"numberReturned": returned})
        # All three order a page by id, so even the first page of a larger result must agree.
        ids = {label: a.ids for label, a in seen.items()}
        first = next(iter(ids.values()))
        if any(v != first for v in ids.values()):
            problems.append({"ids_differ": sorted(ids)})
        if problems:
            differences.append({"case": case, "problems": problems})
    return {"cases": len(cases), "differing": len(differences), "examples": differences[:5]}


# -- report ---------------------------------------------------------------------------------
QUERY_TITLES = {
    "parcels_bbox": "OGC items, bbox of ~10 parcels",
    "offerings_filtered": "offerings by mode + district",
    "floor": "floor: /conformance (no database)",
}


def verdicts(result: dict) -> dict:
    t = result["targets"]
    ours = next((v for v in t.values() if v["server"] == "landsvc" and v["primary"]), None)
    if ours is None or result["query"] == "floor":
        return {}
    out = {"landsvc_p50_ms": ours["p50_ms"], "p50_at_most_5_ms": ours["p50_ms"] <= 5}
    for peer in ("pygeoapi", "tipg"):
        theirs = next((v for v in t.values() if v["server"] == peer), None)
        if theirs:
            out[f"{peer}_over_landsvc_p50"] = theirs["p50_ms"] / ours["p50_ms"]
            # Paired: the same case went to both in the same round.
            pairs = list(zip(ours["latencies_ms"], theirs["latencies_ms"], strict=True))
            out[f"landsvc_faster_than_{peer}_share"] = sum(a < b for a, b in pairs) / len(pairs)
    if "pygeoapi_over_landsvc_p50" in out:
        out["at_least_5x_pygeoapi"] = out["pygeoapi_over_landsvc_p50"] >= 5
    if "tipg_over_landsvc_p50" in out:
        out["no_slower_than_tipg"] = out["tipg_over_landsvc_p50"] >= 1
    return out


def markdown(results: list[dict]) -> str:
    lines = ["| query | server | requests | p50 ms | p95 ms | p50 / landsvc p50 | "
             "server CPU ms/req | KiB/answer | features (median) |",
             "|---|---|--:|--:|--:|--:|--:|--:|--:|"]
    for r in results:
        ours = next((v for v in r["targets"].values()
                     if v["server"] == "landsvc" and v["primary"]), None)
        for label, v in r["targets"].items():
            ratio = f"{v['p50_ms'] / ours['p50_ms']:.1f}×" if ours and v is not ours else ""
            name = f"**{label}**" if v is ours else label
            if v["note"]:
                name += f" ({v['note']})"
            lines.append(f"| {QUERY_TITLES[r['query']]} | {name} | {v['requests']} | "
                         f"{v['p50_ms']:.1f} | {v['p95_ms']:.1f} | {ratio} | "
                         f"{v['server_cpu_ms_per_request']:.1f} | {v['mean_kib']:.1f} | "
                         f"{v['median_returned']:g} |")
    lines.append("")
    for r in results:
        v = verdicts(r)
        a = r.get("agreement")
        if a is None:
            continue
        if v:
            checks = [f"landsvc p50 {v['landsvc_p50_ms']:.1f} ms ≤ 5 ms: "
                      f"{'yes' if v['p50_at_most_5_ms'] else 'NO'}"]
            if "at_least_5x_pygeoapi" in v:
                checks.append(f"≥ 5× faster than pygeoapi ({v['pygeoapi_over_landsvc_p50']:.1f}×): "
                              f"{'yes' if v['at_least_5x_pygeoapi'] else 'NO'}")
            if "no_slower_than_tipg" in v:
                checks.append(f"no slower than tipg ({v['tipg_over_landsvc_p50']:.2f}×; landsvc "
                              f"faster in {v['landsvc_faster_than_tipg_share']:.0%} of rounds): "
                              f"{'yes' if v['no_slower_than_tipg'] else 'NO'}")
            lines.append(f"- {QUERY_TITLES[r['query']]}: " + "; ".join(checks))
        lines.append(f"  - answers agree on {a['cases'] - a['differing']} of {a['cases']} cases"
                     + (f"; first difference: {json.dumps(a['examples'][0], ensure_ascii=False)}"
                        if a["differing"] else ""))
    return "\n".join(lines)


def versions(db: Database) -> dict:
    def freeze(peer: str) -> dict:
        lock = (PEERS / f"{peer}-requirements.txt").read_text().splitlines()
        return {line.split("==")[0]: line.split("==")[1] for line in lock if "==" in line}

    pyg, tipg = freeze("pygeoapi"), freeze("tipg")
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                  if line.startswith("Model name")), "")
    import fastapi
    import sqlalchemy
    return {
        "cpu_model": model, "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "postgresql": base.sql(db.dsn, "SHOW server_version")[0][0],
        "postgis": base.sql(db.dsn, "SELECT postgis_lib_version()")[0][0],
        "shared_buffers": base.sql(db.dsn, "SHOW shared_buffers")[0][0],
        "landsvc": {"fastapi": fastapi.__version__, "sqlalchemy": sqlalchemy.__version__,
                    "uvicorn": subprocess.run([str(VENV_BIN / "uvicorn"), "--version"],
                                              capture_output=True, text=True).stdout.strip()},
        "pygeoapi": {k: pyg[k] for k in ("pygeoapi", "starlette", "uvicorn", "SQLAlchemy",
                                         "psycopg2-binary", "shapely")},
        "tipg": {k: tipg[k] for k in ("tipg", "fastapi", "starlette", "uvicorn", "asyncpg",
                                      "orjson")},
        "load_average_at_start": os.getloadavg(),
    }


def main() -> None:
    global LIMIT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-dir", type=Path,
                        default=Path(os.environ.get("BENCH_DIR", "/tmp/landsvc-ogc-bench")),
                        help="peers' venvs, their configs and logs, the embedded cluster "
                             "(default $BENCH_DIR or /tmp/landsvc-ogc-bench)")
    parser.add_argument("--database-url", help="use this server instead of the embedded cluster")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the data set")
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--offerings", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--requests", type=int, default=300,
                        help="timed requests per server per query")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests first, per target")
    parser.add_argument("--time-cap", type=float, default=600,
                        help="seconds of timed rounds per query at most")
    parser.add_argument("--limit", type=int, default=LIMIT, help="page size for both queries")
    parser.add_argument("--servers", nargs="+", default=["landsvc", "pygeoapi", "tipg"],
                        choices=["landsvc", "pygeoapi", "tipg"])
    parser.add_argument("--queries", nargs="+", default=list(QUERY_TITLES),
                        choices=list(QUERY_TITLES),
                        help="floor: a fixed document per server, the HTTP and framework cost "
                             "that every answer carries")
    parser.add_argument("--code", default="worktree",
                        help="git revision of landsvc to run (see import_vs_ogr2ogr.py); "
                             "default: the work tree")
    parser.add_argument("--stop-db", action="store_true",
                        help="stop the embedded cluster at the end")
    args = parser.parse_args()
    args.bench_dir = args.bench_dir.resolve()
    LIMIT = args.limit
    if os.environ.get("PGOPTIONS"):
        print(f"note: PGOPTIONS={os.environ['PGOPTIONS']!r} reaches the libpq clients (landsvc, "
              "pygeoapi), not tipg's asyncpg")

    began = time.perf_counter()
    code = base.pin_code(args.code)
    subprocess.run([str(PEERS / "setup.sh")], check=True,
                   env=os.environ | {"BENCH_DIR": str(args.bench_dir)})
    db, build = prepare_database(args)
    data = check_data(db.dsn)
    started = dt.datetime.now().astimezone()
    info = versions(db)
    git_start = base.git_state()
    print(f"{started:%Y-%m-%d %H:%M %Z} | {info['cpu_model']} x{info['cpus']} | PostgreSQL "
          f"{info['postgresql']} | load {info['load_average_at_start'][0]:.2f} | "
          + (f"code {code['code'][:7]} (pinned)" if code["code"] != "worktree" else
             f"work tree at {git_start['commit'][:7]}"
             f"{' + uncommitted landsvc/ changes' * git_start['dirty_landsvc']}"))
    print(f"data: {data['parcels']:,} parcels, {data['offerings']:,} offerings "
          f"({data['offerings_public']:,} public)")

    n_cases = args.warmup + args.requests
    cases = {"parcels_bbox": bbox_windows(db.dsn, n_cases, args.seed),
             "offerings_filtered": offering_pairs(db.dsn, n_cases, args.seed),
             "floor": [{}] * n_cases}
    window_sizes = sorted(w["parcels"] for w in cases["parcels_bbox"])
    print(f"bbox windows: parcels per window min {window_sizes[0]}, median "
          f"{statistics.median(window_sizes):g}, max {window_sizes[-1]}")

    servers = make_servers(args, db)
    results = []
    try:
        for s in servers.values():
            s.start()
        for s in servers.values():
            s.wait_ready()
        headers = {"Accept-Encoding": "identity"}  # no server compresses: the same work for all
        clients = {name: httpx.Client(base_url=s.base_url, headers=headers, timeout=60)
                   for name, s in servers.items()}
        probe = {q: c[0] for q, c in cases.items()}
        targets = [t for t in usable_targets(candidate_targets(), clients, probe)
                   if t.query in args.queries]
        setup_s = time.perf_counter() - began
        for query in args.queries:
            if not any(t.query == query for t in targets):
                continue
            results.append(run_query(query, targets, clients, servers, cases[query],
                                     args.warmup, args.requests, args.time_cap))
        for client in clients.values():
            client.close()
    finally:
        for s in servers.values():
            s.stop()
        if args.stop_db and db.home is not None:
            subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                            "from landsvc.pgcluster import PgCluster; "
                            "PgCluster(Path(sys.argv[1])).stop()", str(db.home)],
                           env=base.landsvc_env(), check=False)

    git_end = base.git_state()
    if code["code"] == "worktree" and git_end != git_start:
        print(f"WARNING: the code changed during the run ({git_start} -> {git_end})")
    total_s = time.perf_counter() - began
    print()
    print(markdown(results))
    print(f"\nsetup {setup_s:.0f} s (data set build {sum(build.values()):.0f} s), "
          f"total {total_s:.0f} s; load average at the end {os.getloadavg()[0]:.2f}")
    report = {
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": info, "code": code, "git_start": git_start, "git_end": git_end,
        "data": data, "build": build, "seed": args.seed, "limit": LIMIT,
        "landsvc_module": servers["landsvc"].module if "landsvc" in servers else None,
        "pgoptions": os.environ.get("PGOPTIONS"),
        "window_parcels": window_sizes,
        "setup_s": setup_s, "total_s": total_s,
        "load_average_at_end": os.getloadavg(),
        "results": results, "verdicts": {r["query"]: verdicts(r) for r in results},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"ogc-results-{started:%Y%m%dT%H%M%S}.json"
    target.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"raw results: {target.relative_to(REPO)}")


if __name__ == "__main__":
    main()
