"""landsvc — 广东专精特新企业用地保障平台."""

from landsvc.ingest import gdal_env

gdal_env.apply()  # before anything loads GDAL: see landsvc/ingest/gdal_env.py

__version__ = "0.1.0"
