"""Round trips through the container over shapes, element types, codecs and chunkings."""

import io
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import spikecodec
from spikecodec import FormatError


@st.composite
def arrays_and_options(draw):
    rank = draw(st.integers(1, 5))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=rank, max_size=rank)))
    bits = draw(st.sampled_from([1, 2, 4, 8]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 1 << bits, shape).astype(np.uint8)
    k = draw(st.integers(1, rank))
    chunk = tuple(draw(st.integers(1, 4)) for _ in range(k))
    codec = draw(st.sampled_from(["raw", "zstd", {"id": "zstd", "level": 1}, ["raw", "zstd"]]))
    return array, bits, chunk, codec


@given(arrays_and_options())
def test_encode_decode_round_trip(case):
    array, bits, chunk, codec = case
    data = spikecodec.encode(array, bits=bits, chunk=chunk, codec=codec, metadata={"seed": 1})
    out = spikecodec.decode(data)
    assert out.shape == array.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, array)
    with spikecodec.open(data) as r:
        assert r.bits == bits and r.metadata == {"seed": 1} and r.shape == array.shape
    assert spikecodec.validate(data).ok


_index = st.one_of(
    st.integers(-6, 5),
    st.builds(slice, st.none() | st.integers(-7, 7), st.none() | st.integers(-7, 7), st.sampled_from([None, 1, 2, -1, -3])),
)


@given(
    seed=st.integers(0, 1000),
    chunk=st.sampled_from([(1,), (2,), (2, 2), (3, 1, 2)]),
    key=st.lists(_index, min_size=1, max_size=5),
    ellipsis=st.booleans(),
)
def test_slicing_matches_numpy(seed, chunk, key, ellipsis):
    array = (np.random.default_rng(seed).random((5, 4, 3, 2, 2)) < 0.3).astype(np.uint8)
    key = tuple(key) + ((Ellipsis,) if ellipsis else ())
    with spikecodec.open(spikecodec.encode(array, chunk=chunk)) as r:
        assert_selects_as_numpy(r, array, key)


def assert_selects_as_numpy(reader, array: np.ndarray, key) -> None:
    """``reader[key]`` is ``array[key]`` (values and shape), or an IndexError where numpy's is."""
    try:
        expected = array[key]
    except IndexError:
        with pytest.raises(IndexError):
            reader[key]
        return
    got = reader[key]
    assert got.shape == expected.shape, key
    np.testing.assert_array_equal(got, expected)


def test_slicing_reads_only_the_chunks_it_needs(monkeypatch):
    array = (np.random.default_rng(0).random((6, 8, 2, 3, 3)) < 0.2).astype(np.uint8)
    data = spikecodec.encode(array, chunk=(1, 2))
    with spikecodec.open(data) as r:
        read = []
        original = r._read_chunk
        monkeypatch.setattr(r, "_read_chunk", lambda i, *rest: read.append(i) or original(i, *rest))
        np.testing.assert_array_equal(r[2, 5], array[2, 5])
        assert read == [2 * 4 + 2]
        read.clear()
        np.testing.assert_array_equal(r[4:6, 0:3], array[4:6, 0:3])
        assert read == [16, 17, 20, 21]


def test_torch_tensor_in():
    import torch  # a test dependency (installed by scripts/setup.sh), never a library one
    t = (torch.rand(2, 3, 4) < 0.5).float()
    np.testing.assert_array_equal(spikecodec.decode(spikecodec.encode(t)), t.numpy().astype(np.uint8))


