"""GET /maps/parcels over HTTP: the parcels a filter selects, local assets, API-like errors."""

from __future__ import annotations

import io
import json

import pytest

import landsvc.webmaps.router as webmaps
from tests.builders import BAOAN, DONGGUAN, FUTIAN, HAIZHU, feature, square
from tests.webmaps.pages import external_urls, layers, linked_urls, parcel_codes

# code: (where, status, land source); M-11 is withdrawn and never on the public map.
SEED = {
    "M-00": (FUTIAN, "available", "stock"),
    "M-01": (BAOAN, "reserved", "new_quota"),
    "M-02": (HAIZHU, "offered", "stock"),
    "M-03": (DONGGUAN, "leased", "new_quota"),
    "M-04": (FUTIAN, "transferred", "stock"),
    "M-05": (BAOAN, "available", "stock"),
    "M-06": (HAIZHU, "available", "new_quota"),
    "M-11": (DONGGUAN, "withdrawn", "stock"),
}
PUBLIC = set(SEED) - {"M-11"}


@pytest.fixture
def seeded(client, tokens):
    rows = [feature(square(lon + 0.004 * i, lat, 80 + 10 * i), code=code, name=f"{code}号地块",
                    status=status, land_source=source, plot_ratio_min=1.2, plot_ratio_max=3.5)
            for i, (code, ((lon, lat), status, source)) in enumerate(SEED.items())]
    body = json.dumps({"type": "FeatureCollection", "features": rows}).encode()
    r = client.post("/api/v1/parcels/import", headers=tokens["admin"],
                    files={"file": ("m.geojson", io.BytesIO(body), "application/geo+json")})
    assert r.status_code == 200, r.text
    return rows


