"""Database outages under a running server: 503 with Retry-After while PostgreSQL is down or
does not answer, recovery without a restart, and a write cut by the outage all or nothing.

These tests stop and start a PostgreSQL, so they run on a cluster of their own (never the
session's), with the app served by uvicorn in a thread as in production.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from landsvc.config import Settings, get_settings
from landsvc.db import upgrade_database
from landsvc.pgcluster import PgCluster
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token
from tests.builders import FUTIAN, feature, square
from tests.conftest import serving

CONNECT_TIMEOUT_S = 2


def app_for(url: str, **settings) -> FastAPI:
    from landsvc.main import create_app

    return create_app(Settings(database_url=url, log_json=False, log_level="CRITICAL",
                               connect_timeout_s=CONNECT_TIMEOUT_S, **settings))


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[tuple[PgCluster, str]]:
    """A cluster of this module's own, migrated, with the divisions loaded."""
    home = Path(tempfile.mkdtemp(prefix="landsvc-outage-", dir="/tmp"))
    home.chmod(0o755)
    pg = PgCluster(home, fast=True)
    url = pg.start().url
    engine = create_engine(url, poolclass=NullPool)
    with engine.begin() as conn:
        upgrade_database(connection=conn)
    from landsvc.districts.service import DIVISIONS_FILE, load_divisions

    with Session(engine) as session, session.begin():
        load_divisions(session=session, path=get_settings().geodata_dir / DIVISIONS_FILE)
    engine.dispose()
    yield pg, url
    pg.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def admin(own_cluster) -> dict[str, str]:
    engine = create_engine(own_cluster[1], poolclass=NullPool)
    with Session(engine) as session, session.begin():
        token = create_token(session=session, role=Role.admin, label="outage-tests")
    engine.dispose()
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def connected(url: str):
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def timed(method: str, url: str, **kwargs) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    r = httpx.request(method, url, timeout=30, **kwargs)
    return r, time.monotonic() - start


# -- down, then back ----------------------------------------------------------------------
def test_stopped_database_answers_503_and_the_app_recovers_by_itself(own_cluster, capsys):
    pg, url = own_cluster
    with serving(app_for(url)) as base:
        parcels, health, page = (f"{base}/api/v1/parcels", f"{base}/api/v1/health",
                                 f"{base}/portal/offerings")
        assert httpx.get(parcels).status_code == 200  # the pool holds live connections now
        assert httpx.get(health).json()["database"] == "ok"
        assert httpx.get(page).status_code == 200

        pg.stop()
        try:
            r, took = timed("GET", parcels)
            assert r.status_code == 503
            assert r.headers["retry-after"] == "10"
            assert r.json() == {"detail": "数据库暂时无法连接，请稍后再试",
                                "code": "database_unavailable"}
            assert took < CONNECT_TIMEOUT_S
            r = httpx.get(parcels)  # the pool was emptied: a new connection is refused
            assert (r.status_code, r.json()["code"]) == (503, "database_unavailable")

            r = httpx.get(health)
            assert r.status_code == 503 and r.headers["retry-after"] == "10"
            assert r.json() == {"status": "error", "database": "unavailable", "postgis": None}

            r = httpx.get(page)
            assert r.status_code == 503 and r.headers["retry-after"] == "10"
            assert r.headers["content-type"].startswith("text/html")
            assert "服务暂时不可用" in r.text and "数据库暂时无法连接，请稍后再试" in r.text
        finally:
            down_at = time.monotonic()
            pg.start()
            restarted = time.monotonic() - down_at

        r, recovered = timed("GET", parcels)
        assert r.status_code == 200 and r.json()["numberMatched"] == 0
        assert httpx.get(health).json()["status"] == "ok"
        assert httpx.get(page).status_code == 200
    with capsys.disabled():
        print(f"\n  503 while stopped in {took * 1000:.0f} ms; cluster restart "
              f"{restarted:.1f} s; first request after it {recovered * 1000:.0f} ms (200)")


