"""The parcels API: CRUD in GeoJSON, filters and paging, uploads, tokens and jurisdictions."""

from __future__ import annotations

import io
import json

import pytest
import shapely
from pyproj import Geod
from sqlalchemy import func, select

from landsvc.parcels.models import Parcel
from tests.builders import BAOAN, DONGGUAN, FUTIAN, HAIZHU, bowtie, feature, square

GEOD = Geod(ellps="WGS84")


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Parcel))


def upload(client, rows, headers, name="p.geojson", **params):
    body = json.dumps({"type": "FeatureCollection", "features": rows}).encode()
    return client.post("/api/v1/parcels/import", headers=headers, params=params,
                       files={"file": (name, io.BytesIO(body), "application/geo+json")})


@pytest.fixture
def seeded(client, tokens):
    """Twelve parcels in Shenzhen (Futian, Bao'an), Guangzhou and Dongguan, varied sizes."""
    rows = []
    for i in range(12):
        base = (FUTIAN, BAOAN, HAIZHU, DONGGUAN)[i % 4]
        rows.append(feature(square(base[0] + 0.003 * i, base[1], 40 + 20 * i), code=f"S-{i:02d}",
                            status="withdrawn" if i == 11 else "available",
                            land_source="new_quota" if i % 3 == 0 else "stock"))
    r = upload(client, rows, tokens["admin"])
    assert r.status_code == 200, r.text
    return rows


# -- create / read / update ---------------------------------------------------------------
def test_create_read_update(client, tokens):
    body = feature(square(*FUTIAN, 120), code="440304001001GB00001", name="车公庙地块",
                   land_source="新增计划指标", plot_ratio_min=2, plot_ratio_max=4.5,
                   servicing="七通一平")
    r = client.post("/api/v1/parcels", json=body, headers=tokens["shenzhen"])
    assert r.status_code == 201, r.text
    created = r.json()
    props = created["properties"]
    assert created["type"] == "Feature" and created["geometry"]["type"] == "MultiPolygon"
    assert props["district"] == "440304" and props["district_name"] == "福田区"
    assert props["land_source"] == "new_quota" and props["servicing"] == "seven_links"
    want = abs(GEOD.geometry_area_perimeter(square(*FUTIAN, 120))[0])
    assert props["area_m2"] == pytest.approx(want, abs=0.01)
    assert props["area_mu"] == round(props["area_m2"] / (2000 / 3), 4)

    assert client.get(f"/api/v1/parcels/{created['id']}").json() == created

    r = client.patch(f"/api/v1/parcels/{created['id']}", json={"status": "reserved"},
                     headers=tokens["shenzhen"])
    assert r.status_code == 200, r.text
    after = r.json()["properties"]
    assert after["status"] == "reserved"
    assert {k: v for k, v in after.items() if k not in ("status", "status_label", "updated_at")} \
        == {k: v for k, v in props.items() if k not in ("status", "status_label", "updated_at")}

    moved = feature(square(*BAOAN, 200))
    r = client.patch(f"/api/v1/parcels/{created['id']}", json=moved, headers=tokens["shenzhen"])
    assert r.status_code == 200, r.text
    assert r.json()["properties"]["district"] == "440306"
    assert r.json()["properties"]["name"] == "车公庙地块"
    assert r.json()["properties"]["area_m2"] > props["area_m2"]


def test_write_errors_are_4xx_and_change_nothing(client, tokens, session):
    admin = tokens["admin"]
    before = count(session)
    cases = [
        (feature(bowtie(*FUTIAN), code="B"), 422, "Self-intersection"),
        (feature(square(FUTIAN[1], FUTIAN[0]), code="S"), 422, "广东省范围外"),
        (feature(square(*FUTIAN), code="U", colour="red"), 422, "colour"),
        ({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[1, 2]]},
          "properties": {"code": "G"}}, 422, "geometry"),
        (feature(square(*FUTIAN)), 422, "code"),
        ({"type": "Point"}, 422, "type"),
    ]
    for body, status, word in cases:
        r = client.post("/api/v1/parcels", json=body, headers=admin)
        assert r.status_code == status, (body, r.text)
        assert word in r.json()["detail"] and r.json()["code"]
    assert count(session) == before

    ok = client.post("/api/v1/parcels", json=feature(square(*FUTIAN), code="D"), headers=admin)
    assert ok.status_code == 201
    dup = client.post("/api/v1/parcels", json=feature(square(*BAOAN), code="D"), headers=admin)
    assert dup.status_code == 409 and "已存在" in dup.json()["detail"]
    r = client.patch(f"/api/v1/parcels/{ok.json()['id']}", json={"status": "sold"}, headers=admin)
    assert r.status_code == 422 and "status" in r.json()["detail"]
    assert client.patch("/api/v1/parcels/999999", json={"name": "x"}, headers=admin
                        ).status_code == 404
    assert client.get("/api/v1/parcels/999999").status_code == 404


