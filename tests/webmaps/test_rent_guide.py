"""The rent-guide map: the page builder (no server) and the page in headless Chromium."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from urllib.parse import urlsplit

import numpy as np
import pytest
import shapely

import maps
from landsvc.districts.service import list_districts
from maps.common import CHINA_TIME, MapFacts
from maps.rent_guide import (
    BUILDING_TYPES,
    NO_DATA,
    PALETTE,
    class_breaks,
    class_of,
    rent_district_base,
    rent_guide_map,
)
from tests.builders import BAOAN, FUTIAN, HAIZHU, feature, square
from tests.webmaps.pages import external_urls, offline

DISTRICTS_IN_GUANGDONG = 124
MAX_PAGE_BYTES = 1_500_000  # DESIGN.md: the page for all districts weighs at most 1.5 MB


def district(adcode, name, city_adcode, city_name, lon, lat, side_m=20_000):
    return feature(square(lon, lat, side_m), adcode=adcode, name=name,
                   city_adcode=city_adcode, city_name=city_name)


DISTRICTS = [
    district("440304", "福田区", "440300", "深圳市", *FUTIAN),
    district("440306", "宝安区", "440300", "深圳市", *BAOAN),
    district("440105", "海珠区", "440100", "广州市", *HAIZHU),
]


def item(district, building_type, median, p25=None, p75=None, samples=25, source="district",
         zone=None):
    return {"zone": zone, "district": district, "building_type": building_type,
            "median": median, "p25": median - 3 if p25 is None else p25,
            "p75": median + 4 if p75 is None else p75, "weighted_mean": median,
            "samples": samples, "source": source, "version": 2, "effective_date": "2026-07-01"}


def district_data(html: str) -> dict:
    """The FeatureCollection the choropleth layers share (``var district_data_… = {…};``)."""
    found = re.findall(r"var district_data_\w+ = (\{.*\});$", html, re.M)
    assert len(found) == 1, "the district geometry should be in the page exactly once"
    return json.loads(found[0])


def panels(html: str) -> str:
    """The HTML of the page's panels (header, legend, credits), decoded from their script."""
    return "\n".join(json.loads(m) for m in
                     re.findall(r'div\.innerHTML = ("(?:[^"\\]|\\.)*");', html))


def page(items, districts=DISTRICTS, **kwargs) -> str:
    kwargs.setdefault("period", "2026H2")
    return maps.render(rent_guide_map(items, districts, **kwargs))


# -- classes ----------------------------------------------------------------------------------
def test_few_distinct_medians_are_each_their_own_class():
    assert class_breaks([]) == []
    assert class_breaks([12.5, 12.5]) == [12.5]
    assert class_breaks([30.0, 12.5, 20.0, 12.5]) == [12.5, 20.0, 30.0]
    assert [class_of(v, [12.5, 20.0, 30.0]) for v in (12.5, 20.0, 30.0)] == [0, 1, 2]


def _best_partition(values: np.ndarray, k: int) -> list[float]:
    """Upper bounds of the k contiguous groups of sorted values with the least within-group
    sum of squares, by trying every cut (the definition of Fisher–Jenks breaks)."""
    values = np.sort(values)
    best, best_cost = None, np.inf
    for cuts in itertools.combinations(range(1, len(values)), k - 1):
        groups = np.split(values, cuts)
        cost = sum(((g - g.mean()) ** 2).sum() for g in groups)
        if cost < best_cost:
            best, best_cost = [float(g[-1]) for g in groups], cost
    return best


def test_breaks_are_the_fisher_jenks_optimum():
    medians = np.array([8.2, 9.0, 9.1, 14.0, 15.5, 16.0, 24.0, 25.0, 38.0, 41.0, 58.0])
    assert class_breaks(list(medians)) == pytest.approx(_best_partition(medians, 5))


