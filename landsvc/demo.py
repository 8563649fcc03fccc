"""Demo data written through the services, as a bureau and enterprises would: parks in six
cities, enterprises of every tier with their land and premises demands (one joint), then
offerings in every supply mode and lifecycle state, buildings and listings of every kind,
and a high-rise divided for split transfer.

Places are real (each park sits around the demo parcels of a real industrial district);
figures follow NOTES-domain: factory rents 8–45 元/㎡·月 by city, land prices per 亩 of the
right order for each city.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import numpy as np
import shapely
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from landsvc.access import OPERATOR, Principal
from landsvc.allocations.service import create_allocation
from landsvc.approvals.service import file_case, transition
from landsvc.buildings.service import create_building
from landsvc.buildings.split import define_unit, transfer_unit
from landsvc.demands.service import create_demand
from landsvc.enterprises.models import Enterprise
from landsvc.enterprises.service import create_consortium, create_enterprise
from landsvc.enterprises.tiers import USCC_ALPHABET, uscc_check_character
from landsvc.errors import InvalidInput
from landsvc.fields import today
from landsvc.guidelines.service import compute as compute_guidelines
from landsvc.guidelines.service import publish as publish_guidelines
from landsvc.listings.service import create_listing, transition_listing
from landsvc.offerings.models import SupplyMode
from landsvc.offerings.service import create_offering, transition_offering
from landsvc.parcels.models import Parcel, ParcelStatus
from landsvc.parks.service import count_parks, create_park
from landsvc.quota.service import allocate, create_pool
from landsvc.rents.importing import import_rent_rows
from landsvc.tokens.models import Role
from landsvc.utilities.service import create_tariff, file_complaint


@dataclass(frozen=True)
class DemoPark:
    district: str
    name: str
    industries: list[str]
    featured_srdi: bool
    services: list[str]
    land_price_wan_per_mu: float
    rent_yuan_per_m2_month: float


PARKS = [
    DemoPark("440306", "宝安智能制造产业园", ["C39", "C34", "C40"], True,
             ["共性技术平台", "人才公寓", "检验检测"], 260, 38),
    DemoPark("440112", "广州科学城", ["C27", "C39", "I65"], True,
             ["孵化器", "中试基地", "政务服务站"], 180, 32),
    DemoPark("441900", "松山湖高新技术产业开发区", ["C39", "C35", "M73"], True,
             ["人才公寓", "产业基金", "知识产权服务"], 120, 22),
    DemoPark("440606", "顺德高新区（容桂）", ["C38", "C34"], False,
             ["物流仓储", "职工宿舍"], 90, 20),
    DemoPark("441302", "惠州仲恺高新区", ["C39", "C38"], True,
             ["标准厂房", "人才驿站"], 45, 14),
    DemoPark("442000", "中山火炬开发区", ["C27", "C35"], False,
             ["保税物流", "职工宿舍"], 60, 16),
]

STEPS = {
    "draft": [], "published": ["publish"], "closed": ["publish", "close"],
    "awarded": ["publish", "close", "award"], "failed": ["publish", "close", "fail"],
    "cancelled": ["publish", "cancel"],
}
"""The actions that bring a new offering to each state."""

PARK_HALF_SIZE_DEG = 0.04
"""About 8 km across: the size of Songshan Lake or Guangzhou Science City."""


def demo_uscc(serial: int, area: str = "440300") -> str:
    """A well-formed USCC (GB 32100, right check character) for demo enterprises."""
    body = f"91{area}MA5"
    for _ in range(17 - len(body)):
        body += USCC_ALPHABET[serial % 31]
        serial //= 31
    return body + uscc_check_character(body)


def load_supply(*, session: Session, seed: int = 2023) -> dict[str, int]:
    """Parks, offerings, buildings and listings around the demo parcels; nothing when parks
    already exist (the demo runs again on every start)."""
    if count_parks(session=session):
        return {}
    rng = np.random.default_rng(seed)
    counts = {"parks": 0, "enterprises": 0, "demands": 0, "offerings": 0, "buildings": 0,
              "listings": 0, "units": 0, "allocation_drafts": 0, "approval_cases": 0,
              "quota_pools": 0, "rent_records": 0, "guideline_items": 0, "tariffs": 0,
              "complaints": 0}
    centres = []
    for park in PARKS:
        centre = _busiest_point(session, park.district)
        if centre is None:
            continue
        feature, _ = create_park(session=session, geometry=_park_outline(centre, rng),
                                 properties={"name": park.name, "district": park.district,
                                             "leading_industries": park.industries,
                                             "featured_srdi": park.featured_srdi,
                                             "services": park.services})
        centres.append((park, feature["id"], centre))
        counts["parks"] += 1
    # Demands before supply: publishing an offering or listing then finds its matches.
    counts["enterprises"], counts["demands"] = _enterprises_and_demands(session, centres)
    counts["offerings"] = _offerings(session, centres)
    for number, (park, _, centre) in enumerate(centres):
        counts["buildings"] += 2
        counts["listings"] += _buildings_and_listings(session, park, centre, number, rng)
    if centres:
        counts["units"] = _split_building(session, centres[min(2, len(centres) - 1)][2])
        counts["buildings"] += 1
        # A draft for the province for a bureau to read and confirm: who gets which land, why.
        create_allocation(session=session, jurisdiction="44", offering_ids=None,
                          demand_ids=None, principal=OPERATOR)
        counts["allocation_drafts"] = 1
        counts["approval_cases"], counts["quota_pools"] = _approvals(session)
    counts |= _rent_market(session, seed)
    return counts


def _busiest_point(session: Session, district: str) -> shapely.Point | None:
    """The centroid of the district's demo parcels, moved onto the nearest one."""
    row = session.execute(
        select(func.ST_X(func.ST_Centroid(func.ST_Collect(func.ST_Centroid(Parcel.geom)))),
               func.ST_Y(func.ST_Centroid(func.ST_Collect(func.ST_Centroid(Parcel.geom)))))
        .where(Parcel.district == district)
    ).one()
    if row[0] is None:
        return None
    middle = func.ST_SetSRID(func.ST_MakePoint(row[0], row[1]), 4326)
    x, y = session.execute(
        select(func.ST_X(func.ST_PointOnSurface(Parcel.geom)),
               func.ST_Y(func.ST_PointOnSurface(Parcel.geom)))
        .where(Parcel.district == district).order_by(Parcel.geom.op("<->")(middle)).limit(1)
    ).one()
    return shapely.Point(x, y)


