"""Server-side batching for stages.serve: the pictures of concurrent requests go to the
model in one call, as TF Serving and Triton batch them.

One task runs the model, in a thread of its own, on what the requests left in the queue:
as soon as the model is free, all that waits (up to `max_batch` pictures, or one request's
if it alone has more), after waiting at most `max_wait` seconds for the batch to fill. A
lone client's picture so runs at once (max_wait 0, the default), while under load the
batch grows by itself: the pictures that arrive while the model runs go together next.
The queue holds at most `max_queued` pictures; a request that finds it full gets a
QueueFull (the app answers 503 with Retry-After)."""

import asyncio
import collections
import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from stages.lib.serving.formats import Runner


@dataclass(frozen=True)
class Batching:
    """stages.serve's --max-batch and --max-wait; the defaults measured in docs/serving.md
    ("Speed": waiting 2 ms cost a lone client 3 ms and helped only at 64 clients)."""

    max_batch: int = 64
    max_wait: float = 0.0  # seconds
    max_queued: int = 1024  # prepared pictures: 3 MB at MNIST's 28x28

    def __post_init__(self):
        for name in ("max_batch", "max_queued"):
            if not (isinstance(getattr(self, name), int) and getattr(self, name) >= 1):
                raise ValueError(f"{name} must be a whole number of at least 1, got {getattr(self, name)!r}")
        if not 0 <= self.max_wait <= 1:
            raise ValueError(f"max_wait must be between 0 and 1 second, got {self.max_wait!r}")


class QueueFull(Exception):
    pass


class Batcher:
    def __init__(self, predict: Runner, settings: Batching):
        self.predict, self.settings = predict, settings
        self.waiting: collections.deque[tuple[np.ndarray, asyncio.Future]] = collections.deque()
        self.queued = 0  # pictures in `waiting`

    async def __call__(self, images: np.ndarray) -> np.ndarray:
        """The model's probabilities for `images` (a batch of prepared pictures), computed
        with those of the other requests waiting."""
        if self.queued + len(images) > self.settings.max_queued:
            most = self.settings.max_queued
            raise QueueFull(
                f"the model's queue is full ({self.queued:,} pictures waiting, of at most {most:,})"
            )
        answer = asyncio.get_running_loop().create_future()
        self.waiting.append((images, answer))
        self.queued += len(images)
        self.arrived.set()
        return await answer

    @contextlib.asynccontextmanager
    async def running(self):
        """Runs the model's task while in the block (the app's lifespan), in this event loop."""
        self.arrived = asyncio.Event()
        self.model_thread = ThreadPoolExecutor(1, thread_name_prefix="model")
        task = asyncio.create_task(self._run())
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.model_thread.shutdown(wait=False)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.arrived.wait()
            await self._fill(loop.time() + self.settings.max_wait)
            batch = self._take()
            if not batch:
                continue
            images = np.concatenate([images for images, _ in batch])
            try:
                probabilities = await loop.run_in_executor(self.model_thread, self.predict, images)
            except Exception as error:  # each request's own 500, in the server's log
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(error)
                continue
            parts = np.split(probabilities, np.cumsum([len(images) for images, _ in batch])[:-1])
            for (_, answer), part in zip(batch, parts, strict=True):
                if not answer.done():  # a request whose client left is cancelled
                    answer.set_result(part)

    async def _fill(self, deadline: float) -> None:
        """Waits until `max_batch` pictures are queued, or until `deadline`."""
        loop = asyncio.get_running_loop()
        while self.queued < self.settings.max_batch and (left := deadline - loop.time()) > 0:
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), left)

    def _take(self) -> list[tuple[np.ndarray, asyncio.Future]]:
        """The waiting requests' pictures for one call: up to max_batch, at least one request."""
        batch, size = [], 0
        while self.waiting and (not batch or size + len(self.waiting[0][0]) <= self.settings.max_batch):
            images, answer = self.waiting.popleft()
            self.queued -= len(images)
            if not answer.done():
                batch.append((images, answer))
                size += len(images)
        if self.waiting:  # more than one call's: the next call takes them at once
            self.arrived.set()
        else:
            self.arrived.clear()
        return batch
