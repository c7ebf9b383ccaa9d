"""Hostile spike files: structure-aware mutations of valid files, shared by the property tests
(tests/robustness) and the coverage-guided fuzzer (scripts/fuzz.py).

Most mutations can re-seal the file afterwards (recompute every CRC and rebuild the index), so
that a changed length, count or shape reaches the checks behind the CRCs instead of stopping at
the first checksum. The parser here is deliberately independent of the library's reader and
tolerant: it finds what it can in any byte string and leaves the rest alone.
"""

from __future__ import annotations

import binascii
import json
import random
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec"
SIGNATURE = b"\x8aSPK\r\n\x1a\n"
PREAMBLE = 16
TRAILER = 24


def valid_vectors() -> dict[str, bytes]:
    """Every valid conformance vector, by name."""
    manifest = json.loads((SPEC / "manifest.json").read_text())
    return {name: (SPEC / e["spk"]).read_bytes() for name, e in sorted(manifest["valid"].items())}


def crc(*parts: bytes) -> int:
    value = 0
    for p in parts:
        value = zlib.crc32(p, value)
    return value & 0xFFFFFFFF


@dataclass
class Parsed:
    """What the tolerant parser found. Offsets are into the original bytes."""

    header_end: int = 0  # end of preamble + body (the header CRC follows)
    rank: int = 0
    chunk_rank: int = 0
    chunks: list[tuple[int, int]] = field(default_factory=list)  # (offset, size) of whole records
    index: tuple[int, int] | None = None  # (offset, size)
    compact: bool = False  # compact records (FORMAT.md 5.2): the header names the extension
    fields: list[tuple[int, int, str]] = field(default_factory=list)  # (offset, width, name) of integers


def parse(data: bytes) -> Parsed:
    """Locate the header, chunk records, index and trailer (as far as the bytes allow)."""
    p = Parsed()
    if len(data) < PREAMBLE + 4:
        return p
    p.fields.append((12, 4, "header_size"))
    hsize = struct.unpack_from("<I", data, 12)[0]
    p.header_end = PREAMBLE + hsize
    if p.header_end + 4 > len(data):
        return p
    p.rank, p.chunk_rank = data[16], data[18]
    pos = 20
    for i in range(p.rank):
        p.fields.append((pos + 8 * i, 8, f"shape[{i}]"))
    pos += 8 * p.rank
    for i in range(p.chunk_rank):
        p.fields.append((pos + 8 * i, 8, f"chunk_shape[{i}]"))
    pos += 8 * p.chunk_rank
    for _ in range(p.rank):  # axis names
        if pos >= p.header_end:
            break
        p.fields.append((pos, 1, "axis name length"))
        pos += 1 + data[pos]
    if pos < p.header_end:
        p.fields.append((pos, 1, "codec count"))
        n, pos = data[pos], pos + 1
        for _ in range(n):
            if pos + 1 > p.header_end:
                break
            p.fields.append((pos, 1, "codec id length"))
            pos += 1 + data[pos]
            if pos + 4 > p.header_end:
                break
            p.fields.append((pos, 4, "codec config length"))
            pos += 4 + struct.unpack_from("<I", data, pos)[0]
    if pos + 4 <= p.header_end:
        p.fields.append((pos, 4, "metadata length"))
        pos += 4 + struct.unpack_from("<I", data, pos)[0]
    if pos + 2 <= p.header_end:
        p.fields.append((pos, 2, "extension count"))
    # chunk records
    pos = p.header_end + 4
    p.compact = b"compact-records" in data[PREAMBLE : p.header_end]
    if p.compact:
        return _parse_compact(data, p, pos)
    head = 16 + 16 * p.chunk_rank
    while pos + head <= len(data) and data[pos : pos + 4] == b"SPKC":
        payload = struct.unpack_from("<I", data, pos + 4)[0]
        size = head + payload + 4
        if pos + size > len(data):
            break
        p.fields += [(pos + 4, 4, "payload_size"), (pos + 8, 8, "chunk spike_count")]
        for i in range(p.chunk_rank):
            p.fields += [(pos + 16 + 8 * i, 8, f"origin[{i}]"), (pos + 16 + 8 * (p.chunk_rank + i), 8, f"extent[{i}]")]
        p.chunks.append((pos, size))
        pos += size
    if data[pos : pos + 4] == b"SPKI" and pos + 12 <= len(data):
        count = struct.unpack_from("<Q", data, pos + 4)[0]
        size = 12 + 40 * count + 4
        p.fields.append((pos + 4, 8, "index count"))
        if pos + size <= len(data):
            p.index = (pos, size)
            for i in range(count):
                for j, name in enumerate(("offset", "size", "row_start", "row_length", "spike_count")):
                    p.fields.append((pos + 12 + 40 * i + 8 * j, 8, f"index {name}"))
    if len(data) >= TRAILER and data[-4:] == b"SPKT":
        p.fields += [(len(data) - 24, 8, "trailer index_offset"), (len(data) - 16, 8, "trailer index_size")]
    return p