def test_import_does_not_import_torch():
    code = "import sys, spikecodec; spikecodec.decode(spikecodec.encode([[1, 0]])); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_axes_metadata_and_defaults():
    a = np.zeros((2, 3, 4, 5, 6), np.uint8)
    with spikecodec.open(spikecodec.encode(a)) as r:
        assert r.axes == ("T", "N", "C", "H", "W") and r.codec == [{"id": "framemix"}]
        assert r.version == (1, 12)
    with spikecodec.open(spikecodec.encode(a[0, 0], axes="CHW", metadata={"m": [1.5, None, "x"]})) as r:
        assert r.axes == ("C", "H", "W") and r.metadata == {"m": [1.5, None, "x"]}


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"axes": "TN"}, "axis names"),
        ({"axes": ["T", "T", "C"]}, "not unique"),
        ({"axes": ["T", "a b", "C"]}, "axis name"),
        ({"chunk": (0,)}, "positive"),
        ({"chunk": (1, 1, 1, 1)}, "leading axes"),
        ({"metadata": {"x": float("nan")}}, "not JSON compliant|Out of range"),
        ({"codec": "gzip"}, "unknown codec"),
        ({"bits": 1}, "does not fit"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs, match):
    a = np.array([[[0, 1, 2]]], np.uint8)
    with pytest.raises(ValueError, match=match):
        spikecodec.encode(a, **kwargs)


def test_streaming_writer_to_an_unseekable_pipe():
    frames = (np.random.default_rng(1).random((7, 2, 3, 4)) < 0.3).astype(np.uint8)
    read_fd, write_fd = os.pipe()
    code = "import sys, spikecodec; sys.stdout.buffer.write(sys.stdin.buffer.read())"
    with subprocess.Popen([sys.executable, "-c", code], stdin=read_fd, stdout=subprocess.PIPE) as proc:
        os.close(read_fd)
        with os.fdopen(write_fd, "wb") as sink:
            assert not sink.seekable()
            with spikecodec.SpikeWriter(sink, chunk=2, metadata={"dt": 1e-3}) as w:
                for f in frames:
                    w.append(f)
        data = proc.stdout.read()
    with spikecodec.open(data) as r:
        assert r.shape == frames.shape and r.metadata == {"dt": 1e-3}
        np.testing.assert_array_equal(r.read(), frames)


def test_unseekable_source_is_read():
    a = np.eye(4, dtype=np.uint8)
    read_fd, write_fd = os.pipe()
    os.write(write_fd, spikecodec.encode(a))
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as f:
        np.testing.assert_array_equal(spikecodec.load(f), a)


def test_flushed_frames_survive_and_partial_rows_are_dropped(tmp_path):
    path = tmp_path / "live.spk"
    frames = (np.random.default_rng(2).random((9, 3, 5)) < 0.4).astype(np.uint8)
    w = spikecodec.SpikeWriter(path, chunk=(4, 2), codec="zstd")
    for i, f in enumerate(frames):
        w.append(f)
        if i == 5:
            w.flush()
    # The writer "dies" here: 6 frames flushed, 3 buffered, no index written.
    with spikecodec.open(path, recover=True) as r:
        assert r.recovered and r.shape[0] == 6
        np.testing.assert_array_equal(r.read(), frames[:6])
    with pytest.raises(FormatError, match="no trailer"):
        spikecodec.open(path)
    w.close()
    np.testing.assert_array_equal(spikecodec.load(path), frames)


def test_stream_cut_at_every_byte_of_its_last_chunk():
    frames = (np.random.default_rng(3).random((5, 2, 6)) < 0.3).astype(np.uint8)
    buf = io.BytesIO()
    with spikecodec.SpikeWriter(buf, codec="zstd") as w:
        for f in frames:
            w.append(f)
    data = buf.getvalue()
    with spikecodec.open(data) as r:
        last = r.entries[-1]
    for cut in range(last.offset, len(data)):
        with pytest.raises(FormatError):
            spikecodec.load(data[:cut])
        recovered = spikecodec.load(data[:cut], recover=True)
        complete = 5 if cut >= last.offset + last.size else 4
        np.testing.assert_array_equal(recovered, frames[:complete])


def test_writer_checks_frames_and_declared_length():
    w = spikecodec.SpikeWriter(io.BytesIO(), length=2)
    w.append(np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="expected"):
        w.append(np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="does not fit"):
        w.append(np.array([0, 2, 0]))
    with pytest.raises(ValueError, match="1 frames written, but length=2"):
        w.close()
    with pytest.raises(ValueError, match="closed"):
        w.append(np.zeros(3, np.uint8))


