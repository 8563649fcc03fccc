"""The map pages in a real headless Chromium (Debian's), served by uvicorn, nothing reachable
but our own server: parcels drawn from vector tiles, the demand page behind a token, and on
every page the credits (数据更新, 审图号, 边界来源) and a flag-free attribution.

Pages read committed data through the server's own sessions, so each fixture commits its
rows and deletes them afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

import landsvc.webmaps.router as webmaps
from landsvc.access import OPERATOR, Principal
from landsvc.demands import service as demands
from landsvc.demands.models import Demand
from landsvc.enterprises.models import Enterprise
from landsvc.offerings import service as offerings
from landsvc.offerings.models import Offering
from landsvc.parcels.importing import import_parcels
from landsvc.parcels.models import Parcel
from landsvc.tokens.models import ApiToken, Role
from landsvc.tokens.service import create_token
from tests.builders import FUTIAN, feature, square
from tests.offerings.test_rules import VALID
from tests.webmaps.pages import offline

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "webmaps"
"""Screenshots kept after the run for a look (git-ignored)."""
USCC = "91440300MA5BRWNR3X"
CODES = [f"TILE-{i:02d}" for i in range(8)]
KM_LON = 1 / (111.320 * 0.9236)  # degrees of longitude per km at 福田's latitude
MAP_JS = 'window[Object.keys(window).find(k => k.startsWith("map_"))]'


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # popups and tiles fade in
    page.screenshot(path=str(ARTIFACTS / name))


@pytest.fixture
def committed(engine, tmp_path) -> Iterator[dict]:
    """Eight parcels in a row east of 福田 (0.5 km apart), two of them offered and published;
    an enterprise with a token and an open demand 5 km around 福田. Removed afterwards."""
    rows = [feature(square(FUTIAN[0] + 0.5 * i * KM_LON, FUTIAN[1], 150), code=code,
                    name=f"瓦片地块{i}", status="available")
            for i, code in enumerate(CODES)]
    path = tmp_path / "tiles.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": rows}), "utf-8")
    made: dict = {}
    try:
        with Session(engine) as session:
            assert import_parcels(session=session, path=path)["imported"] == len(CODES)
            session.add(Enterprise(uscc=USCC, name="浏览器测试企业", district="440304"))
            session.flush()
            ids = dict(session.query(Parcel.code, Parcel.id).filter(Parcel.code.in_(CODES)))
            made["offerings"] = []
            for code, mode in (("TILE-01", "transfer"), ("TILE-04", "lease")):
                created, _ = offerings.create_offering(session=session, values={
                    "parcel_id": ids[code], "supply_mode": mode} | VALID[mode])
                offerings.transition_offering(session=session, offering_id=created["id"],
                                              action="publish")
                made["offerings"].append(created["id"])
            me = Principal(Role.enterprise, enterprise_uscc=USCC)
            created, _ = demands.create_demand(session=session, principal=me, values={
                "kinds": ["land"], "near": {"lon": FUTIAN[0], "lat": FUTIAN[1], "radius_km": 5}})
            made["demand"] = created["id"]
            made["token"] = create_token(session=session, role=Role.enterprise,
                                         enterprise_uscc=USCC)
            session.commit()
        yield made
    finally:
        with Session(engine) as session:
            session.execute(delete(Demand).where(Demand.enterprise_uscc == USCC))
            session.execute(delete(Offering).where(Offering.parcel_id.in_(
                session.query(Parcel.id).filter(Parcel.code.in_(CODES)).scalar_subquery())))
            session.execute(delete(Parcel).where(Parcel.code.in_(CODES)))
            session.execute(delete(ApiToken).where(ApiToken.enterprise_uscc == USCC))
            session.execute(delete(Enterprise).where(Enterprise.uscc == USCC))
            session.commit()
    assert OPERATOR.role is Role.admin


def check_furniture(page) -> None:
    credits = page.inner_text(".lsv-credits")
    for label in ("数据更新", "审图号", "边界来源"):
        assert label in credits, credits
    attribution = page.inner_html(".leaflet-control-attribution")
    assert "Leaflet" in attribution and "<svg" not in attribution  # no flag
    assert page.locator(".lsv-legend").count() == 1


def test_parcels_from_vector_tiles(committed, server, browser, monkeypatch):
    monkeypatch.setattr(webmaps, "GEOJSON_LIMIT", 3)  # 8 match: the page switches to tiles
    page, host, requests, problems = offline(browser, server)
    page.goto(f"{server}/maps/parcels?district=440304", wait_until="load")
    assert page.evaluate("typeof L") == "object" and page.evaluate("typeof L.vectorGrid") \
        == "function", f"assets missing (run scripts/assets); {requests}; {problems}"
    assert page.locator(".leaflet-container").count() == 1
    assert "按矢量瓦片显示" in page.inner_text(".lsv-header")
    # Zoom in to the parcels (their tiles start at level 12) and wait for them.
    page.evaluate(f"{MAP_JS}.setView([{FUTIAN[1]}, {FUTIAN[0] + 1.75 * KM_LON}], 14)")
    page.wait_for_function("""() => {
        const map = MAP; let n = 0;
        map.eachLayer(l => { if (l._vectorTiles && l.options.vectorTileLayerStyles.parcels) {
            Object.values(l._vectorTiles).forEach(r => { n += Object.keys(r._features).length; });
        }});
        return n >= 8; }""".replace("MAP", MAP_JS), timeout=15000)
    drawn = page.evaluate("""() => {
        const map = MAP, found = {parcels: [], offerings: []};
        map.eachLayer(l => { if (!l._vectorTiles) return;
            const name = Object.keys(l.options.vectorTileLayerStyles)[0];
            if (!(name in found)) return;
            Object.values(l._vectorTiles).forEach(r => Object.values(r._features).forEach(
                f => found[name].push(f.feature.properties.code
                                      || f.feature.properties.parcel_code)));
        });
        return found; }""".replace("MAP", MAP_JS))
    assert sorted(set(drawn["parcels"])) == CODES
    assert sorted(set(drawn["offerings"])) == ["TILE-01", "TILE-04"]
    # One SVG path per feature piece at least: 8 parcels + 2 offerings in the tiles' SVGs.
    assert page.locator(".leaflet-tile path").count() >= 10
    check_furniture(page)
    legend = page.inner_text(".lsv-legend")
    for text in ("地块状态", "可供应", "供应方式", "出让", "长期租赁", "产业园区"):
        assert text in legend
    tiles = [u for u in requests if "/tiles/" in u]
    assert any("/tiles/parcels/14/" in u and "district=440304" in u for u in tiles)

    # A real click on parcel TILE-00 opens its popup (the offering outlines are elsewhere).
    point = page.evaluate(f"{MAP_JS}.latLngToContainerPoint([{FUTIAN[1]}, {FUTIAN[0]}])")
    box = page.locator(".leaflet-container").bounding_box()
    page.wait_for_timeout(400)  # the tiles' 200 ms fade-in
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    popup = page.inner_text(".leaflet-popup-content")
    for text in ("宗地代码", "TILE-00", "瓦片地块0", "福田区", "可供应"):
        assert text in popup, popup
    shot(page, "parcels-tiles.png")
    assert problems == []
    assert all(urlsplit(u).netloc == host for u in requests if not u.startswith("data:"))


def test_demand_page_for_the_owner(committed, server, browser):
    page, host, requests, problems = offline(browser, server)
    url = f"{server}/maps/demands/{committed['demand']}"
    # The token travels in the Authorization header of the page request only, never in the
    # URL (docs/maps.md): the page itself needs no further authenticated request.
    page.route(url, lambda route: route.continue_(headers={
        **route.request.headers, "authorization": f"Bearer {committed['token']}"}))
    response = page.goto(url, wait_until="load")
    assert response.status == 200, response.text()
    assert page.locator(".leaflet-container").count() == 1
    header = page.inner_text(".lsv-header")
    assert f"用地需求 {committed['demand']}" in header and "前 2 个匹配" in header
    labels = page.locator(".lsv-rank").all_inner_texts()
    assert sorted(labels) == ["1", "2"]
    # The 5 km circle, its centre and the two matched parcels are drawn as SVG paths.
    assert page.locator("path.leaflet-interactive").count() >= 4
    check_furniture(page)
    page.locator(".lsv-rank").first.click()
    page.wait_for_selector(".leaflet-popup-content", timeout=5000)
    popup = page.inner_text(".leaflet-popup-content")
    assert "第 1 名" in popup and "得分构成" in popup
    shot(page, "demand.png")
    assert problems == []
    assert all(urlsplit(u).netloc == host for u in requests if not u.startswith("data:"))

    anonymous = browser.new_page()
    assert anonymous.goto(url).status == 401