def _park_outline(centre: shapely.Point, rng: np.random.Generator) -> dict:
    """An irregular decagon about 8 km across around ``centre``."""
    angles = np.linspace(0, 2 * math.pi, 10, endpoint=False) + rng.uniform(0, 0.3)
    radii = PARK_HALF_SIZE_DEG * rng.uniform(0.75, 1.0, size=10)
    ring = [(centre.x + r * math.cos(a), centre.y + r * math.sin(a) * 0.92)
            for a, r in zip(angles, radii, strict=True)]
    return shapely.geometry.mapping(shapely.Polygon(ring))


def _offerable_parcels(session: Session, park_id: int, district: str, count: int) -> list:
    """Available parcels of the park first, then of its district."""
    return session.execute(
        select(Parcel.id, Parcel.area_m2)
        .where(Parcel.status == ParcelStatus.available, Parcel.district.startswith(district[:4]))
        .order_by((Parcel.park_id == park_id).desc(), Parcel.id).limit(count)
    ).all()


def _offerings(session: Session, centres: list) -> int:
    """Every supply mode in every lifecycle state, spread over the parks' cities."""
    plan = [(mode, state) for mode in SupplyMode for state in STEPS]
    created = 0
    per_park = math.ceil(len(plan) / max(1, len(centres)))
    for number, (park, park_id, _) in enumerate(centres):
        chunk = plan[number * per_park:(number + 1) * per_park]
        for (mode, state), parcel in zip(
                chunk, _offerable_parcels(session, park_id, park.district, len(chunk)),
                strict=False):
            feature, _ = create_offering(session=session, values=_terms(
                mode, parcel, park.land_price_wan_per_mu) | {"parcel_id": parcel.id})
            for action in STEPS[state]:
                transition_offering(
                    session=session, offering_id=feature["id"], action=action,
                    awardee_uscc=demo_uscc(created) if action == "award" else None,
                    awardee_name="广东示范精密制造有限公司" if action == "award" else None)
            created += 1
    return created


