"""The codecs and the dataset as hurried users drive them through numcodecs, zarr (v3 and the v2
format), dask and torch: every case ends in the right result or one clear error, never a chunk
written that cannot be read back, a wrong item, a hang or an error from deep inside numpy.
Each test says what happened before its fix."""

from __future__ import annotations

import json
import multiprocessing
import pickle
import warnings

import numcodecs
import numpy as np
import pytest
import torch
import zarr

import spikecodec
from spikecodec.integrations import _core
from spikecodec.integrations.numcodecs import SpikeCodec
from spikecodec.integrations.torch import SpikeDataset
from spikecodec.integrations.zarr import SpikeZarrCodec

FRAMINGS = ["file", "message"]


def dirty_bools(shape=(4, 6), seed=0) -> np.ndarray:
    """A bool array whose True elements are stored as bytes 1, 2 and 255 (np.frombuffer, a view
    of another dtype, C code make them): numpy reads each as True."""
    raw = np.random.default_rng(seed).choice(np.array([0, 1, 2, 255], np.uint8), size=shape)
    return raw.view(bool)


# -- bool chunks whose bytes are not 0/1 -------------------------------------------------------------

@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("layout", ["c", "fortran", "strided", "0-d"])
def test_numcodecs_bool_chunks_of_any_true_byte_round_trip(framing, layout):
    # Before: file framing wrote a chunk that decoding refused for ever ("a bool chunk holds the
    # value 255": data lost), message framing refused the chunk ("value 2 ... does not fit the
    # 1-bit element type") although every element is a bool.
    x = dirty_bools((4, 6, 3))
    zero_d = np.frombuffer(b"\x02", bool).reshape(())
    x = {"c": x, "fortran": np.asfortranarray(x), "strided": x[:, ::2], "0-d": zero_d}[layout]
    codec = SpikeCodec(framing=framing)
    if framing == "message" and layout == "fortran":  # refused: see test_zarr_format_2_order_f_...
        with pytest.raises(ValueError, match="Fortran order"):
            codec.encode(x)
        return
    back = codec.decode(codec.encode(x))
    assert back.dtype == np.dtype(bool) and back.shape == x.shape
    np.testing.assert_array_equal(back, x)
    assert back.view(np.uint8).max(initial=0) <= 1


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("shards", [None, (4, 6)])
def test_zarr_v3_bool_arrays_of_any_true_byte_round_trip(tmp_path, framing, shards):
    # Before: the write succeeded and every read of the array raised FormatError (file framing),
    # or the write raised "value 2 ... does not fit the 1-bit element type" (message framing).
    x = dirty_bools((4, 12))
    z = zarr.create_array(tmp_path / "a.zarr", shape=x.shape, chunks=(4, 3) if shards else (4, 6), shards=shards,
                          dtype=bool, compressors=None, serializer=SpikeZarrCodec(framing=framing))
    z[:] = x
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "a.zarr")[:], x)


@pytest.mark.parametrize("framing", FRAMINGS)
def test_zarr_v2_compressor_bool_arrays_of_any_true_byte_round_trip(tmp_path, framing):
    # Before: as the v3 test (file framing: written, then unreadable).
    x = dirty_bools((4, 12))
    z = zarr.create_array(tmp_path / "a.zarr", shape=x.shape, chunks=(4, 5), dtype=bool, zarr_format=2,
                          compressors=SpikeCodec(framing=framing))
    z[:] = x
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "a.zarr")[:], x)


# -- what numcodecs' encode takes -------------------------------------------------------------------

