"""The enterprise and consortium API: USCC checks, overrides, who sees and edits what, the
tier in force on a day, and the consortium rules."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from landsvc import fields
from landsvc.enterprises import service
from landsvc.enterprises.models import Enterprise
from landsvc.enterprises.tiers import Tier
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token

HUAWEI = "914403001922038216"     # 龙岗区 440307
TENCENT = "91440300708461136T"    # 南山区 440305
XIAOMI = "91110108551385082Q"     # placed in 天河区 440106 for these tests
FUJIAN = "91350100M000100Y43"     # placed in 东莞 441900
BAD_CHECK = "914403001922038217"  # Huawei's code with the last character changed (wants 6)

E = "/api/v1/enterprises"
C = "/api/v1/consortia"


def enterprise_token(session, uscc: str) -> dict[str, str]:
    token = create_token(session=session, role=Role.enterprise, enterprise_uscc=uscc)
    return {"Authorization": f"Bearer {token}"}


def register(client, headers, uscc, district, **props):
    props.setdefault("name", f"企业{uscc[-4:]}")
    r = client.post(E, json={"uscc": uscc, "district": district, **props}, headers=headers)
    return r


@pytest.fixture
def on_day(monkeypatch):
    """Fix "today" (China) for the service."""
    def set_day(day: date):
        monkeypatch.setattr(fields, "today", lambda: day)
    return set_day


# -- register, read, edit -----------------------------------------------------------------
def test_bureau_registers_reads_and_edits(client, tokens, on_day):
    on_day(date(2026, 6, 1))
    r = register(client, tokens["shenzhen"], HUAWEI, "440307", name="华为技术有限公司",
                 industry_code="c3921", tier="little_giant", tier_valid_from="2024-07-01",
                 tier_valid_to="2027-06-30", evaluation_year=2025, evaluation_grade="A",
                 webhook_url="https://example.com/hook")
    assert r.status_code == 201, r.text
    body = r.json()
    assert {k: v for k, v in body.items() if k not in ("created_at", "updated_at")} == {
        "uscc": HUAWEI, "name": "华为技术有限公司", "district": "440307", "district_name": "龙岗区",
        "industry_code": "C3921", "tier": "little_giant", "tier_label": "专精特新“小巨人”企业",
        "tier_valid_from": "2024-07-01", "tier_valid_to": "2027-06-30",
        "effective_tier": "little_giant", "effective_tier_label": "专精特新“小巨人”企业",
        "evaluation_year": 2025, "evaluation_grade": "A", "evaluation_grade_label": "A类",
        "webhook_url": "https://example.com/hook", "uscc_check_override": False,
        "override_by": None, "override_at": None,
    }
    tag = r.headers["ETag"]
    got = client.get(f"{E}/{HUAWEI}", headers=tokens["admin"])
    assert got.json() == body and got.headers["ETag"] == tag
    # a lower-case code in the path finds it too
    assert client.get(f"{E}/{HUAWEI.lower()}", headers=tokens["shenzhen"]).status_code == 200

    r = client.patch(f"{E}/{HUAWEI}", json={"evaluation_grade": "B", "evaluation_year": 2026},
                     headers=tokens["shenzhen"] | {"If-Match": tag})
    assert r.status_code == 200, r.text
    assert r.json()["evaluation_grade"] == "B" and r.json()["name"] == "华为技术有限公司"
    stale = client.patch(f"{E}/{HUAWEI}", json={"name": "x"},
                         headers=tokens["shenzhen"] | {"If-Match": tag})
    assert stale.status_code == 412 and stale.json()["code"] == "precondition_failed"

    again = register(client, tokens["admin"], HUAWEI, "440307")
    assert again.status_code == 409 and again.json()["code"] == "duplicate_enterprise"


def test_lower_case_code_is_stored_upper_case(client, tokens):
    r = register(client, tokens["admin"], XIAOMI.lower(), "440106")
    assert r.status_code == 201, r.text
    assert r.json()["uscc"] == XIAOMI and r.json()["tier"] == "none"


# -- the USCC check and its override ------------------------------------------------------
def test_wrong_check_character_names_the_expected_one(client, tokens):
    r = register(client, tokens["shenzhen"], BAD_CHECK, "440307")
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "uscc_check_failed"
    assert body["field"] == "uscc" and body["expected"] == "6"
    assert body["detail"].startswith("uscc:") and "'6'" in body["detail"]


@pytest.mark.parametrize("code", ["91440300708461136", "9144030070846113IT", "91440300708461136TT",
                                  "9144030070846113OT"])
def test_malformed_code_is_refused(client, tokens, code):
    r = register(client, tokens["admin"], code, "440305")
    assert r.status_code == 422 and r.json()["code"] == "invalid_uscc"
    assert r.json()["detail"].startswith("uscc:")


def test_bureau_overrides_a_failing_code_and_it_is_recorded(client, tokens, session):
    r = register(client, tokens["shenzhen"], BAD_CHECK, "440307", uscc_check_override=True)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["uscc_check_override"] is True and body["override_by"] == "bureau:4403"
    stored = session.get(Enterprise, BAD_CHECK)
    assert stored.override_at is not None
    assert body["override_at"] == stored.override_at.isoformat()


def test_override_of_a_passing_code_records_nothing(client, tokens):
    r = register(client, tokens["admin"], TENCENT, "440305", uscc_check_override=True)
    assert r.status_code == 201
    assert r.json()["uscc_check_override"] is False and r.json()["override_by"] is None


def test_enterprise_may_not_override(client, session):
    own = enterprise_token(session, BAD_CHECK)
    r = register(client, own, BAD_CHECK, "440307", uscc_check_override=True)
    assert r.status_code == 403 and r.json()["code"] == "override_not_allowed"
    r = register(client, own, BAD_CHECK, "440307")
    assert r.status_code == 422 and r.json()["code"] == "uscc_check_failed"


# -- who sees and edits what --------------------------------------------------------------
def test_anonymous_gets_401_everywhere(client, tokens):
    assert register(client, tokens["admin"], TENCENT, "440305").status_code == 201
    for method, url, body in [("GET", E, None), ("GET", f"{E}/{TENCENT}", None),
                              ("POST", E, {"uscc": HUAWEI, "name": "x", "district": "440307"}),
                              ("PATCH", f"{E}/{TENCENT}", {"name": "x"}),
                              ("GET", C, None), ("GET", f"{C}/1", None),
                              ("POST", C, {"name": "x", "lead_uscc": TENCENT, "members": []})]:
        r = client.request(method, url, json=body)
        assert r.status_code == 401, (method, url, r.text)
        assert r.json()["code"] == "not_authenticated"


def test_enterprise_registers_itself_only_and_tier_stays_none(client, session):
    own = enterprise_token(session, TENCENT)
    r = register(client, own, HUAWEI, "440307")
    assert r.status_code == 403 and r.json()["code"] == "not_own_enterprise"
    r = register(client, own, TENCENT, "440305", name="腾讯", tier="little_giant",
                 tier_valid_from="2020-01-01", evaluation_year=2025, evaluation_grade="A")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["tier"] == "none" and body["effective_tier"] == "none"
    assert body["tier_valid_from"] is None and body["evaluation_grade"] is None


def test_enterprise_sees_and_edits_its_own_record_only(client, tokens, session):
    for uscc, district in [(TENCENT, "440305"), (HUAWEI, "440307")]:
        assert register(client, tokens["admin"], uscc, district, tier="srdi_sme").status_code == 201
    own = enterprise_token(session, TENCENT)
    listed = client.get(E, headers=own).json()
    assert [i["uscc"] for i in listed["items"]] == [TENCENT] and listed["numberMatched"] == 1
    assert client.get(f"{E}/{HUAWEI}", headers=own).status_code == 404
    assert client.patch(f"{E}/{HUAWEI}", json={"name": "x"}, headers=own).status_code == 404

    r = client.patch(f"{E}/{TENCENT}", json={"name": "深圳市腾讯计算机系统有限公司",
                                             "webhook_url": "http://hooks.example/t"},
                     headers=own)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "深圳市腾讯计算机系统有限公司" and r.json()["tier"] == "srdi_sme"
    for name, value in [("tier", "little_giant"), ("tier_valid_to", "2030-01-01"),
                        ("tier_valid_from", "2020-01-01"), ("evaluation_year", 2025),
                        ("evaluation_grade", "A")]:
        r = client.patch(f"{E}/{TENCENT}", json={name: value}, headers=own)
        assert r.status_code == 403, (name, r.text)
        assert r.json()["code"] == "field_reserved_for_bureau"
        assert r.json()["detail"].startswith(f"{name}:")
    # restating the recorded tier changes nothing and is allowed
    assert client.patch(f"{E}/{TENCENT}", json={"tier": "srdi_sme"}, headers=own).status_code == 200


def test_bureau_works_inside_its_jurisdiction(client, tokens):
    r = register(client, tokens["guangzhou"], HUAWEI, "440307")
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    assert register(client, tokens["shenzhen"], HUAWEI, "440307").status_code == 201
    assert register(client, tokens["guangzhou"], XIAOMI, "440106").status_code == 201
    assert client.get(f"{E}/{HUAWEI}", headers=tokens["guangzhou"]).status_code == 404
    assert client.patch(f"{E}/{HUAWEI}", json={"name": "x"},
                        headers=tokens["guangzhou"]).status_code == 404
    assert [i["uscc"] for i in client.get(E, headers=tokens["guangzhou"]).json()["items"]] \
        == [XIAOMI]
    assert [i["uscc"] for i in client.get(E, headers=tokens["province"]).json()["items"]] \
        == sorted([HUAWEI, XIAOMI])
    # moving a record out of the jurisdiction: refused; the province may
    r = client.patch(f"{E}/{HUAWEI}", json={"district": "440106"}, headers=tokens["shenzhen"])
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    r = client.patch(f"{E}/{HUAWEI}", json={"district": "440106"}, headers=tokens["province"])
    assert r.status_code == 200 and r.json()["district_name"] == "天河区"


@pytest.mark.parametrize("props, field, code", [
    ({"district": "440399"}, "district", "unknown_district"),
    ({"district": "110108"}, "district", "unknown_district"),
    ({"tier_valid_from": "2026-01-02", "tier_valid_to": "2026-01-01"}, "tier_valid_to",
     "tier_validity"),
    ({"evaluation_year": 2025}, "evaluation_grade", "evaluation_incomplete"),
    ({"evaluation_grade": "C"}, "evaluation_grade", "evaluation_incomplete"),
    ({"industry_code": "Z99"}, "industry_code", "invalid_industry_code"),
    ({"webhook_url": "ftp://x"}, "webhook_url", "invalid_webhook_url"),
    ({"name": "  "}, "name", "missing_value"),
])
def test_bad_fields_name_the_field(client, tokens, props, field, code):
    r = register(client, tokens["admin"], TENCENT, **({"district": "440305"} | props))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code and r.json()["detail"].startswith(f"{field}:")


def test_tier_validity_boundary_is_inclusive(client, tokens):
    r = register(client, tokens["admin"], TENCENT, "440305", tier="srdi_sme",
                 tier_valid_from="2026-01-01", tier_valid_to="2026-01-01")
    assert r.status_code == 201 and r.json()["tier_valid_to"] == "2026-01-01"


# -- the tier in force (有进有出) -----------------------------------------------------------
def test_effective_tier_on_valid_to_and_the_day_after(client, tokens, session, on_day):
    valid_to = date(2026, 11, 30)
    assert register(client, tokens["admin"], HUAWEI, "440307", tier="little_giant",
                    tier_valid_from="2023-12-01", tier_valid_to=valid_to.isoformat()
                    ).status_code == 201
    assert register(client, tokens["admin"], TENCENT, "440305", tier="srdi_sme").status_code == 201

    on_day(valid_to)
    assert client.get(f"{E}/{HUAWEI}", headers=tokens["admin"]).json()["effective_tier"] \
        == "little_giant"
    found = client.get(E, params={"effective_tier": "little_giant"}, headers=tokens["admin"])
    assert [i["uscc"] for i in found.json()["items"]] == [HUAWEI]

    on_day(valid_to + timedelta(days=1))
    body = client.get(f"{E}/{HUAWEI}", headers=tokens["admin"]).json()
    assert body["tier"] == "little_giant" and body["effective_tier"] == "none"
    found = client.get(E, params={"effective_tier": "little_giant"}, headers=tokens["admin"])
    assert found.json()["items"] == []
    found = client.get(E, params={"effective_tier": "none"}, headers=tokens["admin"])
    assert [i["uscc"] for i in found.json()["items"]] == [HUAWEI]
    found = client.get(E, params={"tier": "little_giant"}, headers=tokens["admin"])
    assert [i["uscc"] for i in found.json()["items"]] == [HUAWEI]

    # the service functions other domains call
    assert service.enterprise_tier(session, HUAWEI, valid_to) is Tier.little_giant
    assert service.enterprise_tier(session, HUAWEI, valid_to + timedelta(days=1)) is Tier.none
    assert service.enterprise_tier(session, TENCENT, date(1999, 1, 1)) is Tier.srdi_sme
    assert service.enterprise_tier(session, FUJIAN, valid_to) is Tier.none  # not registered
    for day, expected in [(valid_to, ["little_giant", 3]), (valid_to + timedelta(days=1),
                                                            ["none", 0])]:
        tier_sql = service.effective_tier_sql(day)
        row = session.execute(select(tier_sql, service.tier_rank_sql(tier_sql))
                              .where(Enterprise.uscc == HUAWEI)).one()
        assert [str(row[0]), row[1]] == expected


# -- consortia ----------------------------------------------------------------------------
@pytest.fixture
def three(client, tokens, on_day):
    """Huawei (little giant, Longgang), Tencent (none, Nanshan), Xiaomi (srdi, Tianhe)."""
    on_day(date(2026, 6, 1))
    for uscc, district, tier in [(HUAWEI, "440307", "little_giant"), (TENCENT, "440305", "none"),
                                 (XIAOMI, "440106", "srdi_sme")]:
        assert register(client, tokens["admin"], uscc, district, tier=tier).status_code == 201


def consortium(lead, *members, name="联合体"):
    return {"name": name, "lead_uscc": lead,
            "members": [{"uscc": u, "share_percent": s} for u, s in members]}


def test_member_forms_a_consortium_and_who_sees_it(client, tokens, session, three):
    huawei = enterprise_token(session, HUAWEI)
    r = client.post(C, json=consortium(HUAWEI, (HUAWEI, 30), (TENCENT, "70.00")), headers=huawei)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["lead_uscc"] == HUAWEI and body["lead_district"] == "440307"
    assert [(m["uscc"], m["share_percent"], m["effective_tier"]) for m in body["members"]] \
        == [(TENCENT, 70.0, "none"), (HUAWEI, 30.0, "little_giant")]
    # a little giant leading with 30 % of the shares: no priority for the consortium
    assert body["effective_tier"] == "none"
    cid = body["id"]
    assert service.consortium_tier(session, cid) is Tier.none

    tencent = enterprise_token(session, TENCENT)
    xiaomi = enterprise_token(session, XIAOMI)
    for headers, status in [(huawei, 200), (tencent, 200), (xiaomi, 404),
                            (tokens["shenzhen"], 200), (tokens["province"], 200),
                            (tokens["baoan"], 404), (tokens["guangzhou"], 404),
                            (tokens["admin"], 200)]:
        assert client.get(f"{C}/{cid}", headers=headers).status_code == status
        listed = client.get(C, headers=headers).json()["items"]
        assert [c["id"] for c in listed] == ([cid] if status == 200 else [])
    assert client.get(C, params={"member": XIAOMI}, headers=tokens["admin"]).json()["items"] == []
    assert [c["id"] for c in client.get(C, params={"member": TENCENT.lower()},
                                        headers=tokens["admin"]).json()["items"]] == [cid]


def test_consortium_tier_follows_the_lead_and_the_majority(client, tokens, session, three,
                                                           on_day):
    r = client.post(C, json=consortium(HUAWEI, (HUAWEI, 50), (XIAOMI, 25), (TENCENT, 25)),
                    headers=tokens["admin"])
    assert r.status_code == 201 and r.json()["effective_tier"] == "little_giant"
    cid = r.json()["id"]
    r = client.post(C, json=consortium(HUAWEI, (HUAWEI, "49.99"), (XIAOMI, "0.02"),
                                       (TENCENT, "49.99")), headers=tokens["admin"])
    assert r.status_code == 201 and r.json()["effective_tier"] == "srdi_sme"
    r = client.post(C, json=consortium(TENCENT, (HUAWEI, 60), (TENCENT, 40)),
                    headers=tokens["admin"])
    assert r.status_code == 201 and r.json()["effective_tier"] == "none"
    # the lead's tier lapses: the consortium falls with it
    client.patch(f"{E}/{HUAWEI}", json={"tier_valid_to": "2026-06-30"}, headers=tokens["admin"])
    assert service.consortium_tier(session, cid, date(2026, 6, 30)) is Tier.little_giant
    assert service.consortium_tier(session, cid, date(2026, 7, 1)) is Tier.none
    on_day(date(2026, 7, 1))
    assert client.get(f"{C}/{cid}", headers=tokens["admin"]).json()["effective_tier"] == "none"


@pytest.mark.parametrize("body, code", [
    (consortium(HUAWEI, (HUAWEI, 100)), "too_few_members"),
    (consortium(HUAWEI, (HUAWEI, 50), (HUAWEI, 50)), "duplicate_member"),
    (consortium(HUAWEI, (HUAWEI, 50), (TENCENT, "49.99")), "shares_not_100"),
    (consortium(HUAWEI, (HUAWEI, 50), (TENCENT, "50.01")), "shares_not_100"),
    (consortium(XIAOMI, (HUAWEI, 50), (TENCENT, 50)), "lead_not_member"),
    (consortium(HUAWEI, (HUAWEI, 50), (FUJIAN, 50)), "unknown_enterprise"),
])
def test_consortium_rules(client, tokens, three, body, code):
    r = client.post(C, json=body, headers=tokens["admin"])
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code


def test_shares_must_be_positive_with_two_decimals(client, tokens, three):
    for share in [0, -1, "33.333"]:
        r = client.post(C, json=consortium(HUAWEI, (HUAWEI, 100), (TENCENT, share)),
                        headers=tokens["admin"])
        assert r.status_code == 422 and "share_percent" in r.json()["detail"]


def test_who_may_form_a_consortium(client, tokens, session, three):
    body = consortium(HUAWEI, (HUAWEI, 60), (XIAOMI, 40))
    r = client.post(C, json=body, headers=enterprise_token(session, TENCENT))
    assert r.status_code == 403 and r.json()["code"] == "not_member"
    r = client.post(C, json=body, headers=tokens["guangzhou"])  # governs Xiaomi, not the lead
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    assert client.post(C, json=body, headers=enterprise_token(session, XIAOMI)).status_code == 201
    assert client.post(C, json=body, headers=tokens["shenzhen"]).status_code == 201