# -- the page ---------------------------------------------------------------------------------
def test_layers_tooltips_and_no_data():
    items = [item("440304", "single_storey", 52.0, samples=40),
             item("440306", "single_storey", 31.5, source="city_fallback", samples=4),
             item("440304", "high_rise", 45.0),
             item("440304", "multi_storey", 99.0, zone="龙岗片区 3")]  # a zone: not drawn
    facts = MapFacts(updated_at=dt.datetime(2026, 6, 20, 9, 30, tzinfo=CHINA_TIME),
                     review_number="粤S（2026）001号", boundary_source="省自然资源厅 2025 年行政区划")
    html = page(items, version=2, published_at="2026-06-20T09:30:00+08:00",
                effective_date="2026-07-01", facts=facts)
    data = district_data(html)
    props = {f["properties"]["adcode"]: f["properties"] for f in data["features"]}
    assert set(props) == {"440304", "440306", "440105"}

    futian, baoan, haizhu = props["440304"], props["440306"], props["440105"]
    assert futian["name"] == "福田区" and futian["city_name"] == "深圳市"
    assert futian["single_storey_median"] == "52.00 元/㎡·月"
    assert futian["single_storey_range"] == "49.00 – 56.00"
    assert futian["single_storey_samples"] == "40"
    assert futian["single_storey_source"] == "本区县样本"
    assert futian["period"] == "2026H2"
    assert baoan["single_storey_source"] == "样本不足，沿用所属地级市数值"
    # Three distinct medians on the page -> three classes, in order.
    assert (baoan["single_storey_class"], futian["high_rise_class"],
            futian["single_storey_class"]) == ("0", "1", "2")
    assert futian["multi_storey_median"] == NO_DATA and "multi_storey_class" not in futian
    for kind in BUILDING_TYPES:
        assert haizhu[f"{kind}_median"] == NO_DATA

    # One layer per building type in the layer control (radio buttons), city lines on top.
    control = re.search(r"base_layers : \{(.*?)\}", html, re.S).group(1)
    assert [json.loads(f'"{n}"') for n in re.findall(r'"([^"]+)" :', control)] == [
        "单层厂房", "多层厂房", "高层厂房"]
    assert html.count("addData(district_data_") == 3
    assert "bringToFront" in html and "setPrefix(" in html

    for text in ("元/㎡·月", "暂无数据", "2026H2", "第 2 版", "发布于 2026-06-20",
                 "自 2026-07-01 起执行", "粤S（2026）001号", "省自然资源厅 2025 年行政区划",
                 "数据更新：</b>2026-06-20", "≤ 31.50", "31.50 – 45.00", "45.00 – 52.00"):
        assert text in panels(html), text
    for label in ("区县", "指导价（中位数）", "P25 – P75", "样本数", "期间", "数据来源"):
        assert f'"{label}"' in html
    assert PALETTE[0] in html and external_urls(html) == []


def test_zones_with_a_guideline_are_drawn_over_their_district():
    lon, lat = FUTIAN
    zones = [{"type": "Feature", "id": 7, "geometry": shapely.geometry.mapping(
                  square(lon, lat, 1_000)),
              "properties": {"name": "车公庙", "district": "440304", "district_name": "福田区"}},
             {"type": "Feature", "id": 8, "geometry": shapely.geometry.mapping(
                  square(lon + 0.02, lat, 1_000)),
              "properties": {"name": "无价片区", "district": "440304", "district_name": "福田区"}}]
    items = [item("440304", "single_storey", 40.0),
             item("440304", "single_storey", 62.0, zone=7, samples=15, source="zone"),
             item("440304", "multi_storey", 40.0, zone=7, source="district")]
    html = page(items, zones=zones)
    features = district_data(html)["features"]
    assert len(features) == len(DISTRICTS) + 1  # zone 8 has no guideline: not drawn
    zone = features[-1]["properties"]  # after the districts: drawn over them
    assert zone["zone"] == "7" and zone["name"] == "车公庙（福田区片区）"
    assert zone["city_name"] == "深圳市"
    assert zone["single_storey_median"] == "62.00 元/㎡·月"
    assert zone["single_storey_source"] == "片区样本"
    assert zone["multi_storey_source"] == "本区县样本"
    assert zone["high_rise_median"] == NO_DATA
    # Medians 40 and 62 on the page: two classes, the zone in the upper one.
    assert zone["single_storey_class"] == "1" and zone["multi_storey_class"] == "0"
    assert "含 1 个片区的指导价" in panels(html)


def test_nothing_published_says_so_and_names_no_review_number():
    html = page([], period=None)
    assert "尚未发布租金指导价" in panels(html) and "审图号：</b>未配置" in panels(html)
    props = [f["properties"] for f in district_data(html)["features"]]
    assert all(p[f"{k}_median"] == NO_DATA for p in props for k in BUILDING_TYPES)


