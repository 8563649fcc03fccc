"""Foundation: districts (whole and subdivided), cities, parcels and API tokens

Revision ID: 0001
Revises:
Create Date: 2026-11-25 23:13:26.306561

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # Needs a superuser the first time; a managed server may have it installed already.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table('api_token',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('role', sa.Enum('enterprise', 'bureau', 'admin', name='role', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('jurisdiction', sa.String(length=6), nullable=True),
    sa.Column('enterprise_uscc', sa.String(length=18), nullable=True),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    op.create_geospatial_table('city',
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('adcode', name=op.f('pk_city'))
    )
    op.create_geospatial_index('idx_city_geom', 'city', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('parcel',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('district', sa.String(length=6), nullable=False),
    sa.Column('park_id', sa.BigInteger(), nullable=True),
    sa.Column('land_use', sa.String(length=100), nullable=True),
    sa.Column('land_source', sa.Enum('stock', 'new_quota', name='landsource', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('available', 'reserved', 'offered', 'leased', 'transferred', 'withdrawn', name='parcelstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('area_m2', sa.Numeric(precision=14, scale=2), sa.Computed('round(st_area(geom::geography)::numeric, 2)', persisted=True), nullable=True),
    sa.Column('plot_ratio_min', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('plot_ratio_max', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('servicing', sa.Enum('raw_land', 'three_links', 'five_links', 'seven_links', name='servicing', native_enum=False, create_constraint=True, length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('plot_ratio_max >= plot_ratio_min', name=op.f('ck_parcel_plot_ratio_order')),
    sa.CheckConstraint('plot_ratio_min > 0', name=op.f('ck_parcel_plot_ratio_min_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parcel')),
    sa.UniqueConstraint('code', name=op.f('uq_parcel_code'))
    )
    op.create_geospatial_index('idx_parcel_geom', 'parcel', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_parcel_district', 'parcel', ['district'], unique=False, postgresql_ops={'district': 'varchar_pattern_ops'})
    op.create_geospatial_table('district',
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('city_adcode', sa.String(length=6), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['city_adcode'], ['city.adcode'], name=op.f('fk_district_city_adcode_city')),
    sa.PrimaryKeyConstraint('adcode', name=op.f('pk_district'))
    )
    op.create_geospatial_index('idx_district_geom', 'district', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_district_city_adcode'), 'district', ['city_adcode'], unique=False)
    op.create_geospatial_table('district_part',
    sa.Column('id', sa.Integer(), sa.Identity(always=False), nullable=False),
    sa.Column('adcode', sa.String(length=6), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['adcode'], ['district.adcode'], name=op.f('fk_district_part_adcode_district'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_district_part'))
    )
    op.create_geospatial_index('idx_district_part_geom', 'district_part', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_district_part_adcode'), 'district_part', ['adcode'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_district_part_adcode'), table_name='district_part')
    op.drop_geospatial_index('idx_district_part_geom', table_name='district_part', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('district_part')
    op.drop_index(op.f('ix_district_city_adcode'), table_name='district')
    op.drop_geospatial_index('idx_district_geom', table_name='district', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('district')
    op.drop_index('ix_parcel_district', table_name='parcel', postgresql_ops={'district': 'varchar_pattern_ops'})
    op.drop_geospatial_index('idx_parcel_geom', table_name='parcel', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('parcel')
    op.drop_geospatial_index('idx_city_geom', table_name='city', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('city')
    op.drop_table('api_token')
