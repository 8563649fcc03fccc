"""Token expiry and last use; jurisdictions stored as the prefix they govern

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 10:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('api_token', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('api_token', sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    # Checks compare adcode.startswith(jurisdiction): a city or province code with trailing
    # zeros (440300, 440000) governed nothing. Store the prefix it means (4403, 44).
    op.execute(r"""
        UPDATE api_token SET jurisdiction = CASE
            WHEN jurisdiction ~ '^\d{2}0000$' THEN left(jurisdiction, 2)
            ELSE left(jurisdiction, 4)
        END
        WHERE jurisdiction ~ '^\d{4}00$'
    """)


def downgrade() -> None:
    """Downgrade schema."""
    # The prefixes stay: revision 0001 reads 4403 and 44 as it always did.
    op.drop_column('api_token', 'last_used_at')
    op.drop_column('api_token', 'expires_at')
