"""The one access policy: roles, jurisdictions (adcode prefixes), owners, published rows."""

from __future__ import annotations

import pytest
from sqlalchemy import column, select, text

from landsvc import access
from landsvc.access import Principal
from landsvc.errors import Forbidden, NotAuthenticated
from landsvc.tokens.models import Role

ADMIN = Principal(Role.admin)
SHENZHEN = Principal(Role.bureau, "4403")
BAOAN = Principal(Role.bureau, "440306")
PROVINCE = Principal(Role.bureau, "44")
ACME = Principal(Role.enterprise, enterprise_uscc="91440300MA5FXXXX1X")
OTHER = Principal(Role.enterprise, enterprise_uscc="91440101MA5YYYYY2Y")


def test_covers_by_prefix():
    assert access.covers(SHENZHEN, "440306") and access.covers(PROVINCE, "441900")
    assert not access.covers(SHENZHEN, "440105") and not access.covers(BAOAN, "440304")
    assert access.covers(ADMIN, "440105")
    assert not access.covers(ACME, "440306") and not access.covers(None, "440306")


def test_require_manage():
    access.require_manage(SHENZHEN, ["440304", "440306", None])
    access.require_manage(ADMIN, ["445302"])
    with pytest.raises(Forbidden) as info:
        access.require_manage(BAOAN, ["440306", "440304"])
    assert info.value.code == "outside_jurisdiction" and "440304" in info.value.detail
    with pytest.raises(Forbidden):
        access.require_manage(ACME, ["440306"])
    with pytest.raises(NotAuthenticated):
        access.require_manage(None, ["440306"])


def test_require_owner():
    access.require_owner(ACME, ACME.enterprise_uscc)
    access.require_owner(SHENZHEN, ACME.enterprise_uscc, district="440306")
    access.require_owner(ADMIN, ACME.enterprise_uscc)
    for caller, district in ((OTHER, None), (SHENZHEN, "440105"), (SHENZHEN, None)):
        with pytest.raises(Forbidden):
            access.require_owner(caller, ACME.enterprise_uscc, district=district)
    with pytest.raises(NotAuthenticated):
        access.require_owner(None, ACME.enterprise_uscc)


def test_read_filter_against_rows(session):
    """Which of five rows each caller reads (a published flag, a district, an owner)."""
    values = ("(VALUES (1, true, '440304', NULL), (2, false, '440306', NULL),"
              " (3, false, '440105', NULL), (4, false, '440304', '91440300MA5FXXXX1X'),"
              " (5, false, '440304', '91440101MA5YYYYY2Y')) AS t(id, published, district, owner)")
    def seen(principal) -> set[int]:
        clause = access.read_filter(principal, public=column("published"),
                                    district=column("district"), owner=column("owner"))
        query = select(column("id")).select_from(text(values)).where(clause)
        return set(session.scalars(query))

    assert seen(None) == {1}
    assert seen(ACME) == {1, 4} and seen(OTHER) == {1, 5}
    assert seen(SHENZHEN) == {1, 2, 4, 5} and seen(BAOAN) == {1, 2}
    assert seen(ADMIN) == {1, 2, 3, 4, 5}
    everything = access.read_filter(None)  # a domain whose rows are all public
    assert set(session.scalars(select(column("id")).select_from(text(values))
                               .where(everything))) == {1, 2, 3, 4, 5}