def test_write_frames_past_the_declared_length_writes_none_of_them(tmp_path):
    # write_frames(5 frames) with length=3 wrote 3, then raised; close() then made a file of a
    # call that had failed. Now nothing is written, and the right frames still go in.
    w = spikecodec.SpikeWriter(tmp_path / "x.spk", length=3, codec="raw")
    with pytest.raises(ValueError, match="5 more frames would pass the declared length=3"):
        w.write_frames(np.ones((5, 3), np.uint8))
    assert w.frames_written == 0
    w.write_frames(np.ones((3, 3), np.uint8))
    w.close()
    np.testing.assert_array_equal(spikecodec.load(tmp_path / "x.spk"), np.ones((3, 3), np.uint8))


def test_frames_past_the_declared_length_leave_a_paths_old_file_as_it_was(tmp_path):
    # write_frames started the file (replacing the old one with a bare header) before it checked
    # the length: refused, it had destroyed the file it promised to leave as it was.
    old = np.ones((3, 2, 4), np.uint8)
    spikecodec.save(tmp_path / "old.spk", old)
    before = (tmp_path / "old.spk").read_bytes()
    w = spikecodec.SpikeWriter(tmp_path / "old.spk", length=2)
    with pytest.raises(ValueError, match="3 more frames would pass the declared length=2"):
        w.write_frames(old)
    assert (tmp_path / "old.spk").read_bytes() == before
    with pytest.raises(ValueError, match="no frame was appended"):
        w.close()
    assert (tmp_path / "old.spk").read_bytes() == before
    np.testing.assert_array_equal(spikecodec.load(tmp_path / "old.spk"), old)


@pytest.mark.parametrize("chunk", [0, -1, (2, 0)])
def test_a_bad_chunk_is_refused_when_the_writer_is_made(tmp_path, chunk):
    with pytest.raises(ValueError, match="positive"):
        spikecodec.SpikeWriter(tmp_path / "x.spk", chunk=chunk)
    assert not (tmp_path / "x.spk").exists()


class _FailsOnce(io.RawIOBase):
    """A sink whose ``fail_at``-th write raises, as a socket that times out once."""

    def __init__(self, fail_at: int):
        self.data, self.calls, self.fail_at = bytearray(), 0, fail_at

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.calls += 1
        if self.calls == self.fail_at:
            raise TimeoutError("timed out")
        self.data += bytes(b)
        return len(b)


@pytest.mark.parametrize("records", ["classic", "compact"])
def test_a_failed_write_stops_the_writer_instead_of_finishing_a_broken_file(records):
    # After a write that failed part-way, append went on and close() wrote an index over the
    # half record: a file that no reader opens ("chunk at 153 overlaps the previous one"), with
    # no error. Now every later call refuses, and what came before the failure recovers.
    frames = (np.arange(6 * 3 * 4).reshape(6, 3, 4) % 3 == 0)
    for fail_at in range(2, 12):
        sink = _FailsOnce(fail_at)
        w = spikecodec.SpikeWriter(sink, codec="raw", records=records)
        failed = 0
        for frame in frames:
            try:
                w.append(frame)
            except TimeoutError:
                failed += 1
            except ValueError as exc:
                assert "stopped when a write failed (TimeoutError: timed out)" in str(exc)
        if sink.calls < fail_at:  # every frame went in before the sink would fail
            w.close()
            np.testing.assert_array_equal(spikecodec.load(bytes(sink.data)), frames)
            continue
        assert failed == 1
        with pytest.raises(ValueError, match="stopped when a write failed"):
            w.close()
        kept = len(sink.data)
        w.abandon()
        assert len(sink.data) == kept  # nothing more after the failure
        with pytest.raises(FormatError):
            spikecodec.load(bytes(sink.data))
        recovered = spikecodec.load(bytes(sink.data), recover=True) if fail_at > 3 else None
        if recovered is not None:
            np.testing.assert_array_equal(recovered, frames[: len(recovered)].astype(np.uint8))


