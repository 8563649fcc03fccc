"""The parcels map in a real headless Chromium, served by uvicorn, with no way to a CDN.

The page's data must be committed for another connection (the server's) to see them, so this
test imports its own parcels for real and deletes them afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from landsvc.parcels.importing import import_parcels
from landsvc.parcels.models import Parcel
from tests.builders import BAOAN, FUTIAN, feature, square
from tests.webmaps.pages import offline

STATUSES = ("available", "reserved", "offered", "leased", "transferred")
CODES = [f"BROWSER-{i:02d}" for i in range(10)]
DISTRICTS = 124


@pytest.fixture
def committed_parcels(engine, tmp_path) -> Iterator[list[str]]:
    """Ten parcels in Shenzhen, committed; removed again after the test."""
    rows = [feature(square((FUTIAN, BAOAN)[i % 2][0] + 0.01 * i, (FUTIAN, BAOAN)[i % 2][1],
                           300), code=code, name=f"浏览器测试地块{i}", status=STATUSES[i % 5])
            for i, code in enumerate(CODES)]
    path = tmp_path / "browser.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": rows}), "utf-8")
    try:
        with Session(engine) as session:
            report = import_parcels(session=session, path=path)
            session.commit()
        assert report["imported"] == len(CODES), report
        yield CODES
    finally:
        with Session(engine) as session:
            session.execute(delete(Parcel).where(Parcel.code.in_(CODES)))
            session.commit()


def test_map_draws_in_chromium_without_leaving_localhost(committed_parcels, server, browser,
                                                        tmp_path):
    page, host, requests, problems = offline(browser, server)

    page.goto(f"{server}/maps/parcels?district=4403", wait_until="load")
    assert page.evaluate("typeof L") == "object", (
        f"Leaflet did not load (run scripts/assets); requests: {requests}; {problems}")
    drawn = page.evaluate("""() => {
        const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
        const codes = [];
        map.eachLayer(l => { if (l.feature && l.feature.properties.code) {
            codes.push(l.feature.properties.code); } });
        return codes; }""")
    assert sorted(drawn) == CODES
    paths = page.locator("path.leaflet-interactive").count()
    assert paths >= len(CODES) + DISTRICTS
    assert f"显示 {len(CODES)} / 共 {len(CODES)} 宗地块" in page.inner_text(".lsv-header")
    legend = page.inner_text(".lsv-legend")
    assert all(label in legend for label in ("可供应", "已预留", "供应中", "已出租", "已出让"))

    popup = page.evaluate("""() => {
        const map = window[Object.keys(window).find(k => k.startsWith("map_"))];
        let opened = false;
        map.eachLayer(l => { if (!opened && l.feature && l.feature.properties.code === "BROWSER-00") {
            l.openPopup(); opened = true; } });
        return document.querySelector(".leaflet-popup-content").innerText; }""")
    for text in ("宗地代码", "BROWSER-00", "浏览器测试地块0", "福田区（440304）", "可供应", "㎡", "亩"):
        assert text in popup

    credits = page.inner_text(".lsv-credits")
    assert "数据更新" in credits and "审图号" in credits and "边界来源" in credits
    assert "<svg" not in page.inner_html(".leaflet-control-attribution")  # no flag
    page.screenshot(path=str(tmp_path / "parcels-map.png"))  # kept by pytest for a look

    assert problems == []
    assert requests and all(urlsplit(u).netloc == host for u in requests
                            if not u.startswith("data:")), requests
