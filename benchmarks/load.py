"""Load test: many concurrent clients against a real server on this machine (loopback only).

Mixed traffic, by weight (``--mix``):

- ``offerings``: ``GET /api/v1/offerings?limit=20&district=…`` (anonymous);
- ``listings``: ``GET /api/v1/listings?limit=20&district=…`` (anonymous);
- ``tiles``: ``GET /tiles/parcels/{z}/{x}/{y}.pbf`` around the demo's offerings (anonymous);
- ``rent_guide``: ``GET /maps/rent-guide``, the HTML map page (anonymous);
- ``matches``: ``GET /api/v1/demands/{id}/matches`` of open demands (admin token);
- ``approval``: ``POST /api/v1/approvals/{id}/transitions`` on cases the script files first
  (accept, then start_review → return → resubmit over and over; admin token); a case is used
  by one client at a time;
- ``import``: ``POST /api/v1/parcels/import`` of a small GeoPackage (``--import-parcels``
  parcels, codes new to the database), ``--imports`` times spread over the run, by a task of
  its own (not one of the clients).

Each client sends a request, waits for the answer, then thinks for a random time (exponential,
mean ``--think`` seconds; 0: a closed loop, the server's saturation) and starts again. Clients
share httpx pools of ``--group-size`` connections. The run ends after ``--duration`` seconds
or ``--max-requests`` requests, whichever comes first; the answers still under way are
awaited (and counted).

Without ``--url`` the script runs everything itself: an embedded cluster under
``--home``/pg (``LANDSVC_HOME``), filled once with the divisions and ``landsvc demo load
--parcels N``, tokens from ``landsvc token create``, and ``uvicorn landsvc.main:create_app
--factory --workers W`` on a free loopback port; it stops the server and the cluster at the
end (``--keep-cluster`` leaves the cluster running). With ``--url`` it uses that server,
which must serve the database of ``--home`` (tokens are made there).

Report: throughput, p50/p95/p99 per kind and overall, errors by status (any answer but 2xx
is an error; so is a transport failure), and the CPU time of the client, the server and the
load average. JSON under ``benchmarks/out/``.

    .venv/bin/python benchmarks/load.py --clients 200 --duration 30 --workers 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
PYTHON = sys.executable
LANDSVC = str(Path(sys.executable).with_name("landsvc"))
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DEFAULT_MIX = "offerings=25,listings=20,tiles=26,rent_guide=2,matches=15,approval=12"
READS = ("offerings", "listings")
"""The kinds the target (p95 ≤ 100 ms) is about: list and items reads."""
TARGET_P95_MS = 100


# -- the data and the server -------------------------------------------------------------
def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LANDSVC_DATABASE_URL"}
    return env | {"LANDSVC_HOME": str(home / "pg"), "LANDSVC_LOG_JSON": "true",
                  "LANDSVC_LOG_LEVEL": "WARNING"}


def landsvc(home: Path, *args: str, timeout: float = 3600) -> str:
    done = subprocess.run([LANDSVC, *args], capture_output=True, text=True, env=_env(home),
                          timeout=timeout)
    if done.returncode != 0:
        sys.exit(f"landsvc {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def prepare(home: Path, parcels: int) -> None:
    """The cluster started, at head, with the divisions and the demo (each step is skipped
    when already done)."""
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)  # the server runs as postgres and must get in
    print(landsvc(home, "db", "start").strip())
    landsvc(home, "db", "upgrade")
    if _scalar(home, "SELECT count(*) FROM district") == 0:
        landsvc(home, "geodata", "load")
    started = time.monotonic()
    out = landsvc(home, "demo", "load", "--parcels", str(parcels))
    print(out.strip(), f"({time.monotonic() - started:.0f} s)")


def _scalar(home: Path, sql: str):
    url = landsvc(home, "db", "status").split("url=", 1)[1].strip()
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text(sql))
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(home: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(home / f"uvicorn-{port}.log", "w")  # noqa: SIM115  (closed with the process)
    server = subprocess.Popen(
        [PYTHON, "-m", "uvicorn", "--factory", "landsvc.main:create_app", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level",
         "warning", "--no-access-log"],
        env=_env(home), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                break
        if server.poll() is not None:
            sys.exit(f"uvicorn exited; see {log.name}")
        if time.monotonic() > deadline:
            server.terminate()
            sys.exit(f"uvicorn did not start; see {log.name}")
        time.sleep(0.3)
    return server, base


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        ppid = int(fields[1])
        children.setdefault(ppid, []).append(int(entry.name))
        # utime + stime, and cutime + cstime: the children it reaped (PostgreSQL's backends
        # that ended) — a live child's time is its own, so nothing counts twice.
        stats[int(entry.name)] = sum(int(f) for f in fields[11:15]) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats.get(p, 0.0)
        todo += children.get(p, [])
    return total


def postgres_cpu(home: Path) -> float:
    """CPU seconds of the cluster's server processes (the postmaster's tree, with the
    backends that ended)."""
    pidfile = next((home / "pg").rglob("postmaster.pid"), None)
    if pidfile is None:
        return math.nan
    return process_tree_cpu(int(pidfile.read_text().split()[0]))


# -- what the clients ask -----------------------------------------------------------------
@dataclass
class Plan:
    districts: list[str]
    listing_districts: list[str]
    tiles: list[tuple[int, int, int]]
    demands: list[int]
    cases: asyncio.Queue
    admin: dict[str, str]
    import_files: list[Path] = field(default_factory=list)


def _first_point(coords) -> tuple[float, float]:
    while isinstance(coords[0], list | tuple):
        coords = coords[0]
    return coords[0], coords[1]


def _tile(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def make_plan(base: str, admin_token: str, *, cases: int, seed: int) -> Plan:
    """Everything the clients need, read (and the approval cases filed) through the API."""
    rng = random.Random(seed)
    admin = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=base, timeout=120) as http:
        def get(path, **kw):
            answer = http.get(path, **kw)
            answer.raise_for_status()
            return answer.json()

        offerings = get("/api/v1/offerings", params={"limit": 1000})["features"]
        listings = get("/api/v1/listings", params={"limit": 1000})["features"]
        districts = sorted({f["properties"]["district"] for f in offerings})
        listing_districts = sorted({f["properties"]["district"] for f in listings})
        # Districts, their cities, and the province: narrow and wide lists.
        districts = districts + sorted({d[:4] for d in districts}) + ["44"]
        listing_districts = listing_districts + sorted({d[:4] for d in listing_districts})
        tiles = sorted({_tile(*_first_point(f["geometry"]["coordinates"]), z)
                        for f in offerings if f.get("geometry") for z in (10, 12, 14, 16)})
        demands = [d["id"] for d in _items(get("/api/v1/demands", headers=admin,
                                                 params={"limit": 1000, "status": "open"}))]
        demands = [d for d in demands
                   if http.get(f"/api/v1/demands/{d}/matches", headers=admin).status_code == 200]
        enterprises = [e["uscc"] for e in _items(get("/api/v1/enterprises",
                                                     params={"limit": 200}, headers=admin))]
        parcels = [p["id"] for p in get("/api/v1/parcels", params={"limit": 1000},
                                        headers=admin)["features"]]
        queue: asyncio.Queue = asyncio.Queue()
        for i in range(cases):
            answer = http.post("/api/v1/approvals", headers=admin, json={
                "applicant_uscc": rng.choice(enterprises), "parcel_id": rng.choice(parcels),
                "project_name": f"压测项目 {i + 1}"})
            answer.raise_for_status()
            queue.put_nowait([answer.json()["id"], "accept"])
    if not (districts and listing_districts and tiles and demands):
        sys.exit(f"the demo gave too little to ask about: {len(districts)} districts, "
                 f"{len(listing_districts)} listing districts, {len(tiles)} tiles, "
                 f"{len(demands)} open demands with matches")
    return Plan(districts, listing_districts, tiles, demands, queue, admin)


def _items(body):
    return body.get("items", body.get("features", [])) if isinstance(body, dict) else body


NEXT_ACTION = {"accept": "start_review", "start_review": "return", "return": "resubmit",
               "resubmit": "start_review"}


def write_import_files(directory: Path, count: int, size: int, seed: int) -> list[Path]:
    """``count`` GeoPackages of ``size`` parcels each, their codes new to any database the
    demo filled (street numbers 900–999 and a random village number per run)."""
    from landsvc.parcels.synthetic import generate_parcels, load_districts

    districts = load_districts()
    village = random.Random().randrange(100, 1000)
    files = []
    for k in range(count):
        frame = generate_parcels(districts, size, seed=seed + 1 + k)
        frame["code"] = [f"{c[:6]}{900 + k % 100:03d}{village:03d}{c[12:]}"
                         for c in frame["code"]]
        path = directory / f"import-{k}.gpkg"
        frame.to_file(path, layer="parcels", driver="GPKG", engine="pyogrio",
                      dataset_options={"VERSION": "1.3"})
        files.append(path)
    return files


# -- the run ------------------------------------------------------------------------------
@dataclass
class Result:
    kind: str
    status: str
    """The HTTP status, or the exception's class name."""
    seconds: float
    start: float


