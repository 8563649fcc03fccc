"""Fuzzing the park routes on parks that exist.

``tests/test_openapi_fuzz.py`` fuzzes every operation, but its generated ids rarely name a
park; here the id is pinned to a stored park (in a protected district, with parcels under
it) and generated geometries are swapped for a real boundary, so that generated bodies reach
the property checks, the write and the database triggers.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from tests.builders import BAOAN, feature, square
from tests.test_openapi_fuzz import CHECKS, EXAMPLES

BOUNDARY = feature(square(BAOAN[0], BAOAN[1] + 0.01, 600))["geometry"]

OPERATIONS = [("GET", "/api/v1/parks/{park_id}"), ("PATCH", "/api/v1/parks/{park_id}"),
              ("DELETE", "/api/v1/parks/{park_id}"), ("POST", "/api/v1/parks"),
              ("GET", "/api/v1/parks")]


@pytest.fixture
def park_id(client, tokens):
    admin = tokens["admin"]
    for i in range(3):
        r = client.post("/api/v1/parcels", json=feature(square(BAOAN[0] + 0.001 * i, BAOAN[1], 50),
                                                        code=f"FZ-{i}"), headers=admin)
        assert r.status_code == 201, r.text
    r = client.post("/api/v1/parks", json=feature(square(*BAOAN, 1000), name="模糊测试园区",
                                                  leading_industries=["C39"]), headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["parcel_count"] == 3
    return r.json()["id"]


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
@pytest.mark.parametrize("method, path", OPERATIONS, ids=lambda x: str(x))
def test_park_routes_on_a_stored_park(app, tokens, park_id, method, path, mode):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    strategy = schema[path][method].as_strategy(generation_mode=mode)

    statuses = set()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def fuzz(case):
        if mode is GenerationMode.POSITIVE:
            if "park_id" in (case.path_parameters or {}):
                case.path_parameters["park_id"] = park_id
            if isinstance(case.body, dict) and case.body.get("geometry") is not None:
                case.body["geometry"] = BOUNDARY  # random dicts are never polygons
        statuses.add(case.call_and_validate(headers=tokens["admin"], checks=CHECKS).status_code)

    try:
        fuzz()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE
        return
    if mode is GenerationMode.POSITIVE:  # the stored park was reached, not only 404s
        assert statuses & {200, 201, 204}, statuses
