"""api.waits.Slots: long polls bounded per token and per process; a freed slot is free again."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import Throttled

from configurations.api.waits import RETRY_AFTER, Slots


def test_a_token_gets_its_slots_and_no_more(settings):
    settings.CONFIG_API_MAX_WAITS_PER_TOKEN, settings.CONFIG_API_MAX_WAITS = 2, 10
    slots = Slots()
    with slots.held(1), slots.held(1):
        with pytest.raises(Throttled) as refused, slots.held(1):
            pass
        assert refused.value.wait == RETRY_AFTER
        with slots.held(2):  # another token is not held back
            assert slots.total == 3
    assert slots.total == 0 and not +slots.by_token


def test_the_process_bound_holds_across_tokens(settings):
    settings.CONFIG_API_MAX_WAITS_PER_TOKEN, settings.CONFIG_API_MAX_WAITS = 5, 2
    slots = Slots()
    with slots.held(1), slots.held(2), pytest.raises(Throttled, match="no thread to spare"), slots.held(3):
        pass
    with slots.held(3):
        assert slots.by_token[3] == 1
