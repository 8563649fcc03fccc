"""Bureau console: parcel file upload with its report (the same import as the API's)."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from sqlalchemy import func, select

from landsvc.parcels.models import Parcel
from tests.builders import BAOAN, FUTIAN, HAIZHU, HONG_KONG, bowtie, feature, square, write_geojson
from tests.web.conftest import csrf_of, login

pytestmark = pytest.mark.usefixtures("session")

GEOD = Geod(ellps="WGS84")


def count(session, prefix: str | None = None) -> int:
    q = select(func.count()).select_from(Parcel)
    if prefix:
        q = q.where(Parcel.code.like(f"{prefix}%"))
    return session.scalar(q)


def report_rows(html: str) -> dict[int, str]:
    table = re.search(r'<table id="import-report">(.*?)</table>', html, re.S)
    assert table, "no #import-report table"
    rows = re.findall(r'<tr data-index="(\d+)"[^>]*><td class="num">\d+</td><td>(.*?)</td>'
                      r"<td>(.*?)</td></tr>", table[1])
    return {int(i): reason for i, _code, reason in rows}


def summary(html: str) -> str:
    return re.sub(r"<[^>]+>", "", re.search(r'<p id="import-summary">(.*?)</p>', html, re.S)[1])


def map_rows(html: str) -> dict:
    raw = re.search(r'<script id="import-rows" type="application/json">(.*?)</script>', html,
                    re.S)[1]
    return json.loads(raw)


@pytest.fixture
def bureau(client, web_user):
    name = web_user("bureau", jurisdiction="4403")
    assert login(client, name).status_code == 303
    return client


def upload(client, path, **fields):
    token = csrf_of(client.get("/bureau/parcels/import").text)
    with open(path, "rb") as fh:
        return client.post("/bureau/parcels/import",
                           data={"csrf_token": token, **fields},
                           files={"file": (path.name, fh, "application/geo+json")})


def test_form_contract(bureau):
    page = bureau.get("/bureau/parcels/import")
    assert page.status_code == 200
    html = page.text
    assert ('<form id="parcel-import" class="stack" method="post" '
            'enctype="multipart/form-data" action="/bureau/parcels/import">') in html
    assert 'type="file" name="file" id="f-file"' in html
    for name in ("crs", "partial", "repair", "csrf_token"):
        assert f'name="{name}"' in html


def test_one_bad_row_is_reported_and_nothing_imported(bureau, session, tmp_path):
    path = write_geojson(tmp_path / "p.geojson", [
        feature(square(*FUTIAN), code="WEB-1", name="福田"),
        feature(bowtie(*BAOAN), code="WEB-2"),
        feature(square(*BAOAN), code="WEB-3"),
    ])
    before = count(session)
    answer = upload(bureau, path)
    assert answer.status_code == 422
    rows = report_rows(answer.text)
    assert list(rows) == [1]
    assert rows[1].startswith("几何无效：Self-intersection")
    assert count(session) == before
    text = summary(answer.text)
    assert "导入 0 行" in text and "有误 1 行" in text and "全部或全不" in text
    shown = map_rows(answer.text)
    states = {f["properties"]["index"]: f["properties"]["state"] for f in shown["features"]}
    assert states == {0: "held", 1: "rejected", 2: "held"}


@pytest.mark.parametrize("bad", [bowtie(*BAOAN), square(*HONG_KONG)], ids=["bowtie", "outside"])
def test_reason_is_the_services_own(bureau, session, tmp_path, tokens, bad):
    """The page shows exactly the row and the reason the API gives for the same file."""
    path = write_geojson(tmp_path / "p.geojson", [
        feature(square(*FUTIAN), code="WEB-1"),
        feature(bad, code="WEB-2"),
    ])
    with open(path, "rb") as fh:
        api = bureau.post("/api/v1/parcels/import", headers=tokens["shenzhen"],
                          files={"file": ("p.geojson", fh)})
    assert api.status_code == 422
    expected = {r["index"]: r["reason"] for r in api.json()["report"]["rejected"]}
    assert list(expected) == [1]
    answer = upload(bureau, path)
    assert answer.status_code == 422
    rows = {i: html.unescape(r) for i, r in report_rows(answer.text).items()}
    assert rows == expected
    assert count(session, "WEB-") == 0


def test_partial_imports_the_good_rows(bureau, session, tmp_path):
    path = write_geojson(tmp_path / "p.geojson", [
        feature(square(*FUTIAN), code="WEB-1"),
        feature(bowtie(*BAOAN), code="WEB-2"),
        feature(square(*BAOAN), code="WEB-3"),
    ])
    before = count(session)
    answer = upload(bureau, path, partial="true")
    assert answer.status_code == 200
    assert list(report_rows(answer.text)) == [1]
    assert count(session) == before + 2
    stored = set(session.scalars(select(Parcel.code).where(Parcel.code.like("WEB-%"))))
    assert stored == {"WEB-1", "WEB-3"}
    text = summary(answer.text)
    assert "已导入 2 行" in text and "有误 1 行" in text
    shown = map_rows(answer.text)
    states = {f["properties"]["index"]: f["properties"]["state"] for f in shown["features"]}
    assert states == {0: "imported", 1: "rejected", 2: "imported"}
    # The map shows the rows where they are, in lon/lat.
    first = next(f for f in shown["features"] if f["properties"]["index"] == 0)
    centre = shapely.geometry.shape(first["geometry"]).centroid
    assert abs(centre.x - FUTIAN[0]) < 1e-6 and abs(centre.y - FUTIAN[1]) < 1e-6


def test_file_outside_jurisdiction_is_forbidden(bureau, session, tmp_path):
    path = write_geojson(tmp_path / "p.geojson", [feature(square(*HAIZHU), code="WEB-GZ")])
    before = count(session)
    answer = upload(bureau, path)
    assert answer.status_code == 403
    assert "4403" in answer.text or "辖区" in answer.text
    assert count(session) == before


def test_csrf_missing_is_refused(bureau, session, tmp_path):
    path = write_geojson(tmp_path / "p.geojson", [feature(square(*FUTIAN), code="WEB-1")])
    before = count(session)
    with open(path, "rb") as fh:
        answer = bureau.post("/bureau/parcels/import", files={"file": ("p.geojson", fh)})
    assert answer.status_code == 403
    assert "CSRF" in answer.text
    assert count(session) == before


def test_html_in_a_name_and_code_is_escaped(bureau, session, tmp_path):
    path = write_geojson(tmp_path / "p.geojson", [
        feature(bowtie(*FUTIAN), code="<b>X</b>"),
    ])
    answer = upload(bureau, path)
    assert answer.status_code == 422
    assert "<b>X</b>" not in answer.text
    assert "&lt;b&gt;X&lt;/b&gt;" in answer.text


def test_no_file_or_a_wrong_type_is_shown_next_to_the_file_field(bureau, session, tmp_path):
    token = csrf_of(bureau.get("/bureau/parcels/import").text)
    empty = bureau.post("/bureau/parcels/import", data={"csrf_token": token},
                        files={"file": ("", b"", "application/octet-stream")})
    assert empty.status_code == 422
    assert re.search(r'id="e-file" role="alert">请选择要导入的文件', empty.text)
    wrong = bureau.post("/bureau/parcels/import", data={"csrf_token": token},
                        files={"file": ("parcels.xlsx", b"PK\x03\x04", "application/zip")})
    assert wrong.status_code == 415
    assert re.search(r'id="e-file" role="alert">不支持的文件类型 \.xlsx', wrong.text)


@pytest.mark.parametrize("path", ["/bureau/parcels/import", "/bureau/offerings",
                                  "/bureau/offerings/new", "/bureau/buildings",
                                  "/bureau/buildings/new", "/bureau/listings",
                                  "/bureau/listings/new"])
def test_only_bureaus_and_admins(client, web_user, path):
    anonymous = client.get(path, follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert login(client, web_user("enterprise", enterprise_uscc="91440300MA5FXXXX1X")
                 ).status_code == 303
    assert client.get(path).status_code == 403
    client.cookies.clear()
    assert login(client, web_user("admin")).status_code == 303
    assert client.get(path).status_code == 200


def test_csv_in_a_projected_crs_is_mapped_where_it_lies(bureau, session, tmp_path):
    """A CSV+WKT file in EPSG:4547 with the crs option: imported, and drawn in lon/lat as
    the importer reprojected it (its vertices within a metre of the truth)."""
    truth = [square(*FUTIAN, 150), bowtie(*BAOAN)]
    to_gk = Transformer.from_crs(4326, 4547, always_xy=True)
    projected = [shapely.transform(g, lambda xy: np.column_stack(
        to_gk.transform(xy[:, 0], xy[:, 1]))) for g in truth]
    path = tmp_path / "gk.csv"
    path.write_text("code,name,wkt\n" + "".join(
        f'WEB-GK-{i},样例{i},"{g.wkt}"\n' for i, g in enumerate(projected)), encoding="utf-8")
    token = csrf_of(bureau.get("/bureau/parcels/import").text)
    with open(path, "rb") as fh:
        answer = bureau.post("/bureau/parcels/import",
                             data={"csrf_token": token, "crs": "EPSG:4547", "partial": "true"},
                             files={"file": ("gk.csv", fh, "text/csv")})
    assert answer.status_code == 200
    assert list(report_rows(answer.text)) == [1]
    assert count(session, "WEB-GK-") == 1
    assert "EPSG:4547" in answer.text
    shown = {f["properties"]["index"]: f for f in map_rows(answer.text)["features"]}
    assert {i: f["properties"]["state"] for i, f in shown.items()} == \
        {0: "imported", 1: "rejected"}
    for i, want in enumerate(truth):
        got = shapely.get_coordinates(shapely.geometry.shape(shown[i]["geometry"]))
        _, _, dist = GEOD.inv(got[:, 0], got[:, 1], *shapely.get_coordinates(want).T)
        assert dist.max() < 1.0
