"""The parks API: CRUD in GeoJSON, every bad field, filters, tokens and jurisdictions."""

from __future__ import annotations

import pytest
import shapely
from pyproj import Geod
from sqlalchemy import func, select

from landsvc.parks.models import Park
from tests.builders import BAOAN, DONGGUAN, FUTIAN, HAIZHU, bowtie, feature, square

GEOD = Geod(ellps="WGS84")


def count(session) -> int:
    return session.scalar(select(func.count()).select_from(Park))


def create(client, headers, geom=None, **props):
    props.setdefault("name", "测试园区")
    return client.post("/api/v1/parks", json=feature(geom or square(*FUTIAN, 500), **props),
                       headers=headers)


# -- create / read / update / delete ------------------------------------------------------
def test_create_read_update_delete(client, tokens, session):
    boundary = square(*BAOAN, 800)
    r = create(client, tokens["baoan"], boundary, name="宝安智能制造产业园",
               leading_industries=["C39", "c3971", "C39"], featured_srdi=True,
               services=["人才公寓", "检测认证", "人才公寓"])
    assert r.status_code == 201, r.text
    created = r.json()
    props = created["properties"]
    assert created["type"] == "Feature" and created["geometry"]["type"] == "MultiPolygon"
    assert props["district"] == "440306" and props["district_name"] == "宝安区"
    # upper-cased, repeats dropped, order kept
    assert props["leading_industries"] == ["C39", "C3971"]
    assert props["services"] == ["人才公寓", "检测认证"]
    assert props["featured_srdi"] is True and props["parcel_count"] == 0
    want = abs(GEOD.geometry_area_perimeter(boundary)[0])
    assert props["area_m2"] == pytest.approx(want, abs=0.01)
    assert props["area_mu"] == round(props["area_m2"] / (2000 / 3), 4)
    etag = r.headers["ETag"]

    got = client.get(f"/api/v1/parks/{created['id']}")
    assert got.json() == created and got.headers["ETag"] == etag

    # plain properties: only what is named changes
    r = client.patch(f"/api/v1/parks/{created['id']}", json={"featured_srdi": False},
                     headers=tokens["baoan"] | {"If-Match": etag})
    assert r.status_code == 200, r.text
    after = r.json()["properties"]
    assert after["featured_srdi"] is False and r.headers["ETag"] != etag
    unchanged = ("featured_srdi", "updated_at")
    assert {k: v for k, v in after.items() if k not in unchanged} \
        == {k: v for k, v in props.items() if k not in unchanged}

    # a Feature: a new boundary, the name and everything else kept
    bigger = square(*BAOAN, 1000)
    r = client.patch(f"/api/v1/parks/{created['id']}", json=feature(bigger),
                     headers=tokens["baoan"])
    assert r.status_code == 200, r.text
    moved = r.json()["properties"]
    assert moved["name"] == "宝安智能制造产业园" and moved["leading_industries"] == ["C39", "C3971"]
    assert moved["area_m2"] == pytest.approx(abs(GEOD.geometry_area_perimeter(bigger)[0]),
                                             abs=0.01)

    # a stale version is refused and deletes nothing
    r = client.delete(f"/api/v1/parks/{created['id']}",
                      headers=tokens["baoan"] | {"If-Match": etag})
    assert r.status_code == 412 and r.json()["code"] == "precondition_failed"
    before = count(session)
    r = client.delete(f"/api/v1/parks/{created['id']}", headers=tokens["baoan"])
    assert r.status_code == 204 and r.content == b""
    assert count(session) == before - 1
    assert client.get(f"/api/v1/parks/{created['id']}").status_code == 404
    assert client.delete(f"/api/v1/parks/{created['id']}",
                         headers=tokens["baoan"]).status_code == 404


