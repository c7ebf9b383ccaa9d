"""A message-by-message receiver (FORMAT.md 11): the header message, chunk messages of compact
records, and the end message, each checked on arrival against what came before; every problem
at its offset in the concatenated stream, as if the receiver read the file."""
import copy

import numpy as np

from .common import Problem, crc32, read_varint, u
from .container import UNKNOWN, Rows, _assemble, _decode, compact_record, parse_header


def _header(message, priors):
    """Steps 1 - 3 of section 10, the message's size checked after the preamble."""
    try:
        parse_header(message[:16], priors)
    except Problem as problem:
        if problem.code != "header-truncated":
            raise
    expected = 16 + u(message, 12, 4) + 4
    if len(message) != expected:
        raise Problem("message-size", min(len(message), expected), "the header message is not exactly the header")
    hdr = parse_header(message, priors)
    if not hdr.compact:
        raise ValueError("a message stream is of compact records (section 11)")
    return hdr


def _chunk_message(data, message, hdr, rows, ordinal):
    """The records of one chunk message appended at the stream's end; (their Records, the rows
    state after them, the stream with the message) or a Problem. The state given is not changed."""
    rows = copy.deepcopy(rows)
    start = len(data)
    stream = memoryview(bytes(data) + bytes(message))
    records, pos = [], start
    while pos < len(stream):
        rec, pos = compact_record(stream, pos, hdr, rows, ordinal + len(records))
        if hdr.message_ends and rec.ends_message and pos < len(stream):
            raise Problem("message-joined", pos, "a record that ends a message, and more of the message after it")
        records.append(rec)
    if hdr.message_ends and records and not records[-1].ends_message:
        raise Problem("message-truncated", len(stream), "the message's last record does not end a message")
    if rows.j != 0:
        raise Problem("row-incomplete", len(stream), "the message ends inside a row")
    return records, rows, stream


def _end_message(data, message, hdr, rows, ordinal, skipped=False, numbered=False):
    """The end message against the records (``ordinal``) and rows received. With records
    ``skipped`` - or, for ``numbered`` messages, when the end counts more records than came
    (the last ones were lost) - its count against them as a lower bound, neither its rows nor
    ``shape[0]``, and its trailer's index offset against the bytes received as a lower bound."""
    pos = len(data)
    stream = memoryview(bytes(data) + bytes(message))
    if len(message) < 1 or stream[pos] != 0:  # an empty message has no marker either
        raise Problem("index-end-marker", pos, "no compact index")
    m, p = read_varint(stream, pos + 1, pos)
    total, p = read_varint(stream, p, pos)
    if p + 4 > len(stream):
        raise Problem("index-truncated", pos, "the message ends inside the index")
    if crc32(stream[pos:p]) != u(stream, p, 4):
        raise Problem("index-crc", p, "index CRC mismatch")
    skipped = skipped or (numbered and m > ordinal)
    if skipped and m < ordinal:
        raise Problem("index-count", pos, f"the index counts {m} records; {ordinal} were received or skipped")
    if not skipped and (m != ordinal or total != rows.total):
        raise Problem("index-count", pos, f"the index counts {m} records in {total} rows; {ordinal} in "
                      f"{rows.total} were received")
    if not skipped and rows.G >= 1 and hdr.shape[0] != UNKNOWN and rows.total != hdr.shape[0]:
        raise Problem("rows-total", pos, f"{rows.total} of the {hdr.shape[0]} rows were received")
    T = p + 4
    if len(stream) != T + 24:
        raise Problem("message-size", pos, "the end message is not exactly the index and a trailer")
    if stream[T + 20:T + 24] != b"SPKT":
        raise Problem("trailer-magic", T, "no trailer")
    if crc32(stream[T:T + 16]) != u(stream, T + 16, 4):
        raise Problem("trailer-crc", T + 16, "trailer CRC mismatch")
    if u(stream, T, 8) < pos or (not skipped and u(stream, T, 8) != pos) or u(stream, T + 8, 8) != T - pos:
        raise Problem("trailer-index", T, "the trailer does not point to the index before it")


def receive(messages, end, priors=None):
    """Receive ``messages`` in order: the header message, chunk messages, and when ``end`` the
    last one as the end message. Returns (the rows decoded before the first problem, as one
    array; that Problem, or None)."""
    priors = priors or {}
    decoded, problem = [], None
    hdr = rows = None
    try:
        hdr = _header(bytes(messages[0]), priors)
        rows, data, ordinal = Rows(hdr), memoryview(bytes(messages[0])), 0
        chunk_messages = messages[1:-1] if end else messages[1:]
        for message in chunk_messages:
            records, after, stream = _chunk_message(data, message, hdr, rows, ordinal)
            arrays = [(rec, _decode(stream, hdr, rec)) for rec in records]
            decoded += arrays  # a refused message (any problem above) adds nothing
            rows, data, ordinal = after, stream, ordinal + len(records)
        if end:
            _end_message(data, messages[-1], hdr, rows, ordinal)
    except Problem as exc:
        problem = exc
    if hdr is None:
        return None, problem
    return _assemble(hdr, rows.total, decoded), problem


def receive_numbered(messages, end, records, priors=None):
    """Receive ``messages`` whose transport numbers them (section 11): chunk message i as
    starting at record ``records[i]``. A record taken before, a number that does not start a row,
    or an empty message is not taken (the receiver's state, no problem). Returns (the rows of the
    records taken, in record order, as one array; the first Problem, or None)."""
    priors = priors or {}
    taken, problem, hdr = {}, None, None  # first record -> rows of its message
    try:
        hdr = _header(bytes(messages[0]), priors)
        data, after_last = memoryview(bytes(messages[0])), 0
        missing = []  # runs [first, end) of records skipped and not received since
        G = Rows(hdr).G
        chunk_messages = messages[1:-1] if end else messages[1:]
        for message, k in zip(chunk_messages, records):
            run = next((r for r in missing if r[0] <= k < r[1]), None)
            if not message or (G and k % G) or (k < after_last and run is None):
                continue
            got, rows, stream = _chunk_message(data, message, hdr, Rows(hdr), k)  # a message starts a row
            if run is not None and k + len(got) > run[1]:  # it holds records taken before
                continue
            taken[k] = _assemble(hdr, rows.total, [(rec, _decode(stream, hdr, rec)) for rec in got])
            data = stream
            if run is not None:
                missing.remove(run)
                missing += [r for r in ([run[0], k], [k + len(got), run[1]]) if r[0] < r[1]]
            else:
                if k > after_last:
                    missing.append([after_last, k])
                after_last = k + len(got)
        if end:
            state = Rows(hdr)
            state.total = sum(len(rows) for rows in taken.values())
            _end_message(data, messages[-1], hdr, state, after_last, bool(missing), numbered=True)
    except Problem as exc:
        problem = exc
    if hdr is None:
        return None, problem
    if not taken:
        return _assemble(hdr, 0, []), problem
    return np.concatenate([taken[k] for k in sorted(taken)]), problem
