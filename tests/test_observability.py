"""/metrics and request ids (issue 11, observability).

The metrics live in the process's registry, which every test's app shares: each test reads
its counters before and after, and checks the difference.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import BackgroundTasks
from fastapi.responses import StreamingResponse
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from landsvc import logs, observability
from landsvc.errors import ImportRejected

REQUESTS = "landsvc_http_requests_total"
LATENCY_COUNT = "landsvc_http_request_duration_seconds_count"
GENERATED = re.compile(r"[0-9a-f]{32}")


def scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, by name and labels; the text must parse."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def http(samples: dict, name: str, path: str, status: int, method: str = "GET") -> float:
    return value(samples, name, app_name="landsvc", method=method, path=path,
                 status_code=str(status))


# -- /metrics ------------------------------------------------------------------------------

def test_requests_counted_per_route_template_method_and_status(client):
    n = 3
    before = scrape(client)
    for _ in range(n):
        assert client.get("/api/v1/districts").status_code == 200
    assert client.get("/api/v1/parcels/999999999").status_code == 404
    assert client.get("/no/such/page/12345").status_code == 404
    after = scrape(client)

    def delta(name: str, path: str, status: int) -> float:
        return http(after, name, path, status) - http(before, name, path, status)

    assert delta(REQUESTS, "/api/v1/districts", 200) == n
    assert delta(LATENCY_COUNT, "/api/v1/districts", 200) == n
    assert delta(REQUESTS, "/api/v1/parcels/{parcel_id}", 404) == 1
    assert delta(LATENCY_COUNT, "/api/v1/parcels/{parcel_id}", 404) == 1
    assert delta(REQUESTS, "__unknown__", 404) == 1
    # Bounded labels: raw paths never become series, and the scrapes are not counted.
    paths = {dict(labels).get("path") for _, labels in after}
    assert not any(p and ("999999999" in p or "/no/such" in p) for p in paths)
    assert "/metrics" not in paths


def test_latency_histogram_buckets_are_cumulative(client):
    client.get("/api/v1/districts")
    samples = scrape(client)
    labels = {"app_name": "landsvc", "method": "GET", "path": "/api/v1/districts",
              "status_code": "200"}
    buckets = sorted((float(dict(k)["le"]), v) for (name, k), v in samples.items()
                     if name == "landsvc_http_request_duration_seconds_bucket"
                     and {x: y for x, y in k if x != "le"} == labels)
    assert [le for le, _ in buckets][-1] == float("inf")
    assert 0.1 in [le for le, _ in buckets]  # the p95 target of docs/benchmarks.md
    counts = [c for _, c in buckets]
    assert counts == sorted(counts)
    assert counts[-1] == value(samples, LATENCY_COUNT, **labels)


def test_metrics_not_in_the_openapi_document(app):
    assert "/metrics" not in app.openapi()["paths"]


def test_pool_gauges_of_the_apps_engine(app, client):
    pool_samples = [k for k in scrape(client) if k[0].startswith("landsvc_db_pool_")]
    assert pool_samples == []  # no engine yet: a scrape does not make one
    engine = app.state.database.engine
    try:
        with engine.connect():
            samples = scrape(client)
            pool = engine.pool
            assert (value(samples, "landsvc_db_pool_size") == pool.size()
                    == app.state.settings.pool_size)
            assert value(samples, "landsvc_db_pool_max_overflow") == app.state.settings.max_overflow
            assert value(samples, "landsvc_db_pool_checked_out") == pool.checkedout() == 1
            assert value(samples, "landsvc_db_pool_idle") == pool.checkedin() == 0
    finally:
        app.state.database.dispose()
    assert (value(samples, "landsvc_db_pool_checked_out")
            <= value(samples, "landsvc_db_pool_size") + value(samples, "landsvc_db_pool_overflow"))


def test_pool_gauges_prefer_app_state_engine(make_app, database_url):
    from fastapi.testclient import TestClient

    app = make_app()
    engine = create_engine(database_url, pool_size=2, max_overflow=1)
    app.state.engine = engine
    client = TestClient(app)
    names = ("size", "max_overflow", "checked_out", "overflow", "idle")
    try:
        with engine.connect(), engine.connect():
            samples = scrape(client)
            assert [value(samples, f"landsvc_db_pool_{n}") for n in names] == [2, 1, 2, 0, 0]
            with engine.connect():
                samples = scrape(client)
                assert [value(samples, f"landsvc_db_pool_{n}") for n in names] == [2, 1, 3, 1, 0]
        samples = scrape(client)
        # The overflow connection is closed on return; the two pooled ones wait idle.
        assert [value(samples, f"landsvc_db_pool_{n}") for n in names] == [2, 1, 0, 0, 2]
    finally:
        engine.dispose()


def import_rows(samples: dict, kind: str, outcome: str) -> float:
    return value(samples, "landsvc_import_rows_total", kind=kind, outcome=outcome)


def test_import_rows_counted_by_kind_and_outcome(client):
    before = scrape(client)
    observability.record_import("parcels", {"imported": 7, "rejected_count": 2, "rejected": []})
    observability.record_import("rent_records", {"imported": 0, "rejected_count": 5})
    after = scrape(client)
    deltas = {(kind, outcome): import_rows(after, kind, outcome) - import_rows(before, kind, outcome)
              for kind in observability.IMPORT_KINDS for outcome in ("imported", "rejected")}
    assert deltas == {("parcels", "imported"): 7, ("parcels", "rejected"): 2,
                      ("parks", "imported"): 0, ("parks", "rejected"): 0,
                      ("rent_records", "imported"): 0, ("rent_records", "rejected"): 5}


def test_an_importer_decorated_with_counts_import_counts_its_report(client):
    """The decoration the import pipelines carry; a refused import counts its bad rows."""

    @observability.counts_import("parks")
    def importer(*, rows: int, bad: int, partial: bool) -> dict:
        report = {"imported": 0, "rejected_count": bad, "rejected": []}
        if bad and not partial:
            raise ImportRejected(f"{bad} 行有误", extra={"report": report})
        return report | {"imported": rows - bad}

    before = scrape(client)
    assert importer(rows=10, bad=3, partial=True)["imported"] == 7
    with pytest.raises(ImportRejected):
        importer(rows=10, bad=4, partial=False)

    @observability.counts_import("parks")
    def refusing() -> dict:
        raise ImportRejected("文件为空")  # refused without a report: nothing to count

    with pytest.raises(ImportRejected):
        refusing()
    after = scrape(client)
    assert [import_rows(after, "parks", o) - import_rows(before, "parks", o)
            for o in ("imported", "rejected")] == [7, 7]


# -- request ids ---------------------------------------------------------------------------

@pytest.mark.parametrize("given", ["abc-123", "A.b_C-9", "x", "7" * 64,
                                   "0f9e3c1d-6a43-4c1e-9a8e-0c1b2d3e4f50"])
def test_a_valid_incoming_id_is_echoed(client, given):
    assert client.get("/api/v1/districts", headers={"X-Request-ID": given}
                      ).headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", ["", "7" * 65, "has space", "semi;colon", "a/b", "中文",
                                   "x\tTab", "<script>"])
def test_an_invalid_incoming_id_is_replaced(client, given):
    answer = client.get("/api/v1/districts", headers={"X-Request-ID": given.encode()})
    assert GENERATED.fullmatch(answer.headers["X-Request-ID"])


def test_without_an_incoming_id_each_request_gets_a_new_one(client):
    ids = {client.get("/api/v1/districts").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3 and all(GENERATED.fullmatch(i) for i in ids)


def test_a_header_injection_attempt_is_not_echoed(app):
    """Raw ASGI, since HTTP clients refuse to send CR LF in a header."""
    sent: list[dict] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/no/such", "raw_path": b"/no/such",
             "query_string": b"", "root_path": "", "server": ("testserver", 80),
             "client": ("127.0.0.1", 1234),
             "headers": [(b"host", b"testserver"),
                         (b"x-request-id", b"ok\r\nSet-Cookie: session=evil")]}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    ids = [v for k, v in start["headers"] if k == b"x-request-id"]
    assert start["status"] == 404
    assert len(ids) == 1 and GENERATED.fullmatch(ids[0].decode())
    assert not any(k == b"set-cookie" for k, _ in start["headers"])


def test_error_answers_carry_the_id(app):
    from fastapi.testclient import TestClient

    @app.get("/test-boom")
    def boom():
        raise RuntimeError("boom")

    client = TestClient(app, raise_server_exceptions=False)
    for path, status in [("/test-boom", 500), ("/api/v1/parcels/999999999", 404),
                         ("/api/v1/parcels?limit=x", 422)]:
        answer = client.get(path, headers={"X-Request-ID": f"err-{status}"})
        assert (answer.status_code, answer.headers["X-Request-ID"]) == (status, f"err-{status}")


# -- log lines -----------------------------------------------------------------------------

@contextmanager
def json_lines() -> Iterator[io.StringIO]:
    """What the landsvc loggers write, as the JSON formatter writes it (entered after the
    app is made: create_app sets the loggers' handlers anew)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    root = logging.getLogger("landsvc")
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def noisy_app(make_app):
    """An app with routes that log from a worker thread, a stream, a background task and a
    failure."""
    app = make_app()
    log = logging.getLogger("landsvc.test")

    @app.get("/test-work")
    def work(background: BackgroundTasks):  # sync: runs in the thread pool
        log.info("in the endpoint")
        background.add_task(lambda: log.info("in the background task"))
        return {"ok": True}

    @app.get("/test-stream")
    def stream():
        def chunks():
            for i in range(3):
                log.info("streaming %d", i)
                yield f"{i}\n"
        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/test-boom")
    def boom():
        log.info("about to fail")
        raise RuntimeError("boom")

    return app


def test_every_log_line_of_a_request_carries_its_id(make_app):
    from fastapi.testclient import TestClient

    client = TestClient(noisy_app(make_app), raise_server_exceptions=False)
    expected = {
        "work-1": ["in the endpoint", "in the background task", "request"],
        "stream-1": ["streaming 0", "streaming 1", "streaming 2", "request"],
        # The 500 handler runs outside the access log, so its line comes last.
        "boom-1": ["about to fail", "request", "unhandled error on GET /test-boom"],
    }
    with json_lines() as out:
        for rid, path in [("work-1", "/test-work"), ("stream-1", "/test-stream"),
                          ("boom-1", "/test-boom")]:
            client.get(path, headers={"X-Request-ID": rid})
    got = lines(out)
    for rid, messages in expected.items():
        # The access log adds "slow request" lines on a busy machine: check the others.
        mine = [line["msg"] for line in got if line.get("request_id") == rid
                and line["msg"] != "slow request"]
        assert mine == messages
    assert all("request_id" in line for line in got)
    boom = next(line for line in got if line["msg"].startswith("unhandled error"))
    assert "RuntimeError: boom" in boom["exc"]


def test_concurrent_requests_keep_their_own_ids(make_app):
    app = make_app()
    log = logging.getLogger("landsvc.test")
    arrived: list[str] = []
    both_in = asyncio.Event()

    @app.get("/test-wait")
    async def wait(tag: str):
        log.info("before %s", tag)
        arrived.append(tag)
        if len(arrived) == 2:
            both_in.set()
        await asyncio.wait_for(both_in.wait(), 10)  # both requests are now in flight
        log.info("after %s", tag)
        return {"tag": tag}

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            return await asyncio.gather(c.get("/test-wait?tag=a"), c.get("/test-wait?tag=b"))

    with json_lines() as out:
        a, b = asyncio.run(run())
    ids = {"a": a.headers["X-Request-ID"], "b": b.headers["X-Request-ID"]}
    assert ids["a"] != ids["b"]
    got = lines(out)
    for tag, rid in ids.items():
        mine = [line["msg"] for line in got if line.get("request_id") == rid
                and line["msg"] != "slow request"]
        assert mine == [f"before {tag}", f"after {tag}", "request"]


def test_plain_log_lines_carry_the_id_too(make_app):
    from fastapi.testclient import TestClient

    client = TestClient(make_app())  # make_app's apps log plain lines
    root = logging.getLogger("landsvc")
    out = io.StringIO()
    stream = root.handlers[0].setStream(out)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        client.get("/api/v1/districts", headers={"X-Request-ID": "plain-7"})
        logging.getLogger("landsvc.test").info("outside a request")
    finally:
        root.setLevel(level)
        root.handlers[0].setStream(stream)
    text = out.getvalue().splitlines()
    assert any(" [plain-7] request" in line for line in text)
    assert text[-1].endswith("landsvc.test [-] outside a request")


def test_json_lines_stay_the_default():
    from landsvc.config import Settings

    assert Settings.model_fields["log_json"].default is True


def test_multiprocess_mode_adds_up_the_workers(tmp_path):
    """docs/operations.md, "Several worker processes": the worker that answers the scrape
    gives the sum of both workers' counters."""
    import os
    import subprocess
    import sys

    worker = """
import sys
from fastapi.testclient import TestClient
from landsvc import observability
from landsvc.config import Settings
from landsvc.main import create_app

app = create_app(Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
                          log_level="ERROR"))
client = TestClient(app)
for _ in range(int(sys.argv[1])):
    assert client.get("/no/such/page").status_code == 404
observability.record_import("rent_records", {"imported": int(sys.argv[1]), "rejected_count": 1})
if sys.argv[2] == "scrape":
    print(client.get("/metrics").text)
"""
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(n: int, then: str) -> str:
        return subprocess.run([sys.executable, "-c", worker, str(n), then], env=env,
                               capture_output=True, text=True, check=True, timeout=120).stdout

    run(2, "-")
    text = run(3, "scrape")
    samples = {(s.name, frozenset(s.labels.items())): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert http(samples, REQUESTS, "__unknown__", 404) == 5
    assert [import_rows(samples, "rent_records", o) for o in ("imported", "rejected")] == [5, 2]


def test_a_real_server_echoes_ids_and_serves_metrics(server):
    """Over TCP through uvicorn, concurrent clients: each gets its own id back."""
    from concurrent.futures import ThreadPoolExecutor

    def get(rid: str) -> str:
        return httpx.get(f"{server}/api/v1/districts", headers={"X-Request-ID": rid},
                         timeout=30).headers["X-Request-ID"]

    rids = [f"tcp-{i}" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(get, rids)) == rids
    assert GENERATED.fullmatch(get("x" * 65))
    answer = httpx.get(f"{server}/metrics", timeout=30)
    families = {f.name for f in text_string_to_metric_families(answer.text)}
    assert {"landsvc_http_requests", "landsvc_http_request_duration_seconds",
            "landsvc_import_rows", "landsvc_db_pool_checked_out"} <= families


def test_imports_through_the_api_are_counted(client, tokens):
    from tests.builders import BAOAN, FUTIAN, bowtie, feature, square
    from tests.rents.util import lease

    def parcels(rows: list[dict], **params) -> httpx.Response:
        body = json.dumps({"type": "FeatureCollection", "features": rows}).encode()
        return client.post("/api/v1/parcels/import", headers=tokens["admin"], params=params,
                           files={"file": ("p.geojson", io.BytesIO(body), "application/geo+json")})

    good = [feature(square(FUTIAN[0] + 0.002 * i, FUTIAN[1]), code=f"OBS-{i}") for i in range(3)]
    bad = feature(bowtie(*BAOAN), code="OBS-BAD")
    before = scrape(client)
    assert parcels([*good, bad]).status_code == 422  # all or nothing: refused whole
    assert parcels([*good, bad], partial="true").json()["imported"] == 3
    rents = [lease("OBS-R1"), lease("OBS-R2"), lease("OBS-R3", area_m2=0)]
    answer = client.post("/api/v1/rent-records?partial=true", json=rents,
                         headers=tokens["admin"])
    assert (answer.status_code, answer.json()["imported"]) == (200, 2)
    after = scrape(client)
    deltas = {(kind, outcome): import_rows(after, kind, outcome) - import_rows(before, kind, outcome)
              for kind in ("parcels", "rent_records") for outcome in ("imported", "rejected")}
    assert deltas == {("parcels", "imported"): 3, ("parcels", "rejected"): 2,
                      ("rent_records", "imported"): 2, ("rent_records", "rejected"): 1}
