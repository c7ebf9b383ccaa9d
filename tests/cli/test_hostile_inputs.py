"""Careless and hostile input files, generated per format (.npy, stdin, .npz, .pt, .h5, IDX, PNG
folders), through the command line in-process: each is refused with exactly one line
``spikecodec: error: FILE: ...``, a non-zero exit status, no output file (nor temporary file)
left behind, nothing of another file disclosed, in bounded memory and time. Valid files of
unusual layouts still work, and the readers' size limit is a parameter.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import pickle
import resource
import struct
import subprocess
import sys
import time
import tracemalloc
import warnings
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import spikecodec
from spikecodec.limits import DEFAULT_MAX_DECODED_BYTES
from spikecodec_cli.images import read_images, read_labels, read_png_folder
from spikecodec_cli.io_formats import read_input
from spikecodec_cli.main import main

import h5py  # noqa: E402

SECRET = "TOPSECRET-c0ffee-do-not-disclose"
LIMIT = DEFAULT_MAX_DECODED_BYTES
MEMORY_MB = 200  # what one refusal may cost: peak Python allocations, and growth of the peak RSS
SECONDS = 20  # per case (a bomb is refused long before it could take this long)


# --- running the command -------------------------------------------------------------------------------


def run_cli(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


@contextlib.contextmanager
def bounded(what: str) -> Iterator[None]:
    """The block allocates at most MEMORY_MB (Python's allocations, numpy's included, and the
    process's peak RSS) and ends within SECONDS."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start = time.monotonic()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        if not tracing:
            tracemalloc.stop()
    took = time.monotonic() - start
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
    assert peak < MEMORY_MB << 20, f"{what}: {peak >> 20} MB allocated"
    assert grew < MEMORY_MB << 10, f"{what}: peak RSS grew by {grew >> 10} MB"
    assert took < SECONDS, f"{what}: took {took:.1f} s"


def refused(capsys: pytest.CaptureFixture, tmp_path: Path, args: list[Any], name: str, *fragments: str) -> str:
    """Run the command on a hostile input: one error line naming ``name``, a non-zero exit (1, or
    3 for a file refused by the size limit alone), no output, the secret nowhere."""
    outputs = [Path(a) for i, a in enumerate(args) if i and args[i - 1] in ("-o", "--output")]
    with bounded(" ".join(map(str, args))), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run_cli(capsys, *args)
    assert not caught, [str(w.message) for w in caught]  # each would be another line on stderr
    lines = err.strip().splitlines()
    assert code in (1, 3), (code, err)
    assert len(lines) == 1 and lines[0].startswith("spikecodec: error: "), err
    assert "Traceback" not in err
    assert f"spikecodec: error: {name}" in lines[0], (name, err)
    for fragment in fragments:
        assert fragment in lines[0], (fragment, err)
    assert SECRET not in out and SECRET not in err
    for path in outputs:
        assert not path.exists(), f"{path} was written"
    assert not temp_files(tmp_path)
    return lines[0]


def encode_refused(capsys, tmp_path: Path, spec: str | Path, name: str | None = None, *fragments: str) -> str:
    return refused(capsys, tmp_path, ["encode", spec, "-o", tmp_path / "out.spk"], name or str(spec), *fragments)


def encode_ok(capsys, tmp_path: Path, spec: str | Path) -> np.ndarray:
    out = tmp_path / "ok.spk"
    code, _, err = run_cli(capsys, "encode", spec, "-o", out, "-q")
    assert code == 0, err
    data = spikecodec.load(out)
    out.unlink()
    return data


# --- building hostile files ------------------------------------------------------------------------------


def npy_bytes(shape: Any, descr: Any = "|u1", fortran: Any = False, data: bytes = b"", version: tuple[int, int] = (1, 0),
              header: str | None = None) -> bytes:
    """A .npy file with any header at all (numpy would refuse to write most of these)."""
    text = header if header is not None else repr({"descr": descr, "fortran_order": fortran, "shape": shape})
    text += " " * (63 - (len(text) + 10) % 64) + "\n"
    length = struct.pack("<H", len(text)) if version == (1, 0) else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes(version) + length + text.encode("latin1") + data


def zeros_deflate(mib: int, wbits: int) -> bytes:
    """A deflate stream (raw, zlib or gzip by ``wbits``) of ``mib`` MiB of zeros, built in
    milliseconds: after a full flush each MiB compresses to the same ~1 KB, so the middle is
    repeated. Its trailer's check value is wrong: nothing reads that far."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    first = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return first + again * (mib - 1) + c.flush()


def deflate_prefix_then_zeros(prefix: bytes, mib: int) -> bytes:
    """A raw deflate stream of ``prefix`` followed by ``mib`` MiB of zeros."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(prefix + bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    return first + again * (mib - 1) + c.flush()


def raw_zip(entries: list[dict[str, Any]], *, directory_size: int | None = None) -> bytes:
    """A zip archive whose every field is ours to choose: ``name``, ``data`` (as stored),
    ``method`` (0 stored, 8 deflate), ``size`` (uncompressed, as declared), ``crc``, ``flags``."""
    out, central = bytearray(), bytearray()
    for e in entries:
        name, data = e["name"].encode(), e["data"]
        method, flags = e.get("method", 0), e.get("flags", 0)
        size = e.get("size", len(data))
        crc = e.get("crc", zlib.crc32(data) if method == 0 else 0)
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc, len(data), size, len(name), 0) + name + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0, 0x21, crc, len(data), size,
                               len(name), 0, 0, 0, 0, 0, offset) + name
    start = len(out)
    out += central
    count = len(entries)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, directory_size or len(central), start, 0)
    return bytes(out)


