"""Compact chunk records (FORMAT.md 5.2, 6.2): the same arrays as classic records in fewer
bytes, read by every reader (random access, streams, recovery, validation), and every record
checked against its stream and its place."""

from __future__ import annotations

import io

import numpy as np
import pytest

import spikecodec
from spikecodec import FormatError, SpikeStream, SpikeWriter
from spikecodec.container.records import read_varint, varint
from spikecodec.container.reader import BytesCursor

rng = np.random.default_rng(0)
X = (rng.random((40, 2, 3, 6, 6)) < 0.3).astype(np.uint8)


def compact(x=X, **options) -> bytes:
    return spikecodec.encode(x, axes="NTCHW", chunk=options.pop("chunk", 1), records="compact", **options)


@pytest.mark.parametrize("codec", ["raw", "zstd", "context", "ctxmix", "auto"])
@pytest.mark.parametrize("chunk", [1, 3, (2, 1, 2)])
def test_same_array_fewer_bytes(codec, chunk):
    classic = spikecodec.encode(X, axes="NTCHW", chunk=chunk, codec=codec)
    data = compact(chunk=chunk, codec=codec)
    assert len(data) < len(classic)
    np.testing.assert_array_equal(spikecodec.decode(data), X)
    with spikecodec.open(data) as r:
        assert r.records == "compact" and r.version == (1, 7)  # keyed checks (1.3 without them: compact-unkeyed)
        np.testing.assert_array_equal(r[7:19, :, 1], X[7:19, :, 1])
        assert [e.spike_count for e in r.entries][:1] == [None]
    assert spikecodec.validate(data).ok
    np.testing.assert_array_equal(np.concatenate(list(SpikeStream(data))), X)


def test_varints_are_minimal_leb128():
    for v in (0, 1, 127, 128, 300, 2**63, 2**64 - 1):
        raw = varint(v)
        assert read_varint(BytesCursor(raw, 0), 0, "x") == (v, raw)
    for bad, why in ((b"\x80\x00", "not minimally"), (b"\xff" * 10 + b"\x01", "longer than"), (b"\x80", "ends inside"),
                     (b"\xff" * 9 + b"\x02", "above 2\\*\\*64")):
        with pytest.raises(FormatError, match=why):
            read_varint(BytesCursor(bad, 0), 0, "x")


def test_short_rows_state_their_height_and_large_payloads_carry_crc32():
    buf = io.BytesIO()
    with SpikeWriter(buf, codec="raw", axes="NTCHW", chunk=4, records="compact") as w:
        for i in range(6):
            w.append(X[i])
            if i == 1:
                w.flush()  # a row of 2 (< 4): its record states its height
        w.append(X[6])
    data = buf.getvalue()
    with spikecodec.open(data) as r:
        assert [e.row_length for e in r.entries] == [2, 4, 1]
    np.testing.assert_array_equal(spikecodec.decode(data), X[:7])
    big = (rng.random((3, 2, 8, 32, 32)) < 0.5).astype(np.uint8)  # raw payload of 2 KiB: a CRC-32
    data = compact(big, codec="raw")
    with spikecodec.open(data) as r:
        assert r.entries[0].size == 2 + 2048 + 4
    np.testing.assert_array_equal(spikecodec.decode(data), big)


def _records(data: bytes):
    with spikecodec.open(data) as r:
        return r._data_start, list(r.entries)


def test_a_record_in_the_wrong_place_or_stream_fails_its_check():
    data = compact(codec="ctxmix")
    start, entries = _records(data)
    a, b = entries[0], entries[1]
    swapped = data[:start] + data[b.offset : b.offset + b.size] + data[a.offset : a.offset + a.size] + data[b.offset + b.size :]
    if a.size == b.size:  # the same file layout, only the places changed
        report = spikecodec.validate(swapped)
        assert not report.ok and any("check mismatch" in p.message for p in report.problems)
    other = compact(codec="ctxmix", metadata={"camera": 2})  # another stream: another header CRC
    o_start, o_entries = _records(other)
    e = o_entries[0]
    spliced = data[:start] + other[e.offset : e.offset + e.size] + data[start + entries[0].size :]
    with pytest.raises(FormatError, match="check mismatch"):
        spikecodec.decode(spliced)
    flipped = bytearray(data)
    flipped[entries[3].offset + 3] ^= 0x10
    with pytest.raises(FormatError, match="record 3 check mismatch"):
        spikecodec.decode(bytes(flipped))


