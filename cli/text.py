"""Short human-readable forms of what a spike file says about itself."""

from __future__ import annotations

import os
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


def is_utf8(text: str) -> bool:
    """Whether ``text`` is UTF-8 text: an argument or file name of other bytes holds the
    surrogates Python decodes them to, which no UTF-8 (JSON) text can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def path_text(path: str) -> str:
    """A file name as text for metadata (UTF-8 JSON): bytes that are not UTF-8 become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")