def npz_bytes(arrays: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # object arrays are pickled by np.save: the hostile case
    return buf.getvalue()


def idx_bytes(shape: tuple[int, ...], data: bytes = b"", kind: int = 0x08) -> bytes:
    return bytes([0, 0, kind, len(shape)]) + b"".join(int(s).to_bytes(4, "big") for s in shape) + data


def png_bytes(width: int, height: int, mode: int = 0, depth: int = 8, idat: bytes | None = None) -> bytes:
    """A PNG whose IHDR says anything: the pixel data need not be there (a bomb's header)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, mode, 0, 0, 0)
    body = idat if idat is not None else zlib.compress(b"\0" * (width + 1) * min(height, 4))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Load what the commands load once per process (the edge model, torch), so that the memory
    and time measured per case are the input's."""
    junk = tmp_path_factory.mktemp("warm") / "junk"
    junk.write_bytes(b"junk")
    with contextlib.redirect_stderr(io.StringIO()):
        main(["edge", "--images", str(junk), "-o", str(junk.with_suffix(".spk"))])


@pytest.fixture(scope="module")
def torch():
    import torch  # imported once for the module (it is slow to import)

    return torch


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """Another file, with something in it that must never come out."""
    path = tmp_path / "secret.txt"
    path.write_text(SECRET * 4)
    return path


# --- .npy ---------------------------------------------------------------------------------------------------

HUGE = 2**40

NPY_CASES: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "2^40 bytes": (npy_bytes((HUGE,), data=bytes(16)), ("declares 1099511627776 bytes, over the limit of 1073741824", "--max-bytes")),
    "8 GiB of float64": (npy_bytes((1 << 15, 1 << 15), "<f8"), ("declares 8589934592 bytes", "--max-bytes")),
    "2^62 elements": (npy_bytes((1 << 31, 1 << 31), "<i8"), ("over the limit",)),
    "version 2, 2^40": (npy_bytes((HUGE,), version=(2, 0)), ("declares 1099511627776 bytes",)),
    "negative size": (npy_bytes((-4,)), ("negative",)),
    "shape not a tuple": (npy_bytes(5), ("corrupt .npy header",)),
    "object array": (npy_bytes((3,), "|O"), ("pickled data is never loaded",)),
    "structured dtype": (npy_bytes((3,), [("a", "<i4"), ("b", "<f4")]), ("expected a numeric or boolean array",)),
    "complex": (npy_bytes((2,), "<c16", data=bytes(32)), ("dtype complex128",)),
    "text": (npy_bytes((2,), "<U4", data=bytes(32)), ("dtype <U4",)),
    "huge void": (npy_bytes((2,), "|V4294967296"), ("corrupt .npy header",)),
    "subarray dtype": (npy_bytes((2,), [("", "<i4", (1 << 20, 1 << 20))]), ("corrupt .npy header",)),
    "truncated data": (npy_bytes((100,), data=bytes(10)), ("truncated", "needs 100 bytes")),
    "two files joined": (npy_bytes((10,), data=bytes(10)) * 2, ("after the array's data ends at byte", "two files joined")),
    "header not a dict": (npy_bytes(None, header="[1, 2, 3]"), ("corrupt .npy header",)),
    "header not python": (npy_bytes(None, header="{'descr': __import__('os').system('id')}"), ("corrupt .npy header",)),
    "deep nesting": (npy_bytes(None, header="(" * 5000 + ")" * 5000), ("corrupt .npy header",)),
    "huge header length": (b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFFF) + b"{", ("a .npy header of 4294967295 bytes",)),
    "header cut short": (b"\x93NUMPY\x01\x00" + struct.pack("<H", 500) + b"{'descr'", ("truncated",)),
    "version 9.9": (b"\x93NUMPY\x09\x09" + bytes(100), ("unsupported .npy format version 9.9",)),
    "not npy": (b"GIF89a" + bytes(100), ("not a .npy file",)),
    "empty": (b"", ("not a .npy file",)),
    "magic cut short": (b"\x93NUM", ("truncated",)),
    "64 dimensions": (npy_bytes((1,) * 40), ("40 dimensions",)),
    "huge number": (npy_bytes(None, header="{'descr': '|u1', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",)}"), ("corrupt .npy header",)),
}


@pytest.mark.parametrize("case", sorted(NPY_CASES))
def test_npy_headers(case: str, tmp_path: Path, capsys) -> None:
    data, fragments = NPY_CASES[case]
    path = tmp_path / "in.npy"
    path.write_bytes(data)
    encode_refused(capsys, tmp_path, path, None, *fragments)
    refused(capsys, tmp_path, ["edge", "--images", path, "-o", tmp_path / "feats.spk"], str(path))


@pytest.mark.parametrize("case", ["2^40 bytes", "truncated data", "object array", "huge header length", "deep nesting", "empty",
                                  "two files joined"])
def test_npy_on_stdin(case: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(NPY_CASES[case][0])))
    encode_refused(capsys, tmp_path, "-", "<stdin>", *NPY_CASES[case][1][:1])


def test_stdin_npy_is_read_in_bounded_pieces(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    # Declares 2^40 bytes and then really goes on (a gigabyte of zeros would follow): refused from the header.
    stream = io.BufferedReader(io.BytesIO(npy_bytes((HUGE,), data=bytes(10 << 20))), buffer_size=64)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stream))
    encode_refused(capsys, tmp_path, "-", "<stdin>", "declares 1099511627776 bytes")
    assert stream.tell() < 200  # only the header was read
    # A valid array, and an .npz over the limit.
    array = (np.arange(60).reshape(3, 4, 5) % 2).astype(np.uint8)
    buf = io.BytesIO()
    np.save(buf, array)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(buf.getvalue())))
    assert np.array_equal(encode_ok(capsys, tmp_path, "-"), array)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(npz_bytes({"spikes": array}))))
    assert np.array_equal(read_input("-").array, array)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(npz_bytes({"spikes": np.zeros(5000, np.uint8)}))))
    with pytest.raises(ValueError, match="declares 5000 bytes, over the limit of 100"):
        read_input("-", max_bytes=100)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(npz_bytes({"spikes": np.zeros(5 << 20, np.uint8)}))))
    with pytest.raises(ValueError, match="the .npz data on stdin runs past"):
        read_input("-", max_bytes=100)


