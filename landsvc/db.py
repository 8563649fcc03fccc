"""Engine, sessions and the declarative base."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Enum, MetaData, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from starlette.requests import HTTPConnection

from landsvc.config import Settings, get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LabelledEnum(enum.StrEnum):
    """An enum of English identifiers, each with the Chinese label people read.

    Members are written ``stock = "stock", "存量建设用地"``.
    """

    label: str

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def lookup(cls) -> dict[str, str]:
        """Identifier and label alike -> identifier, for input that may use either."""
        return {m.value: m.value for m in cls} | {m.label: m.value for m in cls}


def enum_column(cls: type[LabelledEnum]) -> Enum:
    """The column type of an enum: VARCHAR with a CHECK, so new values need no ALTER TYPE."""
    length = max(20, *(len(m.value) for m in cls))
    return Enum(cls, native_enum=False, create_constraint=True, length=length,
                values_callable=lambda e: [m.value for m in e], name=cls.__name__.lower())


def database_url(settings: Settings | None = None) -> str:
    """The configured server, or the embedded cluster (started on demand)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    from landsvc.pgcluster import PgCluster

    return PgCluster(settings.home).start().url


def make_engine(settings: Settings, *, statement_timeout_ms: int | None = None) -> Engine:
    """An engine with a bounded pool and timeouts (docs/operations.md, "Outages and timeouts").

    ``statement_timeout_ms`` overrides the settings' (0: no limit).
    """
    timeout = settings.statement_timeout_ms if statement_timeout_ms is None else statement_timeout_ms
    # A search's best plan depends on its values (one district or the whole province).
    # psycopg prepares a statement after 5 runs, and PostgreSQL may then switch to a generic
    # plan that, for a selective filter, scans in id order: 5 ms → 50 ms on 100k offerings.
    # Planning for the values costs a fraction of a millisecond.
    options = f"-c plan_cache_mode=force_custom_plan -c statement_timeout={int(timeout)}"
    engine = create_engine(
        database_url(settings),
        # A connection that died with its server is found and replaced before it is used:
        # the app recovers from an outage by itself.
        pool_pre_ping=True,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_s,
        connect_args={"options": options, "connect_timeout": settings.connect_timeout_s},
    )
    _time_statements(engine)
    return engine


@lru_cache
def get_engine() -> Engine:
    """The engine of the command line (and of requests of an app built without one).

    No statement timeout: an operator's import, migration or demo load may run long."""
    return make_engine(get_settings(), statement_timeout_ms=0)


@lru_cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


class Database:
    """An app's engine and sessions, made from its settings on first use (an app built for
    its OpenAPI document never connects, nor starts the embedded cluster)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        return self._made()[0]

    @property
    def made_engine(self) -> Engine | None:
        """The engine if it was made already (None before the first use; never makes it)."""
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._made()[1]

    def _made(self) -> tuple[Engine, sessionmaker[Session]]:
        with self._lock:
            if self._engine is None or self._sessions is None:
                self._engine = make_engine(self.settings)
                self._sessions = sessionmaker(bind=self._engine, expire_on_commit=False)
            return self._engine, self._sessions

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()


CLI_ACTOR: ContextVar[str | None] = ContextVar("landsvc_cli_actor", default=None)
"""Who writes through :func:`session_scope`'s default (command-line) sessions in a CLI
command (``operator:<os user>``), for the write audit (docs/audit.md). An app's sessions
are never tagged with it: a request names its own caller."""


@contextmanager
def session_scope(sessions: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """One unit of work: commit when the block ends normally, roll back otherwise."""
    session = (sessions or _session_factory())()
    try:
        actor = CLI_ACTOR.get() if sessions is None else None
        if actor:  # transaction-local: the block commits once, at its end
            session.execute(text("SELECT set_config('landsvc.actor', :actor, true), "
                                 "set_config('landsvc.client', 'cli', true)"), {"actor": actor})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_session(connection: HTTPConnection) -> Iterator[Session]:
    """A request's session, from its app's :class:`Database`."""
    database: Database | None = getattr(connection.app.state, "database", None)
    with session_scope(database.sessions if database else None) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
"""A request's session. Function scope: it commits (or rolls back) and gives its connection
back as soon as the endpoint returns, before the answer is sent — so a failed COMMIT is the
answer, never a 201 already on its way, and a long page streams without holding a
connection."""


def without_statement_timeout(session: Session) -> None:
    """Lift the statement timeout for the rest of this transaction (a bulk import, whose
    size the upload limit bounds, may run longer than any query should)."""
    session.execute(text("SELECT set_config('statement_timeout', '0', true)"))


# -- time spent in the database, per request ----------------------------------------------
@dataclass
class StatementTimes:
    """The statements a request ran and the seconds they took."""

    statements: int = 0
    seconds: float = 0.0

    @property
    def ms(self) -> float:
        return round(self.seconds * 1000, 1)


_statement_times: ContextVar[StatementTimes | None] = ContextVar("statement_times", default=None)


@contextmanager
def timed_statements() -> Iterator[StatementTimes]:
    """Count the statements run inside the block (and in threads it starts, which copy the
    context) and add up their durations. COPY, which runs on the driver, is not counted."""
    times = StatementTimes()
    token = _statement_times.set(times)
    try:
        yield times
    finally:
        _statement_times.reset(token)


def _time_statements(engine: Engine) -> None:
    def before(conn, cursor, statement, parameters, context, executemany):
        if context is not None:
            context._landsvc_started = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        _record(context)

    def failed(exception_context):
        _record(exception_context.execution_context)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


def _record(context) -> None:
    times = _statement_times.get()
    started = getattr(context, "_landsvc_started", None)
    if times is not None and started is not None:
        times.statements += 1
        times.seconds += time.perf_counter() - started
        context._landsvc_started = None


def alembic_config(connection=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "landsvc:alembic")
    config.attributes["connection"] = connection
    return config


def upgrade_database(revision: str = "heads", connection=None) -> None:
    """Apply Alembic migrations up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(connection), revision)