# -- filters and paging -------------------------------------------------------------------
def test_filters(client, seeded):
    def codes(**params):
        r = client.get("/api/v1/parcels", params=params)
        assert r.status_code == 200, r.text
        return {f["properties"]["code"] for f in r.json()["features"]}

    visible = {f"S-{i:02d}" for i in range(11)}
    assert codes(limit=1000) >= visible and "S-11" not in codes(limit=1000)
    assert codes(district="440304") == {"S-00", "S-04", "S-08"}
    assert codes(district="4403") == {"S-00", "S-01", "S-04", "S-05", "S-08", "S-09"}
    assert codes(district="440300") == codes(district="4403")
    assert codes(land_source="new_quota") == {"S-00", "S-03", "S-06", "S-09"}
    assert codes(status="withdrawn") == set()
    # bbox around Futian's parcels only
    box = f"{FUTIAN[0] - 0.01},{FUTIAN[1] - 0.01},{FUTIAN[0] + 0.04},{FUTIAN[1] + 0.01}"
    assert codes(bbox=box) == {"S-00", "S-04", "S-08"}
    # area bounds against the stored areas
    r = client.get("/api/v1/parcels", params={"limit": 1000}).json()
    areas = {f["properties"]["code"]: f["properties"]["area_m2"] for f in r["features"]}
    lo, hi = 20_000, 60_000
    assert codes(min_area_m2=lo, max_area_m2=hi) == {c for c, a in areas.items() if lo <= a <= hi}


def test_withdrawn_seen_only_by_managers(client, seeded, tokens):
    def seen(headers):
        r = client.get("/api/v1/parcels", params={"status": "withdrawn"}, headers=headers)
        return {f["properties"]["code"] for f in r.json()["features"]}

    # S-11 is in Dongguan (441900)
    assert seen({}) == set() and seen(tokens["enterprise"]) == set()
    assert seen(tokens["admin"]) == {"S-11"} and seen(tokens["province"]) == {"S-11"}
    assert seen(tokens["shenzhen"]) == set()


