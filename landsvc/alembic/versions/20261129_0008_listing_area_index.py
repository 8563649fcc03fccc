"""Published listings indexed by area (a demand's area range)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 19:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index('ix_listing_published_area', 'listing', ['area_m2'], unique=False,
                    postgresql_where=sa.text("status = 'published'"))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_listing_published_area', table_name='listing',
                  postgresql_where=sa.text("status = 'published'"))