def test_a_database_that_does_not_answer_times_out_into_503(own_cluster, capsys):
    """A listening socket that never speaks: libpq gives up after ``connect_timeout``."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        app = app_for(f"postgresql+psycopg://landsvc:x@127.0.0.1:{port}/landsvc")
        with serving(app) as base:
            r, took = timed("GET", f"{base}/api/v1/parcels")
            assert (r.status_code, r.json()["code"]) == (503, "database_unavailable")
            assert r.headers["retry-after"] == "10"
            assert CONNECT_TIMEOUT_S - 0.2 < took < CONNECT_TIMEOUT_S + 1.5
            r = httpx.get(f"{base}/api/v1/health", timeout=30)
            assert r.status_code == 503 and r.json()["database"] == "unavailable"
    finally:
        silent.close()
    with capsys.disabled():
        print(f"\n  503 from a silent server after {took:.2f} s "
              f"(connect_timeout_s={CONNECT_TIMEOUT_S})")


# -- a write cut by the outage ------------------------------------------------------------
ROWS = 1000
CUT_AT = "CUT-0600"


def parcel_file() -> bytes:
    """``ROWS`` small squares in a grid around Futian's civic centre."""
    rows = [feature(square(FUTIAN[0] + 0.0004 * (i % 40), FUTIAN[1] + 0.0004 * (i // 40), 20),
                    code=f"CUT-{i:04d}") for i in range(ROWS)]
    return json.dumps({"type": "FeatureCollection", "features": rows}).encode()


def stored_rows(url: str) -> int:
    with connected(url) as conn:
        return conn.scalar(text("SELECT count(*) FROM parcel WHERE code LIKE 'CUT-%'"))


@pytest.fixture
def stall_at_row(own_cluster):
    """A trigger that holds the import at row ``CUT_AT`` (600 rows written) in pg_sleep."""
    url = own_cluster[1]
    with connected(url) as conn:
        conn.execute(text(f"""
            CREATE FUNCTION test_stall() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep(60); RETURN NEW; END $$;
            CREATE TRIGGER test_stall AFTER INSERT ON parcel FOR EACH ROW
              WHEN (NEW.code = '{CUT_AT}') EXECUTE FUNCTION test_stall();"""))
        conn.commit()
    yield
    with connected(url) as conn:
        conn.execute(text("DROP TRIGGER IF EXISTS test_stall ON parcel; "
                          "DROP FUNCTION IF EXISTS test_stall(); "
                          "DELETE FROM parcel WHERE code LIKE 'CUT-%'"))
        conn.commit()


def stalled_backend(url: str) -> int:
    """The pid of the import's backend once it sleeps in the trigger."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connected(url) as conn:
            pid = conn.scalar(text("SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                                   " AND query LIKE 'COPY %parcel%'"))
        if pid:
            return pid
        time.sleep(0.1)
    raise AssertionError("the import never reached the stalling row")


@pytest.mark.parametrize("cut", ["terminate", "stop"])
def test_an_import_cut_mid_transaction_stores_nothing_then_all(own_cluster, admin, stall_at_row,
                                                               cut):
    pg, url = own_cluster
    body = parcel_file()
    with serving(app_for(url)) as base:
        answer: dict = {}

        def post():
            answer["r"] = httpx.post(f"{base}/api/v1/parcels/import", headers=admin, timeout=90,
                                     files={"file": ("p.geojson", body, "application/geo+json")})

        importer = threading.Thread(target=post)
        importer.start()
        pid = stalled_backend(url)  # 600 rows are in the import's transaction now
        if cut == "terminate":
            with connected(url) as conn:
                assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        else:
            pg.stop()
            pg.start()
        importer.join(60)
        r = answer["r"]
        assert r.status_code == 503 and r.headers["retry-after"] == "10"
        assert r.json() == {"detail": "数据库暂时无法连接，请稍后再试",
                            "code": "database_unavailable"}
        assert stored_rows(url) == 0  # none of the 600

        with connected(url) as conn:
            conn.execute(text("DROP TRIGGER test_stall ON parcel"))
            conn.commit()
        r = httpx.post(f"{base}/api/v1/parcels/import", headers=admin, timeout=90,
                       files={"file": ("p.geojson", body, "application/geo+json")})
        assert r.status_code == 200 and r.json()["imported"] == ROWS, r.text
        assert stored_rows(url) == ROWS  # all, once the database stays up
