"""GDAL settings for the whole process, applied before GDAL first loads.

An uploaded file must never make GDAL read anything but itself. GDAL picks a driver by
content, not by name: an OGR VRT saved as ``x.geojson`` would open with the VRT driver and
read whatever file or URL it names. So the drivers whose files point at other data are not
registered at all (``GDAL_SKIP`` is read once, when pyogrio registers the drivers on import:
set later, it has no effect), and GDAL's network file systems refuse every name.
"""

from __future__ import annotations

import os

SKIPPED_DRIVERS = ("VRT", "OGR_VRT", "GTI", "STACIT", "STACTA", "WMS", "WMTS", "WFS", "OAPIF",
                   "OGCAPI", "ESRIC", "PLSCENES", "EEDA", "NGW", "Elasticsearch", "CSW")
"""Drivers that open other files or URLs named inside a file, or reach a network service."""

GDAL_ENV = {
    # /vsicurl/ and every network file system built on it (/vsis3/, /vsigs/, /vsiaz/ …)
    # open only this one name, which no upload can be.
    "CPL_VSIL_CURL_ALLOWED_FILENAME": "/dev/null/landsvc-no-network",
    "CPL_ALLOW_VSISTDIN": "NO",
    "GDAL_ALLOW_REMOTE_RESOURCE_TO_ACCESS_LOCAL_FILE": "NO",
    "OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",  # GeoPackage: no VirtualOGR tables
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    "PROJ_NETWORK": "OFF",  # no grid downloads while reprojecting
}


def apply() -> None:
    """Set the GDAL environment of this process (idempotent)."""
    skipped = set(os.environ.get("GDAL_SKIP", "").split()) | set(SKIPPED_DRIVERS)
    os.environ["GDAL_SKIP"] = " ".join(sorted(skipped))
    os.environ.update(GDAL_ENV)
