"""Rent guideline prices: zones, the computation of a period's figures, publication, and the
figures in force (for the public, the maps and the listings)."""

from __future__ import annotations

from datetime import date
from typing import Any

import shapely
from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.orm import Session, aliased

from landsvc import access, lists
from landsvc.access import OPERATOR, Principal
from landsvc.buildings.models import BuildingType
from landsvc.districts.models import District
from landsvc.errors import Conflict, InvalidGeometry, InvalidInput, NotFound
from landsvc.fields import number, today
from landsvc.geo import WGS84, shape_from_geojson
from landsvc.guidelines.models import (
    GuidelineItem,
    GuidelineLevel,
    GuidelineVersion,
    ItemSource,
    RentZone,
    VersionStatus,
)
from landsvc.guidelines.rules import DEFAULTS, GuidelineRules, parse_period
from landsvc.policies.models import PolicySetting
from landsvc.policies.service import effective
from landsvc.tokens.models import Role


def _who(principal: Principal) -> str:
    if principal.role is Role.bureau:
        return f"bureau:{principal.jurisdiction}"
    return principal.role.value


def _scope_of(principal: Principal) -> str:
    """The jurisdiction a bureau or admin computes for: its prefix, or the whole province."""
    if principal.role is Role.bureau and principal.jurisdiction:
        return principal.jurisdiction
    return "44"


# -- zones --------------------------------------------------------------------------------
def _zone_json(row) -> dict[str, Any]:
    return {"type": "Feature", "id": row.id, "geometry": _geojson(row.geometry),
            "properties": {"name": row.name, "district": row.district,
                           "district_name": row.district_name,
                           "created_at": row.created_at.isoformat()}}


def _geojson(text_: str) -> dict:
    import orjson

    return orjson.loads(text_)


def _zone_query() -> Select:
    return (select(RentZone.id, RentZone.name, RentZone.district, RentZone.created_at,
                   District.name.label("district_name"),
                   func.ST_AsGeoJSON(RentZone.geom, 7).label("geometry"))
            .join(District, District.adcode == RentZone.district))


def list_zones(*, session: Session, district: str | None, page: lists.Page
               ) -> tuple[list[dict], lists.Matched]:
    """Guideline zones (public: they are where published prices apply), by id."""
    where = lists.adcode_prefix_clause(RentZone.district, district)
    rows, matched = lists.fetch_page(session, _zone_query().order_by(RentZone.id), where=where,
                                     page=page, count_from=RentZone)
    return [_zone_json(r) for r in rows], matched


def create_zone(*, session: Session, name: str, geometry: dict,
                principal: Principal | None = OPERATOR) -> dict:
    """A bureau's zone: a valid polygon inside Guangdong, inside its jurisdiction, overlapping
    no other zone; its district is the one it overlaps most."""
    principal = access.require_role(principal, Role.bureau, Role.admin)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("name: 缺少片区名称", code="missing_value")
    shape = shape_from_geojson(geometry)
    if shape.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidGeometry(f"geometry: 片区应为 Polygon 或 MultiPolygon，收到 {shape.geom_type}")
    if not shape.is_valid:
        raise InvalidGeometry(f"geometry: 无效的多边形：{shapely.is_valid_reason(shape)}")
    if shape.is_empty or shape.area == 0:
        raise InvalidGeometry("geometry: 片区面积为 0")
    geom = func.ST_Multi(func.ST_GeomFromText(bindparam("wkt", shape.wkt), WGS84))
    overlaps = session.execute(
        select(District.adcode,
               func.ST_Area(func.ST_Intersection(District.geom, geom)).label("shared"))
        .where(func.ST_Intersects(District.geom, geom))
    ).all()
    overlaps = [(a, s) for a, s in overlaps if s > 0]
    if not overlaps:
        raise InvalidGeometry("geometry: 片区不在广东省任何区县内", code="outside_guangdong")
    access.require_manage(principal, [a for a, _ in overlaps])
    district = max(overlaps, key=lambda o: (o[1], o[0]))[0]
    other = session.execute(
        select(RentZone.id, RentZone.name)
        .where(func.ST_Intersects(RentZone.geom, geom),
               func.ST_Area(func.ST_Intersection(RentZone.geom, geom)) > 0).limit(1)
    ).first()
    if other is not None:
        raise Conflict(f"geometry: 与已有片区 {other.id}「{other.name}」重叠；片区之间不能重叠",
                       code="zone_overlap")
    if session.scalar(select(RentZone.id).where(RentZone.district == district,
                                                RentZone.name == name)):
        raise Conflict(f"name: 区县 {district} 已有名为「{name}」的片区", code="duplicate")
    zone_id = session.scalar(insert(RentZone).values(
        name=name, district=district, geom=geom, created_by=_who(principal)
    ).returning(RentZone.id))
    return _zone_json(session.execute(_zone_query().where(RentZone.id == zone_id)).one())


