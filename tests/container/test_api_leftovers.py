"""Usability leftovers of the public API found by a careless-user sweep: ``load("-")`` reads
standard input as ``save("-")`` writes standard output; ``range`` and bool-scalar selections on a
reader; ``SpikeWriter(length=0)`` closed with no frame."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import spikecodec
from test_roundtrip import assert_selects_as_numpy  # the one check of a selection against numpy

SHAPE = (5, 4, 3)


@pytest.fixture(scope="module")
def array() -> np.ndarray:
    return (np.random.default_rng(7).random(SHAPE) < 0.4).astype(np.uint8)


@pytest.fixture(scope="module")
def reader(array: np.ndarray):
    # chunk (2, 3): several rows and several chunks a row, so that selections cross chunks.
    with spikecodec.open(spikecodec.encode(array, chunk=(2, 3), codec="raw")) as r:
        yield r


# -- 1. "-" is standard input --------------------------------------------------------------

def _run(code: str, stdin: bytes, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, cwd=cwd, timeout=120)


def test_load_dash_reads_stdin_and_wins_over_a_file_named_dash(tmp_path: Path, array: np.ndarray) -> None:
    spikecodec.save(tmp_path / "x.spk", array)
    spikecodec.save(tmp_path / "-", array[:2])  # a file named "-": only "./-" names it
    code = ("import json, pickle, spikecodec, sys\n"
            "a = spikecodec.load('-')\n"
            "b = spikecodec.load('./-')\n"
            "print(json.dumps({'a': a.tolist(), 'b_shape': list(b.shape)}))\n")
    done = _run(code, (tmp_path / "x.spk").read_bytes(), tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    np.testing.assert_array_equal(np.array(out["a"], np.uint8), array)
    assert out["b_shape"] == [2, *SHAPE[1:]]


def test_open_and_decode_dash_read_stdin(tmp_path: Path, array: np.ndarray) -> None:
    data = spikecodec.encode(array)
    code = ("import pickle, spikecodec, sys\n"
            "with spikecodec.open('-') as r:\n"
            "    assert r.name == '<stdin>', r.name\n"
            "    again = pickle.loads(pickle.dumps(r))\n"  # read whole, it pickles as its bytes
            "    sys.stdout.buffer.write(spikecodec.encode(again[1:3], codec='raw'))\n")
    done = _run(code, data, tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    np.testing.assert_array_equal(spikecodec.decode(done.stdout), array[1:3])
    done = _run("import spikecodec, sys; sys.stdout.buffer.write(spikecodec.decode('-').tobytes())", data, tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == array.tobytes()


def test_stdin_obeys_max_bytes(tmp_path: Path, array: np.ndarray) -> None:
    data = spikecodec.encode(array, codec="raw")
    code = ("import spikecodec\n"
            "try:\n"
            f"    spikecodec.load('-', max_bytes={len(data) - 1})\n"
            "except spikecodec.LimitError as exc:\n"
            "    print(exc.code, str(exc))\n")
    done = _run(code, data, tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().startswith("limit-bytes <stdin>: a stream is read whole"), done.stdout


def test_stdin_that_is_no_spike_file_is_refused_at_its_first_bytes(tmp_path: Path) -> None:
    code = ("import spikecodec\n"
            "try:\n"
            "    spikecodec.load('-')\n"
            "except spikecodec.FormatError as exc:\n"
            "    print(exc.code, str(exc))\n")
    done = _run(code, b"not a spike file at all, and rather long " * 100, tmp_path)
    assert done.returncode == 0, done.stderr.decode()
    assert "<stdin>: at byte 0" in done.stdout.decode(), done.stdout


# -- 2. ranges and bool scalars as selections ------------------------------------------------

def _axis_index(n: int) -> st.SearchStrategy:
    bound = n + 3  # some out of bounds, both ends
    ints = st.integers(-bound, bound)
    ranges = st.builds(range, ints, ints, st.integers(-4, 4).filter(bool))
    slices = st.builds(slice, st.none() | ints, st.none() | ints, st.none() | st.integers(-3, 3).filter(bool))
    lists = st.lists(ints, max_size=4)
    zero_d = st.builds(np.array, ints)  # an int to numpy, bounds checked even where arrays select nothing
    return st.one_of(ranges, ranges, ints, slices, lists, zero_d)


@st.composite
def _keys(draw) -> tuple:
    parts = [draw(_axis_index(n)) for n in SHAPE[: draw(st.integers(1, len(SHAPE)))]]
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), Ellipsis)
        if len(parts) > len(SHAPE):
            parts.pop(-1 if parts[-1] is not Ellipsis else 0)
    return tuple(parts)


@given(key=_keys())
def test_selections_with_ranges_match_numpy(reader, array: np.ndarray, key: tuple) -> None:
    for k in (key, key[0]) if len(key) == 1 else (key,):  # r[range(..)] as well as r[(range(..),)]
        assert_selects_as_numpy(reader, array, k)


@pytest.mark.parametrize("key", [range(2), range(4, -1, -2), range(-1, -6, -1), range(0), range(3, 3), range(9, 0, 1),
                                 (slice(None), range(3, 0, -1)), (range(2), range(1, 3)), (range(2), 1, [0, 2]),
                                 (Ellipsis, range(2, -1, -2)), range(0, 10**30, 10**30),
                                 # out of bounds, but the index arrays select nothing: numpy returns an empty array
                                 (range(0), range(9, 10)), (np.zeros((0, 1), int), range(-9, 9, 3))])
def test_range_examples_match_numpy(reader, array: np.ndarray, key) -> None:
    np.testing.assert_array_equal(reader[key], array[key])
    assert reader[key].shape == array[key].shape


@pytest.mark.parametrize("key", [range(5, 6), range(-6, 0), (0, range(0, 5)), range(0, 10**30), range(10**30, 0, -1)])
def test_range_out_of_bounds_is_an_index_error_as_in_numpy(reader, array: np.ndarray, key) -> None:
    with pytest.raises(IndexError):
        array[key]
    with pytest.raises(IndexError, match="out of bounds for axis"):
        reader[key]  # checked before its positions are made: range(10**30) allocates nothing


@pytest.mark.parametrize("key", [True, False, np.bool_(True), np.bool_(False), (0, True), (Ellipsis, False)])
def test_bool_scalar_is_a_clear_index_error(reader, key) -> None:
    with pytest.raises(IndexError, match=r"index (True|False) \((bool|numpy\.bool_?)\): a boolean scalar is not a supported"):
        reader[key]


# -- 3. SpikeWriter(length=0) with no frame ---------------------------------------------------

@pytest.mark.parametrize("options, shape", [({}, (0,)), ({"axes": "TNCHW"}, (0, 0, 0, 0, 0)),
                                            ({"chunk": (1, 2)}, (0, 0)), ({"records": "compact"}, (0,))])
def test_writer_of_length_0_with_no_frame_closes_to_an_empty_array(options: dict, shape: tuple) -> None:
    out = io.BytesIO()
    with spikecodec.SpikeWriter(out, length=0, **options) as w:
        assert w.frames_written == 0
    data = out.getvalue()
    assert spikecodec.validate(data).ok
    a = spikecodec.decode(data)
    assert a.shape == shape and a.dtype == np.uint8
    with spikecodec.open(data) as r:
        assert r.shape == shape and len(r) == 0 and r[0:0].shape == shape


def test_writer_of_length_0_to_a_path(tmp_path: Path) -> None:
    path = tmp_path / "empty.spk"
    w = spikecodec.SpikeWriter(path, length=0)
    w.close()
    assert spikecodec.load(path).shape == (0,)
    with pytest.raises(ValueError, match="would pass the declared length=0"):
        with spikecodec.SpikeWriter(tmp_path / "other.spk", length=0) as w:
            w.append(np.zeros(3, np.uint8))


def test_writer_with_no_length_and_no_frame_still_refuses(tmp_path: Path) -> None:
    # The frame shape is unknown and the length too: nothing to write, and no file left.
    with pytest.raises(ValueError, match="no frame was appended"):
        spikecodec.SpikeWriter(tmp_path / "none.spk").close()
    assert not (tmp_path / "none.spk").exists()
