"""The public portal: the rent guide, offerings, listings and parks as the public sees them.

Data are made through the API (the same services), in the test's rolled-back session; the
figures expected on the pages come from the API's own answers and from the inputs.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from landsvc.fields import today
from tests.builders import BAOAN, FUTIAN, HAIZHU, feature, square
from tests.buildings.util import create_building, point
from tests.guidelines.helpers import group, records
from tests.offerings.test_rules import VALID
from tests.web.conftest import login

CHINA = ZoneInfo("Asia/Shanghai")
MU = 2000 / 3


# -- reading pages back (stdlib only) -----------------------------------------------------
class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self._open: list[dict] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._open.append({"caption": "", "rows": []})
        elif tag == "caption" and self._open:
            self._caption = []
        elif tag == "tr" and self._open:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if tag == "table" and self._open:
            self.tables.append(self._open.pop())
        elif tag == "caption" and self._caption is not None:
            self._open[-1]["caption"] = squash("".join(self._caption))
            self._caption = None
        elif tag == "tr" and self._row is not None:
            self._open[-1]["rows"].append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(squash("".join(self._cell)))
            self._cell = None

    def handle_data(self, data):
        for part in (self._cell, self._caption):
            if part is not None:
                part.append(data)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def table(html: str, caption_part: str, header: bool = True) -> list[list[str]]:
    """The rows (after the header row) of the one table whose caption holds ``caption_part``."""
    parser = _Tables()
    parser.feed(html)
    found = [t for t in parser.tables if caption_part in t["caption"]]
    assert len(found) == 1, [t["caption"] for t in parser.tables]
    return found[0]["rows"][1 if header else 0:]


def row_ids(html: str) -> list[int]:
    """The ids of the result rows (``<tr data-id=…>``), in page order."""
    return [int(i) for i in re.findall(r'<tr data-id="(\d+)"', html)]


def map_layers(html: str, map_id: str) -> list[dict]:
    found = re.search(rf'<script id="{map_id}-data" type="application/json">(.*?)</script>',
                      html, re.S)
    assert found, f"no data for map {map_id}"
    return json.loads(found[1])


def text_of(html: str) -> str:
    """The page's text: scripts and tags removed, entities decoded, spaces squashed."""
    return squash(unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", " ", html,
                                                              flags=re.S))))


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


# -- making data through the API ----------------------------------------------------------
@pytest.fixture
def make_parcel(client, tokens):
    made = iter(range(1, 1000))

    def make(where=BAOAN, side_m=100.0) -> dict:
        body = feature(square(*where, side_m), code=f"PUB-{next(made):03d}", status="available")
        r = client.post("/api/v1/parcels", json=body, headers=tokens["admin"])
        assert r.status_code == 201, r.text
        return r.json()

    return make


def offer(client, tokens, parcel: dict, mode: str, *, publish: bool = True, **changes) -> dict:
    body = {"parcel_id": parcel["id"], "supply_mode": mode} | VALID[mode] | changes
    r = client.post("/api/v1/offerings", json=body, headers=tokens["admin"])
    assert r.status_code == 201, r.text
    if publish:
        r = client.post(f"/api/v1/offerings/{r.json()['id']}/transitions",
                        json={"action": "publish"}, headers=tokens["admin"])
        assert r.status_code == 200, r.text
    return r.json()


def list_factory(client, headers, building_id: int, rent: float, *, publish: bool = True,
                 **extra) -> dict:
    r = client.post("/api/v1/listings", headers=headers, json={
        "building_id": building_id, "kind": "factory", "area_m2": 500,
        "rent_yuan_per_m2_month": rent} | extra)
    assert r.status_code == 201, r.text
    if publish:
        r = client.post(f"/api/v1/listings/{r.json()['id']}/transitions",
                        json={"action": "publish"}, headers=headers)
        assert r.status_code == 200, r.text
    return r.json()


