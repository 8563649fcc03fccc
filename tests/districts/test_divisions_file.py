"""A bureau's own divisions file in place of the bundled one: the same checks — the 21
cities, every county-level code once, each in its city, a valid coverage — and only GeoJSON
or GeoPackage, read by their own reader."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from landsvc.config import get_settings
from landsvc.districts.service import DIVISIONS_FILE, load_divisions
from landsvc.errors import InvalidInput


@pytest.fixture(scope="module")
def bundled() -> gpd.GeoDataFrame:
    return gpd.read_file(get_settings().geodata_dir / DIVISIONS_FILE)


def write(frame: gpd.GeoDataFrame, path, driver="GeoJSON"):
    frame.to_file(path, driver=driver)
    return path


def test_an_authoritative_layer_in_another_crs_replaces_the_bundled_one(session, bundled,
                                                                        tmp_path):
    # the same divisions in CGCS2000 / 3-degree Gauss-Krüger zone 38 (EPSG:4526), a GeoPackage,
    # one district renamed: the stored name follows
    frame = bundled.to_crs("EPSG:4526")
    frame.loc[frame["adcode"] == "440306", "name"] = "宝安区（权威图层）"
    counts = load_divisions(session=session, path=write(frame, tmp_path / "d.gpkg", "GPKG"))
    assert counts == {"city": 21, "district": 124}
    assert session.scalar(text("SELECT name FROM district WHERE adcode = '440306'")) == \
        "宝安区（权威图层）"


def _refused(session, frame, tmp_path) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        load_divisions(session=session, path=write(frame, tmp_path / "d.geojson"))
    return caught.value


def test_every_rule_refuses_and_names_what_breaks_it(session, bundled, tmp_path):
    no_shantou = bundled[bundled["adcode"] != "440500"]
    e = _refused(session, no_shantou, tmp_path)
    assert e.code == "divisions_cities" and "440500" in e.detail

    no_baoan = bundled[bundled["adcode"] != "440306"]
    e = _refused(session, no_baoan, tmp_path)
    assert e.code == "divisions_counties" and "440306" in e.detail

    twice = gpd.GeoDataFrame(
        gpd.pd.concat([bundled, bundled[bundled["adcode"] == "440304"]]), crs=bundled.crs)
    e = _refused(session, twice, tmp_path)
    assert e.code == "divisions_counties" and "440304" in e.detail

    wrong_city = bundled.copy()
    wrong_city.loc[wrong_city["adcode"] == "440304", "city_adcode"] = "440100"
    e = _refused(session, wrong_city, tmp_path)
    assert e.code == "divisions_city_of" and "440304" in e.detail

    overlapping = bundled.copy()
    at = overlapping.index[overlapping["adcode"] == "440304"][0]
    overlapping.loc[at, "geometry"] = overlapping.loc[at, "geometry"].buffer(0.01)
    e = _refused(session, overlapping, tmp_path)
    assert e.code == "divisions_coverage"

    bowtie = bundled.copy()
    at = bowtie.index[bowtie["adcode"] == "440305"][0]
    bowtie.loc[at, "geometry"] = shapely.Polygon([(113.9, 22.5), (114.0, 22.6), (114.0, 22.5),
                                                  (113.9, 22.6), (113.9, 22.5)])
    e = _refused(session, bowtie, tmp_path)
    assert e.code == "divisions_geometry" and "440305" in e.detail
    # nothing was changed by any of them
    assert session.scalar(text("SELECT count(*) FROM district")) == 124


def test_only_geojson_or_geopackage(session, tmp_path):
    vrt = tmp_path / "d.vrt"
    vrt.write_text("<OGRVRTDataSource><OGRVRTLayer name='x'><SrcDataSource>/etc/passwd"
                   "</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>")
    with pytest.raises(InvalidInput) as caught:
        load_divisions(session=session, path=vrt)
    assert caught.value.code == "unsupported_format"
    disguised = tmp_path / "d.geojson"
    disguised.write_text(vrt.read_text())
    with pytest.raises(InvalidInput) as caught:
        load_divisions(session=session, path=disguised)
    assert caught.value.code == "unreadable"