def test_if_match_on_patch(client, tokens):
    admin = tokens["admin"]
    created = create(client, admin, name="ETag 园区")
    pid, etag = created.json()["id"], created.headers["ETag"]
    changed = client.patch(f"/api/v1/parks/{pid}", json={"services": ["食堂"]},
                           headers=admin | {"If-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    for stale in (etag, f"W/{changed.headers['ETag']}", "garbage"):
        r = client.patch(f"/api/v1/parks/{pid}", json={"name": "不该写入"},
                         headers=admin | {"If-Match": stale})
        assert r.status_code == 412, (stale, r.text)
        assert r.json()["etag"] == changed.headers["ETag"]
    assert client.get(f"/api/v1/parks/{pid}").json()["properties"]["name"] == "ETag 园区"


def test_given_district_kept_and_defaults(client, tokens):
    # A park across the Futian/Nanshan border, named into Nanshan (440305) which it touches.
    r = create(client, tokens["shenzhen"], square(114.0, 22.54, 3000), district="440305")
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    assert props["district"] == "440305" and props["district_name"] == "南山区"
    assert (props["leading_industries"], props["featured_srdi"], props["services"]) == (
        [], False, [])


# -- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize("body, words", [
    (feature(bowtie(*FUTIAN), name="X"), ["Self-intersection", "repair=true"]),
    (feature(square(FUTIAN[1], FUTIAN[0]), name="X"), ["广东省范围外"]),
    (feature(square(114.1694, 22.3193, 500), name="X"), ["广东省范围外"]),  # Hong Kong
    (feature(shapely.Point(*FUTIAN), name="X"), ["Point", "Polygon"]),
    ({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [[1, 2]]},
      "properties": {"name": "X"}}, ["geometry"]),
    (feature(square(*FUTIAN)), ["name"]),
    (feature(square(*FUTIAN), name="   "), ["name: 缺少园区名称"]),
    (feature(square(*FUTIAN), name="园" * 201), ["name"]),
    (feature(square(*FUTIAN), name="X", district="440399"), ["district", "440399"]),
    (feature(square(*FUTIAN), name="X", district="440105"), ["district", "440105", "440304"]),
    (feature(square(*FUTIAN), name="X", leading_industries=["C39", "X39"]),
     ["leading_industries", "'X39'", "A–T"]),
    (feature(square(*FUTIAN), name="X", leading_industries=["C3"]), ["leading_industries", "'C3'"]),
    (feature(square(*FUTIAN), name="X", leading_industries=["C39712"]), ["'C39712'"]),
    (feature(square(*FUTIAN), name="X", leading_industries=["U39"]), ["'U39'"]),
    (feature(square(*FUTIAN), name="X", leading_industries="C39"), ["leading_industries"]),
    (feature(square(*FUTIAN), name="X", featured_srdi="maybe"), ["featured_srdi"]),
    (feature(square(*FUTIAN), name="X", services=["食" * 201]), ["services"]),
    (feature(square(*FUTIAN), name="X", park_id=3), ["park_id"]),
    (feature(square(*FUTIAN), name="X", area_m2=3), ["area_m2"]),
    (feature(square(*FUTIAN), name="X\u0000"), ["name", "NUL"]),
    ({"type": "Point"}, ["type"]),
])
def test_each_bad_field_is_422_naming_it_and_writes_nothing(client, tokens, session, body,
                                                            words):
    before = count(session)
    r = client.post("/api/v1/parks", json=body, headers=tokens["admin"])
    assert r.status_code == 422, r.text
    assert all(w in r.json()["detail"] for w in words), r.json()
    assert r.json()["code"]
    assert count(session) == before


def test_bad_geometry_repaired_on_request(client, tokens):
    r = client.post("/api/v1/parks", params={"repair": "true"},
                    json=feature(bowtie(*FUTIAN, 0.004), name="修复园区"),
                    headers=tokens["admin"])
    assert r.status_code == 201, r.text
    # the bow-tie's two triangles, each a quarter of the box
    box = shapely.box(FUTIAN[0], FUTIAN[1], FUTIAN[0] + 0.004, FUTIAN[1] + 0.004)
    want = abs(GEOD.geometry_area_perimeter(box)[0]) / 2
    assert r.json()["properties"]["area_m2"] == pytest.approx(want, rel=1e-3)


def test_same_name_in_one_district_is_409(client, tokens, session):
    admin = tokens["admin"]
    assert create(client, admin, square(*FUTIAN, 300), name="同名园区").status_code == 201
    r = create(client, admin, square(FUTIAN[0] + 0.01, FUTIAN[1], 300), name="同名园区")
    assert r.status_code == 409 and r.json()["code"] == "duplicate_park_name"
    assert "440304" in r.json()["detail"]
    # the same name in another district is another park
    assert create(client, admin, square(*BAOAN, 300), name="同名园区").status_code == 201
    other = create(client, admin, square(*HAIZHU, 300), name="别的园区").json()["id"]
    r = client.patch(f"/api/v1/parks/{other}", json=feature(square(*FUTIAN, 200),
                                                            name="同名园区"), headers=admin)
    assert r.status_code == 409
    assert client.get(f"/api/v1/parks/{other}").json()["properties"]["district"] == "440105"


