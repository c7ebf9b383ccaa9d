"""What the Python API still got wrong when called carelessly (a sweep of the library by kind of
mistake, as test_careless_sweep.py swept the command line): each case is now the right result or
one clear error - a TypeError or ValueError saying what was expected, a FormatError with its
code - never wrong data, an error from deep inside (numpy, io, json), memory asked for by
accident, a file emptied before anything was written, or a file two threads wrote into at once."""

from __future__ import annotations

import gc
import io
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import spikecodec
from spikecodec.output import OutputError

SPIKES = (np.random.default_rng(7).random((3, 2, 4, 5, 5)) < 0.3).astype(np.uint8)
FRAME_SHAPE = (4, 5, 5)
FRAMES = (np.random.default_rng(8).random((4, *FRAME_SHAPE)) < 0.3).astype(np.uint8)


@pytest.fixture
def spk(tmp_path: Path) -> Path:
    path = tmp_path / "x.spk"
    spikecodec.save(path, SPIKES, codec="raw", chunk=1)
    return path


# --- file objects ----------------------------------------------------------------------------------


def test_a_file_not_open_for_the_operation_is_refused_up_front(spk: Path, tmp_path: Path) -> None:
    # A file opened "rb" given to save/SpikeWriter failed at its first write with
    # io.UnsupportedOperation("write"); one opened "wb" given to load read as "file is 0 bytes"
    # (a FormatError blaming the file); a closed one said "write to closed file" from io.
    with open(spk, "rb") as f:
        with pytest.raises(ValueError, match="is not open for writing: open it with 'wb'"):
            spikecodec.save(f, SPIKES)
        with pytest.raises(ValueError, match="is not open for writing"):
            spikecodec.SpikeWriter(f)
    with open(tmp_path / "w.spk", "wb") as f:
        for read in (spikecodec.load, spikecodec.open, spikecodec.SpikeStream):
            with pytest.raises(ValueError, match="is not open for reading: open it with 'rb'"):
                read(f)
    closed = open(tmp_path / "c.spk", "wb")
    closed.close()
    for call in (lambda: spikecodec.save(closed, SPIKES), lambda: spikecodec.SpikeWriter(closed)):
        with pytest.raises(ValueError, match="c.spk' is closed"):
            call()
    closed = open(spk, "rb")
    closed.close()
    for read in (spikecodec.load, spikecodec.SpikeStream):
        with pytest.raises(ValueError, match="x.spk' is closed"):
            read(closed)
    size = spk.stat().st_size
    with open(spk, "ab") as f:  # append mode writes: a spike file may follow other bytes
        spikecodec.save(f, SPIKES, codec="raw")
    with open(spk, "rb") as f:
        f.seek(size)
        np.testing.assert_array_equal(spikecodec.load(f), SPIKES)


@pytest.mark.parametrize("target", [None, 3, b"name.spk", np.zeros(3, np.uint8)])
def test_what_is_no_file_is_a_type_error_before_any_work(target: object) -> None:
    # SpikeWriter(None) and SpikeWriter(b"x.spk") were accepted and failed at the first append
    # with AttributeError ("'NoneType' object has no attribute 'write'"); SpikeStream(None) too.
    with pytest.raises(TypeError, match="expected a path or a binary file object"):
        spikecodec.SpikeWriter(target)  # type: ignore[arg-type]
    if not isinstance(target, bytes):  # bytes are a spike file's bytes to a reader
        with pytest.raises(TypeError, match="expected a path"):
            spikecodec.SpikeStream(target)  # type: ignore[arg-type]


def test_save_into_a_missing_folder_names_the_target(tmp_path: Path) -> None:
    # The error named the temporary file: "No such file or directory: '.../nodir/.x.spk.dgj3qybc.tmp'".
    with pytest.raises(OutputError) as err:
        spikecodec.save(tmp_path / "nodir" / "x.spk", SPIKES)
    assert ".tmp" not in str(err.value) and str(tmp_path / "nodir" / "x.spk") in str(err.value)
    assert "nodir is missing" in str(err.value)


