"""A careless-and-hostile-user sweep of the public Python API and the integrations, by kind of
misuse (test_api_sweep.py and test_careless_sweep.py hold the earlier sweeps; the command line has
tests/cli/test_cli_misuse_sweep.py). Each case that was wrong is now one clear error, raised before
any work, or the right result: never a valid file blamed for a reader's short read, an error from
numpy or numcodecs, or an option found bad only after minutes of training."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import spikecodec
from spikecodec.output import OutputError

SPIKES = (np.random.default_rng(11).random((3, 2, 4, 5)) < 0.3).astype(np.uint8)
FILE = spikecodec.encode(SPIKES, codec="raw")
RAGGED = [[0, 1], [1]]


# --- arrays: nested lists of unequal lengths, at every entry point that takes an array ---------


def _writer_append(a: Any) -> None:
    spikecodec.SpikeWriter(io.BytesIO(), codec="raw").append(a)


def _writer_frames(a: Any) -> None:
    spikecodec.SpikeWriter(io.BytesIO(), codec="raw").write_frames(a)


ARRAY_TAKERS: dict[str, Callable[[Any], object]] = {
    "encode": lambda a: spikecodec.encode(a, codec="raw"),
    "save": lambda a: spikecodec.save(io.BytesIO(), a, codec="raw"),
    "SpikeWriter.append": _writer_append,
    "SpikeWriter.write_frames": _writer_frames,
    "LinkEncoder.encode": lambda a: spikecodec.LinkEncoder((2,), codec="raw").encode(a),
}  # not train_prior: a list there is a list of samples


@pytest.mark.parametrize("taker", sorted(ARRAY_TAKERS))
def test_ragged_nested_lists_are_named_as_such(taker: str) -> None:
    # Was numpy's own "setting an array element with a sequence. The requested array has an
    # inhomogeneous shape after 1 dimensions", from inside np.asarray.
    with pytest.raises(ValueError, match=r"cannot read the list given as an array \(nested lists must be of one shape\)"):
        ARRAY_TAKERS[taker](RAGGED)


# --- file objects of the caller's that read oddly, at every reader -----------------------------


class _Raw(io.RawIOBase):
    """A raw binary file object over ``data``; ``seekable`` and what ``read`` returns vary."""

    def __init__(self, data: bytes, seekable: bool, mode: str):
        self._b = io.BytesIO(data)
        self._seekable = seekable
        self._mode = mode

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._seekable

    def seek(self, *args: Any) -> int:
        if not self._seekable:
            raise io.UnsupportedOperation("seek")
        return self._b.seek(*args)

    def tell(self) -> int:
        return self._b.tell()

    def read(self, n: int = -1) -> Any:  # type: ignore[override]
        if self._mode == "none":  # non-blocking, nothing there now
            return None
        part = self._b.read(1 if n is None or n < 0 else min(n, 1))  # a legal short read: one byte
        return part.decode("latin-1") if self._mode == "str" else part


READERS: dict[str, Callable[[Any], Any]] = {
    "load": spikecodec.load,
    "open": lambda f: spikecodec.open(f).read(),
    "validate": spikecodec.validate,
}


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("seekable", [True, False], ids=["seekable", "pipe-like"])
def test_a_file_object_that_reads_a_byte_at_a_time_reads_whole(reader: str, seekable: bool) -> None:
    # A seekable raw file object's short read was taken for the end of the file: a valid file
    # was "file is 1 bytes, too short for the 16-byte preamble" (validate: not conforming).
    got = READERS[reader](_Raw(FILE, seekable, "short"))
    if reader == "validate":
        assert got.ok, got
    else:
        np.testing.assert_array_equal(got, SPIKES)


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("seekable", [True, False], ids=["seekable", "pipe-like"])
def test_a_file_object_that_reads_text_is_a_type_error(reader: str, seekable: bool) -> None:
    # Was "a bytes-like object is required, not 'str'" (seekable) or "can't concat str to bytes".
    with pytest.raises(TypeError, match="the file object's read\\(\\) returned str, not bytes"):
        READERS[reader](_Raw(FILE, seekable, "str"))


@pytest.mark.parametrize("reader", sorted(READERS))
@pytest.mark.parametrize("seekable", [True, False], ids=["seekable", "pipe-like"])
def test_a_non_blocking_file_object_with_nothing_now_is_not_an_empty_file(reader: str, seekable: bool) -> None:
    # read() -> None was "object of type 'NoneType' has no len()" (seekable), or a FormatError
    # "file is 0 bytes" blaming a file that was not read at all (validate: not conforming).
    with pytest.raises(BlockingIOError, match="non-blocking and has no bytes now"):
        READERS[reader](_Raw(FILE, seekable, "none"))


# --- the reader's containers protocol ----------------------------------------------------------


@pytest.mark.parametrize("value", [1, 0, SPIKES[0], None])
def test_in_on_a_reader_says_what_to_do(value: Any) -> None:
    # `1 in reader` iterated the frames and ended in numpy's "The truth value of an array with
    # more than one element is ambiguous. Use a.any() or a.all()".
    with spikecodec.open(FILE) as r:
        with pytest.raises(TypeError, match="'in' does not search a spike file"):
            value in r  # noqa: B015


# --- output names: SpikeWriter refuses what save refuses, alike -------------------------------


@pytest.mark.parametrize("name, said", [("", "an empty name names no file"),
                                        ("new/", "ends in '/' but is no folder"),
                                        ("old.spk/", "ends in '/' but is no folder")])
@pytest.mark.parametrize("writer", ["save", "SpikeWriter"])
def test_names_of_no_file_are_refused_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, said: str,
                                            writer: str) -> None:
    # SpikeWriter("") was FileNotFoundError "No such file or directory: ''", and
    # SpikeWriter("old.spk/") (old.spk a file) IsADirectoryError "Is a directory".
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.spk").write_bytes(FILE)
    with pytest.raises(OutputError, match=said):
        if writer == "save":
            spikecodec.save(name, SPIKES)
        else:
            spikecodec.SpikeWriter(name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.spk"]
    assert (tmp_path / "old.spk").read_bytes() == FILE


# --- train_prior: its info checked before the training -----------------------------------------


def _samples_never_read() -> Iterator[np.ndarray]:
    raise AssertionError("the samples were read: the info should have been refused first")
    yield SPIKES  # pragma: no cover


@pytest.mark.parametrize("info, error, said", [
    ({"a": {1}}, ValueError, "must be JSON"),
    ({"a": float("nan")}, ValueError, "must be JSON"),
    ({1: "a"}, TypeError, "keys must be strings"),
    ({"a": "x" * (2 << 20)}, ValueError, "prior description is"),
], ids=["set", "nan", "int-key", "too-large"])
def test_train_prior_refuses_info_it_cannot_store_before_training(info: dict, error: type, said: str) -> None:
    # A set, NaN or an int key in info was refused by the prior made at the end: after every
    # sample had been read and trained on (minutes on a real file).
    with pytest.raises(error, match=said):
        spikecodec.train_prior(_samples_never_read(), info=info)


def test_train_prior_keeps_good_info() -> None:
    prior = spikecodec.train_prior(SPIKES, info={"model": "m", "split": [1, 2]})
    assert prior.info["model"] == "m" and prior.info["split"] == [1, 2]


# --- integrations ------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["file", "message"])
@pytest.mark.parametrize("buf", [None, "abc", 5, np.array([None], dtype=object)], ids=["None", "str", "int", "objects"])
def test_numcodecs_decode_of_what_is_no_buffer_is_named(framing: str, buf: Any) -> None:
    # Was numcodecs' "memoryview: a bytes-like object is required, not 'NoneType'".
    pytest.importorskip("numcodecs")
    from spikecodec.integrations.numcodecs import SpikeCodec

    with pytest.raises(TypeError, match=r"spikecodec \(numcodecs\): a chunk to decode is the encoded bytes"):
        SpikeCodec(codec="raw", framing=framing).decode(buf)


@pytest.fixture
def spike_path(tmp_path: Path) -> Path:
    path = tmp_path / "s.spk"
    path.write_bytes(FILE)
    return path


def test_dataset_of_a_file_object_asks_for_its_path(spike_path: Path) -> None:
    # A binary file object was iterated by its lines, each taken for a path:
    # "No such file or directory: '/cwd/\\udc8aSPK\\r\\n'".
    pytest.importorskip("torch")
    from spikecodec.integrations.torch import SpikeDataset

    with open(spike_path, "rb") as f, pytest.raises(TypeError, match="files are given by path .* got a file object"):
        SpikeDataset(f)  # type: ignore[arg-type]


@pytest.mark.parametrize("transform", [5, "flip", np.zeros(2)], ids=["int", "str", "array"])
def test_dataset_transform_must_be_callable_when_made(spike_path: Path, transform: Any) -> None:
    # Was accepted, then "'int' object is not callable" at every item (in each loader worker).
    pytest.importorskip("torch")
    from spikecodec.integrations.torch import SpikeDataset

    with pytest.raises(TypeError, match="transform must be callable"):
        SpikeDataset(spike_path, transform=transform)


# --- a reader's metadata, a writer's length -------------------------------------------------------


def test_changing_a_readers_metadata_changes_nothing_it_holds() -> None:
    """Before: ``metadata`` handed out the header's own dict (``codec`` a copy), so a caller's
    edit showed in every later read of it."""
    reader = spikecodec.open(spikecodec.encode(SPIKES, codec="raw", metadata={"layers": [1, 2], "net": {"t": 4}}))
    got = reader.metadata
    got["layers"].append(3)
    got["net"]["t"] = 8
    got["new"] = True
    assert reader.metadata == {"layers": [1, 2], "net": {"t": 4}}


@pytest.mark.parametrize("length", [2**62, 2**64 - 1, 2**70])
def test_a_length_no_axis_can_hold_is_refused_when_the_writer_is_made(length: int) -> None:
    """Before: accepted, then refused at the first frame as "shape[0] ... outside", naming no length."""
    with pytest.raises(ValueError, match=f"length={length} is more frames than an axis may hold"):
        spikecodec.SpikeWriter(io.BytesIO(), codec="raw", length=length)


# --- views that repeat one stored value (np.broadcast_to): checked by what is stored ------------


@pytest.mark.parametrize("view, error, said", [
    (np.broadcast_to(np.float32(0.5), (2**40,)), ValueError, r"value 0.5 at index \(0,\) is not a whole number"),
    (np.broadcast_to(np.int64(300), (2**20, 2**20)), ValueError, r"value 300 at index \(0, 0\) does not fit"),
    (np.broadcast_to(np.arange(3.0), (2**38, 3)), MemoryError, "zero strides"),
    (np.broadcast_to(np.True_, (2**40,)), MemoryError, "zero strides"),
])
def test_a_view_of_one_repeated_value_is_checked_by_its_stored_values(view: np.ndarray, error: type, said: str) -> None:
    """Before: the value checks read the view's every element - a float mask numpy could not
    allocate ("Unable to allocate 1.00 TiB"), or minutes of scanning 2**40 bools or ints before
    the MemoryError that says why the copy cannot be made."""
    with pytest.raises(error, match=said):
        spikecodec.encode(view)


class _SaysSeekableCannotSeek(io.BytesIO):
    """A wrapper over a pipe that claims seekable() and raises on seek."""

    def seek(self, *args: Any) -> int:
        raise io.UnsupportedOperation("seek")


@pytest.mark.parametrize("reader", sorted(READERS))
def test_a_file_object_that_says_seekable_but_cannot_seek_is_read_as_a_stream(reader: str) -> None:
    """Before: a bare ``io.UnsupportedOperation: seek`` from the reader's set-up."""
    got = READERS[reader](_SaysSeekableCannotSeek(FILE))
    if reader == "validate":
        assert got.ok, got
    else:
        assert np.array_equal(got, SPIKES)


