"""Many readers of one file (threads and processes), and a reader following a live writer."""

import multiprocessing
import random
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

import crash
import spikecodec


def _array():
    return (np.random.default_rng(4).random((6, 10, 4, 5, 5)) < 0.2).astype(np.uint8)


def test_threads_share_one_reader_and_open_their_own(tmp_path):
    x = _array()
    path = tmp_path / "x.spk"
    spikecodec.save(path, x, codec="auto", chunk=(2, 3))
    keys = [(slice(a, b), slice(c, d)) for a, b, c, d in ((0, 6, 0, 10), (1, 4, 2, 9), (5, 6, 3, 4), (0, 3, 7, 10))]

    with spikecodec.open(path) as shared:
        def read(i):
            key = keys[i % len(keys)]
            if i % 2:
                with spikecodec.open(path) as own:
                    return key, own[key]
            return key, shared[key]

        with ThreadPoolExecutor(8) as pool:
            for key, got in pool.map(read, range(64)):
                np.testing.assert_array_equal(got, x[key])


def _decode_bytes(path):
    return spikecodec.load(path).tobytes()


def test_processes_decode_identically(tmp_path):
    x = _array()
    path = tmp_path / "x.spk"
    spikecodec.save(path, x, codec="context")
    # close + join, not the context manager's terminate: workers leave on the pool's sentinel
    # instead of by SIGTERM, whatever handler this process (and so each fork) has for it.
    pool = multiprocessing.get_context("fork").Pool(3)
    try:
        results = pool.map(_decode_bytes, [str(path)] * 6)
    finally:
        pool.close()
        pool.join()
    assert all(r == x.tobytes() for r in results)


def test_a_reader_following_a_live_writer_sees_a_growing_prefix(tmp_path):
    seed = 1  # zstd, chunk 1, a flush after every frame
    plan = crash.StreamPlan(seed)
    path = tmp_path / "live.spk"
    proc = crash._spawn("stream", path, seed)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert proc.stdout.readline().startswith("flushed")  # the header is on disk from here on
        seen, opens = 0, 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            with spikecodec.open(path, recover=True) as r:  # mid-chunk endings are expected here
                n = len(r)
                assert n >= seen
                if n:
                    i = random.randrange(n)
                    np.testing.assert_array_equal(r[i], crash.frame(seed, i, plan.bits))
            seen, opens = n, opens + 1
        assert seen > 0 and opens > 3
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
