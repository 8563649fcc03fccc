"""Bureau console: offerings — list, create through the form, lifecycle buttons."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from landsvc.offerings.models import Offering
from tests.builders import FUTIAN, HAIZHU, feature, square
from tests.web.conftest import csrf_of, login

USCC = "91440300MA5FXXXX1X"

# One input, as the form posts it and as the API takes it.
FORM = {
    "supply_mode": "lease_then_transfer", "lease_years": "5", "transfer_years": "40",
    "annual_rent_yuan": "200000", "appraised_price_wan": "1000", "start_price_wan": "900",
    "rent_review_years": "6", "rent_review_cap_percent": "8", "rent_credited": "false",
    "conditions.investment_intensity_wan_per_mu": "500", "conditions.tax_per_mu_wan": "30",
    "conditions.deadline_date": "2030-12-31", "min_tier": "srdi_sme", "srdi_priority": "true",
    "joint_bidding_allowed": "true", "bidding_opens_at": "2026-12-01T09:00",
    "bidding_closes_at": "2026-12-20T17:00",
}
API = {
    "supply_mode": "lease_then_transfer", "lease_years": 5, "transfer_years": 40,
    "annual_rent_yuan": 200000, "appraised_price_wan": 1000, "start_price_wan": 900,
    "rent_review_years": 6, "rent_review_cap_percent": 8, "rent_credited": False,
    "conditions": {"investment_intensity_wan_per_mu": 500, "tax_per_mu_wan": 30,
                   "deadline_date": "2030-12-31"},
    "min_tier": "srdi_sme", "srdi_priority": True, "joint_bidding_allowed": True,
    "bidding_opens_at": "2026-12-01T09:00:00+08:00",
    "bidding_closes_at": "2026-12-20T17:00:00+08:00",
}


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Offering))


@pytest.fixture
def make_parcel(client, tokens):
    made = iter(range(1, 1000))

    def make(where=FUTIAN, **props) -> dict:
        body = feature(square(*where, 100), code=f"WOF-{next(made):03d}", **props)
        r = client.post("/api/v1/parcels", json=body, headers=tokens["admin"])
        assert r.status_code == 201, r.text
        return r.json()

    return make


@pytest.fixture
def bureau(client, web_user):
    name = web_user("bureau", jurisdiction="4403")
    assert login(client, name).status_code == 303
    return client


def post_form(client, path, data, page=None):
    token = csrf_of(client.get(page or path).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def alert(text: str) -> str:
    block = re.search(r'<div class="alert error" role="alert" id="transition-error">(.*?)</div>',
                      text, re.S)
    assert block, "no transition error shown"
    return html.unescape(re.sub(r"<[^>]+>", "", block[1]))


def test_form_creates_what_the_api_creates(bureau, session, tokens, make_parcel):
    a, b = make_parcel(), make_parcel()
    answer = post_form(bureau, "/bureau/offerings/new", FORM | {"parcel_id": str(a["id"])})
    assert answer.status_code == 303, answer.text
    offering_id = int(answer.headers["location"].rsplit("/", 1)[1])
    via_api = bureau.post("/api/v1/offerings", json=API | {"parcel_id": b["id"]},
                          headers=tokens["shenzhen"])
    assert via_api.status_code == 201, via_api.text
    mine = bureau.get(f"/api/v1/offerings/{offering_id}", headers=tokens["shenzhen"]).json()
    theirs = via_api.json()
    skip = {"parcel_id", "parcel_code", "created_at", "updated_at"}
    assert {k: v for k, v in mine["properties"].items() if k not in skip} == \
        {k: v for k, v in theirs["properties"].items() if k not in skip}
    assert mine["properties"]["parcel_id"] == a["id"]
    assert mine["properties"]["status"] == "draft"
    assert mine["properties"]["rent_credited"] is False
    page = bureau.get(f"/bureau/offerings/{offering_id}")
    assert page.status_code == 200
    assert "先租后让" in page.text and "专精特新中小企业" in page.text
    assert "2026-12-01 09:00 至 2026-12-20 17:00" in page.text


def test_a_broken_rule_is_shown_next_to_its_field_and_nothing_written(bureau, session,
                                                                      make_parcel):
    parcel = make_parcel()
    before = count(session)
    answer = post_form(bureau, "/bureau/offerings/new",
                       FORM | {"parcel_id": str(parcel["id"]), "lease_years": "11"})
    assert answer.status_code == 422
    error = re.search(r'<p class="error" id="e-lease_years" role="alert">(.*?)</p>', answer.text)
    assert error and "1–10 年" in html.unescape(error[1])
    assert 'name="lease_years" type="number" value="11"' in answer.text  # input kept
    assert count(session) == before


def test_publish_then_an_illegal_step_shows_the_409_and_the_allowed(bureau, session,
                                                                   make_parcel):
    parcel = make_parcel()
    created = post_form(bureau, "/bureau/offerings/new", FORM | {"parcel_id": str(parcel["id"])})
    oid = int(created.headers["location"].rsplit("/", 1)[1])
    page = f"/bureau/offerings/{oid}"
    assert 'value="publish"' in bureau.get(page).text
    done = post_form(bureau, f"{page}/transitions", {"action": "publish"}, page)
    assert done.status_code == 303 and done.headers["location"] == page
    assert session.get(Offering, oid).status.value == "published"
    shown = bureau.get(page).text
    assert re.search(r'badge s-published">已发布', shown)
    assert 'value="close"' in shown and 'value="publish"' not in shown

    refused = post_form(bureau, f"{page}/transitions", {"action": "award",
                        "awardee_uscc": USCC, "awardee_name": "某企业"}, page)
    assert refused.status_code == 409
    text = alert(refused.text)
    assert "award" in text and "结束竞价（close）、撤销（cancel）" in text
    session.expire_all()
    assert session.get(Offering, oid).status.value == "published"


def test_award_needs_a_well_formed_uscc(bureau, session, make_parcel):
    parcel = make_parcel()
    created = post_form(bureau, "/bureau/offerings/new", FORM | {"parcel_id": str(parcel["id"])})
    page = created.headers["location"]
    for action in ("publish", "close"):
        assert post_form(bureau, f"{page}/transitions", {"action": action}, page).status_code == 303
    bad = post_form(bureau, f"{page}/transitions",
                    {"action": "award", "awardee_uscc": "123", "awardee_name": "某企业"}, page)
    assert bad.status_code == 422
    assert "GB 32100" in html.unescape(bad.text)
    assert 'name="awardee_uscc" type="text" value="123"' in bad.text
    ok = post_form(bureau, f"{page}/transitions",
                   {"action": "award", "awardee_uscc": USCC, "awardee_name": "深圳某精密"}, page)
    assert ok.status_code == 303
    shown = bureau.get(page).text
    assert "已成交" in shown and "深圳某精密（91440300MA5FXXXX1X）" in shown


def test_outside_the_jurisdiction_is_403_and_nothing_written(bureau, session, make_parcel,
                                                              tokens):
    gz = make_parcel(HAIZHU)
    before = count(session)
    answer = post_form(bureau, "/bureau/offerings/new", FORM | {"parcel_id": str(gz["id"])})
    assert answer.status_code == 403
    assert count(session) == before
    # An offering made by Guangzhou cannot be stepped by Shenzhen.
    made = bureau.post("/api/v1/offerings", json=API | {"parcel_id": gz["id"]},
                       headers=tokens["guangzhou"]).json()
    page = f"/bureau/offerings/{made['id']}"
    assert bureau.get(page).status_code == 404  # a draft of another jurisdiction is not seen
    step = post_form(bureau, f"{page}/transitions", {"action": "publish"}, "/bureau/offerings")
    assert step.status_code == 403
    session.expire_all()
    assert session.get(Offering, made["id"]).status.value == "draft"


def test_list_filters_and_escapes(bureau, session, make_parcel, tokens):
    ids = []
    for mode in ("transfer", "lease_then_transfer"):
        body = {"parcel_id": make_parcel()["id"], "supply_mode": mode}
        body |= ({"term_years": 50, "start_price_wan": 800} if mode == "transfer" else
                 {k: v for k, v in API.items() if k != "supply_mode"})
        r = bureau.post("/api/v1/offerings", json=body, headers=tokens["shenzhen"])
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    listed = bureau.get("/bureau/offerings?supply_mode=transfer&status=draft")
    assert listed.status_code == 200
    rows = {int(i) for i in re.findall(r'<tr data-id="(\d+)">', listed.text)}
    assert ids[0] in rows and ids[1] not in rows
    assert bureau.get("/bureau/offerings?status=bogus").status_code == 422
    everything = bureau.get("/bureau/offerings?status=&supply_mode=")
    assert set(ids) <= {int(i) for i in re.findall(r'<tr data-id="(\d+)">', everything.text)}


def test_csrf_missing_is_refused(bureau, session, make_parcel):
    parcel = make_parcel()
    before = count(session)
    answer = bureau.post("/bureau/offerings/new", data=FORM | {"parcel_id": str(parcel["id"])})
    assert answer.status_code == 403
    assert count(session) == before


def test_html_in_a_parcel_name_is_escaped(bureau, session, make_parcel):
    make_parcel(name="<script>alert(1)</script>")
    page = bureau.get("/bureau/offerings/new")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_edit_a_draft_as_patch_does(bureau, session, tokens, make_parcel):
    parcel = make_parcel()
    page = post_form(bureau, "/bureau/offerings/new",
                     FORM | {"parcel_id": str(parcel["id"])}).headers["location"]
    form_page = bureau.get(f"{page}/edit")
    assert form_page.status_code == 200
    # The form shows the stored draft: what is posted back unchanged changes nothing.
    shown = dict(re.findall(r'name="([a-z_.]+)" type="(?:number|text|date|datetime-local)" '
                            r'value="([^"]*)"', form_page.text))
    assert shown["lease_years"] == "5" and shown["bidding_opens_at"] == "2026-12-01T09:00"
    assert shown["conditions.deadline_date"] == "2030-12-31"
    etag = html.unescape(re.search(r'name="etag" value="([^"]+)"', form_page.text)[1])
    edited = FORM | {"lease_years": "6", "rent_review_years": "", "rent_review_cap_percent": "",
                     "etag": etag}
    del edited["srdi_priority"]
    answer = post_form(bureau, f"{page}/edit", edited, f"{page}/edit")
    assert answer.status_code == 303 and answer.headers["location"] == page
    oid = int(page.rsplit("/", 1)[1])
    expected = bureau.get(f"/api/v1/offerings/{oid}", headers=tokens["shenzhen"]).json()
    props = expected["properties"]
    assert props["lease_years"] == 6 and props["srdi_priority"] is False
    # The same change through the API's PATCH (null clears) gives the same offering.
    twin = bureau.post("/api/v1/offerings", json=API | {"parcel_id": make_parcel()["id"]},
                       headers=tokens["shenzhen"])
    patched = bureau.patch(f"/api/v1/offerings/{twin.json()['id']}", headers=tokens["shenzhen"],
                           json={"lease_years": 6, "rent_review_years": None,
                                 "rent_review_cap_percent": None, "srdi_priority": False})
    assert patched.status_code == 200, patched.text
    skip = {"parcel_id", "parcel_code", "created_at", "updated_at"}
    assert {k: v for k, v in props.items() if k not in skip} == \
        {k: v for k, v in patched.json()["properties"].items() if k not in skip}
    # The form read before this edit is stale now: 412, nothing changed.
    stale = post_form(bureau, f"{page}/edit", edited | {"lease_years": "7"}, f"{page}/edit")
    assert stale.status_code == 412
    assert session.get(Offering, oid).lease_years == 6
    # Once published, a draft's edit is a 409.
    post_form(bureau, f"{page}/transitions", {"action": "publish"}, page)
    fresh = html.unescape(re.search(r'name="etag" value="([^"]+)"',
                                    bureau.get(f"{page}/edit").text)[1])
    late = post_form(bureau, f"{page}/edit", edited | {"etag": fresh}, f"{page}/edit")
    assert late.status_code == 409
    assert "只有草稿可以修改" in html.unescape(late.text)