# --- output paths of no file to make: a folder, a missing folder, a file taken for a folder -----


def _prior_save(name: str) -> None:
    spikecodec.train_prior(SPIKES, codec="ctxmix").save(name)


PATH_WRITERS: dict[str, Callable[[str], object]] = {
    "save": lambda name: spikecodec.save(name, SPIKES, codec="raw"),
    "SpikeWriter": lambda name: spikecodec.SpikeWriter(name, codec="raw"),
    "Prior.save": _prior_save,
}


@pytest.mark.parametrize("name, errno_, said", [
    ("folder", 21, "is a directory: name a file in it"),
    ("folder/", 21, "is a directory: name a file in it"),
    ("missing/new.spk", 2, r"the folder \S*missing is missing"),
    ("old.spk/new.spk", 20, r"the folder \S*old.spk is a file, not a folder"),
], ids=["folder", "folder-slash", "missing-folder", "file-as-folder"])
@pytest.mark.parametrize("writer", sorted(PATH_WRITERS))
def test_an_output_path_of_no_file_to_make_is_an_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                                              errno_: int, said: str, writer: str) -> None:
    # SpikeWriter("folder") was a bare IsADirectoryError "Is a directory", and
    # SpikeWriter("missing/new.spk") FileNotFoundError "No such file or directory", where save
    # said what was wrong with the name; a file taken for a folder was "is missing" everywhere.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "old.spk").write_bytes(FILE)
    with pytest.raises(OutputError, match=said) as caught:
        PATH_WRITERS[writer](name)
    assert caught.value.errno == errno_ and name.rstrip("/") in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "old.spk"]  # no temporary file
    assert not list((tmp_path / "folder").iterdir())
    assert (tmp_path / "old.spk").read_bytes() == FILE