def codes(client, **params) -> set[str]:
    r = client.get("/maps/parcels", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    found = parcel_codes(r.text)
    assert len(found) == len(set(found))
    return set(found)


def test_page_shows_exactly_what_the_filter_selects(client, seeded):
    assert codes(client) == PUBLIC
    assert codes(client, district="4403") == {"M-00", "M-01", "M-04", "M-05"}
    assert codes(client, district="440300") == codes(client, district="4403")
    assert codes(client, district="440304") == {"M-00", "M-04"}
    assert codes(client, district="44") == PUBLIC
    assert codes(client, status="available") == {"M-00", "M-05", "M-06"}
    assert codes(client, status="withdrawn") == set()
    assert codes(client, land_source="new_quota") == {"M-01", "M-03", "M-06"}
    assert codes(client, district="4403", status="available", land_source="stock") == {
        "M-00", "M-05"}
    box = f"{HAIZHU[0] - 0.01},{HAIZHU[1] - 0.01},{HAIZHU[0] + 0.05},{HAIZHU[1] + 0.01}"
    assert codes(client, bbox=box) == {"M-02", "M-06"}
    assert codes(client, district="4499") == set()


def test_page_agrees_with_the_api(client, seeded):
    for params in ({}, {"district": "4403"}, {"status": "available"}, {"land_source": "stock"}):
        api = client.get("/api/v1/parcels", params=params | {"limit": 1000}).json()
        assert codes(client, **params) == {f["properties"]["code"] for f in api["features"]}


def test_page_says_how_many_and_switches_to_tiles_over_the_limit(client, seeded, monkeypatch):
    r = client.get("/maps/parcels", params={"district": "4403"})
    assert "显示 4 / 共 4 宗地块" in r.text and "深圳市（4403）" in r.text
    assert "/tiles/parcels/" not in r.text  # few: embedded, no parcel tiles
    monkeypatch.setattr(webmaps, "GEOJSON_LIMIT", 3)
    r = client.get("/maps/parcels", params={"status": "available", "land_source": "stock"})
    html = r.text
    # 2 match (M-00, M-05): still embedded.
    assert sorted(parcel_codes(html)) == ["M-00", "M-05"]
    html = client.get("/maps/parcels", params={"district": "44", "min_area_m2": 1}).text
    assert parcel_codes(html) == []  # 7 public parcels > 3: drawn from tiles
    assert "共 7 宗地块" in html and "按矢量瓦片显示" in html
    assert 'L.vectorGrid.protobuf("/tiles/parcels/{z}/{x}/{y}.pbf?district=44' in html
    assert "min_area_m2=1.0" in html


def test_every_page_carries_date_review_number_and_source(client, seeded, session,
                                                          monkeypatch):
    from sqlalchemy import func, select

    from landsvc.config import get_settings
    from landsvc.parcels.models import Parcel
    from maps.common import updated_text

    monkeypatch.setenv("LANDSVC_MAP_REVIEW_NUMBER", "粤S（2026）042号")
    monkeypatch.setenv("LANDSVC_MAP_BOUNDARY_SOURCE", "测试边界来源")
    get_settings.cache_clear()
    try:
        html = client.get("/maps/parcels", params={"district": "4403"}).text
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    latest = session.scalar(select(func.max(Parcel.updated_at))
                            .where(Parcel.district.startswith("4403")))
    assert f"{updated_text(latest)}" in html and "数据更新" in html
    assert "粤S（2026）042号" in html and "测试边界来源" in html


def test_popup_and_legend_in_chinese(client, seeded):
    html = client.get("/maps/parcels", params={"district": "440304", "status": "available"}).text
    (parcel,) = [f for layer in layers(html) for f in layer["features"]
                 if f["properties"].get("code") == "M-00"]
    props = parcel["properties"]
    assert props["name"] == "M-00号地块" and props["district"] == "福田区（440304）"
    assert props["status"] == "可供应" and props["land_source"] == "存量建设用地"
    assert props["plot_ratio"] == "1.2 – 3.5" and props["area"].endswith("亩）")
    assert "筛选：区县 深圳市福田区（440304） · 状态 可供应" in html
    for label in ("可供应", "已预留", "供应中", "已出租", "已出让", "图例"):
        assert label in html


def test_districts_are_the_base(client):
    html = client.get("/maps/parcels").text
    (districts,) = [layer for layer in layers(html) if layer["features"]
                    and "adcode" in layer["features"][0]["properties"]]
    assert len(districts["features"]) == 124
    by_code = {f["properties"]["adcode"]: f["properties"] for f in districts["features"]}
    assert by_code["440306"]["name"] == "宝安区" and by_code["440306"]["city_name"] == "深圳市"


def test_no_cdn_and_every_linked_asset_is_served(client):
    html = client.get("/maps/parcels").text
    assert external_urls(html) == []
    local = [u for u in linked_urls(html) if not u.startswith("data:")]
    assert any(u.endswith("leaflet.js") for u in local)
    for url in local:
        assert url.startswith("/maps/assets/")
        r = client.get(url)
        assert r.status_code == 200, (
            f"{url} is not served ({r.status_code}): run scripts/assets to fetch the map "
            "assets into maps/vendor/")
        assert r.content
    assert client.get("/maps/assets/leaflet/dist/images/layers.png").status_code == 200
    r = client.get("/maps/assets/leaflet/../../vendor.txt")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


@pytest.mark.parametrize("params, status", [
    ({"bbox": "1,2,3"}, 400), ({"bbox": "a,b,c,d"}, 400), ({"bbox": "114,23,113,22"}, 400),
    ({"bbox": "200,0,201,1"}, 400), ({"status": "sold"}, 422), ({"land_source": "bought"}, 422),
    ({"district": "44x"}, 422), ({"district": "44030"}, 422), ({"min_area_m2": -1}, 422),
    ({"max_area_m2": "big"}, 422),
])
def test_bad_parameters_get_the_api_errors(client, params, status):
    page = client.get("/maps/parcels", params=params)
    api = client.get("/api/v1/parcels", params=params)
    assert page.status_code == api.status_code == status
    assert page.headers["content-type"] == "application/json"
    assert set(page.json()) == {"detail", "code"}
    assert page.json()["code"] == api.json()["code"]


def test_district_base_is_simplified_once_per_version(client, session, monkeypatch):
    import maps
    from landsvc.config import get_settings
    from landsvc.districts import service as districts_service
    from landsvc.districts.service import DIVISIONS_FILE, load_divisions

    made = []
    real = maps.district_base

    def spy(features):
        made.append(len(features))
        return real(features)

    monkeypatch.setattr(districts_service, "_cache", {})
    monkeypatch.setattr(maps, "district_base", spy)
    first = client.get("/maps/parcels").text
    second = client.get("/maps/parcels", params={"district": "4403"}).text
    assert made == [124]  # the second page reused the first one's base
    assert layers(first)[0] != layers(second)[0]  # … yet highlights its own districts
    load_divisions(session=session, path=get_settings().geodata_dir / DIVISIONS_FILE)
    client.get("/maps/parcels")
    assert made == [124, 124]  # reloaded divisions are a new version
