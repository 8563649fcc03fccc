"""The provincial land quota (省级先进制造业用地指标) against a real PostGIS: pools, who may
manage and read them, the eligibility rules of an allocation, cancellation returning the
hectares, the movements the database will not let anyone change, and 20 concurrent
allocations against a pool with room for 5."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from landsvc.approvals.models import ApprovalCase, ApprovalStatus, Channel
from landsvc.db import session_scope
from landsvc.enterprises.models import Consortium, ConsortiumMember, Enterprise
from landsvc.enterprises.tiers import Tier
from landsvc.fields import today
from landsvc.parcels.models import Parcel
from landsvc.policies.service import set_setting
from landsvc.quota.service import QuotaRules, hectares
from landsvc.tokens.models import Role
from landsvc.tokens.service import create_token
from tests.builders import BAOAN, HAIZHU, square

POOLS = "/api/v1/quota-pools"
_uscc_counter = iter(range(2, 10_000))


# -- builders -----------------------------------------------------------------------------
def enterprise(session: Session, *, tier: Tier = Tier.little_giant, grade: str | None = "A",
               valid_to=None, uscc: str | None = None) -> str:
    uscc = uscc or f"91440300QT{next(_uscc_counter):07d}X"
    session.add(Enterprise(uscc=uscc, name=f"测试企业{uscc[-5:]}", district="440306", tier=tier,
                           tier_valid_from=today() - timedelta(days=365), tier_valid_to=valid_to,
                           evaluation_year=2025 if grade else None, evaluation_grade=grade))
    session.flush()
    return uscc


def parcel(session: Session, code: str, where=BAOAN, district: str = "440306") -> int:
    row = Parcel(code=code, district=district,
                 geom=from_shape(shapely.MultiPolygon([square(*where)]), srid=4326))
    session.add(row)
    session.flush()
    return row.id


def case(session: Session, *, uscc: str | None = None, consortium_id: int | None = None,
         area_m2: str = "12345.67", status: ApprovalStatus = ApprovalStatus.approved,
         district: str = "440306", parcel_id: int | None = None) -> int:
    parcel_id = parcel_id or parcel(session, f"QUOTA-{next(_uscc_counter)}",
                                    HAIZHU if district.startswith("4401") else BAOAN, district)
    row = ApprovalCase(applicant_uscc=uscc, consortium_id=consortium_id, parcel_id=parcel_id,
                       project_name="智能装备产业化项目", area_m2=Decimal(area_m2),
                       district=district, channel=Channel.green, channel_reason="小巨人",
                       applicant_tier=Tier.little_giant, status=status,
                       filed_on=today() - timedelta(days=30), last_step_on=today())
    session.add(row)
    session.flush()
    return row.id


def pool(client, tokens, *, total_ha: float = 10, scope: str = "44", name: str = "2026 年省级指标",
         year: int = 2026) -> dict:
    r = client.post(POOLS, headers=tokens["province"],
                    json={"year": year, "scope": scope, "name": name, "total_ha": total_ha})
    assert r.status_code == 201, r.text
    return r.json()


def allocate(client, headers, pool_id: int, approval_id: int):
    return client.post(f"{POOLS}/{pool_id}/allocations", headers=headers,
                       json={"approval_id": approval_id})


# -- pools --------------------------------------------------------------------------------
def test_a_new_pool_has_nothing_allocated_and_a_city_code_is_its_prefix(client, tokens):
    created = pool(client, tokens, total_ha=120.5, scope="440300", name="深圳市先进制造业指标")
    assert {k: created[k] for k in ("year", "scope", "name", "total_ha", "allocated_ha",
                                    "remaining_ha", "allocations", "movements")} == {
        "year": 2026, "scope": "4403", "name": "深圳市先进制造业指标", "total_ha": 120.5,
        "allocated_ha": 0.0, "remaining_ha": 120.5, "allocations": [], "movements": []}
    assert created["created_by"] == "bureau:44"
    r = client.get(f"{POOLS}/{created['id']}", headers=tokens["admin"])
    assert r.status_code == 200 and r.json()["remaining_ha"] == 120.5
    page = client.get(POOLS, params={"year": 2026}, headers=tokens["province"]).json()
    assert created["id"] in [p["id"] for p in page["items"]]
    assert client.get(POOLS, params={"year": 2027}, headers=tokens["province"]).json()["items"] == []


@pytest.mark.parametrize(("change", "field"), [
    ({"year": 1999}, "year"),
    ({"year": 2101}, "year"),
    ({"year": "二〇二六"}, "year"),
    ({"scope": "4"}, "scope"),
    ({"scope": "4403001"}, "scope"),
    ({"scope": "45"}, "scope"),            # Guangxi: not Guangdong's quota
    ({"scope": "4499"}, "scope"),          # no such city
    ({"scope": "44030x"}, "scope"),
    ({"total_ha": 0}, "total_ha"),
    ({"total_ha": -3}, "total_ha"),
    ({"total_ha": 0.00004}, "total_ha"),   # rounds to 0.0000 ha at 4 decimals
    ({"total_ha": "十公顷"}, "total_ha"),
    ({"total_ha": 1e9}, "total_ha"),       # beyond NUMERIC(12,4)
    ({"name": "   "}, "name"),
])
def test_bad_pool_values_are_refused_naming_the_field(client, tokens, change, field):
    body = {"year": 2026, "scope": "44", "name": "省级指标", "total_ha": 10} | change
    r = client.post(POOLS, headers=tokens["province"], json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"{field}:"), r.json()


def test_missing_fields_are_refused_naming_them(client, tokens):
    r = client.post(POOLS, headers=tokens["province"], json={"name": "省级指标"})
    assert r.status_code == 422
    for field in ("year", "scope", "total_ha"):
        assert field in r.json()["detail"]


def test_a_second_pool_of_the_same_name_year_and_scope_is_a_conflict(client, tokens):
    pool(client, tokens, name="重名指标")
    r = client.post(POOLS, headers=tokens["province"],
                    json={"year": 2026, "scope": "44", "name": "重名指标", "total_ha": 1})
    assert r.status_code == 409 and r.json()["code"] == "duplicate_pool"


# -- access -------------------------------------------------------------------------------
def test_only_the_province_or_an_admin_manages_pools_and_allocations(client, tokens, session):
    body = {"year": 2026, "scope": "4403", "name": "市级不可建", "total_ha": 5}
    for who in ("shenzhen", "baoan", "enterprise"):
        r = client.post(POOLS, headers=tokens[who], json=body)
        assert r.status_code == 403, (who, r.text)
    assert client.post(POOLS, json=body).status_code == 401
    r = client.post(POOLS, headers=tokens["admin"], json=body)
    assert r.status_code == 201 and r.json()["created_by"] == "admin"

    pid = pool(client, tokens)["id"]
    cid = case(session, uscc=enterprise(session))
    for who in ("shenzhen", "enterprise"):
        assert allocate(client, tokens[who], pid, cid).status_code == 403, who
    r = allocate(client, tokens["admin"], pid, cid)
    assert r.status_code == 201, r.text
    r = client.delete(f"{POOLS}/{pid}/allocations/{r.json()['id']}", headers=tokens["shenzhen"])
    assert r.status_code == 403 and r.json()["code"] == "province_only"


def test_bureaus_read_the_pools_of_their_jurisdiction_enterprises_none(client, tokens):
    provincial = pool(client, tokens, name="全省")["id"]
    guangzhou = pool(client, tokens, scope="4401", name="广州")["id"]
    baoan = pool(client, tokens, scope="440306", name="宝安")["id"]
    # Shenzhen (4403) reads the provincial pool it draws from and Bao'an's inside it, not
    # Guangzhou's; Bao'an (440306) reads the provincial one and its own.
    seen = {p["id"] for p in client.get(POOLS, headers=tokens["shenzhen"]).json()["items"]}
    assert {provincial, baoan} <= seen and guangzhou not in seen
    seen = {p["id"] for p in client.get(POOLS, headers=tokens["baoan"]).json()["items"]}
    assert {provincial, baoan} <= seen and guangzhou not in seen
    assert client.get(f"{POOLS}/{guangzhou}", headers=tokens["shenzhen"]).status_code == 404
    assert client.get(f"{POOLS}/{provincial}", headers=tokens["shenzhen"]).status_code == 200
    assert client.get(f"{POOLS}/{guangzhou}", headers=tokens["guangzhou"]).status_code == 200
    assert client.get(POOLS, headers=tokens["enterprise"]).status_code == 403
    assert client.get(f"{POOLS}/{provincial}", headers=tokens["enterprise"]).status_code == 403
    assert client.get(POOLS).status_code == 401
    assert client.get(f"{POOLS}/999999999", headers=tokens["admin"]).status_code == 404


# -- allocating ---------------------------------------------------------------------------
def test_an_allocation_draws_the_case_area_in_hectares(client, tokens, session):
    pid = pool(client, tokens, total_ha=10)["id"]
    cid = case(session, uscc=enterprise(session, grade="B"), area_m2="12345.67")
    r = allocate(client, tokens["province"], pid, cid)
    assert r.status_code == 201, r.text
    got = r.json()
    # 12,345.67 ㎡ ÷ 10,000 = 1.234567 ha → 1.2346 ha (4 decimals, half up);
    # 10 − 1.2346 = 8.7654 ha left.
    assert (got["area_ha"], got["remaining_ha"]) == (1.2346, 8.7654)
    assert {k: got[k] for k in ("pool_id", "approval_id", "status", "applicant_tier",
                                "evaluation_grade", "who", "cancelled_at")} == {
        "pool_id": pid, "approval_id": cid, "status": "active", "applicant_tier": "little_giant",
        "evaluation_grade": "B", "who": "bureau:44", "cancelled_at": None}
    assert got["allocated_on"] == today().isoformat()
    shown = client.get(f"{POOLS}/{pid}", headers=tokens["province"]).json()
    assert (shown["total_ha"], shown["allocated_ha"], shown["remaining_ha"]) == (10.0, 1.2346,
                                                                                 8.7654)
    assert [(a["id"], a["area_ha"], a["status"]) for a in shown["allocations"]] == [
        (got["id"], 1.2346, "active")]
    assert [(m["kind"], m["delta_ha"], m["allocated_after_ha"]) for m in shown["movements"]] == [
        ("allocate", 1.2346, 1.2346)]


def test_hectares_keep_four_decimals_half_up():
    # Worked by hand: 5 ㎡ = 0.0005 ha exactly; 0.5 ㎡ = 0.00005 ha rounds up to 0.0001.
    assert hectares(Decimal("5")) == Decimal("0.0005")
    assert hectares(Decimal("0.50")) == Decimal("0.0001")
    assert hectares(Decimal("0.49")) == Decimal("0.0000")
    assert hectares(Decimal("10000.00")) == Decimal("1.0000")


def test_more_than_remains_is_a_conflict_with_the_remaining_hectares(client, tokens, session):
    pid = pool(client, tokens, total_ha=2)["id"]
    first = case(session, uscc=enterprise(session), area_m2="15000")
    second = case(session, uscc=enterprise(session), area_m2="10000")
    assert allocate(client, tokens["province"], pid, first).status_code == 201
    r = allocate(client, tokens["province"], pid, second)
    # 2 ha − 1.5 ha = 0.5 ha left, 1 ha asked.
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "quota_exceeded"
    assert (r.json()["remaining_ha"], r.json()["requested_ha"]) == (0.5, 1.0)
    assert "0.5 公顷" in r.json()["detail"]
    shown = client.get(f"{POOLS}/{pid}", headers=tokens["admin"]).json()
    assert (shown["allocated_ha"], len(shown["allocations"]), len(shown["movements"])) == (1.5, 1, 1)


def test_exactly_what_remains_may_be_drawn(client, tokens, session):
    pid = pool(client, tokens, total_ha=1.2346)["id"]
    r = allocate(client, tokens["province"], pid,
                 case(session, uscc=enterprise(session), area_m2="12345.67"))
    assert r.status_code == 201 and r.json()["remaining_ha"] == 0.0


def test_a_case_not_yet_approved_is_a_conflict(client, tokens, session):
    pid = pool(client, tokens)["id"]
    uscc = enterprise(session)
    for status in (ApprovalStatus.under_review, ApprovalStatus.rejected, ApprovalStatus.submitted):
        r = allocate(client, tokens["province"], pid, case(session, uscc=uscc, status=status))
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "case_not_approved"


def test_a_tier_that_lapsed_the_day_before_is_refused(client, tokens, session):
    pid = pool(client, tokens)["id"]
    lapsed = enterprise(session, valid_to=today() - timedelta(days=1))
    r = allocate(client, tokens["province"], pid, case(session, uscc=lapsed))
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["rule"], r.json()["found"]) == (
        "tier_ineligible", "tier", "none")
    assert r.json()["detail"].startswith("tier:")
    # Valid through today: still a little giant on the day of the allocation.
    through_today = enterprise(session, valid_to=today())
    assert allocate(client, tokens["province"], pid,
                    case(session, uscc=through_today)).status_code == 201


def test_an_srdi_sme_is_not_a_little_giant(client, tokens, session):
    pid = pool(client, tokens)["id"]
    r = allocate(client, tokens["province"], pid,
                 case(session, uscc=enterprise(session, tier=Tier.srdi_sme)))
    assert r.status_code == 422
    assert (r.json()["rule"], r.json()["found"]) == ("tier", "srdi_sme")


@pytest.mark.parametrize("grade", ["C", "D", None])
def test_a_grade_outside_a_and_b_is_refused(client, tokens, session, grade):
    pid = pool(client, tokens)["id"]
    r = allocate(client, tokens["province"], pid, case(session, uscc=enterprise(session,
                                                                                grade=grade)))
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["rule"], r.json()["found"]) == (
        "grade_ineligible", "evaluation_grade", grade)
    assert r.json()["detail"].startswith("evaluation_grade:")
    assert "A、B" in r.json()["detail"]


def test_the_eligible_grades_are_configurable_per_jurisdiction(client, tokens, session):
    pid = pool(client, tokens)["id"]
    graded_c = enterprise(session, grade="C")
    set_setting(session, "4403", "quota.grade_c_eligible", True)
    set_setting(session, "4403", "quota.grade_b_eligible", "false")
    # Shenzhen admits C and no longer B; Guangzhou keeps the defaults A and B.
    assert allocate(client, tokens["province"], pid,
                    case(session, uscc=graded_c)).status_code == 201
    r = allocate(client, tokens["province"], pid, case(session, uscc=enterprise(session,
                                                                                 grade="B")))
    assert r.status_code == 422 and "A、C" in r.json()["detail"]
    r = allocate(client, tokens["province"], pid,
                 case(session, uscc=enterprise(session, grade="C"), district="440105"))
    assert r.status_code == 422 and r.json()["found"] == "C"
    assert QuotaRules().eligible_grades() == ["A", "B"]


def test_a_case_outside_the_pool_scope_is_refused(client, tokens, session):
    pid = pool(client, tokens, scope="4401", name="广州市指标")["id"]
    r = allocate(client, tokens["province"], pid, case(session, uscc=enterprise(session)))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "outside_pool_scope"
    assert "440306" in r.json()["detail"] and "4401" in r.json()["detail"]


def test_a_consortium_is_judged_by_its_tier_and_its_lead_grade(client, tokens, session):
    pid = pool(client, tokens)["id"]

    def consortium(lead_grade: str) -> int:
        lead, partner = enterprise(session, grade=lead_grade), enterprise(session, grade="D")
        row = Consortium(name="联合体", lead_uscc=lead)
        session.add(row)
        session.flush()
        session.add_all([ConsortiumMember(consortium_id=row.id, uscc=lead, share_percent=60),
                         ConsortiumMember(consortium_id=row.id, uscc=partner, share_percent=40)])
        session.flush()
        return row.id

    # Both members are little giants, so the consortium is one; the partner's D is not
    # looked at, the lead's grade is.
    assert allocate(client, tokens["province"], pid,
                    case(session, consortium_id=consortium("A"))).status_code == 201
    r = allocate(client, tokens["province"], pid, case(session, consortium_id=consortium("C")))
    assert r.status_code == 422 and (r.json()["rule"], r.json()["found"]) == (
        "evaluation_grade", "C")


def test_unknown_pool_or_case(client, tokens, session):
    pid = pool(client, tokens)["id"]
    r = allocate(client, tokens["province"], 999999999, case(session, uscc=enterprise(session)))
    assert r.status_code == 404
    r = allocate(client, tokens["province"], pid, 999999999)
    assert r.status_code == 422 and r.json()["detail"].startswith("approval_id:")


# -- one allocation per case; cancelling -------------------------------------------------
def test_a_case_holds_one_active_allocation_and_a_cancel_returns_the_hectares(client, tokens,
                                                                              session):
    first = pool(client, tokens, total_ha=10, name="甲")["id"]
    second = pool(client, tokens, total_ha=10, name="乙")["id"]
    cid = case(session, uscc=enterprise(session), area_m2="25000")
    made = allocate(client, tokens["province"], first, cid).json()
    for target in (first, second):
        r = allocate(client, tokens["province"], target, cid)
        assert r.status_code == 409 and r.json()["code"] == "already_allocated", r.text
        assert r.json()["allocation_id"] == made["id"]

    r = client.delete(f"{POOLS}/{first}/allocations/{made['id']}", headers=tokens["province"])
    assert r.status_code == 200, r.text
    shown = r.json()
    # 2.5 ha drawn, then returned: 10 ha remain, nothing allocated.
    assert (shown["allocated_ha"], shown["remaining_ha"]) == (0.0, 10.0)
    [gone] = shown["allocations"]
    assert (gone["id"], gone["status"], gone["cancelled_by"]) == (made["id"], "cancelled",
                                                                  "bureau:44")
    assert gone["cancelled_at"] is not None
    assert [(m["kind"], m["delta_ha"], m["allocated_after_ha"], m["allocation_id"])
            for m in shown["movements"]] == [("allocate", 2.5, 2.5, made["id"]),
                                             ("cancel", -2.5, 0.0, made["id"])]

    again = client.delete(f"{POOLS}/{first}/allocations/{made['id']}", headers=tokens["province"])
    assert again.status_code == 409 and again.json()["code"] == "already_cancelled"
    assert client.delete(f"{POOLS}/{second}/allocations/{made['id']}",
                         headers=tokens["province"]).status_code == 404
    # Once cancelled, the case may draw again — from the other pool.
    r = allocate(client, tokens["province"], second, cid)
    assert r.status_code == 201 and r.json()["remaining_ha"] == 7.5


# -- the database's own guarantees --------------------------------------------------------
def test_movements_cannot_be_changed_or_deleted(client, tokens, session):
    pid = pool(client, tokens)["id"]
    assert allocate(client, tokens["province"], pid,
                    case(session, uscc=enterprise(session))).status_code == 201
    for statement in ("UPDATE quota_movement SET delta_ha = 0.0001 WHERE pool_id = :p",
                      "DELETE FROM quota_movement WHERE pool_id = :p",
                      "TRUNCATE quota_movement CASCADE"):
        with pytest.raises(DBAPIError, match="只能追加"), session.begin_nested():
            session.execute(text(statement), {"p": pid})


def test_the_database_refuses_over_allocation_and_a_second_active_allocation(client, tokens,
                                                                             session):
    pid = pool(client, tokens, total_ha=3)["id"]
    cid = case(session, uscc=enterprise(session))
    alloc = allocate(client, tokens["province"], pid, cid).json()
    # A writer that skips the service and its lock still meets the pool's CHECK …
    with pytest.raises(IntegrityError, match="ck_quota_pool_within_total"), \
            session.begin_nested():
        session.execute(text("UPDATE quota_pool SET allocated_ha = allocated_ha + 2 "
                             "WHERE id = :p"), {"p": pid})
    with pytest.raises(IntegrityError, match="ck_quota_pool_within_total"), \
            session.begin_nested():
        session.execute(text("UPDATE quota_pool SET allocated_ha = -1 WHERE id = :p"),
                        {"p": pid})
    # … and the partial unique index: one active allocation per case.
    with pytest.raises(IntegrityError, match="uq_quota_allocation_active_case"), \
            session.begin_nested():
        session.execute(text(
            "INSERT INTO quota_allocation (pool_id, approval_id, area_ha, status, allocated_on, "
            "applicant_tier, evaluation_grade, who) VALUES (:p, :c, 0.1, 'active', "
            "current_date, 'little_giant', 'A', 'sql')"), {"p": pid, "c": cid})
    assert alloc["area_ha"] == 1.2346


# -- 20 at once against room for 5 --------------------------------------------------------
CONCURRENT = 20
LABEL = "quota-concurrency-test"


@pytest.fixture
def crowded_pool(server, engine):
    """Committed: a 5.5 ha pool, 20 approved 1 ha cases of 20 eligible little giants, and a
    province token; all removed afterwards (the movement triggers set aside for the cleanup)."""
    with session_scope() as session:
        token = create_token(session=session, role=Role.bureau, jurisdiction="44", label=LABEL)
        uscc = [enterprise(session, uscc=f"91440300QC{i:07d}X") for i in range(CONCURRENT)]
        pid = parcel(session, "QUOTA-CONCURRENCY")
        cases = [case(session, uscc=u, area_m2="10000.00", parcel_id=pid) for u in uscc]
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.post(f"{server}{POOLS}", headers=headers,
                   json={"year": 2026, "scope": "44", "name": "并发测试指标", "total_ha": 5.5})
    assert r.status_code == 201, r.text
    pool_id = r.json()["id"]
    try:
        yield pool_id, cases, headers
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE quota_movement DISABLE TRIGGER quota_movement_no_change"))
            conn.execute(text("DELETE FROM quota_movement WHERE pool_id = :p"), {"p": pool_id})
            conn.execute(text("ALTER TABLE quota_movement ENABLE TRIGGER quota_movement_no_change"))
            conn.execute(text("DELETE FROM quota_allocation WHERE pool_id = :p"), {"p": pool_id})
            conn.execute(text("DELETE FROM quota_pool WHERE id = :p"), {"p": pool_id})
            conn.execute(text("DELETE FROM approval_case WHERE id = ANY(:c)"), {"c": cases})
            conn.execute(text("DELETE FROM parcel WHERE code = 'QUOTA-CONCURRENCY'"))
            conn.execute(text("DELETE FROM enterprise WHERE uscc = ANY(:u)"), {"u": uscc})
            conn.execute(text("DELETE FROM api_token WHERE label = :l"), {"l": LABEL})


def waiting_on_pool(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%FROM quota_pool%FOR UPDATE%'"))


def test_the_quota_never_goes_negative_under_20_concurrent_allocations(server, crowded_pool,
                                                                       engine):
    pool_id, cases, headers = crowded_pool
    # Another transaction holds the pool, so the requests pile up on its lock before any may
    # read the remainder; then it lets go. (The server's connection pool, 5 + 10 overflow,
    # lets at most 15 wait at the lock; the rest follow as connections come free.)
    with engine.connect() as holder:
        holder.begin()
        holder.execute(text("SELECT 1 FROM quota_pool WHERE id = :id FOR UPDATE"), {"id": pool_id})
        with ThreadPoolExecutor(CONCURRENT) as threads:
            futures = [threads.submit(httpx.post, f"{server}{POOLS}/{pool_id}/allocations",
                                      json={"approval_id": cid}, headers=headers, timeout=60)
                       for cid in cases]
            deadline = time.monotonic() + 30
            while waiting_on_pool(engine) < 10:
                assert time.monotonic() < deadline, "the allocations never waited for the pool"
                time.sleep(0.02)
            holder.rollback()
            results = [f.result() for f in futures]

    statuses = sorted(r.status_code for r in results)
    # 5.5 ha hold five 1 ha cases; the sixth onwards find 0.5 ha left.
    assert statuses == [201] * 5 + [409] * 15, [r.text for r in results]
    for refused in (r.json() for r in results if r.status_code == 409):
        assert (refused["code"], refused["remaining_ha"], refused["requested_ha"]) == (
            "quota_exceeded", 0.5, 1.0)
    won = sorted(r.json()["remaining_ha"] for r in results if r.status_code == 201)
    assert won == [0.5, 1.5, 2.5, 3.5, 4.5]

    shown = httpx.get(f"{server}{POOLS}/{pool_id}", headers=headers).json()
    assert (shown["total_ha"], shown["allocated_ha"], shown["remaining_ha"]) == (5.5, 5.0, 0.5)
    assert [a["area_ha"] for a in shown["allocations"]] == [1.0] * 5
    assert [m["allocated_after_ha"] for m in shown["movements"]] == [1.0, 2.0, 3.0, 4.0, 5.0]
    with engine.connect() as conn:
        stored = conn.execute(text(
            "SELECT p.allocated_ha, (SELECT sum(area_ha) FROM quota_allocation "
            "WHERE pool_id = p.id AND status = 'active'), "
            "(SELECT sum(delta_ha) FROM quota_movement WHERE pool_id = p.id) "
            "FROM quota_pool p WHERE p.id = :p"), {"p": pool_id}).one()
    assert tuple(stored) == (Decimal("5.0000"),) * 3