def _terms(mode: SupplyMode, parcel, price_per_mu: float) -> dict:
    """Terms a bureau would set for ``parcel`` in ``mode``, inside the default limits."""
    area_mu = float(parcel.area_m2) * 3 / 2000
    appraised = round(area_mu * price_per_mu, 2)
    # 2.5 % of the appraised 50-year price a year: above the 2 % floor, as bureaus set it.
    rent = float((Decimal(appraised) * 10000 * Decimal("0.025")).quantize(Decimal(1), ROUND_CEILING))
    opens = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    common = {"supply_mode": mode.value, "srdi_priority": True, "min_tier": "innovative_sme",
              "joint_bidding_allowed": mode is SupplyMode.transfer,
              "bidding_opens_at": opens, "bidding_closes_at": opens + timedelta(days=20)}
    match mode:
        case SupplyMode.transfer:
            return common | {"term_years": 50, "start_price_wan": appraised}
        case SupplyMode.flexible_term_transfer:
            return common | {"term_years": 30, "start_price_wan": round(appraised * 30 / 50, 2)}
        case SupplyMode.lease:
            return common | {"term_years": 20, "annual_rent_yuan": rent,
                             "appraised_price_wan": appraised}
        case SupplyMode.lease_then_transfer:
            return common | {
                "lease_years": 5, "transfer_years": 45, "annual_rent_yuan": rent,
                "appraised_price_wan": appraised, "start_price_wan": round(appraised * 0.9, 2),
                "conditions": {"investment_intensity_wan_per_mu": 500, "output_per_mu_wan": 800,
                               "tax_per_mu_wan": 40,
                               "deadline_date": today() + timedelta(days=5 * 365)},
            }
        case SupplyMode.lease_and_transfer:
            return common | {
                "lease_share_percent": 40, "lease_years": 10, "transfer_years": 50,
                "annual_rent_yuan": math.ceil(rent * 0.4), "appraised_price_wan": appraised,
                "start_price_wan": round(appraised * 0.6, 2),
            }


def _offset(centre: shapely.Point, dx: float, dy: float) -> dict:
    return {"type": "Point", "coordinates": [round(centre.x + dx, 6), round(centre.y + dy, 6)]}


def _buildings_and_listings(session: Session, park: DemoPark, centre: shapely.Point,
                            number: int, rng: np.random.Generator) -> int:
    """A multi-storey factory with listings of each kind and state, and a dormitory block."""
    holder = demo_uscc(100 + number, park.district[:4] + "00")
    factory, _ = create_building(session=session, geometry=_offset(centre, 0.004, 0.002),
                                 properties={
        "name": f"{park.name}{number + 1}号厂房", "building_type": "multi_storey", "floors": 6,
        "total_floor_area_m2": 24000, "completed": True, "holder_uscc": holder,
        "holder_name": f"{park.name[:2]}产业园运营有限公司", "holder_industry_code": "C3989",
        "freight_lift": True})
    rent = park.rent_yuan_per_m2_month
    listings = [
        ({"kind": "factory", "floor": 1, "area_m2": 4000, "clear_height_m": 8,
          "floor_load_kn_m2": 20, "power_kva": 1250, "rent_yuan_per_m2_month": rent}, ["publish"]),
        ({"kind": "standard_factory", "floor": 3, "area_m2": 2000, "clear_height_m": 5.4,
          "floor_load_kn_m2": 8, "power_kva": 400,
          "rent_yuan_per_m2_month": round(rent * 0.85, 1)}, ["publish"]),
        ({"kind": "standard_factory", "floor": 4, "area_m2": 2000, "clear_height_m": 5.4,
          "floor_load_kn_m2": 8, "rent_yuan_per_m2_month": round(rent * 0.85, 1)}, []),
        ({"kind": "factory", "floor": 2, "area_m2": 4000, "clear_height_m": 6,
          "floor_load_kn_m2": 12, "rent_yuan_per_m2_month": rent}, ["publish", "let"]),
        # A second landlord (二房东) asks more, with the owner's authorisation.
        ({"kind": "factory", "floor": 5, "area_m2": 1500, "clear_height_m": 4.5,
          "floor_load_kn_m2": 6, "rent_yuan_per_m2_month": round(rent * 1.4, 1),
          "landlord": "深广实业（转租）", "landlord_kind": "sublessor",
          "owner_authorisation_ref": f"授权-{2026}-{number + 1:03d}"}, ["publish"]),
        ({"kind": "factory", "floor": 6, "area_m2": 1500, "rent_yuan_per_m2_month": rent},
         ["withdraw"]),
    ]
    dormitory, _ = create_building(session=session, geometry=_offset(centre, -0.003, -0.002),
                                   properties={
        "name": f"{park.name}人才公寓", "building_type": "high_rise", "floors": 18,
        "total_floor_area_m2": 21600, "completed": True, "holder_name": "保障性租赁住房运营中心",
        "freight_lift": False})
    housing_rent = int(rng.integers(9, 16)) * 100
    listings += [
        ({"kind": "affordable_housing", "floor": 3, "area_m2": 1200, "units": 30,
          "rent_yuan_per_unit_month": housing_rent}, ["publish"]),
        ({"kind": "affordable_housing", "floor": 4, "area_m2": 1200, "units": 30,
          "rent_yuan_per_unit_month": housing_rent}, ["publish", "let"]),
    ]
    for properties, actions in listings:
        building = dormitory if properties["kind"] == "affordable_housing" else factory
        listing, _ = create_listing(session=session,
                                    properties=properties | {"building_id": building["id"]})
        for action in actions:
            transition_listing(session=session, listing_id=listing["id"], action=action)
    return len(listings)


