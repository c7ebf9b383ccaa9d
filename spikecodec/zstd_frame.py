"""One Zstandard frame, checked whole without keeping its output (RFC 8878; FORMAT.md 9.3 and
14): for the zstd codec's frames of content size 0, which python-zstandard's one-shot decoder
returns as b"" without reading them (damage, a cut, bytes after the frame all went unseen), and
for a prior whose tables cannot serve its codec (its file's own rules come first, FORMAT.md 10
step 3.6, and its tables may declare a GiB: they are counted, never held)."""

from __future__ import annotations

import zstandard

PIECE = 1 << 20  # bytes of output decoded at a time, and dropped


def frame_end(data: bytes | memoryview) -> int:
    """Offset just past the frame that starts ``data`` (header, blocks, optional checksum), from
    the block headers alone (RFC 8878 3.1.1); -1 if ``data`` ends inside a block header (an
    offset past ``len(data)``: it ends inside a block)."""
    pos = zstandard.frame_header_size(data)
    view = memoryview(data)
    while True:
        if pos + 3 > len(view):
            return -1
        head = int.from_bytes(view[pos:pos + 3], "little")
        pos += 3 + (1 if (head >> 1) & 3 == 1 else head >> 3)  # an RLE block stores one byte
        if head & 1:  # last block
            return pos + (4 if view[4] & 0x04 else 0)  # content checksum flag


def frame_problem(data: bytes | memoryview, size: int) -> tuple[bool, str] | None:
    """Why ``data`` is not exactly one valid frame that decodes to ``size`` bytes, as (trailing,
    reason) - the frame's own problems (damaged, cut, a dictionary named, another size) first,
    then bytes after a valid frame (``trailing`` True) - or None. The output is decoded PIECE
    bytes at a time and dropped: memory stays bounded whatever the frame declares."""
    try:
        if zstandard.get_frame_parameters(data).dict_id:
            return False, "its header names a dictionary (none is defined)"
        end = frame_end(data)
    except zstandard.ZstdError as exc:
        return False, f"not a zstd frame ({exc})"
    if end < 0 or end > len(data):
        return False, "the frame is truncated"
    decoded = 0
    try:
        with zstandard.ZstdDecompressor().stream_reader(bytes(data[:end]), read_across_frames=False) as reader:
            while True:
                piece = reader.read(PIECE)
                if not piece:
                    break
                decoded += len(piece)
                if decoded > size:
                    break
    except zstandard.ZstdError as exc:
        return False, f"corrupt frame ({exc})"
    if decoded != size:
        return False, f"the frame decodes to {'more than ' if decoded > size else ''}{decoded} bytes, its header says {size}"
    if end != len(data):
        return True, f"{len(data) - end} bytes after the end of the frame"
    return None
