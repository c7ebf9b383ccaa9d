"""Shared pieces of the spec's own reader: problems, CRCs, strict JSON, varints, bit packing.

Written from FORMAT.md alone (sections 1, 5.2, 8 and appendix A); imports nothing of spikecodec.
"""
import json
import math
import zlib

import numpy as np


class Problem(Exception):
    """A rule of FORMAT.md a file breaks: appendix A's `code` and the byte `offset` (or None)."""

    def __init__(self, code, offset, message):
        super().__init__(f"{code} at {offset}: {message}")
        self.code = code
        self.offset = offset
        self.message = message


def crc32(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def _crc16_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC16 = _crc16_table()


def crc16_xmodem(data):
    """CRC-16/XMODEM (FORMAT.md 5.2): polynomial 0x1021, initial 0, no reflection, no final XOR."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ byte) & 0xFF]
    return crc


assert crc32(b"123456789") == 0xCBF43926
assert crc16_xmodem(b"123456789") == 0x31C3


def u(data, offset, size):
    """Little-endian unsigned integer of `size` bytes at `offset` (the caller checked the bounds)."""
    return int.from_bytes(data[offset:offset + size], "little")


class _NotObject(Exception):
    pass


def json_depth(text):
    """How deeply the arrays and objects of JSON ``text`` nest, counting the brackets outside its
    strings (a string never closed runs to the end)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(raw, offset, what):
    """JSON of FORMAT.md section 1: UTF-8 without BOM, one object, no repeated key, no NaN or
    infinity (a number too large for a double counts as infinity), nested at most 512 deep.
    Problems at `offset`."""
    def bad(detail):
        return Problem("json-invalid", offset, f"{what} is not valid JSON ({detail})")

    raw = bytes(raw)
    if raw.startswith(b"\xef\xbb\xbf"):
        raise bad("byte-order mark")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad(f"not UTF-8: {error}") from None

    deepest = json_depth(text)  # arrays and objects nest at most 512 deep (FORMAT.md 1)
    if deepest > 512:
        raise bad(f"arrays and objects nested {deepest} deep, more than 512")

    def pairs(items):
        keys = [key for key, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError("repeated key")
        return dict(items)

    def constant(name):
        raise ValueError(f"{name} is not allowed")

    def number(token):
        value = float(token)
        if math.isinf(value) or math.isnan(value):
            raise ValueError(f"{token} is infinite")
        return value

    def integer(token):  # an integer literal beyond a double's range is a number too large, too
        value = int(token)
        try:
            float(value)
        except OverflowError:
            raise ValueError(f"{token[:24]}... is too large for a double") from None
        return value

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=constant, parse_float=number,
                           parse_int=integer)
    except (ValueError, RecursionError) as error:
        raise bad(str(error)) from None
    if not isinstance(value, dict):
        raise Problem("json-not-object", offset, f"{what} must be a JSON object")
    return value


def read_varint(data, pos, offset):
    """Unsigned LEB128 of FORMAT.md 5.2 at `pos`; problems reported at `offset` (the record's or
    the index's first byte). Returns (value, position after it)."""
    value = 0
    for i in range(10):
        if pos + i >= len(data):
            raise Problem("varint-truncated", offset, "the file ends inside a varint")
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if i >= 1 and byte == 0:
                raise Problem("varint-overlong", offset, "varint is not minimally encoded")
            if value >= 1 << 64:
                raise Problem("varint-too-large", offset, "varint value is 2^64 or more")
            return value, pos + i + 1
    raise Problem("varint-too-long", offset, "varint is longer than 10 bytes")


def packed_size(n, bits):
    return (n * bits + 7) // 8


def packed_limit(cid, payload, n, bits, offset, prefix=None):
    """9.4.9 - 9.4.11, 9.4.13 - 9.4.15, 9.4.17: a ctxmix, mix, winmix, countmix, chanmix, framemix or neuronmix payload is
    at most its n elements packed (`<prefix>-too-long`, the prefix `cid`'s own but `mix` for winmix, countmix, chanmix
    and framemix);
    exactly that many bytes are the packed elements. Returns that size."""
    size = packed_size(n, bits)
    if len(payload) > size:
        raise Problem(f"{prefix or cid}-too-long", offset, f"{cid}: payload of {len(payload)} bytes is longer than "
                      f"the chunk packed ({size} bytes)")
    return size


def unpack(payload, n, bits, offset):
    """Section 8: MSB-first packing of n elements of `bits` bits; exact size, zero padding."""
    size = packed_size(n, bits)
    if len(payload) != size:
        raise Problem("packed-size", offset, f"packed elements are {len(payload)} bytes, expected {size}")
    raw = np.frombuffer(bytes(payload), dtype=np.uint8)
    if bits == 8:
        return raw.copy()
    allbits = np.unpackbits(raw)
    used = n * bits
    if allbits[used:].any():
        raise Problem("padding-bits", offset, "non-zero padding bits after the last element")
    groups = allbits[:used].reshape(n, bits).astype(np.uint8)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.uint8)
    return (groups * weights).sum(axis=1).astype(np.uint8) if n else np.zeros(0, np.uint8)
