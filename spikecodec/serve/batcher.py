"""Dynamic batching across clients: images from every stream wait in one bounded queue and go to
the model worker together, up to ``max_batch`` at a time, never waiting longer than ``max_wait``
for a batch to fill.

The model work runs in another process (:mod:`spikecodec.serve.worker`); this side only forms the
batches and hands each to ``dispatch``, which sends it at once and returns an awaitable for its
completion. Up to ``depth`` batches are in flight together, so the worker has the next batch
waiting while it runs one (it never idles on the event loop's turnaround), and batches are sent
in the order they were formed, which keeps each stream's images in their order (a link decoder is
stateful).

Backpressure: :meth:`Batcher.submit` waits while the queue is full, so a reader stops reading
its socket and TCP pushes back on the client, instead of the server buffering without bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable, Generic, TypeVar

Item = TypeVar("Item")
log = logging.getLogger("spikecodec.serve")


class Batcher(Generic[Item]):
    """Collects items into batches and hands each to ``dispatch(batch) -> awaitable``, which must
    send it before returning (batches leave in the order they were formed) and deliver the items'
    results itself. Start it with :meth:`run` as a task of the event loop that owns it.

    ``on_batch(size)`` is called (in the loop) after each batch completes; ``max_queue`` bounds the
    items waiting; ``depth`` bounds the batches in flight."""

    def __init__(self, dispatch: Callable[[list[Item]], Awaitable[None]], *, max_batch: int = 64, max_wait: float = 0.005,
                 max_queue: int = 4096, depth: int = 2, on_batch: Callable[[int], None] | None = None):
        if max_batch < 1 or max_wait < 0 or max_queue < 1 or depth < 1:
            raise ValueError("max_batch, max_queue and depth must be positive and max_wait non-negative")
        self.dispatch = dispatch
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.queue: asyncio.Queue[tuple[Item, float]] = asyncio.Queue(max_queue)
        self.on_batch = on_batch
        self.depth = depth
        self.in_flight = 0
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task] = set()

    async def submit(self, item: Item) -> None:
        """Queue ``item``, waiting while the queue is full."""
        queue = self.queue
        if queue.full():
            await queue.put((item, time.monotonic()))
        else:
            queue.put_nowait((item, time.monotonic()))

    @property
    def idle(self) -> bool:
        """Nothing queued and no batch in flight."""
        return self.queue.empty() and not self.in_flight

    async def run(self) -> None:
        """Collect and dispatch batches until cancelled."""
        self._slots = slots = asyncio.Semaphore(self.depth)
        queue = self.queue
        while True:
            first = await queue.get()
            # Wait for a slot before filling the batch: while the worker is busy, images pile up
            # in the queue and the next batch leaves as full as the backlog allows.
            await slots.acquire()
            batch = [first[0]]
            deadline = first[1] + self.max_wait  # from the first item's arrival: a backlog leaves at once
            while len(batch) < self.max_batch:
                if not queue.empty():
                    batch.append(queue.get_nowait()[0])
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    async with asyncio.timeout(left):
                        batch.append((await queue.get())[0])
                except TimeoutError:
                    break
            self.in_flight += 1
            try:
                done = self.dispatch(batch)
            except BaseException:
                self.in_flight -= 1
                slots.release()
                raise
            task = asyncio.ensure_future(self._complete(done, len(batch)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _complete(self, done: Awaitable[None], size: int) -> None:
        try:
            await done
        except Exception:  # a bug in delivering results: logged, the loop goes on
            log.exception("a batch failed")
        finally:
            self.in_flight -= 1
            assert self._slots is not None
            self._slots.release()
        if self.on_batch is not None:
            self.on_batch(size)

    async def close(self) -> None:
        """Wait for the batches in flight."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
