"""Spike messages over a transport of your own: a socket, a queue, a message broker.

:class:`LinkEncoder` turns frames into messages and :class:`LinkDecoder` turns them back. The
messages are the pieces of a spike file written with compact records (FORMAT.md 5.2): the
*header message* once, then one *chunk message* per chunk of frames as soon as it is encoded
(by default one frame - one image's spikes - per message), then the *end message* (index and
trailer). Concatenated they are a valid spike file, so a receiver may also just append them to
a file. Each chunk message checks itself: a CRC over the stream's header and the message's
place in it, so a damaged, truncated, reordered or foreign message (another model, prior or
session: each encoder's header holds a random ``stream-id`` of its own) is refused rather than
decoded wrongly (a 16-bit check lets about one random corruption in 65,536 through; FORMAT.md
5.2)::

    enc = LinkEncoder((2, 4, 7, 7), prior="snn-resnet-fmnist.prior", metadata={"camera": 3})
    send(enc.header)                          # once per session
    for spikes in frames:                     # each (T, C, H, W) -> a few tens of bytes
        send(enc.encode(spikes))
    send(enc.end())

    dec = LinkDecoder(receive())              # the header message
    for message in messages:
        frames = dec.decode(message)          # (1, T, C, H, W)

A transport that loses or reorders messages sends each one's number (``number, message =
enc.numbered(spikes)``) and the receiver decodes with ``dec.decode(message, record=number)``:
lost messages are skipped, late ones decoded once, and a decoder may join mid-stream (FORMAT.md 11).
"""

from __future__ import annotations

import copy
import math
import os
import threading
from typing import Any, Iterable, Sequence

import numpy as np

from .. import layout
from ..codecs.registry import CodecLike, Pipeline
from ..elements import to_numpy
from ..errors import FormatError
from ..limits import Budget, ReadLimits, as_limits
from ..prior import PriorLike, as_priors
from ..codecs import ChunkSpec
from .grid import RowAssembler, Tiling, chunk_spec
from .header import COMPACT_EXTENSION, KEYED_EXTENSION, MESSAGE_ENDS_EXTENSION, PRIOR_EXTENSION, STREAM_ID_EXTENSION, STREAM_ID_SIZE, Header, bind_prior, parse_header, parse_preamble
from .reader import BytesCursor, decode_record
from .records import CompactRecords, RecordHead, parse_trailer, read_compact_index, read_record, record_layout
from .writer import COMPACT_RECORDS, SpikeWriter, check_same_process, whole_numbers

MAX_GAPS = 4096  # runs of skipped records a LinkDecoder remembers, so that late messages can fill them
LINK_CODEC = "ctxmix"  # the link's codec (edge, LinkEncoder, the models' shipped priors): one image a message from a prior codes smallest with it


class _Capture(list):
    """The writer's file: keeps what it writes until :meth:`take`."""

    def write(self, data: bytes | memoryview) -> int:
        self.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self)
        self.clear()
        return data