def test_a_row_whose_codec_fails_before_its_first_byte_leaves_the_writer_as_it_was(monkeypatch):
    # The buffered frames of a row were dropped before the row was written: a codec error on
    # flush lost them. They stay pending, and the row is written once the codec works again.
    frames = np.ones((3, 2, 2), np.uint8)
    buf = io.BytesIO()
    w = spikecodec.SpikeWriter(buf, codec="raw", chunk=4)
    w.write_frames(frames)
    pipeline = w._pipeline
    real = pipeline.encode
    monkeypatch.setattr(pipeline, "encode", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("codec down")))
    with pytest.raises(RuntimeError, match="codec down"):
        w.flush()
    monkeypatch.setattr(pipeline, "encode", real)
    assert w.frames_written == 3
    w.close()
    np.testing.assert_array_equal(spikecodec.load(buf.getvalue()), frames)


def test_counts_writer_and_write_frames():
    frames = np.random.default_rng(4).integers(0, 16, (10, 3, 3)).astype(np.uint8)
    buf = io.BytesIO()
    with spikecodec.SpikeWriter(buf, bits=4, chunk=3) as w:
        w.append(frames[0])
        w.write_frames(frames[1:8])
        w.append(frames[8])
        w.write_frames(frames[9:])
    with spikecodec.open(buf.getvalue()) as r:
        assert [e.row_length for e in r.entries] == [3, 3, 3, 1] and r.bits == 4
        np.testing.assert_array_equal(r.read(), frames)


def test_save_is_atomic_and_never_clobbers_on_failure(tmp_path):
    path = tmp_path / "x.spk"
    spikecodec.save(path, np.ones((2, 2), np.uint8))
    before = path.read_bytes()
    with pytest.raises(ValueError):
        spikecodec.save(path, np.array([[0, 300]]))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.spk"]
    spikecodec.save(path, np.zeros((3, 1), np.uint8), codec="raw")
    assert spikecodec.load(path).shape == (3, 1)


def test_decoded_size_cap():
    data = spikecodec.encode(np.zeros((4, 1000), np.uint8), chunk=1)
    with pytest.raises(FormatError, match="max_bytes"):
        spikecodec.decode(data, max_bytes=3999)
    with spikecodec.open(data, max_bytes=1000) as r:
        assert r[1].shape == (1000,)
    assert spikecodec.decode(data, max_bytes=4000).shape == (4, 1000)


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.spk"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(FormatError, match=r"bad\.spk: at byte 0: not a spike file"):
        spikecodec.load(path)


@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 4))
def test_random_damage_gives_format_error_or_correct_data(seed, flips):
    rng = np.random.default_rng(seed)
    array = (rng.random((3, 2, 4, 4)) < 0.3).astype(np.uint8)
    data = bytearray(spikecodec.encode(array, codec=["raw", "zstd"], chunk=1))
    for _ in range(flips):
        data[rng.integers(len(data))] ^= 1 << int(rng.integers(8))
    try:
        out = spikecodec.decode(bytes(data))
    except FormatError:
        return
    np.testing.assert_array_equal(out, array)  # CRCs make a silently wrong decode impossible here


def test_integer_index_on_every_axis_gives_a_0d_array():
    array = np.arange(6, dtype=np.uint8).reshape(2, 3) % 2
    with spikecodec.open(spikecodec.encode(array, chunk=1)) as r:
        out = r[1, 2]
    assert isinstance(out, np.ndarray) and out.shape == () and out == array[1, 2]


