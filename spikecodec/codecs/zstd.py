"""``zstd``: a Zstandard frame around the previous stage's bytes (FORMAT.md 8.2)."""

from __future__ import annotations

import zstandard

from ..errors import FormatError
from .base import BytesCodec


class Zstd(BytesCodec):
    """One zstd frame with its content size recorded. ``level``: -7 (fastest) to 22."""

    codec_id = "zstd"

    def __init__(self, level: int = 3):
        if isinstance(level, bool) or not isinstance(level, int) or not -7 <= level <= 22:
            raise ValueError(f"zstd level must be an integer in -7..22, got {level!r}")
        self.level = level
        # Compressor objects are reusable and costly to build; decompressors are cheap.
        self._cctx = zstandard.ZstdCompressor(level=level, write_content_size=True, write_checksum=False)

    def get_config(self) -> dict:
        return {"level": self.level}

    def encode(self, data: bytes) -> bytes:
        return self._cctx.compress(data)

    def decode(self, data: bytes, max_size: int) -> bytes:
        try:
            params = zstandard.get_frame_parameters(data)
        except zstandard.ZstdError as exc:
            raise FormatError(f"zstd: not a zstd frame ({exc})") from None
        size = params.content_size
        if size == zstandard.CONTENTSIZE_UNKNOWN or size == zstandard.CONTENTSIZE_ERROR:
            raise FormatError("zstd: frame does not record its content size")
        if size > max_size:
            raise FormatError(f"zstd: frame would decompress to {size} bytes, more than the {max_size} allowed")
        dobj = zstandard.ZstdDecompressor().decompressobj()
        try:
            out = dobj.decompress(data)
        except zstandard.ZstdError as exc:
            raise FormatError(f"zstd: corrupt frame ({exc})") from None
        if not dobj.eof:
            raise FormatError("zstd: frame is truncated")
        if dobj.unused_data:
            raise FormatError(f"zstd: {len(dobj.unused_data)} bytes after the end of the frame")
        if len(out) != size:
            raise FormatError(f"zstd: frame decompressed to {len(out)} bytes, its header says {size}")
        return out
