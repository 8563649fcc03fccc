"""Enterprises and consortia

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 18:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('enterprise',
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('district', sa.String(length=6), nullable=False),
    sa.Column('industry_code', sa.String(length=5), nullable=True),
    sa.Column('tier', sa.Enum('none', 'innovative_sme', 'srdi_sme', 'little_giant', name='tier', native_enum=False, create_constraint=True, length=20), server_default='none', nullable=False),
    sa.Column('tier_valid_from', sa.Date(), nullable=True),
    sa.Column('tier_valid_to', sa.Date(), nullable=True),
    sa.Column('evaluation_year', sa.SmallInteger(), nullable=True),
    sa.Column('evaluation_grade', sa.Enum('A', 'B', 'C', 'D', name='evaluationgrade', native_enum=False, create_constraint=True, length=20), nullable=True),
    sa.Column('webhook_url', sa.String(length=500), nullable=True),
    sa.Column('uscc_check_override', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('override_by', sa.String(length=200), nullable=True),
    sa.Column('override_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("uscc ~ '^[0123456789ABCDEFGHJKLMNPQRTUWXY]{18}$'", name=op.f('ck_enterprise_uscc_format')),
    sa.CheckConstraint("industry_code ~ '^[A-T][0-9]{2,4}$'", name=op.f('ck_enterprise_industry_code_format')),
    sa.CheckConstraint('tier_valid_from <= tier_valid_to', name=op.f('ck_enterprise_tier_validity')),
    sa.CheckConstraint('evaluation_year BETWEEN 2000 AND 2100', name=op.f('ck_enterprise_evaluation_year_range')),
    sa.CheckConstraint('(evaluation_year IS NULL) = (evaluation_grade IS NULL)', name=op.f('ck_enterprise_evaluation_pair')),
    sa.PrimaryKeyConstraint('uscc', name=op.f('pk_enterprise'))
    )
    op.create_index('ix_enterprise_district', 'enterprise', ['district'], unique=False, postgresql_ops={'district': 'varchar_pattern_ops'})
    op.create_table('consortium',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('lead_uscc', sa.String(length=18), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['lead_uscc'], ['enterprise.uscc'], name=op.f('fk_consortium_lead_uscc_enterprise')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consortium'))
    )
    op.create_index(op.f('ix_consortium_lead_uscc'), 'consortium', ['lead_uscc'], unique=False)
    op.create_table('consortium_member',
    sa.Column('consortium_id', sa.BigInteger(), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('share_percent', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.CheckConstraint('share_percent > 0', name=op.f('ck_consortium_member_share_positive')),
    sa.ForeignKeyConstraint(['consortium_id'], ['consortium.id'], name=op.f('fk_consortium_member_consortium_id_consortium'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uscc'], ['enterprise.uscc'], name=op.f('fk_consortium_member_uscc_enterprise')),
    sa.PrimaryKeyConstraint('consortium_id', 'uscc', name=op.f('pk_consortium_member'))
    )
    op.create_index(op.f('ix_consortium_member_uscc'), 'consortium_member', ['uscc'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_consortium_member_uscc'), table_name='consortium_member')
    op.drop_table('consortium_member')
    op.drop_index(op.f('ix_consortium_lead_uscc'), table_name='consortium')
    op.drop_table('consortium')
    op.drop_index('ix_enterprise_district', table_name='enterprise', postgresql_ops={'district': 'varchar_pattern_ops'})
    op.drop_table('enterprise')