# -- computation --------------------------------------------------------------------------
_RECORDS = """
rec AS MATERIALIZED (
    SELECT r.district, left(r.district, 4) AS city, r.building_type,
           r.area_m2::float8 AS area, r.rent_yuan_per_m2_month::float8 AS rent
    FROM rent_record r
    WHERE r.start_date <= :period_end AND r.end_date >= :period_start
      AND r.district LIKE :city_prefix || '%'
)"""

_ZONE_RECORDS = """,
zrec AS MATERIALIZED (
    SELECT z.id AS zone_id, r.building_type,
           r.area_m2::float8 AS area, r.rent_yuan_per_m2_month::float8 AS rent
    FROM rent_zone z JOIN rent_record r ON ST_Covers(z.geom, r.geom)
    WHERE z.district LIKE :scope || '%'
      AND r.start_date <= :period_end AND r.end_date >= :period_start
)"""

_GROUPS = """,
grp AS MATERIALIZED (
    SELECT 'district' AS lvl, district AS key, building_type, area, rent FROM rec
    UNION ALL
    SELECT 'city', city, building_type, area, rent FROM rec"""

_ZONE_GROUPS = """
    UNION ALL
    SELECT 'zone', zone_id::text, building_type, area, rent FROM zrec"""

_STATS = """
),
fences AS (
    SELECT lvl, key, building_type, n,
           q[1] - :iqr_factor * (q[2] - q[1]) AS lo, q[2] + :iqr_factor * (q[2] - q[1]) AS hi
    FROM (SELECT lvl, key, building_type, count(*) AS n,
                 percentile_cont(ARRAY[0.25, 0.75]) WITHIN GROUP (ORDER BY rent) AS q
          FROM grp GROUP BY lvl, key, building_type) quartiles
),
stats AS MATERIALIZED (  -- once: inlined into the lateral below, it ran per target
    SELECT g.lvl, g.key, g.building_type,
           percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY g.rent) AS q,
           sum(g.area * g.rent) / sum(g.area) AS weighted_mean,
           count(*) AS samples, min(f.n) - count(*) AS excluded
    FROM grp g JOIN fences f USING (lvl, key, building_type)
    WHERE g.rent BETWEEN f.lo AND f.hi
    GROUP BY g.lvl, g.key, g.building_type
),
types AS (SELECT unnest(ARRAY['single_storey', 'multi_storey', 'high_rise']) AS building_type),
"""

_DISTRICT_TARGETS = """
targets AS (
    SELECT NULL::bigint AS zone_id, d.adcode AS district, t.building_type
    FROM district d CROSS JOIN types t WHERE d.adcode LIKE :scope || '%'
),"""

_ZONE_TARGETS = """
targets AS (
    SELECT z.id AS zone_id, z.district, t.building_type
    FROM rent_zone z CROSS JOIN types t WHERE z.district LIKE :scope || '%'
),"""

_CHOOSE = """
chosen AS (
    SELECT t.zone_id, t.district, t.building_type, s.*
    FROM targets t CROSS JOIN LATERAL (
        SELECT s.q, s.weighted_mean, s.samples, s.excluded,
               CASE s.lvl WHEN 'zone' THEN 'zone' WHEN 'district' THEN 'district'
                          ELSE 'city_fallback' END AS source
        FROM stats s
        WHERE s.building_type = t.building_type AND s.samples >= :min_samples
          AND ((s.lvl = 'zone' AND s.key = t.zone_id::text)
               OR (s.lvl = 'district' AND s.key = t.district)
               OR (s.lvl = 'city' AND s.key = left(t.district, 4)))
        ORDER BY CASE s.lvl WHEN 'zone' THEN 0 WHEN 'district' THEN 1 ELSE 2 END
        LIMIT 1) s
),
considered AS (
    UPDATE rent_guideline_version SET records_considered = (SELECT count(*) FROM rec)
    WHERE id = :version_id
)
INSERT INTO rent_guideline_item (version_id, zone_id, district, building_type, median, p25, p75,
                                 weighted_mean, samples, source, excluded)
SELECT :version_id, zone_id, district, building_type, round(q[2]::numeric, 2),
       round(q[1]::numeric, 2), round(q[3]::numeric, 2), round(weighted_mean::numeric, 2),
       samples, source, excluded
FROM chosen
"""

