"""The lifecycle table machinery, without a database."""

import pytest

from landsvc.db import LabelledEnum
from landsvc.errors import IllegalTransition
from landsvc.lifecycle import Lifecycle, move


class Light(LabelledEnum):
    red = "red", "红灯"
    green = "green", "绿灯"
    off = "off", "关闭"


LIGHT = Lifecycle("信号灯", {
    "go": move({Light.red}, Light.green),
    "stop": move({Light.green}, Light.red),
    "switch_off": move({Light.red, Light.green}, Light.off),
})


def test_allowed_actions_follow_the_table_order():
    assert LIGHT.allowed(Light.red) == ["go", "switch_off"]
    assert LIGHT.allowed(Light.green) == ["stop", "switch_off"]
    assert LIGHT.allowed(Light.off) == []


def test_target_of_an_allowed_action():
    assert LIGHT.target(Light.red, "go") is Light.green
    assert LIGHT.target(Light.green, "switch_off") is Light.off


@pytest.mark.parametrize(("state", "action"), [(Light.red, "stop"), (Light.off, "go"),
                                               (Light.red, "fly")])
def test_an_illegal_action_names_the_allowed_ones(state, action):
    with pytest.raises(IllegalTransition) as caught:
        LIGHT.target(state, action)
    assert caught.value.code == "illegal_transition"
    assert caught.value.extra == {"allowed": LIGHT.allowed(state)}
    assert state.label in caught.value.detail and action in caught.value.detail
