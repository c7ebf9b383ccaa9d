"""Build the conformance vectors in spec/vectors/ and their manifest.

Published vectors never change: run with ``--write`` only to add new ones (existing files are
left alone unless ``--force``). ``build_valid(params, array)`` is also what the conformance
tests call to check that re-encoding reproduces each valid vector byte for byte.

    python spec/generate.py --write
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
from pathlib import Path

import numpy as np

import spikecodec
from spikecodec import layout
from spikecodec.container.header import Extension, Header, encode_header
from spikecodec.container.records import IndexEntry, encode_chunk, encode_index, encode_trailer
from spikecodec.elements import pack

HERE = Path(__file__).parent
VECTORS = HERE / "vectors"

# name -> (array recipe, encode parameters). Arrays come from a fixed-seed generator.
VALID: dict[str, dict] = {
    "spikes-raw": {"array": {"shape": [2, 2, 3, 4, 5], "bits": 1, "rate": 0.2, "seed": 1}, "encode": {"codec": "raw", "chunk": [1]}},
    "spikes-zstd": {
        "array": {"shape": [4, 3, 8, 7, 7], "bits": 1, "rate": 0.15, "seed": 2},
        "encode": {"codec": {"id": "zstd", "level": 3}, "chunk": [1], "metadata": {"model": "example", "split": "layer2", "dt": 0.001, "neuron": {"tau": 0.25, "v_th": 0.5}}},
    },
    "counts2-raw": {"array": {"shape": [3, 4, 5], "bits": 2, "rate": 0.3, "seed": 3}, "encode": {"codec": "raw", "axes": ["T", "N", "F"]}},
    "counts4-zstd": {"array": {"shape": [2, 5, 9], "bits": 4, "rate": 0.4, "seed": 4}, "encode": {"codec": "zstd", "axes": ["T", "N", "F"], "chunk": [1, 2]}},
    "counts8-raw": {"array": {"shape": [2, 3, 7], "bits": 8, "rate": 0.5, "seed": 5}, "encode": {"codec": "raw", "axes": ["T", "N", "F"]}},
    "chunks-2d": {
        "array": {"shape": [3, 5, 3, 2, 2], "bits": 1, "rate": 0.25, "seed": 6},
        "encode": {"codec": "raw", "chunk": [2, 2], "metadata": {"note": "partial rows and edge chunks"}},
    },
    "rank1-padding": {"array": {"shape": [13], "bits": 1, "rate": 0.5, "seed": 7}, "encode": {"codec": "raw", "axes": ["T"], "chunk": [5]}},
    "rank8": {"array": {"shape": [2, 1, 2, 1, 2, 1, 2, 3], "bits": 1, "rate": 0.5, "seed": 8}, "encode": {"codec": "raw", "chunk": [1, 1, 2]}},
    "empty-axis": {"array": {"shape": [2, 0, 4], "bits": 1, "rate": 0.0, "seed": 9}, "encode": {"codec": "raw", "axes": ["T", "N", "F"], "chunk": [1]}},
    "streamed": {
        "array": {"shape": [5, 2, 3, 3], "bits": 1, "rate": 0.3, "seed": 10},
        "stream": {"codec": "raw", "axes": ["T", "N", "C", "L"], "chunk": [2], "flush_after": [1]},
    },
    "optional-extension": {
        "array": {"shape": [2, 3, 4], "bits": 1, "rate": 0.3, "seed": 11},
        "encode": {"codec": "raw", "axes": ["T", "N", "F"]},
        "extensions": [{"name": "x-vendor-note", "required": False, "data_hex": "68656c6c6f"}],
    },
}
# The entropy coders (FORMAT.md 9.4) on spikes correlated over time (each neuron mostly repeats
# its pattern), counts and an all-zero chunk, with chunks that hold every timestep.
for _codec in ("order0", "context", "auto"):
    for _case, _bits, _chunk, _rate in (("spikes", 1, [3, 2], 0.3), ("counts2", 2, [3], 0.3), ("counts8", 8, [1], 0.3), ("zeros", 1, [3], 0.0)):
        VALID[f"{_codec}-{_case}"] = {
            "array": {"shape": [3, 3, 4, 6, 6], "bits": _bits, "rate": _rate, "seed": 12, "correlated": True},
            "encode": {"codec": _codec, "chunk": _chunk},
        }
# Added with format 1.1: the optional ``countctx`` codec (FORMAT.md 9.4.7), on the same arrays and
# a 4-bit one whose escape tree holds large values.
for _case, _bits, _chunk, _rate in (("spikes", 1, [3, 2], 0.3), ("counts2", 2, [3], 0.3), ("counts4", 4, [3], 0.3), ("counts8", 8, [1], 0.3), ("zeros", 1, [3], 0.0)):
    VALID[f"countctx-{_case}"] = {
        "array": {"shape": [3, 3, 4, 6, 6], "bits": _bits, "rate": _rate, "seed": 12, "correlated": True},
        "encode": {"codec": "countctx", "chunk": _chunk},
    }

# Added with format 1.2: the optional ``ctxlanes`` codec (FORMAT.md 9.4.8): four lanes of 7 x 7
# planes (the lockstep coder), two lanes of 2-bit counts, one lane (C odd), and all zeros.
for _case, _shape, _bits, _chunk, _rate in (("spikes", [3, 3, 8, 7, 7], 1, [3, 2], 0.3), ("counts2", [3, 3, 6, 6, 6], 2, [3], 0.3),
                                            ("one-lane", [3, 2, 5, 6, 6], 1, [3], 0.3), ("zeros", [3, 3, 8, 7, 7], 1, [3], 0.0)):
    VALID[f"ctxlanes-{_case}"] = {
        "array": {"shape": _shape, "bits": _bits, "rate": _rate, "seed": 13, "correlated": True},
        "encode": {"codec": "ctxlanes", "chunk": _chunk},
    }


def make_array(recipe: dict) -> np.ndarray:
    rng = np.random.default_rng(recipe["seed"])
    shape, bits, rate = recipe["shape"], recipe["bits"], recipe["rate"]
    if recipe.get("correlated"):  # a pattern per neuron, repeated over axis 0 with 10% flips
        fire = (rng.random(shape[1:]) < rate)[None] ^ (rng.random(shape) < 0.1 * (rate > 0))
    else:
        fire = rng.random(shape) < rate
    if bits == 1:
        return fire.astype(np.uint8)
    return np.where(fire, rng.integers(1, 1 << bits, shape), 0).astype(np.uint8)


def _chunk_arg(params: dict) -> dict:
    p = dict(params)
    if "chunk" in p:
        p["chunk"] = tuple(p["chunk"])
    return p


def build_valid(spec: dict, array: np.ndarray) -> bytes:
    """The bytes of a valid vector: the library's own encoding, plus any hand-made extension."""
    if "stream" in spec:
        opts = _chunk_arg(spec["stream"])
        flush_after = set(opts.pop("flush_after", []))
        buf = io.BytesIO()
        with spikecodec.SpikeWriter(buf, bits=spec["array"]["bits"], **opts) as w:
            for t, frame in enumerate(array):
                w.append(frame)
                if t in flush_after:
                    w.flush()
        return buf.getvalue()
    data = spikecodec.encode(array, bits=spec["array"]["bits"], **_chunk_arg(spec["encode"]))
    if "extensions" not in spec:
        return data
    with spikecodec.open(data) as r:
        header = r.header
    exts = tuple(Extension(e["name"], bytes.fromhex(e["data_hex"]), e["required"]) for e in spec["extensions"])
    new_head = encode_header(Header(**{**header.__dict__, "extensions": exts}))
    return _relocate(data, new_head)


