"""Notifications (精准推送) and their webhook outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 19:00:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('notification',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('enterprise_uscc', sa.String(length=18), nullable=False),
    sa.Column('kind', sa.Enum('offering_published', 'listing_published', name='notificationkind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('offering_id', sa.BigInteger(), nullable=True),
    sa.Column('listing_id', sa.BigInteger(), nullable=True),
    sa.Column('demand_id', sa.BigInteger(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('(offering_id IS NULL) <> (listing_id IS NULL)', name=op.f('ck_notification_one_subject')),
    sa.ForeignKeyConstraint(['demand_id'], ['demand.id'], name=op.f('fk_notification_demand_id_demand'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['enterprise_uscc'], ['enterprise.uscc'], name=op.f('fk_notification_enterprise_uscc_enterprise'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_notification_listing_id_listing'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['offering_id'], ['offering.id'], name=op.f('fk_notification_offering_id_offering'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    op.create_index('ix_notification_enterprise_uscc_id', 'notification', ['enterprise_uscc', 'id'], unique=False)
    op.create_index(op.f('ix_notification_demand_id'), 'notification', ['demand_id'], unique=False)
    op.create_index(op.f('ix_notification_listing_id'), 'notification', ['listing_id'], unique=False)
    op.create_index(op.f('ix_notification_offering_id'), 'notification', ['offering_id'], unique=False)
    op.create_table('webhook_delivery',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('notification_id', sa.BigInteger(), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], name=op.f('fk_webhook_delivery_notification_id_notification'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery'))
    )
    op.create_index('ix_webhook_delivery_due', 'webhook_delivery', ['next_attempt_at'], unique=False, postgresql_where=sa.text('delivered_at IS NULL AND next_attempt_at IS NOT NULL'))
    op.create_index(op.f('ix_webhook_delivery_notification_id'), 'webhook_delivery', ['notification_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_webhook_delivery_notification_id'), table_name='webhook_delivery')
    op.drop_index('ix_webhook_delivery_due', table_name='webhook_delivery', postgresql_where=sa.text('delivered_at IS NULL AND next_attempt_at IS NOT NULL'))
    op.drop_table('webhook_delivery')
    op.drop_index(op.f('ix_notification_offering_id'), table_name='notification')
    op.drop_index(op.f('ix_notification_listing_id'), table_name='notification')
    op.drop_index(op.f('ix_notification_demand_id'), table_name='notification')
    op.drop_index('ix_notification_enterprise_uscc_id', table_name='notification')
    op.drop_table('notification')
