"""Which park a parcel belongs to: > half of its geodesic area, kept on every write path.

The database's triggers do the linking; these tests drive them through the API only and
check each share independently with pyproj's geodesic areas. Boxes use binary fractions of a
degree (2^-7 ≈ 800 m), so the shifted edges fall exactly where the test puts them.
"""

from __future__ import annotations

import io
import json

import pytest
import shapely
from pyproj import Geod

from tests.builders import feature

GEOD = Geod(ellps="WGS84")

EDGE = 113.8125          # the park's east edge (宝安区), exact in binary
SOUTH = 22.625
W = 2 ** -7              # a parcel's width and height, in degrees
PARK = shapely.box(EDGE - 4 * W, SOUTH - W, EDGE, SOUTH + 2 * W)


def area(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def share(parcel, park=PARK) -> float:
    """The part of ``parcel``'s geodesic area inside ``park``."""
    return area(parcel.intersection(park)) / area(parcel)


def across_edge(inside: float, edge: float = EDGE) -> shapely.Polygon:
    """A parcel with ``inside`` of its width west of ``edge`` (inside the park)."""
    return shapely.box(edge - inside * W, SOUTH, edge + (1 - inside) * W, SOUTH + W)


# shares, computed once here and asserted below
CASES = {
    "P-60": (across_edge(0.6), True),
    "P-50+": (across_edge(0.5 + 2 ** -12), True),   # ≈ 0.50024: just over half
    "P-50": (across_edge(0.5), False),              # the midline: half (by geodesic edges a
                                                    # hair under, 0.49999999967)
    "P-50-": (across_edge(0.5 - 2 ** -12), False),  # ≈ 0.49976: just under
    "P-40": (across_edge(0.4), False),
    "P-IN": (shapely.box(EDGE - 2 * W, SOUTH, EDGE - W, SOUTH + W), True),
    "P-OUT": (shapely.box(EDGE + W, SOUTH, EDGE + 2 * W, SOUTH + W), False),
}


def test_the_shares_are_what_the_cases_say():
    for code, (geom, linked) in CASES.items():
        s = share(geom)
        assert (s > 0.5) == linked, (code, s)
    assert share(CASES["P-50+"][0]) == pytest.approx(0.50024, abs=1e-5)
    assert share(CASES["P-50-"][0]) == pytest.approx(0.49976, abs=1e-5)
    assert 0.5 - 1e-9 < share(CASES["P-50"][0]) <= 0.5


def post_park(client, headers, geom=PARK, name="链接测试园区", **props):
    r = client.post("/api/v1/parks", json=feature(geom, name=name, **props), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def post_parcel(client, headers, code, geom):
    r = client.post("/api/v1/parcels", json=feature(geom, code=code), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def park_ids(client, ids: dict[str, int]) -> dict[str, int | None]:
    return {code: client.get(f"/api/v1/parcels/{pid}").json()["properties"]["park_id"]
            for code, pid in ids.items()}


def parcel_count(client, park_id, headers=None) -> int:
    return client.get(f"/api/v1/parks/{park_id}", headers=headers or {}).json()[
        "properties"]["parcel_count"]


def test_parcels_created_before_the_park_are_linked_when_it_comes(client, tokens):
    admin = tokens["admin"]
    ids = {code: post_parcel(client, admin, code, geom) for code, (geom, _) in CASES.items()}
    assert set(park_ids(client, ids).values()) == {None}
    park = post_park(client, admin)
    assert park_ids(client, ids) == {c: park if linked else None
                                     for c, (_, linked) in CASES.items()}
    assert parcel_count(client, park) == 3


def test_parcels_created_after_the_park_are_linked_and_moves_relink(client, tokens):
    admin = tokens["admin"]
    park = post_park(client, admin)
    ids = {code: post_parcel(client, admin, code, geom) for code, (geom, _) in CASES.items()}
    assert park_ids(client, ids) == {c: park if linked else None
                                     for c, (_, linked) in CASES.items()}

    # moving a parcel: 40 % in -> 60 % in, and back out
    r = client.patch(f"/api/v1/parcels/{ids['P-40']}", json=feature(across_edge(0.6)),
                     headers=admin)
    assert r.status_code == 200 and r.json()["properties"]["park_id"] == park
    r = client.patch(f"/api/v1/parcels/{ids['P-IN']}", json=feature(across_edge(0.5)),
                     headers=admin)
    assert r.status_code == 200 and r.json()["properties"]["park_id"] is None
    # a change that is not a move keeps the link
    r = client.patch(f"/api/v1/parcels/{ids['P-60']}", json={"name": "改名"}, headers=admin)
    assert r.json()["properties"]["park_id"] == park
    assert parcel_count(client, park) == 3  # P-60, P-50+, P-40 (moved in)


def test_moving_or_deleting_the_park_relinks(client, tokens):
    admin = tokens["admin"]
    park = post_park(client, admin)
    ids = {code: post_parcel(client, admin, code, geom) for code, (geom, _) in CASES.items()}

    # the park's east edge moves two parcel-widths east: every case lies inside
    wider = shapely.box(EDGE - 4 * W, SOUTH - W, EDGE + 2 * W, SOUTH + 2 * W)
    for code in ("P-50", "P-40", "P-OUT"):
        assert share(CASES[code][0], wider) > 0.5
    r = client.patch(f"/api/v1/parks/{park}", json=feature(wider), headers=admin)
    assert r.status_code == 200, r.text
    assert set(park_ids(client, ids).values()) == {park}
    assert r.json()["properties"]["parcel_count"] == len(CASES)

    # shrunk to the west half: only P-IN keeps more than half inside
    narrow = shapely.box(EDGE - 4 * W, SOUTH - W, EDGE - W, SOUTH + 2 * W)
    r = client.patch(f"/api/v1/parks/{park}", json=feature(narrow), headers=admin)
    assert r.status_code == 200, r.text
    assert park_ids(client, ids) == {c: park if c == "P-IN" else None for c in CASES}
    assert r.json()["properties"]["parcel_count"] == 1

    assert client.delete(f"/api/v1/parks/{park}", headers=admin).status_code == 204
    assert set(park_ids(client, ids).values()) == {None}


def test_the_park_holding_the_larger_share_wins_and_takes_over_on_delete(client, tokens):
    admin = tokens["admin"]
    first = post_park(client, admin, name="西园")
    # a second park overlapping the first's east part and reaching beyond its edge
    east = shapely.box(EDGE - 1.5 * W, SOUTH - W, EDGE + 0.2 * W, SOUTH + 2 * W)
    ids = {c: post_parcel(client, admin, c, CASES[c][0]) for c in ("P-IN", "P-60")}
    second = post_park(client, admin, east, name="东园")
    # P-IN: all of it in the first, half in the second; P-60: 60 % in the first, 80 % in
    # the second — more than half in both, the larger share wins
    assert share(CASES["P-IN"][0]) == pytest.approx(1)
    assert share(CASES["P-IN"][0], east) == pytest.approx(0.5, abs=1e-6)
    assert share(CASES["P-60"][0], east) == pytest.approx(0.8, abs=1e-6)
    assert park_ids(client, ids) == {"P-IN": first, "P-60": second}
    assert client.delete(f"/api/v1/parks/{second}", headers=admin).status_code == 204
    assert park_ids(client, ids) == {"P-IN": first, "P-60": first}


def test_a_parcel_import_links(client, tokens):
    park = post_park(client, tokens["admin"])
    rows = [feature(geom, code=code) for code, (geom, _) in CASES.items()]
    body = json.dumps({"type": "FeatureCollection", "features": rows}).encode()
    r = client.post("/api/v1/parcels/import", headers=tokens["baoan"],
                    files={"file": ("p.geojson", io.BytesIO(body), "application/geo+json")})
    assert r.status_code == 200 and r.json()["imported"] == len(CASES), r.text
    got = client.get("/api/v1/parcels", params={"bbox": ",".join(
        map(str, shapely.box(EDGE - 4 * W, SOUTH, EDGE + 2 * W, SOUTH + W).bounds))}).json()
    linked = {f["properties"]["code"]: f["properties"]["park_id"] for f in got["features"]}
    assert linked == {c: park if ok else None for c, (_, ok) in CASES.items()}
    assert parcel_count(client, park) == 3


def test_parcel_count_counts_what_the_caller_may_see(client, tokens):
    admin = tokens["admin"]
    park = post_park(client, admin)
    inside = post_parcel(client, admin, "P-IN", CASES["P-IN"][0])
    post_parcel(client, admin, "P-60", CASES["P-60"][0])
    r = client.patch(f"/api/v1/parcels/{inside}", json={"status": "withdrawn"}, headers=admin)
    assert r.status_code == 200
    assert parcel_count(client, park) == 1                       # the public: not withdrawn
    assert parcel_count(client, park, tokens["guangzhou"]) == 1  # a bureau elsewhere: same
    assert parcel_count(client, park, tokens["baoan"]) == 2      # the bureau managing them
    assert parcel_count(client, park, admin) == 2
    listed = client.get("/api/v1/parks", params={"district": "440306"}).json()["features"]
    assert {f["id"]: f["properties"]["parcel_count"] for f in listed}[park] == 1


def test_park_id_on_a_parcel_is_read_only(client, tokens):
    admin = tokens["admin"]
    park = post_park(client, admin)
    pid = post_parcel(client, admin, "P-OUT", CASES["P-OUT"][0])
    r = client.patch(f"/api/v1/parcels/{pid}", json={"park_id": park}, headers=admin)
    assert r.status_code == 422 and "park_id" in r.json()["detail"]
    r = client.patch(f"/api/v1/parcels/{pid}", json=feature(CASES["P-OUT"][0], park_id=park),
                     headers=admin)
    assert r.status_code == 422 and "park_id" in r.json()["detail"]
    r = client.post("/api/v1/parcels", json=feature(CASES["P-IN"][0], code="P-X", park_id=None),
                    headers=admin)
    assert r.status_code == 422 and "park_id" in r.json()["detail"]
    assert client.get(f"/api/v1/parcels/{pid}").json()["properties"]["park_id"] is None
