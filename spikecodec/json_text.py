"""JSON text as FORMAT.md section 1 allows it, parsed in one place for every reader: spike file
headers, prior files, the command line's --meta and the metadata kept beside decoded arrays.

Refused: NaN and infinities (also a number beyond a double, such as 1e999, which Python would
read as infinity, or an integer as large), a repeated key, a byte-order mark, and arrays and
objects nested more than MAX_DEPTH deep. The errors are ValueError with the reason; each caller
says what and where.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["MAX_DEPTH", "TooDeep", "check_string_keys", "nesting_depth", "strict_json", "too_deep"]

MAX_DEPTH = 512  # FORMAT.md 1: the deepest nesting of arrays and objects a reader takes (a fixed
# limit, so that whether a text is valid does not depend on the parser's stack)


class TooDeep(ValueError):
    """JSON nested more deeply than the parser can follow."""


def check_string_keys(obj: Any, what: str) -> None:
    """TypeError naming the first key of a mapping in ``obj`` (a value about to be written as
    JSON) that is not a string. Checked before encoding: json.dumps writes an int key as a
    string (read back as another key) and, sorting keys of mixed types, says only "'<' not
    supported between instances of 'int' and 'str'". Each container is visited once and no
    deeper than MAX_DEPTH (the encoder refuses cycles and deeper nesting itself)."""
    stack: list[tuple[Any, int]] = [(obj, 0)]
    seen: set[int] = set()
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH or id(value) in seen or not isinstance(value, (Mapping, list, tuple)):
            continue
        seen.add(id(value))
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise TypeError(f"{what} keys must be strings (JSON object keys), got {type(key).__name__} {key!r:.40}")
                stack.append((item, depth + 1))
        else:
            stack.extend((item, depth + 1) for item in value)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("a key appears twice")
    return obj


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: what NaN and Infinity are refused for
        raise ValueError(f"the number {text[:24]} is too large for a double")
    return value


def _double_integer(text: str) -> int:
    if len(text) > 400:  # past 309 digits every integer is beyond a double; int() of one over 4300 digits fails, saying so in Python's terms
        raise ValueError(f"the number {text[:24]}... ({len(text)} digits) is too large for a double")
    value = int(text)
    if abs(value) >= _DOUBLE_LIMIT:  # 1 followed by 400 zeros: a number too large for a double, as 1e999
        raise ValueError(f"the number {text[:24]} is too large for a double")
    return value


_DOUBLE_LIMIT = 2**1024 - 2**970  # the least integer that rounds to infinity as a double

# One decoder for every text (json.loads with hooks would build a new one per call).
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant,
                            parse_float=_finite_float, parse_int=_double_integer)


def nesting_depth(text: str) -> int:
    """How deeply the arrays and objects of JSON ``text`` nest (an object alone: 1), counting
    the brackets outside its strings."""
    # One linear pass in numpy (a regex for strings took time quadratic in a run of escaped
    # quotes that never closes: a 64 KB header 33 s). On UTF-8 bytes: no multi-byte character
    # holds an ASCII byte. A quote ends or starts a string unless an odd run of backslashes is
    # before it; a text still inside a string at its end (invalid anyway) counts nothing after it.
    b = np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)
    at = np.arange(b.size)
    last_other = np.maximum.accumulate(np.where(b == ord("\\"), -1, at))  # the last non-backslash up to each byte
    backslashes_before = np.zeros(b.size, np.int64)
    backslashes_before[1:] = at[:-1] - last_other[:-1]
    quote = (b == ord('"')) & (backslashes_before % 2 == 0)
    outside = (np.cumsum(quote) - quote) % 2 == 0  # an even number of string quotes before it
    steps = (np.isin(b, (ord("["), ord("{"))) & outside).astype(np.int64) - (np.isin(b, (ord("]"), ord("}"))) & outside)
    return int(np.cumsum(steps).max(initial=0))


def too_deep(text: str) -> bool:
    """Whether JSON ``text`` nests arrays and objects more than MAX_DEPTH deep (FORMAT.md 1): the
    one test of the rule, for the reader here and the writer (header.json_bytes)."""
    return text.count("[") + text.count("{") > MAX_DEPTH and nesting_depth(text) > MAX_DEPTH


def strict_json(text: str) -> Any:
    """The value of JSON ``text`` under FORMAT.md 1's rules; ValueError says what is wrong."""
    if text.startswith("\ufeff"):
        raise ValueError("a byte-order mark starts it")
    if too_deep(text):
        raise TooDeep(f"nested too deeply (arrays and objects more than {MAX_DEPTH} deep)")
    try:
        return _DECODER.decode(text)
    except RecursionError:  # within MAX_DEPTH, but the caller's own stack was deep: a thread starts at depth 0
        return _decode_on_a_fresh_stack(text)


def _decode_on_a_fresh_stack(text: str) -> Any:
    """``text`` decoded in a thread of its own, whose Python stack starts empty: whether a text
    nested at most MAX_DEPTH deep is read must not depend on how deep the caller is."""
    import threading

    got: list[Any] = []

    def decode() -> None:
        try:
            got.append(("value", _DECODER.decode(text)))
        except BaseException as exc:  # handed to the caller's thread
            got.append(("error", exc))

    worker = threading.Thread(target=decode, name="spikecodec-json")
    worker.start()
    worker.join()
    kind, result = got[0]
    if kind == "error":
        if isinstance(result, RecursionError):
            raise TooDeep("nested too deeply") from None
        raise result
    return result
