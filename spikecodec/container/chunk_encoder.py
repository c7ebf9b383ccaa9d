"""A writer's chunks encoded on several threads, handed back in file order.

The compiled coders release the GIL, so chunks encode truly at once; each thread keeps its own
model tables and scratch (:mod:`spikecodec.codecs.workspace`), so a writer keeps its threads for
its whole life instead of starting new ones (and new tables) for every row. At most
:data:`AHEAD` chunks a thread are encoded ahead of the one being written: memory stays bounded
by the workers, not by the array.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterable, Iterator, TypeVar

import numpy as np

from ..codecs import ChunkSpec, Pipeline
from ..limits import usable_cpus

Key = TypeVar("Key")

#: Chunks a thread may have encoded (or be encoding) ahead of the writer: two keep every thread
#: busy while the writer emits the one in front.
AHEAD = 2


class ChunkEncoder:
    """Encodes chunks with ``pipeline`` on up to ``workers`` threads (at most one a usable CPU);
    one worker encodes in the calling thread, as before threads."""

    def __init__(self, pipeline: Pipeline, workers: int):
        self.pipeline = pipeline
        self.threads = min(workers, usable_cpus())
        self._pool: ThreadPoolExecutor | None = None

    def encoded(self, chunks: Iterable[tuple[Key, ChunkSpec, np.ndarray]]) -> Iterator[tuple[Key, ChunkSpec, bytes | memoryview, int]]:
        """(key, spec, payload, spike count) of each chunk, in the order given. An encoding that
        fails raises when its chunk's turn comes, after the chunks before it were handed back;
        nothing is still being encoded once the iterator ends, raises or is closed (the caller
        may then reuse the arrays it gave)."""
        if self.threads <= 1:
            for key, spec, values in chunks:
                yield (key, spec, *self.pipeline.encode(values, spec))
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="spikecodec-encode")
        pending: deque[tuple[Key, ChunkSpec, Future]] = deque()
        todo = iter(chunks)
        try:
            for key, spec, values in todo:
                pending.append((key, spec, self._pool.submit(self.pipeline.encode, values, spec)))
                if len(pending) >= AHEAD * self.threads:
                    break
            while pending:
                key, spec, future = pending.popleft()
                payload, spikes = future.result()
                for key_next, spec_next, values in todo:  # one more in flight for the one taken
                    pending.append((key_next, spec_next, self._pool.submit(self.pipeline.encode, values, spec_next)))
                    break
                yield key, spec, payload, spikes
        finally:
            for _, _, future in pending:
                future.cancel()
            for _, _, future in pending:
                if not future.cancelled():
                    future.exception()  # waits: no thread still reads the caller's arrays

    def close(self) -> None:
        """Let the threads go (they finish no more chunks: :meth:`encoded` waited for its own)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
