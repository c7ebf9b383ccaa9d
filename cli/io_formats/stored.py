"""The axes, metadata and element bits a ``spikecodec decode`` output keeps (``.npz`` members,
``.h5`` attributes), read back and checked as strictly as a spike file's header."""

from __future__ import annotations

from typing import Any

import numpy as np

from spikecodec.json_text import TooDeep, strict_json

from .checks import _AXIS_NAME, MAX_AXIS_NAME, MAX_JSON_DEPTH, MAX_METADATA_TEXT, one_line

# --- stored axes, metadata and bits: checked as a spike file's header would be ----------------------


def _depth(obj: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, todo = 0, [(obj, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, (dict, list)):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                todo.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return deepest


def _text(value: Any, what: str) -> str:
    """One string: a Python or numpy string (0-d array of one too); UTF-8 bytes from HDF5."""
    if isinstance(value, np.ndarray):
        if value.ndim != 0 or value.dtype.kind not in "US":
            raise ValueError(f"{what} must be one string, got an array {value.shape} of {value.dtype}")
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{what} is not UTF-8 text") from None
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    return str(value)


def parse_metadata(value: Any, what: str = "the stored metadata") -> dict[str, Any]:
    """Stored metadata: JSON text of an object, parsed strictly (no NaN or Infinity, no repeated
    keys, at most MAX_JSON_DEPTH deep)."""
    text = _text(value, what)
    if len(text) > MAX_METADATA_TEXT:
        raise ValueError(f"{what} is {len(text)} characters, more than the {MAX_METADATA_TEXT} a spike file's header holds")
    try:
        obj = strict_json(text)
    except TooDeep:
        raise ValueError(f"{what} nests too deeply (at most {MAX_JSON_DEPTH} levels)") from None
    except ValueError as exc:
        raise ValueError(f"{what} is not valid JSON ({one_line(exc)})") from None
    if not isinstance(obj, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(obj), "a number")
        raise ValueError(f"{what} must be a JSON object, got {kind}")
    if _depth(obj) > MAX_JSON_DEPTH:
        raise ValueError(f"{what} nests too deeply (at most {MAX_JSON_DEPTH} levels)")
    return obj


def parse_axes(value: Any, rank: int, what: str = "the stored axes") -> tuple[str, ...]:
    """Stored axis names: one string per axis of the array, 1-16 of [A-Za-z0-9_], unique."""
    if isinstance(value, (str, bytes, np.str_, np.bytes_)) or not isinstance(value, (np.ndarray, list, tuple)):
        raise ValueError(f"{what} must be a list of names, got {type(value).__name__}")
    items = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if items.ndim != 1:
        raise ValueError(f"{what} must be a list of names, got an array of shape {items.shape}")
    if items.dtype.kind not in "USO":
        raise ValueError(f"{what} must be names (text), got {items.dtype}")
    if len(items) != rank:
        raise ValueError(f"{what} name {len(items)} axes for an array of rank {rank}")
    names = tuple(_text(v, what) for v in items)
    for name in names:
        if not _AXIS_NAME.match(name):
            raise ValueError(f"{what}: axis name {name[:40]!r} is not 1-{MAX_AXIS_NAME} characters of [A-Za-z0-9_]")
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: axis names {list(names)} are not unique")
    return names


def parse_bits(value: Any, what: str = "the stored bits") -> int:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{what} must be an integer 1, 2, 4 or 8, got {type(value).__name__}")
    if int(value) not in (1, 2, 4, 8):
        raise ValueError(f"{what} is {int(value)}; expected 1, 2, 4 or 8")
    return int(value)
