"""The bureau console's supply side: parcel files in (with their report and a map),
offerings, buildings and listings through their lifecycles.

Every page calls the service the API route calls, with the signed-in bureau's principal;
a bureau acting outside its jurisdiction gets the service's 403, and nothing is written.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from fastapi import APIRouter, Request
from shapely.geometry import mapping
from starlette.datastructures import FormData, UploadFile

from landsvc.db import SessionDep
from landsvc.districts.service import district_index
from landsvc.errors import Forbidden, ImportRejected, LandsvcError, status_of
from landsvc.ingest import reader
from landsvc.ingest.upload import saved_upload
from landsvc.parcels import importing
from landsvc.parcels.checks import RowChecker
from landsvc.web import forms
from landsvc.web.security import BureauUser, CsrfForm
from landsvc.web.templating import render

router = APIRouter(include_in_schema=False)

SECTION = "bureau"

MAP_ROWS = 2000
"""At most this many rows of an uploaded file are drawn on the report's map."""


# -- parcel import -------------------------------------------------------------------------
@router.get("/parcels/import")
def import_form(request: Request, user: BureauUser):
    return render(request, "bureau/parcel_import.html",
                  {"section": SECTION, "values": {}, "errors": {}})


@router.post("/parcels/import")
def import_upload(request: Request, session: SessionDep, user: BureauUser, form: CsrfForm):
    """The same import as ``POST /api/v1/parcels/import``, answered with its report as a page."""
    values = {"crs": forms.text(form, "crs"), "partial": _checked(form, "partial"),
              "repair": _checked(form, "repair")}
    context: dict[str, Any] = {"section": SECTION, "values": values, "errors": {}}
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        context["errors"] = {"file": "请选择要导入的文件"}
        return render(request, "bureau/parcel_import.html", context, status_code=422)
    context["filename"] = upload.filename
    status = 200
    with saved_upload(upload) as path:
        # A savepoint of our own: a refused file leaves nothing behind, though the page
        # itself answers normally (and the request's session then commits).
        attempt = session.begin_nested()
        try:
            report = importing.import_parcels(
                session=session, path=path, crs=values["crs"], partial=values["partial"],
                repair=values["repair"], principal=user.principal)
            attempt.commit()
        except ImportRejected as exc:
            attempt.rollback()
            report, status = exc.extra["report"], 422
            context["rejected_whole"] = exc.detail
        except LandsvcError as exc:
            attempt.rollback()
            # Refusals of the file (type, content, size, CRS) belong next to the file
            # field; the rest (outside the jurisdiction: 403) above the form.
            context["errors"] = ({"_": exc.detail} if isinstance(exc, Forbidden)
                                 else {"file": exc.detail})
            return render(request, "bureau/parcel_import.html", context,
                          status_code=status_of(exc))
        context["report"] = report
        context["rows"] = _row_map(session, path, values["crs"], report)
    return render(request, "bureau/parcel_import.html", context, status_code=status)


def _checked(form: FormData, name: str) -> bool:
    return forms.text(form, name) in ("true", "on", "1")


def _row_map(session, path, crs: str | None, report: dict) -> dict:
    """The file's rows as GeoJSON (EPSG:4326) for the map: read again with the importer's
    own reader and reprojected by the importer's own checker, each row marked imported,
    rejected or (all-or-nothing refused) correct but not imported."""
    rejected = {r["index"]: r["reason"] for r in report["rejected"]}
    whole = report["imported"] > 0 or not rejected
    features: list[dict] = []
    unlocated: list[int] = []
    try:
        with reader.open_source(path, importing.LAYOUT, crs) as source:
            checker = RowChecker(district_index(session=session), source.crs)
            code_column = next((k for k, v in source.columns.items() if v == "code"), None)
            for first, geoms, attrs in reader.iter_batches(source):
                if first >= MAP_ROWS:
                    break
                geoms = np.asarray(geoms, dtype=object)[:MAP_ROWS - first]
                ok = ~np.array([g is None for g in geoms], dtype=bool)
                ok[ok] = ~shapely.is_empty(geoms[ok])
                drawn = np.full(len(geoms), None, dtype=object)
                if ok.any():
                    drawn[ok] = checker._to_wgs84(shapely.force_2d(geoms[ok]))
                codes = attrs["code"] if code_column else None
                for j, geom in enumerate(drawn):
                    index = first + j
                    if geom is None:
                        if index in rejected:
                            unlocated.append(index)
                        continue
                    state = ("rejected" if index in rejected
                             else "imported" if whole else "held")
                    features.append({
                        "type": "Feature",
                        "geometry": mapping(geom),
                        "properties": {"index": index, "state": state,
                                       "code": None if codes is None else codes.iat[j],
                                       "reason": rejected.get(index)}})
    except LandsvcError:
        return {"features": [], "unlocated": sorted(rejected), "truncated": False}
    return {"features": features, "unlocated": unlocated,
            "truncated": report["features"] > MAP_ROWS}
