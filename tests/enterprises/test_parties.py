"""Awardees and split-transfer buyers that are registered enterprises: their name comes from
the record (a given name must match it); unregistered parties keep the free-text path."""

from __future__ import annotations

from landsvc.enterprises.service import registered_name
from tests.buildings.test_split import split, transfer, unit  # noqa: F401  (fixtures)
from tests.enterprises.test_api import TENCENT, register
from tests.offerings.test_api import make_parcel, offer, step  # noqa: F401  (fixtures)

NAME = "深圳市腾讯计算机系统有限公司"


def test_registered_name(session, client, tokens):
    assert register(client, tokens["admin"], TENCENT, "440305", name=NAME).status_code == 201
    assert registered_name(session, TENCENT, None, "x") == NAME
    assert registered_name(session, TENCENT.lower(), f" {NAME} ", "x") == NAME
    # unregistered: what was given, untouched (the caller's own checks follow)
    assert registered_name(session, "914403001922038216", " 华为 ", "x") == " 华为 "
    assert registered_name(session, None, None, "x") is None


def test_full_width_brackets_match_half_width(session, client, tokens):
    register(client, tokens["admin"], TENCENT, "440305", name="腾讯科技（深圳）有限公司")
    assert registered_name(session, TENCENT, "腾讯科技(深圳)有限公司", "x") == "腾讯科技（深圳）有限公司"


def awarded(client, tokens, make_parcel, **awardee):  # noqa: F811
    sz = tokens["shenzhen"]
    oid = offer(client, sz, make_parcel()["id"], "lease").json()["id"]
    for action in ("publish", "close"):
        assert step(client, sz, oid, action).status_code == 200
    return step(client, sz, oid, "award", **awardee)


def test_award_to_a_registered_enterprise(client, tokens, make_parcel):  # noqa: F811
    register(client, tokens["admin"], TENCENT, "440305", name=NAME)
    r = awarded(client, tokens, make_parcel, awardee_uscc=TENCENT)
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["awardee_name"] == NAME
    r = awarded(client, tokens, make_parcel, awardee_uscc=TENCENT, awardee_name="别的公司")
    assert r.status_code == 422 and r.json()["code"] == "name_mismatch"
    assert r.json()["detail"].startswith("awardee_name:")
    # not registered: the name is still required, as before
    r = awarded(client, tokens, make_parcel, awardee_uscc="914403001922038216")
    assert r.status_code == 422 and r.json()["code"] == "missing_field"


def test_split_transfer_to_a_registered_buyer(client, tokens, split):  # noqa: F811
    register(client, tokens["admin"], TENCENT, "440305", name=NAME)
    _, ids = split
    r = transfer(client, tokens["admin"], ids["A"], buyer=TENCENT, buyer_name="别的公司")
    assert r.status_code == 422 and r.json()["code"] == "name_mismatch"
    r = transfer(client, tokens["admin"], ids["A"], buyer=TENCENT, buyer_name=None)
    assert r.status_code == 201, r.text
    assert [(t["buyer_uscc"], t["buyer_name"]) for t in r.json()["transfers"]] == [(TENCENT, NAME)]
