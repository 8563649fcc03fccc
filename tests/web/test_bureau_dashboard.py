"""The bureau console's overview: the charts' figures against the services and independent
SQL, the counts, the sub-navigation, access; and the charts drawn in a real browser."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from html import unescape

import pytest
from sqlalchemy import text

from landsvc import lists
from landsvc.access import Principal
from landsvc.approvals import service as approvals
from landsvc.enterprises.models import Enterprise
from landsvc.fields import today
from landsvc.tokens.models import Role
from landsvc.utilities.models import UtilityComplaint
from landsvc.web.bureau.dashboard import default_period
from tests.builders import BAOAN, FUTIAN, HAIZHU, feature, square
from tests.guidelines import helpers as rents
from tests.offerings.test_rules import VALID
from tests.web.conftest import browser_login, login, screenshot

GIANT = "91440300MA5FXXXX1X"
PLAIN = "91440300MA5GYYYY2Y"
A = "/api/v1/approvals"


def chart_data(html: str, name: str):
    found = re.search(rf'<script type="application/json" id="data-{name}">(.*?)</script>', html,
                      re.S)
    assert found, f"no data-{name} block"
    return json.loads(found[1])


def cell_texts(html: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)[1]
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S)[1]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


@pytest.fixture
def parcel(client, tokens):
    made = iter(range(1, 1000))

    def make(where=FUTIAN) -> int:
        body = feature(square(*where, 100), code=f"DB-{next(made):03d}", status="available")
        r = client.post("/api/v1/parcels", json=body, headers=tokens["admin"])
        assert r.status_code == 201, r.text
        return r.json()["id"]

    return make


def _working_days_after(day: date, n: int) -> date:
    """June 2025 has no holiday: the n-th weekday after ``day``."""
    while n:
        day += timedelta(days=1)
        n -= day.weekday() < 5
    return day


@pytest.fixture
def cases(client, tokens, session, parcel):
    """Green and standard cases filed in June 2025 in Shenzhen, one in Guangzhou."""
    for uscc, tier in ((GIANT, "little_giant"), (PLAIN, "none")):
        session.add(Enterprise(uscc=uscc, name=f"企业{uscc[-4:]}", district="440304", tier=tier))
    session.flush()
    mon = date(2025, 6, 2)
    plan = [(GIANT, FUTIAN, (1, 2, 1)), (GIANT, BAOAN, (1, 4, 1)), (GIANT, FUTIAN, (3, 6, 2)),
            (PLAIN, FUTIAN, (2, 9, 3)), (PLAIN, BAOAN, (6, 20, 4)), (PLAIN, FUTIAN, (1, 3, None)),
            (GIANT, HAIZHU, (9, 9, 9))]
    for uscc, where, steps in plan:
        r = client.post(A, headers=tokens["admin"], json={
            "applicant_uscc": uscc, "parcel_id": parcel(where), "project_name": "智能装备项目",
            "filed_on": mon.isoformat()})
        assert r.status_code == 201, r.text
        day = mon
        for action, n in zip(("accept", "start_review", "approve"), steps, strict=True):
            if n is None:
                break
            day = _working_days_after(day, n)
            s = client.post(f"{A}/{r.json()['id']}/transitions", headers=tokens["admin"],
                            json={"action": action, "on": day.isoformat()})
            assert s.status_code == 200, s.text


def test_the_approval_charts_carry_the_stats_services_figures(client, session, web_user,
                                                                cases):
    login(client, web_user("bureau", "sz-officer", jurisdiction="4403"))
    r = client.get("/bureau/?from=2025-06-01&to=2025-06-30")
    assert r.status_code == 200, r.text
    shown = chart_data(r.text, "approvals")["stats"]
    expected = approvals.stats(session=session, jurisdiction="4403", start=date(2025, 6, 1),
                               end=date(2025, 6, 30),
                               principal=Principal(Role.bureau, "4403"))
    assert shown == json.loads(json.dumps(expected))
    # the figures are real: 3 green cases decided, 2 of 3 standard ones; Guangzhou left out
    green, standard = shown["channels"]["green"], shown["channels"]["standard"]
    assert (green["cases"], green["decided"], standard["cases"], standard["decided"]) == (
        3, 3, 3, 2)
    assert (green["total"]["median"], green["total"]["p90"]) == (6, pytest.approx(10))
    # the accessible table repeats them
    rows = cell_texts(r.text, "table-approvals")
    assert ["绿色通道", "合计", "3", "6.0", "10.0"] in rows
    review = standard["stages"]["review"]
    assert ["普通通道", "审查", str(review["cases"]), f"{review['median']:.1f}",
            f"{review['p90']:.1f}"] in rows
    overdue = cell_texts(r.text, "table-overdue")
    assert overdue[0] == ["绿色通道", "3", f"{green['overdue_rate'] * 100:.1f}%"]
    # the period form keeps what was asked; the province's admin sees Guangzhou too
    assert 'value="2025-06-01"' in r.text and 'value="2025-06-30"' in r.text
    client.cookies.clear()
    login(client, web_user("admin", "root"))
    whole = chart_data(client.get("/bureau/?from=2025-06-01&to=2025-06-30").text, "approvals")
    assert whole["stats"]["jurisdiction"] == "44"
    assert whole["stats"]["channels"]["green"]["cases"] == 4


def test_the_default_period_is_the_last_twelve_months_and_bad_dates_are_told(client, web_user):
    login(client, web_user("bureau", jurisdiction="4403"))
    start, end = default_period(today())
    assert (end - start).days in (364, 365) and end == today()
    r = client.get("/bureau/")
    data = chart_data(r.text, "approvals")["stats"]
    assert (data["from"], data["to"]) == (start.isoformat(), end.isoformat())
    r = client.get("/bureau/?from=2025-07-01&to=2025-06-01")
    assert r.status_code == 422 and "晚于" in r.text
    r = client.get("/bureau/?from=2025-13-01")
    assert r.status_code == 422 and "日期格式应为 YYYY-MM-DD" in r.text
    assert 'value="2025-13-01"' in r.text


def test_supply_by_mode_equals_an_independent_count(client, session, tokens, web_user):
    made = iter(range(1, 100))

    def offering(where, mode, *actions):
        body = feature(square(*where, 120), code=f"SM-{next(made):03d}", status="available")
        p = client.post("/api/v1/parcels", json=body, headers=tokens["admin"])
        assert p.status_code == 201, p.text
        o = client.post("/api/v1/offerings", headers=tokens["admin"], json={
            "parcel_id": p.json()["id"], "supply_mode": mode} | VALID[mode])
        assert o.status_code == 201, o.text
        for action in actions:
            s = client.post(f"/api/v1/offerings/{o.json()['id']}/transitions",
                            headers=tokens["admin"], json={"action": action})
            assert s.status_code == 200, s.text

    offering(FUTIAN, "lease")
    offering(BAOAN, "lease", "publish")
    offering(FUTIAN, "transfer", "publish")
    offering(BAOAN, "flexible_term_transfer")
    offering(FUTIAN, "lease_then_transfer", "publish", "cancel")
    offering(HAIZHU, "lease")                                     # Guangzhou: not counted
    login(client, web_user("bureau", jurisdiction="4403"))
    r = client.get("/bureau/")
    assert r.status_code == 200
    rows = chart_data(r.text, "supply")["rows"]
    independent = session.execute(text(
        "SELECT supply_mode, status, count(*) AS n, sum(area_m2) AS area FROM offering "
        "WHERE district LIKE '4403%' GROUP BY 1, 2")).all()
    assert {(x["supply_mode"], x["status"]): x["offerings"] for x in rows} == {
        (i.supply_mode, i.status): i.n for i in independent}
    assert {(x["supply_mode"], x["status"]): x["area_m2"] for x in rows} == {
        (i.supply_mode, i.status): pytest.approx(float(i.area)) for i in independent}
    drafts = sum(i.n for i in independent if i.status == "draft")
    assert re.search(r'id="count-draft-offerings">(\d+)<', r.text)[1] == str(drafts)
    lease = next(c for c in cell_texts(r.text, "table-supply") if c[0] == "长期租赁")
    assert lease[-3] == str(sum(i.n for i in independent if i.supply_mode == "lease"))


def test_guideline_trend_and_open_counts(client, session, tokens, web_user):
    import numpy as np

    rng = np.random.default_rng(7)
    rents.records(session, rents.group(rng, 30, district="440304", point=FUTIAN,
                                       building_type="multi_storey", centre=40,
                                       start=date(2025, 1, 1), end=date(2025, 12, 31))
                  + rents.group(rng, 30, district="440306", point=BAOAN,
                                building_type="multi_storey", centre=30,
                                start=date(2025, 1, 1), end=date(2025, 12, 31)))
    for period, day in (("2025H1", "2025-07-01"), ("2025H2", "2026-01-01")):
        v = client.post("/api/v1/rent-guidelines/compute", headers=tokens["shenzhen"],
                        json={"period": period})
        assert v.status_code == 201, v.text
        p = client.post(f"/api/v1/rent-guidelines/versions/{v.json()['id']}/publish",
                        headers=tokens["shenzhen"], json={"effective_date": day})
        assert p.status_code == 200, p.text
    # complaints: two open in Shenzhen (filed, investigating), one dismissed, one in Guangzhou
    for status, district in (("filed", "440306"), ("investigating", "440304"),
                             ("dismissed", "440306"), ("filed", "440105")):
        session.add(UtilityComplaint(
            complainant_uscc=GIANT, landlord="某物业", district=district, utility="electricity",
            category="一般工商业", billed_unit_price_yuan=1.3, quantity=100,
            period_start=date(2026, 3, 1), period_end=date(2026, 3, 31),
            tariff_unit_price_yuan=0.65, tariff_segments=[], tolerance_percent=5,
            markup_percent=100, overcharge_yuan=61.75, case_opened=status != "dismissed",
            status=status, filed_on=date(2026, 4, 1)))
    session.flush()
    login(client, web_user("bureau", jurisdiction="4403"))
    r = client.get("/bureau/")
    trend = chart_data(r.text, "trend")["rows"]
    independent = session.execute(text(
        "SELECT v.id, v.period, i.building_type, "
        "       percentile_cont(0.5) WITHIN GROUP (ORDER BY i.median) AS m "
        "FROM rent_guideline_version v JOIN rent_guideline_item i ON i.version_id = v.id "
        "WHERE v.status = 'published' AND i.district LIKE '4403%' "
        "GROUP BY 1, 2, 3 ORDER BY 1, 3")).all()
    assert [(t["version"], t["period"], t["building_type"], t["median"]) for t in trend] == [
        (i.id, i.period, i.building_type, round(i.m, 2)) for i in independent]
    assert {t["period"] for t in trend} == {"2025H1", "2025H2"}
    assert re.search(r'id="count-open-complaints">(\d+)<', r.text)[1] == "2"
    assert 'href="/bureau/approvals?overdue=true"' in r.text


def test_the_overdue_count_is_the_queue_of_overdue_cases(client, session, tokens, web_user,
                                                          cases):
    login(client, web_user("bureau", jurisdiction="4403"))
    r = client.get("/bureau/")
    _, matched = approvals.search_cases(session=session, status=None, channel=None,
                                        overdue=True, as_of=None,
                                        page=lists.Page(limit=1),
                                        principal=Principal(Role.bureau, "4403"))
    assert matched.count == 1      # the standard case left under review since June 2025
    assert re.search(r'id="count-overdue">(\d+)<', r.text)[1] == "1"


def test_subnav_marks_the_current_page(client, web_user):
    login(client, web_user("bureau", jurisdiction="4403"))
    html = client.get("/bureau/").text
    nav = re.search(r'<nav class="subnav" aria-label="工作台导航">(.*?)</nav>', html, re.S)[1]
    links = re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', nav)
    assert [(h, t) for h, _, t in links] == [
        ("/bureau/", "概览"), ("/bureau/parcels/import", "地块导入"),
        ("/bureau/offerings", "供地"), ("/bureau/buildings", "楼栋"),
        ("/bureau/listings", "房源"), ("/bureau/approvals", "审批队列"),
        ("/bureau/allocations", "分配方案"), ("/bureau/quota", "用地指标"),
        ("/bureau/guidelines", "租金指导价"), ("/bureau/complaints", "加价投诉")]
    assert [h for h, cur, _ in links if cur] == ["/bureau/"]
    html = client.get("/bureau/guidelines").text
    nav = re.search(r'<nav class="subnav"[^>]*>(.*?)</nav>', html, re.S)[1]
    assert re.findall(r'<a href="([^"]+)" aria-current="page">', nav) == ["/bureau/guidelines"]


def test_access_to_the_console(client, web_user):
    r = client.get("/bureau/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/bureau/")
    login(client, web_user("enterprise", enterprise_uscc=GIANT))
    r = client.get("/bureau/")
    assert r.status_code == 403 and "仅供" in r.text
    client.cookies.clear()
    login(client, web_user("admin"))
    assert client.get("/bureau/").status_code == 200


# -- in a browser -----------------------------------------------------------------------
def test_the_dashboard_draws_its_charts(demo_site, browser):
    account = demo_site.accounts["bureau"]
    page = browser.new_page()
    errors, hosts = [], set()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda resp: errors.append(f"{resp.status} {resp.url}")
            if resp.status >= 400 and not resp.url.endswith("/favicon.ico") else None)
    page.on("request", lambda req: hosts.add(re.match(r"^[a-z]+://([^/:]+)", req.url)[1])
            if req.url.startswith("http") else None)
    browser_login(page, demo_site.url, account["username"], account["password"])
    page.goto(f"{demo_site.url}/bureau/", wait_until="networkidle")
    assert page.locator("h1").first.inner_text().startswith("工作台概览")
    charts = page.locator("[data-chart]")
    assert charts.count() >= 3
    for i in range(charts.count()):
        box = charts.nth(i)
        box.locator("canvas, svg").first.wait_for(timeout=10_000)
        assert box.locator("canvas, svg").count() >= 1, box.get_attribute("id")
    assert page.locator("#count-overdue").inner_text().isdigit()
    assert errors == []
    assert hosts == {"127.0.0.1"}
    screenshot(page, "bureau-dashboard")
    page.close()
