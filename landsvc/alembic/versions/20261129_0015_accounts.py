"""People's accounts: users (argon2 password hashes), browser sessions, failed logins

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 21:30:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = sa.Enum('enterprise', 'bureau', 'admin', name='role', native_enum=False,
               create_constraint=True, length=20)


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'app_user',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('username', sa.String(length=40), nullable=False),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('role', ROLE, nullable=False),
        sa.Column('jurisdiction', sa.String(length=6), nullable=True),
        sa.Column('enterprise_uscc', sa.String(length=18), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('password_changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("username ~ '^[a-z0-9][a-z0-9_.-]{2,39}$'", name=op.f('ck_app_user_username_format')),
        sa.CheckConstraint("role <> 'bureau' OR jurisdiction IS NOT NULL", name=op.f('ck_app_user_bureau_jurisdiction')),
        sa.CheckConstraint("role <> 'enterprise' OR enterprise_uscc IS NOT NULL", name=op.f('ck_app_user_enterprise_uscc')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
        sa.UniqueConstraint('username', name=op.f('uq_app_user_username')),
    )
    op.create_table(
        'web_session',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.BigInteger(), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_web_session_user_id_app_user'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_web_session')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_web_session_token_hash')),
    )
    op.create_index(op.f('ix_web_session_user_id'), 'web_session', ['user_id'], unique=False)
    op.create_table(
        'login_failure',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('username', sa.String(length=40), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failure')),
    )
    op.create_index(op.f('ix_login_failure_username'), 'login_failure', ['username'], unique=False)
    op.create_index(op.f('ix_login_failure_client'), 'login_failure', ['client'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('login_failure')
    op.drop_table('web_session')
    op.drop_table('app_user')
