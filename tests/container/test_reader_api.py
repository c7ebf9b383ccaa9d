"""Readers in other programs: pickling, finalizers, closed readers, the chunk cache, numpy-style
indexing, ``read(out=)``, ``dtype=`` and parallel decoding (issue 22, part 3 and 5)."""

from __future__ import annotations

import inspect
import json
import multiprocessing
import pickle
import subprocess
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import spikecodec
from spikecodec.container.chunk_cache import ChunkCache


@pytest.fixture(scope="module")
def spikes() -> np.ndarray:
    rng = np.random.default_rng(22)
    return (rng.random((6, 8, 3, 5, 5)) < 0.2).astype(np.uint8)


@pytest.fixture(scope="module")
def path(tmp_path_factory, spikes) -> str:
    p = tmp_path_factory.mktemp("reader") / "s.spk"
    spikecodec.save(p, spikes, chunk=(2, 3))  # 3 rows of 3 chunks: selections cut through chunks
    return str(p)


def _sum_first(reader: spikecodec.SpikeReader) -> int:
    return int(reader[0].sum())


# -- pickling -------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["path", "bytes"])
def test_pickled_reader_reopens_and_reads_the_same(path, spikes, how):
    source = path if how == "path" else open(path, "rb").read()
    with spikecodec.open(source, max_bytes=1 << 20, cache_bytes=0) as r:
        clone = pickle.loads(pickle.dumps(r))
    with clone:
        assert clone.max_bytes == 1 << 20
        np.testing.assert_array_equal(clone[:], spikes)


@pytest.mark.parametrize("how", ["bytearray", "memoryview", "mmap"])
def test_a_buffer_is_read_in_place_and_pickles_as_its_bytes(path, spikes, how):
    import mmap

    with open(path, "rb") as f:
        data = f.read()
        buffer = {"bytearray": lambda: bytearray(data), "memoryview": lambda: memoryview(bytearray(data)),
                  "mmap": lambda: mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)}[how]()
    with spikecodec.open(buffer) as r:
        assert r._src._buf.obj is buffer or r._src._buf.obj is getattr(buffer, "obj", None)  # no copy
        np.testing.assert_array_equal(r[:], spikes)
        clone = pickle.loads(pickle.dumps(r))
    with clone:
        np.testing.assert_array_equal(clone[:], spikes)
    np.testing.assert_array_equal(spikecodec.decode(buffer), spikes)
    with pytest.raises(TypeError, match="must be contiguous"):
        spikecodec.decode(memoryview(data)[::2])


def test_a_pickled_reader_reopens_the_same_file_from_any_folder_or_refuses_a_changed_one(tmp_path, spikes, monkeypatch):
    # Before: the path was kept as given, so a worker in another folder (or after os.chdir) read
    # another file of that name; and a file rewritten after pickling was read as it now is
    # (dask's processes scheduler returned a (2, 4) block of a (6, 4) array).
    for folder, values in (("a", spikes), ("b", 1 - spikes)):
        (tmp_path / folder).mkdir()
        spikecodec.save(tmp_path / folder / "x.spk", values)
    monkeypatch.chdir(tmp_path / "a")
    r = spikecodec.open("x.spk")
    data = pickle.dumps(r)
    monkeypatch.chdir(tmp_path / "b")
    with pickle.loads(data) as clone:
        np.testing.assert_array_equal(clone[:], spikes)
    for rewrite in (1 - spikes, spikes[:2]):  # same shape, other values; shorter
        spikecodec.save(tmp_path / "a" / "x.spk", rewrite, codec="raw")
        with pytest.raises(ValueError, match="the file changed since the reader was pickled"):
            pickle.loads(data)
    r.close()


