"""maps/: GeoJSON in, a self-contained folium page out — no database needed."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import pytest
import shapely

import maps
from maps.assets import script_links, stylesheet_links, vendor_packages
from maps.common import MapFacts, TileSource, credits_html, updated_text
from maps.parcels import _area, _plot_ratio
from tests.builders import BAOAN, FUTIAN, HAIZHU, feature, square
from tests.webmaps.pages import external_urls, layers, linked_urls, parcel_features

STATUSES = {"available": "可供应", "reserved": "已预留", "offered": "供应中",
            "leased": "已出租", "transferred": "已出让"}


def district(adcode, name, city_adcode, city_name, lon, lat, side_m=20_000):
    return feature(square(lon, lat, side_m), adcode=adcode, name=name,
                   city_adcode=city_adcode, city_name=city_name)


DISTRICTS = [
    district("440304", "福田区", "440300", "深圳市", *FUTIAN),
    district("440306", "宝安区", "440300", "深圳市", *BAOAN),
    district("440105", "海珠区", "440100", "广州市", *HAIZHU),
]


def parcel(code, lon, lat, status="available", **props):
    base = dict(code=code, name=f"{code} 地块", district="440304", district_name="福田区",
                land_use="工业用地", land_source="stock", land_source_label="存量建设用地",
                status=status, status_label=STATUSES[status], area_m2=12345.678,
                area_mu=18.5185, plot_ratio_min=1.5, plot_ratio_max=3.0,
                servicing_label="七通一平")
    return feature(square(lon, lat, 150), **(base | props))


def page(parcels, **kwargs) -> str:
    if "number_matched" not in kwargs:
        kwargs["number_matched"] = len(parcels)
    return maps.render(maps.parcels_map(parcels, DISTRICTS, status_labels=STATUSES, **kwargs))


def test_page_holds_the_parcels_with_popups_legend_and_count():
    parcels = [parcel("P-1", *FUTIAN), parcel("P-2", *BAOAN, status="leased")]
    html = page(parcels, number_matched=12_345)
    assert "<title>地块地图" in html
    features = parcel_features(html)
    assert [f["properties"]["code"] for f in features] == ["P-1", "P-2"]
    props = features[0]["properties"]
    assert props["area"] == "12,345.68 ㎡（18.52 亩）"
    assert props["plot_ratio"] == "1.5 – 3"
    assert props["district"] == "福田区（440304）"
    assert props["land_source"] == "存量建设用地" and props["status"] == "可供应"
    for label in ("宗地代码", "地块名称", "区县", "用途", "土地来源", "状态", "面积", "容积率"):
        assert f'"{label}"' in html
    assert "显示 2 / 共 12,345 宗地块" in html
    for label in STATUSES.values():
        assert label in html
    assert "#8e3fa0" in html  # leased has its own colour


def test_districts_drawn_with_tooltip_fields():
    html = page([])
    districts = next(layer for layer in layers(html)
                     if layer["features"] and "adcode" in layer["features"][0]["properties"])
    assert {f["properties"]["adcode"] for f in districts["features"]} == {
        "440304", "440306", "440105"}
    assert districts["features"][0]["properties"]["city_name"] == "深圳市"
    for alias in ("区县", "所属地级市", "行政区划代码"):
        assert f'"{alias}"' in html


def test_only_local_links_and_no_cdn():
    html = page([parcel("P-1", *FUTIAN)], assets_url="/x/maps/assets")
    assert external_urls(html) == []
    urls = [u for u in linked_urls(html) if not u.startswith("data:")]
    assert urls and all(u.startswith("/x/maps/assets/") for u in urls)
    assert "/x/maps/assets/leaflet/dist/leaflet.js" in urls
    assert "/x/maps/assets/leaflet/dist/leaflet.css" in urls
    # folium's own defaults (jQuery, Bootstrap, Font Awesome …) are left alone for others
    assert any("jsdelivr" in url for _, url in folium.Map.default_js)


def test_manifest_lists_leaflet_then_vectorgrid_and_the_links_follow_it():
    leaflet, vectorgrid = vendor_packages()
    assert leaflet.name == "leaflet" and leaflet.integrity.startswith("sha512-")
    assert vectorgrid.name == "leaflet.vectorgrid" and vectorgrid.version == "1.3.0"
    # The plug-in extends L: it must load after Leaflet.
    assert [u for _, u in script_links("/a")] == [
        "/a/leaflet/dist/leaflet.js",
        "/a/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js"]
    assert [u for _, u in stylesheet_links("/a")] == ["/a/leaflet/dist/leaflet.css"]


def test_missing_assets_are_named(tmp_path):
    assert maps.missing_assets(tmp_path) == [
        "leaflet/dist/leaflet.css", "leaflet/dist/leaflet.js", "leaflet/dist/images",
        "leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js"]


def test_user_text_cannot_inject_markup():
    evil = '</script><img src=x onerror="alert(1)">'
    html = page([parcel("P-1", *FUTIAN, name=evil, land_use="<b>工业</b>")],
                district="440304", filters={"状态": "<i>可供应</i>"})
    assert "<img src=x" not in html and "<b>工业" not in html and "<i>可供应" not in html
    # The value reaches the browser intact, and is set there as text, not HTML.
    assert parcel_features(html)[0]["properties"]["name"] == evil


def test_view_fits_parcels_else_the_district_filter_else_the_province():
    def fitted(html):
        (args,) = re.findall(r"fitBounds\(\s*(\[\[.*?\]\])", html, re.S)
        (s, w), (n, e) = eval(args)  # noqa: S307 - numbers written by the page itself
        return w, s, e, n

    w, s, e, n = fitted(page([parcel("P-1", *HAIZHU)]))
    assert w < HAIZHU[0] < e and s < HAIZHU[1] < n and e - w < 0.01
    w, s, e, n = fitted(page([], district="440300"))
    assert w < BAOAN[0] < FUTIAN[0] < e and not (w < HAIZHU[0] < e and s < HAIZHU[1] < n)
    w, s, e, n = fitted(page([], bbox=(113.0, 22.0, 113.5, 22.5)))
    assert (w, s, e, n) == (113.0, 22.0, 113.5, 22.5)
    w, s, e, n = fitted(page([]))
    assert w < BAOAN[0] and e > FUTIAN[0] and n > HAIZHU[1]


def test_header_names_the_filters():
    html = page([], district="4403", bbox=(113.0, 22.0, 114.0, 23.0),
                filters={"状态": "可供应", "土地来源": "新增计划指标"})
    for text in ("深圳市（4403）", "状态 可供应", "土地来源 新增计划指标", "没有符合条件的地块",
                 "显示 0 / 共 0 宗地块", "范围 113,22 – 114,23"):
        assert text in html
    assert "深圳市福田区（440304）" in page([], district="440304")
    assert "4499（无此区划）" in page([], district="4499")


def test_accepts_a_geodataframe_in_another_crs():
    frame = gpd.GeoDataFrame.from_features([parcel("P-1", *FUTIAN)], crs=4326).to_crs(4547)
    features = parcel_features(page(frame))
    assert [f["properties"]["code"] for f in features] == ["P-1"]
    (x, y) = shapely.geometry.shape(features[0]["geometry"]).centroid.coords[0]
    assert (x, y) == pytest.approx(FUTIAN, abs=1e-5)


@pytest.mark.parametrize("m2, mu, text", [
    (1234567.891, 1851.8518, "1,234,567.89 ㎡（1,851.85 亩）"),
    (500, None, "500.00 ㎡"),
    (None, None, "—"),
])
def test_area_text(m2, mu, text):
    assert _area(m2, mu) == text


@pytest.mark.parametrize("low, high, text", [
    (1.0, 2.5, "1 – 2.5"), (2.0, 2.0, "2"), (1.2, None, "≥ 1.2"), (None, 4.0, "≤ 4"),
    (None, None, "—"),
])
def test_plot_ratio_text(low, high, text):
    assert _plot_ratio(low, high) == text


# -- vector tiles, credits, basemaps --------------------------------------------------------
TILES = {"parcels": TileSource("/tiles/parcels/{z}/{x}/{y}.pbf?status=available", "parcels",
                               10),
         "offerings": TileSource("/tiles/offerings/{z}/{x}/{y}.pbf", "offerings", 8),
         "parks": TileSource("/tiles/parks/{z}/{x}/{y}.pbf", "parks", 6)}
MODES = {"transfer": "出让", "lease": "长期租赁"}


def test_many_parcels_are_drawn_from_vector_tiles_not_embedded():
    html = page(None, number_matched=1_000_000, tiles=TILES, supply_mode_labels=MODES)
    assert parcel_features(html) == []
    for source in TILES.values():
        assert f'L.vectorGrid.protobuf("{source.url}"' in html
        assert f"minZoom: {source.min_zoom}," in html
    assert "rendererFactory: L.svg.tile" in html
    assert "共 1,000,000 宗地块" in html and "放大到第 10 级及以上可见" in html
    for text in ("供应方式", "出让", "长期租赁", "产业园区", "宗地代码"):
        assert text in html
    assert "显示 0 /" not in html


def test_few_parcels_are_geojson_with_offerings_and_parks_as_tiles():
    tiles = {k: v for k, v in TILES.items() if k != "parcels"}
    html = page([parcel("P-1", *FUTIAN)], tiles=tiles, supply_mode_labels=MODES)
    assert [f["properties"]["code"] for f in parcel_features(html)] == ["P-1"]
    assert "/tiles/parcels/" not in html and "/tiles/offerings/" in html


def test_every_page_states_date_review_number_boundary_source_and_no_flag():
    from datetime import UTC, datetime
    facts = MapFacts(updated_at=datetime(2026, 11, 28, 17, 30, tzinfo=UTC),
                     review_number="粤S（2026）123号", boundary_source="广东省自然资源厅 2026 版")
    html = page([], facts=facts)
    # 17:30 UTC is 01:30 the next day in China (UTC+8).
    for text in ("数据更新：", "2026-11-29", "审图号：", "粤S（2026）123号", "边界来源：",
                 "广东省自然资源厅 2026 版"):
        assert text in html
    # Leaflet's flag prefix replaced by a plain link (JSON-escaped inside the script).
    assert 'attributionControl.setPrefix("\\u003ca href=\\"https://leafletjs.com\\"' in html
    assert "leaflet-attribution-flag" not in html
    assert "未配置" in page([]) and "暂无数据" in page([])


def test_credits_text_is_escaped():
    text = credits_html(MapFacts(review_number="<b>x</b>", boundary_source="a&b"))
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text and "a&amp;b" in text
    assert updated_text(None) == "暂无数据"


@pytest.mark.parametrize("basemap, key, present, absent", [
    ("none", "", [], ["openstreetmap.org/{z}", "tianditu.gov.cn"]),
    ("osm", "", ["tile.openstreetmap.org/{z}/{x}/{y}.png", "OpenStreetMap"], ["tianditu"]),
    ("tianditu", "K123", ["tianditu.gov.cn/vec_w/wmts", "tianditu.gov.cn/cva_w/wmts",
                          "tk=K123", "www.tianditu.gov.cn"], ["openstreetmap.org/{z}"]),
    ("tianditu", "", [], ["tianditu.gov.cn"]),  # no key: no basemap rather than a broken one
])
def test_basemap_from_settings(basemap, key, present, absent):
    html = page([], facts=MapFacts(basemap=basemap, tianditu_key=key))
    for text in present:
        assert text in html, text
    for text in absent:
        assert text not in html, text
