"""The listing lifecycle table, without a database."""

import pytest

from landsvc.errors import IllegalTransition
from landsvc.listings.models import ListingStatus as S
from landsvc.listings.service import LISTING_LIFECYCLE


def test_allowed_actions_per_state():
    assert LISTING_LIFECYCLE.allowed(S.draft) == ["publish", "withdraw"]
    assert LISTING_LIFECYCLE.allowed(S.published) == ["let", "withdraw"]
    assert LISTING_LIFECYCLE.allowed(S.let) == []
    assert LISTING_LIFECYCLE.allowed(S.withdrawn) == []


@pytest.mark.parametrize("state, action, target", [
    (S.draft, "publish", S.published), (S.published, "let", S.let),
    (S.draft, "withdraw", S.withdrawn), (S.published, "withdraw", S.withdrawn),
])
def test_moves(state, action, target):
    assert LISTING_LIFECYCLE.target(state, action) is target


@pytest.mark.parametrize("state, action", [
    (S.draft, "let"), (S.published, "publish"), (S.let, "withdraw"), (S.withdrawn, "publish"),
    (S.let, "let"),
])
def test_illegal_moves_name_the_allowed(state, action):
    with pytest.raises(IllegalTransition) as caught:
        LISTING_LIFECYCLE.target(state, action)
    assert caught.value.extra == {"allowed": LISTING_LIFECYCLE.allowed(state)}
    assert state.label in caught.value.detail