def test_a_pickled_recovering_reader_reads_on_in_a_file_that_grew(tmp_path, spikes):
    path = tmp_path / "growing.spk"
    w = spikecodec.SpikeWriter(path)
    w.write_frames(spikes[:2])
    w.flush()
    with spikecodec.open(path, recover=True) as r:
        data = pickle.dumps(r)
    w.write_frames(spikes[2:4])
    w.flush()
    with pickle.loads(data) as clone:
        np.testing.assert_array_equal(clone[:2], spikes[:2])
    w.close()


def test_a_pickled_reader_refuses_a_file_written_again_with_chunks_of_the_same_sizes_and_counts(tmp_path):
    # raw chunks have fixed sizes: a permutation of each chunk's values keeps every size and
    # spike count, so the chunk table (and size and header) were the same and the new values
    # were read as the old ones - also by a recovering reader, whose first chunks must not change.
    rng = np.random.default_rng(8)
    x = (rng.random((6, 4, 32)) < 0.3).astype(np.uint8)
    shuffled = x[:, :, rng.permutation(32)]
    for recover in (False, True):
        path = tmp_path / f"same-sizes-{recover}.spk"
        spikecodec.save(path, x, codec="raw", chunk=(1,), metadata={"tail": "0" * 64})  # the same last 64 bytes too
        with spikecodec.open(path, recover=recover) as r:
            data = pickle.dumps(r)
        spikecodec.save(path, shuffled, codec="raw", chunk=(1,), metadata={"tail": "0" * 64})
        with spikecodec.open(path) as r:
            assert r.entries[:] == spikecodec.open(spikecodec.encode(x, codec="raw", chunk=(1,), metadata={"tail": "0" * 64})).entries[:]
        with pytest.raises(ValueError, match="the file changed since the reader was pickled"):
            pickle.loads(data)


def test_reader_of_a_file_object_refuses_pickling_with_a_clear_error(path):
    with open(path, "rb") as f, spikecodec.open(f) as r:
        with pytest.raises(TypeError, match="open the file by path"):
            pickle.dumps(r)


