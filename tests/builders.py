"""Tiny builders for test geometries and files."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import geopandas as gpd
import shapely

# Points well inside known districts (WGS-84).
FUTIAN = (114.0596, 22.5429)       # 深圳市民中心, 440304
BAOAN = (113.8107, 22.6395)        # 宝安国际机场, 440306
HAIZHU = (113.3245, 23.1064)       # 广州塔, 440105
DONGGUAN = (113.7518, 23.0205)     # 东莞市政府, 441900
ZHONGSHAN = (113.3926, 22.5176)    # 中山市, 442000
HONG_KONG = (114.1694, 22.3193)    # outside Guangdong
BEIJING = (116.4074, 39.9042)


def square(lon: float, lat: float, side_m: float = 100.0) -> shapely.Polygon:
    """A square of about ``side_m`` metres centred on lon/lat."""
    dlat = side_m / 2 / 111_320
    dlon = side_m / 2 / (111_320 * math.cos(math.radians(lat)))
    return shapely.box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def bowtie(lon: float, lat: float, size: float = 0.001) -> shapely.Polygon:
    """A self-intersecting polygon (invalid: 'Self-intersection')."""
    return shapely.Polygon([(lon, lat), (lon + size, lat + size), (lon + size, lat),
                            (lon, lat + size), (lon, lat)])


def feature(geom, **props) -> dict:
    return {"type": "Feature", "geometry": shapely.geometry.mapping(geom), "properties": props}


def frame(rows: list[dict], crs="EPSG:4326") -> gpd.GeoDataFrame:
    """rows: dicts with a ``geometry`` key and attributes."""
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def write_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), encoding="utf-8")
    return path


def write_zipped_shapefile(gdf: gpd.GeoDataFrame, path: Path, *, encoding: str = "UTF-8",
                           keep_cpg: bool = True) -> Path:
    folder = path.with_suffix("")
    folder.mkdir()
    gdf.to_file(folder / "parcels.shp", encoding=encoding)
    with zipfile.ZipFile(path, "w") as zf:
        for part in folder.iterdir():
            if part.suffix == ".cpg" and not keep_cpg:
                continue
            zf.write(part, part.name)
    return path
