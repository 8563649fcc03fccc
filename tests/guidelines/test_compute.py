"""The computation against an independent pandas computation on the same records."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from landsvc.access import Principal
from landsvc.guidelines import service
from landsvc.tokens.models import Role
from tests.builders import BAOAN, FUTIAN, HAIZHU
from tests.guidelines.helpers import group, records

SHENZHEN = Principal(Role.bureau, "4403")
PERIOD_START, PERIOD_END = date(2026, 7, 1), date(2026, 12, 31)  # 2026H2


def _data(rng) -> list[dict]:
    rows = []
    # Futian multi-storey: 40 leases and 3 absurd ones the IQR rule must drop.
    rows += group(rng, 40, district="440304", point=FUTIAN, building_type="multi_storey",
                  centre=60)
    rows += group(rng, 3, district="440304", point=FUTIAN, building_type="multi_storey",
                  centre=400)
    # Futian high-rise: 12 (enough); Bao'an multi-storey: 6 (too few: city fallback).
    rows += group(rng, 12, district="440304", point=FUTIAN, building_type="high_rise",
                  centre=80)
    rows += group(rng, 6, district="440306", point=BAOAN, building_type="multi_storey",
                  centre=30)
    # Bao'an single-storey: 15, of which 5 ended before the period and 2 start after it.
    rows += group(rng, 8, district="440306", point=BAOAN, building_type="single_storey",
                  centre=25)
    rows += group(rng, 5, district="440306", point=BAOAN, building_type="single_storey",
                  centre=25, start=date(2024, 1, 1), end=date(2026, 6, 30))
    rows += group(rng, 2, district="440306", point=BAOAN, building_type="single_storey",
                  centre=25, start=date(2027, 1, 1), end=date(2028, 1, 1))
    # A lease starting on the period's last day counts.
    rows += group(rng, 2, district="440306", point=BAOAN, building_type="single_storey",
                  centre=25, start=PERIOD_END, end=date(2029, 1, 1))
    # Guangzhou: outside the bureau's city, never in its figures.
    rows += group(rng, 30, district="440105", point=HAIZHU, building_type="multi_storey",
                  centre=500)
    return rows


def _stats(frame: pd.DataFrame, factor: float = 1.5) -> pd.DataFrame:
    """Per group: Q1/Q3 by linear interpolation (= percentile_cont), drop outside the
    fences, then quartiles, the area-weighted mean and the count of what is left."""
    out = []
    for key, g in frame.groupby(["key", "building_type"]):
        q1, q3 = np.quantile(g.rent, [0.25, 0.75])
        kept = g[(g.rent >= q1 - factor * (q3 - q1)) & (g.rent <= q3 + factor * (q3 - q1))]
        p25, med, p75 = np.quantile(kept.rent, [0.25, 0.5, 0.75])
        out.append({"key": key[0], "building_type": key[1], "p25": p25, "median": med,
                    "p75": p75, "weighted_mean": (kept.rent * kept.area).sum() / kept.area.sum(),
                    "samples": len(kept), "excluded": len(g) - len(kept)})
    return pd.DataFrame(out).set_index(["key", "building_type"])


@pytest.fixture
def shenzhen_rows(session):
    rows = _data(np.random.default_rng(20261129))
    records(session, rows)
    frame = pd.DataFrame(rows)
    frame["rent"] = frame.rent.round(2)
    frame["area"] = frame.area_m2.round(2)
    frame = frame[(frame.start.fillna(date(2025, 1, 1)) <= PERIOD_END)
                  & (frame.end.fillna(date(2027, 12, 31)) >= PERIOD_START)]
    return frame[frame.district.str.startswith("4403")]


def test_district_figures_match_pandas_with_outliers_and_fallback(session, shenzhen_rows):
    version = service.compute(session=session, period="2026H2", level="district",
                              principal=SHENZHEN)
    assert version["status"] == "draft" and version["period"] == "2026H2"
    assert version["records_considered"] == len(shenzhen_rows)
    by_district = _stats(shenzhen_rows.assign(key=shenzhen_rows.district))
    by_city = _stats(shenzhen_rows.assign(key="4403"))
    items = {(i["district"], i["building_type"]): i for i in version["items"]}

    def expect(district, building_type):
        own = by_district.loc[(district, building_type)] \
            if (district, building_type) in by_district.index else None
        if own is not None and own.samples >= 10:
            return own, "district"
        city = by_city.loc[("4403", building_type)] \
            if ("4403", building_type) in by_city.index else None
        if city is not None and city.samples >= 10:
            return city, "city_fallback"
        return None, None

    districts = {i["district"] for i in version["items"]}
    assert all(d.startswith("4403") for d in districts)
    assert len(districts) == 9  # every Shenzhen district gets at least the city figures
    checked = 0
    for district in districts | {"440304", "440306"}:
        for building_type in ("single_storey", "multi_storey", "high_rise"):
            expected, source = expect(district, building_type)
            item = items.get((district, building_type))
            if expected is None:
                assert item is None, (district, building_type)
                continue
            checked += 1
            assert item["source"] == source, (district, building_type)
            for field in ("median", "p25", "p75", "weighted_mean"):
                assert item[field] == pytest.approx(expected[field], abs=0.0051), field
            assert item["samples"] == expected.samples
            assert item["excluded"] == expected.excluded
    assert checked >= 10
    # The three absurd Futian rents are outliers; Bao'an single-storey counts 10 in force.
    assert items[("440304", "multi_storey")]["excluded"] >= 3
    assert items[("440306", "single_storey")]["source"] == "district"
    assert items[("440306", "single_storey")]["samples"] <= 10
    assert items[("440306", "multi_storey")]["source"] == "city_fallback"
    assert ("440306", "high_rise") in items  # Futian's 12 carry the city


def test_items_in_force_for_the_map(session, shenzhen_rows):
    assert service.items_in_force(session)["version"] is None
    draft = service.compute(session=session, period="2026H2", principal=SHENZHEN)
    assert service.items_in_force(session)["items"] == []  # drafts are not public
    service.publish(session=session, version_id=draft["id"], effective_date=date(2026, 7, 1),
                    principal=SHENZHEN)
    answer = service.items_in_force(session, as_of=date(2026, 8, 1))
    assert answer["version"] == draft["id"] and answer["effective_date"] == "2026-07-01"
    assert answer["period"] == "2026H2" and answer["published_at"]
    assert len(answer["items"]) == len(draft["items"])
    one = service.items_in_force(session, district="440306", building_type="multi_storey",
                                 period="2026H2", as_of=date(2026, 8, 1))
    assert [(i["district"], i["source"]) for i in one["items"]] == [("440306", "city_fallback")]
    assert service.items_in_force(session, as_of=date(2026, 6, 30))["items"] == []
