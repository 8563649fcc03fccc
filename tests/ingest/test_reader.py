"""The safe reader: an upload makes the server read nothing but itself; zips are capped;
encodings are decided from the records; names and text are checked."""

from __future__ import annotations

import http.server
import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
import zipfile
from pathlib import Path

import pyogrio
import pytest

from landsvc.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType
from landsvc.ingest import reader
from landsvc.parcels.importing import LAYOUT, import_parcels
from tests.builders import FUTIAN, feature, frame, square, write_geojson, write_zipped_shapefile

NAMES = ["宝安区福永街道工业地块", "龙华区观澜高新园", "坪山区新能源汽车产业园", "东莞松山湖A-3"]


@pytest.fixture
def secret(tmp_path_factory) -> tuple[Path, str]:
    """A local file the server must never read for an upload, holding a unique marker."""
    marker = f"SECRET-{uuid.uuid4().hex}"
    path = tmp_path_factory.mktemp("secret") / "secret.csv"
    path.write_text(f"code,name\n{marker},{marker}\n")
    return path, marker


@pytest.fixture
def http_server():
    """A loopback HTTP server that records every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            body = b"code,wkt\nREMOTE,POINT(114 22.5)\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()


def vrt(source: str) -> bytes:
    return (f'<OGRVRTDataSource><OGRVRTLayer name="p"><SrcDataSource>{source}</SrcDataSource>'
            '</OGRVRTLayer></OGRVRTDataSource>').encode()


def upload(client, name: str, content: bytes, headers):
    return client.post("/api/v1/parcels/import", headers=headers,
                       files={"file": (name, io.BytesIO(content), "application/octet-stream")})


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


# -- nothing but the upload ---------------------------------------------------------------
def test_gdal_cannot_follow_references_in_this_process():
    drivers = pyogrio.list_drivers()
    assert "OGR_VRT" not in drivers and "VRT" not in drivers
    assert "GPKG" in drivers and "GeoJSON" in drivers and "CSV" in drivers


@pytest.mark.parametrize("name", ["x.geojson", "x.json", "x.csv", "x.gpkg", "x.shp"])
def test_vrt_upload_is_refused_and_echoes_nothing(client, tokens, secret, name):
    path, marker = secret
    for source in (f"CSV:{path}", str(path), "/etc/passwd"):
        r = upload(client, name, vrt(source), tokens["admin"])
        assert r.status_code in (415, 422), r.text
        assert marker not in r.text and "root:" not in r.text and str(path) not in r.text
        assert r.json()["code"] in ("malformed_file", "unsupported_media_type")


def test_vrt_inside_a_zip_is_refused(client, tokens, secret):
    path, marker = secret
    for members in ({"p.shp": vrt(f"CSV:{path}"), "p.shx": b"", "p.dbf": b""},
                    {"p.vrt": vrt(f"CSV:{path}")}):
        r = upload(client, "x.zip", zipped(members), tokens["admin"])
        assert r.status_code == 422, r.text
        assert marker not in r.text and r.json()["code"] == "malformed_file"


def test_network_file_systems_are_unreachable(http_server, client, tokens):
    url, hits = http_server
    for target in (f"/vsicurl/{url}/a.csv", f"/vsicurl_streaming/{url}/a.csv",
                   f"/vsizip//vsicurl/{url}/a.zip"):
        with pytest.raises(pyogrio.errors.DataSourceError):
            pyogrio.read_info(target)
        for name in ("x.geojson", "x.csv"):
            r = upload(client, name, vrt(target), tokens["admin"])
            assert r.status_code in (415, 422) and "REMOTE" not in r.text
    assert hits == []


def test_reader_refuses_when_gdal_was_loaded_first(tmp_path):
    """Imported before landsvc, pyogrio registers every driver: the reader then fails closed."""
    path = write_geojson(tmp_path / "p.geojson", [feature(square(*FUTIAN), code="A")])
    script = ("import pyogrio\n"
              "from landsvc.ingest import reader\n"
              "from landsvc.parcels.importing import LAYOUT\n"
              f"with reader.open_source({str(path)!r}, LAYOUT): pass\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={k: v for k, v in os.environ.items() if k != "GDAL_SKIP"},
                            timeout=60)
    assert result.returncode != 0 and "refusing uploads" in result.stderr


@pytest.mark.parametrize("name, content, expected", [
    ("x.geojson", b"SQLite format 3\x00" + bytes(200), "malformed_file"),
    ("x.gpkg", b'{"type": "FeatureCollection", "features": []}', "malformed_file"),
    ("x.gpkg", b"SQLite format 3\x00" + bytes(200), "malformed_file"),  # SQLite, not GPKG
    ("x.csv", b"code,wkt\x00\nA,POINT(1 2)\n", "malformed_file"),
    ("x.zip", b"PK\x05\x06" + bytes(18), "malformed_file"),
    ("x.shp", b"not a shapefile at all", "malformed_file"),
    ("x.kml", b"<kml/>", "unsupported_media_type"),
])
def test_wrong_kind_of_file(client, tokens, name, content, expected):
    r = upload(client, name, content, tokens["admin"])
    assert r.status_code in (415, 422), r.text
    assert r.json()["code"] == expected


def test_a_plain_sqlite_database_named_gpkg(tmp_path):
    import sqlite3

    path = tmp_path / "x.gpkg"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (code TEXT)")
    with pytest.raises(InvalidInput) as info, reader.open_source(path, LAYOUT):
        pass
    assert info.value.code == "malformed_file"


@pytest.mark.parametrize("name", ["", ".", "..", "...", "x.", "..geojson/..", "a\x00.geojson",
                                  "a\x01.csv", "../../etc/passwd", "noextension"])
def test_upload_names_that_are_not_files(client, tokens, name):
    # Built by hand: httpx would percent-encode control characters in the name.
    body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
            + name.encode() + b"\"\r\nContent-Type: application/geo+json\r\n\r\n"
            + json.dumps({"type": "FeatureCollection", "features": []}).encode()
            + b"\r\n--B--\r\n")
    r = client.post("/api/v1/parcels/import", content=body,
                    headers=tokens["admin"] | {"Content-Type": "multipart/form-data; boundary=B"})
    assert r.status_code in (415, 422), (name, r.text)
    assert r.json()["code"] in ("unsupported_media_type", "validation_error")


def test_upload_name_is_never_a_path(client, tokens):
    """Only the extension of the client's name is used: ``../x.geojson`` imports fine."""
    body = json.dumps({"type": "FeatureCollection",
                       "features": [feature(square(*FUTIAN), code="NAME-1")]}).encode()
    r = upload(client, "../../x.geojson", body, tokens["admin"])
    assert r.status_code == 200 and r.json()["imported"] == 1