def publish_baoan_guideline(client, tokens, session) -> dict:
    """Bao'an's guideline for this year, multi- and single-storey, effective today."""
    rng = np.random.default_rng(7)
    records(session, group(rng, 30, district="440306", point=BAOAN,
                           building_type="multi_storey", centre=30)
            + group(rng, 20, district="440306", point=BAOAN, building_type="single_storey",
                    centre=24))
    draft = client.post("/api/v1/rent-guidelines/compute", json={"period": str(today().year)},
                        headers=tokens["baoan"])
    assert draft.status_code == 201, draft.text
    r = client.post(f"/api/v1/rent-guidelines/versions/{draft.json()['id']}/publish",
                    json={"effective_date": today().isoformat()}, headers=tokens["baoan"])
    assert r.status_code == 200, r.text
    return r.json()


def make_park(client, tokens, name="宝安智能制造产业园", **props) -> dict:
    body = feature(square(*BAOAN, 2000), name=name, **({"leading_industries": ["C39", "C3971"],
                   "featured_srdi": True, "services": ["人才公寓", "检测认证"]} | props))
    r = client.post("/api/v1/parks", json=body, headers=tokens["baoan"])
    assert r.status_code == 201, r.text
    return r.json()


# -- the rent guide -----------------------------------------------------------------------
def guideline_rows(items: list[dict]) -> list[list[str]]:
    return [[i["district_name"], i["zone_name"] or "全区", i["building_type_label"],
             fmt(i["median"]), f"{fmt(i['p25'])}–{fmt(i['p75'])}", str(i["samples"])]
            for i in items]


def test_home_shows_the_guideline_in_force_as_a_table_and_a_map(client, tokens, session):
    published = publish_baoan_guideline(client, tokens, session)
    api = client.get("/api/v1/rent-guidelines").json()
    assert api["version"] == published["id"] and len(api["items"]) == 2

    r = client.get("/")
    assert r.status_code == 200
    assert table(r.text, "各区县工业厂房租金指导价") == guideline_rows(api["items"])
    assert ["宝安区", "全区", "多层厂房"] in [row[:3] for row in table(r.text, "租金指导价")]
    version = text_of(re.search(r'<p class="meta" id="guide-version">.*?</p>', r.text, re.S)[0])
    assert version == (f"版本 {published['id']} · 期间 {today().year} · 生效日期 "
                       f"{today().isoformat()} · 发布于 {api['published_at'][:10]}")
    frame = re.search(r'<iframe [^>]*title="([^"]+)" src="([^"]+)"', r.text)
    assert frame and "租金指导价地图" in frame[1]
    assert unescape(frame[2]) == f"/maps/rent-guide?period={today().year}"

    # the building-type filter narrows the table and the map's first layer alike
    r = client.get("/", params={"building_type": "single_storey"})
    single = [i for i in api["items"] if i["building_type"] == "single_storey"]
    assert table(r.text, "各区县工业厂房租金指导价") == guideline_rows(single)
    assert re.search(r'<option value="single_storey" selected>单层厂房</option>', r.text)
    src = unescape(re.search(r'<iframe [^>]*src="([^"]+)"', r.text)[1])
    assert src == f"/maps/rent-guide?building_type=single_storey&period={today().year}"
    assert client.get(src).status_code == 200  # the embedded page answers
    assert "元/㎡·月" in r.text


def test_home_says_so_when_nothing_is_published(client):
    r = client.get("/", params={"as_of": "2001-01-01"})
    assert r.status_code == 200
    assert "暂无已发布的租金指导价" in r.text
    assert "<iframe" not in r.text and "<table" not in r.text


def test_home_refuses_a_bad_filter_beside_its_field(client):
    r = client.get("/", params={"building_type": "castle", "period": "2026"})
    assert r.status_code == 422
    assert re.search(r'<p class="error" id="e-building_type" role="alert">无效的建筑类型：castle</p>',
                     r.text)
    r = client.get("/", params={"period": "someday"})
    assert r.status_code == 422
    assert 'id="e-period"' in r.text and "无法识别的期间" in unescape(r.text)
    assert 'value="someday"' in r.text  # the input kept


