"""Builders of building bodies and rows shared by the building and listing tests."""

from __future__ import annotations

import shapely
from geoalchemy2.shape import from_shape
from sqlalchemy import insert

from landsvc.parks.models import Park
from tests.builders import BAOAN, square

HOLDER = "91440300MA5FXXXX1X"
"""The USCC of the ``enterprise`` test token: it holds the default building."""
OTHER = "91440300MA5GYYYY2Y"
BUYER = "91441300MA4W00001K"
BUYER2 = "91441300MA4W00002L"


def point(lon_lat) -> dict:
    return {"type": "Point", "coordinates": list(lon_lat)}


def building(geometry=None, **props) -> dict:
    """A completed six-storey factory building in Bao'an held by a manufacturer."""
    base = {
        "name": "宝安1号厂房", "building_type": "multi_storey", "floors": 6,
        "total_floor_area_m2": 6000, "completed": True, "holder_uscc": HOLDER,
        "holder_name": "深圳甲精密制造有限公司", "holder_industry_code": "C3971",
        "freight_lift": True,
    }
    return {"type": "Feature", "geometry": geometry or point(BAOAN), "properties": base | props}


def create_building(client, headers, geometry=None, **props) -> dict:
    r = client.post("/api/v1/buildings", json=building(geometry, **props), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def add_park(session, lon_lat, side_m=2000, name="测试园区") -> int:
    """A park around ``lon_lat`` (written directly: parks have their own API)."""
    geom = shapely.MultiPolygon([square(*lon_lat, side_m)])
    return session.scalar(insert(Park).values(
        name=name, geom=from_shape(geom, srid=4326), district="440306").returning(Park.id))
