"""Encoding a file's chunks on several threads (``workers=``, ``--threads``): the same bytes as one
thread, records in file order, errors in order, nothing left running."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import spikecodec
from spikecodec.codecs import Pipeline
from spikecodec.container import writer


@pytest.fixture(autouse=True)
def four_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads as on a machine of 4 CPUs, whatever this one has: the tests check the threads' work."""
    monkeypatch.setattr(writer, "usable_cpus", lambda: 4)


def spikes(shape: tuple[int, ...] = (3, 24, 4, 6, 6), rate: float = 0.3, seed: int = 5) -> np.ndarray:
    return (np.random.default_rng(seed).random(shape) < rate).astype(np.uint8)


@pytest.mark.parametrize("codec", ["framemix", "neuronmix", "ctxfast", "context", "raw,zstd"])
@pytest.mark.parametrize("chunk", [(3, 5), (1, 24), (2, 7), None])
@pytest.mark.parametrize("records", ["classic", "compact"])
def test_threads_write_the_bytes_of_one_thread(codec: str, chunk: tuple[int, ...] | None, records: str) -> None:
    # (3, 5): one row of 5 chunks, the last short; (1, 24): rows of one chunk; (2, 7): a short last row of short chunks.
    x = spikes()
    codec_arg = codec.split(",") if "," in codec else codec
    one = spikecodec.encode(x, codec=codec_arg, chunk=chunk, records=records)
    for workers in (2, 3, 8):
        assert spikecodec.encode(x, codec=codec_arg, chunk=chunk, records=records, workers=workers) == one
    assert np.array_equal(spikecodec.decode(one), x)


def test_counts_and_a_prior_on_threads(tmp_path: Path) -> None:
    counts = np.random.default_rng(2).integers(0, 4, (2, 16, 3, 5, 5), dtype=np.uint8)
    prior = spikecodec.train_prior([counts], codec="ctxmix")
    one = spikecodec.encode(counts, codec="ctxmix", prior=prior, chunk=(2, 3))
    assert spikecodec.encode(counts, codec="ctxmix", prior=prior, chunk=(2, 3), workers=2) == one
    spikecodec.save(tmp_path / "c.spk", counts, chunk=(2, 3), workers=2)
    assert (tmp_path / "c.spk").read_bytes() == spikecodec.encode(counts, chunk=(2, 3))


def test_a_writer_fed_frame_by_frame_on_threads(tmp_path: Path) -> None:
    x = spikes((7, 10, 2, 4, 4))
    for workers in (1, 2):
        with spikecodec.SpikeWriter(tmp_path / f"w{workers}.spk", chunk=(2, 3), workers=workers) as w:
            for frame in x[:3]:
                w.append(frame)
            w.flush()  # a partial row written alone
            w.write_frames(x[3:])
    assert (tmp_path / "w1.spk").read_bytes() == (tmp_path / "w2.spk").read_bytes()
    assert np.array_equal(spikecodec.load(tmp_path / "w2.spk"), x)


def test_chunks_are_encoded_on_several_threads_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    inside, most, threads = [0], [0], set()
    lock = threading.Lock()
    encode = Pipeline.encode

    def watched(self: Pipeline, chunk: np.ndarray, spec):  # type: ignore[no-untyped-def]
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            threads.add(threading.current_thread().name)
        time.sleep(0.02)  # long enough for the other threads to start theirs
        try:
            return encode(self, chunk, spec)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(Pipeline, "encode", watched)
    x = spikes()
    data = spikecodec.encode(x, codec="zstd", chunk=(3, 2), workers=3)
    assert np.array_equal(spikecodec.decode(data), x)
    assert most[0] == 3 and len(threads) == 3 and threading.current_thread().name not in threads


def test_a_chunk_that_fails_raises_after_the_chunks_before_it_and_stops_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, float, float]] = []  # (chunk's first sample, start, end)
    encode = Pipeline.encode

    def failing(self: Pipeline, chunk: np.ndarray, spec):  # type: ignore[no-untyped-def]
        start = time.monotonic()
        try:
            if int(chunk[0, 0, 0, 0, 0]) == 3:
                raise MemoryError("chunk 3 cannot be encoded")
            time.sleep(0.01)
            return encode(self, chunk, spec)
        finally:
            calls.append((int(chunk[0, 0, 0, 0, 0]), start, time.monotonic()))

    monkeypatch.setattr(Pipeline, "encode", failing)
    x = np.zeros((1, 40, 1, 2, 2), np.uint8)
    x[0, ::4, 0, 0, 0] = np.arange(10)  # chunk i (4 samples) starts with the value i: the chunk is known by it
    target = tmp_path / "x.spk"
    target.write_bytes(b"the old file")
    with pytest.raises(MemoryError, match="chunk 3"):
        spikecodec.save(target, x, codec="raw", chunk=(1, 4), bits=4, workers=2)
    returned = time.monotonic()
    assert target.read_bytes() == b"the old file"  # save is atomic: nothing replaced
    assert not [p for p in tmp_path.iterdir() if p.name != "x.spk"]  # no temporary file left
    assert all(end <= returned for _, _, end in calls)  # nothing still encoding once the error is out
    started = {first for first, _, _ in calls}
    assert {0, 1, 2, 3} <= started and len(started) <= 8  # the chunks ahead of the failure are bounded (2 a thread)


