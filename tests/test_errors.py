"""errors.from_database: every refusal of the database caused by bad input is a 4xx naming
the field — produced here by real statements against PostGIS."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import insert, text, update
from sqlalchemy.exc import DBAPIError

from landsvc.errors import Conflict, InvalidInput, from_database
from landsvc.parcels.models import Parcel
from tests.builders import FUTIAN, square

POLYGON = f"SRID=4326;{shapely.MultiPolygon([square(*FUTIAN)]).wkt}"


def refusal(session, statement, params=None):
    """The mapped error of a statement the database refuses (in a savepoint)."""
    with pytest.raises(DBAPIError) as info, session.begin_nested():
        session.execute(statement, params or {})
    return from_database(info.value)


@pytest.fixture
def stored(session):
    session.execute(insert(Parcel).values(code="ERR-1", geom=POLYGON, district="440304"))
    return session


def test_unique_is_409_naming_the_column_and_value(stored):
    err = refusal(stored, insert(Parcel).values(code="ERR-1", geom=POLYGON, district="440304"))
    assert isinstance(err, Conflict) and err.detail == "code: 值 ERR-1 已存在"


def test_not_null_names_the_column(session):
    err = refusal(session, insert(Parcel).values(code="ERR-2", geom=POLYGON))
    assert isinstance(err, InvalidInput) and err.detail == "district: 不能为空"


def test_check_names_the_field_and_rule(stored):
    err = refusal(stored, update(Parcel).where(Parcel.code == "ERR-1")
                  .values(plot_ratio_min=3, plot_ratio_max=2))
    assert err.code == "check_violation" and err.detail == "plot_ratio_max: 容积率上限不得小于下限"
    err = refusal(stored, update(Parcel).where(Parcel.code == "ERR-1").values(plot_ratio_min=0))
    assert err.detail == "plot_ratio_min: 容积率下限须大于 0"


def test_foreign_key_names_the_column(session):
    err = refusal(session, text(
        "INSERT INTO district_part (adcode, geom) VALUES ('449999', ST_GeometryN(ST_GeomFromEWKT(:g), 1))"),
        {"g": POLYGON})
    assert err.code == "unknown_reference" and err.detail.startswith("adcode: ")
    assert "449999" in err.detail


def test_numeric_overflow_names_the_field(stored):
    err = refusal(stored, update(Parcel).where(Parcel.code == "ERR-1")
                  .values(plot_ratio_max=999.999))
    assert err.code == "out_of_range" and err.detail.startswith("plot_ratio_max: ")


def test_text_too_long_and_nul(stored):
    err = refusal(stored, update(Parcel).where(Parcel.code == "ERR-1").values(code="x" * 65))
    assert isinstance(err, InvalidInput) and err.code == "too_long"
    err = refusal(stored, update(Parcel).where(Parcel.code == "ERR-1").values(name="a\x00b"))
    assert err.code == "nul_character" and err.detail.startswith("name: ")


def test_an_append_only_history_refusing_a_change_is_a_409(session):
    # the statement-level guard refuses even an empty table: no event needs to exist
    err = refusal(session, text("TRUNCATE approval_event"))
    assert isinstance(err, Conflict) and err.code == "immutable_record"
    assert "只能追加" in err.detail


def test_other_database_faults_are_not_input_errors(session):
    with pytest.raises(DBAPIError) as info, session.begin_nested():
        session.execute(text("SELECT * FROM no_such_table"))
    assert from_database(info.value) is None
