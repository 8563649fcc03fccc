"""The write audit: every insert, update and delete of the audited tables, append-only

Statement-level AFTER triggers with transition tables write one ``audit_entry`` per changed
row in one set-based INSERT … SELECT per statement (an import of 200k parcels: one INSERT),
whatever wrote: the API, the web pages, the CLI or plain SQL. Who: the transaction-local
settings ``landsvc.actor``, ``landsvc.client``, ``landsvc.request_id`` the app sets where
it resolves the caller; without them ``database:<role>``. Updates keep only the changed
fields; geometries are GeoJSON (7 decimals) in updates and deletes — an insert leaves them
out (its row keeps them until a later entry does); token and password hashes never enter.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 22:30:00.000000

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0016'
down_revision: str | Sequence[str] | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: (entity, key column, district of row r (SQL), secret columns, quiet columns)
# Secret columns never enter an entry; quiet ones are left out of update diffs (bookkeeping
# a read writes, or the timestamp every write sets), an update changing only them is none.
AUDITED = {
    'parcel': ('parcel', 'id', 'r.district', '', 'updated_at'),
    'park': ('park', 'id', 'r.district', '', 'updated_at'),
    'offering': ('offering', 'id', 'r.district', '', 'updated_at'),
    'building': ('building', 'id', 'r.district', '', 'updated_at'),
    'listing': ('listing', 'id', '(SELECT b.district FROM public.building b WHERE b.id = r.building_id)',
                '', 'updated_at'),
    'enterprise': ('enterprise', 'uscc', 'r.district', '', 'updated_at'),
    'demand': ('demand', 'id',
               '(SELECT e.district FROM public.enterprise e WHERE e.uscc = r.enterprise_uscc)',
               '', 'updated_at'),
    'api_token': ('token', 'id', 'NULL', 'token_hash', 'last_used_at'),
    'app_user': ('user', 'id', 'NULL', 'password_hash', 'last_login_at'),
    'rent_guideline_version': ('guideline', 'id', 'r.scope', '', ''),
    'rent_zone': ('rent_zone', 'id', 'r.district', '', ''),
    'utility_tariff': ('tariff', 'id', 'r.district', '', ''),
}

APPEND_ONLY = """
CREATE FUNCTION landsvc_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '审计记录只能追加，不能修改或删除（audit_entry: % refused）', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry
    FOR EACH ROW EXECUTE FUNCTION landsvc_audit_append_only();
CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
    FOR EACH STATEMENT EXECUTE FUNCTION landsvc_audit_append_only();