class LinkEncoder:
    """Frames in, messages out. ``frame_shape``: one frame (e.g. one image's spikes, T x C x H x W).

    Options as :class:`~spikecodec.SpikeWriter` (``codec`` default ``ctxmix``, ``prior``,
    ``embed_prior``, ``axes`` default N + the frame's T, C, H, W, ``chunk`` default 1 frame per
    message, ``metadata``, ``bits``); records are compact. ``header`` is the header message.

    ``stream_id``: True (default; None too) draws 16 random bytes, so that two encoders made with the same
    options (two cameras of one model) still make streams whose messages cannot be taken for each
    other's; 16 bytes of your own give a reproducible header; False writes none (the header of
    spikecodec 1.5 and earlier, the same for every encoder of these options).

    ``message_ends`` (default: with keyed checks, ``records="compact"``) marks each message's last
    record (FORMAT.md 5.2, 11; format 1.9), so that a message of several records that the
    transport cuts short at a record boundary, or two messages sent as one, is refused instead of
    read as fewer or more frames. False writes the streams of format 1.7 - 1.8, for their readers.
    """

    def __init__(
        self,
        frame_shape: Sequence[int],
        *,
        codec: CodecLike | list[CodecLike] | Pipeline = LINK_CODEC,
        prior: PriorLike | None = None,
        embed_prior: bool = False,
        axes: Sequence[str] | str | None = None,
        chunk: int | Sequence[int] = 1,
        metadata: dict[str, Any] | None = None,
        bits: int = 1,
        stream_id: bytes | bool | None = True,
        records: str = "compact",
        message_ends: bool | None = None,
    ):
        if stream_id is None:  # "not given" (a config's missing key): the default, never "none", which is False
            stream_id = True
        if records not in COMPACT_RECORDS:
            raise ValueError(f"a link's records are compact: records must be 'compact' or 'compact-unkeyed' (for readers "
                             f"before format 1.7), got {records!r:.40}")
        self._sink = _Capture()
        frame_shape = whole_numbers(frame_shape, "frame_shape")
        if axes is None and len(frame_shape) == 4:
            axes = ("N", "T", "C", "H", "W")
        if message_ends is None:
            message_ends = records == "compact"
        self._writer = SpikeWriter(self._sink, codec=codec, axes=axes, chunk=chunk, metadata=metadata, bits=bits,
                                   prior=prior, embed_prior=embed_prior, records=records, stream_id=stream_id,
                                   message_ends=message_ends)
        self._writer._start(frame_shape)
        self.header: bytes = self._sink.take()
        self.frame_shape = frame_shape
        self._lock = threading.Lock()  # one message at a time: a message holds its own frames only
        self._messages = 0
        self._pid = os.getpid()  # a fork's copy would be a second writer of the same stream

    @property
    def messages(self) -> int:
        """Chunk messages made so far."""
        return self._messages

    @property
    def next_record(self) -> int:
        """The stream's number (ordinal) of the next message's first record; with one frame a
        message (the default) the number of chunk messages made so far. An encoder shared by
        threads numbers its messages with :meth:`numbered`."""
        return self._writer.records_written

    def numbered(self, frames: Any) -> tuple[int, bytes]:
        """(record number, message) for ``frames``, as :meth:`encode`, the number taken under the
        same lock: sent beside the message by a transport that numbers its messages, it lets
        ``LinkDecoder.decode(message, record=number)`` go on after lost ones."""
        with self._lock:
            return self._writer.records_written, self._encode(frames)

    def encode(self, frames: Any) -> bytes:
        """The message for one frame (shaped ``frame_shape``) or several (a leading axis): their
        chunks' records, written out now (a partial chunk too)."""
        with self._lock:
            return self._encode(frames)

    def _check_process(self) -> None:
        check_same_process(self._pid, "LinkEncoder", "each process would write the same stream, their messages under "
                           "the same record numbers - make a LinkEncoder in each process (each its own stream id)")

    def _encode(self, frames: Any) -> bytes:
        self._check_process()
        if self._writer._closed:  # not the writer's "closed": the user ended the stream
            raise ValueError("the stream has ended (end() made its end message): no message follows it")
        values = to_numpy(frames)  # the one conversion: a masked array is refused, not unmasked
        if values.shape != self.frame_shape and values.shape[1:] != self.frame_shape:
            raise ValueError(f"got an array shaped {values.shape}; this stream's frames are shaped {self.frame_shape}, "
                             f"several of them ({', '.join(['n', *map(str, self.frame_shape)])})")
        w = self._writer
        # A message goes out whole or not at all: a call that fails part-way (a MemoryError, Ctrl-C
        # in the coder) had its first frames' records left in the sink, numbered, and the next
        # message carried them in front of its own - a batch sent again after the error reached
        # the receiver with those frames twice. The records made go back, and the writer's place.
        mark = w._mark()
        try:
            if values.shape == self.frame_shape:
                w.append(values)
            else:
                w.write_frames(values)
            w.flush()
        except BaseException:
            self._sink.clear()
            w._rewind(mark)
            raise
        self._messages += 1
        return self._sink.take()

    def end(self) -> bytes:
        """The end message (index and trailer): the stream is complete."""
        with self._lock:
            self._check_process()
            if self._writer._closed:
                raise ValueError("the stream has ended already: its end message was made by an earlier end()")
            self._writer.close()
            return self._sink.take()

    def __reduce__(self) -> Any:
        raise TypeError("a LinkEncoder is a live stream's place and does not pickle or copy: "
                        "LinkEncoder.from_header(header) starts a new one for that header")

    @classmethod
    def from_header(cls, header: bytes, *, prior: PriorLike | None = None) -> "LinkEncoder":
        """A fresh encoder (its first chunk message is record 0) for the stream whose header
        message is ``header``, so that messages coded now decode with a new
        ``LinkDecoder(header)`` however the options that made the header were given, or would be
        made by a later version. Not for a producer resuming a stream mid-way: a decoder still in
        the stream refuses its first messages and then takes the later ones as the earlier
        session's (same header, same places); a restarted producer starts a new stream.

        The options (codec pipeline, axes, chunking, element type, metadata, embedded prior) are
        read from the header; a prior the header names but does not embed is ``prior``, else one
        found by digest (shipped priors, ``$SPIKECODEC_PRIOR_PATH``). Raises FormatError for bytes
        that are not a header message, and ValueError for a header this version's encoder does
        not write byte for byte (classic records, a known length, another writer's): its
        messages would not be the stream's."""
        data = message_bytes(header, "header")
        h, _ = parse_header_message(data)
        if h.extension_data(COMPACT_EXTENSION) is None:
            raise ValueError("the header is of a file of classic records; chunk messages are compact records")
        if h.shape[0] is not None:
            raise ValueError(f"the header is of a file of known length {h.shape[0]}; a link stream's length is unknown")
        pipeline = bind_prior(h, h.pipeline(), as_priors(prior), layout.PREAMBLE_SIZE)
        stream_id = h.extension_data(STREAM_ID_EXTENSION)
        encoder = cls(h.frame_shape, codec=h.pipeline(), prior=getattr(pipeline.array_codec, "prior", None),
                      embed_prior=h.extension_data(PRIOR_EXTENSION) is not None, axes=h.axes,
                      chunk=h.chunk_shape, metadata=h.metadata, bits=h.bits,
                      stream_id=stream_id if len(stream_id or b"") == STREAM_ID_SIZE else False,
                      records="compact" if h.extension_data(KEYED_EXTENSION) is not None else "compact-unkeyed",
                      message_ends=h.extension_data(MESSAGE_ENDS_EXTENSION) is not None)
        if encoder.header != data:
            raise ValueError("this version of spikecodec does not write that header byte for byte (another "
                             "version's or writer's): messages coded for it would not decode with it")
        return encoder