@pytest.mark.parametrize("framing", FRAMINGS)
def test_numcodecs_encodes_tensors_and_dask_arrays(framing):
    # Before: TypeError "memoryview: a bytes-like object is required, not 'Tensor'" (and 'Array'
    # for dask), though spikecodec takes tensors everywhere else.
    import dask.array as da

    x = np.random.default_rng(1).random((2, 5, 3)) < 0.4
    codec = SpikeCodec(framing=framing)
    for chunk in (torch.from_numpy(x), torch.from_numpy(x.astype(np.uint8)).permute(2, 0, 1).permute(1, 2, 0),
                  da.from_array(x, chunks=(1, 2, 3))):
        back = codec.decode(codec.encode(chunk))
        np.testing.assert_array_equal(back, x)
    with pytest.raises(TypeError, match=r"spikecodec \(numcodecs\): a chunk must be .*got list"):
        codec.encode([0, 1, 1])  # before: "memoryview: a bytes-like object is required, not 'list'"


# -- configurations through JSON and the registries ---------------------------------------------------

@pytest.mark.parametrize("config, error, match", [
    ({"id": "spikecodec", "codec": "auto", "level": 3}, ValueError, r"unknown configuration keys \['level'\]"),
    ({"id": "blosc", "cname": "zstd"}, ValueError, "configuration is for codec 'blosc'"),
    ({"id": "zstd"}, ValueError, "configuration is for codec 'zstd'"),
    ('{"id": "spikecodec"}', TypeError, "a configuration is a dict"),
    ([("id", "spikecodec")], TypeError, "a configuration is a dict"),
])
def test_from_config_refuses_what_is_not_its_configuration(config, error, match):
    # Before: {"id": "zstd"} or {"id": "blosc", ...} made a SpikeCodec without a word (or a
    # TypeError from __init__ about 'cname'); a JSON string failed in dict() ("dictionary update
    # sequence element #0 has length 1"); an unknown key was a TypeError from __init__.
    with pytest.raises(error, match=match):
        SpikeCodec.from_config(config)


def test_unknown_keys_through_the_numcodecs_registry():
    # Before: TypeError "SpikeCodec.__init__() got an unexpected keyword argument 'foo'".
    with pytest.raises(ValueError, match=r"spikecodec \(numcodecs\): unknown configuration keys \['foo'\]"):
        numcodecs.get_codec({"id": "spikecodec", "codec": "raw", "foo": 1})


def test_bits_computed_with_numpy_survive_json():
    # Before: bits=np.int64(2) (as computed from an array) was refused ("bits must be one of").
    codec = SpikeCodec(bits=np.int64(2), framing="message")
    twin = numcodecs.get_codec(json.loads(json.dumps(codec.get_config())))
    assert twin == codec and type(twin.bits) is int
    x = np.array([[0, 3], [2, 1]], np.uint8)
    np.testing.assert_array_equal(twin.decode(codec.encode(x)), x)
    zc = SpikeZarrCodec(bits=np.uint8(2))
    assert json.loads(json.dumps(zc.to_dict()))["configuration"]["bits"] == 2


def test_file_chunk_with_a_list_as_its_dtype_is_a_format_error():
    # Before: TypeError "unhashable type: 'list'" from inside the codec.
    data = spikecodec.encode(np.ones(3, np.uint8), codec="raw", metadata={"dtype": ["uint8"]})
    with pytest.raises(spikecodec.FormatError, match="names dtype"):
        SpikeCodec().decode(data)


# -- forked workers -----------------------------------------------------------------------------------

def _code_one_chunk(queue):
    codec = SpikeCodec(framing="message", codec="raw")
    queue.put(int(codec.decode(codec.encode(np.ones((2, 3), bool))).sum()))


def test_a_child_forked_while_a_thread_holds_the_codec_lock_codes_chunks():
    # Before: the child (a DataLoader worker or a multiprocessing task forked while one of dask's
    # or zarr's threads was coding a chunk) inherited the lock as held and hung on its first chunk.
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    with _core._framings_lock, _core._priors_lock:  # as a thread of this process would
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork of a process with threads
            child = ctx.Process(target=_code_one_chunk, args=(queue,))
            child.start()
    child.join(30)
    try:
        assert not child.is_alive(), "the forked child hung on the codec's lock"
        assert child.exitcode == 0 and queue.get(timeout=5) == 6
    finally:
        if child.is_alive():
            child.kill()
            child.join()