def test_closed_reader_refuses_pickling(path):
    r = spikecodec.open(path)
    r.close()
    with pytest.raises(ValueError, match="closed"):
        pickle.dumps(r)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_reader_crosses_into_worker_processes(path, spikes, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.fail(f"start method {method} is missing on this platform")
    with spikecodec.open(path) as r, ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as pool:
        sums = list(pool.map(_sum_first, [r, r]))
    assert sums == [int(spikes[0].sum())] * 2


# -- lifetime -------------------------------------------------------------------------------------
def test_read_after_close_raises_value_error(path):
    r = spikecodec.open(path)
    r.close()
    assert r.closed
    for read in (lambda: r[0], r.read, lambda: r.read_chunk(0)):
        with pytest.raises(ValueError, match="closed"):
            read()
    r.close()  # closing twice is harmless


def test_a_thousand_dropped_readers_under_a_small_descriptor_limit(path):
    # In a child whose descriptor limit is 128: a leak would fail with Errno 24 within 128 opens.
    code = textwrap.dedent(f"""
        import gc, resource, spikecodec
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
        gc.disable()  # the finalizer, not the cycle collector, must close each file
        for _ in range(1000):
            r = spikecodec.open({path!r})
            r[0]
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# -- indexing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", [
    np.array([0, 2]),
    [5, 0, 5],
    np.array([-1]),
    (slice(None), np.array([1, 7, 3])),
    (np.array([0, 4]), np.array([2, 6])),  # two arrays broadcast, as numpy does
    (1, slice(None), np.array([2, 0])),
    (..., np.array([4, 0])),
    np.array([True, False, True, False, False, True]),
    np.array([], dtype=np.int64),
    (np.array([[0, 1], [2, 3]]), 0),
])
def test_integer_and_boolean_array_indexing_matches_numpy(path, spikes, key):
    with spikecodec.open(path) as r:
        np.testing.assert_array_equal(r[key], spikes[key])


@pytest.mark.parametrize("key, error", [
    (np.array([0.5]), IndexError),
    (np.array([6]), IndexError),
    (np.array([True, False]), IndexError),
    ("a", TypeError),
])
def test_bad_array_indices_raise_numpy_s_errors(path, key, error):
    with spikecodec.open(path) as r, pytest.raises(error):
        r[key]


# -- cache ----------------------------------------------------------------------------------------
def test_reading_a_chunk_sample_by_sample_decodes_it_once(path, spikes, monkeypatch):
    with spikecodec.open(path) as r:
        calls = []
        real = r._read_into
        monkeypatch.setattr(r, "_read_into", lambda i, *a: calls.append(i) or real(i, *a))
        for t in range(2):
            for n in range(3):
                np.testing.assert_array_equal(r[t, n], spikes[t, n])
        assert calls == [0]  # chunk 0 holds t 0-1, n 0-2


def test_selections_along_an_unchunked_axis_decode_the_chunk_once(tmp_path, monkeypatch):
    """A file chunked along T only: each sample is part of every chunk's unchunked N axis."""
    x = (np.random.default_rng(3).random((4, 16, 3, 5, 5)) < 0.3).astype(np.uint8)
    spikecodec.save(tmp_path / "t.spk", x, chunk=(2,), codec="context")
    with spikecodec.open(tmp_path / "t.spk") as r:
        assert r.chunk_shape == (2,)
        calls = []
        real = r._read_into
        monkeypatch.setattr(r, "_read_into", lambda i, *a: calls.append(i) or real(i, *a))
        for n in range(16):
            np.testing.assert_array_equal(r[:, n], x[:, n])
        assert calls == [0, 1]
        np.testing.assert_array_equal(r[:2], x[:2])  # a whole chunk wanted whole: straight into place
        assert calls == [0, 1, 0]


def test_cache_of_zero_bytes_keeps_nothing(path, spikes, monkeypatch):
    with spikecodec.open(path, cache_bytes=0) as r:
        calls = []
        real = r._read_into
        monkeypatch.setattr(r, "_read_into", lambda i, *a: calls.append(i) or real(i, *a))
        r[0, 0]
        r[0, 1]
        assert calls == [0, 0]


def test_chunk_cache_drops_the_least_recently_used_within_its_bytes():
    cache = ChunkCache(250)
    a, b, c = (np.zeros(100, np.uint8) for _ in range(3))
    cache.put(0, a)
    cache.put(1, b)
    assert cache.get(0) is a  # 0 is now the most recent
    cache.put(2, c)
    assert cache.get(1) is None and cache.get(0) is a and cache.get(2) is c
    cache.put(3, np.zeros(300, np.uint8))  # larger than the whole cache: not kept
    assert cache.get(3) is None and cache.get(0) is a


def test_cached_chunks_are_read_only_and_selections_are_not(path):
    with spikecodec.open(path) as r:
        r[0, 0]
        sample = r[0, 0]
        sample[...] = 7  # the caller's copy; the cache must not change
        assert r[0, 0].max() <= 1


# -- whole reads ----------------------------------------------------------------------------------
def test_read_into_out_and_properties(path, spikes):
    with spikecodec.open(path) as r:
        assert (r.size, r.nbytes, r.dtype) == (spikes.size, spikes.nbytes, np.uint8)
        out = np.full(spikes.shape, 9, np.uint8)
        assert r.read(out=out) is out
        np.testing.assert_array_equal(out, spikes)
        with pytest.raises(ValueError, match="out="):
            r.read(out=np.empty(spikes.shape, np.int16))
        with pytest.raises(ValueError, match="out="):
            r.read(out=np.empty(spikes.shape[1:], np.uint8))


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_parallel_read_is_the_same_array(path, spikes, workers):
    np.testing.assert_array_equal(spikecodec.load(path, workers=workers), spikes)


def test_threads_stop_at_the_usable_cpus(path, spikes, monkeypatch):
    # An outside probe: each thread keeps its own coder state (about 15 MB), and workers=32 on a
    # 2-core machine took 647 MB for a 400 KB array. Threads now stop at one a CPU.
    from spikecodec.container import reader as reader_module
    from spikecodec.container import threads

    pools = []
    shared_pool = threads.shared_pool

    def recording(count):
        pools.append(count)
        return shared_pool(count)

    monkeypatch.setattr(threads, "shared_pool", recording)
    monkeypatch.setattr(reader_module, "usable_cpus", lambda: 3)
    np.testing.assert_array_equal(spikecodec.load(path, workers=32), spikes)
    with spikecodec.open(path) as r:
        chunks = len(r.entries)
    assert chunks > 3 and pools == [3]
    monkeypatch.setattr(reader_module, "usable_cpus", lambda: 1)
    np.testing.assert_array_equal(spikecodec.load(path, workers=32), spikes)
    assert len(pools) == 1  # one CPU: no pool at all


def test_one_reader_shared_by_threads(path, spikes):
    with spikecodec.open(path) as r, ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(lambda t: r[t], [t for _ in range(10) for t in range(6)]))
    for i, part in enumerate(parts):
        np.testing.assert_array_equal(part, spikes[i % 6])


@pytest.mark.parametrize("dtype", [bool, np.float32, np.int64, np.uint8])
def test_load_and_decode_with_dtype(path, spikes, dtype):
    for got in (spikecodec.load(path, dtype=dtype), spikecodec.decode(open(path, "rb").read(), dtype=dtype)):
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, spikes.astype(dtype))


