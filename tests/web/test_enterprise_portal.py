"""The enterprise portal's overview, profile, consortia, approval cases, notifications and
utility complaints, through the real login form on a TestClient: the figures shown are the
services' own (read back independently), refusals come back next to their field with
nothing stored, and the access rules hold (another enterprise's case 404, a bureau 403,
anonymous to the login page)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import shapely
from sqlalchemy import func, select

from landsvc import lists
from landsvc.access import OPERATOR, Principal
from landsvc.approvals import service as approvals
from landsvc.demands.service import create_demand
from landsvc.demo import demo_uscc
from landsvc.enterprises import service as enterprises
from landsvc.enterprises.models import Consortium, Enterprise
from landsvc.fields import today
from landsvc.notifications.models import Notification
from landsvc.parcels.service import create_parcel
from landsvc.tokens.models import Role
from landsvc.utilities import service as utilities
from landsvc.utilities.models import UtilityComplaint
from tests.builders import FUTIAN, square
from tests.matching.test_matching import offer  # noqa: F401  (fixture: published offerings)
from tests.web.conftest import csrf_of, login

ME = demo_uscc(7001, "440300")
OTHER = demo_uscc(7002, "440300")
THIRD = demo_uscc(7003, "440300")
SHENZHEN = Principal(Role.bureau, jurisdiction="4403", username="officer")


def register(session, uscc, name, *, tier="none", valid_from=None, valid_to=None,
             grade=None) -> dict:
    props = {"uscc": uscc, "name": name, "district": "440304", "industry_code": "C34",
             "tier": tier, "tier_valid_from": valid_from, "tier_valid_to": valid_to}
    if grade:
        props |= {"evaluation_year": today().year - 1, "evaluation_grade": grade}
    record, _ = enterprises.create_enterprise(session=session, properties=props)
    return record


@pytest.fixture
def me(client, web_user, session):
    """Signed in as the enterprise ME (registered, a little giant); the username."""
    register(session, ME, "深圳精工装备有限公司", tier="little_giant", grade="A")
    name = web_user("enterprise", enterprise_uscc=ME)
    assert login(client, name).status_code == 303
    return name


_parcels = iter(range(1, 10_000))


def parcel(session, where=FUTIAN) -> int:
    made, _ = create_parcel(session=session, geometry=shapely.geometry.mapping(square(*where)),
                            properties={"code": f"EP-{next(_parcels):04d}",
                                        "status": "available"})
    return made["id"]


def file_case(session, uscc=ME, days_ago=20, project="智能装备产业化项目") -> dict:
    return approvals.file_case(session=session, principal=OPERATOR, values={
        "applicant_uscc": uscc, "parcel_id": parcel(session), "project_name": project,
        "investment_wan": 12000, "industry_code": "C34",
        "filed_on": today() - timedelta(days=days_ago)})


def step(session, case_id, action, days_ago=0, principal=SHENZHEN):
    return approvals.transition(session=session, case_id=case_id, action=action,
                                on=today() - timedelta(days=days_ago), principal=principal)


def text_of(fragment: str) -> str:
    """The visible text of an HTML fragment, entities decoded and spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


def element(page: str, pattern: str) -> str:
    found = re.search(pattern, page, re.S)
    assert found, pattern
    return found[1]


# -- access ---------------------------------------------------------------------------------
def test_anonymous_visitors_go_to_log_in_and_bureaus_are_refused(client, web_user):
    for path in ("/enterprise/", "/enterprise/approvals", "/enterprise/complaints/new"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == f"/login?next={path}"
    officer = web_user("bureau", jurisdiction="4403")
    login(client, officer)
    for path in ("/enterprise/", "/enterprise/profile", "/enterprise/approvals"):
        r = client.get(path)
        assert r.status_code == 403
        assert "此页面仅供企业使用" in r.text


# -- overview ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("valid_to", "effective", "noted"), [
    (1, "专精特新中小企业", False),            # in force through tomorrow
    (0, "专精特新中小企业", False),            # in force through today itself
    (-1, "无", True),                      # lapsed yesterday: none today, with a note
])
def test_the_overview_shows_the_tier_in_force_today(client, web_user, session, valid_to,
                                                      effective, noted):
    end = today() + timedelta(days=valid_to)
    register(session, OTHER, "佛山精密模具有限公司", tier="srdi_sme",
             valid_from=today() - timedelta(days=400), valid_to=end, grade="B")
    login(client, web_user("enterprise", enterprise_uscc=OTHER))
    r = client.get("/enterprise/")
    assert r.status_code == 200
    assert "<h1>佛山精密模具有限公司</h1>" in r.text
    # the service's own answer, read independently
    record, _ = enterprises.get_enterprise(session=session, uscc=OTHER, principal=OPERATOR)
    assert record["effective_tier_label"] == effective
    shown = text_of(element(r.text, r'<dd id="effective-tier">(.*?)</dd>'))
    assert shown.startswith(effective)
    assert ("可走绿色通道" in shown) is (not noted)
    assert OTHER in r.text and "专精特新中小企业" in r.text
    assert f"{(today() - timedelta(days=400)).isoformat()} 至 {end.isoformat()}" in r.text
    assert f"{today().year - 1} 年度 B类" in r.text
    note = re.search(r'id="tier-note">(.*?)</div>', r.text, re.S)
    assert (note is not None) is noted
    if noted:
        assert f"已于 {end.isoformat()} 到期" in note[1]