def _relocate(data: bytes, new_head: bytes) -> bytes:
    """Replace a file's header, shifting the chunk offsets in the index to match."""
    with spikecodec.open(data) as r:
        old_start = r._data_start
        entries = r.entries
    shift = len(new_head) - old_start
    chunks = data[old_start : entries[-1].offset + entries[-1].size] if entries else b""
    moved = [IndexEntry(e.offset + shift, e.size, e.row_start, e.row_length, e.spike_count) for e in entries]
    return _finish(new_head + chunks, moved)


def _finish(body: bytes, entries: list[IndexEntry]) -> bytes:
    index = encode_index(entries)
    return body + index + encode_trailer(len(body), len(index))


def _crc(b: bytes) -> bytes:
    return struct.pack("<I", layout.crc32(b))


# -- invalid vectors ----------------------------------------------------------------------------
# Each returns (bytes, offset of the problem, text the reported problem must contain).


def _parts(data: bytes):
    with spikecodec.open(data) as r:
        return r.header, r._data_start, list(r.entries)


def _set_header(data: bytes, **changes) -> bytes:
    h, _, _ = _parts(data)
    return _relocate(data, encode_header(Header(**{**h.__dict__, **changes})))


def _patch_header_body(data: bytes, at: int, value: bytes) -> bytes:
    """Overwrite header-body bytes and fix the header CRC, so only the value itself is wrong."""
    size = struct.unpack_from("<I", data, 12)[0]
    b = bytearray(data)
    b[16 + at : 16 + at + len(value)] = value
    b[16 + size : 20 + size] = _crc(bytes(b[: 16 + size]))
    return bytes(b)