def test_load_dtype_counts_against_the_byte_limit_and_refuses_bad_types(path, spikes):
    with pytest.raises(spikecodec.LimitError):
        spikecodec.load(path, dtype=np.float64, max_bytes=spikes.size * 4)
    with pytest.raises(TypeError, match="not <U1"):
        spikecodec.load(path, dtype="U1")
    counts = spikecodec.encode(np.array([[200, 3]], np.uint8))
    for error in (OverflowError, ValueError):  # a ValueError, as every refusal of the arguments
        with pytest.raises(error, match="200"):
            spikecodec.decode(counts, dtype=np.int8)


def test_max_bytes_beside_limits_is_refused_not_dropped(path):
    limits = spikecodec.ReadLimits(max_work=1000)
    for call in (spikecodec.load, spikecodec.open, spikecodec.validate):
        with pytest.raises(TypeError, match="not both"):
            call(path, max_bytes=10, limits=limits)
    with pytest.raises(TypeError, match="not both"):
        spikecodec.SpikeStream(path, max_bytes=10, limits=limits)


# -- API polish -----------------------------------------------------------------------------------
def test_axes_as_one_comma_separated_string(spikes):
    data = spikecodec.encode(spikes, axes="time,batch,c,h,w")
    with spikecodec.open(data) as r:
        assert r.axes == ("time", "batch", "c", "h", "w")
    with spikecodec.open(spikecodec.encode(spikes, axes="TNCHW")) as r:
        assert r.axes == ("T", "N", "C", "H", "W")


def test_metadata_with_numpy_scalars_and_arrays(spikes):
    meta = {"lr": np.float32(0.5), "epoch": np.int64(3), "ok": np.bool_(True), "mean": np.array([1, 2])}
    with spikecodec.open(spikecodec.encode(spikes, metadata=meta)) as r:
        assert r.metadata == {"lr": 0.5, "epoch": 3, "ok": True, "mean": [1, 2]}
        json.dumps(r.metadata)


def test_every_public_name_has_a_docstring():
    missing = []
    for name in spikecodec.__all__:
        obj = getattr(spikecodec, name)
        if isinstance(obj, tuple):  # FORMAT_VERSION
            continue
        if not (obj.__doc__ or "").strip():
            missing.append(name)
        if inspect.isclass(obj):
            for member, value in vars(obj).items():
                fn = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
                if not member.startswith("_") and inspect.isfunction(fn) and not (fn.__doc__ or "").strip():
                    missing.append(f"{name}.{member}")
    assert missing == []


