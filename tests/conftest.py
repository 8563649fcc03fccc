"""Test fixtures on a real PostGIS: an embedded cluster started once per test session.

Migrations run once; the divisions are loaded once and committed; every test then runs in a
transaction that is rolled back, so tests see each other's data never.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from landsvc.config import Settings, get_settings
from landsvc.db import get_session, upgrade_database
from landsvc.pgcluster import PgCluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[PgCluster]:
    # /tmp itself, not pytest's 0700 tmp tree: the server runs as postgres and must get in.
    home = Path(tempfile.mkdtemp(prefix="landsvc-test-", dir="/tmp"))
    home.chmod(0o755)
    pg = PgCluster(home, fast=True)
    pg.start()
    yield pg
    pg.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(cluster: PgCluster) -> Iterator[str]:
    url = cluster.status().url
    os.environ["LANDSVC_DATABASE_URL"] = url
    get_settings.cache_clear()
    from landsvc.db import _session_factory, get_engine

    get_engine.cache_clear()
    _session_factory.cache_clear()
    upgrade_database()
    from landsvc.db import session_scope
    from landsvc.districts.service import DIVISIONS_FILE, load_divisions

    with session_scope() as session:
        load_divisions(session=session, path=get_settings().geodata_dir / DIVISIONS_FILE)
    yield url


@pytest.fixture(scope="session")
def engine(database_url: str):
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test."""
    with engine.connect() as connection:
        outer = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
            yield s
        outer.rollback()


@pytest.fixture
def make_app(session: Session, database_url: str):
    """An app (with given settings) whose requests share the test's session."""
    from landsvc.main import create_app

    def make(**settings):
        app = create_app(Settings(database_url=database_url, log_json=False,
                                  log_level="WARNING", **settings))
        app.dependency_overrides[get_session] = test_session
        return app

    def test_session():
        # Each request commits or rolls back to a savepoint, as session_scope() does for real.
        nested = session.begin_nested()
        try:
            yield session
        except BaseException:
            nested.rollback()
            raise
        nested.commit()

    return make


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def tokens(session: Session) -> dict[str, dict[str, str]]:
    """Authorization headers per role and jurisdiction."""
    from landsvc.tokens.models import Role
    from landsvc.tokens.service import create_token

    def header(**kwargs) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_token(session=session, **kwargs)}"}

    return {
        "admin": header(role=Role.admin),
        "province": header(role=Role.bureau, jurisdiction="44"),
        "shenzhen": header(role=Role.bureau, jurisdiction="4403"),
        "baoan": header(role=Role.bureau, jurisdiction="440306"),
        "guangzhou": header(role=Role.bureau, jurisdiction="4401"),
        "enterprise": header(role=Role.enterprise, enterprise_uscc="91440300MA5FXXXX1X"),
    }


@contextmanager
def serving(app) -> Iterator[str]:
    """``app`` on a free loopback port, in a thread, until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()
        app.state.database.dispose()


@pytest.fixture(scope="session")
def server(database_url) -> Iterator[str]:
    """The real application on a free loopback port, in a thread, its requests on real
    sessions: for tests of concurrent clients and of browsers, which need committed data."""
    from landsvc.main import create_app

    app = create_app(Settings(database_url=database_url, log_json=False, log_level="CRITICAL"))
    with serving(app) as url:
        yield url
