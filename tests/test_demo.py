"""The demo data: every supply mode in every state, every listing kind, a split building —
written through the services, so it obeys every rule a bureau's own data does."""

from sqlalchemy import func, select, text

from landsvc.access import OPERATOR
from landsvc.approvals.models import ApprovalStatus
from landsvc.approvals.service import search_cases
from landsvc.buildings.models import Building, BuildingUnit, UnitTransfer
from landsvc.demo import PARKS, STEPS, demo_uscc, load_supply
from landsvc.enterprises.tiers import uscc_check_character, uscc_well_formed
from landsvc.fields import today
from landsvc.guidelines.service import items_in_force
from landsvc.listings.models import Listing, ListingKind, ListingStatus
from landsvc.lists import Page
from landsvc.matching.service import match_demand
from landsvc.offerings.models import Offering, OfferingStatus, SupplyMode
from landsvc.parcels.importing import import_parcels
from landsvc.parcels.synthetic import write_parcels
from landsvc.parks.models import Park


def test_demo_supply_covers_every_mode_state_and_kind(session, tmp_path):
    import_parcels(session=session, path=write_parcels(tmp_path / "p.gpkg", 3000, seed=7))
    counts = load_supply(session=session, seed=7)
    assert counts["parks"] == len(PARKS) == session.scalar(select(func.count()).select_from(Park))

    pairs = set(session.execute(select(Offering.supply_mode, Offering.status)).all())
    assert pairs == {(m, OfferingStatus(s)) for m in SupplyMode for s in STEPS}
    # The parcel follows its offering: offered while published or closed, leased or
    # transferred once awarded, given back otherwise.
    wrong = session.execute(text("""
        SELECT o.id FROM offering o JOIN parcel p ON p.id = o.parcel_id
        WHERE p.status <> CASE
            WHEN o.status IN ('published', 'closed') THEN 'offered'
            WHEN o.status = 'awarded' AND o.supply_mode IN ('lease', 'lease_then_transfer')
                THEN 'leased'
            WHEN o.status = 'awarded' THEN 'transferred'
            ELSE o.parcel_status_before END
    """)).all()
    assert wrong == []

    kinds = set(session.execute(select(Listing.kind, Listing.status)).all())
    assert {k for k, _ in kinds} == set(ListingKind)
    assert {s for _, s in kinds} == set(ListingStatus)
    # Every park holds demo parcels and its buildings.
    empty = session.scalars(text(
        "SELECT name FROM park k WHERE NOT EXISTS (SELECT 1 FROM parcel p WHERE p.park_id = k.id)"
        " OR NOT EXISTS (SELECT 1 FROM building b WHERE b.park_id = k.id)")).all()
    assert empty == []

    split = session.scalar(select(Building).where(Building.name.contains("分割转让")))
    units = session.scalars(select(BuildingUnit).where(BuildingUnit.building_id == split.id)).all()
    sold = session.scalar(select(func.sum(BuildingUnit.area_m2)).join(UnitTransfer))
    assert len(units) == 3 and float(sold) / float(split.total_floor_area_m2) <= 0.6

    # The demand side: every tier (one lapsed: 有进有出), a demand each, one joint demand,
    # and matching at work on them.
    tiers = session.execute(text("SELECT tier, count(*) FROM enterprise GROUP BY tier")).all()
    assert {t for t, _ in tiers} == {"none", "innovative_sme", "srdi_sme", "little_giant"}
    lapsed = session.scalar(text("SELECT count(*) FROM enterprise WHERE tier_valid_to < now()"))
    assert lapsed == 1
    assert counts["demands"] == counts["enterprises"] + 1
    assert session.scalar(text("SELECT count(*) FROM demand WHERE consortium_id IS NOT NULL")) == 1
    matched = [match_demand(session=session, demand_id=i, principal=OPERATOR)
               for i in session.scalars(text("SELECT id FROM demand ORDER BY id"))]
    assert sum(1 for m in matched if m["items"]) >= len(PARKS)

    draft = session.execute(text("SELECT status, assignments FROM allocation")).one()
    assert draft.status == "draft"

    # Approvals: every status on both channels, some overdue today, a quota pool part-used.
    cases = set(session.execute(text("SELECT status, channel FROM approval_case")).all())
    assert cases == {(s, c) for s in ApprovalStatus for c in ("green", "standard")}
    queue = search_cases(session=session, status=None, channel=None, overdue=True, as_of=None,
                         page=Page(limit=100), principal=OPERATOR)[0]
    assert queue and {c["channel"] for c in queue} == {"green", "standard"}
    pool = session.execute(text("SELECT total_ha, allocated_ha FROM quota_pool")).one()
    assert 0 < pool.allocated_ha < pool.total_ha

    # The rent market: leases in every district, a published guideline for each district and
    # building type (the city's figures where a district has too few), tariffs, and one
    # complaint above the tariff (a case) and one within it (dismissed).
    districts = session.scalar(text("SELECT count(DISTINCT district) FROM rent_record"))
    assert districts == session.scalar(text("SELECT count(*) FROM district"))
    published = items_in_force(session, period=str(today().year))
    assert {i["district"] for i in published["items"]} == set(
        session.scalars(text("SELECT adcode FROM district")))
    assert counts["tariffs"] == 3
    opened = session.execute(text(
        "SELECT case_opened, status FROM utility_complaint ORDER BY billed_unit_price_yuan")).all()
    assert [tuple(r) for r in opened] == [(False, "dismissed"), (True, "filed")]

    assert load_supply(session=session) == {}  # a second start adds nothing


def test_demo_usccs_are_well_formed_with_their_check_character():
    codes = {demo_uscc(n, area) for n in range(300) for area in ("440300", "441900")}
    assert len(codes) == 600
    assert all(uscc_well_formed(c) and uscc_check_character(c) == c[-1] for c in codes)
