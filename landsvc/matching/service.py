"""Matching: the offerings and listings a demand may take, ranked and explained; and the
reverse, the open demands an offering satisfies.

Hard requirements are SQL clauses on indexed columns of the candidate's own table (status,
place, area, mode, budget, the offering's minimum tier against the owner's tier in force
today, technical needs); the SQL answers at most :data:`POOL` candidates, nearest first when
the demand has a point. Only those are scored, in Python (:mod:`landsvc.matching.scoring`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from geoalchemy2 import Geography
from sqlalchemy import (
    ColumnElement,
    and_,
    any_,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session

from landsvc import access
from landsvc.access import Principal
from landsvc.buildings.models import Building
from landsvc.demands import service as demands
from landsvc.demands.models import Demand, DemandStatus
from landsvc.enterprises.tiers import Tier
from landsvc.errors import Conflict, InvalidInput, NotFound
from landsvc.fields import number, today
from landsvc.listings import service as listings
from landsvc.listings.models import Listing, ListingStatus
from landsvc.matching import pairs, scoring
from landsvc.offerings import service as offerings
from landsvc.offerings.models import Offering, OfferingStatus
from landsvc.parcels.models import Parcel
from landsvc.parks.models import Park
from landsvc.policies.service import effective

POOL = 200
"""Candidates SQL answers for ranking (nearest first when the demand has a point)."""

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
SRDI = (Tier.srdi_sme, Tier.little_giant)
_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class Wanted:
    """What the demand asks, as plain numbers (the scoring's input)."""

    radius_km: float | None
    constrained: bool
    area_min: float | None
    area_max: float | None
    max_price_wan: float | None
    max_annual_rent_yuan: float | None
    max_rent: float | None
    term_years: int | None
    industry_code: str | None
    needs: dict[str, float | None]



def _wanted(d: Demand) -> Wanted:
    return Wanted(
        radius_km=None if d.near_radius_m is None else float(d.near_radius_m) / 1000,
        constrained=bool(d.districts or d.parks or d.within_geom is not None
                         or d.near_point is not None or d.offering_id),
        area_min=number(d.area_min_m2), area_max=number(d.area_max_m2),
        max_price_wan=number(d.max_price_wan), max_annual_rent_yuan=number(d.max_annual_rent_yuan),
        max_rent=number(d.max_rent_yuan_per_m2_month), term_years=d.term_years,
        industry_code=d.industry_code,
        needs={"power_kva": number(d.power_kva), "floor_load_kn_m2": number(d.floor_load_kn_m2),
               "clear_height_m": number(d.clear_height_m)})


def _offering_term(row) -> int | None:
    if row.term_years is not None:
        return row.term_years
    parts = [p for p in (row.lease_years, row.transfer_years) if p is not None]
    return sum(parts) if parts else None


def offering_fits(w: Wanted, row) -> list[scoring.Fit]:
    """The six fits of an offering for a demand."""
    prices = []
    if w.max_price_wan is not None and row.start_price_wan is not None:
        prices.append(("起始价（万元）", float(row.start_price_wan), w.max_price_wan))
    if w.max_annual_rent_yuan is not None and row.annual_rent_yuan is not None:
        prices.append(("年地租（元）", float(row.annual_rent_yuan), w.max_annual_rent_yuan))
    return [
        scoring.location_fit(number(row.distance_km), w.radius_km, constrained=w.constrained),
        scoring.area_fit(float(row.area_m2), w.area_min, w.area_max),
        scoring.price_fit(prices),
        scoring.term_fit(_offering_term(row), w.term_years),
        scoring.industry_fit(w.industry_code, row.park_id, row.leading_industries),
        scoring.land_servicing_fit(row.park_id, row.services),
    ]


def listing_fits(w: Wanted, row) -> list[scoring.Fit]:
    """The six fits of a factory listing for a demand (listings state no term)."""
    prices = []
    if w.max_rent is not None and row.rent_yuan_per_m2_month is not None:
        prices.append(("租金（元/㎡·月）", float(row.rent_yuan_per_m2_month), w.max_rent))
    facts = {"power_kva": number(row.power_kva), "floor_load_kn_m2": number(row.floor_load_kn_m2),
             "clear_height_m": number(row.clear_height_m)}
    return [
        scoring.location_fit(number(row.distance_km), w.radius_km, constrained=w.constrained),
        scoring.area_fit(float(row.area_m2), w.area_min, w.area_max),
        scoring.price_fit(prices),
        scoring.term_fit(None, w.term_years),
        scoring.industry_fit(w.industry_code, row.park_id, row.leading_industries),
        scoring.premises_servicing_fit(facts, w.needs, row.freight_lift),
    ]


# -- the demand's side --------------------------------------------------------------------
def _in_prefixes(column, prefixes: list[str]) -> ColumnElement:
    if not prefixes:
        return true()
    return or_(*[column == p if len(p) == 6 else column.startswith(p) for p in prefixes])


def _place_clauses(d: Demand, row, geom, district, park_id) -> tuple[list, Any, Any]:
    """Location clauses on a candidate's ``geom``/``district``/``park_id``; the demand's point
    (for ordering and distance) or None."""
    clauses = [_in_prefixes(district, list(d.districts))]
    if d.parks:
        clauses.append(park_id.in_(list(d.parks)))
    point = None
    if d.near_point is not None:
        point = func.ST_SetSRID(func.ST_MakePoint(row.near_lon, row.near_lat), 4326)
        radius_m = float(d.near_radius_m)
        # The geometry GiST index answers the box; the geography test is exact.
        deg = radius_m / (_M_PER_DEG * 0.9)
        clauses += [geom.op("&&")(func.ST_Expand(point, deg)),
                    func.ST_DWithin(cast(geom, Geography), cast(point, Geography), radius_m)]
    if d.within_geom is not None:
        clauses.append(func.ST_Intersects(geom, func.ST_GeomFromGeoJSON(row.within)))
    return clauses, point, geom


def _distance(geom, point) -> Any:
    if point is None:
        return literal(None).label("distance_km")
    return (func.ST_Distance(cast(geom, Geography), cast(point, Geography)) / 1000
            ).label("distance_km")


def _at_most(column, bound) -> ColumnElement:
    """A budget binds the candidates that carry that kind of price."""
    return true() if bound is None else or_(column.is_(None), column <= bound)


def _offering_rows(session: Session, d: Demand, row, tier: Tier):
    clauses, point, geom = _place_clauses(d, row, Offering.geom, Offering.district,
                                          Parcel.park_id)
    clauses += [
        Offering.status == OfferingStatus.published,
        true() if d.offering_id is None else Offering.id == d.offering_id,
        Offering.area_m2 >= d.area_min_m2 if d.area_min_m2 is not None else true(),
        Offering.area_m2 <= d.area_max_m2 if d.area_max_m2 is not None else true(),
        Offering.supply_mode.in_(list(d.supply_modes)) if d.supply_modes else true(),
        _at_most(Offering.start_price_wan, d.max_price_wan),
        _at_most(Offering.annual_rent_yuan, d.max_annual_rent_yuan),
        Offering.min_tier.in_([t for t in Tier if t.rank <= tier.rank]),
        Offering.joint_bidding_allowed.is_(True) if d.consortium_id is not None else true(),
    ]
    query = (select(Offering.id, Offering.area_m2, Offering.start_price_wan,
                    Offering.annual_rent_yuan, Offering.term_years, Offering.lease_years,
                    Offering.transfer_years, Offering.srdi_priority, Parcel.park_id,
                    Park.leading_industries, Park.services, _distance(geom, point))
             .select_from(Offering).join(Parcel, Parcel.id == Offering.parcel_id)
             .outerjoin(Park, Park.id == Parcel.park_id)
             .where(*clauses)
             .order_by(geom.op("<->")(point) if point is not None else Offering.id)
             .limit(POOL))
    return session.execute(query).all()


def _listing_rows(session: Session, d: Demand, row):
    if d.offering_id is not None:  # a bid intention matches its offering only
        return []
    clauses, point, geom = _place_clauses(d, row, Building.geom, Building.district,
                                          Building.park_id)
    needs = ((Listing.power_kva, d.power_kva), (Listing.floor_load_kn_m2, d.floor_load_kn_m2),
             (Listing.clear_height_m, d.clear_height_m))
    clauses += [
        Listing.status == ListingStatus.published,
        Listing.kind.in_(listings.FACTORY_KINDS),
        Listing.area_m2 >= d.area_min_m2 if d.area_min_m2 is not None else true(),
        Listing.area_m2 <= d.area_max_m2 if d.area_max_m2 is not None else true(),
        (Listing.rent_yuan_per_m2_month <= d.max_rent_yuan_per_m2_month
         if d.max_rent_yuan_per_m2_month is not None else true()),
        *[column >= need for column, need in needs if need is not None],
    ]
    query = (select(Listing.id, Listing.area_m2, Listing.rent_yuan_per_m2_month,
                    Listing.power_kva, Listing.floor_load_kn_m2, Listing.clear_height_m,
                    Listing.freight_lift, Building.park_id, Park.leading_industries,
                    Park.services, _distance(geom, point))
             .select_from(Listing).join(Building, Building.id == Listing.building_id)
             .outerjoin(Park, Park.id == Building.park_id)
             .where(*clauses)
             .order_by(geom.op("<->")(point) if point is not None else Listing.id)
             .limit(POOL))
    return session.execute(query).all()


def _require_open(d: Demand) -> None:
    if d.status is not DemandStatus.open:
        raise Conflict(f"用地需求 {d.id} 已是「{d.status.label}」（{d.status.value}），"
                       "只有待匹配（open）的需求可以匹配", code="demand_not_open",
                       extra={"status": d.status.value})


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit: 须在 1–{MAX_LIMIT} 之间，收到 {limit}", code="limit_out_of_range")


def match_demand(*, session: Session, demand_id: int, kind: str | None = None,
                 limit: int = DEFAULT_LIMIT, principal: Principal | None) -> dict:
    """The best ``limit`` offerings or listings for a demand, each with its score and reasons."""
    _check_limit(limit)
    row = demands.load_demand(session, demand_id, principal)
    d = row.Demand
    _require_open(d)
    if kind is None:
        kind = "offerings" if "land" in d.kinds else "listings"
    wanted_kind = {"offerings": "land", "listings": "premises"}[kind]
    if wanted_kind not in d.kinds:
        raise InvalidInput(f"kind: 用地需求 {demand_id} 的 kinds 为 {list(d.kinds)}，"
                           f"不含 {wanted_kind}", code="kind_not_wanted")
    tier = demands.owner_tiers(session, [d])[d.id]
    weights = effective(session, "matching", d.scope[0] if d.scope else "44")
    w = _wanted(d)
    srdi_owner = tier in SRDI
    scored = []
    if kind == "offerings":
        for r in _offering_rows(session, d, row, tier):
            score, reasons = scoring.explain(weights, offering_fits(w, r))
            first = srdi_owner and r.srdi_priority
            scored.append(((-score, not first, r.id), r.id, score, reasons))
    else:
        for r in _listing_rows(session, d, row):
            score, reasons = scoring.explain(weights, listing_fits(w, r))
            scored.append(((-score, r.id), r.id, score, reasons))
    scored.sort(key=lambda s: s[0])
    best = scored[:limit]
    features = _features(session, kind, [s[1] for s in best], principal)
    item_kind = kind[:-1]
    items = [{"kind": item_kind, "id": i, "score": score, "reasons": reasons,
              "feature": features[i]} for _, i, score, reasons in best]
    return {"items": items, "numberReturned": len(items)}


def _features(session: Session, kind: str, ids: list[int], principal) -> dict[int, dict]:
    if not ids:
        return {}
    if kind == "offerings":
        rows = session.execute(offerings.read_query().where(Offering.id.in_(ids))).all()
        return {r.id: offerings.as_feature(r, principal) for r in rows}
    rows = session.execute(listings.read_query().where(Listing.id.in_(ids))).all()
    return {r.id: listings.as_feature(r) for r in rows}


# -- the offering's side ------------------------------------------------------------------
def candidates_for_offering(*, session: Session, offering_id: int, limit: int = DEFAULT_LIMIT,
                            principal: Principal | None) -> dict:
    """Open demands the offering satisfies: higher owner tier first, then score; with
    ``srdi_priority``, only SRDI-tier owners' demands while any is open. All of them are
    found and scored set-based (:mod:`landsvc.matching.pairs`); the first ``limit`` are
    explained."""
    _check_limit(limit)
    o = session.execute(
        select(Offering, Parcel.park_id, Park.leading_industries, Park.services)
        .join(Parcel, Parcel.id == Offering.parcel_id)
        .outerjoin(Park, Park.id == Parcel.park_id).where(Offering.id == offering_id)
    ).one_or_none()
    if o is None:
        raise NotFound(f"供地 {offering_id} 不存在")
    offering = o.Offering
    access.require_manage(principal, [offering.district])
    found = pairs.land_pairs(session, offering_ids=[offering_id], on=today())
    best = np.lexsort((found.demand_id, -found.cents, -found.tier_rank))[:limit]
    ids = [int(i) for i in found.demand_id[best]]
    rows = {r.Demand.id: r for r in session.execute(
        select(*demands.READ_COLUMNS).where(Demand.id.in_(ids)))}
    weights = effective(session, "matching", offering.district)
    facts = _OfferingFacts(offering, o.park_id, o.leading_industries, o.services)
    items = []
    for i in best:
        r = rows[int(found.demand_id[i])]
        distance = None if np.isnan(found.distance_km[i]) else float(found.distance_km[i])
        score, reasons = scoring.explain(weights, offering_fits(_wanted(r.Demand),
                                                                facts.at(distance)))
        tier = list(Tier)[int(found.tier_rank[i])]
        items.append({"kind": "demand", "id": r.Demand.id, "score": score, "tier": tier.value,
                      "reasons": reasons,
                      "feature": demands.as_feature(r.Demand, r, tier, principal)})
    return {"items": items, "numberReturned": len(items)}


@dataclass(frozen=True)
class _OfferingFacts:
    offering: Offering
    park_id: int | None
    leading_industries: list[str] | None
    services: list[str] | None

    def at(self, distance_km):
        o = self.offering
        return _Row(o.area_m2, o.start_price_wan, o.annual_rent_yuan, o.term_years,
                    o.lease_years, o.transfer_years, self.park_id, self.leading_industries,
                    self.services, distance_km)


@dataclass(frozen=True)
class _Row:
    area_m2: Any
    start_price_wan: Any
    annual_rent_yuan: Any
    term_years: Any
    lease_years: Any
    transfer_years: Any
    park_id: Any
    leading_industries: Any
    services: Any
    distance_km: Any


# -- who hears of a publication (notifications) -------------------------------------------
def demands_taking_offering(session: Session, offering_id: int):
    """SELECT of the ids of the open demands ``offering_id`` satisfies (the hard requirements
    of :func:`candidates_for_offering`, consortia's derived tiers included), to insert from."""
    found = pairs.land_pairs(session, offering_ids=[offering_id], on=today(), priority=False)
    return select(Demand.id).where(Demand.id == any_(pairs.id_array("demand_ids",
                                                                    found.demand_id)))


def demands_taking_listing(session: Session, listing_id: int):
    """SELECT of the ids of the open demands for premises that listing ``listing_id``
    satisfies: the hard requirements of a demand's listing matches, seen from the listing."""
    r = session.execute(select(Listing, Building.district, Building.park_id)
                        .join(Building, Building.id == Listing.building_id)
                        .where(Listing.id == listing_id)).one()
    listing = r.Listing
    if listing.kind not in listings.FACTORY_KINDS:
        return select(Demand.id).where(false())
    geom = select(Building.geom).where(Building.id == listing.building_id).scalar_subquery()
    code = func.unnest(Demand.districts).table_valued("code").render_derived()

    def within(bound, fact) -> ColumnElement:  # fact <= bound; an unknown fact fails a bound
        return or_(bound.is_(None), bound >= fact) if fact is not None else bound.is_(None)

    def at_least(need, fact) -> ColumnElement:  # fact >= need; an unknown fact fails a need
        return or_(need.is_(None), need <= fact) if fact is not None else need.is_(None)

    clauses = [
        Demand.status == DemandStatus.open,
        Demand.kinds.contains(["premises"]),
        Demand.offering_id.is_(None),
        or_(func.cardinality(Demand.districts) == 0,
            exists(select(literal(1)).select_from(code)
                   .where(literal(r.district).startswith(code.c.code)))),
        or_(func.cardinality(Demand.parks) == 0,
            literal(r.park_id) == any_(Demand.parks) if r.park_id is not None else false()),
        or_(Demand.near_point.is_(None),
            and_(Demand.near_box.op("&&")(geom),
                 func.ST_DWithin(cast(Demand.near_point, Geography), cast(geom, Geography),
                                 Demand.near_radius_m))),
        or_(Demand.within_geom.is_(None), func.ST_Intersects(Demand.within_geom, geom)),
        or_(Demand.area_min_m2.is_(None), Demand.area_min_m2 <= listing.area_m2),
        or_(Demand.area_max_m2.is_(None), Demand.area_max_m2 >= listing.area_m2),
        within(Demand.max_rent_yuan_per_m2_month, listing.rent_yuan_per_m2_month),
        at_least(Demand.power_kva, listing.power_kva),
        at_least(Demand.floor_load_kn_m2, listing.floor_load_kn_m2),
        at_least(Demand.clear_height_m, listing.clear_height_m),
    ]
    return select(Demand.id).where(*clauses)