# -- zarr: what the sharding codec never validates ------------------------------------------------------

@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("dtype, kwargs, match", [
    ("int16", {}, r"bool \(spikes\) or uint8"),
    ("float32", {}, r"bool \(spikes\) or uint8"),
    (">u2", {}, r"bool \(spikes\) or uint8"),
    ("bool", {"axes": "TNCHW"}, "name 5 axes, the array has 3"),
])
def test_sharded_arrays_the_codec_cannot_code_are_refused_when_made(tmp_path, framing, dtype, kwargs, match):
    # Before: zarr made the sharded array (its sharding codec never calls the inner codec's
    # validate) and every write failed - with message framing saying "this codec has none" (of
    # a header), nothing about the dtype or the axes.
    with pytest.raises(ValueError, match=match):
        zarr.create_array(tmp_path / "a.zarr", shape=(4, 8, 3), chunks=(4, 2, 3), shards=(4, 4, 3), dtype=dtype,
                          compressors=None, serializer=SpikeZarrCodec(framing=framing, **kwargs))


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("shards", [None, (4, 4, 3)])
def test_a_fill_value_over_bits_is_named_when_a_chunk_is_written_in_part(tmp_path, framing, shards):
    # Before: writing the value 1 failed with "value 7 at index (0, 0, 1) does not fit the 2-bit
    # element type" - a 7 the user never wrote (zarr's fill value, in the unwritten part).
    z = zarr.create_array(tmp_path / "a.zarr", shape=(4, 8, 3), chunks=(4, 2, 3), shards=shards, dtype="uint8",
                          fill_value=7, compressors=None, serializer=SpikeZarrCodec(framing=framing, bits=2))
    with pytest.raises(ValueError, match="fill_value 7 does not fit the 2-bit element type"):
        z[0, 0, 0] = 1
    z[:, :2] = 3  # a whole chunk of values that fit is written and read back
    np.testing.assert_array_equal(z[:, :2], 3)


# -- torch: indices, paths, files that change -----------------------------------------------------------

@pytest.fixture()
def spike_file(tmp_path):
    x = np.random.default_rng(2).random((2, 7, 3, 4, 4)) < 0.3  # T N C H W: 7 samples
    path = tmp_path / "a.spk"
    spikecodec.save(path, x, codec="raw")
    return path, x


@pytest.mark.parametrize("index", [2.7, True, np.True_, "3", slice(1, 3), [1, 2], np.array([1, 2]), None])
def test_dataset_indices_that_are_not_one_integer_are_refused(spike_file, index):
    # Before: 2.7 gave item 2, True item 1, "3" item 3 (int() took them); a slice, a list or an
    # array failed inside int() ("int() argument must be a string ... not 'slice'").
    ds = SpikeDataset(spike_file[0])
    with pytest.raises(TypeError, match="SpikeDataset: an item's index is"):
        ds[index]


def test_dataset_integer_indices_of_every_kind(spike_file):
    # Guards the refusals above: every integer kind still names its item (passed before).
    path, x = spike_file
    ds = SpikeDataset(path)
    for index, want in ((np.int64(3), 3), (np.uint8(6), 6), (torch.tensor(2), 2), (torch.tensor([5]), 5), (-7, 0)):
        np.testing.assert_array_equal(ds[index].numpy(), x[:, want])
    with pytest.raises(IndexError, match="out of range for 7 samples"):
        ds[-8]


def test_dataset_takes_a_path_as_bytes(spike_file):
    # Before: TypeError "expected str, bytes or os.PathLike object, not int" (the bytes were
    # iterated as a sequence of paths).
    path, x = spike_file
    for files in (bytes(path), [bytes(path)]):
        ds = SpikeDataset(files)
        np.testing.assert_array_equal(ds[6].numpy(), x[:, 6])
    with pytest.raises(TypeError, match="SpikeDataset: a file must be given as a path, got int"):
        SpikeDataset([path, 3])