def test_patch_errors(client, tokens):
    admin = tokens["admin"]
    pid = create(client, admin, name="改错园区").json()["id"]
    cases = [({"name": None}, "name"), ({"leading_industries": ["C39", "39"]}, "'39'"),
             ({"district": "440105"}, "district"), ({"park_id": 1}, "park_id"),
             ({"featured_srdi": "perhaps"}, "featured_srdi"),
             (feature(bowtie(*FUTIAN)), "Self-intersection")]
    for body, word in cases:
        r = client.patch(f"/api/v1/parks/{pid}", json=body, headers=admin)
        assert r.status_code == 422 and word in r.json()["detail"], (body, r.text)
    assert client.get(f"/api/v1/parks/{pid}").json()["properties"]["name"] == "改错园区"
    assert client.patch("/api/v1/parks/999999", json={"name": "x"}, headers=admin
                        ).status_code == 404
    assert client.get("/api/v1/parks/999999").status_code == 404


def test_clearing_lists(client, tokens):
    admin = tokens["admin"]
    pid = create(client, admin, leading_industries=["C39"], services=["食堂"]).json()["id"]
    r = client.patch(f"/api/v1/parks/{pid}", json={"leading_industries": [], "services": None},
                     headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["properties"]["leading_industries"], r.json()["properties"]["services"]) \
        == ([], [])


def test_null_district_and_flag(client, tokens):
    admin = tokens["admin"]
    # a park across the Futian/Nanshan border, mostly in Futian, named into Nanshan
    boundary = square(114.03, 22.54, 3000)
    pid = create(client, admin, boundary, district="440305", featured_srdi=True).json()["id"]
    r = client.patch(f"/api/v1/parks/{pid}", json={"district": None, "featured_srdi": None},
                     headers=admin)
    assert r.status_code == 200, r.text
    props = r.json()["properties"]
    assert (props["district"], props["featured_srdi"]) == ("440304", False)


# -- filters ------------------------------------------------------------------------------
@pytest.fixture
def seeded(client, tokens):
    """Parks in Futian, Bao'an, Haizhu and Dongguan with nested industry codes."""
    specs = [
        ("F-C39", FUTIAN, ["C39"], True),
        ("F-C3971", (FUTIAN[0] + 0.02, FUTIAN[1]), ["C3971", "I65"], False),
        ("B-C397", BAOAN, ["C397"], True),
        ("B-C35", (BAOAN[0] + 0.02, BAOAN[1]), ["C35"], False),
        ("H-I65", HAIZHU, ["I6513"], False),
        ("D-none", DONGGUAN, [], True),
    ]
    ids = {}
    for name, (lon, lat), codes, featured in specs:
        r = create(client, tokens["admin"], square(lon, lat, 400), name=name,
                   leading_industries=codes, featured_srdi=featured)
        assert r.status_code == 201, r.text
        ids[name] = r.json()["id"]
    return ids


def names(client, **params) -> set[str]:
    r = client.get("/api/v1/parks", params=params)
    assert r.status_code == 200, r.text
    return {f["properties"]["name"] for f in r.json()["features"]}


def test_filters(client, seeded):
    everything = set(seeded)
    assert names(client) == everything
    assert names(client, district="440304") == {"F-C39", "F-C3971"}
    assert names(client, district="4403") == {"F-C39", "F-C3971", "B-C397", "B-C35"}
    assert names(client, district="440300") == names(client, district="4403")
    assert names(client, district="441900") == {"D-none"}
    assert names(client, featured_srdi="true") == {"F-C39", "B-C397", "D-none"}
    assert names(client, featured_srdi="false") == {"F-C3971", "B-C35", "H-I65"}
    box = f"{FUTIAN[0] - 0.005},{FUTIAN[1] - 0.005},{FUTIAN[0] + 0.005},{FUTIAN[1] + 0.005}"
    assert names(client, bbox=box) == {"F-C39"}


@pytest.mark.parametrize("code, expected", [
    ("C39", {"F-C39", "F-C3971", "B-C397"}),     # the division and everything inside it
    ("C397", {"F-C39", "F-C3971", "B-C397"}),    # its group, its class, its division
    ("C3971", {"F-C39", "F-C3971", "B-C397"}),   # a class finds the parks led by its parents
    ("C3972", {"F-C39", "B-C397"}),              # a sibling class: only the parents
    ("c39", {"F-C39", "F-C3971", "B-C397"}),
    ("C", {"F-C39", "F-C3971", "B-C397", "B-C35"}),
    ("C3", set()),                               # no code starts "C3…" that C3 would mean
    ("I65", {"F-C3971", "H-I65"}),
    ("I6513", {"F-C3971", "H-I65"}),
    ("C36", set()),
])
def test_industry_filter_matches_either_way_along_the_code_tree(client, seeded, code, expected):
    if code == "C3":
        r = client.get("/api/v1/parks", params={"industry": code})
        assert r.status_code == 422 and r.json()["detail"].startswith("industry: ")
        return
    assert names(client, industry=code) == expected