def test_the_overview_counts_cases_overdue_ones_and_links_the_sections(client, me, session):
    late = file_case(session, days_ago=30)            # acceptance long past its limit
    fresh = file_case(session, days_ago=0)
    done = file_case(session, days_ago=30)
    step(session, done["id"], "withdraw", principal=Principal(Role.enterprise,
                                                              enterprise_uscc=ME))
    r = client.get("/enterprise/")
    assert r.status_code == 200
    overdue = [c for c in (approvals.get_case(session=session, case_id=i, principal=OPERATOR)
                           for i in (late["id"], fresh["id"])) if c["overdue"]]
    assert [c["id"] for c in overdue] == [late["id"]]
    assert text_of(element(r.text, r'id="count-cases">(.*?)</a>')) == "2"
    assert "（共 3 件）" in r.text
    assert text_of(element(r.text, r'id="count-overdue">(.*?)</span>')) == "1 件超期"
    assert text_of(element(r.text, r'id="count-unread">(.*?)</a>')) == "0"
    for href in ("/enterprise/demands", "/enterprise/approvals", "/enterprise/consortia",
                 "/enterprise/notifications", "/enterprise/complaints", "/enterprise/profile"):
        assert f'href="{href}"' in r.text
    assert 'href="/enterprise/" aria-current="page"' in r.text
    # the most urgent first: the overdue case is the first row
    rows = re.findall(r'<a href="/enterprise/approvals/(\d+)">', r.text)
    assert rows[:2] == [str(late["id"]), str(fresh["id"])]