@pytest.mark.parametrize("cache_bytes", [-1, None, "64", 1.5, True])
def test_dataset_cache_bytes_is_checked(spike_file, cache_bytes):
    # Before: -1, "64" and True were taken (int()), None was a TypeError from int().
    with pytest.raises(ValueError, match="SpikeDataset: cache_bytes must be"):
        SpikeDataset(spike_file[0], cache_bytes=cache_bytes)


@pytest.mark.parametrize("replacement, said", [
    ((2, 3, 3, 4, 4), "now 3 samples"),                  # shorter
    ((2, 7, 5, 4, 4), r"now 7 samples of \(2, 5, 4, 4\)"),  # samples of another shape
])
def test_a_file_replaced_before_it_is_read_is_a_clear_error(spike_file, replacement, said):
    # Before: a shorter file gave "IndexError: index 5 is out of bounds for axis 1 with size 3"
    # from inside numpy; a file of other samples gave items of another shape than the dataset's.
    path, _ = spike_file
    ds = SpikeDataset(path)
    spikecodec.save(path, np.zeros(replacement, bool), codec="raw")
    with pytest.raises(ValueError, match=f"changed since the dataset was made: .*{said}"):
        ds[5]


def test_a_file_replaced_before_workers_start_is_a_clear_error_in_the_loader(spike_file):
    # Before: the worker raised "IndexError: index 5 is out of bounds for axis 1 with size 3".
    from torch.utils.data import DataLoader

    path, _ = spike_file
    ds = SpikeDataset(path)
    spikecodec.save(path, np.zeros((2, 3, 3, 4, 4), bool), codec="raw")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loader = DataLoader(ds, batch_size=7, num_workers=1, multiprocessing_context="fork")
        with pytest.raises(ValueError, match="changed since the dataset was made"):
            list(loader)


@pytest.mark.parametrize("rewrite", ["same shape, other samples", "the same samples and more"])
def test_a_file_rewritten_with_samples_of_the_same_shape_is_a_clear_error(spike_file, rewrite):
    # Before: a file replaced by one of the same shape was read silently, its samples another
    # file's, though the docs promised a ValueError; a file rewritten longer was read as the
    # samples counted, which the dataset cannot know without reading them.
    path, x = spike_file
    ds = SpikeDataset(path)
    spikecodec.save(path, 1 - x if rewrite.startswith("same shape") else np.concatenate([x, x], axis=1), codec="raw")
    with pytest.raises(ValueError, match=r"changed since the dataset was made \(its size, header"):
        ds[6]


def test_an_unchanged_file_reads_in_a_fresh_process_and_a_one_axis_file_gives_0d_items(spike_file, tmp_path):
    path, x = spike_file
    clone = pickle.loads(pickle.dumps(SpikeDataset(path)))  # opens the file anew, checks it against the dataset's count
    np.testing.assert_array_equal(clone[6].numpy(), x[:, 6])
    one_axis = tmp_path / "n.spk"
    spikecodec.save(one_axis, np.array([0, 1, 1, 0], np.uint8), axes="N")
    for cache_bytes in (0, 1 << 20):  # the cached block's item was a numpy scalar: torch.from_numpy refused it
        item = SpikeDataset(one_axis, cache_bytes=cache_bytes)[1]
        assert item.shape == () and int(item) == 1