def test_not_regular_files_and_file_system_errors(tmp_path: Path, capsys) -> None:
    (tmp_path / "dir.npy").mkdir()
    encode_refused(capsys, tmp_path, tmp_path / "dir.npy", None, "Is a directory")
    for ext in ("npy", "npz", "pt", "h5"):
        fifo = tmp_path / f"fifo.{ext}"
        os.mkfifo(fifo)  # opening it for reading would block for ever: refused without waiting
        encode_refused(capsys, tmp_path, fifo, None, "not a regular file (a FIFO)")
        fifo.unlink()
    (tmp_path / "zero.npy").symlink_to("/dev/zero")
    encode_refused(capsys, tmp_path, tmp_path / "zero.npy", None, "not a regular file (a device)")
    refused(capsys, tmp_path, ["edge", "--images", tmp_path / "zero.npy", "-o", tmp_path / "f.spk"], str(tmp_path / "zero.npy"), "device")
    (tmp_path / "zero.idx").symlink_to("/dev/zero")
    refused(capsys, tmp_path, ["edge", "--images", tmp_path / "zero.idx", "-o", tmp_path / "f.spk"], str(tmp_path / "zero.idx"), "device")
    encode_refused(capsys, tmp_path, tmp_path / "gone.npy", None, "No such file")
    (tmp_path / "dangling.h5").symlink_to(tmp_path / "nowhere.h5")
    encode_refused(capsys, tmp_path, tmp_path / "dangling.h5", None, "No such file")


def test_unusual_valid_npy_still_work(tmp_path: Path, capsys) -> None:
    base = (np.arange(2 * 3 * 4).reshape(2, 3, 4) % 3).astype(np.uint8)
    for name, array in {
        "fortran": np.asfortranarray(base.astype(np.int32)),
        "big_endian": base.astype(">i4"),
        "bool": base.astype(bool),
        "float": base.astype(np.float32),
        "float16": base.astype(np.float16),
    }.items():
        np.save(tmp_path / f"{name}.npy", array)
        assert np.array_equal(encode_ok(capsys, tmp_path, tmp_path / f"{name}.npy"), array.astype(np.uint8)), name
    # A plain 1-D .npy of 6 M zeros passes the checks (read here: the command's writer takes
    # 1-D arrays element by element, which is slow), and a smaller one goes through the command.
    np.save(tmp_path / "zeros.npy", np.zeros(6_000_000, np.uint8))
    zeros = read_input(str(tmp_path / "zeros.npy")).array
    assert zeros.shape == (6_000_000,) and zeros.dtype == np.uint8 and not zeros.any()
    np.save(tmp_path / "zeros.npy", np.zeros(60_000, np.uint8))
    assert encode_ok(capsys, tmp_path, tmp_path / "zeros.npy").shape == (60_000,)
    (tmp_path / "v3.npy").write_bytes(npy_bytes((3,), "|u1", data=b"\x01\x00\x01", version=(3, 0)))
    assert list(encode_ok(capsys, tmp_path, tmp_path / "v3.npy")) == [1, 0, 1]


def test_limit_is_a_parameter(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.zeros((10, 100), np.uint8))
    assert read_input(str(tmp_path / "a.npy")).array.shape == (10, 100)
    with pytest.raises(ValueError, match=r"declares 1000 bytes, over the limit of 999 \(raise it with --max-bytes\)"):
        read_input(str(tmp_path / "a.npy"), max_bytes=999)
    np.savez(tmp_path / "a.npz", spikes=np.zeros(1000, np.uint8))
    with pytest.raises(ValueError, match="over the limit of 999"):
        read_input(str(tmp_path / "a.npz"), max_bytes=999)
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["spikes"] = np.zeros(1000, np.uint8)
    with pytest.raises(ValueError, match="over the limit of 999"):
        read_input(str(tmp_path / "a.h5"), max_bytes=999)
    (tmp_path / "a.idx").write_bytes(idx_bytes((10, 10, 10), bytes(1000)))
    assert read_images(str(tmp_path / "a.idx"), max_bytes=1000).shape == (10, 10, 10)
    with pytest.raises(ValueError, match="over the limit of 999"):
        read_images(str(tmp_path / "a.idx"), max_bytes=999)
    (tmp_path / "l.idx").write_bytes(idx_bytes((100,), bytes(100)))
    assert read_labels(str(tmp_path / "l.idx")).dtype == np.int64
    with pytest.raises(ValueError, match="100 labels as int64 declares 800 bytes"):
        read_labels(str(tmp_path / "l.idx"), max_bytes=799)
    spikecodec.save(tmp_path / "a.spk", np.zeros((10, 100), np.uint8))
    with pytest.raises(ValueError, match="999"):
        read_input(str(tmp_path / "a.spk"), max_bytes=999)


# --- .npz ----------------------------------------------------------------------------------------------------


