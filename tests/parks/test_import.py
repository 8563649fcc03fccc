"""Park files through the import pipeline: formats, Chinese columns, bad rows, HTTP and CLI."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from sqlalchemy import func, select, text

from landsvc.errors import ImportRejected, InvalidInput
from landsvc.parks import importing
from landsvc.parks.importing import import_parks
from landsvc.parks.models import Park
from tests.builders import (
    BAOAN,
    DONGGUAN,
    FUTIAN,
    HAIZHU,
    bowtie,
    feature,
    frame,
    square,
    write_geojson,
    write_zipped_shapefile,
)

GEOD = Geod(ellps="WGS84")


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Park))


def stored(session, name) -> Park:
    return session.scalars(select(Park).where(Park.name == name)).one()


# -- formats and columns ------------------------------------------------------------------
def test_csv_with_chinese_headers_and_text_lists(session, tmp_path):
    path = tmp_path / "parks.csv"
    lines = ["园区名称,主导产业,专精特新特色园区,配套服务,行政区代码,WKT",
             f'宝安智造园,"C39、C3971 ，I65;c35",是,"人才公寓；检测认证, 食堂",,"{square(*BAOAN, 600).wkt}"',
             f'福田创新园,C39,否,,440304,"{square(*FUTIAN, 400).wkt}"',
             f'东莞松山湖园,,TRUE,共享 实验室,,"{square(*DONGGUAN, 500).wkt}"',
             f'海珠园,I6513,0,,,"{square(*HAIZHU, 300).wkt}"']
    path.write_text("\n".join(lines), encoding="utf-8")
    report = import_parks(session=session, path=path)
    assert report["imported"] == 4 and report["rejected"] == [], report
    assert report["ignored_columns"] == [] and report["format"] == "CSV"

    park = stored(session, "宝安智造园")
    assert park.district == "440306"
    assert park.leading_industries == ["C39", "C3971", "I65", "C35"]
    assert park.featured_srdi is True
    assert park.services == ["人才公寓", "检测认证", "食堂"]
    assert float(park.area_m2) == pytest.approx(abs(GEOD.geometry_area_perimeter(
        square(*BAOAN, 600))[0]), abs=0.01)
    futian = stored(session, "福田创新园")
    assert (futian.district, futian.featured_srdi, futian.services) == ("440304", False, [])
    dongguan = stored(session, "东莞松山湖园")
    assert (dongguan.district, dongguan.leading_industries) == ("441900", [])
    assert dongguan.featured_srdi is True and dongguan.services == ["共享 实验室"]
    assert stored(session, "海珠园").featured_srdi is False


@pytest.mark.parametrize("value, expected", [
    ("是", True), ("否", False), ("true", True), ("False", False), ("1", True), ("0", False),
    (None, False),
])
def test_featured_srdi_texts(session, tmp_path, value, expected):
    path = write_geojson(tmp_path / "p.geojson",
                         [feature(square(*FUTIAN), 园区名称="开关园", 特色园区=value)])
    assert import_parks(session=session, path=path)["imported"] == 1
    assert stored(session, "开关园").featured_srdi is expected


def test_gauss_kruger_geopackage_with_chinese_columns(session, tmp_path):
    truth = square(*BAOAN, 700)
    to_gk = Transformer.from_crs(4326, 4526, always_xy=True)
    gk = shapely.transform(truth, lambda xy: np.column_stack(to_gk.transform(xy[:, 0], xy[:, 1])))
    path = tmp_path / "parks.gpkg"
    frame([{"园区名称": "高斯园", "主导产业": "C39", "配套服务": "食堂", "备注": "x",
            "geometry": gk}], crs="EPSG:4526").to_file(path, driver="GPKG")
    report = import_parks(session=session, path=path)
    assert report["imported"] == 1 and report["crs"] == "EPSG:4526"
    assert report["ignored_columns"] == ["备注"]
    park = stored(session, "高斯园")
    assert park.district == "440306" and park.leading_industries == ["C39"]
    assert float(park.area_m2) == pytest.approx(abs(GEOD.geometry_area_perimeter(truth)[0]),
                                                rel=1e-3)


def test_zipped_shapefile_with_cut_field_names(session, tmp_path):
    rows = [{"name": "宝安园区", "leading_in": "C39 C3971", "featured_s": "是",
             "services": "人才公寓", "geometry": square(*BAOAN)}]
    path = write_zipped_shapefile(frame(rows), tmp_path / "parks.zip", encoding="GBK")
    report = import_parks(session=session, path=path)
    assert report["imported"] == 1 and report["ignored_columns"] == []
    park = stored(session, "宝安园区")
    assert (park.leading_industries, park.featured_srdi, park.services) == (
        ["C39", "C3971"], True, ["人才公寓"])


# -- bad rows -----------------------------------------------------------------------------
BAD_ROWS = [
    (feature(square(*FUTIAN), name="好园区"), None),
    (feature(bowtie(*BAOAN), name="蝴蝶园"), "Self-intersection"),
    (feature(square(*FUTIAN), name="代码园", 主导产业="C39、X12"), "leading_industries: 行业代码 'X12'"),
    (feature(square(*FUTIAN)), "name: 缺少园区名称"),
    (feature(square(*FUTIAN), name="开关园", featured_srdi="也许"), "featured_srdi"),
    (feature(square(FUTIAN[1], FUTIAN[0]), name="颠倒园"), "广东省范围外"),
    (feature(square(*FUTIAN), name="错区园", district="440105"), "district"),
    (feature(shapely.Point(*FUTIAN), name="点园"), "Point"),
]


def test_bad_rows_are_named_by_index_and_nothing_is_written(session, tmp_path):
    path = write_geojson(tmp_path / "bad.geojson", [f for f, _ in BAD_ROWS])
    before = count(session)
    with pytest.raises(ImportRejected) as info:
        import_parks(session=session, path=path)
    report = info.value.extra["report"]
    assert report["imported"] == 0 and report["rejected_count"] == len(BAD_ROWS) - 1
    assert [r["index"] for r in report["rejected"]] == list(range(1, len(BAD_ROWS)))
    for row in report["rejected"]:
        assert BAD_ROWS[row["index"]][1] in row["reason"], row
        assert row["name"] == BAD_ROWS[row["index"]][0]["properties"].get("name")
    session.rollback()
    assert count(session) == before

    report = import_parks(session=session, path=path, partial=True)
    assert report["imported"] == 1 and report["rejected_count"] == len(BAD_ROWS) - 1
    assert stored(session, "好园区").district == "440304"


def test_repair_notes_the_repair(session, tmp_path):
    path = write_geojson(tmp_path / "p.geojson", [feature(bowtie(*BAOAN), name="蝴蝶园")])
    report = import_parks(session=session, path=path, repair=True)
    assert report["imported"] == 1 and report["notes"][0]["index"] == 0
    assert "make_valid" in report["notes"][0]["note"]


def test_duplicate_names_in_one_district_name_every_row(session, tmp_path):
    rows = [feature(square(*FUTIAN), name="同名园"),
            feature(square(*BAOAN), name="同名园"),                    # another district: fine
            feature(square(FUTIAN[0] + 0.01, FUTIAN[1]), name="同名园"),
            feature(square(*HAIZHU), name="海珠园")]
    path = write_geojson(tmp_path / "dup.geojson", rows)
    with pytest.raises(ImportRejected) as info:
        import_parks(session=session, path=path)
    rejected = info.value.extra["report"]["rejected"]
    assert [r["index"] for r in rejected] == [0, 2]
    assert all("第 0, 2 行" in r["reason"] for r in rejected)
    session.rollback()

    import_parks(session=session, path=write_geojson(tmp_path / "one.geojson", rows[3:]))
    again = import_parks(session=session, path=write_geojson(tmp_path / "again.geojson",
                                                             rows[1:2] + rows[3:]), partial=True)
    assert again["imported"] == 1
    assert [r["index"] for r in again["rejected"]] == [1]
    assert "440105 已有名为 '海珠园'" in again["rejected"][0]["reason"]


def test_files_that_are_not_park_files(session, tmp_path, monkeypatch):
    path = write_geojson(tmp_path / "nameless.geojson", [feature(square(*FUTIAN), code="X")])
    with pytest.raises(InvalidInput) as info:
        import_parks(session=session, path=path)
    assert info.value.code == "missing_column" and "name" in info.value.detail

    monkeypatch.setattr(importing, "MAX_FEATURES", 2)
    path = write_geojson(tmp_path / "many.geojson",
                         [feature(square(FUTIAN[0] + 0.01 * i, FUTIAN[1]), name=f"园{i}")
                          for i in range(3)])
    with pytest.raises(InvalidInput) as info:
        import_parks(session=session, path=path)
    assert info.value.code == "too_many_features" and "2" in info.value.detail


def test_an_imported_park_links_the_parcels_under_it(client, tokens, tmp_path, session):
    inside = client.post("/api/v1/parcels", json=feature(square(*BAOAN, 100), code="L-1"),
                         headers=tokens["admin"]).json()["id"]
    path = write_geojson(tmp_path / "p.geojson", [feature(square(*BAOAN, 1000), name="链接园")])
    import_parks(session=session, path=path)
    park = stored(session, "链接园")
    assert client.get(f"/api/v1/parcels/{inside}").json()["properties"]["park_id"] == park.id
    assert client.get(f"/api/v1/parks/{park.id}").json()["properties"]["parcel_count"] == 1


# -- over HTTP ----------------------------------------------------------------------------
def upload(client, rows, headers, name="p.geojson", **params):
    body = json.dumps({"type": "FeatureCollection", "features": rows}).encode()
    return client.post("/api/v1/parks/import", headers=headers, params=params,
                       files={"file": (name, io.BytesIO(body), "application/geo+json")})


def test_http_import_all_or_nothing_then_partial(client, tokens, session):
    before = count(session)
    rows = [feature(square(*BAOAN, 500), name="宝安甲园"), feature(bowtie(*BAOAN), name="坏园")]
    r = upload(client, rows, tokens["baoan"])
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "import_rejected" and "partial=true" in body["detail"]
    assert body["report"]["imported"] == 0
    assert body["report"]["rejected"] == [{"index": 1, "name": "坏园",
                                           "reason": body["report"]["rejected"][0]["reason"]}]
    assert count(session) == before

    r = client.post("/api/v1/parks/import", headers=tokens["baoan"],
                    data={"partial": "true", "repair": "false"},
                    files={"file": ("p.geojson", io.BytesIO(json.dumps(
                        {"type": "FeatureCollection", "features": rows}).encode()))})
    assert r.status_code == 200 and r.json()["imported"] == 1
    assert count(session) == before + 1
    listed = client.get("/api/v1/parks", params={"district": "440306"}).json()["features"]
    assert [f["properties"]["name"] for f in listed] == ["宝安甲园"]


def test_http_import_access_and_uploads(client, make_app, tokens, session):
    from fastapi.testclient import TestClient

    before = count(session)
    rows = [feature(square(*BAOAN), name="宝安园"), feature(square(*HAIZHU), name="海珠园")]
    assert upload(client, rows, {}).status_code == 401
    assert upload(client, rows, tokens["enterprise"]).status_code == 403
    r = upload(client, rows, tokens["shenzhen"], partial="true")
    assert r.status_code == 403 and "440105" in r.json()["detail"]
    assert count(session) == before

    r = client.post("/api/v1/parks/import", headers=tokens["admin"],
                    files={"file": ("p.txt", io.BytesIO(b"hello"), "text/plain")})
    assert r.status_code == 415 and ".txt" in r.json()["detail"]
    r = client.post("/api/v1/parks/import", headers=tokens["admin"], json={"file": "x"})
    assert r.status_code == 415
    small = TestClient(make_app(max_upload_mib=1))
    r = small.post("/api/v1/parks/import", headers=tokens["admin"],
                   files={"file": ("big.geojson", io.BytesIO(b" " * (2 << 20)))})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"

    to_gk = Transformer.from_crs(4326, 4526, always_xy=True)
    gk = shapely.transform(square(*FUTIAN), lambda xy: np.column_stack(
        to_gk.transform(xy[:, 0], xy[:, 1])))
    csv = f'园区名称,wkt\nGK园,"{gk.wkt}"\n'.encode()
    r = client.post("/api/v1/parks/import?crs=EPSG:4526", headers=tokens["shenzhen"],
                    files={"file": ("p.csv", io.BytesIO(csv), "text/csv")})
    assert r.status_code == 200 and r.json()["crs"] == "EPSG:4526", r.text
    assert count(session) == before + 1


# -- the CLI ------------------------------------------------------------------------------
def landsvc(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landsvc.cli", *args], capture_output=True,
                          text=True, env=dict(os.environ), timeout=300)


@pytest.fixture
def committed(engine, database_url):
    """Counts committed parks with a name prefix; removes them after the test."""
    def number(prefix: str) -> int:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM park WHERE name LIKE :p"),
                               {"p": prefix + "%"})

    yield number
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM park WHERE name LIKE 'CLI-%'"))


def test_cli_exit_codes_and_all_or_nothing(committed, tmp_path):
    good = write_geojson(tmp_path / "good.geojson",
                         [feature(square(*FUTIAN), name="CLI-1", 主导产业="C39"),
                          feature(square(*BAOAN), name="CLI-2")])
    result = landsvc("parks", "import", str(good))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 2 and committed("CLI-") == 2

    bad = write_geojson(tmp_path / "bad.geojson",
                        [feature(square(FUTIAN[0] + 0.01, FUTIAN[1]), name="CLI-3"),
                         feature(bowtie(*BAOAN), name="CLI-4"),
                         feature(square(FUTIAN[0] + 0.02, FUTIAN[1]), name="CLI-1")])
    result = landsvc("parks", "import", str(bad))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [r["index"] for r in report["rejected"]] == [1, 2]
    assert "已有名为 'CLI-1'" in report["rejected"][1]["reason"]
    assert "错误" in result.stderr and committed("CLI-") == 2

    result = landsvc("parks", "import", str(bad), "--partial")
    assert result.returncode == 0 and json.loads(result.stdout)["imported"] == 1
    assert committed("CLI-3") == 1

    result = landsvc("parks", "import", str(bad), "--repair", "--partial")
    assert result.returncode == 0 and committed("CLI-4") == 1

    missing = landsvc("parks", "import", str(tmp_path / "nope.gpkg"))
    assert missing.returncode == 2 and "不存在" in missing.stderr and missing.stdout == ""
    result = landsvc("parks", "import", str(good), "--crs", "EPSG:0")
    assert result.returncode == 1 and "crs" in result.stderr
    result = landsvc("parks", "import")
    assert result.returncode == 2
