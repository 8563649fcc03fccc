"""Engine, sessions and the declarative base."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Enum, MetaData, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from landsvc.config import get_settings

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


def database_url() -> str:
    """The configured server, or the embedded cluster (started on demand)."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    from landsvc.pgcluster import PgCluster

    return PgCluster(settings.home).start().url


@lru_cache
def get_engine() -> Engine:
    # A search's best plan depends on its values (one district or the whole province).
    # psycopg prepares a statement after 5 runs, and PostgreSQL may then switch to a generic
    # plan that, for a selective filter, scans in id order: 5 ms → 50 ms on 100k offerings.
    # Planning for the values costs a fraction of a millisecond.
    return create_engine(database_url(), pool_pre_ping=True,
                         connect_args={"options": "-c plan_cache_mode=force_custom_plan"})


@lru_cache
def _session_factory() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work: commit when the block ends normally, roll back otherwise."""
    session = _session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_session() -> Iterator[Session]:
    with session_scope() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
"""A request's session. Function scope: it commits (or rolls back) and gives its connection
back as soon as the endpoint returns, before the answer is sent — so a failed COMMIT is the
answer, never a 201 already on its way, and a long page streams without holding a
connection."""


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
