"""SpikeStream: rows of a spike file read front to back, checked, as they arrive."""

from __future__ import annotations

import io

import numpy as np
import pytest

import spikecodec
from spikecodec.container.stream import SpikeStream


@pytest.fixture
def frames() -> np.ndarray:
    return (np.random.default_rng(3).random((10, 2, 3, 5, 4)) < 0.3).astype(np.uint8)


def streamed(frames: np.ndarray, chunk, flush_at: int = 4, codec: str = "auto") -> bytes:
    buf = io.BytesIO()
    with spikecodec.SpikeWriter(buf, axes="NTCHW", chunk=chunk, codec=codec, metadata={"k": 1}) as w:
        w.write_frames(frames[:flush_at])
        w.flush()  # a partial row
        w.write_frames(frames[flush_at:])
    return buf.getvalue()


@pytest.mark.parametrize("chunk, heights", [(3, [3, 1, 3, 3]), ((3, 1), [3, 1, 3, 3]), ((2, 2, 2), [2] * 5)])
def test_rows_in_order_equal_the_frames(frames: np.ndarray, chunk, heights: list[int]) -> None:
    data = streamed(frames, chunk)
    s = SpikeStream(data)
    assert s.axes == tuple("NTCHW") and s.frame_shape == frames.shape[1:] and s.metadata == {"k": 1}
    rows = list(s)
    assert [len(r) for r in rows] == heights  # a flushed partial row arrives as it is
    assert np.array_equal(np.concatenate(rows), frames) and s.bytes_read == len(data)
    assert np.array_equal(spikecodec.load(data), frames)


def test_whole_files_and_empty_arrays(tmp_path, frames: np.ndarray) -> None:
    spikecodec.save(tmp_path / "x.spk", frames, codec="raw")
    with SpikeStream(tmp_path / "x.spk") as s:
        assert s.length == 10 and np.array_equal(np.concatenate(list(s)), frames)
    assert list(SpikeStream(spikecodec.encode(np.zeros((0, 3), np.uint8)))) == []


