"""Rent-record import against PostGIS: stored values, every row rule, all-or-nothing,
partial, duplicates, encodings, listings, configurable bounds."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import func, select, text

from landsvc.access import Principal
from landsvc.errors import ImportRejected, InvalidInput, UnsupportedMediaType
from landsvc.policies.service import set_setting
from landsvc.rents.importing import import_rent_records, import_rent_rows
from landsvc.rents.models import RentRecord
from landsvc.tokens.models import Role
from tests.builders import BAOAN, FUTIAN, HAIZHU, HONG_KONG
from tests.rents.util import district_of, lease, write_csv

CENT = Decimal("0.01")


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(RentRecord))


def stored(session, no: str):
    return session.execute(
        select(RentRecord, func.ST_X(RentRecord.geom), func.ST_Y(RentRecord.geom))
        .where(RentRecord.contract_no == no)).one()


def rejected(exc_info) -> dict[int, str]:
    return {r["index"]: r["reason"] for r in exc_info.value.extra["report"]["rejected"]}


def test_clean_import_stores_normalised_values(session, tmp_path):
    # A point in Nanshan not named by any constant elsewhere: its district is found by the
    # test itself from the divisions file.
    nanshan = (113.9305, 22.5333)
    rows = [
        lease("R-1", FUTIAN, floor=2, registered_date="2026-01-10"),
        # Monthly total only: 12,345.67 元 over 456.78 ㎡.
        lease("R-2", nanshan, building_type="high_rise", area_m2="456.78",
              rent_yuan_per_m2_month=None, rent_yuan_month_total="12,345.67",
              start_date="2026/3/1", end_date="2029年2月28日"),
        lease("R-3", HAIZHU, building_type="multi_storey", area_m2="1234.5",
              rent_yuan_per_m2_month="18.75"),
    ]
    path = write_csv(tmp_path / "r.csv", rows)
    report = import_rent_records(session=session, path=path)
    assert report == {"imported": 3, "rejected": [], "rejected_count": 0, "rows": 3,
                      "format": "CSV (UTF-8)", "ignored_columns": []}

    # By hand: 12345.67 / 456.78 = 27.0276... → 27.03 元/㎡·月 (rounded half up to the fen).
    unit = (Decimal("12345.67") / Decimal("456.78")).quantize(CENT, ROUND_HALF_UP)
    assert unit == Decimal("27.03")
    record, lon, lat = stored(session, "R-2")
    assert (record.rent_yuan_per_m2_month, record.rent_yuan_month_total) == (unit,
                                                                             Decimal("12345.67"))
    assert record.district == district_of(*nanshan) == "440305"
    assert (lon, lat) == pytest.approx(nanshan, abs=1e-9)
    assert record.building_type.value == "high_rise" and record.floor is None
    assert (record.start_date, record.end_date) == (date(2026, 3, 1), date(2029, 2, 28))
    assert record.created_by == "admin" and record.registered_date is None

    # Unit rent given: the total is 1234.5 × 18.75 = 23146.875 → 23146.88.
    record, *_ = stored(session, "R-3")
    assert record.rent_yuan_month_total == (Decimal("1234.5") * Decimal("18.75")).quantize(
        CENT, ROUND_HALF_UP) == Decimal("23146.88")
    assert record.district == district_of(*HAIZHU) == "440105"

    record, *_ = stored(session, "R-1")
    assert (record.district, record.floor, record.area_m2, record.rent_yuan_per_m2_month,
            record.rent_yuan_month_total, record.registered_date) == (
        district_of(*FUTIAN), 2, Decimal("1000.00"), Decimal("30.00"), Decimal("30000.00"),
        date(2026, 1, 10))


BAD_ROWS = [
    ({"contract_no": None}, "contract_no: 缺少合同编号"),
    ({"contract_no": "X" * 61}, "contract_no: 合同编号超过 60 个字符"),
    ({"area_m2": 0}, "area_m2: 租赁面积须大于 0"),
    ({"area_m2": -5}, "area_m2: 应为正数"),
    ({"area_m2": "abc"}, "area_m2: 应为正数"),
    ({"area_m2": None}, "area_m2: 缺少租赁面积"),
    ({"end_date": "2025-12-31"}, "end_date: 租期结束日 2025-12-31 须晚于开始日 2026-01-01"),
    ({"end_date": "2026-01-01"}, "须晚于开始日"),
    ({"start_date": "2026-02-30"}, "start_date: 应为日期"),
    ({"start_date": None}, "start_date: 缺少租期开始日期"),
    ({"registered_date": "yesterday"}, "registered_date: 应为日期"),
    ({"rent_yuan_per_m2_month": "0.5"}, "rent_yuan_per_m2_month: 单位租金 0.50 元/㎡·月 超出合理范围"),
    ({"rent_yuan_per_m2_month": 30000}, "超出合理范围 1–500"),
    ({"rent_yuan_per_m2_month": None, "rent_yuan_month_total": 300}, "单位租金 0.30"),
    ({"rent_yuan_per_m2_month": None}, "rent: 须给出单位租金"),
    ({"rent_yuan_per_m2_month": "-3"}, "rent_yuan_per_m2_month: 应为正数"),
    ({"rent_yuan_month_total": 99999}, "rent_yuan_per_m2_month: 30.00 与月租金 99999.00"),
    ({"lon": HONG_KONG[0], "lat": HONG_KONG[1]}, "lon/lat: 点 (114.169400, 22.319300) 不在广东省"),
    ({"lon": 22.5429, "lat": 114.0596}, "lon/lat: 经纬度超出范围"),
    ({"lon": None}, "lon/lat: 经度与纬度须同时给出"),
    ({"lon": None, "lat": None}, "lon/lat: 须给出经纬度"),
    ({"lon": "东经114"}, "lon/lat: 应为数字"),
    ({"building_type": "warehouse"}, "building_type: 应为 single_storey"),
    ({"building_type": None}, "building_type: 缺少建筑类型"),
    ({"floor": "2.5"}, "floor: 应为 -5–200 之间的整数"),
    ({"floor": 300}, "floor: 应为 -5–200 之间的整数"),
    ({"district": "440306"}, "district: 所填区县 440306 与位置所在区县 440304 不一致"),
    ({"district": "4403"}, "district: 应为广东省 6 位区县代码"),
    ({"listing_id": "999999999"}, "listing_id: 房源 999999999 不存在"),
    ({"listing_id": "L-1"}, "listing_id: 应为整数"),
]


def test_each_bad_row_is_named_and_nothing_is_stored(session, tmp_path):
    header = ["contract_no", "listing_id", "lon", "lat", "district", "building_type", "floor",
              "area_m2", "rent_yuan_per_m2_month", "rent_yuan_month_total", "start_date",
              "end_date", "registered_date"]
    rows = [lease("OK-0")] + [lease(f"BAD-{i}") | change
                             for i, (change, _) in enumerate(BAD_ROWS, 1)]
    path = write_csv(tmp_path / "bad.csv", rows, header=header)
    with pytest.raises(ImportRejected) as exc_info:
        import_rent_records(session=session, path=path)
    reasons = rejected(exc_info)
    assert set(reasons) == set(range(1, len(BAD_ROWS) + 1))  # row 0 is fine
    for index, (_, rule) in enumerate(BAD_ROWS, 1):
        assert rule in reasons[index], (index, reasons[index])
    report = exc_info.value.extra["report"]
    assert report["imported"] == 0 and report["rejected_count"] == len(BAD_ROWS)
    assert count(session) == 0  # all or nothing: the good row is not stored either


def test_partial_stores_the_good_rows(session, tmp_path):
    rows = [lease("P-0"), lease("P-1", area_m2=-1), lease("P-2", HAIZHU)]
    report = import_rent_records(session=session, path=write_csv(tmp_path / "p.csv", rows),
                                 partial=True)
    assert report["imported"] == 2 and report["rejected_count"] == 1
    assert [r["index"] for r in report["rejected"]] == [1]
    assert report["rejected"][0]["contract_no"] == "P-1"
    assert set(session.scalars(select(RentRecord.contract_no))) == {"P-0", "P-2"}


def test_duplicates_in_the_file_and_against_stored_ones(session, tmp_path):
    import_rent_rows(session=session, rows=[lease("D-1")])
    rows = [lease("D-2"), lease("D-3"), lease("D-2"), lease("D-1"), lease("D-2")]
    with pytest.raises(ImportRejected) as exc_info:
        import_rent_records(session=session, path=write_csv(tmp_path / "d.csv", rows))
    reasons = rejected(exc_info)
    assert set(reasons) == {0, 2, 3, 4}
    for i in (0, 2, 4):  # every row of the repeated number names all three
        assert "合同编号 D-2 在文件中重复（第 0, 2, 4 行" in reasons[i]
    assert reasons[3] == "contract_no: 合同编号 D-1 已存在于数据库"
    assert count(session) == 1


def test_gb18030_with_chinese_columns_and_labels(session, tmp_path):
    header = ["合同编号", "经度", "纬度", "建筑类型", "所在楼层", "租赁面积", "月租金", "起租日期",
              "到期日期", "备注"]
    rows = [{"合同编号": "粤租-001", "经度": BAOAN[0], "纬度": BAOAN[1], "建筑类型": "多层厂房",
             "所在楼层": 3, "租赁面积": 800, "月租金": 20000, "起租日期": "2026/1/1",
             "到期日期": "2028/12/31", "备注": "宝安区福永街道"}]
    path = write_csv(tmp_path / "gbk.csv", rows, header=header, encoding="gb18030")
    assert "粤租".encode("gb18030") in path.read_bytes()  # really not UTF-8
    report = import_rent_records(session=session, path=path)
    assert report["imported"] == 1 and report["format"] == "CSV (GB18030)"
    assert report["ignored_columns"] == ["备注"]
    record, *_ = stored(session, "粤租-001")
    # 20000 / 800 = 25.00 exactly.
    assert (record.building_type.value, record.floor, record.rent_yuan_per_m2_month,
            record.district) == ("multi_storey", 3, Decimal("25.00"), district_of(*BAOAN))


def test_utf8_with_bom(session, tmp_path):
    path = write_csv(tmp_path / "bom.csv", [lease("BOM-1")], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert import_rent_records(session=session, path=path)["imported"] == 1


def test_a_lease_of_a_listing_takes_its_building(session, client, tokens, tmp_path):
    from tests.buildings.util import create_building

    bid = create_building(client, tokens["admin"])["id"]  # multi-storey, Bao'an point
    r = client.post("/api/v1/listings", headers=tokens["admin"], json={
        "building_id": bid, "kind": "factory", "floor": 3, "area_m2": 800,
        "rent_yuan_per_m2_month": 28.5})
    assert r.status_code == 201, r.text
    lid = r.json()["id"]
    rows = [{"contract_no": "L-1", "listing_id": lid, "area_m2": 800,
             "rent_yuan_per_m2_month": 28, "start_date": "2026-01-01", "end_date": "2027-01-01"},
            {"contract_no": "L-2", "listing_id": lid, "building_type": "high_rise",
             "area_m2": 800, "rent_yuan_per_m2_month": 28, "start_date": "2026-01-01",
             "end_date": "2027-01-01"}]
    with pytest.raises(ImportRejected) as exc_info:
        import_rent_rows(session=session, rows=rows)
    assert rejected(exc_info) == {1: "building_type: 与房源所在建筑的类型 multi_storey 不一致"}
    import_rent_rows(session=session, rows=rows[:1])
    record, lon, lat = stored(session, "L-1")
    assert (record.listing_id, record.building_type.value, record.floor, record.district) == (
        lid, "multi_storey", 3, district_of(*BAOAN))
    assert (lon, lat) == pytest.approx(BAOAN, abs=1e-9)


def test_bounds_follow_the_jurisdiction_settings(session):
    set_setting(session, "4403", "rents.max_unit_rent_yuan", 100)
    rows = [lease("B-1", FUTIAN, rent_yuan_per_m2_month=150),
            lease("B-2", HAIZHU, rent_yuan_per_m2_month=150)]
    with pytest.raises(ImportRejected) as exc_info:
        import_rent_rows(session=session, rows=rows)
    assert rejected(exc_info) == {
        0: "rent_yuan_per_m2_month: 单位租金 150.00 元/㎡·月 超出合理范围 1–100"}


def test_a_bureau_imports_inside_its_jurisdiction_only(session):
    baoan = Principal(Role.bureau, jurisdiction="440306")
    with pytest.raises(ImportRejected) as exc_info:
        import_rent_rows(session=session, principal=baoan,
                         rows=[lease("J-1", BAOAN), lease("J-2", FUTIAN)])
    assert rejected(exc_info) == {1: "district: 区县 440304 超出管辖范围（440306）"}
    report = import_rent_rows(session=session, rows=[lease("J-1", BAOAN)], principal=baoan)
    assert report["imported"] == 1
    assert stored(session, "J-1")[0].created_by == "bureau:440306"


def test_file_level_refusals(session, tmp_path):
    with pytest.raises(UnsupportedMediaType):
        import_rent_records(session=session, path=tmp_path / "r.geojson")
    path = write_csv(tmp_path / "cols.csv", [lease("C-1")], header=["contract_no", "lon", "lat"])
    with pytest.raises(InvalidInput, match="缺少列：area_m2、start_date、end_date"):
        import_rent_records(session=session, path=path)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("contract_no,lon,lat,building_type,area_m2,rent_yuan_per_m2_month,"
                      "start_date,end_date\nA,1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="CSV 无法解析"):
        import_rent_records(session=session, path=ragged)
    with pytest.raises(InvalidInput, match="NUL"):
        import_rent_rows(session=session, rows=[lease("N\x00UL")])
    assert count(session) == 0


def test_a_first_bulk_load_rebuilds_the_indexes(session, tmp_path):
    from landsvc.rents.importing import BULK_LOAD_MIN_ROWS

    n = BULK_LOAD_MIN_ROWS
    rows = [lease(f"BULK-{i:05d}", FUTIAN if i % 2 else HAIZHU, area_m2=100 + i % 900)
            for i in range(n)]
    report = import_rent_records(session=session, path=write_csv(tmp_path / "bulk.csv", rows))
    assert report["imported"] == n and count(session) == n
    indexes = set(session.execute(
        text("SELECT indexname FROM pg_indexes WHERE tablename = 'rent_record'")).scalars())
    assert indexes == {"pk_rent_record", "uq_rent_record_contract_no", "ix_rent_record_district",
                       "ix_rent_record_term", "ix_rent_record_building_type",
                       "idx_rent_record_geom"}
    # Half the rows in Futian (440304), half in Haizhu (440105).
    by_district = dict(session.execute(select(RentRecord.district, func.count())
                                       .group_by(RentRecord.district)).all())
    assert by_district == {"440304": n // 2, "440105": n // 2}
    with pytest.raises(ImportRejected) as exc_info:  # the rebuilt unique key still holds
        import_rent_rows(session=session, rows=[lease("BULK-00000")])
    assert "已存在于数据库" in rejected(exc_info)[0]
