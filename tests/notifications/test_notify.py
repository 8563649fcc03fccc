"""Precise push: a publication tells exactly the open demands it satisfies, in the publishing
transaction, with an outbox row for enterprises that have a webhook; who reads what."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from landsvc.enterprises.models import Consortium, ConsortiumMember, Enterprise
from landsvc.notifications.models import Notification, WebhookDelivery
from tests.builders import FUTIAN, feature, square
from tests.matching.test_matching import (
    ME,
    OTHER,
    THIRD,
    bearer,
    demand,
    east,
    enterprise,
)
from tests.offerings.test_rules import VALID

N = "/api/v1/notifications"


def told(session, **subject) -> list[tuple[str, int]]:
    column = getattr(Notification, next(iter(subject)))
    rows = session.execute(select(Notification.enterprise_uscc, Notification.demand_id)
                           .where(column == next(iter(subject.values())))
                           .order_by(Notification.enterprise_uscc, Notification.demand_id))
    return [tuple(r) for r in rows]


def draft(client, tokens, where=FUTIAN, code="NT-1", **changes) -> dict:
    body = feature(square(*where), code=code, status="available")
    parcel = client.post("/api/v1/parcels", json=body, headers=tokens["admin"]).json()
    r = client.post("/api/v1/offerings", headers=tokens["admin"], json={
        "parcel_id": parcel["id"], "supply_mode": "transfer"} | VALID["transfer"] | changes)
    assert r.status_code == 201, r.text
    return r.json()


def publish(client, tokens, oid) -> None:
    r = client.post(f"/api/v1/offerings/{oid}/transitions", json={"action": "publish"},
                    headers=tokens["admin"])
    assert r.status_code == 200, r.text


def test_an_offering_published_tells_exactly_the_open_demands_it_satisfies(
        client, tokens, session):
    enterprise(session, ME, "srdi_sme")
    enterprise(session, OTHER, "none")
    me, other = tokens["enterprise"], bearer(session, OTHER)
    o = draft(client, tokens, where=east(1))
    area = o["properties"]["area_m2"]
    made = {name: demand(client, who, **body) for name, who, body in [
        ("near", me, {"near": {"lon": FUTIAN[0], "lat": FUTIAN[1], "radius_km": 1.1}}),
        ("too_far", me, {"near": {"lon": FUTIAN[0], "lat": FUTIAN[1], "radius_km": 0.9}}),
        ("fits", other, {"area_min_m2": area, "area_max_m2": area}),
        ("too_small", other, {"area_max_m2": round(area - 0.01, 2)}),
        ("too_big", other, {"area_min_m2": round(area + 0.01, 2)}),
        ("premises", other, {"kinds": ["premises"]}),
        ("withdrawn", me, {}),
    ]}
    assert all(r.status_code == 201 for r in made.values()), [r.text for r in made.values()]
    ids = {name: r.json()["id"] for name, r in made.items()}
    r = client.post(f"/api/v1/demands/{ids['withdrawn']}/transitions",
                    json={"action": "withdraw"}, headers=me)
    assert r.status_code == 200, r.text
    assert told(session, offering_id=o["id"]) == []  # a draft tells nobody
    publish(client, tokens, o["id"])
    assert told(session, offering_id=o["id"]) == [(ME, ids["near"]), (OTHER, ids["fits"])]
    assert session.scalars(select(WebhookDelivery)).all() == []  # nobody has a webhook


def test_the_minimum_tier_is_the_owners_tier_in_force(client, tokens, offer, session):
    enterprise(session, ME, "srdi_sme")
    enterprise(session, OTHER, "innovative_sme")
    mine = demand(client, tokens["enterprise"]).json()["id"]
    demand(client, bearer(session, OTHER))
    oid = offer(min_tier="srdi_sme")
    assert told(session, offering_id=oid) == [(ME, mine)]


def test_a_consortium_demand_tells_every_member(client, tokens, offer, session):
    for uscc in (ME, OTHER, THIRD):
        enterprise(session, uscc, "srdi_sme")
    c = Consortium(name="联合体", lead_uscc=ME)
    session.add(c)
    session.flush()
    session.add_all([ConsortiumMember(consortium_id=c.id, uscc=ME, share_percent=Decimal(60)),
                     ConsortiumMember(consortium_id=c.id, uscc=OTHER,
                                      share_percent=Decimal(40))])
    session.flush()
    r = demand(client, tokens["enterprise"], consortium_id=c.id)
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    assert told(session, offering_id=offer(joint_bidding_allowed=False)) == []
    oid = offer(where=east(1), joint_bidding_allowed=True)
    assert told(session, offering_id=oid) == [(ME, did), (OTHER, did)]


def test_a_listing_published_tells_premises_demands_it_satisfies(client, tokens, session):
    from tests.buildings.util import create_building

    enterprise(session, ME, "none")
    me = tokens["enterprise"]
    enough = demand(client, me, kinds=["premises"], power_kva=630, max_rent_yuan_per_m2_month=25)
    more = demand(client, me, kinds=["premises"], power_kva=630.1)
    cheaper = demand(client, me, kinds=["premises"], max_rent_yuan_per_m2_month=24.99)
    land = demand(client, me, kinds=["land"])
    assert all(r.status_code == 201 for r in (enough, more, cheaper, land))
    bid = create_building(client, tokens["admin"])["id"]
    r = client.post("/api/v1/listings", headers=tokens["admin"], json={
        "building_id": bid, "kind": "factory", "floor": 1, "area_m2": 800,
        "rent_yuan_per_m2_month": 25, "power_kva": 630, "floor_load_kn_m2": 8,
        "clear_height_m": 6})
    assert r.status_code == 201, r.text
    lid = r.json()["id"]
    assert told(session, listing_id=lid) == []  # a draft tells nobody
    r = client.post(f"/api/v1/listings/{lid}/transitions", json={"action": "publish"},
                    headers=tokens["admin"])
    assert r.status_code == 200, r.text
    assert told(session, listing_id=lid) == [(ME, enough.json()["id"])]


def test_outbox_rows_for_enterprises_with_a_webhook(client, tokens, offer, session):
    enterprise(session, ME, "srdi_sme")
    enterprise(session, OTHER, "none")
    session.get(Enterprise, OTHER).webhook_url = "https://hooks.example.com/landsvc"
    session.flush()
    demand(client, tokens["enterprise"])
    theirs = demand(client, bearer(session, OTHER)).json()["id"]
    oid = offer()
    rows = session.execute(select(WebhookDelivery, Notification)
                           .join(Notification)).all()
    assert [(r.Notification.enterprise_uscc, r.Notification.demand_id, r.Notification.offering_id)
            for r in rows] == [(OTHER, theirs, oid)]
    d = rows[0].WebhookDelivery
    assert (d.attempts, d.delivered_at, d.last_error) == (0, None, None)
    assert d.next_attempt_at is not None


def test_each_enterprise_reads_and_marks_its_own_only(client, tokens, offer, session):
    enterprise(session, ME, "srdi_sme")
    enterprise(session, OTHER, "none")
    me, other = tokens["enterprise"], bearer(session, OTHER)
    mine = demand(client, me).json()["id"]
    theirs = demand(client, other).json()["id"]
    oid = offer()
    r = client.get(N, headers=me)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(i["kind"], i["offering_id"], i["demand_id"], i["read"]) for i in items] == [
        ("offering_published", oid, mine, False)]
    assert "listing_id" not in items[0] and items[0]["created_at"]
    nid = items[0]["id"]
    theirs_id = client.get(N, headers=other).json()["items"][0]["id"]
    assert client.get(N, headers=other).json()["items"][0]["demand_id"] == theirs

    # another enterprise neither reads nor marks it
    assert client.get(f"{N}/{nid}", headers=other).status_code == 404
    r = client.post(f"{N}/{nid}/read", headers=other)
    assert r.status_code == 404 and ME not in r.text
    # the owner marks it read, then unread
    r = client.post(f"{N}/{nid}/read", headers=me)
    assert r.status_code == 200 and r.json()["read"] is True and r.json()["read_at"]
    assert client.get(f"{N}?unread=true", headers=me).json()["items"] == []
    assert [i["id"] for i in client.get(f"{N}?unread=false", headers=me).json()["items"]] == [nid]
    r = client.post(f"{N}/{nid}/read", json={"read": False}, headers=me)
    assert r.status_code == 200 and r.json()["read"] is False
    # the other's stays unread all along
    assert client.get(f"{N}/{theirs_id}", headers=other).json()["read"] is False

    # admin reads everyone's, marks nothing; bureaus and anonymous callers: nothing
    assert {i["id"] for i in client.get(N, headers=tokens["admin"]).json()["items"]} == {
        nid, theirs_id}
    assert client.post(f"{N}/{nid}/read", headers=tokens["admin"]).status_code == 403
    assert client.get(N, headers=tokens["shenzhen"]).status_code == 403
    assert client.get(N).status_code == 401
    assert client.post(f"{N}/{nid}/read", json={"read": "maybe"}, headers=me).status_code == 422


def test_a_consortium_is_told_only_when_its_derived_tier_reaches_the_minimum(
        client, tokens, offer, session):
    enterprise(session, ME, "innovative_sme")
    enterprise(session, OTHER, "little_giant")
    c = Consortium(name="联合体", lead_uscc=ME)
    session.add(c)
    session.flush()
    session.add_all([ConsortiumMember(consortium_id=c.id, uscc=ME, share_percent=Decimal(60)),
                     ConsortiumMember(consortium_id=c.id, uscc=OTHER,
                                      share_percent=Decimal(40))])
    session.flush()
    did = demand(client, tokens["enterprise"], consortium_id=c.id).json()["id"]
    # the lead holding the majority is innovative_sme: so is the consortium
    assert told(session, offering_id=offer(joint_bidding_allowed=True,
                                           min_tier="srdi_sme")) == []
    oid = offer(where=east(1), joint_bidding_allowed=True, min_tier="innovative_sme")
    assert told(session, offering_id=oid) == [(ME, did), (OTHER, did)]