COMPUTE_DISTRICTS = text("WITH" + _RECORDS + _GROUPS + _STATS + _DISTRICT_TARGETS + _CHOOSE)
"""One statement: the leases in force, the outlier fences per group, the statistics per
district and per city, the fallback choice, the items written."""

COMPUTE_ZONES = text("WITH" + _RECORDS + _ZONE_RECORDS + _GROUPS + _ZONE_GROUPS + _STATS
                     + _ZONE_TARGETS + _CHOOSE)
"""The same at zone level: zone, then district, then city."""


def compute(*, session: Session, period: str, level: str = "district",
            principal: Principal | None = OPERATOR) -> dict:
    """Compute a draft version of the guideline prices of ``period`` for the caller's
    jurisdiction (a bureau's; the province for an admin)."""
    principal = access.require_role(principal, Role.bureau, Role.admin)
    parsed = parse_period(period)
    try:
        level_ = GuidelineLevel(level)
    except ValueError:
        raise InvalidInput(f"level: 应为 district（区县）或 zone（片区），收到 {str(level)[:20]!r}",
                           code="invalid_value") from None
    scope = _scope_of(principal)
    rules: GuidelineRules = effective(session, "guidelines", scope)
    version_id = session.scalar(insert(GuidelineVersion).values(
        period=parsed.text, period_start=parsed.start, period_end=parsed.end, level=level_,
        scope=scope, status=VersionStatus.draft, min_samples=int(rules.min_samples),
        iqr_factor=rules.iqr_factor, records_considered=0, created_by=_who(principal),
    ).returning(GuidelineVersion.id))
    statement = COMPUTE_ZONES if level_ is GuidelineLevel.zone else COMPUTE_DISTRICTS
    session.execute(statement, {
        "version_id": version_id, "period_start": parsed.start, "period_end": parsed.end,
        "scope": scope, "city_prefix": scope[:4], "iqr_factor": float(rules.iqr_factor),
        "min_samples": int(rules.min_samples)})
    return get_version(session=session, version_id=version_id, principal=principal)


# -- versions -----------------------------------------------------------------------------
def _version_json(v: GuidelineVersion, superseded_by: int | None) -> dict[str, Any]:
    return {"id": v.id, "status": v.status.value, "status_label": v.status.label,
            "period": v.period, "period_start": v.period_start.isoformat(),
            "period_end": v.period_end.isoformat(), "level": v.level.value, "scope": v.scope,
            "min_samples": v.min_samples, "iqr_factor": float(v.iqr_factor),
            "records_considered": v.records_considered,
            "effective_date": v.effective_date.isoformat() if v.effective_date else None,
            "published_at": v.published_at.isoformat() if v.published_at else None,
            "supersedes": v.supersedes_id, "superseded_by": superseded_by,
            "created_at": v.created_at.isoformat(), "created_by": v.created_by,
            "published_by": v.published_by}


def _may_see_drafts(principal: Principal | None, scope: str) -> bool:
    """Drafts: admins, and bureaus whose jurisdiction and the draft's scope meet."""
    if principal is None:
        return False
    if principal.role is Role.admin:
        return True
    return (principal.role is Role.bureau and bool(principal.jurisdiction)
            and (scope.startswith(principal.jurisdiction)
                 or principal.jurisdiction.startswith(scope)))


def _superseded_by(session: Session, ids: list[int]) -> dict[int, int]:
    rows = session.execute(select(GuidelineVersion.supersedes_id, GuidelineVersion.id)
                           .where(GuidelineVersion.supersedes_id.in_(ids))).all()
    return {old: new for old, new in rows}