def leb(v: int) -> bytes:
    """``v`` as a LEB128 varint (FORMAT.md 5.2), written here apart from the library's writer."""
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v >> 7 else 0))
        v >>= 7
        if not v:
            return bytes(out)


def _varint(data: bytes, pos: int) -> tuple[int, int] | None:
    """(value, end) of the LEB128 varint at ``pos``, tolerating anything but running off the end."""
    value = shift = 0
    while pos < len(data) and shift < 70:
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if not b & 0x80:
            return value, pos
    return None


def _parse_compact(data: bytes, p: Parsed, pos: int) -> Parsed:
    """Compact records: size varint (2 P + f + 1), height varint when f, payload, CRC-16/32."""
    while pos < len(data):
        size = _varint(data, pos)
        if size is None or size[0] == 0:
            break
        v, end = size
        p.fields.append((pos, 1, "record size varint"))
        if (v - 1) & 1:
            height = _varint(data, end)
            if height is None:
                break
            end = height[1]
        payload = (v - 1) >> 1
        total = end - pos + payload + (2 if payload < 256 else 4)
        if pos + total > len(data):
            break
        p.chunks.append((pos, total))
        pos += total
    if pos < len(data) and data[pos] == 0:
        count = _varint(data, pos + 1)
        rows = _varint(data, count[1]) if count else None
        if rows is not None and rows[1] + 4 <= len(data):
            p.fields.append((pos + 1, 1, "index record count"))
            p.index = (pos, rows[1] + 4 - pos)
    if len(data) >= TRAILER and data[-4:] == b"SPKT":
        p.fields += [(len(data) - 24, 8, "trailer index_offset"), (len(data) - 16, 8, "trailer index_size")]
    return p


def _seal_compact(b: bytearray, p: Parsed, rebuild_index: bool) -> bytes:
    """Recompute every compact record's check for the place it now has, then the index."""
    if 20 + 8 * p.rank + 8 > len(b):  # a mutated rank points past the file: nothing to seal by
        return bytes(b)
    tag = bytes(b[p.header_end : p.header_end + 4])
    rows = 0
    for ordinal, (off, size) in enumerate(p.chunks):
        v, end = _varint(bytes(b), off)
        if (v - 1) & 1:
            h, end = _varint(bytes(b), end)
            rows += h
        else:
            rows += struct.unpack_from("<Q", b, 20 + 8 * p.rank)[0] if p.chunk_rank else 1
        width = 2 if size - (end - off) - 2 < 256 else 4
        payload_end = off + size - width
        prefix = tag + ordinal.to_bytes(8, "little")
        if width == 2:
            value = binascii.crc_hqx(bytes(b[off:payload_end]), binascii.crc_hqx(prefix, 0))
        else:
            value = crc(prefix, bytes(b[off:payload_end]))
        b[payload_end : payload_end + width] = value.to_bytes(width, "little")
    if not rebuild_index:
        return bytes(b)
    end = p.chunks[-1][0] + p.chunks[-1][1] if p.chunks else p.header_end + 4
    body = b"\0" + leb(len(p.chunks)) + leb(rows)
    index = body + struct.pack("<I", crc(body))
    fields = struct.pack("<QQ", end, len(index))
    return bytes(b[:end]) + index + fields + struct.pack("<I", crc(fields)) + b"SPKT"


