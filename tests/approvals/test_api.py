"""Approval cases through the API: the channel on tier boundaries, every transition for each
role, the days steps may carry, resubmission back to the stage left, history, the queue and
the figures reported upward."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from landsvc.enterprises.models import Enterprise
from landsvc.fields import today
from tests.builders import FUTIAN, HAIZHU, feature, square

ME = "91440300MA5FXXXX1X"      # the ``enterprise`` token's USCC
OTHER = "91440300MA5GYYYY2Y"
A = "/api/v1/approvals"


def enterprise(session, uscc, tier="none", valid_from=None, valid_to=None):
    session.add(Enterprise(uscc=uscc, name=f"企业{uscc[-4:]}", district="440304", tier=tier,
                           tier_valid_from=valid_from, tier_valid_to=valid_to))
    session.flush()


@pytest.fixture
def parcel(client, tokens):
    made = iter(range(1, 1000))

    def make(where=FUTIAN) -> int:
        body = feature(square(*where, 100), code=f"AP-{next(made):03d}", status="available")
        r = client.post("/api/v1/parcels", json=body, headers=tokens["admin"])
        assert r.status_code == 201, r.text
        return r.json()["id"]

    return make


def file(client, headers, parcel_id, **body):
    return client.post(A, headers=headers, json={"parcel_id": parcel_id,
                                                  "project_name": "智能装备产业化项目"} | body)


def step(client, headers, case_id, action, on=None, comment=None):
    body = {"action": action} | ({"on": on.isoformat()} if on else {}) | (
        {"comment": comment} if comment else {})
    return client.post(f"{A}/{case_id}/transitions", headers=headers, json=body)


# -- the channel ------------------------------------------------------------------------
@pytest.mark.parametrize(("tier", "valid_from", "valid_to", "channel"), [
    ("little_giant", None, None, "green"),
    ("srdi_sme", None, 0, "green"),            # valid through the filing day itself
    ("srdi_sme", None, -1, "standard"),        # lapsed the day before filing
    ("srdi_sme", 1, None, "standard"),         # in force only from the day after
    ("innovative_sme", None, None, "standard"),
    ("none", None, None, "standard"),
])
def test_the_channel_follows_the_tier_in_force_on_the_filing_day(
        client, tokens, session, parcel, tier, valid_from, valid_to, channel):
    filed = today() - timedelta(days=10)
    enterprise(session, ME, tier,
               None if valid_from is None else filed + timedelta(days=valid_from),
               None if valid_to is None else filed + timedelta(days=valid_to))
    r = file(client, tokens["enterprise"], parcel(), filed_on=filed.isoformat())
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["channel"], case["status"], case["stage"]) == (channel, "submitted",
                                                                "acceptance")
    assert filed.isoformat() in case["channel_reason"]
    assert case["area_ha"] == pytest.approx(case["area_m2"] / 10_000, abs=1e-4)


# -- transitions by role ----------------------------------------------------------------
PATHS = {  # the steps that bring a new case to each status, and who takes them
    "submitted": [],
    "accepted": ["accept"],
    "under_review": ["accept", "start_review"],
    "returned": ["accept", "return"],
    "approved": ["accept", "start_review", "approve"],
    "rejected": ["accept", "start_review", "reject"],
    "withdrawn": ["withdraw"],
}
LEGAL = {"submitted": {"accept", "withdraw"},
         "accepted": {"start_review", "return", "withdraw"},
         "under_review": {"return", "approve", "reject", "withdraw"},
         "returned": {"resubmit", "withdraw"},
         "approved": set(), "rejected": set(), "withdrawn": set()}
APPLICANT = {"resubmit", "withdraw"}
ACTIONS = ["accept", "start_review", "return", "resubmit", "approve", "reject", "withdraw"]


@pytest.fixture
def case_in(client, tokens, session, parcel):
    enterprise(session, ME, "srdi_sme")
    enterprise(session, OTHER, "none")

    def make(status: str) -> int:
        case_id = file(client, tokens["enterprise"], parcel()).json()["id"]
        for action in PATHS[status]:
            who = tokens["enterprise"] if action in APPLICANT else tokens["shenzhen"]
            assert step(client, who, case_id, action).status_code == 200
        return case_id

    return make


@pytest.mark.parametrize("status", list(PATHS))
def test_every_action_from_every_status_for_each_role(client, tokens, session, case_in,
                                                      status):
    from tests.matching.test_matching import bearer

    other = bearer(session, OTHER)
    for action in ACTIONS:
        # the rightful actor: 200 when legal, else 409 naming the allowed actions
        case_id = case_in(status)
        rightful = tokens["enterprise"] if action in APPLICANT else tokens["shenzhen"]
        r = step(client, rightful, case_id, action)
        if action in LEGAL[status]:
            assert r.status_code == 200, (status, action, r.text)
        else:
            assert r.status_code == 409, (status, action, r.text)
            assert set(r.json()["allowed"]) == LEGAL[status]
        # the wrong role: a bureau for the applicant's steps, the applicant for the bureau's
        case_id = case_in(status)
        wrong = tokens["shenzhen"] if action in APPLICANT else tokens["enterprise"]
        assert step(client, wrong, case_id, action).status_code == 403, (status, action)
        # a bureau of another jurisdiction: 403; another enterprise: the case does not exist
        assert step(client, tokens["guangzhou"], case_id, action).status_code == 403
        assert step(client, other, case_id, action).status_code == 404
        # an admin may take every legal step
        if action in LEGAL[status]:
            assert step(client, tokens["admin"], case_id, action).status_code == 200


def test_resubmission_goes_back_to_the_stage_it_left(client, tokens, case_in):
    for returned_from in ("accepted", "under_review"):
        case_id = case_in(returned_from)
        assert step(client, tokens["shenzhen"], case_id, "return").json()["status"] == "returned"
        r = step(client, tokens["enterprise"], case_id, "resubmit")
        assert r.json()["status"] == returned_from


def test_the_day_of_a_step_may_not_precede_the_last_nor_lie_ahead(client, tokens, session,
                                                                   parcel):
    enterprise(session, ME, "srdi_sme")
    filed = today() - timedelta(days=20)
    case_id = file(client, tokens["enterprise"], parcel(), filed_on=filed.isoformat()
                   ).json()["id"]
    r = step(client, tokens["shenzhen"], case_id, "accept", on=filed - timedelta(days=1))
    assert r.status_code == 422 and r.json()["code"] == "date_before_last_step"
    r = step(client, tokens["shenzhen"], case_id, "accept", on=today() + timedelta(days=1))
    assert r.status_code == 422 and r.json()["code"] == "date_in_future"
    assert step(client, tokens["shenzhen"], case_id, "accept", on=filed).status_code == 200
    r = file(client, tokens["enterprise"], parcel(),
             filed_on=(today() + timedelta(days=1)).isoformat())
    assert r.status_code == 422 and "filed_on" in r.json()["detail"]
    assert client.get(f"{A}/{case_id}/history", headers=tokens["admin"]).json()["items"][-1][
        "on"] == filed.isoformat()  # the refused steps left nothing behind


def test_filing_bad_input(client, tokens, session, parcel):
    enterprise(session, ME, "srdi_sme")
    pid = parcel()
    for body, code in [({"parcel_id": None}, "missing_field"),
                       ({"parcel_id": 10**9}, "parcel_not_found"),
                       ({"applicant_uscc": OTHER}, "not_registered"),
                       ({"demand_id": 10**9}, "demand_not_applicants")]:
        r = client.post(A, headers=tokens["enterprise"],
                        json={"parcel_id": pid, "project_name": "项目"} | body)
        assert r.status_code == 422 and r.json()["code"] == code, (body, r.text)
    r = client.post(A, headers=tokens["enterprise"], json={"parcel_id": pid})
    assert r.status_code == 422 and "project_name" in r.json()["detail"]
    enterprise(session, OTHER, "none")
    r = file(client, tokens["enterprise"], pid, applicant_uscc=OTHER)
    assert r.status_code == 403
    r = file(client, tokens["guangzhou"], pid, applicant_uscc=ME)  # paper filing outside
    assert r.status_code == 403
    assert file(client, tokens["shenzhen"], pid, applicant_uscc=ME).status_code == 201


def test_reading_a_case(client, tokens, session, case_in):
    from tests.matching.test_matching import bearer

    case_id = case_in("accepted")
    for who, status in [("enterprise", 200), ("shenzhen", 200), ("province", 200),
                        ("admin", 200), ("guangzhou", 404), ("baoan", 404)]:
        assert client.get(f"{A}/{case_id}", headers=tokens[who]).status_code == status, who
    assert client.get(f"{A}/{case_id}", headers=bearer(session, OTHER)).status_code == 404
    assert client.get(f"{A}/{case_id}").status_code == 401
    assert client.get(f"{A}/999999999", headers=tokens["admin"]).status_code == 404


def test_history_lists_every_step_in_order(client, tokens, case_in):
    case_id = case_in("returned")
    step(client, tokens["enterprise"], case_id, "resubmit", comment="已补充规划条件说明")
    items = client.get(f"{A}/{case_id}/history", headers=tokens["enterprise"]).json()["items"]
    assert [(i["action"], i["from_status"], i["to_status"], i["role"]) for i in items] == [
        ("file", None, "submitted", "enterprise"),
        ("accept", "submitted", "accepted", "bureau"),
        ("return", "accepted", "returned", "bureau"),
        ("resubmit", "returned", "accepted", "enterprise"),
    ]
    assert items[-1]["comment"] == "已补充规划条件说明"
    assert [i["seq"] for i in items] == [1, 2, 3, 4]


# -- the queue and the figures ----------------------------------------------------------
# Mon 2025-06-09 … Fri 2025-06-13 and Mon 2025-06-16 … are ordinary working weeks (no
# holiday between the Dragon Boat Festival, 2025-05-31–06-02, and the Mid-Autumn Festival).
MON = date(2025, 6, 9)


def test_the_queue_is_most_urgent_first_green_ahead_at_equal_urgency(client, tokens, session,
                                                                      parcel):
    enterprise(session, ME, "srdi_sme")       # green: acceptance 1 working day
    enterprise(session, OTHER, "none")        # standard: acceptance 3 working days
    green = file(client, tokens["enterprise"], parcel(), filed_on=MON.isoformat()).json()["id"]
    standard = file(client, tokens["shenzhen"], parcel(), applicant_uscc=OTHER,
                    filed_on=MON.isoformat()).json()["id"]
    late_green = file(client, tokens["enterprise"], parcel(),
                      filed_on=(MON + timedelta(days=2)).isoformat()).json()["id"]
    elsewhere = file(client, tokens["enterprise"], parcel(HAIZHU),
                     filed_on=MON.isoformat()).json()["id"]
    # as of Friday 06-13: working days after Monday = Tue..Fri = 4.
    #   green: 4 used of 1 -> 3 overdue (left -3); standard: 4 of 3 -> left -1;
    #   late_green (filed Wed): Thu, Fri = 2 of 1 -> left -1, green: ahead of standard.
    r = client.get(f"{A}?overdue=true&as_of=2025-06-13", headers=tokens["shenzhen"])
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [green, late_green, standard]
    assert [i["stages"][0]["working_days_left"] for i in items] == [-3, -1, -1]
    assert elsewhere not in [i["id"] for i in items]  # Guangzhou's, not Shenzhen's
    # as of Tuesday 06-10 both are on time (1 working day used, of 1 and of 3); the case
    # filed on Wednesday is not in the queue yet
    r = client.get(f"{A}?overdue=false&as_of=2025-06-10", headers=tokens["shenzhen"])
    assert [i["id"] for i in r.json()["items"]] == [green, standard]


def test_the_queue_pages_follow_its_order_with_a_next_link(client, tokens, session, parcel):
    enterprise(session, ME, "srdi_sme")
    ids = [file(client, tokens["enterprise"], parcel(), filed_on=(MON + timedelta(days=k)
                                                                 ).isoformat()).json()["id"]
           for k in range(3)]
    whole = client.get(f"{A}?as_of=2025-06-13", headers=tokens["shenzhen"]).json()
    assert sorted(i["id"] for i in whole["items"]) == sorted(ids)
    seen, url = [], f"{A}?as_of=2025-06-13&limit=2"
    while url:
        page = client.get(url, headers=tokens["shenzhen"]).json()
        seen += [i["id"] for i in page["items"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert seen == [i["id"] for i in whole["items"]]


def test_stats_per_channel(client, tokens, session, parcel):
    enterprise(session, ME, "little_giant")
    cases = []
    # three green cases, filed Monday, with acceptance after 1, 1 and 3 working days,
    # review 2, 4, 6, decision 1, 1, 2 (all on working days of June 2025)
    for acc, rev, dec in ((1, 2, 1), (1, 4, 1), (3, 6, 2)):
        case_id = file(client, tokens["enterprise"], parcel(), filed_on=MON.isoformat()
                       ).json()["id"]
        day = MON
        for action, n in (("accept", acc), ("start_review", rev), ("approve", dec)):
            day = _working_days_after(day, n)
            assert step(client, tokens["shenzhen"], case_id, action, on=day).status_code == 200
        cases.append(case_id)
    r = client.get(f"{A}/stats?jurisdiction=4403&from=2025-06-01&to=2025-06-30",
                   headers=tokens["shenzhen"])
    assert r.status_code == 200, r.text
    green = r.json()["channels"]["green"]
    assert (green["cases"], green["decided"]) == (3, 3)
    # percentile_cont: median of (1,1,3) = 1; P90 = 1 + 0.8 × (3 − 1) = 2.6
    assert (green["stages"]["acceptance"]["median"], green["stages"]["acceptance"]["p90"]) == (
        1, pytest.approx(2.6))
    # review (2,4,6): median 4, P90 = 4 + 0.8 × 2 = 5.6 — over the green limit of 5 once
    assert green["stages"]["review"]["p90"] == pytest.approx(5.6)
    # totals 4, 6, 11: median 6, P90 = 6 + 0.8 × 5 = 10
    assert (green["total"]["median"], green["total"]["p90"]) == (6, pytest.approx(10))
    # overdue: the third case (acceptance 3 > 1, review 6 > 5) — 1 of 3
    assert green["overdue_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert r.json()["channels"]["standard"]["cases"] == 0
    assert client.get(f"{A}/stats?jurisdiction=4401", headers=tokens["shenzhen"]
                      ).status_code == 403
    assert client.get(f"{A}/stats?from=2025-07-01&to=2025-06-01", headers=tokens["shenzhen"]
                      ).status_code == 422
    assert client.get(f"{A}/stats", headers=tokens["enterprise"]).status_code == 403


def _working_days_after(day: date, n: int) -> date:
    """June 2025 has no holiday: the n-th weekday after ``day``."""
    while n:
        day += timedelta(days=1)
        n -= day.weekday() < 5
    return day