def test_saved_file_has_the_usual_permissions(tmp_path):
    path = tmp_path / "p.spk"
    spikecodec.save(path, np.zeros((1, 2), np.uint8))
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize("codec, options, minor", [
    ("raw", {}, 0), ("zstd", {}, 0), ("auto", {}, 0), ("countctx", {}, 1), ("ctxlanes", {}, 2), ("ctxmix", {}, 3),
    ("raw", {"records": "compact-unkeyed"}, 3), ("context", {"prior": "train"}, 3), ("mix", {}, 4), ("mix", {"prior": "train"}, 4),
    ("winmix", {}, 5), ("winmix", {"prior": "train"}, 5), ("raw", {"stream_id": bytes(16)}, 6), ("raw", {"records": "compact"}, 7),
    ("ctxfast", {}, 8), ("ctxfast", {"prior": "train"}, 8), ("raw", {"records": "compact", "message_ends": True}, 9),
    ("countmix", {}, 10), ("countmix", {"prior": "train"}, 10), ("chanmix", {}, 11), ("chanmix", {"prior": "train"}, 11),
    ("framemix", {}, 12), ("framemix", {"prior": "train"}, 12), ("neuronmix", {}, 13),
])
def test_files_declare_the_lowest_minor_version_they_need(codec, options, minor):
    """A file using only 1.0 features stays 1.0 (FORMAT.md 13); countctx needs 1.1, ctxlanes 1.2,
    ctxmix, compact records and priors 1.3, mix 1.4, winmix 1.5, a stream id 1.6, keyed checks 1.7, ctxfast 1.8,
    message ends 1.9, countmix 1.10 (for 1-bit elements too: a file names its codec), chanmix 1.11, framemix 1.12,
    neuronmix 1.13."""
    x = np.ones((2, 3, 4), np.uint8)
    if options.get("prior") == "train":
        options = {"prior": spikecodec.train_prior(x, codec)}
    if "stream_id" in options or "message_ends" in options:  # writers' options (LinkEncoder draws a stream id)
        buf = io.BytesIO()
        with spikecodec.SpikeWriter(buf, codec=codec, **options) as w:
            w.write_frames(x)
        data = buf.getvalue()
    else:
        data = spikecodec.encode(x, codec=codec, **options)
    assert data[9] == minor
    with spikecodec.open(data, priors=options.get("prior")) as f:
        assert f.version == (1, minor)
    assert spikecodec.FORMAT_VERSION == (1, 13)