def _version_visible(principal: Principal | None) -> ColumnElement:
    v = GuidelineVersion
    if principal is not None and principal.role is Role.admin:
        return true()
    clauses = [v.status == VersionStatus.published]
    if principal is not None and principal.role is Role.bureau and principal.jurisdiction:
        clauses += [v.scope.startswith(principal.jurisdiction),
                    literal(principal.jurisdiction).startswith(v.scope)]
    return or_(*clauses)


def list_versions(*, session: Session, principal: Principal | None, page: lists.Page,
                  period: str | None = None) -> tuple[list[dict], lists.Matched]:
    """Every version the caller may see (published: everybody; drafts: bureaus), newest
    first; superseded versions stay listed with ``superseded_by``."""
    where = and_(_version_visible(principal),
                 true() if period is None else GuidelineVersion.period == parse_period(period).text)
    rows, matched = lists.fetch_page(
        session, select(GuidelineVersion).order_by(GuidelineVersion.id.desc()), where=where,
        page=page, count_from=GuidelineVersion)
    versions = [r[0] for r in rows]
    later = _superseded_by(session, [v.id for v in versions])
    return [_version_json(v, later.get(v.id)) for v in versions], matched


def _version(session: Session, version_id: int, principal: Principal | None,
             *, lock: bool = False) -> GuidelineVersion:
    query = select(GuidelineVersion).where(GuidelineVersion.id == version_id)
    if lock:
        query = query.with_for_update()
    version = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if version is None or (version.status is VersionStatus.draft
                           and not _may_see_drafts(principal, version.scope)):
        raise NotFound(f"租金指导价版本 {version_id} 不存在")
    return version


def get_version(*, session: Session, version_id: int,
                principal: Principal | None = OPERATOR) -> dict:
    """A version with its items (a draft only for the bureaus concerned and admins)."""
    version = _version(session, version_id, principal)
    answer = _version_json(version, _superseded_by(session, [version.id]).get(version.id))
    rows = session.execute(_item_query().where(GuidelineItem.version_id == version.id)
                           .order_by(GuidelineItem.district, GuidelineItem.zone_id,
                                     GuidelineItem.building_type)).all()
    answer["items"] = [_item_json(r) for r in rows]
    return answer


def publish(*, session: Session, version_id: int, effective_date: date | None,
            principal: Principal | None = OPERATOR) -> dict:
    """Publish a draft: from then on immutable; it supersedes the latest published version
    of the same period, level and scope."""
    principal = access.require_role(principal, Role.bureau, Role.admin)
    version = _version(session, version_id, principal, lock=True)
    access.require_manage(principal, [version.scope.ljust(6, "0")]
                          if len(version.scope) < 6 else [version.scope])
    if version.status is not VersionStatus.draft:
        raise Conflict(f"租金指导价版本 {version_id} 已发布，不能再次发布；更正请重新计算并发布新版本",
                       code="already_published")
    if effective_date is None:
        raise InvalidInput("effective_date: 缺少生效日期", code="missing_value")
    if not session.scalar(select(exists().where(GuidelineItem.version_id == version_id))):
        raise InvalidInput(f"租金指导价版本 {version_id} 没有任何条目（期间内样本不足），不能发布",
                           code="empty_computation")
    previous = session.scalar(
        select(GuidelineVersion.id)
        .where(GuidelineVersion.status == VersionStatus.published,
               GuidelineVersion.period == version.period,
               GuidelineVersion.level == version.level,
               GuidelineVersion.scope == version.scope)
        .order_by(GuidelineVersion.published_at.desc(), GuidelineVersion.id.desc()).limit(1))
    session.execute(update(GuidelineVersion).where(GuidelineVersion.id == version_id).values(
        status=VersionStatus.published, effective_date=effective_date,
        published_at=func.clock_timestamp(), published_by=_who(principal),
        supersedes_id=previous))
    return get_version(session=session, version_id=version_id, principal=principal)


# -- items and the figures in force -------------------------------------------------------
def _item_query() -> Select:
    return (select(GuidelineItem, GuidelineVersion.effective_date, GuidelineVersion.period,
                   GuidelineVersion.published_at, RentZone.name.label("zone_name"),
                   District.name.label("district_name"))
            .join(GuidelineVersion, GuidelineVersion.id == GuidelineItem.version_id)
            .join(District, District.adcode == GuidelineItem.district)
            .outerjoin(RentZone, RentZone.id == GuidelineItem.zone_id))


