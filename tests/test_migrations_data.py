"""Migrations keep data: a database filled with the demo at head is taken down to every earlier
revision and back up, one step at a time, and no step loses or changes a row.

The demo (``landsvc demo load``) writes only at head, so the fill happens once at head (the
divisions, 300 demo parcels with the whole demo supply, the demo accounts, tokens) and each
earlier revision ``r`` is reached by downgrading a copy (``CREATE DATABASE … TEMPLATE``). A
downgrade drops the tables ``r`` does not have yet; the tables that exist at ``r`` keep their
rows. Then the copy is upgraded one revision at a time, and after every step each table that
existed before the step still has:

- the same number of rows;
- the same first five rows by primary key, every column as text;
- the same digest of every column over the whole table (md5 of all its values in key order).

Columns that a step adds are left out of the comparison; the columns common to both sides
are compared. At head, every table that survived the round trip equals the original fill on
the columns it had at ``r``: a downgrade that drops a column drops its values (below 0002 the
tokens forget their expiry and last use), by design. The revisions come from Alembic's script directory, so a new migration is
covered without editing this file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

from landsvc.db import alembic_config

LANDSVC = str(Path(sys.executable).with_name("landsvc"))
SAMPLE = 5
IGNORED = {"alembic_version", "spatial_ref_sys"}


def _revisions() -> list[str]:
    """Every revision from the first to head, in order (the chain is linear)."""
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "migrations branch: one head expected"
    return [r.revision for r in reversed(list(script.walk_revisions()))]


REVISIONS = _revisions()


@dataclass(frozen=True)
class Table:
    count: int
    columns: tuple[str, ...]
    sample: tuple[dict[str, str | None], ...]
    """The first rows by primary key, each column as text."""
    digests: dict[str, str]
    """Per column: md5 of all its values as text, in primary key order."""


Snapshot = dict[str, Table]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def snapshot(conn: Connection) -> Snapshot:
    """Counts, samples and per-column digests of every table of ours."""
    columns: dict[str, list[str]] = {}
    for table, column in conn.execute(text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name IN "
            "(SELECT tablename FROM pg_tables WHERE schemaname = 'public') "
            "ORDER BY table_name, ordinal_position")):
        if table not in IGNORED:
            columns.setdefault(table, []).append(column)
    keys: dict[str, list[str]] = {}
    for table, column in conn.execute(text(
            "SELECT c.relname, a.attname FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' "
            "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, pos) ON true "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
            "WHERE i.indisprimary ORDER BY c.relname, k.pos")):
        keys.setdefault(table, []).append(column)
    tables = {}
    for table, cols in columns.items():
        order = ", ".join(_quote(c) for c in keys.get(table) or cols)
        as_text = [f"{_quote(c)}::text" for c in cols]
        digests = ", ".join(
            f"md5(coalesce(string_agg(coalesce({t}, '\\N'), '|' ORDER BY {order}), ''))"
            for t in as_text)
        row = conn.execute(text(f"SELECT count(*), {digests} FROM {_quote(table)}")).one()
        sample = conn.execute(text(
            f"SELECT {', '.join(as_text)} FROM {_quote(table)} ORDER BY {order} LIMIT {SAMPLE}"
        )).all()
        tables[table] = Table(
            count=row[0], columns=tuple(cols),
            sample=tuple(dict(zip(cols, r, strict=True)) for r in sample),
            digests=dict(zip(cols, row[1:], strict=True)))
    return tables


def differences(before: Snapshot, after: Snapshot, *, label: str) -> list[str]:
    """What changed in the tables of ``before`` (a table gone is a difference), on the
    columns both sides have."""
    found = []
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            found.append(f"{label}: table {name} ({old.count} rows) is gone")
            continue
        if new.count != old.count:
            found.append(f"{label}: {name} has {new.count} rows, had {old.count}")
        common = [c for c in old.columns if c in new.columns]
        dropped = [c for c in old.columns if c not in new.columns]
        if dropped:
            found.append(f"{label}: {name} lost columns {dropped}")
        changed = [c for c in common if old.digests[c] != new.digests[c]]
        if changed:
            found.append(f"{label}: {name} changed values in columns {changed}")
        for i, (a, b) in enumerate(zip(old.sample, new.sample, strict=False)):
            diff = {c: (a[c], b[c]) for c in common if a[c] != b[c]}
            if diff:
                found.append(f"{label}: {name} sample row {i} differs: {str(diff)[:300]}")
    return found


def _only(table: Table, columns: tuple[str, ...]) -> Table:
    """``table`` on ``columns`` only: what a revision without the later columns can keep."""
    cols = tuple(c for c in table.columns if c in columns)
    return Table(count=table.count, columns=cols,
                 sample=tuple({c: row[c] for c in cols} for row in table.sample),
                 digests={c: table.digests[c] for c in cols})


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "LANDSVC_DATABASE_URL": url, "LANDSVC_LOG_JSON": "false",
            "LANDSVC_LOG_LEVEL": "WARNING"}


def _cli(url: str, *args: str) -> str:
    done = subprocess.run([LANDSVC, *args], capture_output=True, text=True, env=_env(url),
                          timeout=600)
    assert done.returncode == 0, f"landsvc {' '.join(args)}: {done.stderr}"
    return done.stdout


def _url_of(database_url: str, name: str) -> str:
    return re.sub(r"/[^/?]+(\?|$)", rf"/{name}\1", database_url, count=1)


def _admin(database_url: str) -> psycopg.Connection:
    return psycopg.connect(_url_of(database_url, "postgres").replace("+psycopg", ""),
                           autocommit=True)


@dataclass(frozen=True)
class Filled:
    name: str
    url: str
    head: Snapshot


@pytest.fixture(scope="module")
def filled(database_url: str) -> Iterator[Filled]:
    """A database at head with the divisions, the demo, its accounts and three tokens."""
    name = f"migdata_{uuid.uuid4().hex[:8]}"
    url = _url_of(database_url, name)
    with _admin(database_url) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        _cli(url, "db", "upgrade")
        _cli(url, "geodata", "load")
        _cli(url, "demo", "load", "--parcels", "300")
        accounts = json.loads(_cli(url, "demo", "accounts", "--json"))
        assert {a["role"] for a in accounts} == {"enterprise", "bureau", "admin"}
        _cli(url, "token", "create", "--role", "admin", "--label", "migration test")
        _cli(url, "token", "create", "--role", "bureau", "--jurisdiction", "4403")
        _cli(url, "token", "create", "--role", "bureau", "--jurisdiction", "440306",
             "--expires-in", "90d")
        _cli(url, "policy", "set", "4403", "offerings.lease_max_years", "15",
             "--note", "migration test")
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                head = snapshot(conn)
        finally:
            engine.dispose()
        yield Filled(name=name, url=url, head=head)
    finally:
        with _admin(database_url) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_the_fill_reaches_every_table(filled: Filled):
    """The demo leaves no table of head empty but the ones it has no business writing,
    so the round trips below compare real rows."""
    empty = sorted(name for name, t in filled.head.items() if t.count == 0)
    assert empty == sorted(EMPTY_AFTER_DEMO), empty
    assert filled.head["parcel"].count == 300
    assert filled.head["api_token"].count == 3
    assert filled.head["app_user"].count == 3
    assert filled.head["policy_setting"].count == 1


EMPTY_AFTER_DEMO = {"login_failure", "rent_zone", "web_session", "webhook_delivery"}
"""Tables the fill does not write: sign-ins and their failures, hand-drawn rent zones, and
webhook deliveries (nobody subscribed)."""


def test_the_comparison_sees_a_changed_value_beyond_the_sample_and_a_lost_row(
        filled: Filled, database_url: str):
    name = f"{filled.name}_probe"
    with _admin(database_url) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {filled.name}")
    engine = create_engine(_url_of(database_url, name))
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE parcel SET land_use = 'X' "
                              "WHERE id = (SELECT max(id) FROM parcel)"))
            conn.execute(text("DELETE FROM policy_setting"))
        with engine.connect() as conn:
            found = differences(filled.head, snapshot(conn), label="probe")
            # From 0016 on, the write audit records the two writes: not what is probed here.
            assert [line for line in found if not line.startswith("probe: audit_entry")] == [
                "probe: parcel changed values in columns ['land_use']",
                "probe: policy_setting has 0 rows, had 1",
                "probe: policy_setting changed values in columns "
                f"{list(filled.head['policy_setting'].columns)}",
            ]
    finally:
        engine.dispose()
        with _admin(database_url) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.parametrize("revision", REVISIONS[:-1])
def test_round_trip_from_revision_keeps_data(filled: Filled, database_url: str,
                                             revision: str):
    name = f"{filled.name}_{revision}"
    with _admin(database_url) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {filled.name}")
    engine = create_engine(_url_of(database_url, name))
    try:
        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), revision)
            conn.commit()
            at_r = snapshot(conn)
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == revision
            # Going down drops tables and the columns added later, never rows or values.
            assert set(at_r) <= set(filled.head)
            kept = {t: _only(filled.head[t], at_r[t].columns) for t in at_r}
            assert differences(kept, at_r, label=f"down to {revision}") == []
            before = at_r
            problems = []
            for step in REVISIONS[REVISIONS.index(revision) + 1:]:
                command.upgrade(alembic_config(conn), step)
                conn.commit()
                after = snapshot(conn)
                problems += differences(before, after, label=f"up to {step}")
                before = after
            assert problems == []
            assert set(before) == set(filled.head)
            assert differences(kept, before, label=f"{revision} → head") == []
    finally:
        engine.dispose()
        with _admin(database_url) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