def test_home_counts_published_offerings_listings_and_featured_parks(client, tokens,
                                                                     make_parcel):
    before = {k: int(v) for k, v in re.findall(
        r'href="/portal/(offerings|listings)[^"]*"><span class="stat">(\d+)</span>',
        client.get("/").text)}
    offer(client, tokens, make_parcel(), "transfer")
    offer(client, tokens, make_parcel(FUTIAN), "lease", publish=False)
    park = make_park(client, tokens)
    bid = create_building(client, tokens["admin"])["id"]
    list_factory(client, tokens["baoan"], bid, 30)
    list_factory(client, tokens["baoan"], bid, 31, publish=False)
    r = client.get("/")
    after = {k: int(v) for k, v in re.findall(
        r'href="/portal/(offerings|listings)[^"]*"><span class="stat">(\d+)</span>', r.text)}
    assert after == {"offerings": before["offerings"] + 1, "listings": before["listings"] + 1}
    assert f'<a href="/portal/parks/{park["id"]}">宝安智能制造产业园</a>' in r.text


# -- offerings ----------------------------------------------------------------------------
def test_offerings_list_filters_to_exactly_the_expected_ids(client, tokens, make_parcel):
    park = make_park(client, tokens)
    baoan_small = offer(client, tokens, make_parcel(BAOAN, 100), "transfer")          # 15 亩
    futian_big = offer(client, tokens, make_parcel(FUTIAN, 200), "lease")             # 60 亩
    haizhu = offer(client, tokens, make_parcel(HAIZHU, 150), "flexible_term_transfer")
    draft = offer(client, tokens, make_parcel((BAOAN[0] + 0.003, BAOAN[1]), 100), "transfer",
                  publish=False)
    closed = offer(client, tokens, make_parcel((BAOAN[0] - 0.003, BAOAN[1]), 110), "lease")
    client.post(f"/api/v1/offerings/{closed['id']}/transitions", json={"action": "close"},
                headers=tokens["admin"])
    ours = {baoan_small["id"], futian_big["id"], haizhu["id"], closed["id"]}

    def ids(**params) -> list[int]:
        r = client.get("/portal/offerings", params=params)
        assert r.status_code == 200, r.text
        return [i for i in row_ids(r.text) if i in ours | {draft["id"]}]

    assert ids() == sorted(ours)
    assert draft["id"] not in ids()
    assert ids(district="440306") == sorted([baoan_small["id"], closed["id"]])
    assert ids(district="4403") == sorted([baoan_small["id"], futian_big["id"], closed["id"]])
    assert ids(supply_mode="lease") == sorted([futian_big["id"], closed["id"]])
    assert ids(status="closed") == [closed["id"]]
    assert ids(status="published", district="440306") == [baoan_small["id"]]
    assert ids(park=str(park["id"])) == sorted([baoan_small["id"], closed["id"]])
    # 亩 and ㎡ say the same: 20 亩 = 13,333.33 ㎡ lies between 150 m and 200 m squares
    areas = {o["id"]: o["properties"]["area_m2"] for o in (baoan_small, futian_big, haizhu)}
    assert areas[haizhu["id"]] > 20 * MU and areas[baoan_small["id"]] < 20 * MU < 40 * MU \
        < areas[futian_big["id"]] > 40 * MU
    assert ids(min_area="20", area_unit="mu") == sorted([futian_big["id"], haizhu["id"]])
    assert ids(min_area=str(round(20 * MU, 2)), area_unit="m2") == \
        sorted([futian_big["id"], haizhu["id"]])
    assert ids(max_area="20", area_unit="mu", district="4403") == \
        sorted([baoan_small["id"], closed["id"]])
    assert ids(min_area="40", area_unit="mu", supply_mode="lease") == [futian_big["id"]]

    # the table shows the exact figures, and the map the same Features with text popups
    r = client.get("/portal/offerings", params={"district": "440304"})
    rows = table(r.text, "供地列表")
    p = futian_big["properties"]
    assert rows == [[f"供地 {futian_big['id']} 地块 {p['parcel_code']}", "长期租赁", "福田区", "—",
                     f"{fmt(p['area_m2'])} ㎡ {fmt(p['area_m2'] / MU)} 亩",
                     f"{fmt(p['annual_rent_yuan'])} 元/年", "已发布"]]
    assert f'<a href="/portal/offerings/{futian_big["id"]}">' in r.text
    layer = map_layers(r.text, "offerings-map")[0]
    assert layer["kind"] == "offering"
    assert [f["id"] for f in layer["data"]["features"]] == [futian_big["id"]]
    assert layer["data"]["features"][0]["geometry"] == futian_big["geometry"]
    assert layer["data"]["features"][0]["properties"]["popup"].startswith(
        f"供地 {futian_big['id']} · 长期租赁（已发布）\n福田区")


