"""The frame-by-frame API used carelessly: SpikeWriter, SpikeStream, LinkEncoder/LinkDecoder and
selections, given what a hurried or hostile caller gives them. Each case either works as
documented or fails with a clear error, and never leaves a file or stream that a reader refuses
or reads as other data."""

from __future__ import annotations

import io
import itertools
import random

import numpy as np
import pytest

import spikecodec
from spikecodec import FormatError, LinkDecoder, LinkEncoder, SpikeStream, SpikeWriter


def frames_of(n: int, shape=(2, 3, 3), seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, *shape)) < 0.4).astype(np.uint8)


class _FailingOnce:
    """A writer's pipeline whose ``fail_at``-th chunk encode raises (a transient MemoryError, a
    Ctrl-C in the coder); everything else is the real pipeline's."""

    def __init__(self, pipeline, fail_at: int):
        self._pipeline = pipeline
        self._calls = 0
        self._fail_at = fail_at

    def __getattr__(self, name):
        return getattr(self._pipeline, name)

    def encode(self, values, spec):
        self._calls += 1
        if self._calls == self._fail_at:
            raise MemoryError("transient failure in the coder")
        return self._pipeline.encode(values, spec)


# -- SpikeWriter ---------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_append_past_the_declared_length_is_refused_and_the_file_still_finishes(chunk: int) -> None:
    # A frame refused for passing length= stayed buffered: close() then failed the same way, and
    # the file was left without its index (with chunk=3 the extra frame was even accepted).
    f = frames_of(4)
    buf = io.BytesIO()
    w = SpikeWriter(buf, codec="raw", length=3, chunk=chunk)
    for frame in f[:3]:
        w.append(frame)
    with pytest.raises(ValueError, match="declared length=3"):
        w.append(f[3])
    assert w.frames_written == 3
    w.close()
    np.testing.assert_array_equal(spikecodec.decode(buf.getvalue()), f[:3])


@pytest.mark.parametrize("chunk", [1, 2])
def test_append_retried_after_a_failed_encode_writes_each_frame_once(chunk: int) -> None:
    # The frame whose row failed to encode stayed pending: append() tried again put it in twice,
    # and with chunk=1 every later row grew taller than its chunk - a file no reader takes.
    f = frames_of(6)
    buf = io.BytesIO()
    w = SpikeWriter(buf, codec="raw", chunk=chunk)
    w._pipeline = _FailingOnce(w._pipeline, fail_at=2)
    failures = 0
    for frame in f:
        try:
            w.append(frame)
        except MemoryError:
            failures += 1
            w.append(frame)  # the caller tries the frame again
    assert failures == 1
    assert w.frames_written == len(f)
    w.close()
    np.testing.assert_array_equal(spikecodec.decode(buf.getvalue()), f)


def test_failed_append_does_not_count_the_frame() -> None:
    f = frames_of(3)
    w = SpikeWriter(io.BytesIO(), codec="raw")
    w.append(f[0])
    w._pipeline = _FailingOnce(w._pipeline, fail_at=1)
    with pytest.raises(MemoryError):
        w.append(f[1])
    assert w.frames_written == 1
    w.append(f[1])
    assert w.frames_written == 2
    w.abandon()


@pytest.mark.parametrize("bad, error", [
    (np.zeros((2, 3)), ValueError), (np.zeros((1, 2, 3, 3)), ValueError), (np.full((2, 3, 3), 2), ValueError),
    (np.full((2, 3, 3), 0.5), ValueError), (np.full((2, 3, 3), -1), ValueError), (np.full((2, 3, 3), np.nan), ValueError),
    (np.ones((2, 3, 3), complex), ValueError), (np.full((2, 3, 3), "1"), ValueError), (None, ValueError),
])
def test_bad_frames_are_refused_and_the_writer_goes_on(bad, error) -> None:
    f = frames_of(2)
    buf = io.BytesIO()
    with SpikeWriter(buf, codec="raw") as w:
        w.append(f[0])
        with pytest.raises(error):
            w.append(bad)
        w.append(f[1])
    np.testing.assert_array_equal(spikecodec.decode(buf.getvalue()), f)


def test_writer_after_close_and_twice() -> None:
    buf = io.BytesIO()
    w = SpikeWriter(buf, codec="raw")
    w.append(frames_of(1)[0])
    w.close()
    w.close()  # a second close does nothing
    w.abandon()
    for call in (lambda: w.append(frames_of(1)[0]), w.flush, lambda: w.write_frames(frames_of(2))):
        with pytest.raises(ValueError, match="closed"):
            call()
    assert spikecodec.decode(buf.getvalue()).shape == (1, 2, 3, 3)


