"""Messages over a transport of one's own (spikecodec.LinkEncoder / LinkDecoder): each frame a
message of a few tens of bytes, and every bad message refused for what it is."""

from __future__ import annotations

import numpy as np
import pytest

import spikecodec
from spikecodec import FormatError, LinkDecoder, LinkEncoder

rng = np.random.default_rng(0)
BASE = rng.random((2, 4, 7, 7)) < 0.4
FRAMES = (BASE[None] ^ (rng.random((300, 2, 4, 7, 7)) < 0.1)).astype(np.uint8)


@pytest.fixture(scope="module")
def prior():
    return spikecodec.train_prior(FRAMES[:250], "ctxmix", axes="NTCHW", chunk=1)


def test_messages_round_trip_and_concatenate_to_a_file(prior):
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior, metadata={"camera": 7})
    messages = [enc.encode(f) for f in FRAMES[250:]]
    end = enc.end()
    assert enc.messages == 50 and max(map(len, messages)) < 49  # 392 spikes: 49 bytes packed
    dec = LinkDecoder(enc.header, priors=prior)
    assert dec.metadata == {"camera": 7} and dec.frame_shape == (2, 4, 7, 7)
    for frame, message in zip(FRAMES[250:], messages):
        np.testing.assert_array_equal(dec.decode(message), frame[None])
    dec.end(end)
    data = enc.header + b"".join(messages) + end
    np.testing.assert_array_equal(spikecodec.decode(data, priors=prior), FRAMES[250:])
    several = LinkEncoder(FRAMES.shape[1:], prior=prior)
    dec = LinkDecoder(several.header, priors=prior)
    np.testing.assert_array_equal(dec.decode(several.encode(FRAMES[:5])), FRAMES[:5])


def test_bad_messages_are_refused_for_what_they_are(prior):
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    messages = [enc.encode(f) for f in FRAMES[:4]]
    dec = LinkDecoder(enc.header, priors=prior)
    dec.decode(messages[0])
    with pytest.raises(FormatError, match=r"message checks as record 3 of this stream, expected record 1 \(out of order\?"):
        dec.decode(messages[3])
    with pytest.raises(FormatError, match="ends inside"):
        LinkDecoder(enc.header, priors=prior).decode(messages[0][:-1])
    other = LinkEncoder(FRAMES.shape[1:], prior=prior, metadata={"session": 2})  # another stream
    with pytest.raises(FormatError, match="from another stream"):
        LinkDecoder(enc.header, priors=prior).decode(other.encode(FRAMES[0]))
    unprimed = LinkEncoder(FRAMES.shape[1:])  # no prior: another codec state, another header
    with pytest.raises(FormatError, match="from another stream"):
        LinkDecoder(enc.header, priors=prior).decode(unprimed.encode(FRAMES[0]))
    with pytest.raises(FormatError, match="which was not given"):
        LinkDecoder(enc.header)
    with pytest.raises(FormatError, match="header message is"):
        LinkDecoder(enc.header + b"x", priors=prior)
    with pytest.raises(FormatError):
        LinkDecoder(enc.header[:-1], priors=prior)
    dec = LinkDecoder(enc.header, priors=prior)
    dec.decode(messages[0])
    with pytest.raises(FormatError, match="the message is a stream header, not a chunk message"):
        dec.decode(enc.header)
    with pytest.raises(FormatError, match="the stream ended after"):
        dec.end(enc.end())  # four records were sent, one decoded