def test_first_layer_follows_building_type_and_rejects_unknown():
    html = page([item("440304", "high_rise", 45.0)], building_type="high_rise")
    shown = re.findall(r"(geo_json_layer_\w+)\.addTo\(map_", html)
    high_rise = re.findall(r'"\\u9ad8\\u5c42\\u5382\\u623f" : (geo_json_layer_\w+)', html)
    assert high_rise and high_rise[0] in shown
    assert len(shown) == 2  # the high-rise layer and the city lines
    with pytest.raises(ValueError, match="building_type"):
        page([], building_type="tower")


def test_relative_assets_for_static_export():
    html = page([], assets_url="assets")
    assert 'src="assets/leaflet/dist/leaflet.js"' in html


def test_page_for_every_district_stays_under_budget(session):
    """All 124 districts, every building type with a guideline: ≤ 1.5 MB of HTML."""
    districts = list_districts(session=session)
    assert len(districts) == 124
    rng = np.random.default_rng(9)
    items = [item(d["properties"]["adcode"], kind, round(float(rng.uniform(8, 60)), 2),
                  samples=int(rng.integers(10, 5000)))
             for d in districts for kind in BUILDING_TYPES]
    html = page(items, districts=rent_district_base(districts), version=1,
                published_at="2026-06-20", effective_date="2026-07-01")
    size = len(html.encode("utf-8"))
    assert size <= MAX_PAGE_BYTES, f"{size:,} bytes"
    data = district_data(html)
    assert len(data["features"]) == 124
    assert all("single_storey_class" in f["properties"] for f in data["features"])


# -- the page in Chromium ---------------------------------------------------------------------
BROWSER_PERIOD = "2026H1"
BROWSER_PREFIX = "RENT-GUIDE-BROWSER-"
FUTIAN_RENTS = [38.0, 40.0, 41.5, 42.0, 43.0, 44.0, 45.5, 46.0, 48.0, 50.0, 52.0, 55.0]
BAOAN_RENTS = [30.0, 32.0, 34.0]  # 3 < 10 samples: Bao'an takes Shenzhen's figures


def _lease(i: int, lon: float, lat: float, rent: float) -> dict:
    return {"contract_no": f"{BROWSER_PREFIX}{i:03d}", "lon": lon + 0.001 * (i % 7),
            "lat": lat + 0.001 * (i % 5), "building_type": "single_storey", "floor": 1,
            "area_m2": 500 + 10 * i, "rent_yuan_per_m2_month": rent,
            "start_date": "2025-07-01", "end_date": "2027-06-30",
            "registered_date": "2025-07-05"}