def test_package_is_marked_typed():
    # PEP 561: without py.typed, type checkers treat every spikecodec name as Any.
    from importlib.resources import files

    assert files("spikecodec").joinpath("py.typed").is_file()


# -- what a reader is given -----------------------------------------------------------------------
def test_a_path_naming_a_pipe_is_read_whole_and_a_device_is_refused(path, spikes):
    # A pipe's path (`<(cat x.spk)`, a named pipe) was read as a file of 0 bytes.
    import os
    import threading

    data = open(path, "rb").read()
    read_end, write_end = os.pipe()

    def feed() -> None:
        os.write(write_end, data)
        os.close(write_end)

    threading.Thread(target=feed).start()
    try:
        with spikecodec.open(f"/proc/self/fd/{read_end}") as r:
            np.testing.assert_array_equal(r.read(), spikes)
            np.testing.assert_array_equal(pickle.loads(pickle.dumps(r)).read(), spikes)  # its bytes, not the spent pipe
    finally:
        os.close(read_end)
    with pytest.raises(OSError, match="not a regular file or a pipe"):
        spikecodec.open("/dev/null")


def test_a_pipe_is_refused_at_its_first_bytes_or_past_max_bytes_not_read_whole(path, spikes):
    # An endless pipe (or a socket never closed) was read to its end before its first 8 bytes
    # were checked: `head -c 1G /dev/zero` took 1 GB before "bad signature", whatever max_bytes.
    data = open(path, "rb").read()
    zeros = subprocess.Popen([sys.executable, "-c", "import sys\nwhile True: sys.stdout.buffer.write(bytes(1 << 16))"],
                             stdout=subprocess.PIPE)
    try:
        with pytest.raises(spikecodec.FormatError, match=r"<pipe fd \d+>: at byte 0: not a spike file: bad signature"):
            spikecodec.load(zeros.stdout)
    finally:
        zeros.kill()
        zeros.wait()
        zeros.stdout.close()
    for limit, fits in ((len(data), True), (len(data) - 1, False)):
        cat = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        cat.stdin.write(data)
        cat.stdin.close()
        try:
            if fits:  # max_bytes also bounds the decoded array: the file's bytes are well under it here
                np.testing.assert_array_equal(spikecodec.load(cat.stdout, max_bytes=max(limit, spikes.nbytes)), spikes)
            else:
                with pytest.raises(spikecodec.LimitError, match=f"over max_bytes={limit} bytes"):
                    spikecodec.load(cat.stdout, max_bytes=limit)
        finally:
            cat.wait()
            cat.stdout.close()


def test_a_file_object_is_read_from_its_position_and_says_so(path, spikes):
    import io

    buf = io.BytesIO()
    spikecodec.save(buf, spikes)  # left at its end, as a file just written is
    with pytest.raises(spikecodec.FormatError, match=r"read from its position \d+: seek\(0\) to read it from its start"):
        spikecodec.load(buf)
    buf.seek(0)
    np.testing.assert_array_equal(spikecodec.load(buf), spikes)


@pytest.mark.parametrize("options", [{"workers": 0}, {"workers": -1}, {"workers": 1.5}, {"workers": "2"}, {"workers": True}])
def test_bad_worker_counts_are_refused(path, options):
    # They were taken as 1 worker.
    with pytest.raises(ValueError, match="workers"):
        spikecodec.load(path, **options)


def test_bad_reader_options_are_type_or_value_errors(path, spikes):
    for cache in (-1, "x", 1.5):  # "x" failed later, on a partial read, comparing int with str
        with pytest.raises(ValueError, match="cache_bytes"):
            spikecodec.open(path, cache_bytes=cache)
    with pytest.raises(TypeError, match="ReadLimits"):  # was an AttributeError
        spikecodec.load(path, limits={"max_bytes": 1})
    with spikecodec.open(path) as r, pytest.raises(TypeError, match="numpy array"):  # was an AttributeError
        r.read(out=[0] * spikes.size)