def test_two_sessions_of_the_same_options_do_not_take_each_others_messages(prior):
    # Two cameras of one model on one broker: same options, so the same header but for the random
    # stream id each encoder draws (FORMAT.md 3.2). Without it, record n of one session decoded
    # as record n of the other, no error.
    a, b = LinkEncoder(FRAMES.shape[1:], prior=prior), LinkEncoder(FRAMES.shape[1:], prior=prior)
    assert a.header != b.header
    dec = LinkDecoder(a.header, priors=prior)
    with pytest.raises(FormatError, match="from another stream") as info:
        dec.decode(b.encode(FRAMES[1]))
    assert info.value.code == "compact-check"
    np.testing.assert_array_equal(dec.decode(a.encode(FRAMES[0])), FRAMES[:1])  # its own still reads
    c = LinkEncoder(FRAMES.shape[1:], prior=prior)
    with spikecodec.open(c.header + c.encode(FRAMES[1]) + c.end(), priors=prior) as r:
        assert r.header.minor == 9 and [e.name for e in r.header.extensions][-1] == "stream-id"
    # A fixed id gives a reproducible header; False the header of 1.5 (one for all encoders).
    fixed = [LinkEncoder(FRAMES.shape[1:], prior=prior, stream_id=bytes(16)).header for _ in range(2)]
    plain = [LinkEncoder(FRAMES.shape[1:], prior=prior, stream_id=False).header for _ in range(2)]
    assert fixed[0] == fixed[1] != plain[0] == plain[1]
    with spikecodec.open(plain[0] + LinkEncoder(FRAMES.shape[1:], prior=prior, stream_id=False).end(), priors=prior) as r:
        assert r.header.minor == 9 and [e.name for e in r.header.extensions] == ["compact-records", "keyed-checks", "message-ends"]
    # A restarted encoder for a header is that stream's: it keeps the id.
    again = LinkEncoder.from_header(a.header, prior=prior)
    assert again.header == a.header
    np.testing.assert_array_equal(LinkDecoder(a.header, priors=prior).decode(again.encode(FRAMES[2])), FRAMES[2:3])
    for bad in (16, "0" * 16):
        with pytest.raises(TypeError, match="stream_id is 16 bytes"):
            LinkEncoder(FRAMES.shape[1:], stream_id=bad)
    with pytest.raises(ValueError, match="stream_id is 16 bytes .* got 5"):
        LinkEncoder(FRAMES.shape[1:], stream_id=b"short")
    assert LinkEncoder(FRAMES.shape[1:], prior=prior, stream_id=np.zeros(16, np.uint8)).header == fixed[0]  # any 16-byte buffer
    # None is "not given" (stream_id=config.get("stream_id")): the default, a random id - it had
    # written no id, so that two cameras configured alike took each other's messages.
    drawn = [LinkEncoder(FRAMES.shape[1:], prior=prior, stream_id=v).header for v in (np.True_, None, None)]
    assert len({*drawn, plain[0]}) == 4
    # A stream-id in a file labelled 1.5 (or 1.3): every 1.x reader reads it (FORMAT.md 3.2), so the
    # validator's minor-too-low warning is only for what the file's codecs and other extensions need.
    from spikecodec.layout import crc32

    d = LinkEncoder(FRAMES.shape[1:], prior=prior, records="compact-unkeyed")  # keyed checks would need 1.7
    data = bytearray(d.header + d.end())  # no record: no check covers the header CRC changed below
    end = 16 + int.from_bytes(data[12:16], "little")
    for minor, warned in ((5, False), (3, False), (2, True)):
        data[9] = minor
        data[end : end + 4] = crc32(bytes(data[:end])).to_bytes(4, "little")
        report = spikecodec.validate(bytes(data), priors=prior)
        assert report.ok and any(p.code == "minor-too-low" for p in report.problems) == warned, report.problems


def test_careless_calls_are_told_what_the_stream_takes():
    enc = LinkEncoder((2, 4, 7, 7))
    for shape in [(2, 4, 7, 6), (4, 7, 7), (3, 2, 4, 7, 6), (1, 1, 2, 4, 7, 7)]:
        with pytest.raises(ValueError, match=rf"shaped \({shape[0]}, .*this stream's frames are shaped \(2, 4, 7, 7\)"):
            enc.encode(np.zeros(shape, np.uint8))
    dec = LinkDecoder(enc.header)
    np.testing.assert_array_equal(dec.decode(enc.encode(FRAMES[0])), FRAMES[:1])  # nothing was written for them
    end = enc.end()
    with pytest.raises(ValueError, match="ended already"):
        enc.end()
    dec.end(end)
    # A message of a stream of 2-frame rows stating a short row, in a stream of 1-frame rows.
    two = LinkEncoder((2, 4, 7, 7), chunk=2, stream_id=False)
    with pytest.raises(FormatError, match=r"row height 1 is outside the stream's rows, which are 1 high"):
        LinkDecoder(LinkEncoder((2, 4, 7, 7), stream_id=False).header).decode(two.encode(FRAMES[0]))