@pytest.fixture
def published_guideline(engine):
    """Leases in Futian and Bao'an and a guideline computed and published from them, all
    committed through the services (the server reads them on its own connections); removed
    afterwards with the published version's guard set aside for that one transaction."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from landsvc.guidelines import service as guidelines
    from landsvc.rents.importing import import_rent_rows

    rows = [_lease(i, *FUTIAN, rent) for i, rent in enumerate(FUTIAN_RENTS)]
    rows += [_lease(100 + i, *BAOAN, rent) for i, rent in enumerate(BAOAN_RENTS)]
    version_id = None
    try:
        with Session(engine) as session:
            report = import_rent_rows(session=session, rows=rows)
            assert report["imported"] == len(rows), report
            version = guidelines.compute(session=session, period=BROWSER_PERIOD)
            version_id = version["id"]
            guidelines.publish(session=session, version_id=version_id,
                               effective_date=dt.date(2026, 1, 1))
            session.commit()
        yield version
    finally:
        with Session(engine) as session:
            session.execute(text("SET LOCAL session_replication_role = replica"))
            if version_id is not None:
                session.execute(text("DELETE FROM rent_guideline_item WHERE version_id = :v"),
                                {"v": version_id})
                session.execute(text("DELETE FROM rent_guideline_version WHERE id = :v"),
                                {"v": version_id})
            session.execute(text("DELETE FROM rent_record WHERE contract_no LIKE :p"),
                            {"p": BROWSER_PREFIX + "%"})
            session.commit()


def test_rent_guide_draws_in_chromium(published_guideline, server, browser,
                                      tmp_path):
    page, host, requests, problems = offline(browser, server)

    page.goto(f"{server}/maps/rent-guide?period={BROWSER_PERIOD}&as_of=2026-03-01",
              wait_until="load")
    assert page.evaluate("typeof L") == "object", f"Leaflet did not load: {problems}"
    assert page.locator(".leaflet-container").count() == 1
    # The single-storey layer is on: one shape per district, each district once.
    drawn = page.evaluate("""() => {
        const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
        const seen = [];
        map.eachLayer(l => { if (l.feature && l.feature.properties.adcode) {
            seen.push(l.feature.properties.adcode); } });
        return seen; }""")
    assert len(drawn) == DISTRICTS_IN_GUANGDONG and len(set(drawn)) == DISTRICTS_IN_GUANGDONG
    assert page.locator("path.leaflet-interactive").count() == DISTRICTS_IN_GUANGDONG

    legend = page.inner_text(".lsv-legend")
    assert "元/㎡·月" in legend and NO_DATA in legend
    header = page.inner_text(".lsv-header")
    assert BROWSER_PERIOD in header and "自 2026-01-01 起执行" in header
    credits = page.inner_text(".lsv-credits")
    assert "审图号" in credits and "边界来源" in credits and "数据更新" in credits
    assert page.locator(".leaflet-control-layers-base input").count() == 3

    def tooltip(adcode: str) -> str:
        return page.evaluate("""(adcode) => {
            const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
            let text = null;
            map.eachLayer(l => { if (!text && l.feature && l.feature.properties.adcode === adcode
                                     && l.getTooltip()) {
                l.openTooltip(l.getBounds().getCenter());
                text = l.getTooltip().getElement().innerText; l.closeTooltip(); } });
            return text; }""", adcode)

    # Futian's 12 leases: median of the 6th and 7th (44.0, 45.5) = 44.75; quartiles by linear
    # interpolation at positions 2.75 and 8.25 of 0..11: 41.5+0.75*0.5 = 41.875 -> 41.88 and
    # 48.0+0.25*2.0 = 48.5. No outlier: fences 41.875 -/+ 1.5*6.625 hold 38 … 55.
    futian = tooltip("440304")
    for text in ("福田区", "44.75 元/㎡·月", "41.88 – 48.50", "12", BROWSER_PERIOD, "本区县样本"):
        assert text in futian, futian
    baoan = tooltip("440306")
    assert "沿用所属地级市" in baoan, baoan
    assert NO_DATA in tooltip("440105")  # Haizhu: no lease anywhere in Guangzhou

    page.screenshot(path=str(tmp_path / "rent-guide-map.png"))  # kept by pytest for a look
    assert problems == []
    assert requests and all(urlsplit(u).netloc == host for u in requests
                            if not u.startswith("data:")), requests


# -- the static export ------------------------------------------------------------------------
def test_export_writes_a_page_that_links_only_its_own_assets(published_guideline, tmp_path):
    from typer.testing import CliRunner

    from landsvc.maps_export import maps_app

    out = tmp_path / "site"
    result = CliRunner().invoke(maps_app, ["export", "--period", BROWSER_PERIOD,
                                           "--as-of", "2026-03-01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = (out / "rent-guide.html").read_text("utf-8")
    # Relative links only (external_urls counts those as foreign: it expects server paths).
    assert [u for u in external_urls(html) if not u.startswith("assets/")] == []
    linked = re.findall(r'(?:src|href)="(assets/[^"]+)"', html)
    assert linked and all((out / path).is_file() for path in linked), linked
    assert (out / "assets/leaflet/dist/images/layers.png").is_file()
    futian = next(f["properties"] for f in district_data(html)["features"]
                  if f["properties"]["adcode"] == "440304")
    assert futian["single_storey_median"] == "44.75 元/㎡·月"  # as in the browser test
    assert not list(out.glob(".rent-guide.html.*"))  # no partial file left


def test_export_refuses_a_period_with_nothing_published(session, tmp_path):
    from typer.testing import CliRunner

    from landsvc.maps_export import maps_app

    runner = CliRunner()
    result = runner.invoke(maps_app, ["export", "--period", "2031Q2", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "没有已发布" in result.output
    assert not (tmp_path / "rent-guide.html").exists()
    bad = runner.invoke(maps_app, ["export", "--period", "2026X9", "--out", str(tmp_path)])
    assert bad.exit_code == 1 and "period" in bad.output
    assert runner.invoke(maps_app, ["export", "--as-of", "soon", "--out",
                                    str(tmp_path)]).exit_code == 2


# -- the route --------------------------------------------------------------------------------
@pytest.mark.parametrize(("query", "field"), [
    ("period=2026H3", "period"), ("period=26", "period"),
    ("building_type=tower", "building_type"), ("as_of=soon", "as_of"),
])
def test_bad_parameters_answer_json_not_a_page(client, query, field):
    r = client.get(f"/maps/rent-guide?{query}")
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/json")
    assert field in r.json()["detail"]


def test_public_page_without_a_token(client):
    r = client.get("/maps/rent-guide?building_type=multi_storey")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert len(district_data(r.text)["features"]) == DISTRICTS_IN_GUANGDONG


def test_page_draws_a_bureaus_zones_from_a_zone_level_version(session, client):
    """Zone, leases, a zone-level computation and its publication through the services, in the
    test's transaction; the page then shows the zone over Futian with its own median."""
    from landsvc.guidelines import service as guidelines
    from landsvc.rents.importing import import_rent_rows

    lon, lat = FUTIAN
    zone = guidelines.create_zone(session=session, name="测试片区",
                                  geometry=shapely.geometry.mapping(square(lon, lat, 2_000)))
    rents = [20.0 + i for i in range(11)]  # 11 leases inside the zone: median 25.0
    rows = [_lease(200 + i, lon - 0.003, lat - 0.002, rent) for i, rent in enumerate(rents)]
    assert import_rent_rows(session=session, rows=rows)["imported"] == len(rows)
    version = guidelines.compute(session=session, period="2026Q1", level="zone")
    guidelines.publish(session=session, version_id=version["id"],
                       effective_date=dt.date(2026, 1, 1))

    r = client.get("/maps/rent-guide?period=2026Q1&as_of=2026-02-01")
    assert r.status_code == 200, r.text
    features = district_data(r.text)["features"]
    zones = [f["properties"] for f in features if "zone" in f["properties"]]
    assert [z["zone"] for z in zones] == [str(zone["id"])]
    assert zones[0]["single_storey_median"] == "25.00 元/㎡·月"
    assert zones[0]["single_storey_samples"] == "11"
    assert zones[0]["name"] == "测试片区（福田区片区）"


