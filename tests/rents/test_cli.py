"""``landsvc rents import FILE [--partial]``: exit codes, the report on stdout, all-or-nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tests.rents.util import lease, write_csv
from tests.test_cli import landsvc


@pytest.fixture
def committed(engine, database_url):
    """Counts committed rent records with a contract prefix; removes the test's rows after."""
    def count(prefix: str) -> int:
        with engine.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM rent_record WHERE contract_no LIKE :p"),
                               {"p": prefix + "%"})

    yield count
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rent_record WHERE contract_no LIKE 'CLI-R-%'"))


def test_exit_codes_and_all_or_nothing(committed, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", [lease("CLI-R-1"), lease("CLI-R-2", area_m2=-1)])
    result = landsvc("rents", "import", str(bad))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [r["index"] for r in report["rejected"]] == [1]
    assert "area_m2" in report["rejected"][0]["reason"] and "整个文件未导入" in result.stderr
    assert committed("CLI-R-") == 0

    result = landsvc("rents", "import", str(bad), "--partial")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 1 and committed("CLI-R-") == 1

    good = write_csv(tmp_path / "good.csv", [lease("CLI-R-3"), lease("CLI-R-4")])
    result = landsvc("rents", "import", str(good))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["imported"] == 2 and committed("CLI-R-") == 3


def test_usage_errors(tmp_path):
    missing = landsvc("rents", "import", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "文件不存在" in missing.stderr
    other = tmp_path / "r.geojson"
    other.write_text("{}")
    result = landsvc("rents", "import", str(other))
    assert result.returncode == 1 and "CSV" in result.stderr
