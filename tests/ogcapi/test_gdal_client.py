"""A real GIS client reads /ogcapi: Debian's GDAL (``ogrinfo``/``ogr2ogr``, ``OAPIF:`` driver).

The app runs in its own process (uvicorn) on a fresh database holding committed data, as a
QGIS user would meet it; GDAL must list every collection with the right feature count, and
page through each one to the same ids, attributes and geometries the API answers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import shapely
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from landsvc.config import get_settings
from landsvc.db import upgrade_database
from landsvc.districts.service import DIVISIONS_FILE, load_divisions
from landsvc.ingest.gdal_env import GDAL_ENV
from landsvc.parcels.service import create_parcel
from tests.builders import BAOAN, DONGGUAN, FUTIAN, HAIZHU, ZHONGSHAN, square
from tests.ogcapi.test_api import seed_supply

OGRINFO = "/usr/bin/ogrinfo"
OGR2OGR = "/usr/bin/ogr2ogr"

@dataclass(frozen=True)
class Served:
    url: str                        # http://127.0.0.1:PORT
    expected: dict[str, int]        # collection id -> feature count


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(url: str) -> dict[str, int]:
    """Migrations, the divisions and a few features of each collection, committed."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            upgrade_database(connection=conn)
            conn.commit()
        with Session(engine) as session:
            load_divisions(session=session, path=get_settings().geodata_dir / DIVISIONS_FILE)
            places = [FUTIAN, BAOAN, HAIZHU, DONGGUAN, ZHONGSHAN]
            for i in range(13):
                lon, lat = places[i % len(places)]
                create_parcel(session=session,
                              geometry=shapely.geometry.mapping(
                                  square(lon + 0.002 * i, lat, 50 + 10 * i)),
                              properties={"code": f"OAPIF-{i:02d}", "name": f"地块{i}",
                                          "status": "withdrawn" if i == 12 else "available",
                                          "land_source": "stock" if i % 2 else "new_quota"})
            public, hidden = seed_supply(session)
            session.commit()
    finally:
        engine.dispose()
    offered = len(public["offerings"]) + len(hidden["offerings"])  # each on a parcel of its own
    return {"districts": 124, "parcels": 12 + offered} | {c: len(ids) for c, ids in public.items()}


@pytest.fixture(scope="module")
def served(engine) -> Iterator[Served]:
    name = f"ogc_{uuid.uuid4().hex[:8]}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(engine.url).set(database=name).render_as_string(hide_password=False)
    server = None
    try:
        expected = _seed(url)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env |= {"LANDSVC_DATABASE_URL": url, "LANDSVC_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "landsvc.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stderr.read().decode(errors="replace")
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the app did not answer its health check"
            time.sleep(0.2)
        yield Served(base, expected)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def gdal(*args: str) -> str:
    # Not landsvc's own GDAL settings (no OAPIF driver, no network): a client's machine.
    env = {k: v for k, v in os.environ.items()
           if "proxy" not in k.lower() and k not in GDAL_ENV and k != "GDAL_SKIP"}
    env |= {"GDAL_HTTP_TIMEOUT": "20", "GDAL_HTTP_MAX_RETRY": "0", "CPL_DEBUG": "OFF"}
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "ERROR" not in result.stderr, result.stderr
    return result.stdout


def layer_summary(output: str) -> dict[str, dict[str, str]]:
    """``ogrinfo -so -al`` output: layer name -> its ``Key: value`` lines."""
    layers: dict[str, dict[str, str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("Layer name: "):
            current = layers.setdefault(line.removeprefix("Layer name: "), {})
        elif current is not None and ": " in line:
            key, value = line.split(": ", 1)
            current.setdefault(key, value)
    return layers


def as_gdal_reads(value, key: str):
    """A property value as comparable after GDAL's round trip: a timestamp to the second
    (GDAL keeps milliseconds), a JSON object GDAL keeps as text parsed back."""
    if isinstance(value, str) and key.endswith("_at"):
        return value[:19].replace("/", "-").replace(" ", "T")
    if isinstance(value, str) and value[:1] == "{":
        return json.loads(value)
    return value


def api_features(base: str, collection: str) -> list[dict]:
    """Every feature of a collection as the API answers it, page by page."""
    url, features = f"{base}/ogcapi/collections/{collection}/items?limit=1000", []
    while url:
        body = httpx.get(url, timeout=30).json()
        features += body["features"]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    return features


def test_ogrinfo_lists_every_collection_with_its_count(served):
    layers = layer_summary(gdal(OGRINFO, "-ro", "-so", "-al", f"OAPIF:{served.url}/ogcapi"))
    titles = {c["id"]: c["title"] for c in
              httpx.get(f"{served.url}/ogcapi/collections").json()["collections"]}
    assert set(layers) == set(titles) == set(served.expected)
    for name, want in served.expected.items():
        info = layers[name]
        assert int(info["Feature Count"]) == want, name
        assert info["Extent"] == "(109.600000, 20.100000) - (117.400000, 25.600000)", name


@pytest.mark.parametrize("collection", ["districts", "parks", "parcels", "offerings", "listings"])
def test_ogr2ogr_reads_every_feature_as_the_api_answers(served, collection):
    """GDAL pages with its own page size (10) through every next link."""
    out = gdal(OGR2OGR, "-f", "GeoJSON", "-preserve_fid", "/vsistdout/",
               f"OAPIF:{served.url}/ogcapi", collection)
    read = json.loads(out)["features"]
    api = api_features(served.url, collection)
    assert len(read) == len(api) == served.expected[collection]

    by_id = {str(f["id"]): f for f in api}
    # Integer ids become GDAL's feature ids; string ids (adcodes) an "id" field.
    got_ids = [str(f["properties"].pop("id", f.get("id"))) for f in read]
    assert sorted(got_ids) == sorted(by_id)
    for got, fid in zip(read, got_ids, strict=True):
        want = by_id[fid]
        props = got["properties"]
        for key, value in want["properties"].items():
            assert as_gdal_reads(value, key) == as_gdal_reads(props[key], key), (fid, key)
        assert set(props) == set(want["properties"])
        gdal_shape = shapely.geometry.shape(got["geometry"])
        api_shape = shapely.geometry.shape(want["geometry"])
        assert gdal_shape.equals_exact(api_shape, 1e-7), fid
