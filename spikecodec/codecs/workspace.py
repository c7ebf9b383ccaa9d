"""Each thread's working memory, kept from one chunk to the next: the one place where coding
keeps memory between chunks.

Coding a chunk writes arrays of up to tens of MB (model tables, a padded copy of the chunk, the
encoder's decisions). A fresh array's pages cost a page fault each at their first touch: on this
machine (2 cores, a VM) about 4,000-7,000 faults for a ``ctxfast`` chunk of 5M elements, 15-18%
of its coding time (measured: encode 10.6 -> 8.7 and decode 9.2 -> 7.8 ns an element with the
memory kept), and about 20 ms for a ``ctxmix`` chunk of 1024 elements among tens of MB of
states. So each thread keeps:

* *scratch* (:func:`scratch`): bytes one kernel call uses and is done with, up to
  :data:`KEEP_BYTES`; a call that needs more gets arrays of its own, freed after it;
* *tables* (:func:`kept_tables`, :func:`keep_tables`): one set of model tables, of the
  geometry it last kept; the codec that keeps them says when (their size is the codec's: at
  most about 120 MiB, ``winmix`` on 8-bit elements of many channels).
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np

#: Scratch a thread keeps between chunks (a default ``ctxfast`` chunk, 2**23 elements, takes
#: about 46 MiB of it to encode on 7 x 7 planes, 14 MiB to decode).
KEEP_BYTES = 64 << 20

_EMPTY = np.empty(0, np.uint8)


class KeptTables:
    """A thread's model tables of one geometry (``key``: the keeper's), and whether the last
    chunk coded on them left them changed (``dirty``: the keeper restores them before use)."""

    def __init__(self, key: tuple, tables: dict[str, np.ndarray]):
        self.key, self.tables, self.dirty = key, tables, False


class _Kept(threading.local):
    def __init__(self) -> None:
        self.scratch = _EMPTY
        self.tables: KeptTables | None = None


_KEPT = _Kept()


def scratch(nbytes: int) -> np.ndarray:
    """``nbytes`` bytes (uint8, contents undefined) of this thread's kept working memory, for one
    kernel call that finishes with them before the thread asks again; an empty array when
    ``nbytes`` is 0 or above :data:`KEEP_BYTES` (the kernel then allocates what it needs)."""
    if not 0 < nbytes <= KEEP_BYTES:
        return _EMPTY
    kept = _KEPT.scratch
    if kept.size < nbytes:
        _KEPT.scratch = _EMPTY  # the old buffer goes before the new one is made
        kept = _KEPT.scratch = np.empty(nbytes, np.uint8)
    return kept[:nbytes]


def kept_tables(key: tuple) -> KeptTables | None:
    """This thread's kept tables if they were kept under ``key``, else None."""
    slot = _KEPT.tables
    return slot if slot is not None and slot.key == key else None


def keep_tables(key: tuple, make: Callable[[], dict[str, np.ndarray]]) -> KeptTables:
    """Keep ``make()``'s tables as this thread's, under ``key``, in place of any it kept (dropped
    before ``make`` runs: one set at a time)."""
    _KEPT.tables = None
    slot = _KEPT.tables = KeptTables(key, make())
    return slot


def forget_tables(table: np.ndarray) -> None:
    """Drop this thread's kept tables if ``table`` is one of them (a coding that stopped half-way
    left them in a state no one can restore)."""
    slot = _KEPT.tables
    if slot is not None and any(t is table for t in slot.tables.values()):
        _KEPT.tables = None