@pytest.mark.parametrize("name", ["dir.EXT", "dir.EXT/", "missing/new.EXT", "old.spk/new.EXT"])
@pytest.mark.parametrize("command, ext", [(["encode", "x.npy"], "spk"), (["decode", "old.spk"], "npy"),
                                          (["decode", "old.spk"], "h5"), (["train-prior", "old.spk"], "prior")],
                         ids=["encode", "decode", "decode-h5", "train-prior"])
def test_the_command_line_says_so_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture, name: str, command: list[str], ext: str) -> None:
    from spikecodec_cli.main import main

    if ext == "h5":
        pytest.importorskip("h5py")
    monkeypatch.chdir(tmp_path)
    name = name.replace("EXT", ext)
    (tmp_path / f"dir.{ext}").mkdir()
    (tmp_path / "old.spk").write_bytes(FILE)
    np.save(tmp_path / "x.npy", SPIKES)
    assert main([*command, "-o", name, "-q"]) in (1, 2)  # 2: "dir.npy/" names no format decode knows
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"spikecodec: error: {name}"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"dir.{ext}", "old.spk", "x.npy"])
    assert not list((tmp_path / f"dir.{ext}").iterdir())


# --- bytes in a strided view: refused alike by every reader of bytes ---------------------------


def _strided(data: bytes) -> memoryview:
    doubled = bytearray(2 * len(data))
    doubled[::2] = data
    return memoryview(doubled)[::2]


