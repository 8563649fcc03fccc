"""Allocations (分配方案): drafts of the offering-to-demand assignment and their confirmation

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 19:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('allocation',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('jurisdiction', sa.String(length=6), nullable=False),
    sa.Column('status', sa.Enum('draft', 'confirmed', name='allocationstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('offering_ids', postgresql.ARRAY(sa.BigInteger()), nullable=False),
    sa.Column('demand_ids', postgresql.ARRAY(sa.BigInteger()), nullable=False),
    sa.Column('assignments', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('unassigned', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_allocation_jurisdiction', 'allocation', ['jurisdiction'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_allocation_jurisdiction', table_name='allocation')
    op.drop_table('allocation')