def npz_cases() -> Iterator[tuple[str, bytes, tuple[str, ...]]]:
    spikes = np.ones((2, 3), np.uint8)
    header = npy_bytes((1_200 << 20,))
    yield "real zip bomb", raw_zip([{"name": "spikes.npy", "method": 8, "data": deflate_prefix_then_zeros(header, 1200),
                                     "size": len(header) + (1_200 << 20)}]), ("uncompressed", "declares 1258291", "over the limit of 1073741824")
    yield "declared 4 GiB", raw_zip([{"name": "spikes.npy", "data": npy_bytes((4,), data=bytes(4)), "size": 0xFFFFFFF0}]), ("declares 4294967280 bytes",)
    yield "npy header 2^40", raw_zip([{"name": "spikes.npy", "data": npy_bytes((HUGE,), data=bytes(64))}]), ("declares 1099511627776 bytes",)
    small = npy_bytes((100,))
    yield "lying small size", raw_zip([{"name": "spikes.npy", "method": 8, "data": deflate_prefix_then_zeros(small, 64),
                                        "size": len(small) + 100, "crc": 1234}]), ("Bad CRC-32",)
    yield "size mismatch", raw_zip([{"name": "spikes.npy", "data": npy_bytes((100,), data=bytes(10))}]), ("corrupt", "declares 100 bytes of data")
    yield "encrypted", raw_zip([{"name": "spikes.npy", "data": npy_bytes((4,), data=bytes(4)), "flags": 1}]), ("member 'spikes.npy'", "encrypted")
    yield "unknown method", raw_zip([{"name": "spikes.npy", "data": bytes(20), "method": 99}]), ("member 'spikes.npy'",)
    yield "huge directory", raw_zip([{"name": "spikes.npy", "data": npy_bytes((4,), data=bytes(4))}], directory_size=200 << 20), ("directory",)
    yield "not a zip", b"PK\x03\x04" + bytes(100), ("not a valid .npz archive",)
    yield "not npy member", raw_zip([{"name": "notes.txt", "data": b"hello"}]), ("'notes.txt' is not a .npy array",)
    yield "object member", npz_bytes({"spikes": np.array([{"a": 1}], dtype=object)}), ("pickled data is never loaded",)
    yield "two arrays", npz_bytes({"a": spikes, "b": spikes}), ("name one as FILE:KEY",)
    yield "no arrays", raw_zip([]), ("holds no arrays",)
    bad_meta = {
        "metadata list": (np.array("[1, 2]"), "must be a JSON object, got an array"),
        "metadata number": (np.array("3.5"), "must be a JSON object, got a number"),
        "metadata string": (np.array('"x"'), "must be a JSON object, got a string"),
        "metadata NaN": (np.array('{"a": NaN}'), "NaN is not JSON"),
        "metadata Infinity": (np.array('{"a": -Infinity}'), "-Infinity is not JSON"),
        "metadata 1e999": (np.array('{"a": 1e999}'), "too large for a double"),
        "metadata integer past a double": (np.array('{"a": 1' + "0" * 400 + '}'), "too large for a double"),
        "metadata invalid": (np.array('{"a": '), "not valid JSON"),
        "metadata deep": (np.array('{"a": ' + "[" * 10_000 + "]" * 10_000 + "}"), "nests too deeply"),
        "metadata 600 deep": (np.array('{"a": ' + "[" * 599 + "]" * 599 + "}"), "nests too deeply"),  # 512: what a header takes
        "metadata repeated key": (np.array('{"a": 1, "a": 2}'), "a key appears twice"),
        "metadata huge": (np.array('{"a": "' + "x" * (2 << 20) + '"}'), "are read"),
        "metadata long": (np.array('{"a": "' + "x" * 1_050_000 + '"}'), "more than the 1048576"),
        "metadata bytes": (np.array(b'{"a": 1}'), "has dtype |S8; expected text"),
        "metadata not text": (np.array(5), "expected text"),
        "metadata 2-d": (np.array([["{}"]]), "must be one string"),
        "metadata pickled": (np.array({"a": 1}, dtype=object), "pickled data is never loaded"),
        "metadata huge digits": (np.array('{"a": ' + "9" * 10_000 + "}"), "not valid JSON"),
        "axes numbers": ("axes", np.arange(2), "expected text"),
        "axes wrong count": ("axes", np.array(["T", "N", "C"]), "name 3 axes for an array of rank 2"),
        "axes bad name": ("axes", np.array(["T", "a b"]), "is not 1-16 characters"),
        "axes repeated": ("axes", np.array(["T", "T"]), "not unique"),
        "axes one string": ("axes", np.array("TN"), "must be a list of names"),
        "axes 2-d": ("axes", np.array([["T", "N"]]), "must be a list of names"),
        "axes pickled": ("axes", np.array(["T", "N"], dtype=object), "pickled data is never loaded"),
    }
    for case, spec in bad_meta.items():
        field, value, fragment = spec if len(spec) == 3 else ("metadata", *spec)
        yield case, npz_bytes({"spikes": spikes, field: value}), (fragment,)


NPZ = {case: (data, fragments) for case, data, fragments in npz_cases()}


@pytest.mark.parametrize("case", sorted(NPZ))
def test_npz(case: str, tmp_path: Path, capsys) -> None:
    data, fragments = NPZ[case]
    path = tmp_path / "in.npz"
    path.write_bytes(data)
    line = encode_refused(capsys, tmp_path, path, None, *fragments)
    assert len(line) < 700


def test_npz_written_by_decode_still_works(tmp_path: Path, capsys) -> None:
    spikes = (np.arange(5 * 3 * 4).reshape(5, 3, 4) % 2).astype(np.uint8)
    spikecodec.save(tmp_path / "x.spk", spikes, axes=("t", "n", "c"), metadata={"model": "m", "nested": {"a": [1, 2.5]}})
    for fmt in ("npz", "h5"):
        code, _, err = run_cli(capsys, "decode", tmp_path / "x.spk", "-o", tmp_path / f"x.{fmt}")
        assert code == 0, err
        loaded = read_input(str(tmp_path / f"x.{fmt}"))
        assert loaded.axes == ("t", "n", "c") and loaded.metadata == {"model": "m", "nested": {"a": [1, 2.5]}}
        assert np.array_equal(encode_ok(capsys, tmp_path, tmp_path / f"x.{fmt}"), spikes)


# --- .pt -------------------------------------------------------------------------------------------------------


