"""Decoded chunks kept for selections that take part of a chunk."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from ..limits import count_option

# Enough for a few rows of typical feature chunks; a reader of a small file never reaches it.
DEFAULT_CACHE_BYTES = 16 << 20


class ChunkCache:
    """Decoded chunks by number, least recently used dropped first, within ``limit`` bytes
    (h5py's chunk cache, ``rdcc_nbytes``, is the model). Safe to share between threads."""

    def __init__(self, limit: int):
        self.limit = count_option(limit, "cache_bytes")
        self._items: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, i: int) -> np.ndarray | None:
        with self._lock:
            values = self._items.get(i)
            if values is not None:
                self._items.move_to_end(i)
            return values

    def put(self, i: int, values: np.ndarray) -> None:
        if values.nbytes > self.limit:
            return
        with self._lock:
            if i in self._items:
                return
            self._items[i] = values
            self._bytes += values.nbytes
            while self._bytes > self.limit:
                _, dropped = self._items.popitem(last=False)
                self._bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