def test_save_into_a_folder_that_takes_no_files_does_not_call_it_missing() -> None:
    # /proc/self exists, yet creating a file in it fails with ENOENT: that was "the folder ... is missing".
    with pytest.raises(OutputError) as err:
        spikecodec.save("/proc/self/x.spk", SPIKES)
    assert "is missing" not in str(err.value) and "takes no new files" in str(err.value)


# --- SpikeWriter ---------------------------------------------------------------------------------


def test_a_writer_refused_before_its_first_frame_leaves_an_existing_file_as_it_was(spk: Path) -> None:
    # SpikeWriter(path) emptied the file when constructed: axes that did not fit the first
    # frame (or a writer closed with no frame) left a file of 0 bytes where a spike file was.
    before = spk.read_bytes()
    with pytest.raises(ValueError, match="3 axis names"):
        with spikecodec.SpikeWriter(spk, codec="raw", axes="TNC") as w:
            w.append(SPIKES[0])
    assert spk.read_bytes() == before
    with pytest.raises(ValueError, match="no frame was appended"):
        spikecodec.SpikeWriter(spk).close()
    assert spk.read_bytes() == before
    with spikecodec.SpikeWriter(spk, codec="raw", chunk=1) as w:  # a written header replaces it, shorter or not
        w.append(SPIKES[0, :1])
    np.testing.assert_array_equal(spikecodec.load(spk), SPIKES[:1, :1])
    new = spk.parent / "new.spk"
    with spikecodec.SpikeWriter(new, codec="raw") as w:  # a new path is created at once, as before
        assert new.exists()
        w.append(SPIKES[0])
    np.testing.assert_array_equal(spikecodec.load(new), SPIKES[:1])
    # A new path given no frame was left as an empty file ("file is 0 bytes" to every reader):
    # it is removed again, however the writer ends.
    empty = spk.parent / "empty.spk"
    with pytest.raises(ValueError, match="no frame was appended"):
        spikecodec.SpikeWriter(empty).close()
    assert not empty.exists()
    with pytest.raises(KeyError):
        with spikecodec.SpikeWriter(empty):
            raise KeyError("before any frame")
    assert not empty.exists()
    writer = spikecodec.SpikeWriter(empty)  # dropped, neither closed nor given a frame: was left as a 0-byte file
    assert empty.exists()
    del writer
    gc.collect()
    assert not empty.exists()
    writer = spikecodec.SpikeWriter(spk)  # a file that was there stays as it was
    del writer
    gc.collect()
    np.testing.assert_array_equal(spikecodec.load(spk), SPIKES[:1, :1])


def test_a_reused_frame_buffer_is_written_as_it_was_at_each_append() -> None:
    # append() kept a view of the caller's frame until its row was full: a camera-style loop
    # that fills one buffer per frame wrote chunk=4 rows of four copies of the last frame.
    buffer = np.empty(FRAME_SHAPE, np.uint8)
    sink = io.BytesIO()
    with spikecodec.SpikeWriter(sink, codec="raw", chunk=4) as w:
        for frame in FRAMES:
            buffer[...] = frame
            w.append(buffer)
    np.testing.assert_array_equal(spikecodec.decode(sink.getvalue()), FRAMES)


def test_write_frames_keeps_the_chunk_it_was_given() -> None:
    # A writer of unknown length sized its chunk by its first write_frames() call: chunk=4 fed
    # one frame at a time became chunk 1 (every frame coded alone, without its neighbours).
    sink = io.BytesIO()
    with spikecodec.SpikeWriter(sink, codec="raw", chunk=4) as w:
        for frame in FRAMES:
            w.write_frames(frame[None])
    with spikecodec.open(sink.getvalue()) as r:
        assert r.chunk_shape == (4,) and len(r.entries) == 1
        np.testing.assert_array_equal(r.read(), FRAMES)
    sink = io.BytesIO()
    with spikecodec.SpikeWriter(sink, codec="raw", chunk=None) as w:  # no chunk given: the frames size it
        w.write_frames(FRAMES[:3])
    assert spikecodec.open(sink.getvalue()).chunk_shape == (3,)