def patch_zip_size(data: bytes, member_suffix: str, size: int) -> bytes:
    """Make the central directory declare ``size`` uncompressed bytes for a member."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack_from("<H", out, at + 28)[0]
        name = bytes(out[at + 46 : at + 46 + name_len]).decode()
        if name.endswith(member_suffix):
            struct.pack_into("<I", out, at + 24, size)
            return bytes(out)
        at = out.find(b"PK\x01\x02", at + 4)
    raise AssertionError(member_suffix)


class Evil:
    def __reduce__(self):
        return (os.system, (f"echo owned > {os.environ.get('EVIL_MARK', '/nonexistent/x')}",))


def test_pt(tmp_path: Path, capsys, torch, monkeypatch: pytest.MonkeyPatch) -> None:
    def saved(obj: Any, **kwargs: Any) -> bytes:
        buf = io.BytesIO()
        torch.save(obj, buf, **kwargs)
        return buf.getvalue()

    plain = saved(torch.zeros(4, dtype=torch.uint8))
    mark = tmp_path / "owned"
    monkeypatch.setenv("EVIL_MARK", str(mark))
    evil = zipfile_rewrite(plain, {"data.pkl": pickle.dumps(Evil(), protocol=2)})
    sparse = torch.zeros(3, 3).to_sparse()
    cases = {
        "stride 0, 2^34 elements": (saved(torch.zeros(1).expand(2**34)), ("the tensor (17179869184,) float32 declares 68719476736 bytes", "--max-bytes")),
        "stride 0, 2-D": (saved(torch.ones(1, 1, dtype=torch.uint8).expand(1 << 16, 1 << 16)), ("declares 4294967296 bytes",)),
        "storage declared 4 GiB": (patch_zip_size(plain, "/data/0", 0xFFFFFFF0), ("its tensor data declares 4294967280 bytes",)),
        "pickle declared 4 GiB": (patch_zip_size(plain, "/data.pkl", 0xFFFFFFF0), ("data.pkl' declares 4294967280 bytes",)),
        "legacy format": (saved(torch.zeros(3), _use_new_zipfile_serialization=False), ("weights_only", "legacy")),
        "pickled code": (evil, ("weights_only",)),
        "junk": (b"not a torch file at all", ("weights_only",)),
        "a list": (saved([torch.zeros(2)]), ("holds a list, not a tensor",)),
        "no tensor": (saved({"a": 1}), ("holds a int, not a tensor",)),
        "complex": (saved(torch.zeros(2, dtype=torch.complex64)), ("dtype complex64",)),
        "sparse": (saved(sparse), ("expected a dense one",)),
        "empty dict": (saved({}), ("holds no tensors",)),
        "huge directory": (raw_zip([{"name": "a/data.pkl", "data": b"x"}], directory_size=200 << 20), ("directory",)),
    }
    for case, (data, fragments) in cases.items():
        path = tmp_path / "in.pt"
        path.write_bytes(data)
        encode_refused(capsys, tmp_path, path, None, *fragments)
    assert not mark.exists()
    # Valid: a dict whose keys are not strings, a bfloat16 tensor, a transposed view.
    torch.save({0: torch.tensor([[1, 0], [0, 1]], dtype=torch.bfloat16), "t": torch.arange(6).reshape(2, 3).t() % 2}, tmp_path / "ok.pt")
    assert np.array_equal(encode_ok(capsys, tmp_path, f"{tmp_path / 'ok.pt'}:0"), [[1, 0], [0, 1]])
    assert np.array_equal(encode_ok(capsys, tmp_path, f"{tmp_path / 'ok.pt'}:t"), (np.arange(6).reshape(2, 3).T % 2))


def zipfile_rewrite(data: bytes, replace: dict[str, bytes]) -> bytes:
    """The zip archive ``data`` with the members ending in a key of ``replace`` replaced."""
    import zipfile

    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            body = next((v for k, v in replace.items() if info.filename.endswith(k)), None)
            dst.writestr(info, body if body is not None else src.read(info))
    return out.getvalue()


# --- .h5 -------------------------------------------------------------------------------------------------------


def test_h5_never_reads_other_files(tmp_path: Path, capsys, secret: Path) -> None:
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.frombuffer(secret.read_bytes(), np.uint8)
        f.create_group("grp")["data"] = np.frombuffer(secret.read_bytes(), np.uint8)
    n = secret.stat().st_size
    files: dict[str, Callable[[Any], None]] = {
        "external storage": lambda f: f.create_dataset("spikes", shape=(n,), dtype="u1", external=[(str(secret), 0, n)]),
        "external storage, relative": lambda f: f.create_dataset("spikes", shape=(n,), dtype="u1", external=[("secret.txt", 0, n)]),
        "external link": lambda f: f.__setitem__("spikes", h5py.ExternalLink(str(other), "/data")),
        "soft link to an external link": lambda f: (f.__setitem__("elink", h5py.ExternalLink(str(other), "/data")),
                                                    f.__setitem__("spikes", h5py.SoftLink("/elink"))),
        "relative soft link to an external link": lambda f: (f.create_group("g").__setitem__("e", h5py.ExternalLink(str(other), "/grp")),
                                                             f["g"].__setitem__("spikes", h5py.SoftLink("e/data"))),
        "group through an external link": lambda f: f.__setitem__("g", h5py.ExternalLink(str(other), "/grp")),
        "virtual dataset": lambda f: f.create_virtual_dataset("spikes", virtual_layout(other, n)),
    }
    keys = {"relative soft link to an external link": ["g/spikes", "/g/spikes", "g/e/data"],
            "group through an external link": ["g/data", "/g/data", "g//./data"]}
    for case, build in files.items():
        path = tmp_path / "e.h5"
        with h5py.File(path, "w") as f:
            build(f)
        for key in [None, *keys.get(case, ["spikes", "/spikes"])]:
            spec = str(path) if key is None else f"{path}:{key}"
            line = encode_refused(capsys, tmp_path, spec, str(path))
            assert any(w in line for w in ("external", "virtual", "holds no datasets")), (case, line)
    # The search without a KEY never crosses into another file: with a real dataset beside the
    # link, it is the one read.
    with h5py.File(tmp_path / "mixed.h5", "w") as f:
        f["elink"] = h5py.ExternalLink(str(other), "/data")
        f["g"] = h5py.ExternalLink(str(other), "/grp")
        f["mine"] = np.ones(3, np.uint8)
    assert list(encode_ok(capsys, tmp_path, tmp_path / "mixed.h5")) == [1, 1, 1]


def virtual_layout(other: Path, n: int) -> Any:
    layout = h5py.VirtualLayout(shape=(n,), dtype="u1")
    layout[:] = h5py.VirtualSource(str(other), "data", shape=(n,))
    return layout


def h5_cases() -> dict[str, tuple[Callable[[Any], None], tuple[str, ...]]]:
    ones = np.ones((2, 3), np.uint8)

    def with_attr(name: str, value: Any, **kwargs: Any) -> Callable[[Any], None]:
        def build(f: Any) -> None:
            f["spikes"] = ones
            f["spikes"].attrs.create(name, value, **kwargs)
        return build

    def chunk_bomb(f: Any) -> None:
        ds = f.create_dataset("spikes", shape=(1024,), dtype="u1", chunks=(1024,), compression="gzip")
        ds.id.write_direct_chunk((0,), zeros_deflate(1200, 15))

    def shuffled_bomb(f: Any) -> None:
        ds = f.create_dataset("spikes", shape=(1024,), dtype="u1", chunks=(1024,), compression="gzip", shuffle=True, fletcher32=True)
        ds.id.write_direct_chunk((0,), zeros_deflate(1200, 15) + bytes(4))

    def lzf_bomb(f: Any) -> None:
        ds = f.create_dataset("spikes", shape=(1 << 20,), dtype="u1", chunks=(1 << 20,), compression="lzf")
        ds.id.write_direct_chunk((0,), os.urandom(12 << 20))

    def plugin(f: Any) -> None:
        f.create_dataset("spikes", data=ones, compression=32015, allow_unknown_filter=True)

    string = h5py.string_dtype()
    return {
        "2^40 elements": (lambda f: f.create_dataset("spikes", shape=(HUGE,), dtype="u1", chunks=(1 << 20,)),
                          ("declares 1099511627776 bytes, over the limit of 1073741824",)),
        "2^33 float64 elements": (lambda f: f.create_dataset("spikes", shape=(1 << 16, 1 << 17), dtype="f8", chunks=(64, 64)),
                                  ("declares 68719476736 bytes",)),
        "2 GiB chunk": (lambda f: f.create_dataset("spikes", shape=(16,), maxshape=(None,), dtype="u1", chunks=(1 << 31,)),
                        ("a chunk (2147483648,)", "declares 2147483648 bytes")),
        "chunk bomb": (chunk_bomb, ("inflates past its 1024 bytes",)),
        "shuffled chunk bomb": (shuffled_bomb, ("inflates past its 1024 bytes",)),
        "lzf chunk too large": (lzf_bomb, ("could decode to more than the limit",)),
        "plugin filter": (plugin, ("HDF5 filter 32015",)),
        "strings": (lambda f: f.create_dataset("spikes", data=np.array(["a", "b"], dtype=object), dtype=string), ("dtype object",)),
        "fixed strings": (lambda f: f.create_dataset("spikes", data=np.array([b"ab", b"cd"])), ("dtype |S2",)),
        "compound": (lambda f: f.create_dataset("spikes", data=np.zeros(2, [("a", "<i4"), ("b", "<f4")])), ("expected a numeric",)),
        "references": (lambda f: f.create_dataset("spikes", shape=(2,), dtype=h5py.ref_dtype), ("dtype object",)),
        "opaque": (lambda f: f.create_dataset("spikes", data=np.zeros(2, "V8")), ("dtype |V8",)),
        "complex": (lambda f: f.create_dataset("spikes", data=np.zeros(2, np.complex64)), ("dtype complex64",)),
        "null dataspace": (lambda f: f.create_dataset("spikes", data=h5py.Empty("f4")), ("null dataspace",)),
        "group only": (lambda f: f.create_group("spikes"), ("holds no datasets",)),
        "soft link loop": (lambda f: f.__setitem__("spikes", h5py.SoftLink("/spikes")), ("more than 64 soft links",)),
        "dangling soft link": (lambda f: f.__setitem__("spikes", h5py.SoftLink("/nowhere")), ("no dataset '/spikes'",)),
        "metadata list": (with_attr("metadata", "[1, 2]"), ("must be a JSON object, got an array",)),
        "metadata number": (with_attr("metadata", "7"), ("must be a JSON object",)),
        "metadata NaN": (with_attr("metadata", '{"x": NaN}'), ("NaN is not JSON",)),
        "metadata invalid": (with_attr("metadata", "{"), ("not valid JSON",)),
        "metadata deep": (with_attr("metadata", "[" * 10_000 + "]" * 10_000), ("nests too deeply",)),
        "metadata not text": (with_attr("metadata", 5), ("must be a string, got int64",)),
        "metadata bad utf-8": (with_attr("metadata", np.void(b"\xff\xfe")), ("must be a string",)),
        "metadata bytes not utf-8": (with_attr("metadata", np.bytes_(b"\xff{}")), ("not UTF-8 text",)),
        "metadata array": (with_attr("metadata", np.array(["{}", "{}"], dtype=object), dtype=string), ("must be one string",)),
        "axes numbers": (with_attr("axes", np.array([1, 2])), ("must be names",)),
        "axes wrong count": (with_attr("axes", np.array(["T"], dtype=object), dtype=string), ("name 1 axes for an array of rank 2",)),
        "axes one string": (with_attr("axes", "TN"), ("must be a list of names",)),
        "axes bad name": (with_attr("axes", np.array(["T", "x/y"], dtype=object), dtype=string), ("is not 1-16 characters",)),
        "axes huge": (with_attr("axes", np.zeros(20_000, np.uint8)), ("not a small value",)),
        "bits 3": (with_attr("bits", 3), ("is 3; expected 1, 2, 4 or 8",)),
        "bits float": (with_attr("bits", 8.0), ("must be an integer",)),
        "bits text": (with_attr("bits", "8"), ("must be an integer",)),
        "bits bytes": (with_attr("bits", np.bytes_(b"\x08")), ("must be an integer",)),
        "bits bool": (with_attr("bits", True), ("must be an integer",)),
        "bits array": (with_attr("bits", np.array([1, 2])), ("must be an integer",)),
        "bits huge": (with_attr("bits", 2**62), ("expected 1, 2, 4 or 8",)),
    }


H5 = h5_cases()


@pytest.mark.parametrize("case", sorted(H5))
def test_h5(case: str, tmp_path: Path, capsys) -> None:
    build, fragments = H5[case]
    path = tmp_path / "in.h5"
    with h5py.File(path, "w") as f:
        build(f)
    # Without a KEY the search finds no dataset behind a soft link; with one, the link is followed.
    only_linked = case in ("soft link loop", "dangling soft link")
    encode_refused(capsys, tmp_path, path, None, *(("holds no datasets",) if only_linked else fragments))
    if case != "group only":
        encode_refused(capsys, tmp_path, f"{path}:/spikes", str(path), *fragments)


def test_h5_other_failures_and_valid_links(tmp_path: Path, capsys) -> None:
    (tmp_path / "junk.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))
    encode_refused(capsys, tmp_path, tmp_path / "junk.h5", None, "HDF5")
    (tmp_path / "text.h5").write_text("hello")
    encode_refused(capsys, tmp_path, tmp_path / "text.h5", None, "HDF5")
    path = tmp_path / "ok.h5"
    spikes = np.eye(3, dtype=np.uint8)
    with h5py.File(path, "w") as f:
        f.create_dataset("model/layer3/spikes", data=spikes, compression="gzip", shuffle=True, fletcher32=True, chunks=(1, 3))
        f["alias"] = h5py.SoftLink("/model/layer3/spikes")
        f["model"]["rel"] = h5py.SoftLink("layer3/spikes")
        f["hop"] = h5py.SoftLink("/model/rel")
        f.create_dataset("lzf", data=spikes, compression="lzf")
        f.create_dataset("big", data=np.zeros((4, 1 << 20), np.uint8), compression="gzip", chunks=(4, 1 << 20))
    for key in ("model/layer3/spikes", "/model/layer3/spikes", "alias", "model/rel", "hop", "lzf", "./model//layer3/spikes"):
        assert np.array_equal(encode_ok(capsys, tmp_path, f"{path}:{key}"), spikes), key
    assert read_input(f"{path}:big").array.shape == (4, 1 << 20)
    encode_refused(capsys, tmp_path, f"{path}:model", str(path), "'model' is a group, not a dataset")
    encode_refused(capsys, tmp_path, f"{path}:model/nope", str(path), "no dataset 'model/nope'")
    encode_refused(capsys, tmp_path, f"{path}:model/layer3/spikes/x", str(path), "is a dataset, not a group")
    encode_refused(capsys, tmp_path, path, None, "name one as FILE:KEY")


# --- IDX images and labels -----------------------------------------------------------------------------------------


def idx_cases() -> dict[str, tuple[bytes, tuple[str, ...]]]:
    four_gib = idx_bytes((1 << 16, 1 << 8, 1 << 8))
    small = idx_bytes((10, 28, 28))
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # a gzip bomb: this header, then 1.5 GiB of zeros
    first = c.compress(small + bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(bytes(1 << 20)) + c.flush(zlib.Z_FULL_FLUSH)
    bomb = first + again * 1500 + c.flush()
    valid = gzip.compress(small + bytes(10 * 28 * 28))
    return {
        "4 GiB declared": (four_gib, ("declares 4294967296 bytes, over the limit of 1073741824",)),
        "4 GiB declared, gzipped": (gzip.compress(four_gib), ("declares 4294967296 bytes",)),
        "rank 255": (idx_bytes((1 << 16,) * 255), ("rank-255", "over the limit")),
        "gzip bomb": (bomb, ("header says 10x28x28 = 7840 values", "the file holds more")),
        "gzip bomb, zeros only": (zeros_deflate(1500, 31), ("IDX element type 0x00",)),
        "truncated gzip": (valid[: len(valid) // 2], ("truncated",)),
        "bad gzip crc": (valid[:-8] + b"\0\0\0\0" + valid[-4:], ("corrupt gzip data",)),
        "gzip then junk": (valid + b"junkjunkjunk", ("corrupt gzip data",)),
        "gzip header only": (b"\x1f\x8b", ("corrupt gzip data",)),
        "fewer values": (small + bytes(100), ("header says 10x28x28 = 7840 values, file holds 100",)),
        "more values": (small + bytes(8000), ("file holds 8000",)),
        "fewer values, gzipped": (gzip.compress(small + bytes(100)), ("the file holds fewer",)),
        "more values, gzipped": (gzip.compress(small + bytes(8000)), ("the file holds more",)),
        "int32 elements": (idx_bytes((2,), bytes(8), kind=0x0C), ("IDX element type 0x0c",)),
        "rank 0": (bytes([0, 0, 8, 0]), ("corrupt IDX header",)),
        "header cut short": (bytes([0, 0, 8, 3, 0, 0]), ("corrupt IDX header",)),
        "not idx": (b"hello world", ("not an IDX file",)),
        "empty": (b"", ("not an IDX file",)),
    }


IDX = idx_cases()


@pytest.mark.parametrize("case", sorted(IDX))
def test_idx(case: str, tmp_path: Path, capsys) -> None:
    data, fragments = IDX[case]
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(data)
    refused(capsys, tmp_path, ["edge", "--images", path, "-o", tmp_path / "feats.spk"], str(path), *fragments)
    labels = tmp_path / "labels-idx1-ubyte"
    labels.write_bytes(data)
    refused(capsys, tmp_path, ["cloud", tmp_path / "feats.spk", "-o", tmp_path / "preds.npy", "--labels", labels], str(labels), *fragments)


def test_valid_idx_variants(tmp_path: Path) -> None:
    images = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
    raw = idx_bytes(images.shape, images.tobytes())
    (tmp_path / "a").write_bytes(raw)
    (tmp_path / "b.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "c.gz").write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))  # two gzip members
    for name in ("a", "b.gz", "c.gz"):
        assert np.array_equal(read_images(str(tmp_path / name)), images), name


# --- PNG folders -------------------------------------------------------------------------------------------------


def png_cases() -> dict[str, tuple[dict[str, bytes], tuple[str, ...]]]:
    from PIL import Image

    def real(size: tuple[int, int], mode: str = "L") -> bytes:
        buf = io.BytesIO()
        Image.new(mode, size).save(buf, format="PNG")
        return buf.getvalue()

    good = real((28, 28))
    return {
        "100000 x 100000": ({"a.png": png_bytes(100_000, 100_000)}, ("a.png", "--max-bytes")),
        "40000 x 30000": ({"a.png": png_bytes(40_000, 30_000)}, ("a.png", "--max-bytes")),
        "RGB 20000 x 20000": ({"a.png": png_bytes(20_000, 20_000, mode=2)}, ("a.png", "declares 1200000000 bytes")),
        "a bomb after good ones": ({"a.png": good, "b.png": good, "c.png": png_bytes(65_535, 65_535)}, ("c.png",)),
        "truncated": ({"a.png": good[: len(good) // 2]}, ("a.png",)),
        "broken pixel data": ({"a.png": png_bytes(28, 28, idat=b"x\x9c" + b"\xff" * 40)}, ("a.png",)),
        "bad chunk crc": ({"a.png": good[:29] + b"\0\0\0\0" + good[33:]}, ("a.png",)),
        "not a png": ({"a.png": b"GIF89a" + bytes(50)}, ("a.png: not a PNG image",)),
        "a jpeg named .png": ({"a.png": real_jpeg()}, ("a.png: not a PNG image",)),
        "16-bit": ({"a.png": real((4, 4), "I;16")}, ("mode I;16",)),
        "palette": ({"a.png": real((4, 4), "P")}, ("mode P",)),
        "sizes differ": ({"a.png": good, "b.png": real((20, 20))}, ("b.png is (20, 20)",)),
        "no pngs": ({"notes.txt": b"hi"}, ("holds no .png images",)),
    }


def real_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, format="JPEG")
    return buf.getvalue()


PNG = png_cases()


@pytest.mark.parametrize("case", sorted(PNG))
def test_png_folder(case: str, tmp_path: Path, capsys) -> None:
    files, fragments = PNG[case]
    folder = tmp_path / "pngs"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    refused(capsys, tmp_path, ["edge", "--images", folder, "-o", tmp_path / "feats.spk"], str(folder), *fragments)


def test_png_folder_limits_and_odd_entries(tmp_path: Path, capsys) -> None:
    from PIL import Image

    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in range(5):
        Image.new("L", (50, 50), color=i).save(folder / f"img_{i}.png")
    assert read_png_folder(str(folder)).shape == (5, 50, 50)
    with pytest.raises(ValueError, match="5 images of 50x50 declares 12500 bytes, over the limit of 10000"):
        read_png_folder(str(folder), max_bytes=10_000)
    with pytest.raises(ValueError, match="img_0.png"):
        read_png_folder(str(folder), max_bytes=1000)  # one image alone is over it (Pillow's own guard, set to the limit)
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # someone turned Pillow's guard off: ours still holds
    try:
        (folder / "img_9.png").write_bytes(png_bytes(100_000, 100_000))
        with pytest.raises(ValueError, match="img_9.png"):
            read_png_folder(str(folder))
    finally:
        Image.MAX_IMAGE_PIXELS = before
    (folder / "img_9.png").unlink()
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    Image.new("RGB", (70, 70)).save(rgb / "a.png")
    with pytest.raises(ValueError, match="a.png: a 70x70 RGB image declares 14700 bytes"):
        read_png_folder(str(rgb), max_bytes=10_000)
    os.mkfifo(folder / "zz.png")
    refused(capsys, tmp_path, ["edge", "--images", folder, "-o", tmp_path / "f.spk"], str(folder), "zz.png: not a regular file")
    (folder / "zz.png").unlink()
    (folder / "zz.png").mkdir()
    refused(capsys, tmp_path, ["edge", "--images", folder, "-o", tmp_path / "f.spk"], str(folder), "zz.png")
    (folder / "zz.png").rmdir()
    (folder / "zz.png").symlink_to("/etc/passwd")
    refused(capsys, tmp_path, ["edge", "--images", folder, "-o", tmp_path / "f.spk"], str(folder), "zz.png: not a PNG image")


# --- the real command: nothing else reaches stderr (warnings, library messages) ------------------------------------


def test_real_command_prints_one_line(tmp_path: Path, secret: Path, torch) -> None:
    """A few of the cases above through `python -m spikecodec`, whose stderr is the user's."""
    (tmp_path / "huge.npy").write_bytes(npy_bytes((HUGE,)))
    torch.save(torch.zeros(1).expand(2**34), tmp_path / "view.pt")
    with h5py.File(tmp_path / "link.h5", "w") as f:
        n = secret.stat().st_size
        f.create_dataset("spikes", shape=(n,), dtype="u1", external=[(str(secret), 0, n)])
    (tmp_path / "bomb.png").mkdir()
    (tmp_path / "bomb.png" / "a.png").write_bytes(png_bytes(100_000, 100_000))
    for args in (["encode", tmp_path / "huge.npy"], ["encode", tmp_path / "view.pt"], ["encode", tmp_path / "link.h5"],
                 ["edge", "--images", tmp_path / "bomb.png"]):
        out = tmp_path / "out.spk"
        proc = subprocess.run([sys.executable, "-m", "spikecodec", *map(str, args), "-o", str(out)],
                              capture_output=True, text=True, timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode in (1, 3) and len(lines) == 1 and lines[0].startswith(f"spikecodec: error: {args[-1]}: "), proc.stderr
        assert SECRET not in proc.stdout + proc.stderr and not out.exists() and not temp_files(tmp_path)