def test_close_while_another_thread_reads_an_item(spike_file, monkeypatch):
    # Before: close() closed the file under a thread that was reading an item (a prefetching
    # thread), which then raised "read from a closed spike file"; now close() waits for it.
    import threading

    from spikecodec.container.reader import SpikeReader

    path, x = spike_file
    ds = SpikeDataset(path, cache_bytes=0)
    ds[0]  # the file is open in this process
    started, release = threading.Event(), threading.Event()
    original = SpikeReader.__getitem__

    def slow_getitem(self, key):
        started.set()
        release.wait(10)
        return original(self, key)

    monkeypatch.setattr(SpikeReader, "__getitem__", slow_getitem)
    got: dict = {}

    def read():
        try:
            got["item"] = ds[4].numpy()
        except Exception as exc:  # noqa: BLE001 - what the reading thread saw
            got["error"] = exc

    reading = threading.Thread(target=read)
    reading.start()
    assert started.wait(10)
    closing = threading.Thread(target=ds.close)
    closing.start()
    closing.join(0.3)  # close() runs now, while the item is being read
    release.set()
    reading.join(10)
    closing.join(10)
    assert "error" not in got, got.get("error")
    np.testing.assert_array_equal(got["item"], x[:, 4])
    np.testing.assert_array_equal(ds[5].numpy(), x[:, 5])  # and the dataset reopens its file


def test_a_relative_path_names_the_same_file_after_a_chdir(tmp_path, monkeypatch):
    # Before: files were opened lazily by the path as given, so after os.chdir (a training script
    # moving into its run folder) the dataset read another folder's file of the same name - items
    # of other samples, with no error - or raised FileNotFoundError.
    rng = np.random.default_rng(3)
    first, other = rng.random((2, 2, 5, 3, 3)) < 0.5
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    spikecodec.save(tmp_path / "a" / "x.spk", first, codec="raw")
    spikecodec.save(tmp_path / "b" / "x.spk", other, codec="raw")
    monkeypatch.chdir(tmp_path / "a")
    ds = SpikeDataset("x.spk")
    monkeypatch.chdir(tmp_path / "b")
    np.testing.assert_array_equal(ds[1].numpy(), first[:, 1])


@pytest.mark.parametrize("axes, match", [
    ("T ", r"axis name ' ' is not 1-16 characters"),
    (["T", "N\n"], r"axis name 'N\\n' is not"),
    (["", "N"], r"axis name '' is not"),
    (["time", "n" * 17], "is not 1-16 characters"),
    ("ABCDEFGHI", "name 9 axes; a spike file holds at most 8"),
])
def test_axis_names_a_spike_file_cannot_hold_are_refused_when_the_codec_is_made(tmp_path, axes, match):
    # Before: the codecs (and a zarr array with one) were made, and every chunk written then
    # failed ("axis name ' ' is not 1-16 characters ...", from the writer).
    with pytest.raises(ValueError, match=r"spikecodec \(numcodecs\): .*" + match):
        SpikeCodec(axes=axes)
    with pytest.raises(ValueError, match=r"spikecodec \(zarr\): .*" + match):
        zarr.create_array(tmp_path / "a.zarr", shape=(2,) * len(axes), dtype=bool, compressors=None,
                          serializer=SpikeZarrCodec(axes=axes))


# -- a chunk read with the other framing ------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3), (4, 50, 9)])
def test_a_message_chunk_read_as_a_file_says_which_framing_wrote_it(shape):
    # Before: only "file is 9 bytes, too short for the 16-byte preamble" or "not a spike file:
    # bad signature" (the other direction already named framing='file').
    x = np.random.default_rng(4).random(shape) < 0.3
    data = SpikeCodec(framing="message").encode(x)
    with pytest.raises(spikecodec.FormatError, match="was it written with framing='message'") as caught:
        SpikeCodec().decode(data)
    assert caught.value.code in ("preamble-truncated", "preamble-magic")


@pytest.mark.parametrize("shards", [None, (4, 4, 3)])
def test_a_zarr_configuration_that_lost_its_header_says_so(tmp_path, shards):
    # Before: "not a spike file: bad signature" (or "too short for the 16-byte preamble") for a
    # store whose zarr.json lost framing and header (a tool rewrote it): nothing said why.
    x = np.random.default_rng(5).random((4, 8, 3)) < 0.4
    path = tmp_path / "a.zarr"
    z = zarr.create_array(path, shape=x.shape, chunks=(4, 2, 3) if shards else x.shape, shards=shards, dtype=bool,
                          compressors=None, serializer=SpikeZarrCodec(framing="message"))
    z[:] = x
    meta = json.loads((path / "zarr.json").read_text())
    codec = meta["codecs"][0]["configuration"]
    if shards:
        codec = codec["codecs"][0]["configuration"]
    del codec["framing"], codec["header"]
    (path / "zarr.json").write_text(json.dumps(meta))
    with pytest.raises(spikecodec.FormatError, match="framing='message', and its configuration has lost the header"):
        zarr.open_array(path)[:]