def test_a_published_page_is_kept_until_another_version_is_in_force(session, client):
    """The second request is served from the kept page (the very same string); publishing a
    newer version for the period gives a new page with its figures."""
    from landsvc.guidelines import service as guidelines
    from landsvc.rents.importing import import_rent_rows
    from landsvc.webmaps import rent_guide

    lon, lat = FUTIAN
    rows = [_lease(300 + i, lon, lat, 30.0 + i) for i in range(11)]  # median 35.0
    assert import_rent_rows(session=session, rows=rows)["imported"] == len(rows)
    first = guidelines.compute(session=session, period="2025Q3", level="district")
    guidelines.publish(session=session, version_id=first["id"],
                       effective_date=dt.date(2025, 7, 1))
    kept = dict(rent_guide._pages)

    def futian_median(html):
        return next(f["properties"]["single_storey_median"]
                    for f in district_data(html)["features"]
                    if f["properties"].get("adcode") == "440304")

    url = "/maps/rent-guide?period=2025Q3&as_of=2025-08-01"
    one, two = client.get(url).text, client.get(url).text
    assert one == two and futian_median(one) == "35.00 元/㎡·月"
    assert len(rent_guide._pages) == min(len(kept) + 1, rent_guide.PAGES_KEPT)

    more = [_lease(400 + i, lon, lat, 50.0) for i in range(11)]  # the median moves up
    assert import_rent_rows(session=session, rows=more)["imported"] == len(more)
    second = guidelines.compute(session=session, period="2025Q3", level="district")
    guidelines.publish(session=session, version_id=second["id"],
                       effective_date=dt.date(2025, 7, 15))
    three = client.get(url).text
    assert three != one and futian_median(three) == f"{float(second_median(second)):.2f} 元/㎡·月"


def second_median(version: dict) -> float:
    return next(i["median"] for i in version["items"]
                if i["district"] == "440304" and i["building_type"] == "single_storey")