def seal(data: bytes, *, rebuild_index: bool = True) -> bytes:
    """Recompute every CRC the parser can find; with ``rebuild_index`` replace the index and the
    trailer by ones that describe the chunk records actually present (in their order)."""
    b = bytearray(data)
    p = parse(data)
    if p.header_end + 4 > len(b) or p.header_end < PREAMBLE:
        return bytes(b)
    struct.pack_into("<I", b, p.header_end, crc(bytes(b[: p.header_end])))
    if p.compact:
        return _seal_compact(b, parse(bytes(b)), rebuild_index)
    head = 16 + 16 * p.chunk_rank
    entries = []
    for off, size in p.chunks:
        struct.pack_into("<I", b, off + size - 4, crc(bytes(b[off : off + size - 4])))
        spikes = struct.unpack_from("<Q", b, off + 8)[0]
        origin0 = struct.unpack_from("<Q", b, off + 16)[0] if p.chunk_rank else 0
        extent0 = struct.unpack_from("<Q", b, off + 16 + 8 * p.chunk_rank)[0] if p.chunk_rank else 0
        if head <= size:
            entries.append((off, size, origin0, extent0, spikes))
    if rebuild_index:
        end = p.chunks[-1][0] + p.chunks[-1][1] if p.chunks else p.header_end + 4
        body = b"SPKI" + struct.pack("<Q", len(entries)) + b"".join(struct.pack("<5Q", *e) for e in entries)
        index = body + struct.pack("<I", crc(body))
        fields = struct.pack("<QQ", end, len(index))
        return bytes(b[:end]) + index + fields + struct.pack("<I", crc(fields)) + b"SPKT"
    if p.index is not None:
        off, size = p.index
        struct.pack_into("<I", b, off + size - 4, crc(bytes(b[off : off + size - 4])))
    if len(b) >= TRAILER and b[-4:] == b"SPKT":
        struct.pack_into("<I", b, len(b) - 8, crc(bytes(b[-24:-8])))
    return bytes(b)


def records(data: bytes) -> tuple[bytes, list[bytes]]:
    """(everything up to the first chunk, the chunk records)."""
    p = parse(data)
    start = p.header_end + 4
    return data[:start], [data[o : o + s] for o, s in p.chunks]


def with_metadata(data: bytes, metadata: bytes) -> bytes:
    """The same file with its metadata JSON bytes replaced (lengths and CRCs made consistent)."""
    p = parse(data)
    meta = [f for f in p.fields if f[2] == "metadata length"]
    if not meta:
        return data
    at = meta[0][0]
    old = struct.unpack_from("<I", data, at)[0]
    body = data[PREAMBLE:at] + struct.pack("<I", len(metadata)) + metadata + data[at + 4 + old : p.header_end]
    pre = data[:12] + struct.pack("<I", len(body))
    return seal(pre + body + b"\0\0\0\0" + data[p.header_end + 4 :])


INTERESTING = (0, 1, 2, 3, 7, 8, 255, 256, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
               1 << 32, (1 << 40) + 1, (1 << 62) - 1, 1 << 62, (1 << 63) - 1, 1 << 63, (1 << 64) - 2, (1 << 64) - 1)

HOSTILE_METADATA = (
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'{"s":"' + b"x" * 900_000 + b'"}',
    b'{"k":"\xff\xfe\xfd"}',
    b'{"__reduce__":["os.system",["echo pwned"]],"py/object":"os.system"}',
    b'{"n":1e999999}',
    b'{"n":1' + b"0" * 400 + b"}",
    b'{"n":' + b"9" * 5000 + b"}",
    b'{"a":1,"a":2}',
    b"\xef\xbb\xbf{}",
    b"null",
    b"",
)


def set_field(data: bytes, offset: int, width: int, value: int) -> bytes:
    b = bytearray(data)
    b[offset : offset + width] = (value % (1 << (8 * width))).to_bytes(width, "little")
    return bytes(b)