def test_live_stream_objects_refuse_pickling_saying_why(prior, tmp_path):
    import copy
    import pickle

    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    with spikecodec.SpikeWriter(tmp_path / "w.spk") as writer:
        for obj, match in ((enc, "LinkEncoder.from_header"), (LinkDecoder(enc.header, priors=prior), "each receiving process"),
                           (writer, "writes an open file")):
            with pytest.raises(TypeError, match=match):
                pickle.dumps(obj)
            with pytest.raises(TypeError, match=match):
                copy.copy(obj)
        writer.append(FRAMES[0])


@pytest.mark.parametrize("shape", [(2.5, 4), "24", (2, True)])
def test_frame_shapes_are_integers(shape):
    # (2.5, 4) made a stream of (2, 4) frames.
    with pytest.raises(TypeError, match="frame_shape"):
        LinkEncoder(shape)


def test_an_end_message_short_of_a_known_length_is_rows_total():
    """A header of known length (another writer's): an end message whose counts match what was
    decoded but whose rows fall short of shape[0] is refused as the file would be (FORMAT.md 11)."""
    from spikecodec.container.records import encode_compact_index, encode_trailer

    frames = FRAMES[:3]
    data = spikecodec.encode(frames, codec="raw", chunk=[1], records="compact")
    H = int.from_bytes(data[12:16], "little")
    header = data[: 16 + H + 4]
    dec = LinkDecoder(header)
    record = 1 + 49 + 2  # a raw chunk of 392 spikes: its size varint (v = 99), 49 packed bytes, a CRC-16
    pos = len(header)
    for i in range(2):
        np.testing.assert_array_equal(dec.decode(data[pos : pos + record]), frames[i : i + 1])
        pos += record
    index = encode_compact_index(2, 2)
    end = index + encode_trailer(pos, len(index))
    with pytest.raises(FormatError) as info:
        dec.end(end)
    assert info.value.code == "rows-total" and info.value.offset == pos


def test_a_long_stream_keeps_no_entry_per_message(prior):
    # A compact stream's end message needs only the count of records and rows: the writer kept an
    # index entry per message (about 100 bytes an image, without bound for a camera that streams for days).
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    dec = LinkDecoder(enc.header, priors=prior)
    for frame in FRAMES[:120]:
        dec.decode(enc.encode(frame))
    assert enc.messages == 120 and enc._writer._entries == []
    dec.end(enc.end())
    assert dec.records_read == 120


def test_a_damaged_later_record_of_a_message_is_the_one_explained():
    # _explain tried the message's first record at the failing record's place: "message is
    # record 0 of this stream, expected record 1 (out of order)" for a damaged second record.
    enc = LinkEncoder((2, 4, 7, 7), codec="raw", stream_id=bytes(16))
    message = bytearray(enc.encode(FRAMES[:2]))  # two records, one a frame
    message[-1] ^= 1  # the second record's check
    with pytest.raises(FormatError, match="record 1 fails its check") as info:
        LinkDecoder(enc.header).decode(bytes(message))
    assert "out of order" not in str(info.value)


def numbered(enc, frames):
    """(record number, message) of each frame, as a transport that numbers messages carries them."""
    out = []
    for frame in frames:
        number = enc.next_record
        out.append(enc.numbered(frame))
        assert out[-1][0] == number
    return out


def numbered_stream(prior, count):
    """(encoder, its numbered messages of the first ``count`` frames, its end message, a decoder)."""
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    sent = numbered(enc, FRAMES[:count])
    return enc, sent, enc.end(), LinkDecoder(enc.header, priors=prior)