def _item_json(row) -> dict[str, Any]:
    item: GuidelineItem = row.GuidelineItem
    return {"zone": item.zone_id, "zone_name": row.zone_name, "district": item.district,
            "district_name": row.district_name, "building_type": item.building_type.value,
            "building_type_label": item.building_type.label,
            "median": number(item.median), "p25": number(item.p25), "p75": number(item.p75),
            "weighted_mean": number(item.weighted_mean), "samples": item.samples,
            "excluded": item.excluded, "source": item.source.value,
            "source_label": item.source.label, "version": item.version_id,
            "period": row.period,
            "effective_date": row.effective_date.isoformat() if row.effective_date else None}


def in_force_clause(version, district, as_of: date | ColumnElement,
                    period: str | None = None) -> ColumnElement:
    """``version`` is the published version in force on ``as_of`` for ``district`` at its
    level: effective by then, its scope covering the district, and no other such version
    effective later (or the same day, published later)."""
    newer = aliased(GuidelineVersion)
    same_period = (lambda v: true()) if period is None else (lambda v: v.period == period)
    return and_(
        version.status == VersionStatus.published, version.effective_date <= as_of,
        same_period(version), district.startswith(version.scope),
        ~exists().where(
            newer.status == VersionStatus.published, newer.level == version.level,
            newer.effective_date <= as_of, same_period(newer),
            district.startswith(newer.scope),
            tuple_(newer.effective_date, newer.published_at, newer.id)
            > tuple_(version.effective_date, version.published_at, version.id),
        ).correlate_except(newer),
    )


def search_items(*, session: Session, principal: Principal | None = None,
                 period: str | None = None, district: str | None = None,
                 building_type: str | None = None, as_of: date | None = None,
                 version_id: int | None = None, level: str | None = None) -> dict:
    """The items in force on ``as_of`` (default today), or those of one version."""
    period_text = parse_period(period).text if period is not None else None
    type_ = _building_type(building_type)
    clauses = [lists.adcode_prefix_clause(GuidelineItem.district, district),
               lists.equals_clause(GuidelineItem.building_type, type_)]
    if level is not None:
        try:
            level_ = GuidelineLevel(level)
        except ValueError:
            raise InvalidInput(f"level: 应为 district 或 zone，收到 {level[:20]!r}",
                               code="invalid_value") from None
        clauses.append(GuidelineVersion.level == level_)
    if version_id is not None:
        version = _version(session, version_id, principal)
        clauses.append(GuidelineItem.version_id == version.id)
        as_of_ = None
    else:
        as_of_ = as_of or today()
        clauses.append(in_force_clause(GuidelineVersion, GuidelineItem.district, as_of_,
                                       period_text))
    rows = session.execute(_item_query().where(*clauses).order_by(
        GuidelineItem.district, GuidelineItem.zone_id, GuidelineItem.building_type)).all()
    items = [_item_json(r) for r in rows]
    latest = max(rows, default=None, key=lambda r: (
        r.published_at.timestamp() if r.published_at else 0.0, r.GuidelineItem.version_id))
    return {
        "items": items,
        "version": latest.GuidelineItem.version_id if latest else None,
        "effective_date": latest.effective_date.isoformat()
        if latest and latest.effective_date else None,
        "period": period_text if period_text else (latest.period if latest else None),
        "published_at": latest.published_at.isoformat() if latest and latest.published_at
        else None,
        "as_of": as_of_.isoformat() if as_of_ else None,
    }


def _building_type(value: str | None) -> BuildingType | None:
    if value is None:
        return None
    found = BuildingType.lookup().get(value)
    if found is None:
        raise InvalidInput(f"building_type: 应为 single_storey、multi_storey 或 high_rise，"
                           f"收到 {value[:20]!r}", code="invalid_value")
    return BuildingType(found)


def items_in_force(session: Session, *, period: str | None = None, district: str | None = None,
                   building_type: str | None = None, as_of: date | None = None) -> dict:
    """The published figures in force on ``as_of`` (default today) for the public maps:
    ``{"items", "version" (the latest contributing), "effective_date", "period",
    "published_at"}``; ``version`` None when nothing is published."""
    return search_items(session=session, principal=None, period=period, district=district,
                        building_type=building_type, as_of=as_of)


