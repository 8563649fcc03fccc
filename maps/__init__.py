"""Map pages: GeoJSON Features / GeoDataFrames in, self-contained folium pages out.

Nothing here touches the database: the web routes call the services and hand their results
to these functions. Pages link Leaflet from our own server (see :mod:`maps.assets`), never
from a public CDN.
"""

from __future__ import annotations

import folium

from maps.assets import ASSETS_DIR, ASSETS_URL, OfflineMap, missing_assets
from maps.layers import DistrictBase, district_base
from maps.parcels import STATUS_COLOURS, parcels_map

__all__ = [
    "ASSETS_DIR",
    "ASSETS_URL",
    "DistrictBase",
    "OfflineMap",
    "STATUS_COLOURS",
    "district_base",
    "missing_assets",
    "parcels_map",
    "render",
]


def render(m: folium.Map) -> str:
    """The complete HTML page of a map.

    Parameters
    ----------
    m : folium.Map

    Returns
    -------
    str
        A standalone HTML document.
    """
    return m.get_root().render()
