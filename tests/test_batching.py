"""The server's batcher on a stand-in model that records its calls: concurrent requests'
pictures go to the model together, each request gets its own rows back, and a lone
request does not wait."""

import asyncio
import threading
import time

import numpy as np
import pytest

from stages.lib.serving.batching import Batcher, Batching, QueueFull


class Model:
    """Probabilities that say which picture they are for (its first pixel), the batch
    sizes it was called with, and a gate that holds each call until opened."""

    def __init__(self, gated=False):
        self.calls, self.gate = [], threading.Event()
        if not gated:
            self.gate.set()

    def __call__(self, images):
        self.gate.wait(10)
        self.calls.append(len(images))
        return np.stack([images[:, 0, 0], -images[:, 0, 0]], axis=1)


def pictures(*numbers):
    return np.stack([np.full((2, 2), number, np.float32) for number in numbers])


async def ask(batcher, *numbers):
    return await batcher(pictures(*numbers))


def run(coroutine):
    return asyncio.run(coroutine)


def test_requests_that_wait_while_the_model_runs_go_together_and_get_their_own_rows():
    model = Model(gated=True)

    async def scenario():
        async with Batcher(model, Batching(max_batch=64)).running() as batcher:
            first = asyncio.create_task(ask(batcher, 0))
            await asyncio.sleep(0.05)  # the model holds picture 0
            rest = [asyncio.create_task(ask(batcher, 1 + 2 * i, 2 + 2 * i)) for i in range(10)]
            await asyncio.sleep(0.05)
            model.gate.set()
            return await first, await asyncio.gather(*rest)

    first, rest = run(scenario())
    assert model.calls == [1, 20]  # the ten requests that came while it ran: one call
    np.testing.assert_array_equal(first, [[0, 0]])
    for i, answer in enumerate(rest):
        np.testing.assert_array_equal(answer[:, 0], [1 + 2 * i, 2 + 2 * i])


def test_a_batch_holds_at_most_max_batch_pictures_but_a_larger_request_goes_alone():
    model = Model(gated=True)

    async def scenario():
        async with Batcher(model, Batching(max_batch=4)).running() as batcher:
            asks = [asyncio.create_task(ask(batcher, 0))]
            await asyncio.sleep(0.05)
            asks += [asyncio.create_task(ask(batcher, *range(n, n + 3))) for n in (1, 4)]
            asks.append(asyncio.create_task(ask(batcher, *range(7, 13))))  # 6, over max_batch
            asks.append(asyncio.create_task(ask(batcher, 13)))
            await asyncio.sleep(0.05)
            model.gate.set()
            return await asyncio.gather(*asks)

    answers = run(scenario())
    assert model.calls == [1, 3, 3, 6, 1]
    assert [list(a[:, 0]) for a in answers] == [[0], [1, 2, 3], [4, 5, 6], list(range(7, 13)), [13]]


def test_a_lone_request_runs_at_once_and_max_wait_waits_for_a_fuller_batch():
    async def timed(settings, requests):
        model = Model()
        async with Batcher(model, settings).running() as batcher:
            start = time.perf_counter()
            await asyncio.gather(*(ask(batcher, n) for n in range(requests)))
            return time.perf_counter() - start, model.calls

    seconds, calls = run(timed(Batching(max_wait=0.0), 1))
    assert calls == [1] and seconds < 0.5
    seconds, calls = run(timed(Batching(max_batch=8, max_wait=0.3), 1))
    assert calls == [1] and seconds >= 0.3  # waited for company that did not come
    seconds, calls = run(timed(Batching(max_batch=3, max_wait=5.0 / 10), 3))
    assert calls == [3] and seconds < 0.5  # full before the wait was over


def test_a_full_queue_refuses_and_a_failing_model_fails_only_its_batch():
    model = Model(gated=True)

    async def scenario():
        async with Batcher(model, Batching(max_batch=2, max_queued=3)).running() as batcher:
            held = asyncio.create_task(ask(batcher, 0))
            await asyncio.sleep(0.05)  # taken by the model: no longer queued
            queued = [asyncio.create_task(ask(batcher, 1, 2)), asyncio.create_task(ask(batcher, 3))]
            await asyncio.sleep(0)
            with pytest.raises(
                QueueFull, match=r"the model's queue is full \(3 pictures waiting, of at most 3\)"
            ):
                await ask(batcher, 4)
            model.gate.set()
            return await held, await asyncio.gather(*queued)

    held, queued = run(scenario())
    assert [list(a[:, 0]) for a in [held, *queued]] == [[0], [1, 2], [3]]

    def broken(images):
        if 99 in images:
            raise ZeroDivisionError("the model failed")
        return np.zeros((len(images), 2))

    async def failing():
        async with Batcher(broken, Batching()).running() as batcher:
            with pytest.raises(ZeroDivisionError):
                await ask(batcher, 99)
            return await ask(batcher, 1)

    assert run(failing()).shape == (1, 2)


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"max_batch": 0}, "max_batch must be a whole number of at least 1, got 0"),
        ({"max_queued": 2.5}, "max_queued must be a whole number of at least 1, got 2.5"),
        ({"max_wait": -1}, "max_wait must be between 0 and 1 second, got -1"),
    ],
)
def test_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message):
        Batching(**settings)
