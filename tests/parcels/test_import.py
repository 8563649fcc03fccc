"""Parcel import: every format, CRS reprojection, and every kind of bad input."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from landsvc.errors import ImportRejected, InvalidInput, UnsupportedMediaType
from landsvc.ingest import reader
from landsvc.parcels.importing import import_parcels
from landsvc.parcels.models import Parcel
from tests.builders import (
    BAOAN,
    DONGGUAN,
    FUTIAN,
    HAIZHU,
    ZHONGSHAN,
    bowtie,
    feature,
    frame,
    square,
    write_geojson,
    write_zipped_shapefile,
)

GEOD = Geod(ellps="WGS84")


def geodesic_area(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Parcel))


def stored(session, code):
    row = session.execute(
        select(Parcel, func.ST_AsBinary(Parcel.geom)).where(Parcel.code == code)
    ).one()
    return row[0], shapely.from_wkb(bytes(row[1]))


# -- formats ------------------------------------------------------------------------------
def test_geojson_assigns_districts_and_geodesic_areas(session, tmp_path):
    places = {"A-1": FUTIAN, "A-2": BAOAN, "A-3": DONGGUAN, "A-4": ZHONGSHAN, "A-5": HAIZHU}
    path = write_geojson(tmp_path / "p.geojson",
                         [feature(square(*pt, 80 + 10 * i), code=c)
                          for i, (c, pt) in enumerate(places.items())])
    report = import_parcels(session=session, path=path)
    assert report["imported"] == 5 and report["rejected"] == []
    expected = {"A-1": "440304", "A-2": "440306", "A-3": "441900", "A-4": "442000",
                "A-5": "440105"}
    for i, (code, pt) in enumerate(places.items()):
        parcel, geom = stored(session, code)
        assert parcel.district == expected[code]
        area = geodesic_area(square(*pt, 80 + 10 * i))
        assert float(parcel.area_m2) == pytest.approx(area, abs=0.01)
        assert float(parcel.area_mu) == pytest.approx(round(float(parcel.area_m2) / (2000 / 3), 4),
                                                      abs=1e-9)
        assert parcel.land_source.value == "stock" and parcel.status.value == "available"


def test_gauss_kruger_file_lands_within_one_metre(session, tmp_path):
    """An EPSG:4526 GeoPackage: vertices within 1 m of the truth, areas within 0.1 %."""
    truth = [square(*FUTIAN, 150), square(*BAOAN, 300), square(*DONGGUAN, 90)]
    to_gk = Transformer.from_crs(4326, 4526, always_xy=True)
    gk = [shapely.transform(g, lambda xy: np.column_stack(to_gk.transform(xy[:, 0], xy[:, 1])))
          for g in truth]
    assert gk[0].bounds[0] > 38_000_000  # zone-prefixed easting: the file really is in GK
    path = tmp_path / "gk.gpkg"
    frame([{"code": f"GK-{i}", "geometry": g} for i, g in enumerate(gk)], crs="EPSG:4526"
          ).to_file(path, driver="GPKG")
    report = import_parcels(session=session, path=path)
    assert report["imported"] == 3 and report["crs"] == "EPSG:4526"
    for i, want in enumerate(truth):
        parcel, got = stored(session, f"GK-{i}")
        got_xy = shapely.get_coordinates(got)[:4]
        want_xy = shapely.get_coordinates(want)[:4]
        _, _, dist = GEOD.inv(got_xy[:, 0], got_xy[:, 1], want_xy[:, 0], want_xy[:, 1])
        assert dist.max() < 1.0
        assert float(parcel.area_m2) == pytest.approx(geodesic_area(want), rel=1e-3)


def test_crs_option_overrides_and_cgcs2000(session, tmp_path):
    path = tmp_path / "cgcs.gpkg"
    frame([{"code": "C-1", "geometry": square(*FUTIAN)}], crs="EPSG:4490").to_file(path)
    assert import_parcels(session=session, path=path)["crs"] == "EPSG:4490"
    # A GeoJSON claims WGS-84; the option declares its real CRS (4547, no zone prefix).
    to_gk = Transformer.from_crs(4326, 4547, always_xy=True)
    g = shapely.transform(square(*BAOAN), lambda xy: np.column_stack(
        to_gk.transform(xy[:, 0], xy[:, 1])))
    path = write_geojson(tmp_path / "p.geojson", [feature(g, code="C-2")])
    import_parcels(session=session, path=path, crs="EPSG:4547")
    assert stored(session, "C-2")[0].district == "440306"


def test_zipped_shapefile_gbk_with_and_without_cpg(session, tmp_path):
    rows = [{"code": "SHP-1", "name": "宝安区福永工业地块", "land_sourc": "新增计划指标",
             "geometry": square(*BAOAN)},
            {"code": "SHP-2", "name": "福田区车公庙地块", "land_sourc": "存量",
             "geometry": square(*FUTIAN)}]
    with_cpg = write_zipped_shapefile(frame(rows), tmp_path / "a.zip", encoding="GBK")
    report = import_parcels(session=session, path=with_cpg)
    assert report["imported"] == 2 and report["ignored_columns"] == []
    parcel, _ = stored(session, "SHP-1")
    assert parcel.name == "宝安区福永工业地块" and parcel.land_source.value == "new_quota"
    assert stored(session, "SHP-2")[0].land_source.value == "stock"

    for r in rows:
        r["code"] += "b"
    bare = write_zipped_shapefile(frame(rows), tmp_path / "b.zip", encoding="GBK", keep_cpg=False)
    with zipfile.ZipFile(bare) as zf:
        assert not any(n.endswith(".cpg") for n in zf.namelist())
    import_parcels(session=session, path=bare)
    assert stored(session, "SHP-2b")[0].name == "福田区车公庙地块"


def test_csv_with_wkt_column_and_chinese_headers(session, tmp_path):
    path = tmp_path / "p.csv"
    lines = ["宗地代码,地块名称,土地来源,行政区代码,容积率下限,容积率上限,WKT"]
    lines.append(f'CSV-1,"南山区, 留仙洞",新增,440305,1.5,3.0,"{square(113.93, 22.58).wkt}"')
    lines.append(f'CSV-2,东莞松山湖地块,存量建设用地,,,,"{square(*DONGGUAN).wkt}"')
    path.write_text("\n".join(lines), encoding="utf-8")
    assert import_parcels(session=session, path=path)["imported"] == 2
    parcel, _ = stored(session, "CSV-1")
    assert (parcel.name, parcel.district, parcel.land_source.value) == (
        "南山区, 留仙洞", "440305", "new_quota")
    assert (float(parcel.plot_ratio_min), float(parcel.plot_ratio_max)) == (1.5, 3.0)
    assert stored(session, "CSV-2")[0].district == "441900"


def test_parcel_across_a_border_goes_to_largest_overlap(session, tmp_path):
    """Independent check: shapely overlap areas against the divisions file."""
    import geopandas as gpd

    from landsvc.config import get_settings

    districts = gpd.read_file(get_settings().geodata_dir / "guangdong_divisions.geojson")
    districts = districts[districts.level == "district"]
    futian = districts[districts.adcode == "440304"].geometry.iloc[0]
    nanshan = districts[districts.adcode == "440305"].geometry.iloc[0]
    border = futian.boundary.intersection(nanshan.boundary)
    mid = border.interpolate(0.5, normalized=True)
    box = shapely.box(mid.x - 0.004, mid.y - 0.003, mid.x + 0.002, mid.y + 0.003)
    want = max(("440304", "440305"),
               key=lambda a: box.intersection(futian if a == "440304" else nanshan).area)
    path = write_geojson(tmp_path / "b.geojson", [feature(box, code="BORDER")])
    import_parcels(session=session, path=path)
    assert stored(session, "BORDER")[0].district == want


# -- bad input ----------------------------------------------------------------------------
def rejected_of(session, path, **kwargs) -> dict:
    before = count(session)
    with pytest.raises(ImportRejected) as info:
        import_parcels(session=session, path=path, **kwargs)
    session.rollback()
    assert count(session) == before
    report = info.value.extra["report"]
    assert report["imported"] == 0
    return {r["index"]: r["reason"] for r in report["rejected"]}


def test_every_bad_row_is_named_and_nothing_is_written(session, tmp_path):
    rows = [
        feature(square(*FUTIAN), code="OK-1"),                            # 0 fine
        feature(square(FUTIAN[1], FUTIAN[0]), code="SWAP"),              # 1 lat/lon swapped
        feature(bowtie(*BAOAN), code="BOW"),                             # 2 self-intersection
        {"type": "Feature", "geometry": None, "properties": {"code": "EMPTY"}},  # 3 no geometry
        feature(shapely.Point(*FUTIAN), code="POINT"),                   # 4 not polygonal
        feature(square(*BAOAN), code="DUP"),                             # 5 duplicate …
        feature(square(*HAIZHU), code="DUP"),                            # 6 … of 5
        feature(square(*DONGGUAN)),                                      # 7 no code
        feature(square(*ZHONGSHAN), code="ENUM", land_source="租赁"),     # 8 bad enum
        feature(square(*FUTIAN, 50), code="PR", plot_ratio_min=3, plot_ratio_max=1),  # 9
        feature(square(*FUTIAN, 40), code="WRONG-D", district="440105"),  # 10 wrong district
    ]
    reasons = rejected_of(session, write_geojson(tmp_path / "bad.geojson", rows))
    assert sorted(reasons) == list(range(1, 11))
    assert "广东省范围外" in reasons[1]
    assert "Self-intersection" in reasons[2]
    assert "几何为空" in reasons[3]
    assert "Point" in reasons[4]
    assert "重复" in reasons[5] and "5, 6" in reasons[6]
    assert "缺少宗地代码" in reasons[7]
    assert "land_source" in reasons[8] and "租赁" in reasons[8]
    assert "下限大于上限" in reasons[9]
    assert "440105" in reasons[10] and "440304" in reasons[10]


def test_partial_loads_good_rows_and_reports_the_rest(session, tmp_path):
    rows = [feature(square(*FUTIAN), code="P-1"), feature(bowtie(*BAOAN), code="P-2"),
            feature(square(*HAIZHU), code="P-3")]
    report = import_parcels(session=session, path=write_geojson(tmp_path / "p.geojson", rows),
                            partial=True)
    assert report["imported"] == 2
    assert [(r["index"], r["code"]) for r in report["rejected"]] == [(1, "P-2")]
    assert set(session.scalars(select(Parcel.code))) >= {"P-1", "P-3"}
    assert session.scalar(select(func.count()).where(Parcel.code == "P-2")) == 0


def test_repair_makes_valid_and_notes_it(session, tmp_path):
    path = write_geojson(tmp_path / "p.geojson", [feature(bowtie(*BAOAN), code="REP")])
    report = import_parcels(session=session, path=path, repair=True)
    assert report["imported"] == 1
    assert report["notes"][0]["index"] == 0 and "make_valid" in report["notes"][0]["note"]
    _, geom = stored(session, "REP")
    assert geom.is_valid and geom.geom_type == "MultiPolygon" and len(geom.geoms) == 2


def test_code_already_in_database(session, tmp_path):
    path = write_geojson(tmp_path / "a.geojson", [feature(square(*FUTIAN), code="EXIST")])
    import_parcels(session=session, path=path)
    session.commit()  # a savepoint: the test's outer transaction still rolls it back
    again = write_geojson(tmp_path / "b.geojson", [feature(square(*BAOAN), code="NEW"),
                                                   feature(square(*HAIZHU), code="EXIST")])
    reasons = rejected_of(session, again)
    assert list(reasons) == [1] and "已存在" in reasons[1]
    assert set(session.scalars(select(Parcel.code).where(Parcel.code.in_(["EXIST", "NEW"])))) == {
        "EXIST"}


def test_bad_row_after_first_batch_leaves_nothing(session, tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "BATCH_SIZE", 2)
    rows = [feature(square(FUTIAN[0] + 0.002 * i, FUTIAN[1], 50), code=f"B-{i}")
            for i in range(5)] + [feature(bowtie(*BAOAN), code="B-BAD")]
    reasons = rejected_of(session, write_geojson(tmp_path / "p.geojson", rows))
    assert list(reasons) == [5]


@pytest.mark.parametrize("name, content, error, code", [
    ("x.gpkg", b"SQLite format 3\x00" + b"\x00" * 50, InvalidInput, "malformed_file"),
    ("x.gpkg", b"not a database at all", InvalidInput, "malformed_file"),
    ("x.zip", b"PK\x03\x04 truncated", InvalidInput, "malformed_file"),
    ("x.geojson", b'{"type": "FeatureCollection", "features": [', InvalidInput, "malformed_file"),
    ("x.txt", b"hello", UnsupportedMediaType, "unsupported_media_type"),
    ("x.csv", "code,name\nA,无几何\n".encode(), InvalidInput, "missing_column"),
])
def test_unreadable_files(session, tmp_path, name, content, error, code):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error) as info:
        import_parcels(session=session, path=path)
    assert info.value.code == code


def test_truncated_geopackage(session, tmp_path):
    path = tmp_path / "full.gpkg"
    frame([{"code": f"T-{i}", "geometry": square(FUTIAN[0] + 0.001 * i, FUTIAN[1], 30)}
           for i in range(300)]).to_file(path)
    cut = tmp_path / "cut.gpkg"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InvalidInput) as info:
        import_parcels(session=session, path=cut)
    assert info.value.code == "malformed_file"
    session.rollback()
    assert session.scalar(select(func.count()).where(Parcel.code.like("T-%"))) == 0


def test_unknown_crs_missing_prj_missing_column(session, tmp_path):
    path = write_geojson(tmp_path / "p.geojson", [feature(square(*FUTIAN), code="X")])
    with pytest.raises(InvalidInput, match="crs") as info:
        import_parcels(session=session, path=path, crs="EPSG:99999")
    assert info.value.code == "unknown_crs"

    shp = write_zipped_shapefile(frame([{"code": "N", "geometry": square(*FUTIAN)}]),
                                 tmp_path / "noprj.zip")
    stripped = tmp_path / "stripped.zip"
    with zipfile.ZipFile(shp) as src, zipfile.ZipFile(stripped, "w") as dst:
        for n in src.namelist():
            if not n.endswith(".prj"):
                dst.writestr(n, src.read(n))
    with pytest.raises(InvalidInput) as info:
        import_parcels(session=session, path=stripped)
    assert info.value.code == "unknown_crs"

    nocode = write_geojson(tmp_path / "n.geojson", [feature(square(*FUTIAN), name="无代码")])
    with pytest.raises(InvalidInput) as info:
        import_parcels(session=session, path=nocode)
    assert info.value.code == "missing_column"


def test_report_is_json_serialisable(session, tmp_path):
    path = write_geojson(tmp_path / "p.geojson", [feature(square(*FUTIAN), code="J", extra=1)])
    report = import_parcels(session=session, path=path)
    assert json.loads(json.dumps(report, ensure_ascii=False))["ignored_columns"] == ["extra"]


def test_database_has_no_rows_from_rejected_import(session, tmp_path):
    rows = [feature(square(*FUTIAN), code="R-1"), feature(shapely.Point(*FUTIAN), code="R-2")]
    rejected_of(session, write_geojson(tmp_path / "p.geojson", rows))
    assert session.scalar(text("SELECT count(*) FROM parcel WHERE code LIKE 'R-%'")) == 0
    assert Path(tmp_path / "p.geojson").exists()


@pytest.fixture
def bulk_mode(session, monkeypatch) -> list[bool]:
    """An empty parcel table, a tiny bulk threshold, and a record of whether bulk mode ran."""
    from landsvc.ingest import writer
    from landsvc.parcels import importing

    used: list[bool] = []
    real = writer.indexes_built_after

    def spy(session, table, enabled):
        used.append(enabled)
        return real(session, table, enabled)

    monkeypatch.setattr(importing, "BULK_LOAD_MIN_ROWS", 3)
    monkeypatch.setattr(writer, "indexes_built_after", spy)
    session.execute(text("DELETE FROM parcel"))  # rolled back with the test
    return used


def _index_names(session) -> set[str]:
    return set(session.scalars(text(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'parcel'")))


def test_first_bulk_load_rebuilds_indexes(session, tmp_path, bulk_mode):
    before = _index_names(session)
    assert {"idx_parcel_geom", "ix_parcel_district", "uq_parcel_code"} <= before
    rows = [feature(square(FUTIAN[0] + 0.002 * i, FUTIAN[1], 50), code=f"K-{i}")
            for i in range(5)]
    assert import_parcels(session=session, path=write_geojson(tmp_path / "a.geojson", rows)
                          )["imported"] == 5
    assert bulk_mode == [True] and _index_names(session) == before
    box = shapely.box(FUTIAN[0] - 0.001, FUTIAN[1] - 0.001, FUTIAN[0] + 0.003, FUTIAN[1] + 0.001)
    plan = "\n".join(session.scalars(text(
        "EXPLAIN SELECT code FROM parcel WHERE geom && ST_GeomFromText(:w, 4326)"),
        {"w": box.wkt}))
    found = session.scalars(text(
        "SELECT code FROM parcel WHERE geom && ST_GeomFromText(:w, 4326) ORDER BY code"),
        {"w": box.wkt}).all()
    assert found == ["K-0", "K-1"] and "parcel" in plan
    with pytest.raises(IntegrityError, match="uq_parcel_code"):  # the rebuilt index is live
        session.execute(text("INSERT INTO parcel (code, geom, district, land_source, status) "
                             "SELECT code, geom, district, land_source, status FROM parcel"))
    session.rollback()


def test_rejected_bulk_load_keeps_indexes(session, tmp_path, bulk_mode):
    before = _index_names(session)
    rows = [feature(square(FUTIAN[0] + 0.002 * i, FUTIAN[1], 50), code=f"L-{i}")
            for i in range(4)] + [feature(bowtie(*BAOAN), code="L-X")]
    rejected_of(session, write_geojson(tmp_path / "a.geojson", rows))
    assert bulk_mode == [True] and _index_names(session) == before
    small = [feature(square(*FUTIAN), code="M-1")]  # below the threshold: indexes stay live
    import_parcels(session=session, path=write_geojson(tmp_path / "b.geojson", small))
    assert bulk_mode == [True, False]
