"""Per-jurisdiction rules: the most specific setting wins, and the ``landsvc policy`` commands
(list, set, unset, show) with their exit codes, acting on the committed database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

import landsvc.buildings.rules  # noqa: F401  (registers split_transfer)
from landsvc.errors import InvalidInput, NotFound
from landsvc.offerings.rules import DEFAULTS, OfferingRules
from landsvc.policies.service import effective, known_settings, set_setting, unset_setting
from tests.builders import FUTIAN, HAIZHU, feature, square
from tests.offerings.test_rules import VALID


# -- the service --------------------------------------------------------------------------
def test_the_most_specific_scope_wins(session):
    assert effective(session, "offerings", "440105") == DEFAULTS
    set_setting(session, "44", "offerings.lease_max_years", "18")
    set_setting(session, "440100", "offerings.lease_max_years", 15, note="穗规划资源规字〔2024〕2号")
    set_setting(session, "440105", "offerings.rent_floor_percent", "2.5")
    haizhu = effective(session, "offerings", "440105")
    assert isinstance(haizhu, OfferingRules)
    assert (haizhu.lease_max_years, haizhu.rent_floor_percent) == (15, 2.5)
    assert effective(session, "offerings", "440106").rent_floor_percent == 2.0
    assert effective(session, "offerings", "440304").lease_max_years == 18
    assert effective(session, "offerings", "440304").flexible_max_years == 49
    unset_setting(session, "4401", "offerings.lease_max_years")
    assert effective(session, "offerings", "440105").lease_max_years == 18
    with pytest.raises(NotFound):
        unset_setting(session, "4401", "offerings.lease_max_years")


@pytest.mark.parametrize(("scope", "name", "value", "code"), [
    ("4401", "offerings.lease_maximum", 15, "unknown_setting"),
    ("4401", "lease_max_years", 15, "unknown_setting"),
    ("4401", "offerings.lease_max_years", "fifteen", "invalid_setting"),
    ("4401", "offerings.lease_max_years", "15.5", "invalid_setting"),
    ("4401", "offerings.lease_max_years", -1, "invalid_setting"),
    ("4401", "offerings.rent_credited_default", "perhaps", "invalid_setting"),
    ("44011", "offerings.lease_max_years", 15, "invalid_input"),
    ("guangzhou", "offerings.lease_max_years", 15, "invalid_input"),
])
def test_bad_settings_are_refused(session, scope, name, value, code):
    with pytest.raises(InvalidInput) as caught:
        set_setting(session, scope, name, value)
    assert caught.value.code == code


def test_every_offering_limit_is_a_setting():
    names = {n for n in known_settings() if n.startswith("offerings.")}
    assert "offerings.lease_max_years" in names and "offerings.rent_floor_percent" in names
    assert len(names) == len(OfferingRules.__dataclass_fields__)


# -- the CLI ------------------------------------------------------------------------------
def landsvc(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "landsvc.cli", "policy", *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)


@pytest.fixture
def committed(engine, database_url):
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM policy_setting WHERE scope IN ('4401', '4405', '440507')"))


def show(district: str) -> dict[str, dict]:
    result = landsvc("show", "--district", district, "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)["rules"]}


def test_set_show_list_unset(committed):
    result = landsvc("set", "4405", "offerings.lease_max_years", "15", "--note", "汕头试行")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "4405 offerings.lease_max_years = 15（缺省 20）\n"
    assert landsvc("set", "440507", "offerings.rent_floor_percent", "2.5").returncode == 0

    rules = show("440507")  # 汕头市澄海区
    assert rules["offerings.lease_max_years"] == {
        "name": "offerings.lease_max_years", "value": 15, "default": 20, "source": "4405"}
    assert rules["offerings.rent_floor_percent"]["value"] == 2.5
    assert rules["offerings.rent_floor_percent"]["source"] == "440507"
    assert rules["offerings.flexible_max_years"] == {
        "name": "offerings.flexible_max_years", "value": 49, "default": 49, "source": "default"}
    assert rules["split_transfer.holder_min_share_percent"]["value"] == 40.0
    city = show("440500")
    assert city["offerings.lease_max_years"]["value"] == 15
    assert city["offerings.rent_floor_percent"]["source"] == "default"
    assert show("4401")["offerings.lease_max_years"]["source"] == "default"

    table = landsvc("show", "--district", "440507")
    assert table.returncode == 0 and "440507 的设置" in table.stdout and "4405 的设置" in table.stdout

    listed = landsvc("list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["offerings.lease_max_years"] == {
        "name": "offerings.lease_max_years", "default": 20,
        "settings": [{"scope": "4405", "value": 15, "note": "汕头试行"}]}
    assert rows["offerings.industrial_max_years"]["settings"] == []
    assert "offerings.lease_max_years" in landsvc("list").stdout

    result = landsvc("unset", "4405", "offerings.lease_max_years")
    assert result.returncode == 0, result.stderr
    assert show("440507")["offerings.lease_max_years"]["value"] == 20
    again = landsvc("unset", "4405", "offerings.lease_max_years")
    assert again.returncode == 1 and again.stdout == "" and "未设置" in again.stderr


@pytest.mark.parametrize(("args", "word"), [
    (["set", "4405", "offerings.lease_maximum", "15"], "lease_max_years"),
    (["set", "4405", "offerings.lease_max_years", "fifteen"], "int"),
    (["set", "4499", "offerings.lease_max_years", "15"], "4499"),
    (["set", "45", "offerings.lease_max_years", "15"], "45"),
    (["set", "4405", "offerings.lease_max_years"], "VALUE"),
    (["unset", "4405", "offerings.nothing"], "offerings.nothing"),
    (["show", "--district", "12345"], "--district"),
    (["show", "--district", "440599"], "440599"),
    (["show"], "--district"),
])
def test_usage_errors_exit_2(committed, args, word):
    result = landsvc(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and word in result.stderr


def test_a_limit_set_at_the_command_line_binds_the_api(committed, client, tokens):
    assert landsvc("set", "4401", "offerings.lease_max_years", "15").returncode == 0
    made = []
    for i, where in enumerate((HAIZHU, FUTIAN)):
        r = client.post("/api/v1/parcels", json=feature(square(*where), code=f"POL-{i}"),
                        headers=tokens["admin"])
        made.append(r.json()["id"])
    body = {"supply_mode": "lease"} | VALID["lease"] | {"term_years": 16}
    r = client.post("/api/v1/offerings", json=body | {"parcel_id": made[0]},
                    headers=tokens["admin"])
    assert r.status_code == 422 and r.json()["code"] == "lease_term_out_of_range"
    assert "5–15 年" in r.json()["detail"]
    r = client.post("/api/v1/offerings", json=body | {"parcel_id": made[1]},
                    headers=tokens["admin"])
    assert r.status_code == 201, r.text
