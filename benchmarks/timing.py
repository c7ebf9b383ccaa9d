"""Timing shared by the benchmark scripts: best of several runs (the machine is shared and noisy)."""

from __future__ import annotations

import time
from typing import Callable


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Fastest wall time of ``repeats`` calls of ``fn``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def best_times(fns: dict[str, Callable[[], object]], repeats: int = 3) -> dict[str, float]:
    """Fastest wall time of each function, calling them in turn ``repeats`` rounds: functions
    that are compared see the same load, so their ratios are steadier than separate runs'.
    Every other round runs them in reverse order: a call right after a different kind of call
    runs measurably slower (caches, allocator state), and no function may always be the one
    that pays for that."""
    best = {name: float("inf") for name in fns}
    order = list(fns.items())
    for round_ in range(repeats):
        for name, fn in order if round_ % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best