def test_truncated_or_damaged_streams_raise(frames: np.ndarray) -> None:
    data = streamed(frames, 3)
    for cut, message in [(len(data) - 30, "inside the index"), (len(data) // 2, "(the writer did not finish)"), (20, "header")]:
        with pytest.raises(spikecodec.FormatError, match=message):
            list(SpikeStream(data[:cut]))
    bad = bytearray(data)
    bad[len(data) // 2] ^= 0xFF
    with pytest.raises(spikecodec.FormatError):
        list(SpikeStream(bytes(bad)))


def test_a_finished_file_is_not_waited_on_and_wait_is_checked(tmp_path, frames: np.ndarray) -> None:
    # After the trailer, the check for more bytes waited `wait` seconds (for ever with inf).
    import time

    spikecodec.save(tmp_path / "x.spk", frames, codec="raw")
    start = time.monotonic()
    with SpikeStream(tmp_path / "x.spk", wait=60) as s:
        assert np.array_equal(np.concatenate(list(s)), frames)
    assert time.monotonic() - start < 30
    for wait in (-1, float("nan"), "1", None):
        with pytest.raises(ValueError, match="wait"):
            SpikeStream(tmp_path / "x.spk", wait=wait)


def test_a_writer_on_an_existing_path_leaves_readers_and_followers_the_old_file(tmp_path) -> None:
    # Before: the path was truncated and rewritten in place: a follower read the old session's
    # frames then the new one's as one stream, and a reader opened before decoded the new data.
    import threading
    import time

    path = tmp_path / "live.spk"
    frame = lambda i, s: (np.random.default_rng(1000 * s + i).random((2, 3, 4)) < 0.4).astype(np.uint8)  # noqa: E731
    first = spikecodec.SpikeWriter(path, codec="raw", records="compact")
    for i in range(5):
        first.append(frame(i, 1))
    first.flush()
    got, errors = [], []

    def follow() -> None:
        try:
            for rows in spikecodec.SpikeStream(path, wait=1.5):
                got.extend(rows)
        except spikecodec.FormatError as exc:
            errors.append(exc)

    follower = threading.Thread(target=follow)
    follower.start()
    time.sleep(0.3)
    first._file.close()  # the first session dies without finishing (its lock goes with its file)
    with spikecodec.SpikeWriter(path, codec="raw", records="compact") as second:
        for i in range(10):
            second.append(frame(i, 2))
            second.flush()
    follower.join(10)
    assert len(got) == 5 and all((g == frame(i, 1)).all() for i, g in enumerate(got))
    assert errors and "did not finish" in str(errors[0])
    reader = spikecodec.open(path)  # a finished file, then a third session on the path
    with spikecodec.SpikeWriter(path, codec="raw", records="compact") as third:
        third.append(frame(0, 3))
    np.testing.assert_array_equal(reader[:], np.stack([frame(i, 2) for i in range(10)]))
    np.testing.assert_array_equal(spikecodec.load(path), frame(0, 3)[None])


def test_two_writers_on_one_path_the_second_is_refused(tmp_path) -> None:
    # Before: both reported success; the file held one's frames (the other's gone) or neither whole.
    path = tmp_path / "one.spk"
    for exists in (False, True):
        first = spikecodec.SpikeWriter(path, codec="raw")
        with pytest.raises(OSError, match="another SpikeWriter is writing this file"):
            spikecodec.SpikeWriter(path, codec="raw")
        first.append(np.ones((2, 3), np.uint8))
        with pytest.raises(OSError, match="another SpikeWriter"):
            spikecodec.SpikeWriter(path, codec="raw")
        first.close()
        np.testing.assert_array_equal(spikecodec.load(path), np.ones((1, 2, 3), np.uint8))


def test_short_writes_of_a_raw_file_object_are_written_on_and_a_sink_without_flush_is_taken() -> None:
    # Before: write()'s count was ignored (an unbuffered socket file took 32 KB of 262 KB and the
    # writer said all went), and a sink without flush() raised AttributeError at flush and close.
    import io

    class Trickle(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:
            taken = bytes(b[:100])
            self.data += taken
            return len(taken)

    class Stuck(Trickle):
        def write(self, b) -> int:
            return 0

    class Sink:
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        def write(self, b) -> int:
            self.parts.append(bytes(b))
            return len(b)

    x = (np.random.default_rng(3).random((4, 3, 16, 16)) < 0.5).astype(np.uint8)
    trickle, sink = Trickle(), Sink()
    spikecodec.save(trickle, x, codec="raw")
    np.testing.assert_array_equal(spikecodec.decode(bytes(trickle.data)), x)
    with spikecodec.SpikeWriter(sink, codec="raw") as w:
        w.append(x[0])
        w.flush()
    np.testing.assert_array_equal(spikecodec.decode(b"".join(sink.parts)), x[:1])
    with pytest.raises(OSError, match="short write"):
        spikecodec.save(Stuck(), x, codec="raw")


@pytest.mark.parametrize("records", ["compact", "classic"])
@pytest.mark.parametrize("medium", ["pipe", "file"])
def test_ready_means_the_next_whole_row_is_there(tmp_path, records: str, medium: str) -> None:
    # ready() said True as soon as any byte of the next record had come, so a consumer batching
    # rows (CloudStream) went on to read, and the images it held waited for the rest of a record
    # stalled mid-way. Rows here are two chunks (a row is there when both records are).
    import os

    x = (np.random.default_rng(2).random((3, 4, 6)) < 0.4).astype(np.uint8)
    buf = io.BytesIO()
    with spikecodec.SpikeWriter(buf, codec="raw", chunk=(1, 2), records=records) as w:
        for frame in x:
            w.append(frame)
            w.flush()
    data = buf.getvalue()
    with spikecodec.open(data) as r:
        ends = [e.offset + e.size for e in r.entries]  # records 0, 1: row 0; 2, 3: row 1; ...
    head = ends[0] - r.entries[0].size
    if medium == "pipe":
        rfd, wfd = os.pipe()
        reader = os.fdopen(rfd, "rb")
        send = lambda b: os.write(wfd, b)  # noqa: E731
    else:
        path = tmp_path / "growing.spk"
        path.write_bytes(b"")
        sink = open(path, "ab", buffering=0)
        reader = open(path, "rb")
        send = sink.write
    sent = 0

    def upto(n: int) -> None:
        nonlocal sent
        send(data[sent:n])
        sent = n

    upto(head)
    stream = SpikeStream(reader, wait=5)
    assert not stream.ready()
    upto(ends[0] + 1)  # one record and a byte of the next of the row
    assert not stream.ready()
    upto(ends[1])
    assert stream.ready()
    rows = iter(stream)
    np.testing.assert_array_equal(next(rows), x[:1])
    assert not stream.ready()
    upto(ends[3] - 1)  # all of row 1 but its last byte
    assert not stream.ready()
    upto(ends[3])
    assert stream.ready()
    np.testing.assert_array_equal(next(rows), x[1:2])
    upto(len(data) - 1)  # all but the trailer's last byte
    assert stream.ready()
    np.testing.assert_array_equal(next(rows), x[2:3])
    assert not stream.ready()  # the end is not all there
    upto(len(data))
    if medium == "pipe":
        assert not stream.ready()  # reading the end waits for the writer to close: nothing may follow the trailer
        os.close(wfd)
    else:
        sink.close()
    assert stream.ready()  # the end, whole: reading it does not wait (a loop waiting on ready() ends)
    assert list(rows) == []
    reader.close()
