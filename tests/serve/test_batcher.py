"""The serve batcher alone (no server, no worker): batches are shared fairly between streams,
each stream's items keep their order, and the queue bound holds."""

from __future__ import annotations

import asyncio

import pytest

from spikecodec.serve.batcher import Batcher


class Recorder:
    """A dispatch that records each batch and completes it when released."""

    def __init__(self) -> None:
        self.batches: list[list] = []
        self.release = asyncio.Event()

    def __call__(self, batch: list):
        self.batches.append(list(batch))

        async def done() -> None:
            await self.release.wait()

        return done()


async def settle(batcher: Batcher, dispatch: Recorder, batches: int) -> None:
    """Let the batcher run until it has dispatched ``batches`` batches."""
    for _ in range(5000):
        if len(dispatch.batches) >= batches:
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"{len(dispatch.batches)} batches dispatched, expected {batches}")


def run(coro) -> None:
    asyncio.run(asyncio.wait_for(coro, 10))


def test_a_backlog_does_not_hold_back_another_stream():
    async def main() -> None:
        dispatch = Recorder()
        dispatch.release.set()
        batcher = Batcher(dispatch, max_batch=8, max_wait=0, depth=1)
        for i in range(200):  # one stream's backlog, queued before the batcher runs
            await batcher.submit(("busy", i), "busy")
        await batcher.submit(("light", 0), "light")
        task = asyncio.create_task(batcher.run())
        await settle(batcher, dispatch, 1)
        # A first-come queue sent the light stream's image in batch 26 (after 200 busy ones).
        assert ("light", 0) in dispatch.batches[0]
        await settle(batcher, dispatch, 26)
        task.cancel()
        busy = [i for b in dispatch.batches for s, i in b if s == "busy"]
        assert busy == list(range(200))  # each stream's items in the order submitted
        assert all(len(b) == 8 for b in dispatch.batches[:25])

    run(main())


def test_batches_take_one_item_of_each_waiting_stream_in_turn():
    async def main() -> None:
        dispatch = Recorder()
        dispatch.release.set()
        batcher = Batcher(dispatch, max_batch=6, max_wait=0, depth=1)
        for key, n in (("a", 5), ("b", 2), ("c", 3)):
            for i in range(n):
                await batcher.submit((key, i), key)
        task = asyncio.create_task(batcher.run())
        await settle(batcher, dispatch, 2)
        task.cancel()
        assert dispatch.batches == [[("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("c", 1)],
                                    [("a", 2), ("c", 2), ("a", 3), ("a", 4)]]
        assert batcher.waiting == 0

    run(main())


def test_the_queue_bound_holds_back_submitters_until_a_batch_leaves():
    async def main() -> None:
        dispatch = Recorder()
        batcher = Batcher(dispatch, max_batch=2, max_wait=0, max_queue=3, depth=1)
        for i in range(3):
            await batcher.submit(i, "s")
        blocked = asyncio.create_task(batcher.submit(3, "s"))
        await asyncio.sleep(0.01)
        assert not blocked.done() and batcher.waiting == 3
        task = asyncio.create_task(batcher.run())
        await settle(batcher, dispatch, 1)  # a batch of 2 leaves: room for the blocked item
        await asyncio.wait_for(blocked, 1)
        assert batcher.waiting == 2 and not batcher.idle
        await asyncio.sleep(0.01)
        assert len(dispatch.batches) == 1  # depth 1: the next batch waits for this one
        dispatch.release.set()
        await settle(batcher, dispatch, 2)
        task.cancel()
        assert dispatch.batches == [[0, 1], [2, 3]]

    run(main())


def test_a_lone_item_leaves_after_max_wait():
    async def main() -> None:
        dispatch = Recorder()
        dispatch.release.set()
        batcher = Batcher(dispatch, max_batch=64, max_wait=0.5, depth=1)
        task = asyncio.create_task(batcher.run())
        await batcher.submit("x", 1)
        await asyncio.sleep(0.01)
        await batcher.submit("y", 2)  # within the first item's wait: the same batch
        await settle(batcher, dispatch, 1)
        task.cancel()
        assert dispatch.batches == [["x", "y"]]

    run(main())


def test_invalid_settings_refused():
    with pytest.raises(ValueError):
        Batcher(Recorder(), max_batch=0)
