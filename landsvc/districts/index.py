"""Which district a geometry lies in, answered in memory for whole batches at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

NEAR_COAST_DEGREES = 0.02
"""A geometry touching no district but this close to one (≈2 km) is taken as coastal land
(reclamation, a simplified shoreline) and given the nearest district."""


class DistrictIndex:
    """Assigns each geometry the district it overlaps most.

    Parameters
    ----------
    adcodes, polygons : arrays
        The county-level districts.
    part_adcodes, parts : arrays
        The same districts cut into small pieces (``ST_Subdivide``), so that the few
        geometries crossing a border get exact overlap areas cheaply.
    """

    def __init__(self, adcodes, polygons, part_adcodes, parts):
        self.adcodes = np.asarray(adcodes, dtype=object)
        self.polygons = np.asarray(polygons)
        shapely.prepare(self.polygons)
        self.by_adcode = dict(zip(self.adcodes, self.polygons, strict=True))
        self.part_adcodes = np.asarray(part_adcodes, dtype=object)
        self.parts = np.asarray(parts)
        self.part_tree = shapely.STRtree(self.parts)

    def assign(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per geometry: the adcode (None outside Guangdong), and whether it was only near."""
        result = np.full(len(geoms), None, dtype=object)
        near = np.zeros(len(geoms), dtype=bool)
        if not len(geoms):
            return result, near
        # Most geometries lie wholly inside one district: prepared containment settles them.
        district_idx, geom_idx = shapely.STRtree(geoms).query(self.polygons, predicate="contains")
        result[geom_idx] = self.adcodes[district_idx]
        rest = np.flatnonzero(pd.isna(result))
        if rest.size:
            g, p = self.part_tree.query(geoms[rest], predicate="intersects")
            overlap = pd.DataFrame({
                "row": rest[g],
                "adcode": self.part_adcodes[p],
                "area": shapely.area(shapely.intersection(geoms[rest[g]], self.parts[p])),
            })
            overlap = overlap[overlap.area > 0].groupby(["row", "adcode"], as_index=False).area.sum()
            best = overlap.sort_values(["row", "area", "adcode"], ascending=[True, False, True])
            best = best.drop_duplicates("row")
            result[best.row.to_numpy()] = best.adcode.to_numpy()
        rest = np.flatnonzero(pd.isna(result))
        if rest.size:
            g, p = self.part_tree.query_nearest(geoms[rest], max_distance=NEAR_COAST_DEGREES,
                                                all_matches=False)
            result[rest[g]] = self.part_adcodes[p]
            near[rest[g]] = True
        return result, near

    def touches(self, geoms: np.ndarray, adcodes: np.ndarray) -> np.ndarray:
        """Whether each geometry overlaps (or is near) the district named beside it."""
        polygons = np.array([self.by_adcode[a] for a in adcodes], dtype=object)
        return shapely.dwithin(geoms, polygons, NEAR_COAST_DEGREES)
