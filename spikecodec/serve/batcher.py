"""Dynamic batching across clients: images from every stream wait in one bounded queue and go
through the cloud half together, up to ``max_batch`` at a time, never waiting longer than
``max_wait`` for a batch to fill. The model work runs in one worker thread, so the event loop
keeps serving sockets while a batch runs (torch and the compiled coders release the GIL), and a
stream's images are decoded in the order they arrived (a link decoder is stateful).

Backpressure: :meth:`Batcher.submit` waits while the queue is full, so a reader stops reading
its socket and TCP pushes back on the client, instead of the server buffering without bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Any, Callable, Generic, Sequence, TypeVar

Item = TypeVar("Item")


class Batcher(Generic[Item]):
    """Collects items into batches and runs ``work(batch) -> results`` (one per item, in order) in
    a worker thread; :meth:`submit` gives each item's future. Start it with :meth:`run` as a task
    of the event loop that owns it.

    ``on_batch(size)`` is called (in the loop) after each batch; ``max_queue`` bounds the items
    waiting."""

    def __init__(self, work: Callable[[list[Item]], Sequence[Any]], *, max_batch: int = 64, max_wait: float = 0.005,
                 max_queue: int = 4096, on_batch: Callable[[int], None] | None = None):
        if max_batch < 1 or max_wait < 0 or max_queue < 1:
            raise ValueError("max_batch and max_queue must be positive and max_wait non-negative")
        self.work = work
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.queue: asyncio.Queue[tuple[Item, asyncio.Future, float]] = asyncio.Queue(max_queue)
        self.on_batch = on_batch
        # One thread: batches run one after the other, so each stream's images keep their order.
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="spikecodec-cloud")
        self.busy = False

    async def submit(self, item: Item) -> asyncio.Future:
        """Queue ``item`` (waiting while the queue is full); its future gets its result."""
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((item, future, time.monotonic()))
        return future

    @property
    def idle(self) -> bool:
        """Nothing queued and no batch running."""
        return self.queue.empty() and not self.busy

    async def run(self) -> None:
        """Collect and run batches until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = batch[0][2] + self.max_wait  # from the first item's arrival: a backlog runs at once
            while len(batch) < self.max_batch:
                if not self.queue.empty():
                    batch.append(self.queue.get_nowait())
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    async with asyncio.timeout(left):
                        batch.append(await self.queue.get())
                except TimeoutError:
                    break
            self.busy = True
            failed: Exception | None = None
            try:
                results = await loop.run_in_executor(self.executor, self.work, [item for item, _, _ in batch])
            except Exception as exc:  # a bug in the work: every item of the batch fails with it
                failed, results = exc, [None] * len(batch)
            finally:
                self.busy = False
            for (_, future, _), result in zip(batch, results):
                if future.done():  # its stream went away
                    continue
                if failed is not None:
                    future.set_exception(failed)
                else:
                    future.set_result(result)
            if self.on_batch is not None:
                self.on_batch(len(batch))

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