class _SlowSink(io.RawIOBase):
    """A writable stream whose writes take a while (a socket, a slow disk): threads switch there."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        time.sleep(0.0005)
        self.data += bytes(b)
        return len(b)


def test_a_writer_appended_to_from_two_threads_writes_a_valid_file() -> None:
    # Two threads appending at once made a file whose index pointed between records ("index
    # entry 0: chunk at 182 leaves a gap"): one thread's record went out while the other was
    # still writing the header, both at the same offset.
    sink = _SlowSink()
    w = spikecodec.SpikeWriter(sink, codec="raw", chunk=2)

    def work(value: int) -> None:
        for i in range(10):
            w.append(np.full(FRAME_SHAPE, value, np.uint8))
            if i % 3 == 0:
                w.flush()

    threads = [threading.Thread(target=work, args=(v,)) for v in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    got = spikecodec.decode(bytes(sink.data))
    assert got.shape == (20, *FRAME_SHAPE)
    per_frame = got.reshape(20, -1)
    assert (per_frame.min(1) == per_frame.max(1)).all() and per_frame.max(1).sum() == 10


@pytest.mark.parametrize("metadata, error, message", [
    ([("a", 1)], TypeError, "metadata must be a dict"),   # was dict()'s "cannot convert dictionary update sequence element"
    ("ab", TypeError, "metadata must be a dict"),          # was dict()'s "dictionary update sequence element #0 has length 1"
    ({"a": float("nan")}, ValueError, "NaN and infinities are not JSON"),  # was json's "Out of range float values", at the first append
    ({1: "x"}, TypeError, "metadata keys must be strings"),  # was written as {"1": "x"}: read back, another key
    ({"a": {2: "x"}}, TypeError, "metadata keys must be strings"),
    ({"1": 1, 1: 2}, TypeError, r"metadata keys must be strings \(JSON object keys\), got int 1"),  # was "'<' not supported between ..."
    ({"a": [{"b": {(1, 2): 3}}]}, TypeError, r"metadata keys must be strings \(JSON object keys\), got tuple \(1, 2\)"),
    ({"a": "caf\udce9"}, ValueError, "not valid Unicode"),  # was UnicodeEncodeError from the header's encoder
])
def test_metadata_is_checked_when_the_writer_is_made(metadata: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        spikecodec.SpikeWriter(io.BytesIO(), metadata=metadata)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        spikecodec.encode(SPIKES, metadata=metadata)  # type: ignore[arg-type]


def test_axes_are_strings() -> None:
    # axes=b"TNCHW" named the axes "84", "78", "67", "72", "87" (the bytes' values, through
    # str()); a name given as an int or None became "5" or "None".
    for axes in (b"TNCHW", ("T", "N", "C", "H", 5), ["T", None, "C", "H", "W"], {"T": 0}):
        with pytest.raises(TypeError, match="axes must be a string|axis names must be strings"):
            spikecodec.encode(SPIKES, axes=axes, codec="raw")  # type: ignore[arg-type]
    assert spikecodec.open(spikecodec.encode(SPIKES, axes=iter("tnchw"), codec="raw")).axes == tuple("tnchw")


def test_a_0d_integer_array_is_a_chunk_size() -> None:
    # chunk=np.array(2) was numpy's "TypeError: iteration over a 0-d array".
    data = spikecodec.encode(SPIKES, chunk=np.array(2), codec="raw")
    assert spikecodec.open(data).chunk_shape == (2,)
    np.testing.assert_array_equal(spikecodec.decode(data), SPIKES)
    with pytest.raises(TypeError, match="chunk must be an integer"):
        spikecodec.encode(SPIKES, chunk=np.array(2.0))


def test_a_fractional_value_is_named_as_the_number_it_is() -> None:
    # The message read "value np.float64(0.5) at index ..." (the numpy repr).
    with pytest.raises(ValueError, match=r"value 0\.5 at index \(0, 0, 0, 0, 3\) is not a whole number"):
        spikecodec.encode(np.where(np.arange(5) == 3, 0.5, 0.0) * np.ones((3, 2, 4, 5, 1)))


# --- readers -------------------------------------------------------------------------------------


def test_load_dtype_none_is_as_stored(spk: Path) -> None:
    # dtype=None gave float64 (numpy's np.dtype(None)), 8x the memory of what the file holds.
    for got in (spikecodec.load(spk, dtype=None), spikecodec.decode(spk.read_bytes(), dtype=None)):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, SPIKES)


def test_a_file_name_given_as_bytes_is_named_in_the_error(spk: Path) -> None:
    # An outside probe: load(b"x.spk") read the name as the file's contents and said only
    # "<bytes>: file is 5 bytes, too short". Bytes are still contents; the error says so, for any
    # bytes that look like a name (whether that file exists is not looked up).
    for call in (spikecodec.load, spikecodec.open):
        with pytest.raises(spikecodec.FormatError, match="read as a file's contents: give a file's name as str or Path"):
            call(os.fsencode(spk))
    report = spikecodec.validate(os.fsencode(spk))
    assert not report.ok and "give a file's name as str or Path" in report.to_dict()["file"]
    with pytest.raises(spikecodec.FormatError, match="give a file's name"):
        spikecodec.load(b"no/such/file.spk")
    with pytest.raises(spikecodec.FormatError, match=r"^<bytes>: at byte 0: file is 3 bytes"):
        spikecodec.load(b"\x00ab")  # contents that are no name keep the plain name


def test_chunk_numbers_are_checked(spk: Path) -> None:
    # read_chunk(True) was "ValueError: not enough values to unpack (expected 5, got 1)" from the
    # index table; 1.0 and 100 were numpy's messages about array indices.
    with spikecodec.open(spk) as r:
        for method in (r.read_chunk, r.chunk_spec, r.chunk_origin):
            with pytest.raises(TypeError, match="a chunk number is an integer, not bool"):
                method(True)  # type: ignore[arg-type]
            with pytest.raises(TypeError, match="a chunk number is an integer, not float"):
                method(1.0)  # type: ignore[arg-type]
            with pytest.raises(IndexError, match="chunk 3 is out of range: the file holds 3 chunks"):
                method(3)
        np.testing.assert_array_equal(r.read_chunk(-1), SPIKES[2:])
        np.testing.assert_array_equal(r.read_chunk(np.int64(1)), SPIKES[1:2])
        assert r.chunk_origin(-1) == (2,)
        with pytest.raises(TypeError, match="progress must be callable"):  # was "'int' object is not callable", after decoding
            r.read(progress=3)  # type: ignore[arg-type]


def test_a_selection_is_limited_by_what_it_returns(spk: Path) -> None:
    # max_bytes was checked against the span decoded only: r[np.zeros(100, int)] decoded one row
    # (200 bytes) and returned 100 copies of it (20000 bytes) under max_bytes=1000.
    with spikecodec.open(spk, max_bytes=1000) as r:
        for key in (np.zeros(100, int), np.zeros((10, 10), int), (np.zeros(30, int), slice(None), np.zeros(30, int))):
            with pytest.raises(spikecodec.LimitError, match="the selection decodes to"):
                r[key]
        np.testing.assert_array_equal(r[[0, 0, 2]], SPIKES[[0, 0, 2]])  # 600 bytes: within it
        with pytest.raises(IndexError, match="cannot be broadcast together"):  # before decoding, not after
            r[np.array([0, 1]), np.array([0, 1, 1])]


def test_index_arrays_are_bounds_checked_before_they_are_cast(spk: Path) -> None:
    # A uint64 index of 2**64 - 1 was cast to int64 -1 and read the last row (numpy refuses it);
    # a ragged list was numpy's ValueError "setting an array element with a sequence".
    with spikecodec.open(spk) as r:
        with pytest.raises(IndexError, match="out of bounds for axis 0 with size 3"):
            r[np.array([2**64 - 1], np.uint64)]
        with pytest.raises(IndexError, match="out of bounds"):
            r[:, np.array([2**63], np.uint64)]
        with pytest.raises(IndexError, match="must be rectangular"):
            r[[[0, 1], [1]]]
        np.testing.assert_array_equal(r[np.array([2, 0], np.uint64)], SPIKES[[2, 0]])


class _Positions:
    """An array-like of positions (a torch tensor from a sampler is one): numpy indexes with it."""

    def __init__(self, values: list[int]) -> None:
        self.values = values

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return np.array(self.values, dtype=dtype)


def test_new_axes_and_array_likes_select_as_numpy_does(spk: Path) -> None:
    # r[None], r[0, None] and r[..., None] were TypeError "... not NoneType"; an array-like of
    # positions (torch.tensor([0, 2])) was TypeError "... not Tensor", where numpy takes both.
    with spikecodec.open(spk) as r:
        for key in (None, (0, None), (Ellipsis, None), (None, slice(None, None, -1), 1, Ellipsis, None, 3),
                    (1, None, slice(0, 2), Ellipsis, None), (None, 0, 0, 0, 0, 0)):
            got = r[key]
            assert got.shape == SPIKES[key].shape, key
            np.testing.assert_array_equal(got, SPIKES[key])
        np.testing.assert_array_equal(r[_Positions([0, 2])], SPIKES[[0, 2]])
        np.testing.assert_array_equal(r[1, _Positions([1, 0])], SPIKES[1, [1, 0]])
        with pytest.raises(TypeError, match="select first, then add the axis"):
            r[None, [0, 1]]


def test_a_read_racing_close_is_the_closed_error(spk: Path) -> None:
    # A thread that passed the reader's open check while another closed it read from the closed
    # descriptor's None: AttributeError "'NoneType' object has no attribute 'seek'" (seen with 3
    # threads reading while the main thread closed). The race's second half, made certain:
    r = spikecodec.open(spk)
    r._src.close()
    with pytest.raises(ValueError, match="read from a closed spike file"):
        r[1]
    r.close()


def test_a_stream_looped_over_again_goes_on_where_it_stopped(spk: Path) -> None:
    # A second `for` loop after a `break` started the tiling again at row 0 in the middle of the
    # bytes: FormatError "chunk origin (1,) out of order: expected (0,)", blaming the file.
    with spikecodec.SpikeStream(spk) as s:
        for first in s:
            break
        rest = list(s)
        assert list(s) == []
    np.testing.assert_array_equal(np.concatenate([first, *rest]), SPIKES)
    s = spikecodec.SpikeStream(spk)
    s.close()
    with pytest.raises(ValueError, match="the stream is closed"):  # was io's "read of closed file"
        list(s)


# --- link messages -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [10**6, "header", Path("header.bin"), None])
def test_link_messages_must_be_bytes(bad: object) -> None:
    # LinkDecoder(n) decoded bytes(n): n zero bytes (LinkDecoder(10**10) asked for 10 GB before
    # failing); a Path was taken as the bytes of its name; None and str were bytes()'s messages.
    enc = spikecodec.LinkEncoder(FRAME_SHAPE, codec="raw")
    with pytest.raises(TypeError, match="the header must be"):
        spikecodec.LinkDecoder(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="the header must be"):
        spikecodec.LinkEncoder.from_header(bad)  # type: ignore[arg-type]
    dec = spikecodec.LinkDecoder(enc.header)
    with pytest.raises(TypeError, match="the message must be"):
        dec.decode(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="the end message must be"):
        dec.end(bad)  # type: ignore[arg-type]
    # bytes in any buffer still decode, and a refused message moved nothing
    message = enc.encode(FRAMES[0])
    np.testing.assert_array_equal(dec.decode(np.frombuffer(message, np.uint8)), FRAMES[:1])
    np.testing.assert_array_equal(dec.decode(bytearray(enc.encode(FRAMES[1]))), FRAMES[1:2])
    dec.end(memoryview(enc.end()))


def test_a_link_decoder_shared_by_threads_takes_a_message_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two threads decoding the same message at once both decoded it as record 0 (each started
    # from the place the other had not yet moved): a duplicated message gave its frames twice.
    # Decoding is slowed here (as a ctxmix chunk, with the GIL released, takes its time).
    from spikecodec.container import link

    decode_record = link.decode_record

    def slow(*args, **kwargs):
        time.sleep(0.05)
        return decode_record(*args, **kwargs)

    monkeypatch.setattr(link, "decode_record", slow)
    enc = spikecodec.LinkEncoder(FRAME_SHAPE, codec="raw")
    message = enc.encode(FRAMES[0])
    dec = spikecodec.LinkDecoder(enc.header)
    outcomes: list[str] = []

    def take() -> None:
        try:
            dec.decode(message)
            outcomes.append("decoded")
        except spikecodec.FormatError as exc:
            outcomes.append(exc.code or "")

    threads = [threading.Thread(target=take) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["compact-check", "decoded"] and dec.records_read == 1


def test_encoding_while_another_thread_imports_numpy_ma(monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by a test run on its own (tests/serve: threads encoding at once): while one thread
    # imports numpy.ma, the module sits in sys.modules without its classes, and the masked-array
    # check of every other thread's encode raised AttributeError 'no attribute MaskedArray'.
    import sys
    import types

    from spikecodec.elements import to_numpy

    spikes = np.ones((2, 3, 4), np.uint8)
    monkeypatch.setitem(sys.modules, "numpy.ma", types.ModuleType("numpy.ma"))  # as it is mid-import
    assert to_numpy(spikes) is spikes  # the check every encode, save and link message starts with


def test_link_encoder_refuses_a_masked_array() -> None:
    # LinkEncoder.encode converted with np.asarray, which drops the mask: the values under it
    # were sent as spikes (save and encode refuse a masked array).
    enc = spikecodec.LinkEncoder(FRAME_SHAPE, codec="raw")
    masked = np.ma.masked_array(FRAMES[0] * 5, mask=FRAMES[0] == 1)
    with pytest.raises(TypeError, match="masked array"):
        enc.encode(masked)
    assert enc.messages == 0
    dec = spikecodec.LinkDecoder(enc.header)
    np.testing.assert_array_equal(dec.decode(enc.encode(masked.filled(0))), masked.filled(0)[None])


def test_a_message_after_the_end_is_refused_as_such() -> None:
    # A message decoded after end() was "message is record 0 of this stream, expected record 1
    # (out of order)": a FormatError blaming the message for the caller's use of the decoder.
    enc = spikecodec.LinkEncoder(FRAME_SHAPE, codec="raw")
    first = enc.encode(FRAMES[0])
    dec = spikecodec.LinkDecoder(enc.header)
    dec.decode(first)
    last = enc.end()
    with pytest.raises(spikecodec.FormatError, match="the stream ended after 1 records"):
        spikecodec.LinkDecoder(enc.header).end(last)  # an end before the messages: still the stream's fault
    dec.end(last)
    with pytest.raises(ValueError, match="the stream has ended") as err:
        dec.decode(first)
    assert not isinstance(err.value, spikecodec.FormatError)
    with pytest.raises(ValueError, match="the stream has ended") as err:  # the end again was accepted again
        dec.end(last)
    assert not isinstance(err.value, spikecodec.FormatError)


def test_options_take_numpy_numbers_and_refuse_what_only_looks_like_a_value() -> None:
    # max_bytes=np.int64(...) and a zstd level of np.int64 were refused while workers= took them;
    # recover="false" is a true string and turned recovery on; priors=3, [None] and a dict
    # failed inside os.fspath or iterated the dict's keys as paths.
    from spikecodec.codecs import get_codec

    data = spikecodec.encode(np.zeros((2, 3), np.uint8))
    assert spikecodec.load(data, max_bytes=np.int64(1000)).shape == (2, 3)
    assert get_codec({"id": "zstd", "level": np.int64(5)}).get_config() == {"level": 5}
    for level in (True, 2.0, "3"):
        with pytest.raises(ValueError, match="zstd level"):
            get_codec({"id": "zstd", "level": level})
    with pytest.raises(TypeError, match="recover must be True or False"):
        spikecodec.load(data, recover="false")
    for priors, message in ((3, "priors= is a prior"), ([None], "a prior is a Prior"), ({"a": 1}, "priors= is a prior")):
        with pytest.raises(TypeError, match=message):
            spikecodec.load(data, priors=priors)
