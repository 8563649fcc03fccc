"""Every (open land demand, published offering) pair that meets the hard requirements, found
in one set-based query and scored over arrays: the candidate graph of an allocation, an
offering's candidates list and who hears of its publication.

The query is a UNION ALL of one branch per way a demand states its place, so that each
branch joins on an index: a point and radius (the demand's box ``&&`` the offering's
geometry, then :func:`within_radius`), a polygon (``ST_Intersects``), districts (through the
district table, an equality join), parks (the parcel's ``park_id``), or none. Every other
hard requirement is the same clause in every branch. The owner's tier against the offering's
minimum is checked after, on arrays: an enterprise's tier in force on the day, a consortium's
derived from its members (:func:`landsvc.enterprises.service.consortium_tiers`).

The score of each pair applies :mod:`landsvc.matching.scoring`'s formulas to whole arrays —
the same floating-point operations as :func:`landsvc.matching.service.offering_fits` with
:func:`~landsvc.matching.scoring.explain`, so a pair scores here exactly what its reasons add
up to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from geoalchemy2 import Geography
from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Float,
    Select,
    String,
    any_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased

from landsvc.demands.models import Demand, DemandStatus
from landsvc.districts.models import District
from landsvc.enterprises import service as enterprises
from landsvc.enterprises.models import Enterprise
from landsvc.enterprises.tiers import Tier
from landsvc.matching import scoring
from landsvc.offerings.models import Offering
from landsvc.parcels.models import Parcel
from landsvc.parks.models import Park
from landsvc.policies.service import effective

SRDI_RANK = Tier.srdi_sme.rank


@dataclass(frozen=True)
class LandPairs:
    """Pairs as parallel arrays, sorted by offering, then demand."""

    demand_id: np.ndarray
    offering_id: np.ndarray
    tier_rank: np.ndarray
    """The owner's tier in force on the day (``Tier.rank``)."""
    cents: np.ndarray
    """The score in cents (0–10000)."""
    distance_km: np.ndarray
    """From the demand's point; NaN when it names none."""

    def __len__(self) -> int:
        return len(self.demand_id)


def id_array(name: str, values) -> BindParameter:
    """A bigint[] parameter: with one custom plan per query, PostgreSQL hashes ``= ANY`` of it."""
    return bindparam(name, [int(v) for v in values], type_=ARRAY(BigInteger))


M_PER_DEGREE_AT_MOST = 112_000.0
M_PER_DEGREE_AT_LEAST = 99_000.0
"""Bounds of the geodesic metres one planar degree of lon/lat spans (in any direction) south
of 26.5°N — all of Guangdong, where demands' points must lie: a degree of latitude is
110.6–110.8 km, of longitude 111.32 km × cos(latitude) ≤ 104.7 km north of 20°N and ≥ 99.6 km
south of 26.5°N."""


def within_radius(point, geom, radius_m) -> ColumnElement:
    """``ST_DWithin`` on the spheroid, exactly, computed only where it is in doubt: a planar
    distance (in degrees) short enough is surely within the radius, long enough surely not;
    the exact geodesic test (~5 µs a polygon) decides the narrow band between."""
    return case(
        (func.ST_DWithin(geom, point, radius_m / M_PER_DEGREE_AT_MOST), true()),
        (~func.ST_DWithin(geom, point, radius_m / M_PER_DEGREE_AT_LEAST), false()),
        else_=func.ST_DWithin(cast(point, Geography), cast(geom, Geography), radius_m))


def _requirements(on: date, d, o) -> list[ColumnElement]:
    """The hard requirements but the place's driving condition, on demand ``d`` and offering
    ``o`` (the entities or aliases of them). An enterprise's tier is looked up only for an
    offering with a minimum tier; a consortium's is derived after, in Python."""
    owner_rank = (select(enterprises.tier_rank_sql(enterprises.effective_tier_sql(on)))
                  .where(Enterprise.uscc == d.enterprise_uscc).scalar_subquery())
    code = func.unnest(d.districts).table_valued("code").render_derived()
    parcel = aliased(Parcel)
    in_park = select(literal(1)).where(parcel.id == o.parcel_id, parcel.park_id == any_(d.parks))
    return [
        d.status == DemandStatus.open,
        d.kinds.contains(["land"]),
        or_(d.offering_id.is_(None), d.offering_id == o.id),
        or_(func.cardinality(d.districts) == 0,
            exists(select(literal(1)).select_from(code).where(o.district.startswith(code.c.code)))),
        or_(func.cardinality(d.parks) == 0, exists(in_park)),
        or_(d.area_min_m2.is_(None), d.area_min_m2 <= o.area_m2),
        or_(d.area_max_m2.is_(None), d.area_max_m2 >= o.area_m2),
        or_(func.cardinality(d.supply_modes) == 0,
            cast(o.supply_mode, String) == any_(d.supply_modes)),
        or_(d.max_price_wan.is_(None), o.start_price_wan.is_(None),
            d.max_price_wan >= o.start_price_wan),
        or_(d.max_annual_rent_yuan.is_(None), o.annual_rent_yuan.is_(None),
            d.max_annual_rent_yuan >= o.annual_rent_yuan),
        or_(o.joint_bidding_allowed.is_(True), d.consortium_id.is_(None)),
        or_(o.min_tier == Tier.none, d.consortium_id.is_not(None),
            func.coalesce(owner_rank, 0) >= enterprises.tier_rank_sql(o.min_tier)),
    ]