def test_numbered_messages_go_on_after_losses_and_fill_late_ones_once(prior):
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    sent = numbered(enc, FRAMES[:12])
    end = enc.end()
    assert [n for n, _ in sent] == list(range(12)) and enc.messages == 12
    dec = LinkDecoder(enc.header, priors=prior)
    for n in (0, 1, 4, 5, 3, 8, 9):  # 2, 6, 7 lost or late; 3 arrives after 4 and 5
        np.testing.assert_array_equal(dec.decode(sent[n][1], record=n), FRAMES[n][None])
    assert dec.records_read == 10 and dec.records_skipped == 3
    np.testing.assert_array_equal(dec.decode(sent[6][1], record=6), FRAMES[6][None])  # late, in its gap
    assert dec.records_skipped == 2 and dec.rows_read == 8
    for n in (6, 9, 0):
        with pytest.raises(ValueError, match=f"record {n} was decoded already"):
            dec.decode(sent[n][1], record=n)
    with pytest.raises(FormatError, match=r"message checks as record 7 of this stream, expected record 2 \(out of order\?") as info:
        dec.decode(sent[7][1], record=2)  # a wrong number: refused, and the gap stays open
    assert info.value.code == "compact-check" and dec.records_skipped == 2
    dec.end(end)  # 10 and 11 never came: counted as skipped, not a damaged end
    assert dec.records_read == 12 and dec.records_skipped == 4
    np.testing.assert_array_equal(dec.decode(sent[11][1], record=11), FRAMES[11][None])  # still late after the end
    with pytest.raises(ValueError, match="the stream has ended"):
        dec.decode(sent[11][1])
    assert dec.records_skipped == 3


def test_a_decoder_joins_a_stream_mid_way(prior):
    enc, sent, end, dec = numbered_stream(prior, 6)
    with pytest.raises(FormatError, match="expected record 0"):
        dec.decode(sent[4][1])  # unnumbered, a message must be the next in order
    np.testing.assert_array_equal(dec.decode(sent[4][1], record=4), FRAMES[4][None])
    np.testing.assert_array_equal(dec.decode(sent[5][1]), FRAMES[5][None])  # then in order without numbers
    dec.end(end)
    assert dec.records_skipped == 4


def test_unnumbered_messages_still_end_at_a_loss(prior):
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    sent = numbered(enc, FRAMES[:3])
    end = enc.end()
    strict, lenient = LinkDecoder(enc.header, priors=prior), LinkDecoder(enc.header, priors=prior)
    for n, message in sent[:2]:  # the last message is lost
        strict.decode(message)
        lenient.decode(message, record=n)
    with pytest.raises(FormatError, match="ended after 3 records in 3 rows; 2 in 2 were decoded") as info:
        strict.end(end)
    assert info.value.code == "index-count"
    with pytest.raises(FormatError, match="expected record 2"):
        strict.decode(sent[0][1])  # a message after the loss: refused in order, as before
    lenient.end(end)  # a receiver that numbers messages takes the loss as one
    assert lenient.records_skipped == 1


def test_a_numbered_end_message_is_checked_in_full_when_nothing_was_lost(prior):
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    sent = numbered(enc, FRAMES[:3])
    other = LinkEncoder(FRAMES.shape[1:], prior=prior)
    for frame in FRAMES[:2]:
        other.encode(frame)
    dec = LinkDecoder(enc.header, priors=prior)
    for n, message in sent:
        dec.decode(message, record=n)
    with pytest.raises(FormatError, match="ended after 2 records in 2 rows; 3 in 3 were decoded") as info:
        dec.end(other.end())
    assert info.value.code == "index-count"
    dec.end(enc.end())
    assert dec.records_skipped == 0


def test_record_numbers_are_checked(prior):
    tiled = LinkEncoder(FRAMES.shape[1:], prior=None, chunk=(1, 1, 4, 7, 7))  # two records a frame (T split)
    sent = numbered(tiled, FRAMES[:3])
    assert [n for n, _ in sent] == [0, 2, 4] and tiled.messages == 3
    dec = LinkDecoder(tiled.header)
    with pytest.raises(ValueError, match="record 3 does not start a row of chunks: .* a multiple of 2"):
        dec.decode(sent[2][1], record=3)
    np.testing.assert_array_equal(dec.decode(sent[2][1], record=4), FRAMES[2][None])
    np.testing.assert_array_equal(dec.decode(sent[0][1], record=0), FRAMES[0][None])
    assert dec.records_skipped == 2
    for bad, kind in ((True, TypeError), ("4", TypeError), (1.0, TypeError), (-2, ValueError), (1 << 63, ValueError)):
        with pytest.raises(kind, match="record must be"):
            dec.decode(sent[1][1], record=bad)
    np.testing.assert_array_equal(dec.decode(sent[1][1], record=np.int64(2)), FRAMES[1][None])
    assert dec.records_skipped == 0