@pytest.mark.parametrize("params, status", [
    ({"limit": 1001}, 422), ({"offset": -1}, 422), ({"bbox": "1,2,3"}, 400),
    ({"district": "44x"}, 422), ({"industry": "Z99"}, 422), ({"industry": "C39%"}, 422),
    ({"featured_srdi": "maybe"}, 422),
])
def test_bad_query_parameters(client, params, status):
    r = client.get("/api/v1/parks", params=params)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"detail", "code"} and r.json()["detail"]


def test_paging(client, seeded):
    url, seen = "/api/v1/parks?limit=4", []
    while url:
        body = client.get(url).json()
        assert body["numberMatched"] == len(seeded)
        seen += [f["properties"]["name"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
    assert seen == sorted(seeded, key=seeded.get)


# -- tokens and jurisdictions -------------------------------------------------------------
def _writes(client, park_id, headers, name):
    """One call to each write endpoint, on a park in Futian (440304)."""
    return {
        "create": create(client, headers, square(FUTIAN[0] + 0.01, FUTIAN[1], 300),
                         name=name).status_code,
        "update": client.patch(f"/api/v1/parks/{park_id}", json={"services": [name]},
                               headers=headers).status_code,
        "delete": client.delete(f"/api/v1/parks/{park_id}", headers=headers).status_code,
    }


def test_roles_and_jurisdictions(client, tokens, session):
    target = create(client, tokens["admin"], name="目标园区").json()["id"]
    before = count(session)
    assert _writes(client, target, {}, "anon") == {"create": 401, "update": 401, "delete": 401}
    bad = {"Authorization": "Bearer lsv_not-a-token"}
    assert _writes(client, target, bad, "bad") == {"create": 401, "update": 401, "delete": 401}
    for who in ("enterprise", "guangzhou", "baoan"):
        assert _writes(client, target, tokens[who], who) == {
            "create": 403, "update": 403, "delete": 403}, who
    assert count(session) == before
    assert client.get(f"/api/v1/parks/{target}").json()["properties"]["services"] == []

    for who in ("shenzhen", "province"):
        r = create(client, tokens[who], square(FUTIAN[0] + 0.01, FUTIAN[1], 300), name=who)
        assert r.status_code == 201, r.text
        r = client.patch(f"/api/v1/parks/{target}", json={"services": [who]},
                         headers=tokens[who])
        assert r.status_code == 200 and r.json()["properties"]["services"] == [who]
    assert count(session) == before + 2
    assert client.delete(f"/api/v1/parks/{target}", headers=tokens["admin"]).status_code == 204


def test_anonymous_reads_every_park(client, seeded, tokens):
    assert names(client) == set(seeded)
    assert client.get(f"/api/v1/parks/{seeded['D-none']}").status_code == 200
    r = client.get("/api/v1/parks", headers=tokens["enterprise"])
    assert {f["properties"]["name"] for f in r.json()["features"]} == set(seeded)


def test_bureau_cannot_move_a_park_out_of_its_jurisdiction_nor_in(client, tokens):
    baoan = create(client, tokens["baoan"], square(*BAOAN, 400), name="宝安园区")
    assert baoan.status_code == 201, baoan.text
    pid = baoan.json()["id"]
    r = client.patch(f"/api/v1/parks/{pid}", json=feature(square(*FUTIAN, 400)),
                     headers=tokens["baoan"])
    assert r.status_code == 403 and r.json()["code"] == "outside_jurisdiction"
    assert client.get(f"/api/v1/parks/{pid}").json()["properties"]["district"] == "440306"

    futian = create(client, tokens["admin"], square(*FUTIAN, 400), name="福田园区").json()["id"]
    r = client.patch(f"/api/v1/parks/{futian}", json=feature(square(*BAOAN, 300)),
                     headers=tokens["baoan"])
    assert r.status_code == 403
    assert client.get(f"/api/v1/parks/{futian}").json()["properties"]["district"] == "440304"
