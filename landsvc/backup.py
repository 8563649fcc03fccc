"""Backup and restore with PostgreSQL's own ``pg_dump`` and ``pg_restore`` (custom format).

``pg_dump`` reads the whole database in one snapshot, so a backup taken while the app runs is
consistent. A restore goes only into an *empty* database: one with no schema and no relation
(table, view, sequence, materialised view, foreign table) of its own outside the system
schemas — what belongs to an extension, such as PostGIS's ``spatial_ref_sys``, does not count.
So a fresh database, with or without ``CREATE EXTENSION postgis``, is empty; one that has been
migrated (``alembic_version``) is not.

The password never appears on a command line: the programs get it in ``PGPASSWORD``, and the
other connection parameters in a conninfo string. They are client programs and run as the
invoking user (only the server refuses root), from the PostgreSQL found as for the embedded
cluster (``LANDSVC_PG_BINDIR`` or the newest under ``/usr/lib/postgresql``).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg import pq
from psycopg.conninfo import make_conninfo
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

from landsvc.errors import Conflict, InvalidInput, LandsvcError

# Schemas of the server itself; anything else that no extension owns is the database's own.
_OWN_SCHEMAS = """
    SELECT n.nspname FROM pg_namespace n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
                        AND d.deptype = 'e')
"""
_OWN_RELATIONS = f"""
    SELECT n.nspname || '.' || c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ({_OWN_SCHEMAS})
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype = 'e')
    ORDER BY 1
"""


class BackupError(LandsvcError):
    """pg_dump or pg_restore failed, or could not be run."""

    code = "backup_failed"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    entries: int  # items in the archive's table of contents
    seconds: float


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    dropped: int  # relations dropped first (with ``force``)
    relations: int  # tables, views and sequences in the database after the restore
    seconds: float


# -- public -------------------------------------------------------------------------------
def backup(url: str, path: Path) -> BackupResult:
    """Dump the database at ``url`` into ``path`` (custom format, written whole or not at all)."""
    path = Path(path)
    started = time.monotonic()
    if path.is_dir():
        raise InvalidInput(f"{path} 是目录：请给出备份文件名")
    if not path.parent.is_dir():
        raise InvalidInput(f"目录 {path.parent} 不存在")
    conninfo, env = _libpq(url)
    # Under a temporary name in the same directory (mode 0600: the backup holds every row),
    # renamed into place once pg_dump succeeded: a failed backup leaves no half file behind.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".partial")
    os.close(fd)
    try:
        _run(["pg_dump", "--format=custom", f"--file={tmp}", f"--dbname={conninfo}"], env,
             "备份失败（pg_dump）")
        entries = _check_archive(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return BackupResult(path, path.stat().st_size, entries, time.monotonic() - started)


def restore(url: str, path: Path, *, force: bool = False) -> RestoreResult:
    """Restore the backup ``path`` into the empty database at ``url``.

    The file is read whole (``pg_restore --list``, then a dry run to ``/dev/null``) before the
    database is touched. A database that is not empty is refused unless ``force``, which drops
    its own schemas first (DROP, not TRUNCATE: the append-only tables refuse that). The
    restore runs in one transaction and stops at the first error, so a failed one changes
    nothing beyond that drop.
    """
    path = Path(path)
    started = time.monotonic()
    _check_archive(path)
    conninfo, env = _libpq(url)
    _run(["pg_restore", "--file=/dev/null", str(path)], env,
         f"{path} 不完整或已损坏，未做任何改动", invalid=True)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            relations = _own_relations(conn) + sorted(
                f"模式 {schema}" for schema in _own_schemas(conn) - {"public"})
            if relations and not force:
                shown = "、".join(relations[:5]) + (" 等" if len(relations) > 5 else "")
                raise Conflict(
                    f"目标数据库不是空的（有 {len(relations)} 个表/视图/序列或模式：{shown}）；"
                    "确认要覆盖请加 --force", code="database_not_empty")
            if force:
                _drop_own_schemas(conn)
        _run(["pg_restore", "--no-owner", "--exit-on-error", "--single-transaction",
              f"--dbname={conninfo}", str(path)], env,
             "恢复失败（pg_restore），已回滚" + ("（原有数据已按 --force 删除）" if force
                                               else "，目标数据库未被改动"))
        with engine.connect() as conn:
            restored = conn.execute(text(
                f"SELECT count(*) FROM ({_OWN_RELATIONS}) r")).scalar_one()
    finally:
        engine.dispose()
    return RestoreResult(path, len(relations) if force else 0, restored,
                         time.monotonic() - started)


def is_empty(url: str) -> bool:
    """Whether the database at ``url`` has no schema or relation of its own (see module doc)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return not _own_relations(conn) and not _own_schemas(conn) - {"public"}
    finally:
        engine.dispose()