def _split_building(session: Session, centre: shapely.Point) -> int:
    """A completed 12-storey plant of an electronics maker, three units of two floors, two of
    them transferred to chain partners (the maker keeps two thirds)."""
    holder = demo_uscc(500, "441900")
    building, _ = create_building(session=session, geometry=_offset(centre, 0.006, -0.004),
                                  properties={
        "name": "松山湖智造大厦（分割转让试点）", "building_type": "high_rise", "floors": 12,
        "total_floor_area_m2": 36000, "completed": True, "holder_uscc": holder,
        "holder_name": "东莞示范电子科技有限公司", "holder_industry_code": "C3971",
        "freight_lift": True})
    units = [define_unit(session=session, building_id=building["id"],
                         body={"floors": floors, "area_m2": 6000})
             for floors in ([7, 8], [9, 10], [11, 12])]
    for number, unit in enumerate(units[:2]):
        transfer_unit(session=session, unit_id=unit["id"], body={
            "buyer_uscc": demo_uscc(600 + number, "441900"),
            "buyer_name": ["东莞链上精密模具有限公司", "东莞链上检测技术有限公司"][number],
            "chain_partner": True, "date": date(2025, 3 + number, 18)})
    return len(units)


ENTERPRISES = [  # per park: (name suffix, tier, industry, what they need)
    ("精密智造", "little_giant", "C3989", ["land"]),
    ("新材料科技", "srdi_sme", "C2661", ["land", "premises"]),
    ("电子信息", "innovative_sme", "C3971", ["premises"]),
    ("机械配件", "none", "C3484", ["premises"]),
]
"""Four enterprises a park, one of each tier, with the kind of space each looks for."""


APPROVAL_PATHS = [  # a case in each status: the steps after filing that bring it there
    ("submitted", []), ("accepted", ["accept"]), ("under_review", ["accept", "start_review"]),
    ("returned", ["accept", "return"]), ("approved", ["accept", "start_review", "approve"]),
    ("rejected", ["accept", "start_review", "reject"]), ("withdrawn", ["withdraw"]),
]
STEP_COMMENTS = {"accept": "材料齐全，予以受理", "start_review": "审查完毕，提请决定",
                 "return": "请补充项目投资强度与产出效益测算", "approve": "符合供地条件，予以批准",
                 "reject": "项目不符合园区产业定位", "withdraw": "企业调整投资计划，撤回申请"}


def _approvals(session: Session) -> tuple[int, int]:
    """Approval cases in every status on both channels (a little giant's on the green one, a
    tier-none enterprise's on the standard one), filed weeks ago with steps four days apart,
    so that some are overdue; and a provincial quota pool part-used by the approved little
    giant's case."""
    on = today()
    giants = session.scalars(select(Enterprise.uscc).where(
        Enterprise.tier == "little_giant", Enterprise.evaluation_grade.in_(["A", "B"]),
        Enterprise.tier_valid_to >= on).order_by(Enterprise.uscc)).all()
    others = session.scalars(select(Enterprise.uscc).where(Enterprise.tier == "none")
                             .order_by(Enterprise.uscc)).all()
    parcels = session.scalars(select(Parcel.id).where(Parcel.status == ParcelStatus.available)
                              .order_by(Parcel.id).limit(2 * len(APPROVAL_PATHS))).all()
    if not giants or not others or len(parcels) < 2 * len(APPROVAL_PATHS):
        return 0, 0
    approved_giant = None
    for n, (status, steps) in enumerate(APPROVAL_PATHS):
        for k, uscc in enumerate((giants[n % len(giants)], others[n % len(others)])):
            filed = on - timedelta(days=36 - 3 * n)
            case = file_case(session=session, principal=OPERATOR, values={
                "applicant_uscc": uscc, "parcel_id": parcels[2 * n + k],
                "project_name": f"{'高端装备' if k == 0 else '配套加工'}产业化项目（示例 {n + 1}）",
                "investment_wan": 8000 + 1500 * n, "industry_code": "C34", "filed_on": filed})
            day = filed
            for action in steps:
                day = min(on, day + timedelta(days=4))
                transition(session=session, case_id=case["id"], action=action, on=day,
                           comment=STEP_COMMENTS[action], principal=OPERATOR)
            if status == "approved" and k == 0:
                approved_giant = case
    pool = create_pool(session=session, principal=OPERATOR, body={
        "year": on.year, "scope": "44", "name": f"{on.year} 年度省级先进制造业用地指标（示例）",
        "total_ha": round(3 * approved_giant["area_ha"] + 5, 4)})
    allocate(session=session, pool_id=pool["id"], approval_id=approved_giant["id"],
             principal=OPERATOR)
    return 2 * len(APPROVAL_PATHS), 1


