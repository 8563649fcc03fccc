"""A GIS file uploaded over HTTP, up to the import pipeline: the one multipart form every
import route takes (``file``, and ``crs``/``partial``/``repair`` as form fields or query
parameters), and a private copy of the file under a name of our own."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Form, Query, Request, UploadFile

from landsvc.errors import UnsupportedMediaType
from landsvc.ingest.reader import upload_suffix


async def multipart_only(request: Request) -> None:
    """415 unless the request is a multipart form (a JSON body would fail less clearly)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UnsupportedMediaType("请以 multipart/form-data 上传，文件字段名为 file")


@dataclass(frozen=True)
class ImportOptions:
    crs: str | None
    partial: bool
    repair: bool


async def import_options(
    crs: Annotated[str | None, Form(description="文件坐标系，如 EPSG:4526；CSV 缺省 EPSG:4326")]
    = None,
    partial: Annotated[bool | None, Form(description="只导入正确的行，报告其余")] = None,
    repair: Annotated[bool | None, Form(description="用 make_valid 修复无效多边形")] = None,
    crs_q: Annotated[str | None, Query(alias="crs")] = None,
    partial_q: Annotated[bool, Query(alias="partial")] = False,
    repair_q: Annotated[bool, Query(alias="repair")] = False,
) -> ImportOptions:
    """The options of an import, from the form or (where the form is silent) the query."""
    return ImportOptions(crs or crs_q,
                         partial if partial is not None else partial_q,
                         repair if repair is not None else repair_q)


ImportOptionsDep = Annotated[ImportOptions, Depends(import_options)]


@contextmanager
def saved_upload(file: UploadFile) -> Iterator[Path]:
    """The upload copied to a private temporary file, removed afterwards; only the extension
    of the client's file name is used, so the name never becomes a path."""
    suffix = upload_suffix(file.filename)
    with tempfile.TemporaryDirectory(prefix="landsvc-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        yield path
