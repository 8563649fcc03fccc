"""Writing checked rows with COPY, the one bulk path into the database."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql
from psycopg.copy import Copy, QueuedLibpqWriter
from sqlalchemy import Table, UniqueConstraint
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from landsvc.db import without_statement_timeout


@contextmanager
def copy_into(session: Session, table: Table, columns: Sequence[str]) -> Iterator[Copy]:
    """A ``COPY table (columns) FROM STDIN`` (CSV) on the session's own connection, so that
    it shares the session's transaction; write :func:`csv_rows` to it. A bulk load (bounded
    by the upload limit) may outlast the server's statement timeout: lifted for this
    transaction."""
    without_statement_timeout(session)
    conn: psycopg.Connection = session.connection().connection.driver_connection
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    cursor = conn.cursor()
    # A writer thread feeds the server while this thread checks the next batch: with the
    # server busy parsing and indexing, the two overlap instead of taking turns.
    with cursor.copy(statement, writer=QueuedLibpqWriter(cursor)) as copy:
        yield copy


def csv_rows(rows: pd.DataFrame, columns: Sequence[str]) -> bytes:
    """The rows' ``columns`` as CSV bytes for :func:`copy_into` (None as an empty field)."""
    table = pa.Table.from_pandas(rows.loc[:, list(columns)], preserve_index=False)
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False))
    return buffer.getvalue()


@contextmanager
def indexes_built_after(session: Session, table: Table, enabled: bool) -> Iterator[None]:
    """Drop a table's indexes but the primary key for a COPY; build each after.

    Building an index over a million sorted rows is several times cheaper than a million
    inserts into it; the rebuilt unique indexes check their keys again. The drop holds the
    table's lock until the transaction commits, so no reader ever sees the table without
    its indexes: use it only on a table nobody else writes (an empty one, on a first load).
    """
    if not enabled:
        yield
        return
    connection = session.connection()
    indexes = list(table.indexes)
    unique = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    for index in indexes:
        index.drop(connection)
    for constraint in unique:
        connection.execute(DropConstraint(constraint))
    yield
    for constraint in unique:
        connection.execute(AddConstraint(constraint))
    for index in indexes:
        index.create(connection)
    driver: psycopg.Connection = connection.connection.driver_connection
    driver.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table.name)))
