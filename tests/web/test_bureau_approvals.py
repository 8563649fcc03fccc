"""The bureau console's approvals queue and case pages, and the quota pool pages, through a
signed-in TestClient: the queue in the service's own order, steps taken through the case
page's forms (and recorded with the person's name), refusals shown next to the forms with
nothing changed, jurisdiction (404 to read, 403 to act), CSRF."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest

from landsvc import lists
from landsvc.access import OPERATOR, Principal
from landsvc.approvals import service as approvals
from landsvc.approvals.models import ApprovalCase, ApprovalStatus, Channel
from landsvc.enterprises.models import Enterprise
from landsvc.enterprises.tiers import Tier
from landsvc.fields import CHINA, today
from landsvc.quota import service as quota
from landsvc.quota.models import QuotaAllocation
from landsvc.tokens.models import Role
from tests.builders import FUTIAN, HAIZHU, feature, square
from tests.web.conftest import csrf_of, login

GREEN = "91440300MA5FGRN01X"    # an SRDI SME: the green channel
PLAIN = "91440300MA5FPLN02X"    # tier none: the standard channel
SHENZHEN = Principal(Role.bureau, "4403")


# -- builders -------------------------------------------------------------------------------
@pytest.fixture
def firms(session):
    for uscc, tier in ((GREEN, Tier.srdi_sme), (PLAIN, Tier.none)):
        session.add(Enterprise(uscc=uscc, name=f"企业{uscc[-4:]}", district="440304", tier=tier))
    session.flush()


@pytest.fixture
def parcel(client, tokens):
    made = iter(range(1, 1000))

    def make(where=FUTIAN) -> int:
        body = feature(square(*where, 100), code=f"WEB-AP-{next(made):03d}", status="available")
        r = client.post("/api/v1/parcels", json=body, headers=tokens["admin"])
        assert r.status_code == 201, r.text
        return r.json()["id"]

    return make


@pytest.fixture
def case(session, firms, parcel):
    """``case(uscc, filed_days_ago, [(action, days_ago), …], where=FUTIAN)``: a case filed
    and moved through the service; its id."""

    def make(uscc: str, filed: int, steps=(), where=FUTIAN, name="智能装备产业化项目") -> int:
        made = approvals.file_case(session=session, principal=OPERATOR, values={
            "applicant_uscc": uscc, "parcel_id": parcel(where), "project_name": name,
            "filed_on": today() - timedelta(days=filed)})
        for action, ago in steps:
            approvals.transition(session=session, case_id=made["id"], action=action,
                                 on=today() - timedelta(days=ago), principal=OPERATOR)
        return made["id"]

    return make


def queue_ids(html: str) -> list[int]:
    table = html[html.index('id="approval-queue"'):]
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', table)]


def service_queue(session, principal=SHENZHEN, **filters) -> list[int]:
    args = {"status": None, "channel": None, "overdue": None, "as_of": None} | filters
    items, _ = approvals.search_cases(session=session, page=lists.Page(50, 0),
                                      principal=principal, **args)
    return [c["id"] for c in items]


def signed_in(client, web_user, role="bureau", **binding) -> str:
    name = web_user(role, **binding)
    assert login(client, name).status_code == 303
    return name


def step(client, case_id, action, *, csrf=None, comment=None, on=None):
    if csrf is None:
        csrf = csrf_of(client.get(f"/bureau/approvals/{case_id}").text)
    data = {"action": action, "csrf_token": csrf} | ({"comment": comment} if comment else {}) \
        | ({"on": on} if on else {})
    return client.post(f"/bureau/approvals/{case_id}/transitions", data=data,
                       follow_redirects=False)


# -- the queue ------------------------------------------------------------------------------
@pytest.fixture
def queue(case):
    """Five Shenzhen cases and one in Guangzhou.

    - ``late``: standard, filed 30 days ago, never accepted: its acceptance (3 days) overdue;
    - ``green`` and ``plain`` have their open stage opened the same day with the same limit
      (green review 5, standard decision 5), so equally urgent; ``plain`` was filed earlier,
      yet ``green`` comes first;
    - ``fresh``: standard, filed today;
    - ``done``: approved — closed, last;
    - ``canton``: Guangzhou, never in a Shenzhen bureau's queue.
    """
    return {
        "late": case(PLAIN, 30),
        "plain": case(PLAIN, 25, [("accept", 20), ("start_review", 7)]),
        "green": case(GREEN, 12, [("accept", 7)]),
        "fresh": case(PLAIN, 0),
        "done": case(GREEN, 20, [("accept", 18), ("start_review", 16), ("approve", 15)]),
        "canton": case(GREEN, 5, where=HAIZHU),
    }


def test_the_queue_lists_the_services_queue_in_its_order(client, session, web_user, queue):
    signed_in(client, web_user, jurisdiction="4403")
    r = client.get("/bureau/approvals")
    assert r.status_code == 200, r.text
    shown = queue_ids(r.text)
    assert shown == service_queue(session)
    mine = [i for i in shown if i in queue.values()]
    assert queue["canton"] not in shown
    # overdue first, the green case ahead of the equally urgent standard one, closed last
    assert mine.index(queue["late"]) < mine.index(queue["green"]) < mine.index(queue["plain"])
    assert mine[-1] == queue["done"]
    case = approvals.get_case(session=session, case_id=queue["late"], principal=SHENZHEN)
    assert case["overdue"] and case["stage"] == "acceptance"
    row = re.search(rf'<tr data-id="{queue["late"]}"[^>]*>(.*?)</tr>', r.text, re.S)
    assert 'class="overdue"' in row[0] and "逾期" in row[1]
    left = case["stages"][0]["working_days_left"]
    assert f'<span class="countdown bad">{left}</span>' in row[1]
    assert "普通通道" in row[1] and "已提交" in row[1] and PLAIN in row[1] and "福田区" in row[1]
    green_row = re.search(rf'<tr data-id="{queue["green"]}"[^>]*>(.*?)</tr>', r.text, re.S)
    assert "绿色通道" in green_row[1] and "审查" in green_row[1]
    green = approvals.get_case(session=session, case_id=queue["green"], principal=SHENZHEN)
    assert green["stages"][1]["deadline"] in green_row[1]


def test_the_queue_filters_are_the_services(client, session, web_user, queue):
    signed_in(client, web_user, jurisdiction="4403")
    past = (today() - timedelta(days=10)).isoformat()
    for params, filters in (
            ({"overdue": "true"}, {"overdue": True}),
            ({"status": "submitted"}, {"status": ApprovalStatus.submitted}),
            ({"channel": "green"}, {"channel": Channel.green}),
            ({"as_of": past}, {"as_of": today() - timedelta(days=10)}),
            ({"status": "", "channel": "", "as_of": ""}, {})):
        r = client.get("/bureau/approvals", params=params)
        assert r.status_code == 200, (params, r.text)
        assert queue_ids(r.text) == service_queue(session, **filters), params
    overdue = queue_ids(client.get("/bureau/approvals", params={"overdue": "true"}).text)
    assert queue["late"] in overdue and queue["fresh"] not in overdue
    as_of = queue_ids(client.get("/bureau/approvals", params={"as_of": past}).text)
    assert queue["fresh"] not in as_of  # filed after that day
    r = client.get("/bureau/approvals", params={"as_of": "2026-02-30", "status": "bogus"})
    assert r.status_code == 422
    assert "日期格式应为 YYYY-MM-DD" in r.text and "无此选项" in r.text


def test_the_queue_pages_through_the_services_order(client, session, web_user, queue,
                                                   monkeypatch):
    from landsvc.web.bureau import approvals as pages

    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    signed_in(client, web_user, jurisdiction="4403")
    whole = service_queue(session)
    assert len(whole) == 5
    first = client.get("/bureau/approvals", params={"channel": ""}).text
    assert queue_ids(first) == whole[:2] and "共 5 条，第 1–2 条" in first
    assert 'href="/bureau/approvals?offset=2" rel="next"' in first  # a blank filter is dropped
    second = client.get("/bureau/approvals", params={"channel": "", "offset": 2}).text
    assert queue_ids(second) == whole[2:4] and "共 5 条，第 3–4 条" in second
    assert 'href="/bureau/approvals" rel="prev"' in second and 'offset=4" rel="next"' in second
    last = client.get("/bureau/approvals", params={"offset": 4}).text
    assert queue_ids(last) == whole[4:] and 'rel="next"' not in last
    assert client.get("/bureau/approvals", params={"offset": -1}).status_code == 422


def test_a_province_bureau_sees_guangzhou_too_and_an_enterprise_may_not_open_the_console(
        client, session, web_user, queue):
    signed_in(client, web_user, jurisdiction="44")
    shown = queue_ids(client.get("/bureau/approvals").text)
    assert queue["canton"] in shown
    assert shown == service_queue(session, principal=Principal(Role.bureau, "44"))
    client.cookies.clear()
    assert client.get("/bureau/approvals", follow_redirects=False).headers["location"] \
        .startswith("/login")
    signed_in(client, web_user, "enterprise", enterprise_uscc=GREEN)
    assert client.get("/bureau/approvals").status_code == 403


# -- the case page --------------------------------------------------------------------------
def test_accept_review_approve_through_the_forms(client, session, web_user, case):
    name = signed_in(client, web_user, jurisdiction="4403")
    case_id = case(GREEN, 3)
    page = client.get(f"/bureau/approvals/{case_id}")
    assert page.status_code == 200
    assert 'id="step-accept"' in page.text and 'id="step-approve"' not in page.text
    assert 'id="step-withdraw"' not in page.text  # the applicant's step, not the bureau's
    applicant = re.search(r'<dd id="applicant">(.*?)</dd>', page.text, re.S)[1]
    assert f"企业{GREEN[-4:]}" in applicant and GREEN in applicant and "专精特新中小企业" in applicant
    on = (today() - timedelta(days=2)).isoformat()
    for action, status, comment in (("accept", "accepted", "材料齐全，予以受理"),
                                    ("start_review", "under_review", None),
                                    ("approve", "approved", "符合供地条件")):
        r = step(client, case_id, action, comment=comment, on=on)
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/bureau/approvals/{case_id}"
        assert approvals.get_case(session=session, case_id=case_id,
                                  principal=SHENZHEN)["status"] == status
        last = approvals.history(session=session, case_id=case_id, principal=SHENZHEN)[-1]
        assert (last["action"], last["to_status"], last["on"].isoformat(), last["comment"]) \
            == (action, status, on, comment)
        assert last["actor"] == f"bureau:4403 user:{name}"
        assert last["actor"].endswith(f"user:{name}")
    page = client.get(f"/bureau/approvals/{case_id}").text
    history = re.findall(r'<li data-action="([a-z_]+)" data-actor="([^"]+)"', page)
    assert history == [("file", "admin:")] + [(a, f"bureau:4403 user:{name}")
                                              for a in ("accept", "start_review", "approve")]
    assert "已批准" in page and "符合供地条件" in page and 'id="step-' not in page
    assert "没有可办理的步骤" in page


def test_an_illegal_step_shows_the_409_and_changes_nothing(client, session, web_user, case):
    signed_in(client, web_user, jurisdiction="4403")
    case_id = case(PLAIN, 3)
    before = approvals.history(session=session, case_id=case_id, principal=SHENZHEN)
    r = step(client, case_id, "approve", comment="越级批准")
    assert r.status_code == 409
    assert "不能执行 approve" in r.text and "当前可执行：受理、撤回" in r.text
    assert "「批准」未能执行" in r.text
    assert approvals.get_case(session=session, case_id=case_id,
                              principal=SHENZHEN)["status"] == "submitted"
    assert approvals.history(session=session, case_id=case_id, principal=SHENZHEN) == before
    r = step(client, case_id, "fly")
    assert r.status_code == 422 and "「fly」未能执行：取值无效" in r.text
    r = step(client, case_id, "withdraw")  # the applicant's step
    assert r.status_code == 403 and "withdraw：只有申请人可以执行" in r.text
    assert approvals.history(session=session, case_id=case_id, principal=SHENZHEN) == before


def test_a_bad_day_is_shown_next_to_the_form_with_the_input_kept(client, session, web_user,
                                                                   case):
    signed_in(client, web_user, jurisdiction="4403")
    case_id = case(PLAIN, 3)
    before_filing = (today() - timedelta(days=5)).isoformat()
    r = step(client, case_id, "accept", comment="补登受理", on=before_filing)
    assert r.status_code == 422
    error = re.search(r'<p class="error" id="e-accept-on" role="alert">([^<]+)</p>', r.text)
    assert error and "早于上一步骤的日期" in error[1]
    assert f'value="{before_filing}"' in r.text and ">补登受理</textarea>" in r.text
    r = step(client, case_id, "accept", on="2026-02-30")
    assert r.status_code == 422
    assert re.search(r'id="e-accept-on" role="alert">日期格式应为 YYYY-MM-DD', r.text)
    future = (today() + timedelta(days=1)).isoformat()
    r = step(client, case_id, "accept", on=future)
    assert r.status_code == 422 and "在将来" in r.text
    assert approvals.get_case(session=session, case_id=case_id,
                              principal=SHENZHEN)["status"] == "submitted"
    assert len(approvals.history(session=session, case_id=case_id, principal=SHENZHEN)) == 1


def test_another_citys_bureau_reads_404_and_acts_403(client, session, web_user, case):
    case_id = case(GREEN, 3)
    signed_in(client, web_user, jurisdiction="4401")
    r = client.get(f"/bureau/approvals/{case_id}")
    assert r.status_code == 404 and f"用地审批 {case_id} 不存在" in r.text
    csrf = csrf_of(client.get("/bureau/approvals").text)
    r = step(client, case_id, "accept", csrf=csrf)
    assert r.status_code == 403 and "超出管辖范围" in r.text
    assert approvals.get_case(session=session, case_id=case_id,
                              principal=SHENZHEN)["status"] == "submitted"


def test_a_step_without_the_csrf_token_is_refused(client, session, web_user, case):
    signed_in(client, web_user, jurisdiction="4403")
    case_id = case(GREEN, 3)
    r = client.post(f"/bureau/approvals/{case_id}/transitions", data={"action": "accept"},
                    follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    r = step(client, case_id, "accept", csrf="x" * 43)
    assert r.status_code == 403
    assert approvals.get_case(session=session, case_id=case_id,
                              principal=SHENZHEN)["status"] == "submitted"


# -- quota pools ----------------------------------------------------------------------------
def approved_case(session, parcel, *, area_m2: str, uscc: str) -> int:
    row = ApprovalCase(applicant_uscc=uscc, parcel_id=parcel(), project_name="小巨人扩产项目",
                       area_m2=Decimal(area_m2), district="440304", channel=Channel.green,
                       channel_reason="小巨人", applicant_tier=Tier.little_giant,
                       status=ApprovalStatus.approved, filed_on=today() - timedelta(days=30),
                       last_step_on=today())
    session.add(row)
    session.flush()
    return row.id


@pytest.fixture
def giant(session):
    uscc = "91440300MA5FGNT03X"
    session.add(Enterprise(uscc=uscc, name="小巨人企业", district="440304",
                           tier=Tier.little_giant, tier_valid_from=today() - timedelta(days=300),
                           evaluation_year=2025, evaluation_grade="A"))
    session.flush()
    return uscc


def pool_figures(html: str) -> tuple[str, str, str]:
    return tuple(re.search(rf'id="{k}-ha">([^<]+)</p>', html)[1]
                 for k in ("total", "allocated", "remaining"))


def test_quota_create_allocate_overallocate_and_cancel(client, session, web_user, parcel,
                                                       giant):
    signed_in(client, web_user, jurisdiction="44")
    page = client.get("/bureau/quota")
    assert page.status_code == 200 and 'id="quota-create"' in page.text
    r = client.post("/bureau/quota", follow_redirects=False, data={
        "csrf_token": csrf_of(page.text), "year": "2026", "scope": "4403",
        "name": "网页测试指标", "total_ha": "2.5"})
    assert r.status_code == 303, r.text
    pool_id = int(r.headers["location"].rsplit("/", 1)[1])
    made = quota.get_pool(session=session, pool_id=pool_id, principal=OPERATOR)
    assert (made["scope"], made["name"], made["total_ha"], made["created_by"]) == (
        "4403", "网页测试指标", 2.5, "bureau:44")
    small = approved_case(session, parcel, area_m2="12000", uscc=giant)     # 1.2 ha
    big = approved_case(session, parcel, area_m2="14000.5", uscc=giant)     # 1.40005 ha
    page = client.get(f"/bureau/quota/{pool_id}")
    assert pool_figures(page.text) == ("2.5000 公顷", "0.0000 公顷", "2.5000 公顷")
    csrf = csrf_of(page.text)
    r = client.post(f"/bureau/quota/{pool_id}/allocations", follow_redirects=False,
                    data={"csrf_token": csrf, "approval_id": str(small)})
    assert r.status_code == 303, r.text
    page = client.get(f"/bureau/quota/{pool_id}").text
    assert pool_figures(page) == ("2.5000 公顷", "1.2000 公顷", "1.3000 公顷")
    # 1.4001 ha wanted, 1.3 left: 409 naming what is left, nothing changed
    r = client.post(f"/bureau/quota/{pool_id}/allocations", follow_redirects=False,
                    data={"csrf_token": csrf, "approval_id": str(big)})
    assert r.status_code == 409
    assert re.search(r'id="refusal-remaining">1\.3000</strong>', r.text)
    assert f"用地指标 {pool_id} 剩余 1.3 公顷，不足本次所需 1.4001 公顷" in r.text
    assert f'value="{big}"' in r.text
    after = quota.get_pool(session=session, pool_id=pool_id, principal=OPERATOR)
    assert (after["allocated_ha"], after["remaining_ha"]) == (1.2, 1.3)
    assert [a["approval_id"] for a in after["allocations"]] == [small]
    assert session.query(QuotaAllocation).filter_by(approval_id=big).count() == 0
    # an unapproved case: 409 too
    pending = approved_case(session, parcel, area_m2="100", uscc=giant)
    session.get(ApprovalCase, pending).status = ApprovalStatus.under_review
    session.flush()
    r = client.post(f"/bureau/quota/{pool_id}/allocations", follow_redirects=False,
                    data={"csrf_token": csrf, "approval_id": str(pending)})
    assert r.status_code == 409 and "只有已批准的案件可以使用指标" in r.text
    r = client.post(f"/bureau/quota/{pool_id}/allocations", follow_redirects=False,
                    data={"csrf_token": csrf, "approval_id": "十二"})
    assert r.status_code == 422 and "应为整数" in r.text
    # cancelling returns the hectares; then the big case fits
    allocation_id = after["allocations"][0]["id"]
    r = client.post(f"/bureau/quota/{pool_id}/allocations/{allocation_id}/cancel",
                    data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/bureau/quota/{pool_id}").text
    assert pool_figures(page) == ("2.5000 公顷", "0.0000 公顷", "2.5000 公顷")
    assert "撤销退回" in page and "-1.2000" in page
    moved = quota.get_pool(session=session, pool_id=pool_id, principal=OPERATOR)["movements"]
    assert [m["kind"] for m in moved] == ["allocate", "cancel"]
    assert moved[-1]["at"].astimezone(CHINA).strftime("%Y-%m-%d %H:%M") in page  # Beijing
    r = client.post(f"/bureau/quota/{pool_id}/allocations/{allocation_id}/cancel",
                    data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 409 and "已于" in r.text
    r = client.post(f"/bureau/quota/{pool_id}/allocations", follow_redirects=False,
                    data={"csrf_token": csrf, "approval_id": str(big)})
    assert r.status_code == 303
    final = quota.get_pool(session=session, pool_id=pool_id, principal=OPERATOR)
    assert (final["allocated_ha"], final["remaining_ha"]) == (1.4001, 1.0999)


def test_quota_form_errors_and_who_may_manage(client, session, web_user, parcel, giant):
    signed_in(client, web_user, jurisdiction="44")
    csrf = csrf_of(client.get("/bureau/quota").text)
    r = client.post("/bureau/quota", data={"csrf_token": csrf, "year": "2026", "scope": "45",
                                           "name": "外省指标", "total_ha": "3"})
    assert r.status_code == 422 and "广东省没有行政区划 45" in r.text
    assert 'value="外省指标"' in r.text
    r = client.post("/bureau/quota", data={"csrf_token": csrf, "scope": "44", "name": "缺年度"})
    assert r.status_code == 422
    assert re.search(r'id="e-year" role="alert">必填', r.text)
    assert re.search(r'id="e-total_ha" role="alert">必填', r.text)
    made = quota.create_pool(session=session, principal=OPERATOR, body={
        "year": 2026, "scope": "44", "name": "省级指标", "total_ha": 10})
    # a city bureau reads the provincial pool but may neither create nor allocate
    client.cookies.clear()
    signed_in(client, web_user, jurisdiction="4403")
    page = client.get("/bureau/quota")
    assert page.status_code == 200 and 'id="quota-create"' not in page.text
    assert f'<tr data-id="{made["id"]}">' in page.text
    page = client.get(f"/bureau/quota/{made['id']}")
    assert page.status_code == 200 and 'id="quota-allocate"' not in page.text
    csrf = csrf_of(page.text)
    r = client.post("/bureau/quota", data={"csrf_token": csrf, "year": "2026", "scope": "4403",
                                           "name": "市级指标", "total_ha": "3"})
    assert r.status_code == 403 and "省级用地指标只能由省级" in r.text
    case_id = approved_case(session, parcel, area_m2="100", uscc=giant)
    r = client.post(f"/bureau/quota/{made['id']}/allocations",
                    data={"csrf_token": csrf, "approval_id": str(case_id)})
    assert r.status_code == 403
    assert quota.get_pool(session=session, pool_id=made["id"],
                          principal=OPERATOR)["allocations"] == []
    # a Guangzhou pool is not a Shenzhen bureau's to read
    canton = quota.create_pool(session=session, principal=OPERATOR, body={
        "year": 2026, "scope": "4401", "name": "广州指标", "total_ha": 1})
    assert client.get(f"/bureau/quota/{canton['id']}").status_code == 404
    # an admin manages
    client.cookies.clear()
    signed_in(client, web_user, "admin")
    assert 'id="quota-create"' in client.get("/bureau/quota").text