def mutate(data: bytes, rng: random.Random, other: bytes | None = None) -> bytes:
    """One random mutation (sometimes a few) of ``data``; ``other`` is a second file to splice."""
    for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 4)):
        data = _mutate_once(data, rng, other)
    return data


def _mutate_once(data: bytes, rng: random.Random, other: bytes | None) -> bytes:
    kind = rng.choice(("flip", "flip", "truncate", "splice", "field", "field", "field", "chunks", "metadata", "bytes"))
    if not data:
        return other[: rng.randint(0, len(other))] if other else bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    if kind == "flip":
        b = bytearray(data)
        for _ in range(rng.choice((1, 1, 2, 8))):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return seal(bytes(b), rebuild_index=False) if rng.random() < 0.5 else bytes(b)
    if kind == "truncate":
        return data[: rng.randrange(len(data) + 1)]
    if kind == "splice" and other:
        a, c = rng.randrange(len(data) + 1), rng.randrange(len(other) + 1)
        out = data[:a] + other[c:]
        return seal(out, rebuild_index=rng.random() < 0.5) if rng.random() < 0.5 else out
    if kind == "field":
        p = parse(data)
        if not p.fields:
            return data[::-1]
        off, width, _ = rng.choice(p.fields)
        old = int.from_bytes(data[off : off + width], "little")
        value = rng.choice((rng.choice(INTERESTING), old + rng.choice((-1, 1)), old * 2, rng.getrandbits(8 * width)))
        out = set_field(data, off, width, value)
        r = rng.random()
        return out if r < 0.2 else seal(out, rebuild_index=r < 0.6)
    if kind == "chunks":
        head, recs = records(data)
        if not recs:
            return data
        op = rng.choice(("dup", "drop", "swap", "reverse"))
        if op == "dup":
            i = rng.randrange(len(recs))
            recs.insert(rng.randrange(len(recs) + 1), recs[i])
        elif op == "drop":
            recs.pop(rng.randrange(len(recs)))
        elif op == "swap" and len(recs) > 1:
            i, j = rng.sample(range(len(recs)), 2)
            recs[i], recs[j] = recs[j], recs[i]
        else:
            recs.reverse()
        return seal(head + b"".join(recs), rebuild_index=rng.random() < 0.8)
    if kind == "metadata":
        return with_metadata(data, rng.choice(HOSTILE_METADATA))
    # bytes: overwrite a random run with random or repeated bytes
    b = bytearray(data)
    i = rng.randrange(len(b))
    n = rng.randint(1, 16)
    b[i : i + n] = bytes([rng.randrange(256)]) * n if rng.random() < 0.5 else bytes(rng.randrange(256) for _ in range(n))
    return bytes(b)


# -- the oracle: what every consumer of hostile bytes may do --------------------------------------
FUZZ_MAX_BYTES = 64 << 20  # decoded-size cap for fuzzing: keeps each input fast and small