# -- listings -----------------------------------------------------------------------------
def margin_percent(district) -> ColumnElement:
    """The listing margin (%) in force in ``district`` (a column): the most specific stored
    setting covering it, else the default."""
    stored = (select(cast(cast(PolicySetting.value, Text), Float))
              .where(PolicySetting.name == "guidelines.listing_margin_percent",
                     func.strpos(district, PolicySetting.scope) == 1)
              .order_by(func.length(PolicySetting.scope).desc()).limit(1)
              .correlate_except(PolicySetting).scalar_subquery())
    return func.coalesce(stored, DEFAULTS.listing_margin_percent)


def listing_guideline(building) -> Select:
    """The item in force today for a building (lateral: its zone's if any, else its
    district's, for its building type), with the margin in force there."""
    as_of = today()
    zone_covers = exists().where(RentZone.id == GuidelineItem.zone_id,
                                 func.ST_Covers(RentZone.geom, building.geom)
                                 ).correlate_except(RentZone)
    return (select(GuidelineItem.median.label("g_median"), GuidelineItem.p25.label("g_p25"),
                   GuidelineItem.p75.label("g_p75"),
                   GuidelineItem.weighted_mean.label("g_weighted_mean"),
                   GuidelineItem.samples.label("g_samples"),
                   GuidelineItem.source.label("g_source"),
                   GuidelineItem.zone_id.label("g_zone"),
                   GuidelineItem.version_id.label("g_version"),
                   GuidelineVersion.period.label("g_period"),
                   GuidelineVersion.effective_date.label("g_effective_date"),
                   margin_percent(building.district).label("g_margin_percent"))
            .join(GuidelineVersion, GuidelineVersion.id == GuidelineItem.version_id)
            .where(GuidelineItem.district == building.district,
                   GuidelineItem.building_type == building.building_type,
                   or_(GuidelineItem.zone_id.is_(None), zone_covers),
                   in_force_clause(GuidelineVersion, building.district, as_of))
            .order_by(GuidelineItem.zone_id.is_(None), GuidelineItem.id)
            .limit(1)
            .lateral("guideline"))


def guideline_json(row) -> dict | None:
    """A listing row's ``guideline`` (its ``g_`` columns), or None."""
    if row.g_median is None:
        return None
    return {"median": number(row.g_median), "p25": number(row.g_p25),
            "p75": number(row.g_p75), "weighted_mean": number(row.g_weighted_mean),
            "samples": row.g_samples, "source": ItemSource(row.g_source).value,
            "zone": row.g_zone, "version": row.g_version, "period": row.g_period,
            "effective_date": row.g_effective_date.isoformat(),
            "margin_percent": float(row.g_margin_percent),
            "flag_threshold": round(float(row.g_p75)
                                    * (1 + float(row.g_margin_percent) / 100), 2)}


__all__ = ["compute", "create_zone", "get_version", "in_force_clause",
           "items_in_force", "list_versions", "list_zones", "listing_guideline", "publish",
           "search_items"]


def trend(*, session: Session, jurisdiction: str | None) -> list[dict[str, Any]]:
    """Per published version whose scope meets ``jurisdiction`` (None: the province) and
    per building type: the median (``percentile_cont(0.5)``) of the items' median rents
    inside the jurisdiction, with the number of items — one ``GROUP BY``, oldest first."""
    v, i = GuidelineVersion, GuidelineItem
    meets = true() if not jurisdiction else or_(v.scope.startswith(jurisdiction),
                                               literal(jurisdiction).startswith(v.scope))
    inside = true() if not jurisdiction else i.district.startswith(jurisdiction)
    rows = session.execute(
        select(v.id, v.period, v.level, v.effective_date, i.building_type,
               func.percentile_cont(0.5).within_group(i.median).label("median"),
               func.count().label("items"))
        .join(i, i.version_id == v.id)
        .where(and_(v.status == VersionStatus.published, meets, inside))
        .group_by(v.id, v.period, v.level, v.effective_date, i.building_type)
        .order_by(v.period_start, v.published_at, v.id, i.building_type)).all()
    return [{"version": r.id, "period": r.period, "level": r.level.value,
             "effective_date": r.effective_date, "building_type": r.building_type.value,
             "median": round(float(r.median), 2), "items": r.items} for r in rows]
