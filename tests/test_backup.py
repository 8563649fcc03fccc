"""Backup and restore against the test cluster: a round trip into a second database on the same
server, and the refusals (a non-empty target, a truncated or foreign file) that change nothing."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from landsvc import backup
from landsvc.errors import Conflict, InvalidInput

TARGET = "landsvc_restore_target"
# The round trips below found migration 0003's trigger unrestorable (its WHEN compared
# geometries with an operator pg_restore's empty search_path cannot resolve); 0014 fixed it.
SAMPLE_READS = [
    "SELECT adcode, name, ST_AsText(geom) FROM district ORDER BY adcode",
    "SELECT adcode, name, ST_AsText(geom) FROM city ORDER BY adcode",
    "SELECT version_num FROM alembic_version ORDER BY 1",
]


def _counts(conn) -> dict[str, int]:
    tables = conn.execute(text(
        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'spatial_ref_sys' ORDER BY 1")).scalars().all()
    return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def _answers(url: str) -> dict:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {"counts": _counts(conn),
                    **{q: conn.execute(text(q)).all() for q in SAMPLE_READS}}
    finally:
        engine.dispose()


@pytest.fixture
def target_url(database_url, engine):
    """An empty second database on the same server, dropped after the test."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TARGET} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {TARGET}"))
    yield make_url(database_url).set(database=TARGET).render_as_string(hide_password=False)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {TARGET} WITH (FORCE)"))


@pytest.fixture(scope="module")
def dump(database_url, tmp_path_factory):
    path = tmp_path_factory.mktemp("backup") / "landsvc.dump"
    result = backup.backup(database_url, path)
    assert result.path == path and result.size == path.stat().st_size and result.entries > 10
    return path


def test_backup_is_private_and_leaves_no_partial_file(dump):
    assert dump.read_bytes()[:5] == b"PGDMP"
    assert os.stat(dump).st_mode & 0o077 == 0
    assert [p.name for p in dump.parent.iterdir()] == [dump.name]


def test_emptiness(target_url):
    assert backup.is_empty(target_url)
    engine = create_engine(target_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION postgis"))
    assert backup.is_empty(target_url)  # spatial_ref_sys and the views belong to PostGIS
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA other"))
    assert not backup.is_empty(target_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA other; CREATE SEQUENCE s"))
    assert not backup.is_empty(target_url)
    engine.dispose()


def test_round_trip_answers_the_same(database_url, target_url, dump):
    assert backup.is_empty(target_url)
    result = backup.restore(target_url, dump)
    assert result.relations > 10 and result.dropped == 0
    source, restored = _answers(database_url), _answers(target_url)
    assert restored["counts"]["district"] == 124 and restored["counts"]["city"] == 21
    assert restored == source
    assert not backup.is_empty(target_url)


def test_non_empty_target_is_refused_without_force(database_url, target_url, dump):
    backup.restore(target_url, dump)
    engine = create_engine(target_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM district WHERE adcode = (SELECT max(adcode) FROM district)"))
    before = _answers(target_url)
    with pytest.raises(Conflict, match="--force"):
        backup.restore(target_url, dump)
    assert _answers(target_url) == before

    result = backup.restore(target_url, dump, force=True)
    assert result.dropped > 10
    assert _answers(target_url) == _answers(database_url)
    engine.dispose()


def test_fresh_postgis_counts_as_empty(target_url, dump):
    engine = create_engine(target_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION postgis"))
    engine.dispose()
    assert backup.is_empty(target_url)
    backup.restore(target_url, dump)  # the dump's CREATE EXTENSION IF NOT EXISTS passes


@pytest.mark.parametrize("kind", ["truncated", "random", "text", "missing"])
def test_bad_file_is_refused_and_target_untouched(target_url, dump, tmp_path, kind):
    engine = create_engine(target_url, poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE marker (id int)"))
        conn.execute(text("INSERT INTO marker VALUES (1), (2)"))
    before = _marker(engine)
    bad = tmp_path / f"{kind}.dump"
    if kind == "truncated":
        data = dump.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "random":
        bad.write_bytes(os.urandom(200_000))
    elif kind == "text":
        bad.write_text("-- 这不是备份\nCREATE TABLE x (id int);\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="未做任何改动|不存在"):
        backup.restore(target_url, bad, force=True)
    assert _marker(engine) == before == [1, 2]
    engine.dispose()


def _marker(engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM marker ORDER BY id")).scalars())


def test_truncated_after_table_of_contents_is_refused(target_url, dump, tmp_path):
    data = dump.read_bytes()
    bad = tmp_path / "tail.dump"
    bad.write_bytes(data[:-1000])
    with pytest.raises(InvalidInput, match="未做任何改动"):
        backup.restore(target_url, bad)
    assert backup.is_empty(target_url)


def test_unreachable_server_is_a_clear_error(database_url, tmp_path):
    url = make_url(database_url).set(port=1).render_as_string(hide_password=False)
    with pytest.raises(backup.BackupError, match="备份失败"):
        backup.backup(url, tmp_path / "x.dump")
    assert list(tmp_path.iterdir()) == []


def test_password_is_not_on_the_command_line(database_url):
    conninfo, env = backup._libpq(database_url)
    password = make_url(database_url).password
    assert password and password not in conninfo and env["PGPASSWORD"] == password


def test_socket_and_libpq_options_are_kept():
    conninfo, env = backup._libpq(
        "postgresql+psycopg://u:p%40ss@/landsvc?host=/run/postgresql&sslmode=disable&x=1")
    assert "host=/run/postgresql" in conninfo and "sslmode=disable" in conninfo
    assert "x=" not in conninfo and "p@ss" not in conninfo and env["PGPASSWORD"] == "p@ss"
