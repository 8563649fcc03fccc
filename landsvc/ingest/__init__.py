"""The one import pipeline: a safe reader of GIS files and a COPY writer.

Every bulk load (parcels now; parks, rent records later) goes ``reader`` → the domain's own
row checks → ``writer``. Nothing here knows a domain: the domain hands in its
:class:`~landsvc.ingest.reader.Layout` and its table.

This package's ``__init__`` must stay free of imports: :mod:`landsvc` imports
:mod:`landsvc.ingest.gdal_env` before anything loads GDAL.
"""
