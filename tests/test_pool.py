"""The bounded pool, the statement timeout and the slow-request log, on the session's
database (nothing here stops it): requests beyond the pool get 503 ``database_busy`` after
the pool timeout instead of hanging; a statement over the limit 503 ``statement_timeout``;
a slow request a WARNING line with its database time."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from landsvc.config import Settings
from landsvc.db import SessionDep
from tests.conftest import serving


def sleeper(session: SessionDep, s: float = 0.0) -> dict:
    """Test-only: one statement that takes ``s`` seconds."""
    session.execute(text("SELECT pg_sleep(:s)"), {"s": s})
    return {"slept": s}


def app_with(database_url: str, **settings) -> FastAPI:
    from landsvc.main import create_app

    app = create_app(Settings(database_url=database_url, log_json=False,
                              **({"log_level": "CRITICAL"} | settings)))
    app.get("/api/v1/test-sleep")(sleeper)
    return app


@pytest.fixture
def one_connection(database_url):
    app = app_with(database_url, pool_size=1, max_overflow=0, pool_timeout_s=0.5)
    yield app
    app.state.database.dispose()


def test_a_request_finding_the_pool_taken_gets_503_busy_not_a_hang(one_connection):
    client = TestClient(one_connection, raise_server_exceptions=False)
    assert client.get("/api/v1/parcels").status_code == 200
    with one_connection.state.database.engine.connect() as held:  # the only connection
        held.execute(text("SELECT 1"))
        start = time.monotonic()
        r = client.get("/api/v1/parcels")
        took = time.monotonic() - start
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.json() == {"detail": "数据库连接已全部占用，请稍后再试", "code": "database_busy"}
        assert 0.5 <= took < 1.5
        r = client.get("/portal/offerings")
        assert r.status_code == 503 and r.headers["retry-after"] == "2"
        assert r.headers["content-type"].startswith("text/html")
        assert "服务暂时不可用" in r.text and "数据库连接已全部占用" in r.text
        r = client.get("/api/v1/health")
        assert r.status_code == 503 and r.json()["database"] == "unavailable"
    assert client.get("/api/v1/parcels").status_code == 200  # given back: served again


def test_a_flood_beyond_the_pool_gets_503s_and_the_pool_serves_the_rest(database_url, capsys):
    """Eight requests at once on two connections, each holding its connection 3 s: two
    answers, six 503s after the 1 s pool timeout — nobody waits for the sleepers."""
    app = app_with(database_url, pool_size=2, max_overflow=0, pool_timeout_s=1)
    with serving(app) as base, ThreadPoolExecutor(8) as pool:
        assert httpx.get(f"{base}/api/v1/test-sleep").status_code == 200  # warm

        def call(_):
            start = time.monotonic()
            r = httpx.get(f"{base}/api/v1/test-sleep", params={"s": 3}, timeout=30)
            return r.status_code, r.json().get("code"), time.monotonic() - start

        answers = list(pool.map(call, range(8)))
    statuses = sorted((status, code) for status, code, _ in answers)
    assert statuses == [(200, None)] * 2 + [(503, "database_busy")] * 6
    busy = [t for status, _, t in answers if status == 503]
    served = [t for status, _, t in answers if status == 200]
    assert min(busy) >= 1 and max(busy) < min(served) and min(served) >= 3
    with capsys.disabled():
        print(f"\n  pool 2 / 8 at once: 503 busy after {min(busy):.2f}–{max(busy):.2f} s, "
              f"2 served in {max(served):.2f} s")


def test_a_statement_over_the_timeout_is_cancelled_into_503(database_url):
    app = app_with(database_url, statement_timeout_ms=300)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/api/v1/test-sleep").json() == {"slept": 0.0}  # connected
    start = time.monotonic()
    r = client.get("/api/v1/test-sleep", params={"s": 2})
    took = time.monotonic() - start
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json() == {"detail": "查询超时，已被数据库取消；请缩小查询范围或稍后再试",
                        "code": "statement_timeout"}
    assert 0.3 <= took < 1.5  # cancelled, not slept out
    assert client.get("/api/v1/test-sleep", params={"s": 0.1}).json() == {"slept": 0.1}
    app.state.database.dispose()


def test_the_command_line_engine_has_no_statement_timeout(database_url):
    from landsvc.db import get_engine

    with get_engine().connect() as conn:
        assert conn.scalar(text("SHOW statement_timeout")) == "0"


def test_the_app_engine_has_its_settings(database_url):
    app = app_with(database_url, statement_timeout_ms=15_000, pool_size=3, max_overflow=4,
                   pool_timeout_s=5)
    engine = app.state.database.engine
    with engine.connect() as conn:
        assert conn.scalar(text("SHOW statement_timeout")) == "15s"
        assert conn.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._timeout) == (3, 4, 5)
    app.state.database.dispose()


def test_a_slow_request_is_logged_with_its_database_time(database_url, caplog):
    app = app_with(database_url, slow_request_ms=200, log_level="INFO")
    client = TestClient(app)
    client.get("/api/v1/test-sleep")  # connected before the measured requests
    http_log = logging.getLogger("landsvc.http")
    http_log.addHandler(caplog.handler)
    try:
        client.get("/api/v1/test-sleep", params={"s": 0})
        client.get("/api/v1/test-sleep", params={"s": 0.4})
    finally:
        http_log.removeHandler(caplog.handler)
    lines = [(r.levelname, r.getMessage(), r.fields) for r in caplog.records
             if r.name == "landsvc.http"]
    assert [(level, message) for level, message, _ in lines] == [
        ("INFO", "request"), ("INFO", "request"), ("WARNING", "slow request")]
    fast, slow, warning = (fields for _, _, fields in lines)
    assert (fast["status"], fast["statements"]) == (200, 1) and fast["db_ms"] < 200
    assert slow == warning
    assert (slow["method"], slow["path"], slow["status"], slow["statements"]) == (
        "GET", "/api/v1/test-sleep", 200, 1)
    assert 400 <= slow["db_ms"] <= slow["ms"]
    app.state.database.dispose()
