"""The offering lifecycle and the parcel status it drives, as pure tables (no database)."""

from __future__ import annotations

import pytest

from landsvc.errors import IllegalTransition
from landsvc.offerings.models import LIVE_STATUSES, PUBLIC_STATUSES, OfferingStatus, SupplyMode
from landsvc.offerings.service import LIFECYCLE, parcel_status_after
from landsvc.parcels.models import ParcelStatus

S = OfferingStatus
P = ParcelStatus

ALLOWED = {
    S.draft: ["publish", "cancel"],
    S.published: ["close", "cancel"],
    S.closed: ["award", "fail", "cancel"],
    S.awarded: [],
    S.failed: [],
    S.cancelled: [],
}

TARGETS = {
    (S.draft, "publish"): S.published,
    (S.draft, "cancel"): S.cancelled,
    (S.published, "close"): S.closed,
    (S.published, "cancel"): S.cancelled,
    (S.closed, "award"): S.awarded,
    (S.closed, "fail"): S.failed,
    (S.closed, "cancel"): S.cancelled,
}


@pytest.mark.parametrize("state", list(S), ids=str)
def test_allowed_actions_of_every_state(state):
    assert LIFECYCLE.allowed(state) == ALLOWED[state]


@pytest.mark.parametrize(("state", "action"), list(TARGETS), ids=str)
def test_every_allowed_step_and_where_it_leads(state, action):
    assert LIFECYCLE.target(state, action) is TARGETS[(state, action)]


ILLEGAL = [(state, action) for state in S
           for action in ("publish", "close", "award", "fail", "cancel")
           if (state, action) not in TARGETS]


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=str)
def test_every_other_step_is_refused_naming_the_allowed(state, action):
    with pytest.raises(IllegalTransition) as caught:
        LIFECYCLE.target(state, action)
    assert caught.value.code == "illegal_transition"
    assert caught.value.extra == {"allowed": ALLOWED[state]}
    assert state.label in caught.value.detail and action in caught.value.detail


def test_live_and_public_states():
    assert set(LIVE_STATUSES) == {S.draft, S.published, S.closed}
    assert set(PUBLIC_STATUSES) == {S.published, S.closed, S.awarded}
    # the live states are exactly those from which an offering can still be cancelled
    assert {s for s in S if "cancel" in LIFECYCLE.allowed(s)} == set(LIVE_STATUSES)


@pytest.mark.parametrize("before", [P.available, P.reserved], ids=str)
@pytest.mark.parametrize("mode", list(SupplyMode), ids=str)
def test_the_parcel_follows(mode, before):
    awarded = P.leased if mode in (SupplyMode.lease, SupplyMode.lease_then_transfer) \
        else P.transferred
    assert parcel_status_after("publish", mode, before) is P.offered
    assert parcel_status_after("close", mode, before) is None  # stays offered
    assert parcel_status_after("award", mode, before) is awarded
    assert parcel_status_after("fail", mode, before) is before
    assert parcel_status_after("cancel", mode, before) is before
