"""Utility tariffs and mark-up complaints (水、电、气不合理加价)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 19:30:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: str | Sequence[str] | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTILITY = sa.Enum('electricity', 'water', 'gas', name='utility', native_enum=False,
                  create_constraint=True, length=20)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('utility_tariff',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('district', sa.String(length=6), nullable=False),
    sa.Column('utility', UTILITY, nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('unit_price_yuan', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("district ~ '^44([0-9]{2}){0,2}$'", name=op.f('ck_utility_tariff_district_format')),
    sa.CheckConstraint('unit_price_yuan > 0', name=op.f('ck_utility_tariff_price_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_utility_tariff')),
    sa.UniqueConstraint('district', 'utility', 'category', 'effective_from', name='uq_utility_tariff_place_day')
    )
    op.create_index('ix_utility_tariff_lookup', 'utility_tariff', ['utility', 'category', 'district', 'effective_from'], unique=False)
    op.create_table('utility_complaint',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('complainant_uscc', sa.String(length=18), nullable=False),
    sa.Column('listing_id', sa.BigInteger(), nullable=True),
    sa.Column('landlord', sa.String(length=200), nullable=True),
    sa.Column('district', sa.String(length=6), nullable=False),
    sa.Column('utility', UTILITY, nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('billed_unit_price_yuan', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('tariff_unit_price_yuan', sa.Numeric(precision=10, scale=4), nullable=False),
    sa.Column('tariff_segments', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('tolerance_percent', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('markup_percent', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('overcharge_yuan', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('case_opened', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('filed', 'investigating', 'resolved', 'dismissed', name='complaintstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('refund_yuan', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('filed_on', sa.Date(), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=True),
    sa.CheckConstraint("(status = 'resolved') = (refund_yuan IS NOT NULL)", name=op.f('ck_utility_complaint_refund_when')),
    sa.CheckConstraint("district ~ '^44[0-9]{4}$'", name=op.f('ck_utility_complaint_district_format')),
    sa.CheckConstraint('billed_unit_price_yuan > 0', name=op.f('ck_utility_complaint_billed_positive')),
    sa.CheckConstraint('listing_id IS NOT NULL OR landlord IS NOT NULL', name=op.f('ck_utility_complaint_landlord_named')),
    sa.CheckConstraint('overcharge_yuan >= 0', name=op.f('ck_utility_complaint_overcharge_nonnegative')),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_utility_complaint_period_order')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_utility_complaint_quantity_positive')),
    sa.CheckConstraint('refund_yuan IS NULL OR refund_yuan >= 0', name=op.f('ck_utility_complaint_refund_nonnegative')),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_utility_complaint_listing_id_listing')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_utility_complaint'))
    )
    op.create_index('ix_utility_complaint_complainant', 'utility_complaint', ['complainant_uscc'], unique=False)
    op.create_index('ix_utility_complaint_district', 'utility_complaint', ['district'], unique=False, postgresql_ops={'district': 'varchar_pattern_ops'})


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_utility_complaint_district', table_name='utility_complaint', postgresql_ops={'district': 'varchar_pattern_ops'})
    op.drop_index('ix_utility_complaint_complainant', table_name='utility_complaint')
    op.drop_table('utility_complaint')
    op.drop_index('ix_utility_tariff_lookup', table_name='utility_tariff')
    op.drop_table('utility_tariff')