def test_default_chunks_follow_the_codecs_target():
    """A writer given no chunk shape blocks samples by the codec's ``chunk_elements``: about 1M
    elements for most codecs, 8M for ``mix``, ``winmix``, ``countmix``, ``chanmix``, ``framemix`` and ``neuronmix``, whose models learn across samples (FORMAT.md 13)."""
    x = np.zeros((2, 64, 16, 28, 28), np.uint8)  # 1.6M elements, 25,088 a sample
    with spikecodec.open(spikecodec.encode(x, codec="auto")) as r:
        assert r.chunk_shape == (2, (1 << 20) // 25088)
    with spikecodec.open(spikecodec.encode(x, codec="mix")) as r:
        assert r.chunk_shape == (2,) and len(r.entries) == 1  # all of it: under 8M elements
    assert spikecodec.codecs.get_codec("mix").chunk_elements == spikecodec.codecs.get_codec("winmix").chunk_elements == 1 << 23
    assert spikecodec.codecs.get_codec("neuronmix").chunk_elements == 1 << 23


def test_default_chunks_of_ctxfast_hold_a_sample_a_lane():
    """ctxfast codes up to four samples side by side: a default chunk holds at least four where
    the default chunk limit (2^24 elements) allows, though its target (2^23) would take fewer;
    other codecs keep their target (FORMAT.md 13)."""
    x = np.zeros((2, 6, 1600, 28, 28), np.uint8)  # 2,508,800 elements a sample: 3 make the 2^23 target
    with spikecodec.open(spikecodec.encode(x, codec="ctxfast")) as r:
        assert r.chunk_shape == (2, 4)
    with spikecodec.open(spikecodec.encode(x, codec="winmix")) as r:
        assert r.chunk_shape == (2, 3)
    big = np.zeros((2, 6, 3200, 28, 28), np.uint8)  # 5,017,600 a sample: four would pass 2^24, three do not
    with spikecodec.open(spikecodec.encode(big, codec="ctxfast")) as r:
        assert r.chunk_shape == (2, 3)


@pytest.mark.parametrize("chunk", ["12", 2.5, [1.0], True])
def test_chunk_sizes_are_integers_never_parsed_or_rounded(chunk):
    # chunk="12" was taken as the sizes (1, 2), chunk=2.5 as 2.
    array = np.zeros((20, 30), np.uint8)
    with pytest.raises(TypeError, match="chunk"):
        spikecodec.encode(array, chunk=chunk)
    with spikecodec.open(spikecodec.encode(array, chunk=np.array([4, 6]))) as r:
        assert r.chunk_shape == (4, 6)


def test_programming_mistakes_are_type_or_value_errors(tmp_path):
    array = np.zeros((2, 3), np.uint8)
    for target in (None, 3, b"x.spk"):  # each was an AttributeError
        with pytest.raises(TypeError, match="path or a binary file object"):
            spikecodec.save(target, array)
    deep: dict = {}
    node = deep
    for _ in range(5000):
        node["a"] = node = {}
    with pytest.raises(ValueError, match="nests too deeply"):  # was a RecursionError
        spikecodec.encode(array, metadata=deep)


def test_a_tensor_without_values_is_a_type_error():
    import torch
    with pytest.raises(TypeError, match="tensor"):  # was a NotImplementedError
        spikecodec.encode(torch.empty(2, 3, device="meta"))


@pytest.mark.parametrize("depth", [511, 512, 513])
def test_json_nests_at_most_512_deep_for_writer_and_reader(depth):
    """FORMAT.md 1: a fixed depth (the parser's stack decided before: about 990 levels passed or
    failed with the caller's stack), the same for the writer, the reader and the reference reader."""
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "spec"))
    from refreader.common import Problem, parse_json

    from spikecodec.json_text import strict_json

    meta: dict = {}
    node = meta
    for _ in range(depth - 2):  # the metadata object is depth 1, and the header's text is that object
        node["a"] = node = {}
    node["a"] = []  # the innermost: an array
    text = '{"m":' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    if depth <= 512:
        assert strict_json(text) and parse_json(text.encode(), 16, "x")
        spikecodec.decode(spikecodec.encode(np.zeros(2, np.uint8), metadata=meta))
    else:
        with pytest.raises(ValueError, match="512"):
            strict_json(text)
        with pytest.raises(Problem):
            parse_json(text.encode(), 16, "x")
        with pytest.raises(ValueError, match="nests too deeply"):
            spikecodec.encode(np.zeros(2, np.uint8), metadata=meta)


def test_json_depth_is_counted_as_the_reference_reader_counts_it_in_linear_time():
    # A regex over the strings took time quadratic in an unclosed run of escaped quotes: a
    # 64 KB header of 600 "[" and such a run cost 33 s, a 1 MiB one hours (before this counted
    # linearly, this test ran for hours).
    from pathlib import Path

    from spikecodec.json_text import nesting_depth, strict_json

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "spec"))
    from refreader.common import json_depth as _reference_depth

    rng = np.random.default_rng(5)
    outside = ["[", "]", "{", "}", ",", ":", "a", "é"]
    inside = ["a", "[", "{", "]", "}", "\\\\", '\\"', "é", "\\u005b"]  # a backslash only in strings, as in JSON
    for _ in range(3000):
        parts = []
        for _ in range(int(rng.integers(0, 16))):
            if rng.random() < 0.3:
                parts.append('"' + "".join(rng.choice(inside, int(rng.integers(0, 5)))) + '"')
            else:
                parts.append(str(rng.choice(outside)))
        if rng.random() < 0.2:  # a string that never closes
            parts.append('"' + "".join(rng.choice(inside, int(rng.integers(0, 5)))))
        text = "".join(parts)
        assert nesting_depth(text) == _reference_depth(text), text
    for text in ['["a\\"]"]', '["a\\\\"]', '[{"k":"[[[\\\\\\"]]"}]', '"\\\\\\\\"[[', '[' * 3 + '"' + '\\"' * 5]:
        assert nesting_depth(text) == _reference_depth(text), text
    hostile = "[" * 600 + '"' + '\\"' * (1 << 19)  # 1 MiB: the largest header
    assert nesting_depth(hostile) == 600
    with pytest.raises(ValueError, match="nested too deeply"):
        strict_json(hostile)


