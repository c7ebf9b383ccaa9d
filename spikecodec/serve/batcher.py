"""Dynamic batching across clients: images from every stream wait in one bounded queue and go to
the model worker together, up to ``max_batch`` at a time, never waiting longer than ``max_wait``
for a batch to fill.

Batches are filled round-robin over the streams with images waiting, one image from each in
turn, so a stream that sends a backlog does not hold back the others: a stream's next image
leaves in the next batch formed whenever fewer than ``max_batch`` streams are waiting (with a
first-come queue it waited behind every image the busy streams had queued).

The model work runs in another process (:mod:`spikecodec.serve.worker`); this side only forms the
batches and hands each to ``dispatch``, which sends it at once and returns an awaitable for its
completion. Up to ``depth`` batches are in flight together, so the worker has the next batch
waiting while it runs one (it never idles on the event loop's turnaround), and batches are sent
in the order they were formed; together with each stream's images leaving in their order, that
keeps a stream's images in order (a link decoder is stateful).

Backpressure: :meth:`Batcher.submit` waits while the queue is full, so a reader stops reading
its socket and TCP pushes back on the client, instead of the server buffering without bound.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

Item = TypeVar("Item")
log = logging.getLogger("spikecodec.serve")


class Batcher(Generic[Item]):
    """Collects items into batches and hands each to ``dispatch(batch) -> awaitable``, which must
    send it before returning (batches leave in the order they were formed) and deliver the items'
    results itself. Start it with :meth:`run` as a task of the event loop that owns it.

    Items are submitted under a key (a stream); a batch takes one item of each waiting key in
    turn, and each key's items in the order submitted. ``on_batch(size)`` is called (in the
    loop) after each batch completes; ``max_queue`` bounds the items waiting, all keys together;
    ``depth`` bounds the batches in flight."""

    def __init__(self, dispatch: Callable[[list[Item]], Awaitable[None]], *, max_batch: int = 64, max_wait: float = 0.005,
                 max_queue: int = 4096, depth: int = 2, on_batch: Callable[[int], None] | None = None):
        if max_batch < 1 or max_wait < 0 or max_queue < 1 or depth < 1:
            raise ValueError("max_batch, max_queue and depth must be positive and max_wait non-negative")
        self.dispatch = dispatch
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.on_batch = on_batch
        self.depth = depth
        self.in_flight = 0
        self._waiting: dict[Hashable, collections.deque[tuple[Item, float]]] = {}  # key -> its items, oldest first
        self._turns: collections.deque[Hashable] = collections.deque()  # keys with items, next to give one first
        self._count = 0
        self._space = asyncio.Semaphore(max_queue)  # wakes blocked submitters first come, first served
        self._arrived = asyncio.Event()
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def waiting(self) -> int:
        """Items submitted and not yet in a batch."""
        return self._count

    async def submit(self, item: Item, key: Hashable = None) -> None:
        """Queue ``item`` behind ``key``'s earlier items, waiting while the queue is full."""
        await self._space.acquire()
        items = self._waiting.get(key)
        if items is None:
            items = self._waiting[key] = collections.deque()
            self._turns.append(key)
        items.append((item, time.monotonic()))
        self._count += 1
        self._arrived.set()

    def _take(self) -> tuple[Item, float]:
        """The next item in turn (one is waiting): the first key's oldest; that key goes last."""
        key = self._turns.popleft()
        items = self._waiting[key]
        taken = items.popleft()
        if items:
            self._turns.append(key)
        else:
            del self._waiting[key]
        self._count -= 1
        self._space.release()
        return taken

    async def _wait_for_item(self) -> None:
        while not self._count:
            self._arrived.clear()
            await self._arrived.wait()

    @property
    def idle(self) -> bool:
        """Nothing queued and no batch in flight."""
        return not self._count and not self.in_flight

    async def run(self) -> None:
        """Collect and dispatch batches until cancelled."""
        self._slots = slots = asyncio.Semaphore(self.depth)
        while True:
            await self._wait_for_item()
            # Wait for a slot before filling the batch: while the worker is busy, images pile up
            # and the next batch leaves as full (and as shared between streams) as the backlog allows.
            await slots.acquire()
            item, arrived = self._take()
            batch = [item]
            deadline = arrived + self.max_wait  # from the first item's arrival: a backlog leaves at once
            while len(batch) < self.max_batch:
                if self._count:
                    batch.append(self._take()[0])
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    async with asyncio.timeout(left):
                        await self._wait_for_item()
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