def test_numbered_messages_reordered_but_all_received_end_in_full(prior):
    # Late messages count their rows and bytes: once every skipped record has arrived, the end
    # message is checked as for a stream read in order (it was refused as pointing elsewhere).
    enc, sent, end, dec = numbered_stream(prior, 5)
    for n in (0, 2, 1, 4, 3):
        dec.decode(sent[n][1], record=n)
    assert dec.records_skipped == 0 and dec.rows_read == 5
    bad = bytearray(end)
    bad[-20] ^= 1  # the trailer's index offset, its CRC fixed up: an end that points elsewhere
    bad[-8:-4] = spikecodec.layout.crc32(bytes(bad[-24:-8])).to_bytes(4, "little")
    with pytest.raises(FormatError, match="does not point to the index") as info:
        dec.end(bytes(bad))
    assert info.value.code == "trailer-index"
    dec.end(end)
    data = enc.header + b"".join(m for _, m in sent)
    damaged = bytearray(sent[1][1])
    damaged[1] ^= 4
    dec = LinkDecoder(enc.header, priors=prior)
    for n in (0, 2, 1):
        dec.decode(sent[n][1], record=n)
    with pytest.raises(FormatError) as info:
        dec.decode(bytes(damaged), record=3)
    assert info.value.offset == len(enc.header) + sum(len(m) for _, m in sent[:3])  # the bytes received, late ones too
    assert len(data) > info.value.offset


def test_an_empty_numbered_message_changes_nothing(prior):
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    first = enc.numbered(FRAMES[0])
    empty = enc.numbered(FRAMES[:0])
    second = enc.numbered(FRAMES[1])
    assert empty == (1, b"") and second[0] == 1
    dec = LinkDecoder(enc.header, priors=prior)
    dec.decode(first[1], record=0)
    assert dec.decode(b"", record=10**6).shape == (0, 2, 4, 7, 7)  # a wrong number on no record: nothing moves
    dec.decode(second[1], record=1)
    assert dec.decode(empty[1], record=empty[0]).shape[0] == 0  # arriving after its successor
    dec.end(enc.end())
    assert dec.records_skipped == 0


def test_late_records_past_the_remembered_gaps_are_refused_as_such(prior, monkeypatch):
    monkeypatch.setattr(spikecodec.container.link, "MAX_GAPS", 2)
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    sent = numbered(enc, FRAMES[:8])
    dec = LinkDecoder(enc.header, priors=prior)
    for n in (0, 2, 4, 6):  # gaps 1, 3, 5: the first is forgotten
        dec.decode(sent[n][1], record=n)
    assert dec.records_skipped == 3
    with pytest.raises(ValueError, match="record 1 was decoded already or skipped before the runs of skipped records it remembers"):
        dec.decode(sent[1][1], record=1)
    dec.decode(sent[3][1], record=3)
    with pytest.raises(ValueError, match=r"record 0 was decoded already or skipped before .* \(the decoder is at record 7\)"):
        dec.decode(sent[0][1], record=0)
    assert dec.records_skipped == 2


def test_late_records_that_split_a_run_keep_the_runs_within_max_gaps(prior, monkeypatch):
    # Each late message split a run of skipped records in two and the list was never trimmed:
    # 30,000 messages, every other one late, left 15,000 runs and a scan and sort of them all per
    # message (quadratic time). The split path forgets the oldest past MAX_GAPS too.
    monkeypatch.setattr(spikecodec.container.link, "MAX_GAPS", 3)
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    sent = numbered(enc, FRAMES[:20])
    dec = LinkDecoder(enc.header, priors=prior)
    dec.decode(sent[19][1], record=19)  # the newest overtakes the rest: one run, 0 .. 18
    for n in range(0, 19, 2):  # every other one arrives late; each splits the run
        dec.decode(sent[n][1], record=n)
        assert len(dec._gaps) <= 3
    assert dec.records_skipped == 9  # the odd ones: forgotten runs stay counted
    with pytest.raises(ValueError, match="skipped before the runs of skipped records it remembers"):
        dec.decode(sent[1][1], record=1)
    dec.decode(sent[17][1], record=17)  # one of the runs it remembers