CITY_RENT = {"4403": 45.0, "4401": 28.0, "4419": 25.0, "4404": 24.0, "4406": 22.0,
             "4420": 18.0, "4413": 17.0, "4407": 14.0, "4412": 13.0}
"""Typical factory rents, 元/㎡·月, of the Pearl River Delta cities (NOTES-domain.md: Shenzhen
highest, Dongguan and Foshan in the 20s); elsewhere in Guangdong 10."""
TYPE_FACTOR = {"single_storey": 0.9, "multi_storey": 1.0, "high_rise": 1.15}
DEMO_TARIFFS = [  # (utility, category, 元 per kWh or m³) — illustrative provincial levels
    ("electricity", "一般工商业", 0.65), ("water", "非居民", 4.0), ("gas", "工商业", 4.2)]


def _rent_market(session: Session, seed: int) -> dict[str, int]:
    """Registered leases at each city's rent level in every district of Guangdong (45 points
    drawn inside each district: 15 per building type, above the minimum sample even for a
    city of one district such as Dongguan), this year's guideline computed and published, the
    provincial utility tariffs, and two complaints of a tenant: one above the tariff, one
    within it."""
    rng = np.random.default_rng(seed)
    on = today()
    points = session.execute(text(
        "SELECT d.adcode, ST_X(p.geom) AS lon, ST_Y(p.geom) AS lat FROM district d, LATERAL "
        "(SELECT (ST_Dump(ST_GeneratePoints(d.geom, 45, :seed))).geom) p ORDER BY d.adcode"),
        {"seed": seed}).all()
    if not points:
        return {}
    rows = []
    for n, (adcode, lon, lat) in enumerate(points):
        kind = list(TYPE_FACTOR)[n % 3]
        start = on - timedelta(days=int(rng.integers(60, 700)))
        rent = CITY_RENT.get(adcode[:4], 10.0) * TYPE_FACTOR[kind] * rng.lognormal(0, 0.15)
        rows.append({"contract_no": f"DEMO-{adcode}-{n:05d}", "lon": lon, "lat": lat,
                     "building_type": kind, "floor": 1 if kind == "single_storey" else
                     int(rng.integers(1, 9)), "area_m2": float(rng.integers(300, 6000)),
                     "rent_yuan_per_m2_month": round(rent, 2),
                     "start_date": start.isoformat(),
                     "end_date": (start + timedelta(days=3 * 365)).isoformat(),
                     "registered_date": (start + timedelta(days=10)).isoformat()})
    report = import_rent_rows(session=session, rows=rows)
    draft = compute_guidelines(session=session, period=str(on.year), principal=OPERATOR)
    publish_guidelines(session=session, version_id=draft["id"], effective_date=on,
                       principal=OPERATOR)
    for utility, category, price in DEMO_TARIFFS:
        create_tariff(session=session, principal=OPERATOR, body={
            "district": "44", "utility": utility, "category": category,
            "unit_price_yuan": price, "effective_from": date(on.year - 1, 1, 1)})
    tenant = session.scalar(select(Enterprise.uscc).where(Enterprise.tier == "none")
                            .order_by(Enterprise.uscc))
    complaints = 0
    if tenant is not None:
        me = Principal(Role.enterprise, enterprise_uscc=tenant)
        month = on.replace(day=1) - timedelta(days=1)
        for billed, landlord in ((1.30, "某某物业管理有限公司（二房东）"), (0.66, "某某实业有限公司")):
            file_complaint(session=session, principal=me, body={
                "landlord": landlord, "district": "440306", "utility": "electricity",
                "category": "一般工商业", "billed_unit_price_yuan": billed, "quantity": 12000,
                "period_start": month.replace(day=1), "period_end": month})
            complaints += 1
    return {"rent_records": report["imported"], "guideline_items": len(draft["items"]),
            "tariffs": len(DEMO_TARIFFS), "complaints": complaints}