# -- internals ----------------------------------------------------------------------------
def _own_relations(conn: Connection) -> list[str]:
    return list(conn.execute(text(_OWN_RELATIONS)).scalars())


def _own_schemas(conn: Connection) -> set[str]:
    return set(conn.execute(text(_OWN_SCHEMAS)).scalars())


def _drop_own_schemas(conn: Connection) -> None:
    """Drop every schema of the database's own, public included, and make public afresh."""
    for schema in sorted(_own_schemas(conn)):
        quoted = conn.dialect.identifier_preparer.quote(schema)
        # CASCADE takes the extensions installed in it along (PostGIS in public); the backup
        # creates them again.
        conn.execute(text(f"DROP SCHEMA {quoted} CASCADE"))
    # public as a fresh PostgreSQL 15 database has it.
    conn.execute(text("CREATE SCHEMA public AUTHORIZATION pg_database_owner"))
    conn.execute(text("GRANT USAGE ON SCHEMA public TO PUBLIC"))
    conn.execute(text("COMMENT ON SCHEMA public IS 'standard public schema'"))


def _check_archive(path: Path) -> int:
    """The number of entries in a custom-format archive; InvalidInput for anything else."""
    if not path.is_file():
        raise InvalidInput(f"备份文件 {path} 不存在或不是普通文件")
    with path.open("rb") as fh:
        magic = fh.read(5)
    if magic != b"PGDMP":
        raise InvalidInput(f"{path} 不是 pg_dump 自定义格式（-Fc）的备份文件，未做任何改动")
    listing = _run(["pg_restore", "--list", str(path)], _base_env(),
                   f"{path} 无法读取（不完整或已损坏），未做任何改动", invalid=True)
    return sum(1 for line in listing.splitlines() if line and not line.startswith(";"))


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A conninfo without the password, and the environment that carries it."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        raise InvalidInput(f"不是 PostgreSQL 数据库地址：{parsed.drivername}")
    known = {option.keyword.decode() for option in pq.Conninfo.get_defaults()}
    params = {key: value for key, value in parsed.query.items()
              if key in known and key != "password" and isinstance(value, str)}
    # What the URL's authority gives wins; a unix socket comes as ?host=/run/postgresql.
    given = {"host": parsed.host, "port": parsed.port, "user": parsed.username,
             "dbname": parsed.database}
    params.update({key: str(value) for key, value in given.items() if value is not None})
    conninfo = make_conninfo(**params)
    env = _base_env()
    if parsed.password is not None:
        env["PGPASSWORD"] = parsed.password
    return conninfo, env


def _base_env() -> dict[str, str]:
    # Nothing of the caller's PG* settings (a PGPASSFILE or PGSERVICE could redirect us).
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "PGCONNECT_TIMEOUT": "10"}


def _run(argv: list[str], env: dict[str, str], failure: str, *, invalid: bool = False) -> str:
    from landsvc.pgcluster import ClusterError, _find_bindir

    try:
        program = str(_find_bindir() / argv[0])
    except ClusterError as exc:
        raise BackupError(str(exc)) from None
    try:
        result = subprocess.run([program, *argv[1:]], capture_output=True, text=True, env=env,
                                cwd="/", check=False)
    except OSError as exc:
        raise BackupError(f"无法运行 {program}：{exc}") from None
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        # The first error says why; "Command was: …" and the summary lines after it do not.
        errors = [line for line in lines if ": error: " in line] or lines[-1:]
        message = f"{failure}：{errors[0] if errors else f'退出码 {result.returncode}'}"
        raise (InvalidInput if invalid else BackupError)(message)
    return result.stdout