class Run:
    def __init__(self, args, plan: Plan):
        self.args = args
        self.plan = plan
        self.results: list[Result] = []
        self.sent = 0
        self.deadline = 0.0
        self.rng = random.Random(args.seed)
        kinds = dict(part.split("=") for part in args.mix.split(","))
        self.kinds = list(kinds)
        self.weights = [float(w) for w in kinds.values()]

    def more(self) -> bool:
        return time.monotonic() < self.deadline and self.sent < self.args.max_requests

    async def request(self, http: httpx.AsyncClient, kind: str) -> None:
        plan, rng = self.plan, self.rng
        case = None
        if kind == "offerings":
            call = http.get("/api/v1/offerings",
                            params={"limit": 20, "district": rng.choice(plan.districts)})
        elif kind == "listings":
            call = http.get("/api/v1/listings",
                            params={"limit": 20, "district": rng.choice(plan.listing_districts)})
        elif kind == "tiles":
            z, x, y = rng.choice(plan.tiles)
            call = http.get(f"/tiles/parcels/{z}/{x}/{y}.pbf")
        elif kind == "rent_guide":
            call = http.get("/maps/rent-guide")
        elif kind == "matches":
            call = http.get(f"/api/v1/demands/{rng.choice(plan.demands)}/matches",
                            headers=plan.admin)
        elif kind == "approval":
            case = await plan.cases.get()
            call = http.post(f"/api/v1/approvals/{case[0]}/transitions", headers=plan.admin,
                             json={"action": case[1]})
        else:
            raise ValueError(kind)
        self.sent += 1
        await self._timed(kind, call)
        if case is not None:
            if self.results[-1].status == "200":
                case[1] = NEXT_ACTION[case[1]]
            plan.cases.put_nowait(case)

    async def _timed(self, kind: str, call) -> None:
        start = time.perf_counter()
        try:
            answer = await call
            status = str(answer.status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        self.results.append(Result(kind, status, time.perf_counter() - start, start))

    async def client(self, http: httpx.AsyncClient, first_delay: float) -> None:
        await asyncio.sleep(first_delay)
        while self.more():
            kind = self.rng.choices(self.kinds, self.weights)[0]
            await self.request(http, kind)
            if self.args.think > 0:  # never past the end: the run stops on time
                left = self.deadline - time.monotonic()
                await asyncio.sleep(min(left, self.rng.expovariate(1 / self.args.think)))

    async def importer(self, http: httpx.AsyncClient) -> None:
        files = self.plan.import_files
        for k, path in enumerate(files):
            due = self.started + self.args.duration * (k + 1) / (len(files) + 1)
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if not self.more():
                return
            self.sent += 1
            content = path.read_bytes()
            await self._timed("import", http.post(
                "/api/v1/parcels/import", headers=self.plan.admin,
                files={"file": (path.name, content, "application/geopackage+sqlite3")}))

    async def main(self, base: str) -> float:
        args = self.args
        groups = math.ceil(args.clients / args.group_size)
        # Idle connections are dropped before uvicorn's keep-alive timeout (5 s) closes them
        # on its side: else a request sent as the server closes fails (a client-side race).
        limits = httpx.Limits(max_connections=args.group_size,
                              max_keepalive_connections=args.group_size, keepalive_expiry=3)
        pools = [httpx.AsyncClient(base_url=base, limits=limits, timeout=args.timeout)
                 for _ in range(groups)]
        try:
            # Warm-up, not counted: each kind a few times, one after the other.
            for kind in self.kinds:
                for _ in range(3):
                    self.deadline = time.monotonic() + 60
                    await self.request(pools[0], kind)
            self.results.clear()
            self.sent = 0
            self.started = time.monotonic()
            self.deadline = self.started + args.duration
            # Clients start spread over the first second (or their think time), not at once.
            ramp = max(1.0, args.think)
            tasks = [self.client(pools[i // args.group_size], self.rng.uniform(0, ramp))
                     for i in range(args.clients)]
            tasks.append(self.importer(pools[-1]))
            await asyncio.gather(*tasks)
            return time.monotonic() - self.started
        finally:
            for pool in pools:
                await pool.aclose()


def summarize(results: list[Result], elapsed: float) -> dict:
    def stats(rows: list[Result]) -> dict:
        ms = np.array([r.seconds * 1000 for r in rows])
        errors: dict[str, int] = {}
        for r in rows:
            if not r.status.startswith("2"):
                errors[r.status] = errors.get(r.status, 0) + 1
        return {"requests": len(rows), "per_s": round(len(rows) / elapsed, 1),
                "p50_ms": round(float(np.percentile(ms, 50)), 1),
                "p95_ms": round(float(np.percentile(ms, 95)), 1),
                "p99_ms": round(float(np.percentile(ms, 99)), 1),
                "max_ms": round(float(ms.max()), 1), "errors": errors}

    kinds = sorted({r.kind for r in results})
    report = {kind: stats([r for r in results if r.kind == kind]) for kind in kinds}
    report["reads"] = stats([r for r in results if r.kind in READS])
    report["all"] = stats(results)
    return report


def print_report(report: dict, meta: dict) -> None:
    print(f"\n{meta['clients']} clients, think {meta['think_s']} s, {meta['workers']} worker(s), "
          f"{meta['elapsed_s']:.1f} s, commit {meta['commit']}")
    print(f"{'kind':<12}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'max ms':>9}  errors")
    for kind, s in report.items():
        print(f"{kind:<12}{s['requests']:>9}{s['per_s']:>8}{s['p50_ms']:>9}{s['p95_ms']:>9}"
              f"{s['p99_ms']:>9}{s['max_ms']:>9}  {s['errors'] or '-'}")
    print(f"CPU s: client {meta['client_cpu_s']}, uvicorn {meta['server_cpu_s']}, "
          f"postgres {meta['postgres_cpu_s']}; load average {meta['loadavg_after']}")
    reads = report["reads"]
    met = reads["p95_ms"] <= TARGET_P95_MS and not report["all"]["errors"]
    print(f"target (0 errors, list reads p95 ≤ {TARGET_P95_MS} ms): "
          f"{'met' if met else 'MISSED'} (reads p95 {reads['p95_ms']} ms, "
          f"errors {sum(report['all']['errors'].values())})")


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        sys.exit(f"refused: {url} is not on this machine (127.0.0.1, localhost or ::1 only)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server on loopback (else one is started)")
    parser.add_argument("--home", type=Path, default=Path("/tmp/landsvc-load"),
                        help="work directory: the cluster under HOME/pg, logs")
    parser.add_argument("--parcels", type=int, default=20000, help="demo parcels to load")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=30, help="seconds")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean seconds a client waits between requests (0: closed loop)")
    parser.add_argument("--group-size", type=int, default=50,
                        help="clients sharing one httpx connection pool")
    parser.add_argument("--mix", default=DEFAULT_MIX, help="kind=weight,…")
    parser.add_argument("--cases", type=int, default=200, help="approval cases to file first")
    parser.add_argument("--imports", type=int, default=3)
    parser.add_argument("--import-parcels", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=30, help="per request, seconds")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep-cluster", action="store_true")
    parser.add_argument("--prepare-only", action="store_true")
    args = parser.parse_args(argv)
    if args.url:
        check_loopback(args.url)
    if not 1 <= args.clients <= 2000 or args.duration <= 0 or args.duration > 600 or args.max_requests < 1:
        sys.exit("1 ≤ clients ≤ 2000, 0 < duration ≤ 600 s, max-requests ≥ 1")
    home = args.home.resolve()
    prepare(home, args.parcels)
    server = None
    try:
        if args.prepare_only:
            return 0
        if args.url:
            base = args.url.rstrip("/")
        else:
            server, base = start_server(home, args.workers)
        token = landsvc(home, "token", "create", "--role", "admin", "--label", "load test",
                        "--expires-in", "12h").strip()
        plan = make_plan(base, token, cases=args.cases, seed=args.seed)
        with tempfile.TemporaryDirectory(dir=home) as tmp:
            plan.import_files = write_import_files(Path(tmp), args.imports,
                                                   args.import_parcels, args.seed)
            print(f"plan: {len(plan.districts)} offering districts, {len(plan.tiles)} tiles, "
                  f"{len(plan.demands)} demands, {plan.cases.qsize()} cases, "
                  f"{len(plan.import_files)} imports; {args.clients} clients for "
                  f"{args.duration:.0f} s")
            run = Run(args, plan)
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            server_cpu = process_tree_cpu(server.pid) if server else math.nan
            pg_cpu = postgres_cpu(home)
            load_before = os.getloadavg()
            elapsed = asyncio.run(run.main(base))
            after = resource.getrusage(resource.RUSAGE_SELF)
        meta = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                     capture_output=True, text=True).stdout.strip(),
            "dirty": bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                         cwd=ROOT, capture_output=True, text=True).stdout),
            "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
            "clients": args.clients, "think_s": args.think, "workers": args.workers,
            "duration_s": args.duration, "elapsed_s": round(elapsed, 2),
            "parcels": _scalar(home, "SELECT count(*) FROM parcel"),
            "offerings": _scalar(home, "SELECT count(*) FROM offering"),
            "listings": _scalar(home, "SELECT count(*) FROM listing"),
            "client_cpu_s": round(after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
                                  1),
            "server_cpu_s": round(process_tree_cpu(server.pid) - server_cpu, 1) if server
            else None,
            "postgres_cpu_s": round(postgres_cpu(home) - pg_cpu, 1),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            "cpus": os.cpu_count(),
        }
        report = summarize(run.results, elapsed)
        print_report(report, meta)
        OUT.mkdir(exist_ok=True)
        path = OUT / f"load-{datetime.now(UTC):%Y%m%dT%H%M%S}-w{args.workers}-c{args.clients}.json"
        path.write_text(json.dumps({"meta": meta, "report": report}, indent=1,
                                   ensure_ascii=False))
        print(f"results: {path.relative_to(ROOT)}")
        return 0
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep_cluster:
            print(landsvc(home, "db", "stop").strip())


if __name__ == "__main__":
    sys.exit(main())
