"""Demands (用地需求) and what matching needs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 18:10:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_geospatial_table('demand',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('enterprise_uscc', sa.String(length=18), nullable=True),
    sa.Column('consortium_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Enum('open', 'matched', 'fulfilled', 'withdrawn', name='demandstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('kinds', postgresql.ARRAY(sa.String(length=10)), nullable=False),
    sa.Column('area_min_m2', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('area_max_m2', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('districts', postgresql.ARRAY(sa.String(length=6)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('parks', postgresql.ARRAY(sa.BigInteger()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('near_point', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('near_radius_m', sa.Numeric(precision=9, scale=1), nullable=True),
    sa.Column('near_box', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), sa.Computed('ST_Expand(near_point, (near_radius_m / 100000.0)::float8)', persisted=True), nullable=True),
    sa.Column('within_geom', Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('supply_modes', postgresql.ARRAY(sa.String(length=30)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('max_price_wan', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('max_annual_rent_yuan', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('max_rent_yuan_per_m2_month', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('term_years', sa.SmallInteger(), nullable=True),
    sa.Column('industry_code', sa.String(length=5), nullable=True),
    sa.Column('power_kva', sa.Numeric(precision=10, scale=1), nullable=True),
    sa.Column('floor_load_kn_m2', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('clear_height_m', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('needed_by_date', sa.Date(), nullable=True),
    sa.Column('offering_id', sa.BigInteger(), nullable=True),
    sa.Column('scope', postgresql.ARRAY(sa.String(length=6)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('(enterprise_uscc IS NULL) <> (consortium_id IS NULL)', name=op.f('ck_demand_one_owner')),
    sa.CheckConstraint('area_min_m2 <= area_max_m2', name=op.f('ck_demand_area_range')),
    sa.CheckConstraint('(near_point IS NULL) = (near_radius_m IS NULL)', name=op.f('ck_demand_near_pair')),
    sa.CheckConstraint('cardinality(kinds) > 0', name=op.f('ck_demand_kinds_given')),
    sa.ForeignKeyConstraint(['consortium_id'], ['consortium.id'], name=op.f('fk_demand_consortium_id_consortium')),
    sa.ForeignKeyConstraint(['enterprise_uscc'], ['enterprise.uscc'], name=op.f('fk_demand_enterprise_uscc_enterprise')),
    sa.ForeignKeyConstraint(['offering_id'], ['offering.id'], name=op.f('fk_demand_offering_id_offering')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demand'))
    )
    op.create_geospatial_index('idx_demand_near_point', 'demand', ['near_point'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_demand_near_box', 'demand', ['near_box'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_index('idx_demand_within_geom', 'demand', ['within_geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_demand_consortium_id'), 'demand', ['consortium_id'], unique=False)
    op.create_index(op.f('ix_demand_enterprise_uscc'), 'demand', ['enterprise_uscc'], unique=False)
    op.create_index(op.f('ix_demand_offering_id'), 'demand', ['offering_id'], unique=False)
    op.create_index('ix_demand_scope', 'demand', ['scope'], unique=False, postgresql_using='gin')
    op.create_index('ix_demand_status', 'demand', ['status'], unique=False)
    op.create_index('ix_offering_published_geom', 'offering', ['geom'], unique=False, postgresql_using='gist', postgresql_where=sa.text("status = 'published'"))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_offering_published_geom', table_name='offering', postgresql_using='gist', postgresql_where=sa.text("status = 'published'"))
    op.drop_index('ix_demand_status', table_name='demand')
    op.drop_index('ix_demand_scope', table_name='demand', postgresql_using='gin')
    op.drop_index(op.f('ix_demand_offering_id'), table_name='demand')
    op.drop_index(op.f('ix_demand_enterprise_uscc'), table_name='demand')
    op.drop_index(op.f('ix_demand_consortium_id'), table_name='demand')
    op.drop_geospatial_index('idx_demand_within_geom', table_name='demand', postgresql_using='gist', column_name='within_geom')
    op.drop_geospatial_index('idx_demand_near_box', table_name='demand', postgresql_using='gist', column_name='near_box')
    op.drop_geospatial_index('idx_demand_near_point', table_name='demand', postgresql_using='gist', column_name='near_point')
    op.drop_geospatial_table('demand')
