"""Supply: parks, offerings, buildings, listings, split-transfer units, policy settings

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 15:38:49.767626

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# park_id on parcels and buildings, kept by the database on every write path (the API, a
# bulk COPY of a million parcels, SQL by hand). A parcel belongs to the park holding more
# than half of its area (the largest share when parks overlap); a building to the park
# containing its point, or holding more than half of its footprint. A statement-level
# trigger links a COPY's new rows in one set-based UPDATE; a row trigger relinks a moved
# parcel or building; a park's insert, move or delete relinks what lay under its old and
# new boundary.
PARK_LINKING = r"""
CREATE FUNCTION landsvc_park_of(g geometry) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT k.id FROM park k
    WHERE k.geom && g AND ST_Intersects(k.geom, g)
      AND (ST_Dimension(g) = 0
           OR ST_Area(ST_Intersection(k.geom, g)::geography) * 2 > ST_Area(g::geography))
    ORDER BY CASE WHEN ST_Dimension(g) = 0 THEN 0
                  ELSE ST_Area(ST_Intersection(k.geom, g)::geography) END DESC, k.id
    LIMIT 1
$$;

CREATE FUNCTION landsvc_link_new_parcels() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- One set-based pass per statement (a COPY of a million rows included); nothing to do
    -- while no park exists, which is the common first load.
    IF EXISTS (SELECT 1 FROM park) THEN
        UPDATE parcel p SET park_id = linked.park_id
        FROM (SELECT n.id, landsvc_park_of(n.geom) AS park_id FROM new_rows n
              WHERE EXISTS (SELECT 1 FROM park k WHERE k.geom && n.geom)) linked
        WHERE p.id = linked.id AND linked.park_id IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER parcel_link_park_on_insert AFTER INSERT ON parcel
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION landsvc_link_new_parcels();

CREATE FUNCTION landsvc_link_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.park_id := landsvc_park_of(NEW.geom);
    RETURN NEW;
END $$;

CREATE TRIGGER parcel_link_park_on_move BEFORE UPDATE OF geom ON parcel
    FOR EACH ROW WHEN (OLD.geom IS DISTINCT FROM NEW.geom)
    EXECUTE FUNCTION landsvc_link_moved();

CREATE TRIGGER building_link_park BEFORE INSERT OR UPDATE OF geom ON building
    FOR EACH ROW EXECUTE FUNCTION landsvc_link_moved();

CREATE FUNCTION landsvc_relink_park() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    area geometry;
    park bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        area := NEW.geom; park := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        area := OLD.geom; park := OLD.id;
    ELSE
        area := ST_Collect(OLD.geom, NEW.geom); park := OLD.id;
    END IF;
    UPDATE parcel p SET park_id = linked.park_id
    FROM (SELECT id, landsvc_park_of(geom) AS park_id FROM parcel
          WHERE geom && area OR park_id = park) linked
    WHERE p.id = linked.id AND p.park_id IS DISTINCT FROM linked.park_id;
    UPDATE building b SET park_id = linked.park_id
    FROM (SELECT id, landsvc_park_of(geom) AS park_id FROM building
          WHERE geom && area OR park_id = park) linked
    WHERE b.id = linked.id AND b.park_id IS DISTINCT FROM linked.park_id;
    RETURN NULL;
END $$;

CREATE TRIGGER park_relink AFTER INSERT OR DELETE OR UPDATE OF geom ON park
    FOR EACH ROW EXECUTE FUNCTION landsvc_relink_park();
