"""Alembic environment: the database comes from landsvc's settings (or the embedded cluster)."""

from alembic import context
from geoalchemy2 import alembic_helpers

from landsvc import models  # noqa: F401  (registers every table on Base.metadata)
from landsvc.db import Base, get_engine


def include_object(obj, name, type_, reflected, compare_to):
    # PostGIS's own tables are not ours to migrate.
    if type_ == "table" and name in {"spatial_ref_sys"}:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


# Tests hand in a connection of their own; otherwise use the configured database.
connection = context.config.attributes.get("connection")
if connection is None:
    with get_engine().connect() as connection:
        _run(connection)
else:
    _run(connection)
