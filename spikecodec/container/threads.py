"""The threads that read and write a file's chunks at once: one place for how work is handed out
and taken back in order.

The compiled coders release the GIL, so chunks code truly at once on several threads. Each
thread keeps its model tables and scratch from one chunk to the next
(:mod:`spikecodec.codecs.workspace`): the pools here live as long as the process (one pool a
thread count), so that a second read or write of the same geometry finds its threads' tables
made instead of paying a page fault for every page of fresh ones, as a pool of new threads for
each call did (tens of MB a thread for the mixing codecs). An idle thread keeps that memory, as
the calling thread keeps its own.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Items a thread may have done (or be doing) ahead of the one the caller takes next: two keep
#: every thread busy while the caller handles the one in front (a writer writing it).
AHEAD = 2

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_PID = os.getpid()
_LOCK = threading.Lock()


def shared_pool(threads: int) -> ThreadPoolExecutor:
    """The process's pool of ``threads`` threads (made on first use; a forked child makes its own:
    its parent's threads do not exist there)."""
    global _POOLS_PID
    with _LOCK:
        if _POOLS_PID != os.getpid():
            _POOLS.clear()
            _POOLS_PID = os.getpid()
        pool = _POOLS.get(threads)
        if pool is None:
            pool = _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix=f"spikecodec-{threads}")
        return pool


def in_order(work: Callable[[Item], Result], items: Iterable[Item], threads: int) -> Iterator[Result]:
    """``work(item)`` of each item, in the order given, done on ``threads`` threads (in the calling
    thread when 1), at most :data:`AHEAD` a thread ahead of the one taken. An item whose work
    fails raises when its turn comes, after the results before it; nothing is still being done
    once the iterator ends, raises or is closed (the caller may then reuse what the items
    refer to, or read what the work wrote)."""
    if threads <= 1:
        for item in items:
            yield work(item)
        return
    pool = shared_pool(threads)
    pending: deque[Future] = deque()
    todo = iter(items)
    try:
        for item in todo:
            pending.append(pool.submit(work, item))
            if len(pending) >= AHEAD * threads:
                break
        while pending:
            result = pending.popleft().result()
            for item in todo:  # one more in flight for the one taken
                pending.append(pool.submit(work, item))
                break
            yield result
    finally:
        for future in pending:
            future.cancel()
        for future in pending:
            if not future.cancelled():
                future.exception()  # waits: no thread still works on the caller's data