@pytest.mark.parametrize("role", ["compressors", "filters"])
def test_zarr_format_2_order_f_reads_back_what_was_written(tmp_path, role):
    # zarr 2 reads a compressor's (or filter's) output in the array's memory order: an order="F"
    # array read every chunk back transposed, with no error. File framing now marks such a chunk
    # and decodes it in Fortran order; message framing, with no room to mark it, refuses it.
    a = np.random.default_rng(0).random((4, 7, 3)) < 0.4
    extra = {"compressors": None} if role == "filters" else {}
    z = zarr.create_array(tmp_path / "f", shape=a.shape, chunks=(3, 2, 3), dtype=bool, zarr_format=2, order="F",
                          **{role: SpikeCodec(framing="file")}, **extra)
    z[:] = a
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "f")[:], a)
    z = zarr.create_array(tmp_path / "m", shape=a.shape, chunks=(3, 2, 3), dtype=bool, zarr_format=2, order="F",
                          **{role: SpikeCodec(framing="message")}, **extra)
    with pytest.raises(ValueError, match="Fortran order"):
        z[:] = a
    codec = SpikeCodec()  # outside zarr: the same values and shape, in the memory order given
    f = np.asfortranarray(a)
    back = codec.decode(codec.encode(f))
    np.testing.assert_array_equal(back, a)
    assert back.flags.f_contiguous


@pytest.mark.parametrize("framing", ["file", "message"])
def test_a_value_that_does_not_fit_is_named_within_its_chunk(framing):
    # Before: "value 4 at index (1, 2) does not fit ..." for a value written at (3, 5): an index
    # within the chunk, not said to be one, with no codec named.
    from spikecodec.integrations.zarr import SpikeZarrCodec

    z = zarr.create_array(zarr.storage.MemoryStore(), shape=(4, 6), chunks=(2, 3), dtype="uint8",
                          serializer=SpikeZarrCodec(bits=2, framing=framing), compressors=None)
    values = np.zeros((4, 6), np.uint8)
    values[3, 5] = 4
    with pytest.raises(ValueError, match=r"spikecodec \(zarr\): value 4 at index \(1, 2\) .* within the chunk being coded, of shape \(2, 3\)"):
        z[...] = values
    with pytest.raises(ValueError, match=r"spikecodec \(numcodecs\): value 4 at index \(3, 5\) .* of shape \(4, 6\)"):
        SpikeCodec(bits=2, framing=framing).encode(values)


def test_an_array_no_chunk_of_which_could_be_written_is_refused_when_made_and_a_read_only_out_said_so():
    # Before: rank 9 was accepted at creation (quietly framing="file") and every write failed;
    # decode(out=read-only) raised numpy's "assignment destination is read-only".
    from spikecodec.integrations.zarr import SpikeZarrCodec

    for framing in FRAMINGS:
        with pytest.raises(ValueError, match="rank 9 exceed the format's 8 axes"):
            zarr.create_array(zarr.storage.MemoryStore(), shape=(1,) * 9, dtype="bool",
                              serializer=SpikeZarrCodec(framing=framing), compressors=None)
    codec = SpikeCodec()
    chunk = np.ones((2, 3), np.uint8)
    out = np.empty_like(chunk)
    out.setflags(write=False)
    with pytest.raises(ValueError, match=r"spikecodec \(numcodecs\): out= is a read-only array"):
        codec.decode(codec.encode(chunk), out=out)