def exercise(data: bytes, target: str = "all", max_bytes: int = FUZZ_MAX_BYTES, max_work: int | None = None) -> str:
    """Run ``data`` through decode, open + slicing and validate. Returns "ok" or "rejected";
    any exception other than FormatError propagates (that is a bug). Checks consistency too:
    slices agree with the whole decode, and validate() is clean exactly when decode succeeds."""
    import numpy as np

    import spikecodec

    whole = None
    if target in ("all", "decode"):
        try:
            whole = spikecodec.decode(data, limits=_limits(max_bytes, max_work))
        except spikecodec.FormatError:
            pass
        else:
            assert isinstance(whole, np.ndarray) and whole.dtype == np.uint8
    if target in ("all", "open"):
        try:
            with spikecodec.open(data, recover=True, limits=_limits(max_bytes, max_work)) as r:
                shape = r.shape
                if r.ndim and shape[0]:
                    first, last = r[0], r[-1]
                    assert first.shape == shape[1:] and last.shape == shape[1:]
                    # a strided slice of the second half, at the last index of the last axis
                    key = (slice(shape[0] // 2, None, 2),) + ((Ellipsis, -1) if r.ndim > 1 and shape[-1] else ())
                    part = r[key]
                    if whole is not None and not r.recovered:
                        assert np.array_equal(first, whole[0]) and np.array_equal(last, whole[-1])
                        assert np.array_equal(part, whole[key])
        except spikecodec.FormatError:
            pass
    if target in ("all", "validate"):
        report = spikecodec.validate(data, limits=_limits(max_bytes, max_work))
        assert isinstance(report.ok, bool)
        if target == "all":
            # decode reads only the chunks it needs (none for an empty array); validate reads all
            assert report.ok <= (whole is not None), report.problems
            assert report.ok or whole is None or whole.size == 0, report.problems
    return "ok" if whole is not None else "rejected"


def _limits(max_bytes: int, max_work: int | None):
    from spikecodec.limits import ReadLimits

    return ReadLimits(max_bytes=max_bytes, max_work=max_work)


def exercise_cli(data: bytes, workdir: Path, max_bytes: int = FUZZ_MAX_BYTES) -> str:
    """Run ``data`` through the command line in this process (``spikecodec_cli.main.main``):
    ``validate``, ``inspect``, ``decode -o x.npy`` and ``recover -o x.spk``. Each must exit 0 or 1
    with one line saying why on failure, no traceback and no output file left behind
    on failure. Files declaring more than ``max_bytes`` elements are only validated (the command
    line reads up to the library's default cap, which would make fuzzing crawl)."""
    import contextlib
    import io

    import spikecodec
    from spikecodec_cli.main import main

    path = workdir / "in.spk"
    path.write_bytes(data)
    try:
        with spikecodec.open(data, recover=True) as r:
            size = 1
            for s in r.shape:
                size *= s
    except spikecodec.FormatError:
        size = 0
    commands = [["validate", str(path)]]
    if size <= max_bytes:
        commands += [["inspect", str(path), "--stats"], ["decode", str(path), "-o", str(workdir / "x.npy")],
                     ["recover", str(path), "-o", str(workdir / "x.spk")]]
    outcome = "ok"
    for args in commands:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([*args, "-q"] if args[0] in ("decode", "recover") else args)
        said = err.getvalue().strip()
        # 3: over a limit - validate: nothing found wrong, but a part over --max-bytes went unchecked
        # (as it says); the others: a LimitError (a conforming shape numpy cannot hold, a read over
        # --max-bytes), one line like any error
        assert code in (0, 1) or (code == 3 and (args[0] != "validate" or "over a limit" in out.getvalue())), (args, code, said)
        assert "Traceback" not in said + out.getvalue(), said
        if code and args[0] in ("decode", "recover"):
            assert len(said.splitlines()) == 1, said
            assert not Path(args[-1]).exists(), f"{args[0]} failed but left {args[-1]}"
            outcome = "rejected"
        for name in ("x.npy", "x.spk"):
            (workdir / name).unlink(missing_ok=True)
    return outcome


# --- Hostile priors (FORMAT.md 14) ----------------------------------------------------------

PRIOR_VALUES_U32 = (0, 1, 1023, 1024, 1 << 20, 1 << 21, 1 << 22, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
PRIOR_VALUES_I32 = (0, -1, 1 << 20, (1 << 20) + 1, -(1 << 20), -(1 << 20) - 1, 0x7FFFFFFF, -0x80000000)


def valid_priors() -> dict[str, bytes]:
    """Every valid conformance prior file, by name."""
    return {p.stem: p.read_bytes() for p in sorted((SPEC / "vectors" / "priors").glob("*.prior"))}


def mutate_prior(data: bytes, rng: random.Random, codecs: tuple[str, ...] = ()) -> bytes:
    """A prior file with its *content* changed - table values set to extremes or noise, a
    geometry entry changed, the codec swapped, a table cut or grown, tables reordered or renamed -
    and re-sealed by the library's own writer, so that the change reaches the checks that run when
    the prior is used, not the file's CRC. Bytes that are no prior come back byte-mutated."""
    import numpy as np

    from spikecodec.errors import FormatError
    from spikecodec.prior import Prior, parse_prior

    try:
        prior = parse_prior(data)
    except FormatError:
        return mutate(data, rng)
    tables = {k: v.copy() for k, v in prior.tables.items()}
    geometry, codec = dict(prior.geometry), prior.codec
    for _ in range(rng.choice((1, 1, 2, 3))):
        kind = rng.random()
        name = rng.choice(list(tables))
        table = tables[name]
        if kind < 0.45 and table.size:
            extremes = PRIOR_VALUES_U32 if table.dtype.kind == "u" else PRIOR_VALUES_I32
            info = np.iinfo(table.dtype)
            for i in (rng.randrange(table.size) for _ in range(rng.choice((1, 3, 50)))):
                table[i] = rng.choice(extremes) if rng.random() < 0.6 else rng.randint(int(info.min), int(info.max))
        elif kind < 0.6 and geometry:
            key = rng.choice(list(geometry))
            geometry[key] = rng.choice((0, 1, 2 * geometry[key], geometry[key] + 1, max(0, geometry[key] - 1), 255, 257, 1 << 31, 1 << 40))
        elif kind < 0.7:
            codec = rng.choice((*codecs, "raw", "zstd", "auto", "no-such-codec"))
        elif kind < 0.8:
            tables[name] = table[: rng.randrange(table.size + 1)] if rng.random() < 0.5 else np.concatenate([table, table[: rng.randrange(1, 20)]])
        elif kind < 0.9:
            items = list(tables.items())
            rng.shuffle(items)
            tables = dict(items)
        else:
            tables[name + "x" if rng.random() < 0.5 else name.upper()] = tables.pop(name)
    try:
        return Prior(codec, geometry, tables, dict(prior.info)).data
    except ValueError:  # the writer refuses it (a description too long): a byte mutation instead
        return mutate(data, rng)


def exercise_prior(data: bytes, seed: int = 0) -> str:
    """Parse ``data`` as a prior file and, if it parses, code a small array with it - named, and
    embedded in the file - and decode that back. Returns "ok", "rejected" (the file) or "refused"
    (the prior does not fit its codec or the array); each must be a FormatError or, from
    ``encode``, a ValueError saying so. Anything else propagates (a bug), and so does a decode
    that differs from what was encoded."""
    import numpy as np

    import spikecodec
    from spikecodec.prior import parse_prior

    try:
        prior = parse_prior(data)
    except spikecodec.FormatError:
        return "rejected"
    g = prior.geometry
    C = g.get("C", 2)
    if not isinstance(C, int) or not 0 < C <= 64:
        C = 2
    T, H, W = (min(max(g.get(k, 3), 1), 8) for k in ("T", "H", "W"))
    bits = g.get("bits", 1) if g.get("bits") in (1, 2, 4, 8) else 1
    x = np.random.default_rng(seed).integers(0, 1 << bits, (T, 2, C, H, W), dtype=np.uint8)
    outcome = "ok"
    for embed in (False, True):
        try:
            coded = spikecodec.encode(x, codec=prior.codec, prior=prior, embed_prior=embed, bits=bits)
        except ValueError:  # FormatError included: a prior for another codec or geometry, or bad values
            outcome = "refused"
            continue
        y = spikecodec.decode(coded, priors=None if embed else [prior])
        assert np.array_equal(y, x), f"{prior.codec} prior {g}: decoded array differs"
    return outcome


# -- message streams (FORMAT.md 11): what a hostile peer sends a LinkDecoder -----------------------
# A fuzz input is one flags byte (bit 0: the last message is the end message), then messages,
# each a u32 little-endian length and its bytes (a length past the input takes what is left).


def valid_message_streams() -> dict[str, bytes]:
    """The message vectors (spec/vectors/messages) as fuzz inputs."""
    manifest = json.loads((SPEC / "manifest.json").read_text())
    return {name: bytes([int(e["end"])]) + (SPEC / e["msgs"]).read_bytes() for name, e in sorted(manifest["messages"].items())}


def split_messages(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos + 4 <= len(data):
        n = int.from_bytes(data[pos : pos + 4], "little")
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def join_messages(end: bool, messages: list[bytes]) -> bytes:
    return bytes([int(end)]) + b"".join(len(m).to_bytes(4, "little") + m for m in messages)


def mutate_messages(data: bytes, rng: random.Random, other: bytes | None = None) -> bytes:
    """A message-level mutation: drop, repeat, swap, cut, splice in another stream's message, flip
    bits (re-sealing nothing: a record's check covers its place), or flip the end flag."""
    end, messages = bool(data[:1] and data[0] & 1), split_messages(data[1:])
    if not messages:
        return data
    i = rng.randrange(len(messages))
    kind = rng.randrange(7)
    if kind == 0 and len(messages) > 1:
        del messages[i]
    elif kind == 1:
        messages.insert(i, messages[i])
    elif kind == 2 and len(messages) > 2:
        j = rng.randrange(1, len(messages))
        messages[i], messages[j] = messages[j], messages[i]
    elif kind == 3:
        messages[i] = messages[i][: rng.randrange(len(messages[i]) + 1)]
    elif kind == 4 and other:
        theirs = split_messages(other[1:])
        if theirs:
            messages[i] = rng.choice(theirs)
    elif kind == 5 and messages[i]:
        m = bytearray(messages[i])
        m[rng.randrange(len(m))] ^= 1 << rng.randrange(8)
        messages[i] = bytes(m)
    else:
        end = not end
    return join_messages(end, messages)


def _exercise_numbered(header: bytes, taken: list, data: bytes, max_bytes: int) -> None:
    """The messages taken in order, given their record numbers and fed last first (each but the
    first late, filling the gap the first left), decode to the same frames; then each again, and
    under numbers drawn from ``data``, is refused with FormatError or ValueError, never taken twice."""
    import numpy as np

    import spikecodec

    dec = spikecodec.LinkDecoder(header, max_bytes=max_bytes)
    for number, message, frames in reversed(taken):
        got = dec.decode(message, record=number)
        if got.shape != frames.shape or not np.array_equal(got, frames):
            raise AssertionError(f"record {number} decoded to {got.shape} numbered, to {frames.shape} in order")
    if dec.records_skipped:
        raise AssertionError(f"{dec.records_skipped} records still skipped after every message arrived")
    draws = iter(data[1:] * 2)
    for number, message, _ in taken:
        for record in (number, next(draws, 0) + number):
            try:
                dec.decode(message, record=record)
            except (spikecodec.FormatError, ValueError):
                continue
            if record <= number:
                raise AssertionError(f"record {number} was taken twice")


def exercise_link(data: bytes, max_bytes: int = FUZZ_MAX_BYTES) -> str:
    """Feed a message stream to a LinkDecoder, going on past refused messages as a receiver
    does. Returns "ok" (every message taken) or "rejected"; anything but FormatError is a bug.
    When every message was taken and the last was the end, the concatenation is a conforming
    file that decodes to exactly the rows received."""
    import numpy as np

    import spikecodec

    end, messages = bool(data[:1] and data[0] & 1), split_messages(data[1:])
    if not messages:
        return "rejected"
    try:
        dec = spikecodec.LinkDecoder(messages[0], max_bytes=max_bytes)
    except spikecodec.FormatError:
        return "rejected"
    rows, refused = [], False
    taken = []  # (record number, message, frames) of each message taken with records
    for m in messages[1 : len(messages) - 1 if end and len(messages) > 1 else len(messages)]:
        try:
            number = dec.records_read
            rows.append(dec.decode(m))
            if dec.records_read > number:
                taken.append((number, m, rows[-1]))
        except spikecodec.FormatError:
            refused = True
    if data[:1] and data[0] & 2:
        _exercise_numbered(messages[0], taken, data, max_bytes)
    if not end or len(messages) < 2:
        return "rejected" if refused else "ok"
    try:
        dec.end(messages[-1])
    except spikecodec.FormatError:
        return "rejected"
    if refused:
        return "rejected"
    whole = spikecodec.decode(b"".join(messages), limits=_limits(max_bytes, None))
    got = np.concatenate(rows) if rows else np.zeros((0, *dec.frame_shape), np.uint8)
    if whole.shape != got.shape or not np.array_equal(whole, got):
        raise AssertionError(f"the messages decoded to {got.shape}, their concatenation to {whole.shape}")
    return "ok"
