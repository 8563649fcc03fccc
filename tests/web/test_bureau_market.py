"""The bureau console's rent market pages: guideline versions computed and published through
the forms (against the guidelines service), the comparison with the version in force
(against an independent query), utility complaints handled through the forms (against the
utilities service and the database), errors in Chinese, access and CSRF; and the comparison
page in a real browser."""

from __future__ import annotations

import re
from datetime import date
from html import unescape

import numpy as np
import pytest
from sqlalchemy import text

from landsvc.access import Principal
from landsvc.guidelines import service as guidelines
from landsvc.tokens.models import Role
from landsvc.utilities import service as utilities
from tests.builders import BAOAN, FUTIAN
from tests.guidelines.helpers import group, records
from tests.web.conftest import browser_login, csrf_of, login, screenshot

SHENZHEN = Principal(Role.bureau, "4403")


def rows_of(html: str, table_id: str) -> list[dict[str, str]]:
    """The body rows of a table: their data-* attributes and cell texts (``cells``)."""
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)[1]
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S)[1]
    found = []
    for attrs, inner in re.findall(r"<tr([^>]*)>(.*?)</tr>", body, re.S):
        row = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', attrs))
        row["class"] = (re.search(r'class="([^"]*)"', attrs) or [None, ""])[1]
        row["cells"] = [unescape(re.sub(r"<[^>]+>", "", c)).strip()
                        for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", inner, re.S)]
        cols = re.findall(r'<td[^>]*data-col="([a-z-]+)"[^>]*>(.*?)</td>', inner, re.S)
        row.update({k: unescape(re.sub(r"<[^>]+>", "", v)).strip() for k, v in cols})
        found.append(row)
    return found


def leases(session, seed=1, *, futian=40.0, baoan=30.0):
    rng = np.random.default_rng(seed)
    records(session, group(rng, 25, district="440304", point=FUTIAN,
                           building_type="multi_storey", centre=futian)
            + group(rng, 25, district="440306", point=BAOAN, building_type="multi_storey",
                    centre=baoan)
            + group(rng, 12, district="440306", point=BAOAN, building_type="single_storey",
                    centre=baoan * 0.8))


@pytest.fixture
def officer(client, web_user):
    login(client, web_user("bureau", "sz-officer", jurisdiction="4403"))
    return csrf_of(client.get("/bureau/guidelines").text)


def _without_version(items):
    return [{k: v for k, v in i.items() if k != "version"} for i in items]


# -- guidelines ---------------------------------------------------------------------------
def test_computing_through_the_form_makes_the_services_draft(client, session, officer):
    leases(session)
    r = client.post("/bureau/guidelines/compute", data={
        "period": "2026h1", "level": "district", "csrf_token": officer},
        follow_redirects=False)
    assert r.status_code == 303, r.text
    version_id = int(re.fullmatch(r"/bureau/guidelines/versions/(\d+)",
                                  r.headers["location"])[1])
    made = guidelines.get_version(session=session, version_id=version_id, principal=SHENZHEN)
    assert (made["status"], made["period"], made["level"], made["scope"]) == (
        "draft", "2026H1", "district", "4403")
    again = guidelines.compute(session=session, period="2026H1", level="district",
                               principal=SHENZHEN)
    assert made["items"] and _without_version(made["items"]) == _without_version(again["items"])
    # the page shows every item: district name, type label, the figures, samples, source
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    shown = rows_of(page.text, "items")
    assert [(s["district"], s["type"]) for s in shown] == [
        (i["district"], i["building_type"]) for i in made["items"]]
    first, item = shown[0], made["items"][0]
    assert first["cells"][:8] == [
        item["district_name"], item["building_type_label"], f"{item['median']:.2f}",
        f"{item['p25']:.2f}", f"{item['p75']:.2f}", f"{item['weighted_mean']:.2f}",
        str(item["samples"]), item["source_label"]]
    # nothing in force yet: no comparison
    assert all(s["in-force"] == "—" and s["percent"] == "新增" for s in shown)
    # the list shows the draft
    listed = rows_of(client.get("/bureau/guidelines").text, "versions")
    assert [v["version"] for v in listed] == [str(again["id"]), str(version_id)]
    assert "草稿" in listed[1]["cells"][4]


def test_compute_errors_are_told_in_chinese_and_keep_the_input(client, session, officer):
    r = client.post("/bureau/guidelines/compute", data={
        "period": "2026H3", "level": "district", "csrf_token": officer})
    assert r.status_code == 422
    assert "无法识别的期间" in r.text and 'value="2026H3"' in r.text
    assert 'aria-invalid="true"' in r.text
    r = client.post("/bureau/guidelines/compute", data={
        "period": "2026", "level": "county", "csrf_token": officer})
    assert r.status_code == 422 and "统计层级应为区县（district）或片区（zone）" in r.text
    r = client.post("/bureau/guidelines/compute", data={
        "period": " ", "level": "zone", "csrf_token": officer})
    assert r.status_code == 422 and "请填写期间" in r.text
    assert re.search(r'<option value="zone" selected>', r.text)
    assert session.scalar(text("SELECT count(*) FROM rent_guideline_version")) == 0
    r = client.post("/bureau/guidelines/compute", data={"period": "2026", "level": "district"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert session.scalar(text("SELECT count(*) FROM rent_guideline_version")) == 0


def test_publishing_through_the_form_puts_the_version_in_force(client, session, officer):
    leases(session)
    draft = guidelines.compute(session=session, period="2026", principal=SHENZHEN)
    url = f"/bureau/guidelines/versions/{draft['id']}"
    page = client.get(url)
    assert 'action="' + url + '/publish"' in page.text
    r = client.post(url + "/publish", data={"effective_date": "", "csrf_token": officer})
    assert r.status_code == 422 and "请填写生效日期" in r.text
    r = client.post(url + "/publish", data={"effective_date": "2026-02-30",
                                            "csrf_token": officer})
    assert r.status_code == 422 and "日期格式应为 YYYY-MM-DD" in r.text
    assert client.post(url + "/publish", data={"effective_date": "2026-03-01"}
                       ).status_code == 403
    r = client.post(url + "/publish", data={"effective_date": "2026-03-01",
                                            "csrf_token": officer}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == url + "?published=1"
    in_force = guidelines.search_items(session=session, district="4403")
    assert in_force["version"] == draft["id"] and in_force["effective_date"] == "2026-03-01"
    assert _without_version(in_force["items"]) == [
        i | {"effective_date": "2026-03-01"} for i in _without_version(draft["items"])]
    page = client.get(r.headers["location"])
    assert "版本已发布" in page.text and "本版本即现行版本" in page.text
    assert 'action="' + url + '/publish"' not in page.text
    # publishing twice: the service's 409, in Chinese
    r = client.post(url + "/publish", data={"effective_date": "2026-04-01",
                                            "csrf_token": officer})
    assert r.status_code == 409 and "已发布，不能再次发布" in r.text


def test_the_comparison_is_the_difference_to_the_version_in_force(client, session, tokens,
                                                                   officer):
    leases(session, 1)
    old = guidelines.compute(session=session, period="2026H1", principal=SHENZHEN)
    guidelines.publish(session=session, version_id=old["id"], effective_date=date(2026, 7, 1),
                       principal=SHENZHEN)
    leases(session, 2, futian=60.0, baoan=31.0)   # new leases: Futian's rents jump
    r = client.post("/bureau/guidelines/compute", data={
        "period": "2026H2", "level": "district", "csrf_token": officer})
    assert r.status_code == 200 and "#" in r.text   # followed to the draft's page
    new_id = int(re.search(r"租金指导价版本 #(\d+)", r.text)[1])
    independent = {(row.district, row.building_type): float(row.median) for row in
                   session.execute(text(
                       "SELECT district, building_type, median FROM rent_guideline_item "
                       "WHERE version_id = :v"), {"v": old["id"]})}
    new_items = {(row.district, row.building_type): float(row.median) for row in
                 session.execute(text(
                     "SELECT district, building_type, median FROM rent_guideline_item "
                     "WHERE version_id = :v"), {"v": new_id})}
    shown = rows_of(r.text, "items")
    assert len(shown) == len(new_items) >= 3
    big = 0
    for row in shown:
        key = (row["district"], row["type"])
        before, now = independent[key], new_items[key]
        diff = round(now - before, 2)
        pct = round(diff / before * 100, 1)
        assert row["in-force"] == f"{before:.2f}"
        assert row["difference"] == f"{diff:+.2f}"
        assert row["percent"].startswith(f"{pct:+.1f}%")
        assert (row["class"] == "bad") == (abs(pct) >= 10), row
        big += abs(pct) >= 10
    # Futian's multi-storey rents rose by half: highlighted
    futian = next(r for r in shown if r["district"] == "440304")
    assert futian["class"] == "bad" and "变动较大" in futian["percent"]
    assert big >= 1 and f"（{big} 行）" in r.text
    assert f'href="/bureau/guidelines/versions/{old["id"]}"' in r.text
    # the officer's filters: one district, one building type, the big changes only
    url = f"/bureau/guidelines/versions/{new_id}"
    only = rows_of(client.get(url + "?district=440304").text, "items")
    assert {o["district"] for o in only} == {"440304"} and len(only) == sum(
        1 for k in new_items if k[0] == "440304")
    single = rows_of(client.get(url + "?building_type=single_storey").text, "items")
    assert {s["type"] for s in single} == {"single_storey"}
    flagged = client.get(url + "?big=1")
    assert [f["class"] for f in rows_of(flagged.text, "items")] == ["bad"] * big
    assert f"显示 {big} / {len(new_items)} 行" in flagged.text


def test_guideline_pages_of_another_jurisdiction(client, session, web_user):
    leases(session)
    draft = guidelines.compute(session=session, period="2026", principal=SHENZHEN)
    login(client, web_user("bureau", jurisdiction="4401"))
    r = client.get(f"/bureau/guidelines/versions/{draft['id']}")
    assert r.status_code == 404 and "不存在" in r.text
    token = csrf_of(client.get("/bureau/guidelines").text)
    r = client.post(f"/bureau/guidelines/versions/{draft['id']}/publish",
                    data={"effective_date": "2026-03-01", "csrf_token": token})
    assert r.status_code == 404
    assert guidelines.get_version(session=session, version_id=draft["id"],
                                  principal=SHENZHEN)["status"] == "draft"


# -- complaints ---------------------------------------------------------------------------
@pytest.fixture
def complaints(client, tokens):
    """Bao'an's tariff 0.65 元/kWh; two complaints in Bao'an, one in Guangzhou's Haizhu."""
    for district in ("440306", "440105"):
        r = client.post("/api/v1/tariffs", headers=tokens["admin"], json={
            "district": district, "utility": "electricity", "category": "一般工商业",
            "unit_price_yuan": 0.65, "effective_from": "2026-01-01"})
        assert r.status_code == 201, r.text
    made = []
    for district, price in (("440306", 1.30), ("440306", 0.98), ("440105", 1.10)):
        r = client.post("/api/v1/utility-complaints", headers=tokens["enterprise"], json={
            "landlord": "深圳某物业<管理>有限公司", "district": district, "utility": "electricity",
            "category": "一般工商业", "billed_unit_price_yuan": price, "quantity": 1000,
            "period_start": "2026-03-01", "period_end": "2026-03-31"})
        assert r.status_code == 201, r.text
        made.append(r.json())
    return made


def test_the_complaint_list_shows_the_jurisdictions_complaints_by_status(client, officer,
                                                                          complaints):
    high, low, haizhu = complaints
    r = client.get("/bureau/complaints")
    assert r.status_code == 200
    shown = rows_of(r.text, "complaints")
    assert [s["id"] for s in shown] == [str(low["id"]), str(high["id"])]
    assert "深圳某物业&lt;管理&gt;有限公司" in r.text          # escaped, never markup
    assert shown[1]["cells"][5:9] == ["1.3000", "0.6500", f"{high['markup_percent']:.1f}%",
                                      f"{high['overcharge_yuan']:,.2f}"]
    assert "没有符合条件的投诉" in client.get("/bureau/complaints?status=resolved").text
    filed = rows_of(client.get("/bureau/complaints?status=filed").text, "complaints")
    assert {f["id"] for f in filed} == {str(high["id"]), str(low["id"])}
    assert client.get(f"/bureau/complaints/{haizhu['id']}").status_code == 404


def test_a_complaint_handled_through_the_forms(client, session, officer, complaints):
    high = complaints[0]
    url = f"/bureau/complaints/{high['id']}"
    page = client.get(url)
    assert page.status_code == 200
    facts = utilities.get_complaint(session=session, complaint_id=high["id"],
                                    principal=SHENZHEN)
    assert f'id="tariff">{facts["tariff_unit_price_yuan"]:.4f} 元' in page.text
    assert f'id="billed">{facts["billed_unit_price_yuan"]:.4f} 元' in page.text
    assert f'id="markup">{facts["markup_percent"]:.2f}%' in page.text
    assert f'id="overcharge">{facts["overcharge_yuan"]:,.2f} 元' in page.text
    assert 'name="action" value="investigate"' in page.text
    # CSRF missing: refused, nothing changes
    r = client.post(url + "/transitions", data={"action": "investigate"})
    assert r.status_code == 403
    assert utilities.get_complaint(session=session, complaint_id=high["id"],
                                   principal=SHENZHEN)["status"] == "filed"
    r = client.post(url + "/transitions", data={"action": "investigate", "csrf_token": officer},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == url + "?done=investigate"
    page = client.get(r.headers["location"])
    assert "调查中" in page.text and "已开始调查" in page.text
    # resolve without a refund: the service's rule, next to the field
    r = client.post(url + "/transitions", data={"action": "resolve", "refund_yuan": "",
                                                "csrf_token": officer})
    assert r.status_code == 422 and 'id="e-refund_yuan"' in r.text and "核定退还金额" in r.text
    r = client.post(url + "/transitions", data={"action": "resolve", "refund_yuan": "abc",
                                                "csrf_token": officer})
    assert r.status_code == 422 and "退还金额应为数字" in r.text and 'value="abc"' in r.text
    r = client.post(url + "/transitions", data={
        "action": "resolve", "refund_yuan": "428.5", "note": "已责令退还",
        "csrf_token": officer}, follow_redirects=False)
    assert r.status_code == 303
    stored = session.execute(text("SELECT status, refund_yuan, note, updated_by "
                                  "FROM utility_complaint WHERE id = :i"),
                             {"i": high["id"]}).one()
    assert (stored.status, float(stored.refund_yuan), stored.note) == (
        "resolved", 428.5, "已责令退还")
    assert stored.updated_by.endswith("user:sz-officer")
    page = client.get(url)
    assert 'id="refund">428.50 元' in page.text and "已办结" in page.text
    # an illegal transition: the 409, in Chinese, with what is allowed now
    r = client.post(url + "/transitions", data={"action": "dismiss", "csrf_token": officer})
    assert r.status_code == 409 and "无（已是终态）" in r.text


def test_dismissing_and_an_unknown_action(client, session, officer, complaints):
    low = complaints[1]
    url = f"/bureau/complaints/{low['id']}"
    r = client.post(url + "/transitions", data={"action": "escalate", "csrf_token": officer})
    assert r.status_code == 422 and "未知的处理动作" in r.text
    r = client.post(url + "/transitions", data={"action": "dismiss", "note": "双方已协商",
                                                "csrf_token": officer}, follow_redirects=False)
    assert r.status_code == 303
    assert utilities.get_complaint(session=session, complaint_id=low["id"],
                                   principal=SHENZHEN)["status"] == "dismissed"
    r = client.post(url + "/transitions", data={"action": "investigate",
                                                "csrf_token": officer})
    assert r.status_code == 409 and "当前状态允许的操作" in r.text


def test_market_pages_refuse_enterprises_and_send_visitors_to_log_in(client, web_user):
    for path in ("/bureau/guidelines", "/bureau/complaints", "/bureau/complaints/1"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    login(client, web_user("enterprise", enterprise_uscc="91440300MA5FXXXX1X"))
    for path in ("/bureau/guidelines", "/bureau/complaints"):
        assert client.get(path).status_code == 403


# -- in a browser -----------------------------------------------------------------------
def test_computing_and_comparing_in_a_browser(demo_site, browser):
    account = demo_site.accounts["bureau"]
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    browser_login(page, demo_site.url, account["username"], account["password"])
    page.goto(f"{demo_site.url}/bureau/guidelines", wait_until="load")
    page.fill("#f-period", str(date.today().year))
    page.select_option("#f-level", "district")
    page.click("form[action='/bureau/guidelines/compute'] button[type=submit]")
    page.wait_for_url(re.compile(r"/bureau/guidelines/versions/\d+$"))
    everything = page.locator("#items tbody tr").count()
    assert everything > 0
    page.select_option("#f-building_type", "multi_storey")
    page.click("#item-filters button[type=submit]")
    page.wait_for_url(re.compile(r"building_type=multi_storey"))
    shown = page.locator("#items tbody tr")
    assert 0 < shown.count() < everything
    assert set(shown.evaluate_all("rows => rows.map(r => r.dataset.type)")) == {"multi_storey"}
    assert page.locator("#items td[data-col='in-force']").first.inner_text() != ""
    assert errors == []
    screenshot(page, "bureau-guideline-compare")
    page.close()


def test_the_complaint_list_pages_by_twenty(client, session, officer):
    from landsvc.utilities.models import UtilityComplaint

    for n in range(23):
        session.add(UtilityComplaint(
            complainant_uscc="91440300MA5FXXXX1X", landlord=f"物业{n}", district="440306",
            utility="water", category="非居民", billed_unit_price_yuan=5, quantity=10,
            period_start=date(2026, 3, 1), period_end=date(2026, 3, 31),
            tariff_unit_price_yuan=4.5, tariff_segments=[], tolerance_percent=0,
            markup_percent=11.11, overcharge_yuan=5, case_opened=True,
            status="investigating" if n % 2 else "filed", filed_on=date(2026, 4, 1)))
    session.flush()
    ids = [r[0] for r in session.execute(text(
        "SELECT id FROM utility_complaint WHERE status = 'filed' ORDER BY id DESC"))]
    assert len(ids) == 12
    first = client.get("/bureau/complaints?status=filed&utility=water")
    assert "共 12 条，第 1–12 条" in first.text and 'rel="next"' not in first.text
    everything = client.get("/bureau/complaints")
    assert len(rows_of(everything.text, "complaints")) == 20
    nxt = re.search(r'<a href="([^"]+)" rel="next">', everything.text)[1]
    assert unescape(nxt) == "/bureau/complaints?offset=20"
    rest = client.get(unescape(nxt))
    assert len(rows_of(rest.text, "complaints")) == 3 and "共 23 条，第 21–23 条" in rest.text
