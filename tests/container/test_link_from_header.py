"""LinkEncoder.from_header: an encoder for a stream whose header message is all one has kept (the
zarr codec keeps only that), coding the messages the original encoder would, or refusing a header
it cannot write byte for byte; and LinkDecoder keeping one message's rows within max_bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import spikecodec
from spikecodec import FormatError, LimitError, LinkDecoder, LinkEncoder
from spikecodec import layout
from spikecodec.container.link import parse_header_message

SHIPPED_PRIOR = Path(spikecodec.__file__).parent / "models" / "reference" / "snn-resnet-fmnist.prior"

rng = np.random.default_rng(4)
FRAMES = (rng.random((6, 2, 4, 7, 7)) < 0.4).astype(np.uint8)  # N, T, C, H, W


@pytest.mark.parametrize("options", [
    {},
    {"codec": "auto", "metadata": {"camera": 3, "name": "left"}},
    {"codec": "ctxmix", "prior": str(SHIPPED_PRIOR), "axes": "NTCHW", "chunk": 1},
    {"codec": "ctxmix", "prior": str(SHIPPED_PRIOR), "embed_prior": True},
    {"codec": {"id": "zstd", "level": 7}, "chunk": (3, 2)},
    {"codec": "countctx", "bits": 2},
])
def test_from_header_writes_the_same_stream(options):
    frames = FRAMES * 3 if options.get("bits") == 2 else FRAMES
    original = LinkEncoder(frames.shape[1:], **options)
    first = original.encode(frames[:3])
    second = original.encode(frames[3:])
    again = LinkEncoder.from_header(original.header)
    assert again.header == original.header and again.messages == 0
    assert again.encode(frames[:3]) == first  # a fresh stream: its first message is record 0
    assert again.encode(frames[3:]) == second
    dec = LinkDecoder(original.header)
    np.testing.assert_array_equal(dec.decode(first), frames[:3])
    np.testing.assert_array_equal(dec.decode(second), frames[3:])


def test_from_header_takes_the_prior_it_names():
    prior = spikecodec.train_prior(FRAMES, "context", axes="NTCHW", chunk=1)  # not a shipped one
    original = LinkEncoder(FRAMES.shape[1:], codec="context", prior=prior)
    with pytest.raises(FormatError, match=f"coded with prior {prior.digest}, which was not given"):
        LinkEncoder.from_header(original.header)
    again = LinkEncoder.from_header(original.header, prior=prior)
    assert again.encode(FRAMES[0]) == original.encode(FRAMES[0])


def test_from_header_refuses_what_it_cannot_continue():
    x = FRAMES[:2]
    classic = spikecodec.encode(x, records="classic")
    compact = spikecodec.encode(x, records="compact")  # a file: its length is in its header
    for data, match in [(_header_of(classic), "classic records"), (_header_of(compact), "known length 2")]:
        with pytest.raises(ValueError, match=match):
            LinkEncoder.from_header(data)
    header = LinkEncoder(x.shape[1:], metadata={"a": 1}).header
    with pytest.raises(FormatError, match="header message is"):
        LinkEncoder.from_header(header + b"\x00")
    with pytest.raises(FormatError):
        LinkEncoder.from_header(header[:-3])
    with pytest.raises(FormatError):
        LinkEncoder.from_header(b"not a header at all, not at all")
    # A header a reader accepts but this writer would not write: its metadata with a space in it.
    loose = _rewritten(header, b'{"a":1}', b'{"a": 1}')
    assert LinkDecoder(loose).metadata == {"a": 1}
    with pytest.raises(ValueError, match="does not write that header byte for byte"):
        LinkEncoder.from_header(loose)


def test_a_message_decodes_within_max_bytes_as_a_whole():
    """max_bytes caps one message's rows together (a row each was capped before): a message of
    ten one-frame rows of 392 bytes is refused under 3,920 bytes, before it is decoded."""
    enc = LinkEncoder(FRAMES.shape[1:], chunk=1)
    message = enc.encode(np.concatenate([FRAMES, FRAMES[:4]]))
    np.testing.assert_array_equal(LinkDecoder(enc.header, max_bytes=3920).decode(message)[:6], FRAMES)
    with pytest.raises(LimitError, match="over max_bytes=3919"):
        LinkDecoder(enc.header, max_bytes=3919).decode(message)


def _header_of(file: bytes) -> bytes:
    end = layout.PREAMBLE_SIZE + int.from_bytes(file[layout.PREAMBLE_SIZE - 4 : layout.PREAMBLE_SIZE], "little")
    data = file[: end + layout.CRC_SIZE]
    parse_header_message(data)  # a header message
    return data


def _rewritten(header: bytes, old: bytes, new: bytes) -> bytes:
    """``header`` with ``old`` (a length-prefixed JSON field) replaced by ``new``, preamble and CRC redone."""
    body = header[layout.PREAMBLE_SIZE : -layout.CRC_SIZE]
    field = len(old).to_bytes(4, "little") + old
    assert body.count(field) == 1
    body = body.replace(field, len(new).to_bytes(4, "little") + new)
    pre = header[: layout.PREAMBLE_SIZE - 4] + len(body).to_bytes(4, "little")
    return pre + body + layout.crc32(pre, body).to_bytes(4, "little")


# -- keyed checks (format 1.7) and resuming a producer ---------------------------------------------


def test_a_check_is_keyed_by_stream_and_place_not_linear_in_them():
    """Before 1.7 a compact record's check was one CRC over header CRC, ordinal and bytes: linear,
    so record 70,691 of any stream passed as record 0 whatever its bytes, and two streams whose
    header CRCs A, B have CRC-16(A XOR B) = 0 took each other's every record."""
    import binascii
    import hashlib

    from spikecodec.container.records import compact_check

    tag, head, payload = bytes(4), b"\x05", b"\xab\xcd"
    assert compact_check(tag, 0, head, payload, 2) == compact_check(tag, 70691, head, payload, 2)  # the old check
    assert compact_check(tag, 0, head, payload, 2, keyed=True) != compact_check(tag, 70691, head, payload, 2, keyed=True)
    seen: dict[int, bytes] = {}
    for i in range(1 << 20):  # two tags that the old check cannot tell apart
        t = hashlib.sha256(i.to_bytes(8, "little")).digest()[:4]
        other = seen.setdefault(binascii.crc_hqx(t, 0), t)
        if other is not t:
            break
    rng = np.random.default_rng(3)
    same_old = same_keyed = 0
    for ordinal in range(200):
        body = rng.bytes(20)
        same_old += compact_check(t, ordinal, head, body, 2) == compact_check(other, ordinal, head, body, 2)
        same_keyed += compact_check(t, ordinal, head, body, 2, keyed=True) == compact_check(other, ordinal, head, body, 2, keyed=True)
    assert same_old == 200 and same_keyed <= 1


def test_link_streams_are_keyed_and_unkeyed_ones_still_read():
    frames = (np.random.default_rng(4).random((3, 2, 3, 4, 4)) < 0.3).astype(np.uint8)
    for records, minor in (("compact", 9), ("compact-unkeyed", 6)):  # keyed records mark message ends (1.9)
        enc = LinkEncoder(frames.shape[1:], records=records)
        dec = LinkDecoder(enc.header)
        assert np.array_equal(np.concatenate([dec.decode(enc.encode(f[None])) for f in frames]), frames)
        again = LinkEncoder.from_header(enc.header)  # keeps the header's checks
        data = again.header + b"".join(again.encode(f[None]) for f in frames) + again.end()
        assert data.startswith(enc.header) and np.array_equal(spikecodec.decode(data), frames)
        with spikecodec.open(data) as r:
            assert r.records == records and r.version == (1, minor)
    with pytest.raises(ValueError, match="records must be"):
        LinkEncoder((2, 3), records="classic")
