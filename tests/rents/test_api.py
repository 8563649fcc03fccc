"""``/api/v1/rent-records``: CSV and JSON uploads, who may load, the list and its filters."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from landsvc.rents.models import RentRecord
from tests.builders import BAOAN, FUTIAN, HAIZHU
from tests.rents.util import lease, write_csv

URL = "/api/v1/rent-records"


def with_router(app):
    """The app, with the rent-records router added until the lead registers it."""
    from landsvc.rents.router import router

    if not any(getattr(r, "path", "") == URL for r in app.routes):
        app.include_router(router)
    return app


@pytest.fixture
def rents_client(app, client):
    with_router(app)
    return client


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(RentRecord))


def upload(client, headers, path, **data):
    with open(path, "rb") as fh:
        return client.post(URL, headers=headers, files={"file": (path.name, fh, "text/csv")},
                           data=data)


def test_csv_upload_and_report(rents_client, tokens, session, tmp_path):
    path = write_csv(tmp_path / "r.csv", [lease("A-1"), lease("A-2", BAOAN)])
    r = upload(rents_client, tokens["shenzhen"], path)
    assert r.status_code == 200, r.text
    assert r.json() == {"imported": 2, "rejected": [], "rejected_count": 0, "rows": 2,
                        "format": "CSV (UTF-8)", "ignored_columns": []}
    assert count(session) == 2


def test_all_or_nothing_then_partial_as_form_field_or_query(rents_client, tokens, session,
                                                            tmp_path):
    path = write_csv(tmp_path / "r.csv", [lease("B-1"), lease("B-2", end_date="2025-01-01")])
    r = upload(rents_client, tokens["admin"], path)
    assert r.status_code == 422 and r.json()["code"] == "import_rejected"
    assert r.json()["report"]["rejected"] == [{
        "index": 1, "contract_no": "B-2",
        "reason": "end_date: 租期结束日 2025-01-01 须晚于开始日 2026-01-01"}]
    assert count(session) == 0
    r = upload(rents_client, tokens["admin"], path, partial="true")
    assert r.status_code == 200 and r.json()["imported"] == 1
    path = write_csv(tmp_path / "r2.csv", [lease("B-3"), lease("B-4", area_m2=0)])
    with open(path, "rb") as fh:
        r = rents_client.post(URL + "?partial=true", headers=tokens["admin"],
                              files={"file": ("r2.csv", fh, "text/csv")})
    assert r.status_code == 200 and r.json()["imported"] == 1
    assert count(session) == 2


def test_json_body(rents_client, tokens, session):
    rows = [lease("J-1", HAIZHU), {"合同编号": "J-2", "经度": HAIZHU[0], "纬度": HAIZHU[1],
                                   "建筑类型": "高层", "面积": 500, "月租金": 9000,
                                   "开始日期": "2026-01-01", "结束日期": "2026-12-31"}]
    r = rents_client.post(URL, json=rows, headers=tokens["guangzhou"])
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 2 and r.json()["format"] == "JSON"
    # 9000 / 500 = 18.00
    assert session.scalar(select(RentRecord.rent_yuan_per_m2_month)
                          .where(RentRecord.contract_no == "J-2")) == 18
    r = rents_client.post(URL, json=[lease("J-1", HAIZHU)], headers=tokens["guangzhou"])
    assert r.status_code == 422
    assert r.json()["report"]["rejected"][0]["reason"] == "contract_no: 合同编号 J-1 已存在于数据库"


@pytest.mark.parametrize("body, word", [
    ({"contract_no": "x"}, "列表"),
    ([1, 2], "body.0"),
    ([{"contract_no": ["a"]}], "body.0.contract_no"),
])
def test_json_body_of_the_wrong_shape(rents_client, tokens, body, word):
    r = rents_client.post(URL, json=body, headers=tokens["admin"])
    assert r.status_code == 422 and word in r.json()["detail"]


def test_an_empty_list_loads_nothing(rents_client, tokens):
    r = rents_client.post(URL, json=[], headers=tokens["admin"])
    assert r.status_code == 200 and r.json() | {"format": ""} == {
        "imported": 0, "rejected": [], "rejected_count": 0, "rows": 0, "format": "",
        "ignored_columns": []}


def test_request_refusals(rents_client, tokens, tmp_path):
    r = rents_client.post(URL, content=b"a,b", headers=tokens["admin"] | {
        "content-type": "text/plain"})
    assert r.status_code == 415
    r = rents_client.post(URL, data={"partial": "true"}, files={"other": ("x.csv", b"a")},
                          headers=tokens["admin"])
    assert r.status_code == 422 and "file" in r.json()["detail"]
    path = write_csv(tmp_path / "r.csv", [lease("X-1")])
    r = upload(rents_client, tokens["admin"], path, partial="maybe")
    assert r.status_code == 422 and "partial" in r.json()["detail"]
    r = rents_client.post(URL, headers=tokens["admin"],
                          files={"file": ("r.gpkg", b"SQLite format 3\x00", "application/x")})
    assert r.status_code == 415


def test_size_is_capped_before_work(make_app, tokens, tmp_path):
    from fastapi.testclient import TestClient

    app = with_router(make_app(max_upload_mib=1))
    client = TestClient(app, raise_server_exceptions=False)
    big = tmp_path / "big.csv"
    big.write_bytes(b"contract_no\n" + b"x" * (2 << 20))
    r = upload(client, tokens["admin"], big)
    assert r.status_code == 413


def test_who_may_load(rents_client, tokens, session):
    rows = [lease("W-1", FUTIAN)]
    assert rents_client.post(URL, json=rows).status_code == 401
    assert rents_client.post(URL, json=rows, headers=tokens["enterprise"]).status_code == 403
    # A bureau's rows outside its jurisdiction are row errors (the report names them).
    r = rents_client.post(URL, json=rows, headers=tokens["baoan"])
    assert r.status_code == 422
    assert r.json()["report"]["rejected"][0]["reason"] == \
        "district: 区县 440304 超出管辖范围（440306）"
    assert count(session) == 0


def test_list_filters_and_reach(rents_client, tokens):
    rows = [lease("F-1", FUTIAN, start_date="2024-01-01", end_date="2025-06-30"),
            lease("F-2", BAOAN, start_date="2025-07-01", end_date="2026-06-30"),
            lease("F-3", HAIZHU, start_date="2026-07-01", end_date="2028-06-30")]
    assert rents_client.post(URL, json=rows, headers=tokens["admin"]).status_code == 200

    def numbers(headers, **params) -> list[str]:
        r = rents_client.get(URL, params=params, headers=headers)
        assert r.status_code == 200, r.text
        return [i["contract_no"] for i in r.json()["items"]]

    admin = tokens["admin"]
    assert numbers(admin) == ["F-1", "F-2", "F-3"]
    assert numbers(admin, district="4403") == ["F-1", "F-2"]
    assert numbers(admin, district="440306") == ["F-2"]
    # In force during 2025-06-30 … 2025-07-01: F-1 ends on the first day, F-2 starts on the last.
    assert numbers(admin, **{"from": "2025-06-30", "to": "2025-07-01"}) == ["F-1", "F-2"]
    assert numbers(admin, **{"from": "2026-07-01"}) == ["F-3"]
    assert numbers(admin, to="2024-12-31") == ["F-1"]
    assert numbers(admin, contract_no="F-3") == ["F-3"]
    assert numbers(tokens["shenzhen"]) == ["F-1", "F-2"]
    assert numbers(tokens["guangzhou"], district="4403") == []
    item = rents_client.get(URL, params={"contract_no": "F-2"}, headers=admin).json()["items"][0]
    assert item | {"id": 0, "created_at": ""} == {
        "id": 0, "contract_no": "F-2", "listing_id": None, "lon": BAOAN[0], "lat": BAOAN[1],
        "district": "440306", "building_type": "single_storey", "floor": None,
        "area_m2": 1000.0, "rent_yuan_per_m2_month": 30.0, "rent_yuan_month_total": 30000.0,
        "start_date": "2025-07-01", "end_date": "2026-06-30", "registered_date": None,
        "created_at": "", "created_by": "admin"}
    assert rents_client.get(URL).status_code == 401
    assert rents_client.get(URL, headers=tokens["enterprise"]).status_code == 403
    r = rents_client.get(URL, params={"from": "2026-01-01", "to": "2025-01-01"}, headers=admin)
    assert r.status_code == 422 and "to" in r.json()["detail"]
    assert rents_client.get(URL, params={"district": "abc"}, headers=admin).status_code == 422
    assert rents_client.get(URL, params={"from": "soon"}, headers=admin).status_code == 422
