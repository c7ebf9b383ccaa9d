"""SpikeStream: rows of a spike file read front to back, checked, as they arrive."""

from __future__ import annotations

import io

import numpy as np
import pytest

import spikecodec
from spikecodec.container.stream import SpikeStream


@pytest.fixture
def frames() -> np.ndarray:
    return (np.random.default_rng(3).random((10, 2, 3, 5, 4)) < 0.3).astype(np.uint8)


def streamed(frames: np.ndarray, chunk, flush_at: int = 4, codec: str = "auto") -> bytes:
    buf = io.BytesIO()
    with spikecodec.SpikeWriter(buf, axes="NTCHW", chunk=chunk, codec=codec, metadata={"k": 1}) as w:
        w.write_frames(frames[:flush_at])
        w.flush()  # a partial row
        w.write_frames(frames[flush_at:])
    return buf.getvalue()


@pytest.mark.parametrize("chunk, heights", [(3, [3, 1, 3, 3]), ((3, 1), [3, 1, 3, 3]), ((2, 2, 2), [2] * 5)])
def test_rows_in_order_equal_the_frames(frames: np.ndarray, chunk, heights: list[int]) -> None:
    data = streamed(frames, chunk)
    s = SpikeStream(data)
    assert s.axes == tuple("NTCHW") and s.frame_shape == frames.shape[1:] and s.metadata == {"k": 1}
    rows = list(s)
    assert [len(r) for r in rows] == heights  # a flushed partial row arrives as it is
    assert np.array_equal(np.concatenate(rows), frames) and s.bytes_read == len(data)
    assert np.array_equal(spikecodec.load(data), frames)


def test_whole_files_and_empty_arrays(tmp_path, frames: np.ndarray) -> None:
    spikecodec.save(tmp_path / "x.spk", frames, codec="raw")
    with SpikeStream(tmp_path / "x.spk") as s:
        assert s.length == 10 and np.array_equal(np.concatenate(list(s)), frames)
    assert list(SpikeStream(spikecodec.encode(np.zeros((0, 3), np.uint8)))) == []


def test_truncated_or_damaged_streams_raise(frames: np.ndarray) -> None:
    data = streamed(frames, 3)
    for cut, message in [(len(data) - 30, "inside the index"), (len(data) // 2, "(the writer did not finish)"), (20, "header")]:
        with pytest.raises(spikecodec.FormatError, match=message):
            list(SpikeStream(data[:cut]))
    bad = bytearray(data)
    bad[len(data) // 2] ^= 0xFF
    with pytest.raises(spikecodec.FormatError):
        list(SpikeStream(bytes(bad)))


def test_a_finished_file_is_not_waited_on_and_wait_is_checked(tmp_path, frames: np.ndarray) -> None:
    # After the trailer, the check for more bytes waited `wait` seconds (for ever with inf).
    import time

    spikecodec.save(tmp_path / "x.spk", frames, codec="raw")
    start = time.monotonic()
    with SpikeStream(tmp_path / "x.spk", wait=60) as s:
        assert np.array_equal(np.concatenate(list(s)), frames)
    assert time.monotonic() - start < 30
    for wait in (-1, float("nan"), "1", None):
        with pytest.raises(ValueError, match="wait"):
            SpikeStream(tmp_path / "x.spk", wait=wait)