def test_paging_walks_every_visible_parcel_once(client, seeded):
    url, seen, pages = "/api/v1/parcels?limit=4&land_source=stock", [], 0
    total = None
    while url:
        body = client.get(url).json()
        total = body["numberMatched"] if total is None else total
        assert body["numberMatched"] == total
        assert body["numberReturned"] == len(body["features"]) <= 4
        seen += [f["properties"]["code"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        assert not nxt or nxt[0].startswith("http")
        url = nxt[0] if nxt else None
        pages += 1
    assert len(seen) == len(set(seen)) == total == 7 and pages == 2


@pytest.mark.parametrize("params, status", [
    ({"limit": 1001}, 422), ({"limit": -1}, 422), ({"limit": 0}, 422), ({"offset": -1}, 422),
    ({"bbox": "1,2,3"}, 400), ({"bbox": "a,b,c,d"}, 400), ({"bbox": "114,23,113,22"}, 400),
    ({"status": "sold"}, 422), ({"district": "44x"}, 422),
])
def test_bad_query_parameters(client, params, status):
    r = client.get("/api/v1/parcels", params=params)
    assert r.status_code == status
    assert set(r.json()) == {"detail", "code"} and r.json()["detail"]


# -- import over HTTP ---------------------------------------------------------------------
def test_import_endpoint_all_or_nothing(client, tokens, session):
    before = count(session)
    rows = [feature(square(*FUTIAN), code="H-1"), feature(bowtie(*BAOAN), code="H-2")]
    r = upload(client, rows, tokens["admin"])
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "import_rejected" and body["report"]["imported"] == 0
    assert body["report"]["rejected"][0]["index"] == 1
    assert count(session) == before

    r = client.post("/api/v1/parcels/import", headers=tokens["admin"], data={"partial": "true"},
                    files={"file": ("p.geojson", io.BytesIO(json.dumps(
                        {"type": "FeatureCollection", "features": rows}).encode()))})
    assert r.status_code == 200 and r.json()["imported"] == 1
    assert count(session) == before + 1


def test_import_crs_as_form_field_or_query(client, tokens):
    import numpy as np
    from pyproj import Transformer

    to_gk = Transformer.from_crs(4326, 4526, always_xy=True)
    gk = shapely.transform(square(*FUTIAN), lambda xy: np.column_stack(
        to_gk.transform(xy[:, 0], xy[:, 1])))
    csv = f'code,wkt\nQ-1,"{gk.wkt}"\n'.encode()
    r = client.post("/api/v1/parcels/import?crs=EPSG:4526", headers=tokens["admin"],
                    files={"file": ("p.csv", io.BytesIO(csv), "text/csv")})
    assert r.status_code == 200, r.text
    csv2 = csv.replace(b"Q-1", b"Q-2")
    r = client.post("/api/v1/parcels/import", headers=tokens["admin"], data={"crs": "EPSG:4526"},
                    files={"file": ("p.csv", io.BytesIO(csv2), "text/csv")})
    assert r.status_code == 200, r.text
    got = client.get("/api/v1/parcels", params={"district": "440304"}).json()["features"]
    assert {f["properties"]["code"] for f in got} >= {"Q-1", "Q-2"}


def test_upload_limits_and_content_types(client, make_app, tokens, session):
    from fastapi.testclient import TestClient

    before = count(session)
    r = client.post("/api/v1/parcels/import", headers=tokens["admin"],
                    files={"file": ("p.txt", io.BytesIO(b"hello"), "text/plain")})
    assert r.status_code == 415 and ".txt" in r.json()["detail"]
    r = client.post("/api/v1/parcels/import", headers=tokens["admin"], json={"file": "x"})
    assert r.status_code == 415
    r = client.post("/api/v1/parcels/import", headers=tokens["admin"],
                    files={"other": ("p.geojson", io.BytesIO(b"{}"))})
    assert r.status_code == 422 and "file" in r.json()["detail"]

    small = TestClient(make_app(max_upload_mib=1))
    big = io.BytesIO(b" " * (2 << 20))
    r = small.post("/api/v1/parcels/import", headers=tokens["admin"],
                    files={"file": ("big.geojson", big)})
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    assert "MiB" in r.json()["detail"]
    assert count(session) == before


# -- tokens and jurisdictions on every write endpoint -------------------------------------
def _writes(client, parcel_id, headers, code):
    """One call to each write endpoint, in Futian (440304)."""
    body = feature(square(FUTIAN[0] + 0.01, FUTIAN[1]), code=code)
    return {
        "create": client.post("/api/v1/parcels", json=body, headers=headers).status_code,
        "update": client.patch(f"/api/v1/parcels/{parcel_id}", json={"name": code},
                               headers=headers).status_code,
        "import": upload(client, [feature(square(FUTIAN[0] + 0.02, FUTIAN[1]), code=code + "i")],
                         headers).status_code,
    }


def test_roles_and_jurisdictions(client, tokens, session):
    target = client.post("/api/v1/parcels", json=feature(square(*FUTIAN), code="T"),
                         headers=tokens["admin"]).json()["id"]
    before = count(session)
    assert _writes(client, target, {}, "anon") == {"create": 401, "update": 401, "import": 401}
    bad = {"Authorization": "Bearer lsv_not-a-token"}
    assert _writes(client, target, bad, "bad") == {"create": 401, "update": 401, "import": 401}
    assert _writes(client, target, tokens["enterprise"], "ent") == {
        "create": 403, "update": 403, "import": 403}
    assert _writes(client, target, tokens["guangzhou"], "gz") == {
        "create": 403, "update": 403, "import": 403}
    assert _writes(client, target, tokens["baoan"], "ba") == {
        "create": 403, "update": 403, "import": 403}
    assert count(session) == before
    assert client.get(f"/api/v1/parcels/{target}").json()["properties"]["name"] is None

    for who in ("shenzhen", "province", "admin"):
        assert _writes(client, target, tokens[who], who) == {
            "create": 201, "update": 200, "import": 200}
    assert count(session) == before + 6


def test_bureau_cannot_move_a_parcel_out_of_its_jurisdiction(client, tokens):
    created = client.post("/api/v1/parcels", json=feature(square(*BAOAN), code="M"),
                          headers=tokens["baoan"])
    assert created.status_code == 201
    r = client.patch(f"/api/v1/parcels/{created.json()['id']}",
                     json=feature(square(*FUTIAN)), headers=tokens["baoan"])
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    assert client.get(f"/api/v1/parcels/{created.json()['id']}").json()["properties"][
        "district"] == "440306"


def test_import_with_one_feature_outside_jurisdiction_is_403_even_partial(client, tokens,
                                                                          session):
    before = count(session)
    rows = [feature(square(*BAOAN), code="J-1"), feature(square(*HAIZHU), code="J-2")]
    r = upload(client, rows, tokens["shenzhen"], partial="true")
    assert r.status_code == 403 and "440105" in r.json()["detail"]
    assert count(session) == before


# -- versions -----------------------------------------------------------------------------
def test_etag_and_if_match(client, tokens):
    admin = tokens["admin"]
    created = client.post("/api/v1/parcels", json=feature(square(*FUTIAN), code="ET-1"),
                          headers=admin)
    pid, etag = created.json()["id"], created.headers["ETag"]
    assert client.get(f"/api/v1/parcels/{pid}").headers["ETag"] == etag

    changed = client.patch(f"/api/v1/parcels/{pid}", json={"name": "新名"},
                           headers=admin | {"If-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert client.get(f"/api/v1/parcels/{pid}").headers["ETag"] == changed.headers["ETag"]

    for stale in (etag, f"W/{changed.headers['ETag']}", "garbage", '"other", "tags"'):
        r = client.patch(f"/api/v1/parcels/{pid}", json={"name": "不该写入"},
                         headers=admin | {"If-Match": stale})
        assert r.status_code == 412, (stale, r.text)
        assert r.json()["code"] == "precondition_failed"
        assert r.json()["etag"] == changed.headers["ETag"]
    assert client.get(f"/api/v1/parcels/{pid}").json()["properties"]["name"] == "新名"

    r = client.patch(f"/api/v1/parcels/{pid}", json={"land_use": "工业"},
                     headers=admin | {"If-Match": "*"})
    assert r.status_code == 200, r.text
    r = client.patch(f"/api/v1/parcels/{pid}", json={"land_use": "仓储"},
                     headers=admin | {"If-Match": f'"x", {r.headers["ETag"]}'})
    assert r.status_code == 200, r.text


# -- values checked as stored -------------------------------------------------------------
@pytest.mark.parametrize("props, field", [
    ({"plot_ratio_min": 0.001}, "plot_ratio_min"),
    ({"plot_ratio_max": 999.999}, "plot_ratio_max"),
    ({"plot_ratio_min": 0.004, "plot_ratio_max": 2}, "plot_ratio_min"),
    ({"plot_ratio_max": 1e308}, "plot_ratio_max"),
    ({"plot_ratio_min": 2.004, "plot_ratio_max": 2.001}, None),  # both store as 2.00
])
def test_plot_ratios_are_checked_as_stored(client, tokens, session, props, field):
    body = feature(square(*FUTIAN), code="PR-1", **props)
    r = client.post("/api/v1/parcels", json=body, headers=tokens["admin"])
    if field is None:
        assert r.status_code == 201, r.text
        assert r.json()["properties"]["plot_ratio_min"] == 2.0
        return
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(f"{field}: ") and "0.01" in r.json()["detail"]
    assert session.scalar(select(func.count()).where(Parcel.code == "PR-1")) == 0