def _rebuild_chunks(data: bytes, change) -> tuple[bytes, list[IndexEntry]]:
    """Re-emit every chunk record through ``change(i, origin, extent, spikes, payload)``."""
    h, start, entries = _parts(data)
    k = h.chunk_rank
    hs = layout.chunk_header_size(k)
    out = bytearray(data[:start])
    new_entries = []
    for i, e in enumerate(entries):
        rec = data[e.offset : e.offset + e.size]
        parsed = layout.ChunkHeader.parse(rec[:hs], chunk_rank=k)
        origin, extent, spikes, payload = list(parsed.origin), list(parsed.extent), parsed.spike_count, rec[hs:-4]
        origin, extent, spikes, payload = change(i, origin, extent, spikes, payload)
        record = b"".join(encode_chunk(origin, extent, spikes, payload))
        new_entries.append(IndexEntry(len(out), len(record), origin[0], extent[0], spikes))
        out += record
    return bytes(out), new_entries


def invalid_vectors(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int | None, str]]:
    base = valid["spikes-raw"]
    zbase = valid["spikes-zstd"]
    h, start, entries = _parts(base)
    last = entries[-1]
    size = len(base)
    hsize = struct.unpack_from("<I", base, 12)[0]
    out: dict[str, tuple[bytes, int | None, str]] = {}

    out["truncated"] = (base[: last.offset + last.size // 2], last.offset + last.size // 2 - 24, "no trailer")
    out["empty-file"] = (b"", 0, "too short")
    out["bad-signature"] = (b"\x89PNG\r\n\x1a\n" + base[8:], 0, "bad signature")
    out["unknown-major"] = (base[:8] + b"\x02" + base[9:], 8, "unsupported major version")
    out["header-size-huge"] = (base[:12] + struct.pack("<I", 0xFFFFFFFF) + base[16:], 12, "header size")
    b = bytearray(base)
    b[16 + hsize] ^= 0xFF
    out["header-crc"] = (bytes(b), 16 + hsize, "header CRC mismatch")
    out["rank-too-large"] = (_patch_header_body(base, 0, b"\x09"), 16, "rank 9 is outside")
    out["element-bits-3"] = (_patch_header_body(base, 1, b"\x03"), 16, "element bits 3")
    # shape = 2^40 x 2^40 x ...: every extent legal, the product overflows 2^62.
    out["shape-overflow"] = (_patch_header_body(base, 4, struct.pack("<QQ", 1 << 40, 1 << 40)), 16, "more than")
    out["header-trailing-bytes"] = (_set_metadata_raw(base, trailing=b"\x00"), 16, "malformed header body")
    out["duplicate-axes"] = (_set_header(base, axes=("T", "T", "C", "H", "W")), 16, "not unique")
    out["unknown-codec"] = (_set_header(base, codecs=({"id": "lzma9"},)), 16, "unknown codec id")
    out["bad-codec-parameter"] = (_set_header(zbase, codecs=({"id": "raw"}, {"id": "zstd", "level": 99})), 16, "zstd level")
    out["metadata-nan"] = (_set_metadata_raw(base, metadata=b'{"dt": NaN}'), 16, "metadata is not valid JSON")
    out["metadata-not-object"] = (_set_metadata_raw(base, metadata=b"[1, 2]"), 16, "metadata must be a JSON object")
    out["required-extension"] = (
        _set_header(base, extensions=(Extension("x-must-understand", b"", True),)),
        16,
        "required extension",
    )

    b = bytearray(base)
    b[entries[1].offset + layout.chunk_header_size(h.chunk_rank)] ^= 0x01
    out["chunk-crc"] = (bytes(b), entries[1].offset, "chunk CRC mismatch")

    b = bytearray(base)
    b[last.offset + last.size + 12] ^= 0x01  # first index entry's offset field
    out["index-crc"] = (bytes(b), last.offset + last.size + 12 + 40 * len(entries), "index CRC mismatch")
    b = bytearray(base)
    b[size - 24] ^= 0x01
    out["trailer-crc"] = (bytes(b), size - 8, "trailer CRC mismatch")
    out["trailing-garbage"] = (base + b"\x00", size + 1 - 24, "no trailer")

    chunks = base[start : last.offset + last.size]
    idx_entries = [IndexEntry(e.offset, e.size, e.row_start, e.row_length, e.spike_count) for e in entries]
    overl = list(idx_entries)
    overl[1] = IndexEntry(overl[1].offset - 8, overl[1].size, overl[1].row_start, overl[1].row_length, overl[1].spike_count)
    out["overlapping-chunks"] = (_finish(base[:start] + chunks, overl), start + len(chunks), "overlaps")
    gap_body = base[: entries[1].offset] + b"\x00" * 8 + base[entries[1].offset : last.offset + last.size]
    gapped = [idx_entries[0]] + [IndexEntry(e.offset + 8, e.size, e.row_start, e.row_length, e.spike_count) for e in idx_entries[1:]]
    out["gap-between-chunks"] = (_finish(gap_body, gapped), len(gap_body), "leaves a gap")

    def swap_rows(i, origin, extent, spikes, payload):
        origin[0] = 1 - origin[0] if origin[0] < 2 else origin[0]
        return origin, extent, spikes, payload

    body, ents = _rebuild_chunks(base, swap_rows)
    out["chunk-out-of-order"] = (_finish(body, ents), len(body), "out of order")

    def wrong_count(i, origin, extent, spikes, payload):
        return origin, extent, spikes + (1 if i == 0 else 0), payload

    body, ents = _rebuild_chunks(base, wrong_count)
    out["spike-count-mismatch"] = (_finish(body, ents), start, "spikes, its header says")

    def bad_padding(i, origin, extent, spikes, payload):
        if i == 0:
            payload = payload[:-1] + bytes([payload[-1] | 0x01])
        return origin, extent, spikes, payload

    rbase = valid["rank1-padding"]
    body, ents = _rebuild_chunks(rbase, bad_padding)
    out["nonzero-padding"] = (_finish(body, ents), _parts(rbase)[1], "non-zero padding")

    import zstandard

    _, zstart, zents = _parts(zbase)
    zspec_bytes = np.prod(_parts(zbase)[0].frame_shape) // 8
    bomb = zstandard.ZstdCompressor(level=19).compress(b"\x00" * (2 * int(zspec_bytes) + 65536 + 1))

    def decompression_bomb(i, origin, extent, spikes, payload):
        return origin, extent, 0 if i == 0 else spikes, bomb if i == 0 else payload

    body, ents = _rebuild_chunks(zbase, decompression_bomb)
    out["decompression-bomb"] = (_finish(body, ents), zstart, "more than the")

    def zstd_trailing(i, origin, extent, spikes, payload):
        return origin, extent, spikes, payload + (b"\x00" if i == 0 else b"")

    body, ents = _rebuild_chunks(zbase, zstd_trailing)
    out["zstd-trailing-bytes"] = (_finish(body, ents), zstart, "after the end of the frame")

    b = bytearray(base)
    b[entries[0].offset + 4 : entries[0].offset + 8] = struct.pack("<I", 0xFFFFFFF0)
    out["payload-size-huge"] = (bytes(b), entries[0].offset, "chunk")

    cbase = valid["context-spikes"]
    cstart = _parts(cbase)[1]

    def cut_byte(i, origin, extent, spikes, payload):
        return origin, extent, spikes, payload[:-1] if i == 0 else payload

    def flip_bit(i, origin, extent, spikes, payload):
        return origin, extent, spikes, bytes([payload[0] ^ 1]) + payload[1:] if i == 0 else payload

    body, ents = _rebuild_chunks(cbase, cut_byte)
    out["context-partial-word"] = (_finish(body, ents), cstart, "not a whole number of 32-bit words")
    body, ents = _rebuild_chunks(cbase, flip_bit)
    out["context-corrupt-stream"] = (_finish(body, ents), cstart, "corrupt stream")

    lbase = valid["ctxlanes-spikes"]
    lstart = _parts(lbase)[1]

    def longer_lane(i, origin, extent, spikes, payload):  # lane 0 claims one word more
        return origin, extent, spikes, struct.pack("<I", struct.unpack_from("<I", payload)[0] + 1) + payload[4:] if i == 0 else payload

    def flip_lane_bit(i, origin, extent, spikes, payload):  # lane 1's first word (read last)
        at = 16 + 4 * struct.unpack_from("<I", payload)[0]
        return origin, extent, spikes, payload[:at] + bytes([payload[at] ^ 1]) + payload[at + 1:] if i == 0 else payload

    body, ents = _rebuild_chunks(lbase, longer_lane)
    out["ctxlanes-lane-counts"] = (_finish(body, ents), lstart, "lane word counts add up")
    body, ents = _rebuild_chunks(lbase, flip_lane_bit)
    out["ctxlanes-corrupt-lane"] = (_finish(body, ents), lstart, "corrupt stream")
    return out


def _set_metadata_raw(data: bytes, metadata: bytes | None = None, trailing: bytes = b"") -> bytes:
    """Rebuild the header with raw metadata bytes (bypassing the JSON encoder) or trailing bytes."""
    h, _, _ = _parts(data)
    head = encode_header(h)
    body = bytearray(head[16:-4])
    if metadata is not None:
        old = json.dumps(h.metadata, separators=(",", ":"), sort_keys=True).encode()
        at = body.rindex(struct.pack("<I", len(old)) + old)
        body[at : at + 4 + len(old)] = struct.pack("<I", len(metadata)) + metadata
    body += trailing
    pre = head[:12] + struct.pack("<I", len(body))
    return _relocate(data, pre + bytes(body) + _crc(pre + bytes(body)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="write vectors that do not exist yet")
    ap.add_argument("--force", action="store_true", help="overwrite existing vectors (never for published ones)")
    args = ap.parse_args()
    valid_bytes = {}
    manifest = {"format_version": list(spikecodec.FORMAT_VERSION), "valid": {}, "invalid": {}}
    for name, spec in VALID.items():
        arr = make_array(spec["array"])
        data = build_valid(spec, arr)
        valid_bytes[name] = data
        manifest["valid"][name] = {"spk": f"vectors/valid/{name}.spk", "npy": f"vectors/valid/{name}.npy", "params": f"vectors/valid/{name}.json"}
        if args.write:
            _put(VECTORS / "valid" / f"{name}.spk", data, args.force)
            buf = io.BytesIO()
            np.save(buf, arr)
            _put(VECTORS / "valid" / f"{name}.npy", buf.getvalue(), args.force)
            _put(VECTORS / "valid" / f"{name}.json", (json.dumps(spec, indent=2) + "\n").encode(), args.force)
    for name, (data, offset, problem) in invalid_vectors(valid_bytes).items():
        manifest["invalid"][name] = {"spk": f"vectors/invalid/{name}.spk", "offset": offset, "problem": problem}
        if args.write:
            _put(VECTORS / "invalid" / f"{name}.spk", data, args.force)
    text = json.dumps(manifest, indent=2) + "\n"
    if args.write:
        (HERE / "manifest.json").write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _put(path: Path, data: bytes, force: bool) -> None:
    if path.exists() and not force:
        if path.read_bytes() != data:
            print(f"warning: {path} exists and differs; published vectors are not overwritten", file=sys.stderr)
        return
    path.write_bytes(data)


if __name__ == "__main__":
    sys.exit(main())