def pairs_query(on: date, *, offering_ids: list[int],
                demand_ids: list[int] | None = None) -> Select:
    """SELECT ``demand_id, offering_id, distance_km`` of the pairs meeting the hard
    requirements on day ``on`` but a consortium's tier; a demand naming overlapping districts
    may come twice.

    The smaller side is enumerated first — materialised, each of its rows probing the other
    side's spatial index: the named demands when they are fewer than the offerings, else the
    offerings (one offering's candidates among all open demands)."""
    if demand_ids is not None and len(demand_ids) <= len(offering_ids):
        named = select(Demand).where(Demand.id == any_(id_array("demand_ids", demand_ids)))
        d = aliased(Demand, named.cte("scoped_demand").prefix_with("MATERIALIZED"))
        o, scope = Offering, [Offering.id == any_(id_array("offering_ids", offering_ids))]
    else:
        d = Demand
        named = select(Offering).where(Offering.id == any_(id_array("offering_ids",
                                                                    offering_ids)))
        o = aliased(Offering, named.cte("scoped_offering").prefix_with("MATERIALIZED"))
        scope = [] if demand_ids is None else [
            Demand.id == any_(id_array("demand_ids", demand_ids))]
    no_point, no_polygon = d.near_point.is_(None), d.within_geom.is_(None)
    no_districts = func.cardinality(d.districts) == 0

    def branch(distance, *place, join=None):
        query = select(d.id.label("demand_id"), o.id.label("offering_id"),
                       distance.label("distance_km")).select_from(d)
        query = join(query) if join else query.join(o, true())
        return query.where(*scope, *place, *_requirements(on, d, o))

    by_point = branch(
        func.ST_Distance(cast(d.near_point, Geography), cast(o.geom, Geography)) / 1000,
        within_radius(d.near_point, o.geom, d.near_radius_m),
        # not an index condition: a function of both
        func.coalesce(func.ST_Intersects(d.within_geom, o.geom), true()),
        join=lambda q: q.join(o, d.near_box.op("&&")(o.geom)))
    nothing = cast(null(), Float)
    by_polygon = branch(nothing, no_point, func.ST_Intersects(d.within_geom, o.geom))
    code = func.unnest(d.districts).table_valued("code").lateral("code")
    by_district = branch(
        nothing, no_point, no_polygon,
        join=lambda q: q.join(code, true())
        .join(District, District.adcode.startswith(code.c.code))
        .join(o, o.district == District.adcode))
    by_park = branch(
        nothing, no_point, no_polygon, no_districts,
        join=lambda q: q.join(Parcel, Parcel.park_id == any_(d.parks))
        .join(o, o.parcel_id == Parcel.id))
    anywhere = branch(nothing, no_point, no_polygon, no_districts,
                      func.cardinality(d.parks) == 0)
    return union_all(by_point, by_polygon, by_district, by_park, anywhere)