def test_an_empty_array_with_a_long_axis_gets_a_chunk_within_the_limit():
    """Shape (0, 2**40) made the default chunk (1,): 2**40 elements a chunk, over the format's
    2**31, and the write was refused although the array holds nothing (an outside probe)."""
    for shape in [(0, 1 << 40), (0, 1 << 20, 1 << 20), (1 << 40, 0), (3, 0, 1 << 40)]:
        for codec in ("raw", "winmix"):
            data = spikecodec.encode(np.zeros(shape, np.uint8), codec=codec)
            with spikecodec.open(data) as r:
                assert r.shape == shape and math.prod(r.chunk_shape) * math.prod(shape[len(r.chunk_shape):]) <= 1 << 31


def test_an_input_too_large_to_copy_says_so():
    """A zero-stride view (np.broadcast_to) of 2**50 elements: numpy's "Unable to allocate 1.00
    PiB" said nothing of why; the MemoryError names the shape and the view."""
    huge = np.broadcast_to(np.uint8(0), (1 << 25, 1 << 25))
    with pytest.raises(MemoryError, match=r"shape \(33554432, 33554432\) .* zero strides"):
        spikecodec.encode(huge, codec="raw")


def test_bytes_appended_to_a_finished_file_are_named_by_the_reader():
    """The reader said "the file is truncated or its writer did not finish" of a whole file with
    bytes appended (validate named them); now it says where the trailer is."""
    data = spikecodec.encode(np.zeros((2, 3), np.uint8)) + b"junk!"
    with pytest.raises(FormatError, match=r"5 bytes follow the trailer at \d+") as info:
        spikecodec.decode(data)
    assert info.value.code == "trailer-magic"
    with pytest.raises(FormatError, match="truncated or its writer did not finish"):
        spikecodec.decode(data[:-6])


FORKED_CHILD = """
import os, sys
import numpy as np, spikecodec
path, child = sys.argv[1], sys.argv[2]
frames = (np.random.default_rng(3).random((10, 2, 3, 4, 4)) < 0.3).astype(np.uint8)
w = spikecodec.SpikeWriter(path, codec="raw")
for frame in frames[:5]:
    w.append(frame)
w.flush()
w.append(frames[5])  # buffered when the fork comes
pid = os.fork()
if pid == 0:
    if child == "appends":
        try:
            w.append(frames[0])
            os._exit(3)
        except RuntimeError as exc:
            os._exit(0 if "(a fork)" in str(exc) else 4)
    sys.exit(0)  # an interpreter's exit: it flushes the file objects it holds
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
for frame in frames[6:]:
    w.append(frame)
w.close()
assert (spikecodec.load(path) == frames).all()
print("ok")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
@pytest.mark.parametrize("child", ["exits", "appends"])
def test_a_forked_child_neither_writes_nor_corrupts_its_parents_file(tmp_path, child):
    # Found by an outside probe: a child forked while a frame was buffered flushed that buffer
    # into the parent's file again at its exit (the finished file failed to load; recovery lost
    # the parent's later frames), and a child's append was taken (recovery returned the child's
    # frame as the parent's). Now the child's copy writes nothing and refuses use. (In a process
    # of its own: a child of pytest's would run on through pytest.)
    proc = subprocess.run([sys.executable, "-c", FORKED_CHILD, str(tmp_path / "x.spk"), child],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