def test_a_refused_numbered_message_does_not_make_the_decoder_numbered(prior):
    # A numbered message refused (damaged; or a repeat) still set the decoder's "numbered" state,
    # so end() then took the stream's last records as lost instead of refusing the end: a stream
    # missing two messages passed. A refused message leaves the decoder as it was.
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    messages = [enc.encode(f) for f in FRAMES[:4]]
    end = enc.end()
    dec = LinkDecoder(enc.header, priors=prior)
    dec.decode(messages[0])
    dec.decode(messages[1])
    with pytest.raises(FormatError):
        dec.decode(b"\x01garbage", record=7)
    with pytest.raises(ValueError, match="decoded already"):
        dec.decode(messages[0], record=0)
    with pytest.raises(FormatError, match="ended after 4 records") as info:
        dec.end(end)
    assert info.value.code == "index-count"


def test_a_link_decoder_refuses_a_header_of_classic_records():
    # It took one, and then another stream's message, two joined or one cut at a record boundary
    # (a classic record checks neither its stream nor its place), and refused the stream's own end.
    import io

    sink = io.BytesIO()
    with spikecodec.SpikeWriter(sink, axes="NTCHW") as w:
        w.append(FRAMES[0])
    data = sink.getvalue()
    header = data[: 20 + int.from_bytes(data[12:16], "little")]
    with pytest.raises(ValueError, match="classic records, whose records do not check their stream or place"):
        LinkDecoder(header)


def test_an_encoder_inherited_through_fork_refuses_to_write(prior):
    # pickle and copy were refused, but a forked worker's copy wrote the same stream as every
    # other: messages under the same record numbers, each taken for the other's.
    import multiprocessing

    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    enc.encode(FRAMES[0])
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_encode_in_child, args=(enc, send))  # inherited by the fork, not pickled
    child.start()
    error = receive.recv()
    child.join(60)
    assert "made in process" in error and "(a fork)" in error, error
    enc.encode(FRAMES[1])  # the parent's stream goes on


def _encode_in_child(enc, send) -> None:
    try:
        enc.encode(FRAMES[2])
        send.send("encoded")
    except RuntimeError as exc:
        send.send(str(exc))