"""

PARK_LINKING_DROP = """
DROP TRIGGER IF EXISTS park_relink ON park;
DROP TRIGGER IF EXISTS building_link_park ON building;
DROP TRIGGER IF EXISTS parcel_link_park_on_move ON parcel;
DROP TRIGGER IF EXISTS parcel_link_park_on_insert ON parcel;
DROP FUNCTION IF EXISTS landsvc_relink_park();
DROP FUNCTION IF EXISTS landsvc_link_moved();
DROP FUNCTION IF EXISTS landsvc_link_new_parcels();
DROP FUNCTION IF EXISTS landsvc_park_of(geometry);
"""


def upgrade() -> None:
    """Upgrade schema."""
    op.create_geospatial_table('building',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('geom', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('district', sa.String(length=6), nullable=False),
    sa.Column('park_id', sa.BigInteger(), nullable=True),
    sa.Column('building_type', sa.Enum('single_storey', 'multi_storey', 'high_rise', name='buildingtype', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('floors', sa.SmallInteger(), nullable=False),
    sa.Column('total_floor_area_m2', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('completed', sa.Boolean(), nullable=False),
    sa.Column('holder_uscc', sa.String(length=18), nullable=True),
    sa.Column('holder_name', sa.String(length=200), nullable=True),
    sa.Column('holder_industry_code', sa.String(length=5), nullable=True),
    sa.Column('freight_lift', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("GeometryType(geom) IN ('POINT', 'MULTIPOLYGON')", name=op.f('ck_building_geom_kind')),
    sa.CheckConstraint('floors BETWEEN 1 AND 200', name=op.f('ck_building_floors_range')),
    sa.CheckConstraint('total_floor_area_m2 > 0', name=op.f('ck_building_floor_area_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_building'))
    )
    op.create_geospatial_index('idx_building_geom', 'building', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_building_district', 'building', ['district'], unique=False, postgresql_ops={'district': 'varchar_pattern_ops'})
    op.create_index(op.f('ix_building_park_id'), 'building', ['park_id'], unique=False)
    op.create_geospatial_table('park',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('district', sa.String(length=6), nullable=False),
    sa.Column('leading_industries', postgresql.ARRAY(sa.String(length=5)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('featured_srdi', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('services', postgresql.ARRAY(sa.String(length=200)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('area_m2', sa.Numeric(precision=14, scale=2), sa.Computed('round(st_area(geom::geography)::numeric, 2)', persisted=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("array_to_string(leading_industries, ',') ~ '^([A-T][0-9]{2,4}(,|$))*$'", name=op.f('ck_park_leading_industries_format')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_park'))
    )
    op.create_geospatial_index('idx_park_geom', 'park', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_park_district', 'park', ['district'], unique=False, postgresql_ops={'district': 'varchar_pattern_ops'})
    op.create_table('policy_setting',
    sa.Column('scope', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('scope', 'name', name=op.f('pk_policy_setting'))
    )
    op.create_table('building_unit',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('building_id', sa.BigInteger(), nullable=False),
    sa.Column('floors', postgresql.ARRAY(sa.SmallInteger()), nullable=True),
    sa.Column('whole_building', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('area_m2', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('area_m2 > 0', name=op.f('ck_building_unit_area_positive')),
    sa.CheckConstraint('whole_building = (floors IS NULL)', name=op.f('ck_building_unit_whole_or_floors')),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_building_unit_building_id_building')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_building_unit'))
    )
    op.create_index(op.f('ix_building_unit_building_id'), 'building_unit', ['building_id'], unique=False)
    op.create_table('listing',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('building_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Enum('factory', 'standard_factory', 'affordable_housing', name='listingkind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'let', 'withdrawn', name='listingstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('floor', sa.SmallInteger(), nullable=True),
    sa.Column('area_m2', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('rent_yuan_per_m2_month', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('units', sa.Integer(), nullable=True),
    sa.Column('rent_yuan_per_unit_month', sa.Numeric(precision=10, scale=2), nullable=True),
    sa.Column('floor_load_kn_m2', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('clear_height_m', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('freight_lift', sa.Boolean(), nullable=True),
    sa.Column('power_kva', sa.Numeric(precision=10, scale=1), nullable=True),
    sa.Column('landlord', sa.String(length=200), nullable=True),
    sa.Column('landlord_kind', sa.Enum('owner', 'sublessor', name='landlordkind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('owner_authorisation_ref', sa.String(length=100), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("landlord_kind <> 'sublessor' OR owner_authorisation_ref IS NOT NULL", name=op.f('ck_listing_sublessor_authorised')),
    sa.CheckConstraint('area_m2 > 0', name=op.f('ck_listing_area_positive')),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], name=op.f('fk_listing_building_id_building')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing'))
    )
    op.create_index(op.f('ix_listing_building_id'), 'listing', ['building_id'], unique=False)
    op.create_index('ix_listing_status_kind', 'listing', ['status', 'kind'], unique=False)
    op.create_geospatial_table('offering',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('parcel_id', sa.BigInteger(), nullable=False),
    sa.Column('supply_mode', sa.Enum('transfer', 'flexible_term_transfer', 'lease', 'lease_then_transfer', 'lease_and_transfer', name='supplymode', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'closed', 'awarded', 'failed', 'cancelled', name='offeringstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('term_years', sa.SmallInteger(), nullable=True),
    sa.Column('lease_years', sa.SmallInteger(), nullable=True),
    sa.Column('transfer_years', sa.SmallInteger(), nullable=True),
    sa.Column('lease_share_percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('start_price_wan', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('annual_rent_yuan', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('appraised_price_wan', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('rent_review_years', sa.SmallInteger(), nullable=True),
    sa.Column('rent_review_cap_percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('rent_credited', sa.Boolean(), nullable=True),
    sa.Column('conditions', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('min_tier', sa.Enum('none', 'innovative_sme', 'srdi_sme', 'little_giant', name='tier', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('srdi_priority', sa.Boolean(), nullable=False),
    sa.Column('joint_bidding_allowed', sa.Boolean(), nullable=False),
    sa.Column('bidding_opens_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('bidding_closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('parcel_status_before', sa.Enum('available', 'reserved', 'offered', 'leased', 'transferred', 'withdrawn', name='parcelstatus', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('awardee_uscc', sa.String(length=18), nullable=True),
    sa.Column('awardee_name', sa.String(length=200), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('district', sa.String(length=6), nullable=False),
    sa.Column('area_m2', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status <> 'awarded' OR awardee_uscc IS NOT NULL", name=op.f('ck_offering_awardee')),
    sa.CheckConstraint('bidding_opens_at < bidding_closes_at', name=op.f('ck_offering_bidding_window')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcel.id'], name=op.f('fk_offering_parcel_id_parcel')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offering'))
    )
    op.create_geospatial_index('idx_offering_geom', 'offering', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_offering_district', 'offering', ['district'], unique=False, postgresql_ops={'district': 'varchar_pattern_ops'})
    op.create_index('ix_offering_mode_district', 'offering', ['supply_mode', 'district', 'id'], unique=False, postgresql_ops={'district': 'varchar_pattern_ops'})
    op.create_index(op.f('ix_offering_parcel_id'), 'offering', ['parcel_id'], unique=False)
    op.create_index('uq_offering_live_parcel', 'offering', ['parcel_id'], unique=True, postgresql_where=sa.text("status IN ('draft', 'published', 'closed')"))
    op.create_table('unit_transfer',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('unit_id', sa.BigInteger(), nullable=False),
    sa.Column('seller_uscc', sa.String(length=18), nullable=True),
    sa.Column('buyer_uscc', sa.String(length=18), nullable=False),
    sa.Column('buyer_name', sa.String(length=200), nullable=False),
    sa.Column('chain_partner', sa.Boolean(), nullable=False),
    sa.Column('transfer_date', sa.Date(), nullable=False),
    sa.Column('locked_until', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('chain_partner', name=op.f('ck_unit_transfer_chain_partner')),
    sa.ForeignKeyConstraint(['unit_id'], ['building_unit.id'], name=op.f('fk_unit_transfer_unit_id_building_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_transfer'))
    )
    op.create_index(op.f('ix_unit_transfer_unit_id'), 'unit_transfer', ['unit_id'], unique=False)
    op.create_index(op.f('ix_parcel_park_id'), 'parcel', ['park_id'], unique=False)
    op.execute(PARK_LINKING)


def downgrade() -> None:
    """Downgrade schema."""
    op.execute(PARK_LINKING_DROP)
    op.drop_index(op.f('ix_parcel_park_id'), table_name='parcel')
    op.drop_index(op.f('ix_unit_transfer_unit_id'), table_name='unit_transfer')
    op.drop_table('unit_transfer')
    op.drop_index('uq_offering_live_parcel', table_name='offering', postgresql_where=sa.text("status IN ('draft', 'published', 'closed')"))
    op.drop_index(op.f('ix_offering_parcel_id'), table_name='offering')
    op.drop_index('ix_offering_mode_district', table_name='offering', postgresql_ops={'district': 'varchar_pattern_ops'})
    op.drop_index('ix_offering_district', table_name='offering', postgresql_ops={'district': 'varchar_pattern_ops'})
    op.drop_geospatial_index('idx_offering_geom', table_name='offering', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('offering')
    op.drop_index('ix_listing_status_kind', table_name='listing')
    op.drop_index(op.f('ix_listing_building_id'), table_name='listing')
    op.drop_table('listing')
    op.drop_index(op.f('ix_building_unit_building_id'), table_name='building_unit')
    op.drop_table('building_unit')
    op.drop_table('policy_setting')
    op.drop_index('ix_park_district', table_name='park', postgresql_ops={'district': 'varchar_pattern_ops'})
    op.drop_geospatial_index('idx_park_geom', table_name='park', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('park')
    op.drop_index(op.f('ix_building_park_id'), table_name='building')
    op.drop_index('ix_building_district', table_name='building', postgresql_ops={'district': 'varchar_pattern_ops'})
    op.drop_geospatial_index('idx_building_geom', table_name='building', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('building')