def test_the_index_must_count_what_the_walk_finds():
    data = compact(codec="raw")
    start, entries = _records(data)
    end = entries[-1].offset + entries[-1].size
    from spikecodec.container.records import encode_compact_index, encode_trailer

    for count, rows in ((39, 40), (40, 41)):
        index = encode_compact_index(count, rows)
        bad = data[:end] + index + encode_trailer(end, len(index))
        with pytest.raises(FormatError, match="the index counts"):
            spikecodec.decode(bad)


@pytest.mark.parametrize("cut", [1, 5, 30, 200])
def test_recovery_keeps_every_complete_record(cut):
    data = compact(codec="ctxmix", chunk=2)
    start, entries = _records(data)
    end = entries[-1].offset + entries[-1].size
    truncated = data[: end - cut]
    whole = sum(1 for e in entries if e.offset + e.size <= end - cut)
    with spikecodec.open(truncated, recover=True) as r:
        assert r.recovered and len(r.entries) == whole
        np.testing.assert_array_equal(r.read(), X[: 2 * whole])
    with pytest.raises(FormatError):
        list(SpikeStream(truncated))


def test_empty_arrays_and_a_stream_of_unknown_length():
    empty = np.zeros((3, 0, 4), np.uint8)
    data = spikecodec.encode(empty, records="compact", codec="ctxmix")
    assert spikecodec.decode(data).shape == (3, 0, 4)
    buf = io.BytesIO()
    with SpikeWriter(buf, codec="ctxmix", axes="NTCHW", records="compact") as w:
        for frame in X[:5]:
            w.append(frame)
    np.testing.assert_array_equal(spikecodec.decode(buf.getvalue()), X[:5])


def test_no_chunk_at_all_reads_back_with_its_frames():
    # An inner chunked axis of extent 0 makes G = 0 (FORMAT.md 4.2): the compact index's rows are
    # then 0 (6.2). The writer wrote shape[0] there, and no reader (the library's included) read
    # the file; a stream of unknown length cannot count its frames at all, and is refused.
    import io

    x = np.zeros((3, 0, 4), np.uint8)
    for records in ("classic", "compact"):
        data = spikecodec.encode(x, codec="raw", chunk=[1, 1], records=records)
        assert spikecodec.validate(data).ok
        assert spikecodec.decode(data).shape == (3, 0, 4)
        with spikecodec.SpikeWriter(buf := io.BytesIO(), codec="raw", chunk=[1, 1], records=records, axes="TNC", length=3) as w:
            for frame in x:
                w.append(frame)
        assert spikecodec.decode(buf.getvalue()).shape == (3, 0, 4)
        w = spikecodec.SpikeWriter(io.BytesIO(), codec="raw", chunk=[1, 1], records=records, axes="TNC")
        with pytest.raises(ValueError, match="give length="):
            w.append(x[0])


def test_a_walk_of_many_tiny_records_keeps_columns_not_entry_objects(tmp_path):
    # Compact records have no index of places: opening (or validating) a file walks them all. The
    # walk kept an IndexEntry a record beside the table: about 225 bytes a 4-byte record at its peak.
    import tracemalloc

    n = 40_000
    x = (np.random.default_rng(3).random((n, 1, 1, 1, 1)) < 0.3).astype(np.uint8)
    path = tmp_path / "tiny.spk"
    spikecodec.save(path, x, codec="raw", chunk=1, records="compact")
    spikecodec.open(path).close()  # imports and compiles outside the measure
    tracemalloc.start()
    try:
        with spikecodec.open(path) as r:
            assert len(r.entries) == n and np.array_equal(r[n - 3 :], x[n - 3 :])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 120 * n, peak / n  # the table's 40 bytes a record, its builder's 41, and slack
    assert spikecodec.validate(path).ok