def test_offering_filters_refuse_bad_values(client):
    for params, field, message in [
        ({"min_area": "-5"}, "min_area", "最小面积应为不小于 0 的数字"),
        ({"min_area": "abc"}, "min_area", "最小面积应为不小于 0 的数字"),
        ({"min_area": "9", "max_area": "3"}, "max_area", "最大面积不能小于最小面积"),
        ({"supply_mode": "gift"}, "supply_mode", "无效的供地方式：gift"),
        ({"status": "draft"}, "status", "无效的状态：draft"),
        ({"district": "9999"}, "district", "无效的行政区：9999"),
        ({"area_unit": "acre"}, "area_unit", "无效的面积单位：acre"),

    ]:
        r = client.get("/portal/offerings", params=params)
        assert r.status_code == 422, params
        assert f'<p class="error" id="e-{field}" role="alert">{message}</p>' in r.text, params
        assert "查询结果" not in r.text
    r = client.get("/portal/offerings", params={"offset": "-1"})
    assert r.status_code == 422
    assert '<div class="alert error" role="alert">分页位置应为非负整数</div>' in r.text


def test_offerings_pager_keeps_the_filters(client, tokens, make_parcel):
    made = [offer(client, tokens, make_parcel((BAOAN[0] + 0.002 * (i % 11),
                                               BAOAN[1] + 0.002 * (i // 11)), 60), "transfer")
            for i in range(21)]
    ids = sorted(o["id"] for o in made)
    r = client.get("/portal/offerings", params={"district": "440306", "supply_mode": "transfer"})
    assert row_ids(r.text) == ids[:20]
    assert "共 21 条，第 1–20 条" in r.text, re.search(r'<nav class="pager".*?</nav>', r.text, re.S)[0]
    nxt = unescape(re.search(r'<a href="([^"]+)" rel="next">下一页</a>', r.text)[1])
    assert nxt == "/portal/offerings?district=440306&supply_mode=transfer&offset=20"
    second = client.get(nxt)
    assert row_ids(second.text) == ids[20:]
    assert 'rel="next"' not in second.text
    prev = unescape(re.search(r'<a href="([^"]+)" rel="prev">上一页</a>', second.text)[1])
    assert prev == "/portal/offerings?district=440306&supply_mode=transfer"


def test_offering_detail_shows_terms_map_and_the_district_guideline(client, tokens, session,
                                                                    make_parcel):
    published = publish_baoan_guideline(client, tokens, session)
    park = make_park(client, tokens, name="宝安新材料产业园")
    opens = datetime.combine(today() + timedelta(days=10), datetime.min.time()).replace(
        hour=9, tzinfo=CHINA)
    offering = offer(client, tokens, make_parcel(BAOAN, 120), "lease_then_transfer",
                     min_tier="srdi_sme", srdi_priority=True, joint_bidding_allowed=True,
                     bidding_opens_at=opens.isoformat(),
                     bidding_closes_at=(opens + timedelta(days=5, hours=8)).isoformat())
    p = offering["properties"]
    r = client.get(f"/portal/offerings/{offering['id']}")
    assert r.status_code == 200
    text = text_of(r.text)
    for expected in [
        "供地方式 先租后让", f"地块 {p['parcel_code']}（存量建设用地）", "行政区 宝安区",
        "特色园区 宝安新材料产业园",
        f"面积 {fmt(p['area_m2'])} ㎡（{fmt(p['area_mu'], 4)} 亩）",
        "租赁期 5 年", "出让年限 40 年", "起始价 900.00 万元", "年租金 200,000.00 元",
        "评估价 1,000.00 万元", "竞买资格 专精特新中小企业及以上", "专精特新优先 是", "联合竞买 允许",
        f"竞价时间 {opens:%Y-%m-%d} 09:00 至 {opens + timedelta(days=5):%Y-%m-%d} 17:00（北京时间）",
        "投资强度 不低于 500.00 万元/亩", "达产期限 2031-12-31",
    ]:
        assert expected in text, expected
    assert f'<a href="/portal/parks/{park["id"]}">宝安新材料产业园</a>' in r.text
    assert map_layers(r.text, "offering-map")[0]["data"]["features"][0]["geometry"] \
        == offering["geometry"]
    # the guideline in force in its district, every building type
    in_force = client.get("/api/v1/rent-guidelines", params={"district": "440306"}).json()
    rows = table(r.text, "宝安区租金指导价")
    assert rows == [row[1:] for row in guideline_rows(in_force["items"])]
    assert {row[1] for row in rows} == {"多层厂房", "单层厂房"}
    assert f"版本 {published['id']} · 期间 {today().year} · 生效日期 {today().isoformat()}" in text


def test_offering_detail_without_a_guideline_says_so(client, tokens, make_parcel):
    offering = offer(client, tokens, make_parcel(HAIZHU), "transfer")
    r = client.get(f"/portal/offerings/{offering['id']}")
    assert r.status_code == 200
    assert "海珠区暂无现行的租金指导价" in text_of(r.text)
    assert "特色园区 —" in text_of(r.text)


def test_a_draft_offering_is_404_and_unlisted_even_for_its_bureau(client, tokens, make_parcel,
                                                                  web_user):
    draft = offer(client, tokens, make_parcel(), "transfer", publish=False)
    r = client.get(f"/portal/offerings/{draft['id']}")
    assert r.status_code == 404
    assert "页面不存在" in r.text and f"供地 {draft['id']} 不存在" in r.text
    assert client.get("/portal/offerings/99999999").status_code == 404
    assert client.get("/portal/offerings/abc").status_code == 422
    # a signed-in bureau that governs it sees the published view here too
    assert login(client, web_user("bureau", jurisdiction="4403")).status_code == 303
    assert client.get(f"/api/v1/offerings/{draft['id']}").status_code == 404  # no token
    r = client.get(f"/portal/offerings/{draft['id']}")
    assert r.status_code == 404
    assert draft["id"] not in row_ids(client.get("/portal/offerings").text)
    page = client.get("/")
    assert page.status_code == 200 and "bureau-" in page.text  # signed in, same portal


# -- listings -----------------------------------------------------------------------------
def test_listing_above_the_guideline_shows_the_warning(client, tokens, session):
    item = next(i for i in publish_baoan_guideline(client, tokens, session)["items"]
                if i["building_type"] == "multi_storey")
    bid = create_building(client, tokens["admin"])["id"]
    threshold = round(item["p75"] * 1.3, 2)
    high = list_factory(client, tokens["baoan"], bid, round(threshold + 0.5, 2), floor=3,
                        clear_height_m=8.5, power_kva=630)
    fair = list_factory(client, tokens["baoan"], bid, round(item["median"], 2))
    assert high["properties"]["flags"] == ["above_guideline"] and fair["properties"]["flags"] == []

    r = client.get(f"/portal/listings/{high['id']}")
    assert r.status_code == 200
    text = text_of(r.text)
    asking = high["properties"]["rent_yuan_per_m2_month"]
    warning = re.search(r'<div class="alert warn" role="alert">(.*?)</div>', r.text, re.S)
    assert warning and text_of(warning[1]) == (
        f"高于指导价： 要价 {fmt(asking)} 元/㎡·月，超过本区现行指导价 P75（{fmt(item['p75'])} 元/㎡·月）"
        f"上浮 30% 的 {fmt(threshold)} 元/㎡·月。承租前请核实租金构成。")
    g = high["properties"]["guideline"]
    assert table(r.text, "宝安区多层厂房现行指导价", header=False) == [
        ["本房源要价", f"{fmt(asking)} 元/㎡·月"], ["指导价中位数", fmt(g["median"])],
        ["P25–P75", f"{fmt(g['p25'])}–{fmt(g['p75'])}"],
        ["预警线（P75 上浮 30%）", fmt(g["flag_threshold"])], ["样本数", str(g["samples"])]]
    for expected in ["类型 厂房", "楼栋 宝安1号厂房（多层厂房）", "楼层 3", "面积 500.00 ㎡",
                     "净高 8.5 米", "配电容量 630 kVA", "货梯 有", "出租人 深圳甲精密制造有限公司（业主）"]:
        assert expected in text, expected

    r = client.get(f"/portal/listings/{fair['id']}")
    assert "高于指导价" not in r.text and "要价未超过指导价预警线" in r.text
    # the list marks the flagged one only
    r = client.get("/portal/listings", params={"district": "440306"})
    rows = {i: row for i, row in zip(row_ids(r.text), table(r.text, "房源列表"), strict=True)}
    assert rows[high["id"]][5] == f"{fmt(asking)} 元/㎡·月 高于指导价"
    assert rows[fair["id"]][5] == f"{fmt(fair['properties']['rent_yuan_per_m2_month'])} 元/㎡·月"


def test_listings_filters_drafts_and_escaping(client, tokens):
    evil = "<script>alert(1)</script>厂房"
    bid = create_building(client, tokens["admin"], name=evil)["id"]
    other = create_building(client, tokens["admin"], point(HAIZHU), name="广州厂房",
                            holder_name="广州乙公司")["id"]
    cheap = list_factory(client, tokens["baoan"], bid, 20, area_m2=800)
    dear = list_factory(client, tokens["baoan"], bid, 45, area_m2=300)
    draft = list_factory(client, tokens["baoan"], bid, 25, publish=False)
    gz = list_factory(client, tokens["guangzhou"], other, 35, area_m2=1000)
    r = client.post("/api/v1/listings", headers=tokens["baoan"], json={
        "building_id": bid, "kind": "affordable_housing", "area_m2": 900, "units": 20,
        "rent_yuan_per_unit_month": 1800})
    housing = client.post(f"/api/v1/listings/{r.json()['id']}/transitions",
                          json={"action": "publish"}, headers=tokens["baoan"]).json()
    ours = {cheap["id"], dear["id"], draft["id"], gz["id"], housing["id"]}

    def ids(**params) -> list[int]:
        r = client.get("/portal/listings", params=params)
        assert r.status_code == 200, r.text
        return [i for i in row_ids(r.text) if i in ours]

    assert ids() == sorted([cheap["id"], dear["id"], gz["id"], housing["id"]])
    assert ids(district="440105") == [gz["id"]]
    assert ids(kind="affordable_housing") == [housing["id"]]
    assert ids(min_area="500", district="44") == sorted([cheap["id"], gz["id"], housing["id"]])
    assert ids(max_rent="40", kind="factory") == sorted([cheap["id"], gz["id"]])
    assert client.get(f"/portal/listings/{draft['id']}").status_code == 404

    r = client.get("/portal/listings", params={"district": "440306"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;厂房" in r.text
    assert "<script>alert" not in r.text
    popup = map_layers(r.text, "listings-map")[0]["data"]["features"][0]["properties"]["popup"]
    assert evil in popup  # text for a textContent popup; the JSON block escapes "<"
    assert "\\u003cscript\\u003e" in r.text
    r = client.get(f"/portal/listings/{housing['id']}")
    text = text_of(r.text)
    assert "要价 1,800.00 元/套·月 × 20 套" in text and "类型 保障性租赁住房" in text
    assert "不适用工业厂房租金指导价" in text
    assert "<script>alert" not in r.text and "&lt;script&gt;" in r.text


# -- parks --------------------------------------------------------------------------------
def test_parks_list_and_detail_with_what_is_in_them(client, tokens, make_parcel):
    park = make_park(client, tokens, name="<script>alert('x')</script>宝安园",
                     services=["人才公寓", "<b>检测</b>"])
    inside = offer(client, tokens, make_parcel(BAOAN, 100), "transfer")
    hidden = offer(client, tokens, make_parcel((BAOAN[0] + 0.002, BAOAN[1]), 100), "lease",
                   publish=False)
    outside = offer(client, tokens, make_parcel(FUTIAN, 100), "transfer")
    bid = create_building(client, tokens["admin"])["id"]
    to_let = list_factory(client, tokens["baoan"], bid, 28)
    list_factory(client, tokens["baoan"], bid, 28, publish=False)

    r = client.get("/portal/parks", params={"featured_srdi": "true", "district": "440306"})
    assert r.status_code == 200
    assert park["id"] in row_ids(r.text)
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;宝安园" in r.text
    assert "<script>alert" not in r.text
    p = park["properties"]
    row = dict(zip(row_ids(r.text), table(r.text, "园区列表"), strict=True))[park["id"]]
    assert row == [f"{p['name']} 专精特新", "宝安区", "C39、C3971",
                   f"{fmt(p['area_m2'] / 10_000)} 公顷 {fmt(p['area_mu'])} 亩"]
    assert park["id"] not in row_ids(client.get("/portal/parks",
                                                params={"featured_srdi": "false"}).text)
    assert park["id"] not in row_ids(client.get("/portal/parks", params={"industry": "I65"}).text)
    assert park["id"] in row_ids(client.get("/portal/parks", params={"industry": "C397"}).text)
    bad = client.get("/portal/parks", params={"industry": "zz9"})
    assert bad.status_code == 422 and 'id="e-industry"' in bad.text

    r = client.get(f"/portal/parks/{park['id']}")
    assert r.status_code == 200
    text = text_of(r.text)
    assert "<script>alert" not in r.text and "&lt;b&gt;检测&lt;/b&gt;" in r.text
    for expected in [f"面积 {fmt(p['area_m2'] / 10_000)} 公顷（{fmt(p['area_mu'])} 亩）",
                     "主导产业 C39、C3971", "专精特新特色园区 是", "行政区 宝安区",
                     "配套服务 人才公寓 <b>检测</b>", "园内供地（1）", "园内招租房源（1）"]:
        assert expected in text, expected
    assert row_ids(r.text) == [inside["id"], to_let["id"]]
    assert hidden["id"] not in row_ids(r.text) and outside["id"] not in row_ids(r.text)
    kinds = {layer["kind"]: [f["id"] for f in layer["data"]["features"]]
             for layer in map_layers(r.text, "park-map")}
    assert kinds == {"park": [park["id"]], "offering": [inside["id"]], "listing": [to_let["id"]]}
    assert client.get("/portal/parks/99999999").status_code == 404


def test_pages_link_only_local_assets(client, tokens, make_parcel):
    offering = offer(client, tokens, make_parcel(), "transfer")
    for path in ("/", "/portal/offerings", f"/portal/offerings/{offering['id']}",
                 "/portal/listings", "/portal/parks"):
        r = client.get(path)
        assert r.status_code == 200, path
        linked = re.findall(r'<script[^>]*\bsrc="([^"]+)"', r.text) + re.findall(
            r'<link[^>]*\bhref="([^"]+)"', r.text)
        assert linked and all(u.startswith("/") for u in linked), (path, linked)
        assert "/static/public.js" in linked or path == "/"
