"""Rent guideline prices (租金指导价): zones, versions and items; published versions frozen

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 19:40:00.000000

"""
from collections.abc import Sequence

import geoalchemy2
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: str | Sequence[str] | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROZEN = """
CREATE FUNCTION rent_guideline_version_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status = 'published' THEN
        RAISE EXCEPTION '已发布的租金指导价版本 % 不能修改或删除（更正请计算并发布新版本）', OLD.id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER rent_guideline_version_no_change BEFORE UPDATE OR DELETE
    ON rent_guideline_version FOR EACH ROW EXECUTE FUNCTION rent_guideline_version_frozen();

CREATE FUNCTION rent_guideline_item_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP <> 'INSERT' AND EXISTS (SELECT 1 FROM rent_guideline_version
                                      WHERE id = OLD.version_id AND status = 'published'))
       OR (TG_OP <> 'DELETE' AND EXISTS (SELECT 1 FROM rent_guideline_version
                                         WHERE id = NEW.version_id AND status = 'published'))
    THEN
        RAISE EXCEPTION '已发布的租金指导价版本的条目不能增加、修改或删除（%）', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER rent_guideline_item_no_change BEFORE INSERT OR UPDATE OR DELETE
    ON rent_guideline_item FOR EACH ROW EXECUTE FUNCTION rent_guideline_item_frozen();
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('rent_zone',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('district', sa.String(length=6), nullable=False),
    sa.Column('geom', geoalchemy2.types.Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("district ~ '^44[0-9]{4}$'", name=op.f('ck_rent_zone_district_format')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rent_zone')),
    sa.UniqueConstraint('district', 'name', name='uq_rent_zone_district_name')
    )
    op.create_geospatial_index('idx_rent_zone_geom', 'rent_zone', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_rent_zone_district'), 'rent_zone', ['district'], unique=False)
    op.create_table('rent_guideline_version',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('period', sa.String(length=6), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('level', sa.Enum('district', 'zone', name='guidelinelevel', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('scope', sa.String(length=6), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', name='versionstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('min_samples', sa.Integer(), nullable=False),
    sa.Column('iqr_factor', sa.Numeric(precision=4, scale=2), nullable=False),
    sa.Column('records_considered', sa.Integer(), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=True),
    sa.Column('supersedes_id', sa.BigInteger(), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('published_by', sa.String(length=100), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("period ~ '^[0-9]{4}([HQ][1-4])?$'", name=op.f('ck_rent_guideline_version_period_format')),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_rent_guideline_version_period_order')),
    sa.CheckConstraint("scope ~ '^44([0-9]{2}){0,2}$'", name=op.f('ck_rent_guideline_version_scope_format')),
    sa.CheckConstraint("(status = 'published') = (effective_date IS NOT NULL AND published_at IS NOT NULL)", name=op.f('ck_rent_guideline_version_published_when')),
    sa.ForeignKeyConstraint(['supersedes_id'], ['rent_guideline_version.id'], name=op.f('fk_rent_guideline_version_supersedes_id_rent_guideline_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rent_guideline_version'))
    )
    op.create_index('ix_rent_guideline_version_in_force', 'rent_guideline_version', ['status', 'effective_date'], unique=False)
    op.create_table('rent_guideline_item',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('version_id', sa.BigInteger(), nullable=False),
    sa.Column('zone_id', sa.BigInteger(), nullable=True),
    sa.Column('district', sa.String(length=6), nullable=False),
    sa.Column('building_type', sa.Enum('single_storey', 'multi_storey', 'high_rise', name='buildingtype', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('median', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('p25', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('p75', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('weighted_mean', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('source', sa.Enum('zone', 'district', 'city_fallback', name='itemsource', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('excluded', sa.Integer(), nullable=False),
    sa.CheckConstraint('samples > 0', name=op.f('ck_rent_guideline_item_samples_positive')),
    sa.CheckConstraint('p25 <= median AND median <= p75', name=op.f('ck_rent_guideline_item_quartiles_order')),
    sa.ForeignKeyConstraint(['version_id'], ['rent_guideline_version.id'], name=op.f('fk_rent_guideline_item_version_id_rent_guideline_version')),
    sa.ForeignKeyConstraint(['zone_id'], ['rent_zone.id'], name=op.f('fk_rent_guideline_item_zone_id_rent_zone')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rent_guideline_item'))
    )
    op.create_index('ix_rent_guideline_item_lookup', 'rent_guideline_item', ['district', 'building_type', 'version_id'], unique=False)
    op.create_index('ix_rent_guideline_item_version_id', 'rent_guideline_item', ['version_id'], unique=False)
    op.create_index(op.f('ix_rent_guideline_item_zone_id'), 'rent_guideline_item', ['zone_id'], unique=False)
    op.execute(FROZEN)


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DROP TABLE rent_guideline_item")  # its trigger with it
    op.execute("DROP FUNCTION rent_guideline_item_frozen()")
    op.execute("DROP TABLE rent_guideline_version")
    op.execute("DROP FUNCTION rent_guideline_version_frozen()")
    op.drop_index(op.f('ix_rent_zone_district'), table_name='rent_zone')
    op.drop_geospatial_index('idx_rent_zone_geom', table_name='rent_zone', postgresql_using='gist', column_name='geom')
    op.drop_table('rent_zone')