def test_existing_file_is_left_as_it_was_when_the_first_frame_is_refused(tmp_path) -> None:
    p = tmp_path / "x.spk"
    p.write_bytes(b"OLD")
    for make, frame in [(dict(axes="AB"), frames_of(1)[0]), (dict(), frames_of(1)[0] + 3), (dict(), "text")]:
        w = SpikeWriter(p, codec="raw", **make)
        with pytest.raises((ValueError, TypeError)):
            w.append(frame)
        with pytest.raises(ValueError, match="no frame"):
            w.close()
        assert p.read_bytes() == b"OLD"


@pytest.mark.parametrize("file, error", [
    (io.StringIO(), TypeError), (None, TypeError), (3, TypeError), (b"x.spk", TypeError),
])
def test_writer_refuses_what_is_no_binary_output(file, error) -> None:
    with pytest.raises(error):
        SpikeWriter(file)


@pytest.mark.parametrize("options", [dict(workers=0), dict(workers=1.5), dict(workers=True), dict(length=-1),
                                     dict(length=True), dict(bits=3), dict(chunk=0), dict(chunk=1.5), dict(chunk="1")])
def test_writer_options_refused_at_once(options) -> None:
    with pytest.raises((ValueError, TypeError)):
        SpikeWriter(io.BytesIO(), **options)


# -- SpikeStream ----------------------------------------------------------------------------------

class _TextReader:
    """A duck-typed reader that decodes what it reads: read() gives str."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, n: int = -1) -> str:
        self.calls += 1
        assert self.calls < 1000, "read() called on and on: the stream loops on text"
        return "\x8aSPK"


class _Overreader:
    """A reader that gives more bytes than asked."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int = -1) -> bytes:
        part = self.data[self.pos : self.pos + (n if n >= 0 else len(self.data)) + 5]
        self.pos += len(part)
        return part


def test_stream_of_a_reader_that_returns_text_is_a_type_error() -> None:
    # It looped, each str taken as bytes that never added up to the preamble, memory growing.
    with pytest.raises(TypeError, match="returned str, not bytes"):
        SpikeStream(_TextReader())


def test_stream_of_a_reader_that_returns_more_than_asked_says_so() -> None:
    data = spikecodec.encode(frames_of(3), codec="raw")
    with pytest.raises(ValueError, match="more than asked"):
        SpikeStream(_Overreader(data))


class _Trickle(io.RawIOBase):
    """A pipe-like raw reader that hands out at most ``k`` bytes a read."""

    def __init__(self, data: bytes, k: int):
        self.data, self.pos, self.k = data, 0, k

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        k = min(self.k, len(buf), len(self.data) - self.pos)
        buf[:k] = self.data[self.pos : self.pos + k]
        self.pos += k
        return k


@pytest.mark.parametrize("k", [1, 2, 3, 7])
@pytest.mark.parametrize("buffered", [False, True])
def test_stream_read_in_tiny_pieces(k: int, buffered: bool) -> None:
    f = frames_of(5)
    buf = io.BytesIO()
    with SpikeWriter(buf, codec="raw", records="compact") as w:
        for frame in f:
            w.append(frame)
    raw = _Trickle(buf.getvalue(), k)
    s = SpikeStream(io.BufferedReader(raw) if buffered else raw)
    np.testing.assert_array_equal(np.concatenate(list(s)), f)


def test_stream_truncated_or_with_garbage_is_refused_never_misread() -> None:
    f = frames_of(4)
    buf = io.BytesIO()
    with SpikeWriter(buf, codec="raw", records="compact") as w:
        for frame in f:
            w.append(frame)
            w.flush()
    data = buf.getvalue()
    variants = [data[:cut] for cut in range(len(data))]
    variants += [data[:i] + b"\x00junk" + data[i:] for i in range(0, len(data), 4)]
    variants += [data[:i + 5] + data[i:i + 5] + data[i + 5:] for i in range(0, len(data), 6)]
    for v in variants:
        with pytest.raises(FormatError):
            list(SpikeStream(v))


@pytest.mark.parametrize("source", [None, 5, np.zeros(4, np.uint8), io.StringIO("x")])
def test_stream_refuses_what_is_no_binary_input(source) -> None:
    with pytest.raises(TypeError):
        SpikeStream(source)


# -- LinkEncoder / LinkDecoder ------------------------------------------------------------------

def test_link_message_that_failed_to_encode_leaves_nothing_behind() -> None:
    # The records a failed encode() made before the failure stayed in the encoder and went out in
    # front of the next message: a batch sent again after the error arrived with frames twice.
    f = frames_of(4, (2, 2, 3, 3))
    enc = LinkEncoder((2, 2, 3, 3), codec="context")
    writer = enc._writer
    writer._pipeline = _FailingOnce(writer._pipeline, fail_at=2)
    with pytest.raises(MemoryError):
        enc.encode(f[:3])
    assert enc.next_record == 0 and enc.messages == 0
    messages = [enc.encode(f[:3]), enc.encode(f[3])]
    dec = LinkDecoder(enc.header)
    assert [dec.decode(m).shape[0] for m in messages] == [3, 1]
    dec = LinkDecoder(enc.header)
    np.testing.assert_array_equal(np.concatenate([dec.decode(m) for m in messages]), f)
    dec.end(enc.end())