def land_pairs(session: Session, *, offering_ids: list[int], demand_ids: list[int] | None = None,
               on: date, priority: bool = True) -> LandPairs:
    """The scored pairs of ``offering_ids`` and the open land demands (or ``demand_ids``) they
    satisfy on day ``on``, the owner's tier in force that day at least the offering's minimum;
    with ``priority``, an offering with the 专精特新优先 label keeps only SRDI tiers' demands
    while it has any. Each offering is scored with the matching weights in force in its
    district."""
    empty = LandPairs(*(np.array([], dtype=t) for t in (np.int64, np.int64, np.int64,
                                                         np.int64, np.float64)))
    if not offering_ids or (demand_ids is not None and not demand_ids):
        return empty
    found = pairs_query(on, offering_ids=offering_ids, demand_ids=demand_ids).subquery()
    # Planned as costly, the query would be JIT-compiled: seconds lost, nothing gained.
    session.execute(text("SET LOCAL jit = off"))
    row = session.execute(select(func.array_agg(found.c.demand_id),
                                 func.array_agg(found.c.offering_id),
                                 func.array_agg(found.c.distance_km))).one()
    if row[0] is None:
        return empty
    demand_id = np.array(row[0], dtype=np.int64)
    offering_id = np.array(row[1], dtype=np.int64)
    distance = np.array(row[2], dtype=np.float64)  # None becomes NaN

    # one row per pair (overlapping districts), sorted by offering then demand
    _, first = np.unique(offering_id * (demand_id.max() + 1) + demand_id, return_index=True)
    demand_id, offering_id, distance = demand_id[first], offering_id[first], distance[first]

    offers = _OfferingFacts.load(session, np.unique(offering_id))
    wants = _DemandFacts.load(session, np.unique(demand_id), on)
    at = np.searchsorted(offers.id, offering_id)
    of = np.searchsorted(wants.id, demand_id)
    tier_rank = wants.tier_rank[of]
    keep = tier_rank >= offers.min_rank[at]
    if priority:  # 专精特新优先: an offering with any SRDI-tier candidate keeps only those
        srdi = keep & (tier_rank >= SRDI_RANK)
        has_srdi = np.zeros(len(offers.id), dtype=bool)
        has_srdi[at[srdi]] = True
        keep &= ~(offers.srdi_priority[at] & has_srdi[at]) | (tier_rank >= SRDI_RANK)
    at, of, distance = at[keep], of[keep], distance[keep]
    cents = _score(session, offers, at, wants, of, distance)
    return LandPairs(wants.id[of], offers.id[at], wants.tier_rank[of], cents, distance)


