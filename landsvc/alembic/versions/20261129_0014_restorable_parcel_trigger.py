"""The parcel move trigger compares geometries with ST_OrderingEquals, not IS DISTINCT FROM

pg_restore runs with an empty search_path, where ``geometry = geometry`` has no unique
operator: a dump of a database at 0003–0013 could not be restored. The function call is
stored schema-qualified and means the same (exact coordinates, in order).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 20:30:00.000000

"""
from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGER = """
CREATE TRIGGER parcel_link_park_on_move BEFORE UPDATE OF geom ON parcel
    FOR EACH ROW WHEN ({condition})
    EXECUTE FUNCTION landsvc_link_moved();
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.execute("DROP TRIGGER parcel_link_park_on_move ON parcel")
    op.execute(TRIGGER.format(condition="NOT ST_OrderingEquals(OLD.geom, NEW.geom)"))


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DROP TRIGGER parcel_link_park_on_move ON parcel")
    op.execute(TRIGGER.format(condition="OLD.geom IS DISTINCT FROM NEW.geom"))