def test_link_reordered_replayed_and_foreign_messages_never_decode_wrongly() -> None:
    shape = (2, 2, 3, 3)
    f = frames_of(5, shape)
    enc, other = LinkEncoder(shape, codec="context"), LinkEncoder(shape, codec="context")
    msgs = [enc.encode(x) for x in f]
    foreign = [other.encode(x) for x in f]
    sequences = [[msgs[i] for i in p] for p in itertools.islice(itertools.permutations(range(5)), 40)]
    sequences += [msgs[: i + 1] + [msgs[i]] + msgs[i + 1 :] for i in range(5)]
    sequences += [msgs[:i] + [foreign[i]] + msgs[i:] for i in range(5)]
    sequences += [msgs[:i] + [msgs[i][:c], msgs[i][c:]] + msgs[i + 1 :] for i in range(5) for c in range(1, len(msgs[i]))]
    for seq in sequences:
        dec = LinkDecoder(enc.header)
        for m in seq:
            try:
                out = dec.decode(m)
            except (FormatError, ValueError):
                continue
            assert m in msgs, "a foreign or cut message was decoded"
            np.testing.assert_array_equal(out, f[msgs.index(m)][None])


def test_link_misuse_is_refused_clearly() -> None:
    shape = (2, 2, 3, 3)
    f = frames_of(2, shape)
    enc = LinkEncoder(shape, codec="context")
    with pytest.raises(ValueError, match="shaped"):
        enc.encode(f[0][0])
    with pytest.raises(ValueError):
        enc.encode(f[0] + 2)
    assert enc.next_record == 0
    m = enc.encode(f[0])
    dec = LinkDecoder(enc.header)
    for bad in (None, "x", 5, [1, 2], np.zeros(3, np.int64)):
        with pytest.raises(TypeError):
            dec.decode(bad)
    for record, error in ((-1, ValueError), (1.5, TypeError), (True, TypeError), ("0", TypeError), (2 ** 63, ValueError)):
        with pytest.raises(error):
            dec.decode(m, record=record)
    with pytest.raises(FormatError):
        dec.decode(enc.header)
    with pytest.raises(FormatError):
        dec.decode(m[:-1])
    np.testing.assert_array_equal(dec.decode(m), f[:1])  # the intact message after the errors
    with pytest.raises(ValueError, match="decoded already"):
        dec.decode(m, record=0)
    end = enc.end()
    with pytest.raises(ValueError, match="ended"):
        enc.encode(f[1])
    dec.end(end)
    with pytest.raises(ValueError, match="ended"):
        dec.decode(m)
    for header in (None, "x", m, enc.header + m, enc.header[:-1]):
        with pytest.raises((TypeError, FormatError)):
            LinkDecoder(header)


# -- selections ---------------------------------------------------------------------------------

def test_selections_match_numpy_or_are_refused() -> None:
    a = (np.random.default_rng(0).random((5, 4, 3, 2)) < 0.4).astype(np.uint8)
    r = spikecodec.open(spikecodec.encode(a, codec="raw", chunk=(2, 3)))
    atoms = [0, -1, 4, -5, 5, -6, slice(None), slice(None, None, -1), slice(1, 4, 2), slice(4, 0, -2), slice(10, 20),
             slice(-100, 100), np.int64(2), np.uint8(3), np.int32(-1), Ellipsis, None, [0, 2], [], np.array([], int),
             np.array([True, False, True, False, True]), np.array(2), np.array([-1, 0]), slice(0, 3, 0), 1.0, "a",
             slice(None, None, np.int64(-1)), np.array([[0, 1], [2, 3]]), 2 ** 70, slice(2 ** 70, None)]
    rng = random.Random(1)
    keys = [(k,) for k in atoms] + [tuple(rng.choice(atoms) for _ in range(rng.randint(2, 5))) for _ in range(600)]
    for key in keys:
        try:
            expected = a[key]
        except (IndexError, TypeError, ValueError, OverflowError):
            with pytest.raises((IndexError, TypeError, ValueError)):
                r[key]
            continue
        try:
            got = r[key]
        except TypeError as exc:  # np.newaxis beside an index array: refused, saying what to do
            assert "newaxis" in str(exc)
            continue
        assert got.shape == expected.shape, key
        np.testing.assert_array_equal(got, expected)
    r.close()
    with pytest.raises(ValueError, match="closed"):
        r[0]