"""

# The statement is built from the catalog at each firing, so a column added later is audited
# without touching this function. Row-to-JSON goes column by column: to_jsonb(row) would
# cast each geometry through PostGIS's slower jsonb cast even when it is then dropped.
CAPTURE = r"""
CREATE FUNCTION landsvc_audit_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    entity text := TG_ARGV[0];
    key text := TG_ARGV[1];
    district text := TG_ARGV[2];
    secret text[] := string_to_array(TG_ARGV[3], ',');
    quiet text[] := string_to_array(TG_ARGV[4], ',');
    col record;
    moved text;
    pairs text[] := '{}';
    snapshot text := '''{}''::jsonb';
    diff text[] := '{}';
    actor text := coalesce(nullif(current_setting('landsvc.actor', true), ''),
                           'database:' || session_user);
    client text := nullif(current_setting('landsvc.client', true), '');
    request_id text := nullif(current_setting('landsvc.request_id', true), '');
    who text := '$1, $2, $3';
    target text := 'INSERT INTO public.audit_entry (entity, entity_id, action, actor, client, '
                   'request_id, district, before, after) ';
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM FROM new_rows LIMIT 1;
    ELSE
        PERFORM FROM old_rows LIMIT 1;
    END IF;
    IF NOT FOUND THEN
        RETURN NULL;  -- nothing written (e.g. an UPDATE matching no row): no catalog work
    END IF;
    FOR col IN
        SELECT a.attname AS name, t.typname = 'geometry' AS spatial
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped
              AND a.attname <> ALL (coalesce(secret, '{}'))
        ORDER BY a.attnum
    LOOP
        IF col.spatial THEN
            -- An insert's geometry stays in its row until an update's "before" or the
            -- delete's snapshot records it: converting it here was most of an import's
            -- audit cost (docs/audit.md).
            IF TG_OP = 'DELETE' THEN
                pairs := pairs || format('%L, public.st_asgeojson(r.%I, 7)::jsonb', col.name,
                                         col.name);
            END IF;
        ELSE
            pairs := pairs || format('%L, r.%I', col.name, col.name);
        END IF;
        -- jsonb_build_object takes at most 100 arguments: 40 columns a call
        IF cardinality(pairs) = 40 THEN
            snapshot := snapshot || ' || jsonb_build_object(' || array_to_string(pairs, ', ')
                        || ')';
            pairs := '{}';
        END IF;
        IF col.name <> ALL (coalesce(quiet, '{}')) THEN
            IF col.spatial THEN
                moved := format('CASE WHEN o.%1$I IS NULL OR r.%1$I IS NULL '
                                'THEN (o.%1$I IS NULL) <> (r.%1$I IS NULL) '
                                'ELSE NOT public.st_orderingequals(o.%1$I, r.%1$I) END',
                                col.name);
                diff := diff || format(
                    '(%1$L, %2$s, CASE WHEN %2$s THEN public.st_asgeojson(o.%3$I, 7)::jsonb END, '
                    'CASE WHEN %2$s THEN public.st_asgeojson(r.%3$I, 7)::jsonb END)',
                    col.name, moved, col.name);
            ELSE
                diff := diff || format(
                    '(%1$L, to_jsonb(o.%2$I) IS DISTINCT FROM to_jsonb(r.%2$I), '
                    'to_jsonb(o.%2$I), to_jsonb(r.%2$I))', col.name, col.name);
            END IF;
        END IF;
    END LOOP;
    IF cardinality(pairs) > 0 THEN
        snapshot := snapshot || ' || jsonb_build_object(' || array_to_string(pairs, ', ') || ')';
    END IF;
    IF TG_OP = 'INSERT' THEN
        EXECUTE target || format(
            'SELECT %L, r.%I::text, ''insert'', %s, %s, NULL, %s FROM new_rows r',
            entity, key, who, district, snapshot) USING actor, client, request_id;
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE target || format(
            'SELECT %L, r.%I::text, ''delete'', %s, %s, %s, NULL FROM old_rows r',
            entity, key, who, district, snapshot) USING actor, client, request_id;
    ELSE
        -- Only the changed fields; a geometry is converted only when it changed (VALUES
        -- computes every field before the filter, hence the CASE).
        EXECUTE target || format(
            'SELECT %1$L, r.%2$I::text, ''update'', %3$s, %4$s, d.before, d.after '
            'FROM old_rows o JOIN new_rows r ON r.%2$I = o.%2$I '
            'CROSS JOIN LATERAL (SELECT jsonb_object_agg(c.name, c.old) AS before, '
            '                           jsonb_object_agg(c.name, c.new) AS after '
            '                    FROM (VALUES %5$s) AS c(name, changed, old, new) '
            '                    WHERE c.changed) d '
            'WHERE d.before IS NOT NULL',
            entity, key, who, district, array_to_string(diff, ', '))
            USING actor, client, request_id;
    END IF;
    RETURN NULL;
END $$;
"""


def _triggers(table: str) -> str:
    entity, key, district, secret, quiet = AUDITED[table]
    args = ", ".join(f"'{a.replace(chr(39), chr(39) * 2)}'"
                     for a in (entity, key, district, secret, quiet))
    return "\n".join(
        f"CREATE TRIGGER audit_{op_name} AFTER {op_name.upper()} ON {table} "
        f"REFERENCING {refs} FOR EACH STATEMENT EXECUTE FUNCTION landsvc_audit_capture({args});"
        for op_name, refs in (("insert", "NEW TABLE AS new_rows"),
                              ("update", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                              ("delete", "OLD TABLE AS old_rows")))


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'audit_entry',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('entity', sa.Text(), nullable=False),
        sa.Column('entity_id', sa.Text(), nullable=False),
        sa.Column('action', sa.Text(), nullable=False),
        sa.Column('actor', sa.Text(), nullable=False),
        sa.Column('client', sa.Text(), nullable=True),
        sa.Column('request_id', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'),
                  nullable=False),
        sa.Column('district', sa.String(length=12), nullable=True),
        sa.Column('before', sa.dialects.postgresql.JSONB(), nullable=True),
        sa.Column('after', sa.dialects.postgresql.JSONB(), nullable=True),
        sa.CheckConstraint("action IN ('insert', 'update', 'delete')",
                           name=op.f('ck_audit_entry_action_kind')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry')),
    )
    op.create_index('ix_audit_entry_entity', 'audit_entry', ['entity', 'entity_id', 'at'],
                    unique=False)
    op.create_index('ix_audit_entry_at', 'audit_entry', ['at'], unique=False)
    op.create_index('ix_audit_entry_district', 'audit_entry', ['district'], unique=False,
                    postgresql_ops={'district': 'varchar_pattern_ops'})
    op.execute(APPEND_ONLY)
    op.execute(CAPTURE)
    for table in AUDITED:
        op.execute(_triggers(table))


def downgrade() -> None:
    """Downgrade schema."""
    for table in AUDITED:
        for op_name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER audit_{op_name} ON {table}")
    op.execute("DROP FUNCTION landsvc_audit_capture()")
    op.execute("DROP TABLE audit_entry")  # its triggers with it
    op.execute("DROP FUNCTION landsvc_audit_append_only()")
