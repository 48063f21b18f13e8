"""api.waits.Slots: long polls bounded per token and per process; a freed slot is free again."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import Throttled

from configurations import conf
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
    with slots.held(1), slots.held(2), pytest.raises(Throttled, match="no room"), slots.held(3):
        pass
    with slots.held(3):
        assert slots.by_token[3] == 1


def test_a_taken_slot_is_given_back_once_however_often_released(settings):
    settings.CONFIG_API_MAX_WAITS_PER_TOKEN, settings.CONFIG_API_MAX_WAITS = 1, 10
    slots = Slots()
    release = slots.take(7)
    with pytest.raises(Throttled):
        slots.take(7)
    release()
    release()  # a disconnect and the end of the wait both give it back: counted once
    assert slots.total == 0 and not +slots.by_token
    slots.take(7)
    assert slots.by_token[7] == 1


def test_the_defaults_follow_the_server(settings, monkeypatch):
    """Under WSGI each wait holds a thread: 2 per token, the threads minus one in all. Under ASGI none: 1,000 per
    token, 10,000 in all."""
    settings.CONFIG_API_MAX_WAITS_PER_TOKEN, settings.CONFIG_API_MAX_WAITS = "", ""
    monkeypatch.setenv("CONFIG_SERVER_THREADS", "4")
    settings.CONFIG_SERVER = ""
    assert (conf.api_max_waits_per_token(), conf.api_max_waits()) == (2, 3)
    settings.CONFIG_SERVER = "asgi"
    assert (conf.api_max_waits_per_token(), conf.api_max_waits()) == (1000, 10_000)
    settings.CONFIG_API_MAX_WAITS_PER_TOKEN, settings.CONFIG_API_MAX_WAITS = "5", "50"
    assert (conf.api_max_waits_per_token(), conf.api_max_waits()) == (5, 50)


def test_an_answer_s_slot_is_given_back_after_the_loop_s_pass_even_if_another_loop_closed_first(settings):
    import asyncio

    from configurations.api import deferred

    settings.CONFIG_API_MAX_WAITS_PER_TOKEN, settings.CONFIG_API_MAX_WAITS = 5, 10
    slots = Slots()
    answered = []

    def pending() -> deferred.Pending:
        return deferred.Pending("development", bool, lambda s: (200, None), 1.0, slots.take(1))

    abandoned = asyncio.new_event_loop()  # answers once, then stops and closes before its pass is over

    def answer_and_stop():
        deferred._after_the_pass(pending(), 200, [], "/changes/", 0.01)
        abandoned.stop()

    abandoned.call_soon(answer_and_stop)
    abandoned.run_forever()
    abandoned.close()
    assert slots.total == 1  # that loop's books were never kept

    async def answer_and_look():
        deferred._after_the_pass(pending(), 200, [], "/changes/", 0.01)
        answered.append(slots.total)  # still held while the pass goes on
        await asyncio.sleep(0)
        answered.append(slots.total)

    asyncio.run(answer_and_look())
    assert answered == [2, 1]