def test_a_writer_after_a_failed_row_on_threads_is_as_after_one_on_one_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first chunk of the row fails: nothing of the row went out, the writer goes on.
    encode = Pipeline.encode
    fail = [True]

    def once(self: Pipeline, chunk: np.ndarray, spec):  # type: ignore[no-untyped-def]
        if fail[0] and chunk.max() == 1:
            fail[0] = False
            raise MemoryError("no memory this time")
        return encode(self, chunk, spec)

    monkeypatch.setattr(Pipeline, "encode", once)
    x = spikes((2, 6, 2, 3, 3))
    x[:, 0] = 1
    with spikecodec.SpikeWriter(tmp_path / "w.spk", chunk=(2, 3), workers=2) as w:
        with pytest.raises(MemoryError):
            w.write_frames(x)
        w.write_frames(x)
    assert np.array_equal(spikecodec.load(tmp_path / "w.spk"), x)


@pytest.mark.parametrize("workers", [0, -1, True, 1.5, "2", None])
def test_workers_must_be_a_positive_integer(workers: object) -> None:
    with pytest.raises(ValueError, match="workers must be an integer of at least 1"):
        spikecodec.encode(spikes(), workers=workers)  # type: ignore[arg-type]


def test_the_command_line_threads_write_the_same_file(tmp_path: Path) -> None:
    x = spikes((2, 30, 3, 5, 5))
    np.save(tmp_path / "x.npy", x)

    def encode(*options: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "spikecodec", "encode", str(tmp_path / "x.npy"), "-q", "--chunk", "2,7", *options],
                              capture_output=True, timeout=120)

    assert encode("-o", str(tmp_path / "one.spk")).returncode == 0
    done = encode("-o", str(tmp_path / "two.spk"), "--threads", "2")
    assert done.returncode == 0, done.stderr.decode()
    assert (tmp_path / "one.spk").read_bytes() == (tmp_path / "two.spk").read_bytes()
    refused = encode("-o", str(tmp_path / "zero.spk"), "--threads", "0")
    err = refused.stderr.decode()
    assert refused.returncode == 2 and "--threads" in err and "Traceback" not in err
    assert not (tmp_path / "zero.spk").exists()


def test_a_write_that_fails_leaves_no_chunk_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    ends: list[float] = []
    encode = Pipeline.encode

    def slow(self: Pipeline, chunk: np.ndarray, spec):  # type: ignore[no-untyped-def]
        try:
            time.sleep(0.01)
            return encode(self, chunk, spec)
        finally:
            ends.append(time.monotonic())

    class FullDisk(io.RawIOBase):
        """Takes the header and two records, then fails as a full disk does."""

        def __init__(self) -> None:
            self.writes = 0

        def writable(self) -> bool:
            return True

        def write(self, data) -> int:  # type: ignore[no-untyped-def, override]
            self.writes += 1
            if self.writes > 8:
                raise OSError(28, "No space left on device")
            return len(data)

    monkeypatch.setattr(Pipeline, "encode", slow)
    with pytest.raises(OSError, match="No space"):
        spikecodec.save(FullDisk(), spikes((1, 40, 2, 3, 3)), codec="raw", chunk=(1, 2), workers=2)
    failed = time.monotonic()
    assert 0 < len(ends) < 20 and max(ends) <= failed  # stopped early, and nothing still running


def test_reads_and_writes_keep_their_threads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The threads keep their model tables between calls (spikecodec/codecs/workspace.py): a pool
    # of new threads for each call paid a page fault for every page of fresh tables each time.
    from spikecodec.container import reader

    monkeypatch.setattr(reader, "usable_cpus", lambda: 4)
    seen: dict[str, set[int]] = {"encode": set(), "decode": set()}
    encode, decode = Pipeline.encode, Pipeline.decode

    def encoding(self: Pipeline, chunk: np.ndarray, spec):  # type: ignore[no-untyped-def]
        seen["encode"].add(threading.get_ident())
        return encode(self, chunk, spec)

    def decoding(self: Pipeline, payload, spec, out=None):  # type: ignore[no-untyped-def]
        seen["decode"].add(threading.get_ident())
        return decode(self, payload, spec, out)

    monkeypatch.setattr(Pipeline, "encode", encoding)
    monkeypatch.setattr(Pipeline, "decode", decoding)
    x = spikes()
    for _ in range(3):
        spikecodec.save(tmp_path / "x.spk", x, chunk=(3, 2), workers=2)
        assert np.array_equal(spikecodec.load(tmp_path / "x.spk", workers=2), x)
    assert len(seen["encode"]) == 2 and seen["decode"] == seen["encode"]  # the same two threads, every call
    assert threading.get_ident() not in seen["encode"]


def _threaded_load_in_child(path: str) -> bool:
    x = spikecodec.load(path, workers=2)
    return bool(np.array_equal(x, spikes()))


def test_a_forked_child_codes_on_threads_of_its_own(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "x.spk"
    spikecodec.save(path, spikes(), chunk=(3, 2), workers=2)  # this process's threads exist now
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_threaded_load_in_child, (str(path),), ) is True