def _enterprises_and_demands(session: Session, centres: list) -> tuple[int, int]:
    """Enterprises of every tier around each park (one tier lapsed, 有进有出), a demand each
    within 20 km of the park, and one consortium bidding jointly for land."""
    on = today()  # China's date: tiers lapse by it
    enterprises = demands = 0
    first_pair: list[str] = []
    for number, (park, _, centre) in enumerate(centres):
        for k, (suffix, tier, industry, kinds) in enumerate(ENTERPRISES):
            uscc = demo_uscc(1000 + number * 10 + k, park.district[:4] + "00")
            lapsed = number == 0 and tier == "srdi_sme"
            create_enterprise(session=session, properties={
                "uscc": uscc, "name": f"{park.name[:2]}{suffix}有限公司", "district": park.district,
                "industry_code": industry, "tier": tier,
                "tier_valid_from": on - timedelta(days=3 * 365),
                "tier_valid_to": (on - timedelta(days=30) if lapsed
                                  else on + timedelta(days=2 * 365)),
                "evaluation_year": on.year - 1, "evaluation_grade": "ABCD"[k]})
            enterprises += 1
            if number == 0 and k < 2:
                first_pair.append(uscc)
            create_demand(session=session, values={
                "enterprise_uscc": uscc, "kinds": kinds,
                "area_min_m2": 2000 if kinds == ["premises"] else 20000,
                "area_max_m2": 8000 if kinds == ["premises"] else 150000,
                "near": {"lon": centre.x, "lat": centre.y, "radius_km": 20},
                "max_rent_yuan_per_m2_month": park.rent_yuan_per_m2_month * 1.2,
                "industry_code": industry, "term_years": 20,
                "needed_by_date": on + timedelta(days=365)})
            demands += 1
    if len(first_pair) == 2:
        consortium = create_consortium(
            session=session, name="宝安智造联合体", lead_uscc=first_pair[0],
            members=[{"uscc": first_pair[0], "share_percent": 60},
                     {"uscc": first_pair[1], "share_percent": 40}])
        park, _, centre = centres[0]
        create_demand(session=session, values={
            "consortium_id": consortium["id"], "kinds": ["land"], "area_min_m2": 20000,
            "area_max_m2": 200000, "districts": [park.district[:4]],
            "supply_modes": ["transfer", "flexible_term_transfer"]})
        demands += 1
    return enterprises, demands


DEMO_ACCOUNTS = ("demo-enterprise", "demo-bureau", "demo-admin")


def demo_accounts(*, session: Session) -> list[dict[str, str]]:
    """One web account of each kind, with fresh random passwords (running again resets them):
    the little giant with the most approval cases, the provincial bureau (``44``), an admin.
    """
    from landsvc.accounts.models import AppUser
    from landsvc.accounts.service import create_user
    from landsvc.approvals.models import ApprovalCase

    cases = (select(func.count()).where(ApprovalCase.applicant_uscc == Enterprise.uscc)
             .correlate(Enterprise).scalar_subquery())
    uscc = session.scalar(select(Enterprise.uscc).where(Enterprise.tier == "little_giant")
                          .order_by(cases.desc(), Enterprise.uscc).limit(1))
    if uscc is None:
        raise InvalidInput("演示账号需要先载入演示数据：landsvc demo load")
    session.execute(delete(AppUser).where(AppUser.username.in_(DEMO_ACCOUNTS)))
    made = []
    for username, role, binding in (("demo-enterprise", Role.enterprise, {"enterprise_uscc": uscc}),
                                    ("demo-bureau", Role.bureau, {"jurisdiction": "44"}),
                                    ("demo-admin", Role.admin, {})):
        password = secrets.token_urlsafe(12) + str(secrets.randbelow(10))  # never all letters
        create_user(session=session, username=username, password=password, role=role, **binding)
        made.append({"username": username, "password": password, "role": role.value,
                     "jurisdiction": binding.get("jurisdiction", ""),
                     "enterprise_uscc": binding.get("enterprise_uscc", "")})
    return made