# -- zips -----------------------------------------------------------------------------------
def shapefile_members(tmp_path: Path, rows: int = 3) -> dict[str, bytes]:
    path = write_zipped_shapefile(
        frame([{"code": f"Z-{i}", "geometry": square(FUTIAN[0] + 0.001 * i, FUTIAN[1])}
               for i in range(rows)]), tmp_path / "z.zip")
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_zip_bomb_is_refused_quickly_in_bounded_memory(tmp_path, monkeypatch, session):
    members = shapefile_members(tmp_path)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if name != "parcels.dbf":
                zf.writestr(name, data)
        with zf.open("parcels.dbf", "w") as out:  # 256 MiB of zeros as the .dbf
            chunk = bytes(1 << 20)
            for _ in range(256):
                out.write(chunk)
    assert bomb.stat().st_size < 2 << 20
    monkeypatch.setattr("landsvc.ingest.reader.get_settings",
                        lambda: type("S", (), {"max_unzipped_mib": 64})())
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(PayloadTooLarge) as info:
        import_parcels(session=session, path=bomb)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert info.value.code == "zip_too_large" and "64 MiB" in info.value.detail
    assert elapsed < 2 and peak < 16 << 20


def test_zip_that_lies_about_its_sizes(tmp_path, session):
    """A member declaring fewer bytes than it inflates to stops at the declared size."""
    members = shapefile_members(tmp_path)
    honest = zipped(members)
    name = b"parcels.dbf"
    real = len(members["parcels.dbf"])
    data = bytearray(honest)
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = 0
        while (at := data.find(signature, at)) >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                struct.pack_into("<L", data, at + size_at, real // 4)
            at += 4
    path = tmp_path / "liar.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(InvalidInput) as info:
        import_parcels(session=session, path=path)
    assert info.value.code == "malformed_file"


def test_zip_with_too_many_members(tmp_path, session):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(reader.MAX_ZIP_MEMBERS + 1):
            zf.writestr(f"f{i}.txt", b"")
    started = time.perf_counter()
    with pytest.raises(InvalidInput) as info:
        import_parcels(session=session, path=path)
    assert info.value.code == "zip_too_many_members"
    assert time.perf_counter() - started < 1


def test_zip_picks_the_polygon_shapefile_among_several(tmp_path, session):
    import shapely

    polygons = shapefile_members(tmp_path)
    points = tmp_path / "pts.zip"
    write_zipped_shapefile(frame([{"code": "P", "geometry": shapely.Point(*FUTIAN)}]), points)
    with zipfile.ZipFile(points) as zf:
        extra = {f"sub/points{Path(n).suffix}": zf.read(n) for n in zf.namelist()}
    path = tmp_path / "both.zip"
    path.write_bytes(zipped(polygons | extra))
    assert import_parcels(session=session, path=path)["imported"] == 3


# -- encodings ------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["UTF-8", "GBK"])
@pytest.mark.parametrize("rows", [1, 500])
def test_shapefile_without_cpg_reads_correctly(session, tmp_path, encoding, rows):
    records = [{"code": f"E-{i}", "name": NAMES[i % len(NAMES)],
                "geometry": square(FUTIAN[0] + 0.0005 * (i % 40), FUTIAN[1] + 0.0005 * (i // 40),
                                   30)}
               for i in range(rows)]
    path = write_zipped_shapefile(frame(records), tmp_path / "e.zip", encoding=encoding,
                                  keep_cpg=False)
    with zipfile.ZipFile(path) as zf:
        assert not any(n.endswith(".cpg") for n in zf.namelist())
    report = import_parcels(session=session, path=path)
    assert report["imported"] == rows, report
    from sqlalchemy import text

    stored = dict(session.execute(text(
        "SELECT code, name FROM parcel WHERE code LIKE 'E-%'")).all())
    assert stored == {r["code"]: r["name"] for r in records}


def test_language_driver_byte_wins(session, tmp_path):
    """A GBK .dbf without .cpg but with LDID 0x4D (code page 936) is read as GBK by GDAL."""
    records = [{"code": "L-1", "name": "佛山市顺德区", "geometry": square(*FUTIAN)}]
    path = write_zipped_shapefile(frame(records), tmp_path / "l.zip", encoding="GBK",
                                  keep_cpg=False)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    dbf = bytearray(members["parcels.dbf"])
    dbf[29] = 0x4D
    members["parcels.dbf"] = bytes(dbf)
    path.write_bytes(zipped(members))
    work = tmp_path / "unpacked"
    work.mkdir()
    shp = reader._unpack_shapefile(path, LAYOUT, work)
    assert reader.shapefile_encoding(shp) is None  # left to GDAL
    import_parcels(session=session, path=path)
    from sqlalchemy import text

    assert session.scalar(text("SELECT name FROM parcel WHERE code = 'L-1'")) == "佛山市顺德区"


def test_encoding_is_read_from_text_fields_not_the_header(tmp_path):
    """Header and numeric fields hold bytes ≥ 0x80 that are no UTF-8; only text decides."""
    records = [{"code": f"H-{i}", "name": "中山市", "plot_ratio_min": 1.5,
                "geometry": square(*FUTIAN)} for i in range(200)]
    path = write_zipped_shapefile(frame(records), tmp_path / "h.zip", keep_cpg=False)
    work = tmp_path / "unpacked"
    work.mkdir()
    shp = reader._unpack_shapefile(path, LAYOUT, work)
    header = shp.with_suffix(".dbf").read_bytes()[:32]
    assert header[4] == 200  # the record count: 0xC8, no UTF-8 on its own
    with pytest.raises(UnicodeDecodeError):
        header.decode("utf-8")
    assert reader.shapefile_encoding(shp) == "UTF-8"


def test_gbk_csv_from_excel(session, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(("宗地代码,地块名称,wkt\n"
                      f"X-1,{NAMES[0]},\"{square(*FUTIAN).wkt}\"\n").encode("gbk"))
    assert import_parcels(session=session, path=path)["imported"] == 1
    from sqlalchemy import text

    assert session.scalar(text("SELECT name FROM parcel WHERE code = 'X-1'")) == NAMES[0]


# -- NUL characters -------------------------------------------------------------------------
def test_nul_in_an_uploaded_geojson_is_refused(session, tmp_path):
    """GDAL would cut the text at the NUL without a word: the file is refused instead."""
    path = write_geojson(tmp_path / "n.geojson", [
        feature(square(*FUTIAN), code="N-1", name="ok"),
        feature(square(FUTIAN[0] + 0.01, FUTIAN[1]), code="N-2", land_use="工业\u0000用地"),
    ])
    with pytest.raises(InvalidInput) as info:
        import_parcels(session=session, path=path)
    assert info.value.code == "nul_character" and "NUL" in info.value.detail


def test_nul_in_checked_rows_names_the_field(session):
    import numpy as np
    from pyproj import CRS

    from landsvc.districts.service import district_index
    from landsvc.parcels.checks import FIELDS, RowChecker

    attrs = reader.text_frame([{"code": "N-3"}, {"code": "N-4", "name": "a\x00b"}], FIELDS)
    geoms = np.array([square(*FUTIAN), square(*FUTIAN)], dtype=object)
    batch = RowChecker(district_index(session=session), CRS.from_epsg(4326)).check(0, geoms, attrs)
    assert list(batch.rejected) == [1] and "name: 不能含有 NUL" in batch.rejected[1][0]
    assert list(batch.rows.code) == ["N-3"]


def test_nul_in_api_text_is_422_naming_the_field(client, tokens):
    r = client.post("/api/v1/parcels", headers=tokens["admin"],
                    json=feature(square(*FUTIAN), code="N-3", name="a\u0000b"))
    assert r.status_code == 422 and "name" in r.json()["detail"]
    r = client.get("/api/v1/parcels?district=44%00")
    assert r.status_code == 422 and r.json()["detail"].startswith("district: ")
    r = client.get("/api/v1/districts/4403%0000")
    assert r.status_code == 422 and r.json()["detail"].startswith("adcode: ")


def test_unsupported_suffix_in_the_reader_itself(tmp_path):
    path = tmp_path / "x.kml"
    path.write_text("<kml/>")
    with pytest.raises(UnsupportedMediaType), reader.open_source(path, LAYOUT):
        pass
