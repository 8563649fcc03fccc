"""Mapbox vector tiles from PostGIS: ``/tiles/{layer}/{z}/{x}/{y}.pbf`` (docs/maps.md)."""