def test_a_machine_out_of_memory_is_not_a_bad_file(monkeypatch, spikes, tmp_path):
    """A chunk within the reader's limits that this machine cannot allocate is a limit
    (``limit-memory``, the file may conform), not ``payload-undecodable`` (a broken file); and
    ``validate`` of a folder goes on past it, saying which file went unchecked (it stopped there)."""
    import subprocess
    import sys

    from spikecodec.codecs.registry import get_codec

    data = spikecodec.encode(spikes, codec="ctxfast")
    codec = type(get_codec("ctxfast"))
    original = codec._decode_canonical

    def no_memory(self, *args, **kwargs):
        raise MemoryError("Unable to allocate 3.1 GiB")

    monkeypatch.setattr(codec, "_decode_canonical", no_memory)
    with pytest.raises(spikecodec.LimitError, match="out of memory.*3.1 GiB") as info:
        spikecodec.decode(data)
    assert info.value.code == "limit-memory" and info.value.severity == "limit"
    report = spikecodec.validate(data)
    assert [(p.code, p.severity) for p in report.problems] == [("limit-memory", "limit")]
    monkeypatch.setattr(codec, "_decode_canonical", original)

    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a.spk").write_bytes(spikecodec.encode(spikes, codec="context"))
    (folder / "b.spk").write_bytes(data)
    (folder / "c.spk").write_bytes(spikecodec.encode(spikes, codec="context"))
    script = ("import sys, spikecodec.codecs.ctxfast as m\n"
              "def no_memory(self, *a, **k): raise MemoryError('Unable to allocate 3.1 GiB')\n"
              "m.FastContext._decode_canonical = no_memory\n"
              "from spikecodec_cli.main import main\n"
              f"sys.exit(main(['validate', {str(folder)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 3, said  # over a limit, not "does not conform" (1)
    assert "b.spk" in said and "out of memory" in said and "Traceback" not in said
    assert "3 files: 2 conform, 0 do not, 1 over a limit" in said, said


def test_an_array_of_the_files_bytes_is_refused_with_what_to_pass(path, spikes):
    data = open(path, "rb").read()
    with pytest.raises(TypeError, match=r"pass memoryview\(array\)"):
        spikecodec.decode(np.frombuffer(data, np.uint8))
    np.testing.assert_array_equal(spikecodec.decode(memoryview(np.frombuffer(data, np.uint8))), spikes)


def test_load_takes_a_torch_dtype_as_its_numpy_twin(path, spikes):
    # load(dtype=torch.float32) failed with numpy's "Cannot interpret 'torch.float32' as a data type".
    import torch
    np.testing.assert_array_equal(spikecodec.load(path, dtype=torch.float32), spikes.astype(np.float32))
    assert spikecodec.load(path, dtype=torch.bool).dtype == np.bool_
    with pytest.raises(TypeError, match="bfloat16 has no numpy type"):
        spikecodec.load(path, dtype=torch.bfloat16)


def test_an_array_this_machine_cannot_allocate_is_a_limit_error_not_numpys(path, spikes, monkeypatch):
    # The output array's allocation let numpy's MemoryError escape (a file within max_bytes on a
    # machine with less memory), where a chunk's decoding raised LimitError limit-memory.
    from spikecodec.container import reader as reader_module

    real = np.empty

    def refuse(shape, dtype=float, *args, **kwargs):
        if tuple(np.atleast_1d(shape)) == spikes.shape:
            raise MemoryError("Unable to allocate")
        return real(shape, dtype, *args, **kwargs)

    monkeypatch.setattr(reader_module.np, "empty", refuse)
    with pytest.raises(spikecodec.LimitError, match="out of memory for the array") as info:
        spikecodec.load(path)
    assert info.value.code == "limit-memory"
    with spikecodec.open(path) as r, pytest.raises(spikecodec.LimitError, match="out of memory for the selection"):
        r[:, :]
