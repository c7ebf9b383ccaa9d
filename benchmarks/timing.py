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
    that are compared see the same load, so their ratios are steadier than separate runs'."""
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best