class LinkDecoder:
    """Messages in, frames out. ``header``: the header message of the stream.

    ``priors``: the prior the stream names when it does not embed it (shipped priors are found
    without it); ``limits`` (or ``max_bytes``) cap what one message may cost."""

    def __init__(self, header: bytes, *, priors: Iterable[PriorLike] | PriorLike | None = None,
                 max_bytes: int | None = None, limits: ReadLimits | None = None):
        data = message_bytes(header, "header")
        limits = as_limits(max_bytes, limits)
        self.header, crc = parse_header_message(data)
        self._pipeline = bind_prior(self.header, self.header.pipeline(), as_priors(priors, limits.max_bytes), layout.PREAMBLE_SIZE,
                                    limits.max_bytes)
        if self.header.extension_data(COMPACT_EXTENSION) is None:
            # A classic record's CRC covers neither its stream nor its place: another stream's
            # message, two joined or one cut at a record boundary would be taken (FORMAT.md 11).
            raise ValueError("the header is of a stream of classic records, whose records do not check their stream "
                             "or place: a LinkDecoder takes compact records (LinkEncoder's); read a classic stream "
                             "whole with spikecodec.open or SpikeStream")
        self._records = record_layout(self.header, crc)
        self._tiling = Tiling(self.header)
        self._pos = len(data)  # where the next message starts in the stream
        self.limits = limits
        self._lock = threading.Lock()  # one message at a time: two threads took the same message as record n
        self._ended = False
        self.records_read = 0  # the next record in order: every record before it was decoded or skipped
        self.rows_read = 0  # rows decoded
        self._gaps: list[list[int]] = []  # [first, end) ordinals skipped and not received since, oldest first
        self._forgotten = 0  # skipped records whose gaps were dropped past MAX_GAPS
        self._numbered = False  # a message was given its record number: records may be skipped (lost)
        self._forgotten_below = 0  # the end of the last run of skipped records forgotten past MAX_GAPS

    def __reduce__(self) -> Any:
        raise TypeError("a LinkDecoder is a live stream's place and does not pickle or copy: "
                        "make one in each receiving process from the header message")

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """The shape of one message's frames after its first axis."""
        return self.header.frame_shape

    @property
    def axes(self) -> tuple[str, ...]:
        """Axis names, as the stream header gives them."""
        return self.header.axes

    @property
    def metadata(self) -> dict[str, Any]:
        """The stream header's JSON metadata."""
        return self.header.metadata

    @property
    def records_skipped(self) -> int:
        """Records passed over by ``decode(..., record=)`` and not received since: lost, still
        on their way, or before the record a decoder joined at. Runs of them past the last
        :data:`MAX_GAPS` stay counted."""
        return self._forgotten + sum(b - a for a, b in self._gaps)

    def decode(self, message: bytes, *, record: int | None = None) -> np.ndarray:
        """The frames of one chunk message, (rows, *frame_shape), its records checked in order.

        ``record``: the stream's number (ordinal, from 0) of the message's first record, for a
        transport that numbers its messages (:meth:`LinkEncoder.numbered` gives a message with its
        number; with one frame a message it counts the messages from 0). Left out, the message
        must be the next in order. Given, the message is checked as that record (FORMAT.md 11):
        the records between the last decoded and it are skipped (lost messages: the decoder goes
        on after them, or joins a stream mid-way), and a skipped record arriving late is still
        decoded, once, even after the end message - as long as it lies in one of the last
        :data:`MAX_GAPS` runs of skipped records. A record decoded already, one the decoder no
        longer remembers as skipped, and one that does not start a row of chunks are refused
        (ValueError: the receiver's state, not a problem of the message). An empty message holds
        no record and changes nothing."""
        message = message_bytes(message, "message")
        if record is not None:
            record = self._record_number(record)
        with self._lock:
            if self._ended and (record is None or record >= self.records_read):
                # not "record 0 ... expected record n (out of order)", which blames the message
                raise ValueError("the stream has ended (its end message was checked): no message follows it")
            if not message:
                return np.zeros((0, *self.header.frame_shape), np.uint8)
            numbered = record is not None
            if record is None:
                record = self.records_read
            gap = None
            if record < self.records_read:
                gap = next((g for g in self._gaps if g[0] <= record < g[1]), None)
                if gap is None:
                    forgotten = " or skipped before the runs of skipped records it remembers" if record < self._forgotten_below else ""
                    raise ValueError(f"record {record} was decoded already{forgotten} (the decoder is at record "
                                     f"{self.records_read}): a repeated message is not decoded twice")
            frames, end, tiling = self._decode(message, record)
            if gap is not None and end > gap[1]:
                raise ValueError(f"the message holds records {record} to {end - 1}, but records from {gap[1]} on were decoded "
                                 f"already: a repeated message is not decoded twice")
            # The message is taken: the decoder's place moves (a late message's rows and bytes
            # count, so that once every skipped record has arrived the end is checked in full).
            # Only now is it numbered: a refused message leaves the decoder as it was.
            self._numbered = self._numbered or numbered
            self._pos += len(message)
            self.rows_read += frames.shape[0]
            if gap is not None:
                self._tiling.row_start += frames.shape[0]
                self._gaps.remove(gap)
                self._gaps.extend(g for g in ([gap[0], record], [end, gap[1]]) if g[0] < g[1])
                self._gaps.sort()
                self._forget_past_max_gaps()
                return frames
            if record > self.records_read:
                self._add_gap(self.records_read, record)
            self._tiling, self.records_read = tiling, end
            return frames

    def _record_number(self, record: Any) -> int:
        if isinstance(record, (bool, np.bool_)) or not isinstance(record, (int, np.integer)):
            raise TypeError(f"record must be an int (the ordinal of the message's first record), got {type(record).__name__}")
        record = int(record)
        if not 0 <= record < 1 << 63:  # so that every record of a message has a u64 ordinal (FORMAT.md 5.2)
            raise ValueError(f"record must be an ordinal from 0 to 2**63 - 1, got {record}")
        per_row = len(self._tiling.inner)
        if per_row > 1 and record % per_row:
            raise ValueError(f"record {record} does not start a row of chunks: a message holds whole rows, "
                             f"{per_row} records each, so its first record is a multiple of {per_row}")
        return record

    def _add_gap(self, first: int, end: int) -> None:
        self._gaps.append([first, end])
        self._forget_past_max_gaps()

    def _forget_past_max_gaps(self) -> None:
        """Bounded memory and time a message: past MAX_GAPS runs (a late message splits one in
        two, too), the oldest can no longer be filled."""
        while len(self._gaps) > MAX_GAPS:
            a, b = self._gaps.pop(0)
            self._forgotten += b - a
            self._forgotten_below = max(self._forgotten_below, b)

    def _decode(self, message: bytes, record: int) -> tuple[np.ndarray, int, Tiling]:
        """Check and decode ``message`` as starting at ``record``; returns its frames, the
        record after its last and the tiling after it. Changes nothing of the decoder's: a
        refused message leaves it where it was, so the intact message sent again decodes, in
        its place, instead of being refused or put in another's."""
        h = self.header
        cursor = BytesCursor(message, self._pos)
        tiling = copy.copy(self._tiling)
        records_read = record
        assembler = RowAssembler(tiling, self.limits)
        budget = Budget(self.limits)  # the rows of one message together, not only each row, within max_bytes
        rows: list[np.ndarray] = []
        end = self._pos + len(message)
        ends = False  # whether the last record read ends a message (message-ends)
        while cursor.pos < end:
            at = cursor.pos
            try:
                record = read_record(self._records, cursor, records_read, tiling.place)
            except FormatError as exc:
                raise self._explain(exc, message, at, records_read) from None
            ends = record.head.ends_message
            if ends and cursor.pos < end:
                raise FormatError(f"record {records_read} ends a message, and {end - cursor.pos} more bytes follow it in this "
                                  "one: two messages sent as one", cursor.pos, code="message-joined")
            spec = tiling.last_spec
            if assembler.row is None:  # a row starts: it is allocated now
                budget.spend(spec.shape[0] * math.prod(h.frame_shape), f"the row at row {tiling.last_row_start}", at)  # type: ignore[union-attr]
            values = decode_record(self._pipeline, record, spec, records_read, self.limits)  # type: ignore[arg-type]
            records_read += 1
            row = assembler.add(values, spec, at)  # type: ignore[arg-type]
            if row is not None:
                rows.append(row)
        if self._records.message_ends and cursor.pos > self._pos and not ends:
            raise FormatError(f"the message ends after record {records_read - 1}, which does not end a message: "
                              "the message was cut short", cursor.pos, code="message-truncated")
        if assembler.row is not None:
            raise FormatError("message ends inside a row of chunks", cursor.pos, code="row-incomplete")
        frames = (np.zeros((0, *h.frame_shape), np.uint8) if not rows  # an empty message (no frames were encoded)
                  else np.concatenate(rows) if len(rows) != 1 else rows[0])
        return frames, records_read, tiling

    def _explain(self, exc: FormatError, message: bytes, at: int, want: int) -> FormatError:
        """Record ``want`` fails its check: say whether it is another place's record of this
        stream (out of order), else that it is damaged or foreign."""
        if at == self._pos and message.startswith(layout.SIGNATURE):  # what the record fields made of it says nothing
            return FormatError(f"the message is a stream header, not a chunk message ({exc.message}): "
                               "a header goes to LinkDecoder(header) once, before the stream's messages",
                               at, code=exc.code, section=exc.section)
        if "check mismatch" not in exc.message or not isinstance(self._records, CompactRecords):
            return exc
        for ordinal in range(max(0, want - 64), want + 65):
            if ordinal == want:
                continue
            try:
                # the failing record, where it lies in the message (not the message's first)
                read_record(self._records, BytesCursor(memoryview(message)[at - self._pos :], at), ordinal,
                            lambda head, at: self._any_spec(head))
            except FormatError:
                continue
            # A check of 16 bits passes for a wrong place 1 time in 65536, and 128 places are
            # tried: likely, not certain.
            return FormatError(f"message checks as record {ordinal} of this stream, expected record {want} (out of order?; "
                               f"else damaged or from another stream)", at, code="compact-check")
        return FormatError(f"record {want} fails its check: damaged, truncated, or from another stream "
                           f"(another model, prior or session)", at, code="compact-check")

    def _any_spec(self, head: RecordHead) -> ChunkSpec:
        return chunk_spec(self.header, head.height, self._tiling.inner[0])

    def end(self, message: bytes) -> None:
        """Check the end message: the stream is complete and nothing was lost.

        A decoder given record numbers (``decode(..., record=)``) takes the records after the
        last it received as skipped too, and while any record is skipped it checks less (their
        rows and bytes are unknown): that the end message's count of records is at least the
        records decoded or skipped, not its rows, and that the index lies at least as far into
        the stream as the bytes received. ``records_skipped`` then says how many never arrived;
        an end message of another stream of the same options with more records would pass."""
        message = message_bytes(message, "end message")
        with self._lock:
            if self._ended:  # the receiver's state, not a problem of the message (FORMAT.md 11)
                raise ValueError("the stream has ended (its end message was checked): no message follows it")
            self._end(message)
            self._ended = True

    def _end(self, message: bytes) -> None:
        cursor = BytesCursor(message, self._pos)
        count, rows, size = read_compact_index(cursor, self._pos)
        # Numbered messages (decode(..., record=)): the last ones may be lost too.
        tail = count - self.records_read if self._numbered and count > self.records_read else 0
        skipped = self.records_skipped > 0 or tail > 0
        if skipped and count < self.records_read:
            raise FormatError(f"the stream ended after {count} records; {self.records_read} were decoded or skipped",
                              self._pos, code="index-count")
        if not skipped and (count, rows) != (self.records_read, self.rows_read):
            raise FormatError(f"the stream ended after {count} records in {rows} rows; "
                              f"{self.records_read} in {self.rows_read} were decoded", self._pos, code="index-count")
        if not skipped:
            self._tiling.check_rows_total(self._pos)
        if len(message) != size + layout.TRAILER_SIZE:
            raise FormatError(f"end message is {len(message)} bytes, expected {size + layout.TRAILER_SIZE}", self._pos, code="message-size")
        index_offset, index_size = parse_trailer(bytes(message[size:]), self._pos + size)
        # With messages lost, the index lies further into the stream than the bytes received.
        if index_size != size or index_offset < self._pos or (not skipped and index_offset != self._pos):
            raise FormatError("the trailer does not point to the index before it", self._pos + size, code="trailer-index")
        if tail:
            self._add_gap(self.records_read, count)
            self.records_read = count


