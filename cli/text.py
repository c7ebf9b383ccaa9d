"""Short human-readable forms of what a spike file says about itself."""

from __future__ import annotations

from typing import Any, Sequence


def pipeline_text(pipeline: list[dict[str, Any]]) -> str:
    """``raw -> zstd(level=3)``."""
    parts = []
    for stage in pipeline:
        params = ", ".join(f"{k}={str(v)[:12] + '...' if k == 'prior' else v}" for k, v in stage.items() if k != "id")
        parts.append(f"{stage['id']}({params})" if params else str(stage["id"]))
    return " -> ".join(parts)


def element_text(bits: int) -> str:
    return "1-bit spikes" if bits == 1 else f"{bits}-bit spike counts"


def axes_text(axes: Sequence[str]) -> str:
    return "".join(axes) if all(len(a) == 1 for a in axes) else ",".join(axes)
