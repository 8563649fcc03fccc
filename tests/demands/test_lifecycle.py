"""The demand lifecycle as a pure table."""

import pytest

from landsvc.demands.models import DemandStatus as S
from landsvc.demands.service import LIFECYCLE
from landsvc.errors import IllegalTransition


def test_open_and_matched_demands_may_be_withdrawn_or_fulfilled():
    for state in (S.open, S.matched):
        assert LIFECYCLE.allowed(state) == ["withdraw", "fulfil"]
        assert LIFECYCLE.target(state, "withdraw") is S.withdrawn
        assert LIFECYCLE.target(state, "fulfil") is S.fulfilled


@pytest.mark.parametrize("state", [S.withdrawn, S.fulfilled])
def test_closed_demands_are_final(state):
    assert LIFECYCLE.allowed(state) == []
    with pytest.raises(IllegalTransition):
        LIFECYCLE.target(state, "withdraw")
