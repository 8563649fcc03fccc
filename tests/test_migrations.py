"""Migrations: up from an empty database, in step with the models, and back down."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from landsvc.db import Base, alembic_config
from landsvc.models import Parcel  # noqa: F401  (all models registered)


@pytest.fixture
def empty_database(engine):
    name = f"mig_{uuid.uuid4().hex[:8]}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(engine.url).set(database=name)
    yield url.render_as_string(hide_password=False)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def landsvc(*args, url: str) -> subprocess.CompletedProcess:
    env = os.environ | {"LANDSVC_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "landsvc.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_upgrade_from_empty_matches_models_and_downgrades(empty_database):
    result = landsvc("db", "upgrade", url=empty_database)
    assert result.returncode == 0, result.stderr
    engine = create_engine(empty_database)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert {"parcel", "district", "district_part", "city", "api_token",
                    "alembic_version"} <= tables
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == head
            gist = conn.execute(text(
                "SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist (geom)%'"
            )).scalars().all()
            spatial = {t.name for t in Base.metadata.tables.values() if "geom" in t.c}
            assert {"parcel", "park", "offering", "building"} <= spatial
            assert set(gist) == spatial
            srids = conn.execute(text(
                "SELECT DISTINCT srid FROM geometry_columns WHERE f_table_schema = 'public'"
            )).scalars().all()
            assert srids == [4326]

            def include(obj, name, type_, reflected, compare_to):
                if type_ == "table" and name == "spatial_ref_sys":
                    return False
                return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)

            context = MigrationContext.configure(conn, opts={"include_object": include})
            assert compare_metadata(context, Base.metadata) == []

            command.downgrade(alembic_config(conn), "base")
            conn.commit()
            left = set(inspect(conn).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
            assert left == set()
            functions = conn.execute(text(
                "SELECT proname FROM pg_proc WHERE proname LIKE 'landsvc%'")).scalars().all()
            assert functions == []
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(empty_database):
    assert landsvc("db", "upgrade", url=empty_database).returncode == 0
    again = landsvc("db", "upgrade", url=empty_database)
    assert again.returncode == 0 and "database at head" in again.stdout


def test_upgrade_against_unreachable_server_fails_cleanly():
    result = landsvc("db", "upgrade", url="postgresql+psycopg://postgres@127.0.0.1:1/none")
    assert result.returncode == 1
    assert "错误" in result.stderr and "Traceback" not in result.stderr
