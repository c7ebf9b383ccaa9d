"""``zstd``: a Zstandard frame around the previous stage's bytes (FORMAT.md 8.2)."""

from __future__ import annotations

import operator
import threading

import zstandard

from ..errors import FormatError
from ..zstd_frame import frame_end, frame_problem
from .base import BytesCodec

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"  # RFC 8878 3.1.1


class Zstd(BytesCodec):
    """One zstd frame with its content size recorded. ``level``: -7 (fastest) to 22."""

    codec_id = "zstd"

    def __init__(self, level: int = 3):
        try:  # a Python or numpy integer, not a bool and not a float
            number = None if isinstance(level, bool) or type(level).__name__ == "bool_" else operator.index(level)
        except TypeError:
            number = None
        if number is None or not -7 <= number <= 22:
            raise ValueError(f"zstd level must be an integer in -7..22, got {level!r}")
        self.level = number

    def get_config(self) -> dict:
        return {"level": self.level}

    def encode(self, data: bytes | memoryview) -> bytes:
        return _compressor(self.level).compress(data)

    def decode(self, data: bytes | memoryview, max_size: int) -> bytes:
        size = _content_size(data, max_size)
        if size == 0:  # the one-shot decoder returns b"" for such a frame without reading it
            problem = frame_problem(data, 0)
            if problem is not None:
                trailing, reason = problem
                raise FormatError(f"zstd: {reason}", code="zstd-trailing-bytes" if trailing else "zstd-frame")
            return b""
        try:  # one shot into a buffer of the (checked) content size; nothing may follow the frame
            out = _decompressor().decompress(data, allow_extra_data=False)
        except zstandard.ZstdError as exc:
            raise _diagnose(data, exc) from None
        if len(out) != size:
            raise FormatError(f"zstd: frame decompressed to {len(out)} bytes, its header says {size}", code="zstd-frame")
        return out


    def decode_into(self, data: bytes | memoryview, out: memoryview, max_size: int) -> bool:
        """Decompress straight into ``out`` (bytes) when the frame's content size is its length: no
        decompressed copy beside the destination (8-bit raw elements are their packed bytes). False,
        with nothing written, when the sizes differ: the one-shot path then reports what FORMAT.md
        9.3 says in its order (a valid frame of another size is the next stage's ``packed-size``)."""
        size = _content_size(data, max_size)
        if size != len(out):
            return False
        if frame_end(data) != len(data):  # what the one-shot decoder's allow_extra_data=False checks
            raise _diagnose(data, zstandard.ZstdError("not exactly one frame"))
        filled = 0
        try:
            with _decompressor().stream_reader(data, read_across_frames=False) as reader:
                while filled < size:
                    n = reader.readinto(out[filled:])
                    if not n:
                        break
                    filled += n
        except zstandard.ZstdError as exc:
            raise _diagnose(data, exc) from None
        if filled != size:
            raise FormatError(f"zstd: frame decompressed to {filled} bytes, its header says {size}", code="zstd-frame")
        return True


def _content_size(data: bytes | memoryview, max_size: int) -> int:
    """The content size the frame records, checked against ``max_size`` before allocating."""
    if bytes(data[:4]) != ZSTD_MAGIC:  # a skippable frame parses too, its length read as a content size
        raise FormatError("zstd: not a zstd frame (its magic number)", code="zstd-frame")
    try:
        params = zstandard.get_frame_parameters(data)
    except zstandard.ZstdError as exc:
        raise FormatError(f"zstd: not a zstd frame ({exc})", code="zstd-frame") from None
    size = params.content_size
    if size == zstandard.CONTENTSIZE_UNKNOWN or size == zstandard.CONTENTSIZE_ERROR:
        raise FormatError("zstd: frame does not record its content size", code="zstd-no-content-size")
    if size > max_size:
        raise FormatError(f"zstd: frame would decompress to {size} bytes, more than the {max_size} allowed", code="zstd-content-too-large")
    return size


# Contexts are costly to create (a new one also touches fresh memory on its first frame) and are
# reusable but not thread-safe: one per thread and level, shared by every Zstd instance.
_contexts = threading.local()


def _compressor(level: int) -> zstandard.ZstdCompressor:
    cache = _contexts.__dict__.setdefault("compressors", {})
    cctx = cache.get(level)
    if cctx is None:
        cctx = cache[level] = zstandard.ZstdCompressor(level=level, write_content_size=True, write_checksum=False)
    return cctx


def _decompressor() -> zstandard.ZstdDecompressor:
    dctx = getattr(_contexts, "decompressor", None)
    if dctx is None:
        dctx = _contexts.decompressor = zstandard.ZstdDecompressor()
    return dctx


def _diagnose(data: bytes, exc: zstandard.ZstdError) -> FormatError:
    """Say precisely what is wrong with a frame the one-shot decoder refused (error path only)."""
    dobj = zstandard.ZstdDecompressor().decompressobj()
    try:
        dobj.decompress(data)
    except zstandard.ZstdError:
        return FormatError(f"zstd: corrupt frame ({exc})", code="zstd-frame")
    if not dobj.eof:
        return FormatError("zstd: frame is truncated", code="zstd-frame")
    if dobj.unused_data:
        return FormatError(f"zstd: {len(dobj.unused_data)} bytes after the end of the frame", code="zstd-trailing-bytes")
    return FormatError(f"zstd: corrupt frame ({exc})", code="zstd-frame")