BYTES_READERS: dict[str, Callable[[Any], Any]] = {
    "decode": spikecodec.decode,
    "open": lambda b: spikecodec.open(b).read(),
    "validate": spikecodec.validate,
    "SpikeStream": lambda b: list(spikecodec.SpikeStream(b)),
}


@pytest.mark.parametrize("view", [
    _strided(FILE),
    memoryview(np.frombuffer(FILE, np.uint8).reshape(1, -1)),
], ids=["memoryview-step-2", "contiguous-2d"])
@pytest.mark.parametrize("reader", sorted(BYTES_READERS))
def test_bytes_in_a_view_are_refused_or_read_alike(reader: str, view: memoryview) -> None:
    # SpikeStream copied a strided memoryview with bytes() and read it, where decode, open and
    # validate refused it: one check now, in one place.
    if view.c_contiguous:
        got = BYTES_READERS[reader](view)
        if reader == "validate":
            assert got.ok, got
        elif reader == "SpikeStream":
            np.testing.assert_array_equal(np.concatenate(got), SPIKES)
        else:
            np.testing.assert_array_equal(got, SPIKES)
        return
    with pytest.raises(TypeError, match="the file's bytes must be contiguous"):
        BYTES_READERS[reader](view)


def test_a_strided_array_of_the_files_bytes_is_refused_by_the_stream() -> None:
    doubled = np.zeros(2 * len(FILE), np.uint8)
    doubled[::2] = np.frombuffer(FILE, np.uint8)
    with pytest.raises(TypeError, match="the file's bytes must be contiguous"):
        spikecodec.SpikeStream(memoryview(doubled[::2]))


# --- the value check of a large float array: in bounded blocks ----------------------------------


@pytest.mark.parametrize("where", [0, 1, -1], ids=["first-block", "second-block", "last-element"])
@pytest.mark.parametrize("bad, said", [(0.5, "is not a whole number"), (np.nan, "is not a whole number"),
                                       (np.inf, "is not a whole number"), (-1.0, "does not fit"), (300.0, "does not fit")])
def test_a_bad_value_is_found_in_any_block_and_named_by_its_index(where: int, bad: float, said: str) -> None:
    """The value checks look at blocks of VALUE_CHECK_BLOCK elements: the first bad value is
    still the one named, in the first block, a later one or the very last element."""
    from spikecodec.elements import VALUE_CHECK_BLOCK, as_elements

    rows = 3 * VALUE_CHECK_BLOCK // 7 + 2  # three blocks and a short one
    a = np.zeros((rows, 7), np.float32)
    flat = a.reshape(-1)
    at = flat.size - 1 if where == -1 else where * VALUE_CHECK_BLOCK + 3
    flat[at] = bad
    if where != -1:
        flat[-2] = bad  # a later bad value: never the one named
    idx = tuple(int(i) for i in np.unravel_index(at, a.shape))
    said = rf"at index \({idx[0]}, {idx[1]}\) {said}"
    with pytest.raises(ValueError, match=said):
        spikecodec.encode(a, codec="raw")
    # A strided view (every other row of a larger array) is looked at in C order too.
    view = np.zeros((2 * rows, 7), np.float32)[::2]
    view[idx] = bad
    if where != -1:
        view[-1, -2] = bad
    with pytest.raises(ValueError, match=said):
        as_elements(view)


def test_the_value_check_of_a_large_float_array_takes_bounded_memory() -> None:
    import tracemalloc

    from spikecodec.elements import as_elements

    a = np.zeros(50_000_000, np.float32)  # 200 MB (calloc'ed: pages never written cost nothing)
    a[-1] = 1
    tracemalloc.start()
    try:
        values, bits = as_elements(a)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert bits == 1 and values[-1] == 1
    # The uint8 result (50 MB) and blocks of a few MB; full-size masks and np.round's copy were
    # over 400 MB.
    assert peak < a.size + 64 * 2**20, peak
