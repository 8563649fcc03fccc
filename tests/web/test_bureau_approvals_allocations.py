"""The bureau console's allocation pages (分配方案): proposing a draft through the form, the
draft as the service computed it (higher tier first, the reasons of those left out),
confirming it, a stale draft refused whole, jurisdiction and CSRF."""

from __future__ import annotations

import re
from datetime import datetime

from landsvc import lists
from landsvc.access import OPERATOR, Principal
from landsvc.allocations import service as allocations
from landsvc.fields import CHINA
from landsvc.tokens.models import Role
from tests.allocations import test_api as allocation_api
from tests.matching import test_matching
from tests.web.conftest import csrf_of, login

market = allocation_api.market  # the fixture: three demands, two offerings in Shenzhen
offer = test_matching.offer     # the fixture market uses
SHENZHEN = Principal(Role.bureau, "4403")


def signed_in(client, web_user, role="bureau", **binding) -> str:
    name = web_user(role, **binding)
    assert login(client, name).status_code == 303
    return name


def propose(client, **fields):
    csrf = csrf_of(client.get("/bureau/allocations").text)
    return client.post("/bureau/allocations", data={"csrf_token": csrf} | fields,
                       follow_redirects=False)


def test_propose_read_and_confirm_an_allocation(client, session, web_user, market):
    m = market
    signed_in(client, web_user, jurisdiction="4403")
    page = client.get("/bureau/allocations")
    assert page.status_code == 200 and 'value="4403"' in page.text
    r = propose(client, jurisdiction="4403")
    assert r.status_code == 303, r.text
    allocation_id = int(r.headers["location"].rsplit("/", 1)[1])
    draft = allocations.get_allocation(session=session, allocation_id=allocation_id,
                                       principal=OPERATOR)
    assert draft["status"] == "draft" and draft["created_by"] == "bureau:4403"
    assert [(a["demand_id"], a["offering_id"]) for a in draft["assignments"]] == [
        (m["giant"], m["land"]), (m["srdi"], m["lease"])]
    page = client.get(f"/bureau/allocations/{allocation_id}").text
    rows = re.findall(r'<tr data-demand="(\d+)" data-offering="(\d+)">\s*<td>[^<]*</td>\s*'
                      r'<td>[^<]*</td>\s*<td class="num">([^<]+)</td>\s*<td>([^<]+)</td>', page)
    assert rows == [(str(a["demand_id"]), str(a["offering_id"]), f"{a['score']:.2f}",
                     a["tier_label"]) for a in draft["assignments"]]
    assert "专精特新“小巨人”企业" in rows[0][3]
    left = draft["unassigned"][0]
    assert left["demand_id"] == m["innov"]
    assert f'<tr data-demand="{m["innov"]}">' in page and left["reason"] in page
    assert "创新型中小企业" in page and 'id="allocation-confirm"' in page
    r = client.post(f"/bureau/allocations/{allocation_id}/confirm",
                    data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 303
    done = allocations.get_allocation(session=session, allocation_id=allocation_id,
                                      principal=OPERATOR)
    assert done["status"] == "confirmed" and done["confirmed_at"]
    page = client.get(f"/bureau/allocations/{allocation_id}").text
    assert "已确认" in page and 'id="allocation-confirm"' not in page
    for key in ("created_at", "confirmed_at"):  # shown in Beijing time
        shown = datetime.fromisoformat(done[key]).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        assert shown in page
    # confirming again: the 409 naming the status, shown on the page
    r = client.post(f"/bureau/allocations/{allocation_id}/confirm",
                    data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 409 and "不能执行 confirm" in r.text
    # the list: the service's, newest first, with its status filter
    second = int(propose(client, jurisdiction="440304").headers["location"].rsplit("/", 1)[1])
    listed = client.get("/bureau/allocations").text
    shown = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', listed)]
    expected, _ = allocations.search_allocations(session=session, status=None,
                                                 page=lists.Page(50, 0), principal=SHENZHEN)
    assert shown == [a["id"] for a in expected] and shown[:2] == [second, allocation_id]
    row = re.search(rf'<tr data-id="{allocation_id}">(.*?)</tr>', listed, re.S)[1]
    assert "已确认" in row and "bureau:4403" in row
    drafts = client.get("/bureau/allocations", params={"status": "draft"}).text
    assert f'<tr data-id="{second}">' in drafts and f'<tr data-id="{allocation_id}">' not in drafts
    assert client.get("/bureau/allocations", params={"status": "bogus"}).status_code == 422
    client.cookies.clear()
    signed_in(client, web_user, jurisdiction="4401")
    assert re.findall(r'<tr data-id="(\d+)">', client.get("/bureau/allocations").text) == []


def test_a_stale_draft_is_refused_whole_on_the_page(client, tokens, session, web_user,
                                                    market):
    m = market
    signed_in(client, web_user, jurisdiction="4403")
    allocation_id = int(propose(client, jurisdiction="4403").headers["location"]
                        .rsplit("/", 1)[1])
    r = client.post(f"/api/v1/demands/{m['giant']}/transitions", json={"action": "withdraw"},
                    headers=tokens["admin"])
    assert r.status_code == 200, r.text
    page = client.get(f"/bureau/allocations/{allocation_id}").text
    r = client.post(f"/bureau/allocations/{allocation_id}/confirm",
                    data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert r.status_code == 409
    assert f"分配方案 {allocation_id} 已过时，未作任何变更：用地需求 {m['giant']}（现为" in r.text
    assert allocations.get_allocation(session=session, allocation_id=allocation_id,
                                      principal=OPERATOR)["status"] == "draft"


def test_proposal_errors_jurisdiction_and_csrf(client, session, web_user, market):
    m = market
    signed_in(client, web_user, jurisdiction="4403")
    r = propose(client, jurisdiction="4403", offering_ids="12, x")
    assert r.status_code == 422
    assert re.search(r'id="e-offering_ids" role="alert">应为以逗号或空格分隔的编号', r.text)
    assert 'value="12, x"' in r.text
    r = propose(client, jurisdiction="4403", offering_ids="999999999")
    assert r.status_code == 422 and "供地 [999999999] 不存在" in r.text
    r = propose(client, jurisdiction="44x")
    assert r.status_code == 422 and "须为 2、4 或 6 位行政区划代码" in r.text
    # only the given offering: the lease goes to the SRDI SME, nobody else has a candidate
    r = propose(client, jurisdiction="4403", offering_ids=str(m["lease"]))
    assert r.status_code == 303
    only = allocations.get_allocation(session=session, principal=OPERATOR,
                                      allocation_id=int(r.headers["location"].rsplit("/", 1)[1]))
    assert only["offering_ids"] == [m["lease"]]
    assert [(a["demand_id"], a["offering_id"]) for a in only["assignments"]] == [
        (m["srdi"], m["lease"])]
    # outside the jurisdiction: proposing is 403, so is reading a Shenzhen draft
    client.cookies.clear()
    signed_in(client, web_user, jurisdiction="4401")
    r = propose(client, jurisdiction="4403")
    assert r.status_code == 403 and "超出管辖范围" in r.text
    assert client.get(f"/bureau/allocations/{only['id']}").status_code == 403
    r = client.post(f"/bureau/allocations/{only['id']}/confirm", data={},
                    follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    assert allocations.get_allocation(session=session, allocation_id=only["id"],
                                      principal=OPERATOR)["status"] == "draft"