def test_an_encoder_shared_by_threads_numbers_each_message_with_its_own_record(prior):
    import threading

    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    got = []
    threads = [threading.Thread(target=lambda part: got.extend((*enc.numbered(f), f) for f in part), args=(FRAMES[i:80:4],))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(n for n, _, _ in got) == list(range(80))
    dec = LinkDecoder(enc.header, priors=prior)
    for n, message, frame in sorted(got, key=lambda item: -item[0]):  # last first: every other one late
        np.testing.assert_array_equal(dec.decode(message, record=n), frame[None])
    assert dec.records_skipped == 0


def _record_ends(header: bytes, message: bytes) -> list[int]:
    """The offset after each compact record of a message (the readers' parser of record heads)."""
    from spikecodec.container.link import parse_header_message
    from spikecodec.container.reader import BytesCursor
    from spikecodec.container.records import record_layout

    records = record_layout(parse_header_message(header)[0], header[-4:])
    cursor, ends = BytesCursor(message, 0), []
    while cursor.pos < len(message):
        head = records.read_head(cursor, cursor.pos)
        cursor.read(head.payload_size + head.check_size)
        ends.append(cursor.pos)
    return ends


@pytest.mark.parametrize("codec, chunk", [("ctxmix", 1), ("raw", 1), ("context", (1, 2)), ("ctxmix", 2)])
def test_a_message_cut_at_a_record_boundary_or_joined_to_the_next_is_refused(codec, chunk):
    # A message of several records whose transport dropped its tail at a record boundary passed
    # every record's check: it decoded as fewer frames, no error (an outside probe), and the next
    # message was then blamed as out of order. With message ends (format 1.9) each message's last
    # record says so; the refused message leaves the decoder where it was.
    enc = LinkEncoder(FRAMES.shape[1:], codec=codec, chunk=chunk)
    assert enc.header[9] == 9 and b"message-ends" in enc.header
    first, second = enc.encode(FRAMES[:3]), enc.encode(FRAMES[3:5])
    ends = _record_ends(enc.header, first)
    assert len(ends) >= 2 and ends[-1] == len(first)
    for numbered in (False, True):
        dec = LinkDecoder(enc.header)
        for cut in ends[:-1]:
            with pytest.raises(FormatError, match="cut short") as info:
                dec.decode(first[:cut], **({"record": 0} if numbered else {}))
            assert info.value.code == "message-truncated" and info.value.offset == len(enc.header) + cut
        with pytest.raises(FormatError, match="two messages sent as one") as info:
            dec.decode(first + second, **({"record": 0} if numbered else {}))
        assert info.value.code == "message-joined" and info.value.offset == len(enc.header) + len(first)
        np.testing.assert_array_equal(dec.decode(first, **({"record": 0} if numbered else {})), FRAMES[:3])
        np.testing.assert_array_equal(dec.decode(second, **({"record": len(ends)} if numbered else {})), FRAMES[3:5])
    end = enc.end()
    dec.end(end)
    data = enc.header + first + second + end  # still a file, which every reader reads
    np.testing.assert_array_equal(spikecodec.decode(data), FRAMES[:5])
    assert spikecodec.validate(data).ok


def test_message_ends_follow_the_records_option_and_the_header():
    """Keyed records (the default) mark message ends; unkeyed ones (for readers of 1.3 - 1.6) and
    message_ends=False (1.7 - 1.8) do not, and there a cut message still reads short, as before;
    from_header keeps what the header says; a classic file cannot mark them."""
    for options, minor, marked in (({}, 9, True), ({"message_ends": False}, 7, False),
                                   ({"records": "compact-unkeyed"}, 3, False), ({"records": "compact-unkeyed", "message_ends": True}, 9, True)):
        enc = LinkEncoder(FRAMES.shape[1:], codec="raw", stream_id=False, **options)
        assert enc.header[9] == minor and (b"message-ends" in enc.header) == marked, options
        assert LinkEncoder.from_header(enc.header).header == enc.header
        message = enc.encode(FRAMES[:2])
        cut = message[: len(message) // 2]
        if marked:
            with pytest.raises(FormatError, match="cut short"):
                LinkDecoder(enc.header).decode(cut)
        else:
            np.testing.assert_array_equal(LinkDecoder(enc.header).decode(cut), FRAMES[:1])
    with pytest.raises(ValueError, match="compact"):
        spikecodec.SpikeWriter(__import__("io").BytesIO(), message_ends=True)


def test_a_writer_with_message_ends_loses_no_flushed_frame():
    """The last record is held back until the next record or a flush says whether it ends a
    message: a flush, an error in the with block and close all write it."""
    import io

    for leave in ("flush", "error", "close"):
        buf = io.BytesIO()
        try:
            with spikecodec.SpikeWriter(buf, codec="raw", records="compact", message_ends=True, chunk=2) as w:
                w.write_frames(FRAMES[:4])  # two full rows: the second record held
                if leave == "flush":
                    w.flush()
                    assert len(buf.getvalue()) and spikecodec.open(buf.getvalue(), recover=True).read().shape[0] == 4
                if leave == "error":
                    raise KeyError("the caller's")
        except KeyError:
            pass
        with spikecodec.open(buf.getvalue(), recover=True) as r:
            np.testing.assert_array_equal(r.read(), FRAMES[:4])


def test_misuse_after_the_end_and_with_another_prior_says_what_happened(prior):
    """encode() after end() said "the writer is closed"; a decoder given another prior said the
    stream's "was not given" (an outside probe)."""
    enc = LinkEncoder(FRAMES.shape[1:], prior=prior)
    enc.encode(FRAMES[0])
    enc.end()
    with pytest.raises(ValueError, match="the stream has ended"):
        enc.encode(FRAMES[1])
    other = spikecodec.train_prior(FRAMES[:20], "ctxmix", axes="NTCHW", chunk=1)
    with pytest.raises(FormatError, match=f"the priors given are others \\({other.digest[:12]}\\)") as info:
        LinkDecoder(enc.header, priors=other)
    assert info.value.code == "prior-missing"


@pytest.mark.parametrize("codec", ["framemix", "mix"])
def test_a_decoder_capped_at_a_frames_size_reads_a_mixing_codecs_messages(codec):
    # Found by an outside probe: serve (and the zarr and numcodecs codecs) cap each message's
    # decoding at the frame's own size; the mixing codecs' planes of one sample cost ~23 bytes an
    # element, so every message of the default codec was refused (LimitError, working memory).
    enc = LinkEncoder(FRAMES.shape[1:], codec=codec)
    dec = LinkDecoder(enc.header, max_bytes=FRAMES[0].size)
    for frame in FRAMES[:3]:
        np.testing.assert_array_equal(dec.decode(enc.encode(frame)), frame[None])