def message_bytes(data: Any, what: str) -> bytes:
    """A message as the bytes it holds: bytes, a bytearray, a memoryview or a uint8 array. Anything
    else is a TypeError: ``bytes(n)`` of an int is n zero bytes (``LinkDecoder(10**10)`` asked for
    10 GB), of a path its name, and a str has no bytes without an encoding."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)) or (isinstance(data, np.ndarray) and data.dtype == np.uint8):
        return bytes(memoryview(data))
    if isinstance(data, (str, os.PathLike)):
        raise TypeError(f"the {what} must be the bytes received, not a {type(data).__name__} (read a file's bytes first)")
    raise TypeError(f"the {what} must be bytes, a bytearray, a memoryview or a uint8 array, got {type(data).__name__}")


def parse_header_message(data: bytes) -> tuple[Header, bytes]:
    """The header of a header message (preamble, body and CRC, nothing more) and its CRC bytes;
    FormatError when the bytes are not exactly that."""
    pre = data[: layout.PREAMBLE_SIZE]
    end = layout.PREAMBLE_SIZE + parse_preamble(pre)[1]
    if len(data) != end + layout.CRC_SIZE:
        raise FormatError(f"header message is {len(data)} bytes, its header {end + layout.CRC_SIZE}", min(len(data), end + layout.CRC_SIZE), code="message-size")
    crc = data[end:]
    return parse_header(pre, data[layout.PREAMBLE_SIZE : end], crc), crc