def test_an_unregistered_enterprise_registers_itself_only(client, web_user, session):
    login(client, web_user("enterprise", enterprise_uscc=THIRD))
    r = client.get("/enterprise/")
    assert r.status_code == 200 and "登记企业信息" in r.text
    assert f'value="{THIRD}"' in r.text
    token = csrf_of(r.text)
    body = {"csrf_token": token, "uscc": OTHER, "name": "冒名有限公司", "district": "440304"}
    r = client.post("/enterprise/register", data=body)
    assert r.status_code == 403
    error = element(r.text, r'<p class="error" id="e-uscc" role="alert">(.*?)</p>')
    assert "只能登记本企业" in error
    assert 'value="冒名有限公司"' in r.text                     # the input kept
    assert session.get(Enterprise, OTHER) is None
    r = client.post("/enterprise/register", data=body | {"uscc": THIRD, "name": ""})
    assert r.status_code == 422
    assert element(r.text, r'id="e-name" role="alert">(.*?)</p>') == "必填"
    r = client.post("/enterprise/register", data=body | {"uscc": THIRD, "name": "东莞新材料有限公司",
                                                        "industry_code": "C26"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/enterprise/"
    stored = session.get(Enterprise, THIRD)
    assert (stored.name, stored.district, stored.industry_code, stored.tier) == (
        "东莞新材料有限公司", "440304", "C26", "none")


# -- profile ------------------------------------------------------------------------------------
def test_the_profile_edits_own_fields_and_shows_the_tier_read_only(client, me, session):
    r = client.get("/enterprise/profile")
    assert r.status_code == 200
    assert 'name="tier"' not in r.text and "专精特新“小巨人”企业" in r.text
    body = {"csrf_token": csrf_of(r.text), "version": html.unescape(element(r.text, r'name="version" value="([^"]+)"')),
            "name": "深圳精工装备股份有限公司", "district": "440306", "industry_code": "C3411",
            "webhook_url": "", "tier": "none"}
    r = client.post("/enterprise/profile", data=body, follow_redirects=False)
    assert r.status_code == 303, r.text
    record, _ = enterprises.get_enterprise(session=session, uscc=ME, principal=OPERATOR)
    assert (record["name"], record["district"], record["industry_code"], record["tier"]) == (
        "深圳精工装备股份有限公司", "440306", "C3411", "little_giant")
    # a version not current (someone changed the record meanwhile): 412, nothing saved
    # (the test's one transaction never changes xmin, so a stale tag is made up)
    r = client.post("/enterprise/profile", data=body | {"name": "旧版本覆盖",
                                                        "version": f'"{ME}.1"'})
    assert r.status_code == 412 and "已被修改" in r.text
    assert session.get(Enterprise, ME).name == "深圳精工装备股份有限公司"
    # a rule of the service next to its field
    r = client.post("/enterprise/profile", data=body | {"version": "", "district": "110101"})
    assert r.status_code == 422
    assert "不是广东省的区县行政区划代码" in element(r.text, r'id="e-district" role="alert">(.*?)</p>')


# -- consortia ----------------------------------------------------------------------------------
def test_consortium_errors_are_shown_next_to_their_fields_and_nothing_is_stored(
        client, me, session):
    register(session, OTHER, "佛山配套加工有限公司")
    count = session.scalar(select(func.count()).select_from(Consortium))
    page = client.get("/enterprise/consortia/new")
    token = csrf_of(page.text)

    def post(rows, lead=ME, name="珠三角智造联合体"):
        data = {"csrf_token": token, "name": name, "lead_uscc": lead,
                "member_uscc": [u for u, _ in rows], "member_share": [s for _, s in rows]}
        return client.post("/enterprise/consortia/new", data=data, follow_redirects=False)

    # shares summing to 90: the members' error, the rows kept
    r = post([(ME, "60"), (OTHER, "30"), ("", "")])
    assert r.status_code == 422
    assert "各成员出资比例之和须为 100%，现为 90%" in element(
        r.text, r'<p class="error" id="e-members" role="alert">(.*?)</p>')
    assert f'value="{OTHER}"' in r.text and 'value="30"' in r.text
    # a bad share in the third row of the form (a blank row before it): that row's cell
    r = post([(ME, "60"), ("", ""), (OTHER, "abc")])
    assert r.status_code == 422
    assert element(r.text, r'id="e-m-share-2" role="alert">(.*?)</p>') == "应为数字"
    # a member that is not registered, and a lead that is not a member
    r = post([(ME, "50"), (THIRD, "50")])
    assert r.status_code == 422 and "尚未登记" in r.text
    r = post([(ME, "50"), (OTHER, "50")], lead=THIRD)
    assert r.status_code == 422
    assert "须是成员之一" in element(r.text, r'id="e-lead_uscc" role="alert">(.*?)</p>')
    assert session.scalar(select(func.count()).select_from(Consortium)) == count
    # right: stored, listed with members, shares, lead and the tier in force
    r = post([(ME, "60"), (OTHER, "40")])
    assert r.status_code == 303, r.text
    made = enterprises.search_consortia(session=session, flt=enterprises.ConsortiumFilter(ME),
                                        page=lists.Page(),
                                        principal=OPERATOR)[0]
    assert [c["name"] for c in made] == ["珠三角智造联合体"]
    listed = client.get("/enterprise/consortia").text
    assert "珠三角智造联合体" in listed and "60.00%" in listed and "40.00%" in listed
    assert f"今日有效梯度：<strong>{made[0]['effective_tier_label']}</strong>" in listed


# -- approval cases -----------------------------------------------------------------------------
def stage_row(page: str, stage: str) -> dict[str, str]:
    row = element(page, rf'<tr data-stage="{stage}"[^>]*>(.*?)</tr>')
    return {k: text_of(v) for k, v in re.findall(r'data-field="(\w+)">(.*?)</td>', row, re.S)}


def test_the_case_page_shows_the_stage_figures_the_service_computes(client, me, session):
    case = file_case(session, days_ago=25)
    step(session, case["id"], "accept", days_ago=21)
    step(session, case["id"], "start_review", days_ago=14)
    r = client.get(f"/enterprise/approvals/{case['id']}")
    assert r.status_code == 200
    served = approvals.get_case(session=session, case_id=case["id"], principal=OPERATOR)
    assert served["stage"] == "decision"
    for s in served["stages"]:
        shown = stage_row(r.text, s["stage"])
        assert shown["started_on"] == (s["started_on"] or "—")
        assert shown["deadline"] == (s["deadline"] or "—")
        assert int(shown["working_days_limit"]) == s["working_days_limit"]
        assert int(shown["working_days_used"]) == s["working_days_used"]
        assert int(shown["working_days_left"]) == s["working_days_left"]
    decision = next(s for s in served["stages"] if s["stage"] == "decision")
    assert decision["overdue"]                       # 14 days ago: past any decision limit
    assert 'class="badge s-overdue">超期' in r.text
    assert f"已超期 {-decision['working_days_left']} 个工作日" in r.text
    assert "绿色通道" in r.text and served["channel_reason"] in r.text
    # the bureau's steps are not offered to the applicant; withdraw is
    assert 'name="action" value="withdraw"' in r.text
    assert 'value="approve"' not in r.text and 'value="return"' not in r.text
    # the list: the same countdown, the row marked overdue
    listed = client.get("/enterprise/approvals").text
    assert re.search(rf'<tr data-case="{case["id"]}" class="overdue">', listed)
    assert decision["deadline"] in listed


def test_a_returned_case_is_resubmitted_by_the_signed_in_user(client, me, session):
    case = file_case(session, days_ago=10)
    step(session, case["id"], "accept", days_ago=8)
    step(session, case["id"], "return", days_ago=5)
    page = client.get(f"/enterprise/approvals/{case['id']}")
    assert stage_row(page.text, "review")["deadline"] == "暂停"
    assert 'data-field="paused"' in page.text
    comment = "已补充<script>alert('x')</script>环评材料 & 图纸"
    r = client.post(f"/enterprise/approvals/{case['id']}/transitions",
                    data={"csrf_token": csrf_of(page.text), "action": "resubmit",
                          "comment": comment}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/enterprise/approvals/{case['id']}"
    served = approvals.get_case(session=session, case_id=case["id"], principal=OPERATOR)
    assert served["status"] == "accepted"            # back to the stage it was returned from
    last = approvals.history(session=session, case_id=case["id"], principal=OPERATOR)[-1]
    assert (last["action"], last["comment"], last["on"]) == ("resubmit", comment, today())
    assert last["actor"] == f"enterprise:{ME} user:{me}"
    shown = client.get(f"/enterprise/approvals/{case['id']}").text
    assert "<script>alert('x')</script>" not in shown
    assert "已补充&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;环评材料 &amp; 图纸" in shown
    assert f"企业 {ME}（{me}）" in shown
    # a comment over the API's 2000 characters: the message under that form's field, kept
    r = client.post(f"/enterprise/approvals/{case['id']}/transitions",
                    data={"csrf_token": csrf_of(shown), "action": "withdraw",
                          "comment": "长" * 2001})
    assert r.status_code == 422
    assert element(r.text, r'id="e-c-withdraw" role="alert">(.*?)</p>') == "不能超过 2000 个字符"
    assert "长" * 2001 in r.text
    # resubmitting again is not allowed now: the page says so, nothing recorded
    r = client.post(f"/enterprise/approvals/{case['id']}/transitions",
                    data={"csrf_token": csrf_of(shown), "action": "resubmit"})
    assert r.status_code == 409 and 'class="alert error"' in r.text
    assert len(approvals.history(session=session, case_id=case["id"],
                                 principal=OPERATOR)) == 4


def test_another_enterprises_case_does_not_exist_for_me(client, me, session):
    register(session, OTHER, "别家企业有限公司")
    theirs = file_case(session, uscc=OTHER)
    r = client.get(f"/enterprise/approvals/{theirs['id']}")
    assert r.status_code == 404 and "不存在" in r.text
    page = client.get("/enterprise/approvals")
    assert f"/enterprise/approvals/{theirs['id']}" not in page.text
    r = client.post(f"/enterprise/approvals/{theirs['id']}/transitions",
                    data={"csrf_token": csrf_of(page.text), "action": "withdraw"})
    assert r.status_code == 404
    assert approvals.get_case(session=session, case_id=theirs["id"],
                              principal=OPERATOR)["status"] == "submitted"
    # without the form's token nothing happens either
    mine = file_case(session)
    r = client.post(f"/enterprise/approvals/{mine['id']}/transitions",
                    data={"action": "withdraw"})
    assert r.status_code == 403
    assert approvals.get_case(session=session, case_id=mine["id"],
                              principal=OPERATOR)["status"] == "submitted"


# -- notifications ------------------------------------------------------------------------------
def test_notifications_link_the_offering_and_the_demand_and_are_marked_read(
        client, me, session, offer):  # noqa: F811
    demand, _ = create_demand(session=session, principal=Principal(Role.enterprise,
                                                                   enterprise_uscc=ME),
                              values={"kinds": ["land"], "near": {
                                  "lon": FUTIAN[0], "lat": FUTIAN[1], "radius_km": 5}})
    oid = offer()
    told = session.scalars(select(Notification).where(Notification.enterprise_uscc == ME)).all()
    assert [(n.offering_id, n.demand_id) for n in told] == [(oid, demand["id"])]
    home = client.get("/enterprise/")
    assert text_of(element(home.text, r'id="count-unread">(.*?)</a>')) == "1"
    r = client.get("/enterprise/notifications")
    assert f'href="/portal/offerings/{oid}"' in r.text
    assert f'href="/enterprise/demands/{demand["id"]}"' in r.text
    assert "新供地发布" in r.text and "未读" in r.text
    r = client.post(f"/enterprise/notifications/{told[0].id}/read",
                    data={"csrf_token": csrf_of(r.text), "read": "true",
                          "next": "/enterprise/notifications"}, follow_redirects=False)
    assert r.status_code == 303
    session.expire_all()
    assert session.get(Notification, told[0].id).read_at is not None
    assert "没有未读消息" in client.get("/enterprise/notifications?unread=true").text


# -- utility complaints -------------------------------------------------------------------------
def test_a_complaint_shows_the_mark_up_the_service_computes(client, me, session):
    utilities.create_tariff(session=session, principal=OPERATOR, body={
        "district": "440304", "utility": "electricity", "category": "一般工商业",
        "unit_price_yuan": 0.65, "effective_from": today() - timedelta(days=400)})
    page = client.get("/enterprise/complaints/new")
    assert page.status_code == 200
    end = today().replace(day=1) - timedelta(days=1)
    body = {"csrf_token": csrf_of(page.text), "landlord": "某某物业<b>二房东</b>",
            "district": "440304", "utility": "electricity", "category": "一般工商业",
            "billed_unit_price_yuan": "1.30", "quantity": "12000",
            "period_start": end.replace(day=1).isoformat(), "period_end": end.isoformat()}
    # no tariff for this category: the service's message next to the field, nothing stored
    r = client.post("/enterprise/complaints/new", data=body | {"category": "大工业"})
    assert r.status_code == 422
    assert "没有执行中的电价" in element(r.text, r'id="e-period_start" role="alert">(.*?)</p>')
    assert session.scalar(select(func.count()).select_from(UtilityComplaint)) == 0
    r = client.post("/enterprise/complaints/new", data=body, follow_redirects=False)
    assert r.status_code == 303
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    served = utilities.get_complaint(session=session, complaint_id=cid, principal=OPERATOR)
    # (1.30 − 0.65) ÷ 0.65 = 100 %; over the tolerance: 12000 × (1.30 − 0.65 × (1 + t))
    assert served["markup_percent"] == 100.0
    tolerance = served["tolerance_percent"] / 100
    assert served["overcharge_yuan"] == pytest.approx(12000 * (1.30 - 0.65 * (1 + tolerance)),
                                                      abs=0.01)
    detail = client.get(f"/enterprise/complaints/{cid}").text
    figures = {k: text_of(v) for k, v in re.findall(r'<dd data-field="(\w+)">(.*?)</dd>',
                                                     detail, re.S)}
    assert figures["markup_percent"] == "100.00%"
    assert figures["overcharge_yuan"] == f"{served['overcharge_yuan']:,.2f} 元"
    assert figures["tariff_unit_price_yuan"] == "0.6500 元/千瓦时"
    assert figures["case_opened"] == "已立案" and served["case_opened"] is True
    assert "某某物业&lt;b&gt;二房东&lt;/b&gt;" in detail and "<b>二房东</b>" not in detail
    listed = client.get("/enterprise/complaints").text
    assert f'href="/enterprise/complaints/{cid}"' in listed and "已立案" in listed