def _column(values) -> np.ndarray:
    """Numbers (NUMERIC or None) as floats, None as NaN."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


@dataclass(frozen=True)
class _OfferingFacts:
    id: np.ndarray
    area: np.ndarray
    price: np.ndarray
    rent: np.ndarray
    term: np.ndarray
    park: np.ndarray
    """0 outside a park."""
    services: np.ndarray
    min_rank: np.ndarray
    srdi_priority: np.ndarray
    district: list[str]
    leading: list[list[str] | None]

    @classmethod
    def load(cls, session: Session, ids: np.ndarray) -> _OfferingFacts:
        rows = session.execute(
            select(Offering.id, Offering.area_m2, Offering.start_price_wan,
                   Offering.annual_rent_yuan, Offering.term_years, Offering.lease_years,
                   Offering.transfer_years, Parcel.park_id, Park.leading_industries,
                   Park.services, Offering.min_tier, Offering.srdi_priority, Offering.district)
            .join(Parcel, Parcel.id == Offering.parcel_id)
            .outerjoin(Park, Park.id == Parcel.park_id)
            .where(Offering.id == any_(id_array("ids", ids)))
            .order_by(Offering.id)).all()

        def term(r):  # as offering_fits reads it
            if r.term_years is not None:
                return r.term_years
            parts = [p for p in (r.lease_years, r.transfer_years) if p is not None]
            return sum(parts) if parts else None

        return cls(
            id=np.array([r.id for r in rows], dtype=np.int64),
            area=_column(r.area_m2 for r in rows),
            price=_column(r.start_price_wan for r in rows),
            rent=_column(r.annual_rent_yuan for r in rows),
            term=_column(term(r) for r in rows),
            park=np.array([r.park_id or 0 for r in rows], dtype=np.int64),
            services=np.array([len(r.services or []) for r in rows], dtype=np.float64),
            min_rank=np.array([r.min_tier.rank for r in rows], dtype=np.int64),
            srdi_priority=np.array([r.srdi_priority for r in rows], dtype=bool),
            district=[r.district for r in rows],
            leading=[r.leading_industries for r in rows])


@dataclass(frozen=True)
class _DemandFacts:
    id: np.ndarray
    low: np.ndarray
    high: np.ndarray
    radius_km: np.ndarray
    max_price: np.ndarray
    max_rent: np.ndarray
    term: np.ndarray
    constrained: np.ndarray
    industry: list[str | None]

    tier_rank: np.ndarray
    """The owner's tier in force on the day (a consortium's derived from its members)."""

    @classmethod
    def load(cls, session: Session, ids: np.ndarray, on: date) -> _DemandFacts:
        constrained = or_(func.cardinality(Demand.districts) > 0,
                          func.cardinality(Demand.parks) > 0, Demand.within_geom.is_not(None),
                          Demand.near_point.is_not(None), Demand.offering_id.is_not(None))
        rows = session.execute(
            select(Demand.id, Demand.area_min_m2, Demand.area_max_m2, Demand.near_radius_m,
                   Demand.max_price_wan, Demand.max_annual_rent_yuan, Demand.term_years,
                   Demand.industry_code, constrained.label("constrained"),
                   Demand.consortium_id,
                   enterprises.tier_rank_sql(enterprises.effective_tier_sql(on)).label("tier"))
            .outerjoin(Enterprise, Enterprise.uscc == Demand.enterprise_uscc)
            .where(Demand.id == any_(id_array("ids", ids)))
            .order_by(Demand.id)).all()
        return cls(
            id=np.array([r.id for r in rows], dtype=np.int64),
            low=_column(r.area_min_m2 for r in rows),
            high=_column(r.area_max_m2 for r in rows),
            radius_km=_column(r.near_radius_m for r in rows) / 1000,
            max_price=_column(r.max_price_wan for r in rows),
            max_rent=_column(r.max_annual_rent_yuan for r in rows),
            term=_column(r.term_years for r in rows),
            constrained=np.array([bool(r.constrained) for r in rows], dtype=bool),
            industry=[r.industry_code for r in rows],
            tier_rank=np.array(_tier_ranks(session, rows, on), dtype=np.int64))


def _tier_ranks(session: Session, rows, on: date) -> list[int]:
    consortia = {r.consortium_id for r in rows if r.consortium_id is not None}
    derived = enterprises.consortium_tiers(session, consortia, on) if consortia else {}
    return [r.tier if r.consortium_id is None else derived.get(r.consortium_id, Tier.none).rank
            for r in rows]


def _score(session: Session, o: _OfferingFacts, at: np.ndarray, d: _DemandFacts,
           of: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """The score in cents of each pair (offering ``o[at]``, demand ``d[of]``): the fits of
    :func:`landsvc.matching.service.offering_fits`, weighted as :func:`scoring.explain`."""
    neutral = scoring.NEUTRAL
    area, low, high = o.area[at], d.low[of], d.high[of]
    has_low, has_high = ~np.isnan(low), ~np.isnan(high)
    radius = d.radius_km[of]
    located = ~np.isnan(distance) & ~np.isnan(radius) & (radius != 0)
    # every branch is computed, the ones not chosen may divide by zero or NaN
    with np.errstate(divide="ignore", invalid="ignore"):
        fits = {
            "location": np.where(located, scoring.near(distance, radius, np),
                                 np.where(d.constrained[of], 1.0, neutral)),
            "area": np.select(
                [has_low & has_high, has_low, has_high],
                [np.where(low == high, 1.0, scoring.centred(area, low, high, np)),
                 scoring.above(area, low, np), scoring.below(area, high, np)], neutral),
            "price": _price_fit(o.price[at], d.max_price[of], o.rent[at], d.max_rent[of]),
            "term": np.where(np.isnan(d.term[of]) | np.isnan(o.term[at]), neutral,
                             scoring.term_ratio(o.term[at], d.term[of], np)),
            "industry": _industry_fit(o, at, d, of),
            "servicing": np.where(o.park[at] == 0, 0.0, scoring.services_share(o.services[at], np)),
        }
    weights = _weights(session, o)
    cents = np.zeros(len(at), dtype=np.int64)
    for criterion, fit in fits.items():
        cents += scoring.contribution_cents(weights[criterion][at], fit, np).astype(np.int64)
    return cents


def _price_fit(price, max_price, rent, max_rent) -> np.ndarray:
    """The mean of the price parts that apply (land price, annual rent), as ``price_fit``."""
    has_price = ~np.isnan(price) & ~np.isnan(max_price)
    has_rent = ~np.isnan(rent) & ~np.isnan(max_rent)
    by_price = scoring.under_budget(price, max_price, np)
    by_rent = scoring.under_budget(rent, max_rent, np)
    return np.select([has_price & has_rent, has_price, has_rent],
                     [(by_price + by_rent) / 2, by_price, by_rent], scoring.NEUTRAL)


def _industry_fit(o: _OfferingFacts, at: np.ndarray, d: _DemandFacts,
                  of: np.ndarray) -> np.ndarray:
    """``industry_fit`` once per distinct (demand industry, park) combination."""
    codes = [None, *sorted({c for c in d.industry if c is not None})]
    code_at = np.array([codes.index(c) for c in d.industry], dtype=np.int64)[of]
    parks, park_at = np.unique(o.park[at], return_inverse=True)
    leading = dict(zip(o.park.tolist(), o.leading, strict=True))
    combos, inverse = np.unique(code_at * len(parks) + park_at, return_inverse=True)
    values = np.array([
        scoring.industry_fit(codes[c // len(parks)], int(parks[c % len(parks)]) or None,
                             leading[int(parks[c % len(parks)])]).fit
        for c in combos.tolist()], dtype=np.float64)
    return values[inverse]


def _weights(session: Session, o: _OfferingFacts) -> dict[str, np.ndarray]:
    """Each criterion's scaled weight for each offering (the weights of its district)."""
    by_district = {district: scoring.scaled_weights(effective(session, "matching", district))
                   for district in set(o.district)}
    return {c: np.array([by_district[district][c] for district in o.district])
            for c in scoring.CRITERIA}
