"""The container of FORMAT.md sections 2 - 7 and the reading order and recovery of section 10."""
import hashlib
import re

import numpy as np

from .codecs import check_pipeline, decode_chunk
from .common import Problem, crc16_xmodem, crc32, packed_size, parse_json, read_varint, u
from .priors import check_prior, load_prior

SIGNATURE = bytes([0x8A, 0x53, 0x50, 0x4B, 0x0D, 0x0A, 0x1A, 0x0A])
UNKNOWN = (1 << 64) - 1
AXIS = re.compile(r"[A-Za-z0-9_]{1,16}")


def _prod(values):
    out = 1
    for v in values:
        out *= v
    return out


class Header:
    """A parsed, checked header (sections 3 and 10 steps 1 - 3)."""

    def grid(self):
        """Chunk counts along axes 1..k-1 and G (4.1)."""
        counts = [-(-self.shape[i] // self.chunk_shape[i]) for i in range(1, self.k)]
        return counts, _prod(counts)

    def chunk_place(self, j):
        """Origin and extent on axes 1..k-1 of the j-th chunk of a row (C order, 4.2)."""
        origin, extent = [], []
        for i in range(self.k - 1, 0, -1):
            count = -(-self.shape[i] // self.chunk_shape[i])
            j, idx = divmod(j, count)
            o = idx * self.chunk_shape[i]
            origin.append(o)
            extent.append(min(self.chunk_shape[i], self.shape[i] - o))
        return origin[::-1], extent[::-1]

    def chunk_shape_of(self, height, j):
        return [height] + self.chunk_place(j)[1] + self.shape[self.k:]


def header_codecs(data):
    """The codec ids the header names, in pipeline order; [] when the file fails before the body's
    values are read (steps 1, 2 and the structure of step 3: the header cannot be parsed)."""
    try:
        fields = _structure(data)
    except Problem:
        return []
    return [cid.decode("ascii") for cid, _ in fields["codecs_raw"]]


def _structure(data):
    """Steps 1, 2, 3.1 and 3.2 of section 10: the header body's fields as they lie."""
    size = len(data)
    if size < 16:
        raise Problem("preamble-truncated", 0, "too short for the preamble")
    if data[:8] != SIGNATURE:
        raise Problem("preamble-magic", 0, "bad signature")
    if data[8] != 1:
        raise Problem("major-version", 8, f"unsupported major version {data[8]}")
    if u(data, 10, 2) != 0:
        raise Problem("preamble-reserved", 10, "reserved preamble field is not zero")
    H = u(data, 12, 4)
    if not 1 <= H <= 1 << 20:
        raise Problem("header-size", 12, f"header size {H}")
    if size < 16 + H + 4:  # at 16, whether the file ends inside the body or inside its CRC
        raise Problem("header-truncated", 16, "the file ends inside the header")
    if crc32(data[:16 + H]) != u(data, 16 + H, 4):
        raise Problem("header-crc", 16 + H, "header CRC mismatch")
    body = bytes(data[16:16 + H])

    def bad(code, message):
        return Problem(code, 16, message)

    if H < 4:
        raise bad("header-malformed", "malformed header body (shorter than its fixed fields)")
    r, bits, k = body[0], body[1], body[2]
    if not 1 <= r <= 8:
        raise bad("rank-range", f"rank {r} is outside 1..8")
    if not 1 <= k <= r:
        raise bad("chunk-rank-range", f"chunk rank {k} is outside 1..{r}")
    if body[3] != 0:
        raise bad("header-reserved", "reserved header field is not zero")
    pos = [4]

    def take(n):
        if pos[0] + n > H:
            raise bad("header-malformed", "malformed header body (a field runs past its end)")
        out = body[pos[0]:pos[0] + n]
        pos[0] += n
        return out

    def text(n):  # a str8's bytes: ASCII, or the body does not parse (3.2)
        raw = take(n)
        if any(b > 127 for b in raw):
            raise bad("header-malformed", "malformed header body (a name that is not ASCII)")
        return raw

    shape = [int.from_bytes(take(8), "little") for _ in range(r)]
    chunk_shape = [int.from_bytes(take(8), "little") for _ in range(k)]
    axes_raw = [text(take(1)[0]) for _ in range(r)]
    n_codecs = take(1)[0]
    codecs_raw = []
    for _ in range(n_codecs):
        cid = text(take(1)[0])
        codecs_raw.append((cid, take(int.from_bytes(take(4), "little"))))
    metadata_raw = take(int.from_bytes(take(4), "little"))
    n_ext = int.from_bytes(take(2), "little")
    exts = []
    for _ in range(n_ext):
        flags = take(1)[0]
        name = text(take(1)[0])
        exts.append((flags, name, take(int.from_bytes(take(4), "little"))))
    if pos[0] != H:
        raise bad("header-malformed", "malformed header body (trailing bytes)")
    return dict(H=H, body=body, r=r, bits=bits, k=k, shape=shape, chunk_shape=chunk_shape, axes_raw=axes_raw,
                n_codecs=n_codecs, codecs_raw=codecs_raw, metadata_raw=metadata_raw, n_ext=n_ext, exts=exts)


def parse_header(data, priors):
    """Steps 1 - 3 of section 10. `priors`: {digest: Prior} the user supplies."""
    f = _structure(data)
    H, r, bits, k = f["H"], f["r"], f["bits"], f["k"]
    shape, chunk_shape, axes_raw, n_codecs = f["shape"], f["chunk_shape"], f["axes_raw"], f["n_codecs"]
    codecs_raw, metadata_raw, n_ext, exts = f["codecs_raw"], f["metadata_raw"], f["n_ext"], f["exts"]
    hdr = Header()
    hdr.H, hdr.D, hdr.header_crc = H, 16 + H + 4, bytes(data[16 + H:16 + H + 4])

    def bad(code, message):
        return Problem(code, 16, message)

    if not 1 <= n_codecs <= 8:
        raise bad("codec-count", f"{n_codecs} codecs, not 1..8")
    configs = []
    for _, raw in codecs_raw:
        cfg = parse_json(raw, 16, "codec configuration")
        if "id" in cfg:
            raise bad("codec-config-id", "a codec configuration holds the key id")
        configs.append(cfg)
    hdr.metadata = parse_json(metadata_raw, 16, "metadata")
    if n_ext > 64:
        raise bad("extension-count", f"{n_ext} extensions, more than 64")
    for flags, _, _ in exts:
        if flags & 0xFE:
            raise bad("extension-flags", "an extension has undefined flag bits set")
    if bits not in (1, 2, 4, 8):
        raise bad("element-bits", f"element bits {bits} is not 1, 2, 4 or 8")
    for i, e in enumerate(shape):
        if e > (1 << 62) - 1 and not (i == 0 and e == UNKNOWN):
            raise bad("shape-extent", f"extent {e} of axis {i}")
    if _prod(e for i, e in enumerate(shape) if not (i == 0 and e == UNKNOWN)) > 1 << 62:
        raise bad("shape-too-large", "the array holds more than 2^62 elements")
    for i, c in enumerate(chunk_shape):  # axis by axis: at least 1, then (i >= 1) not larger
        if c < 1:
            raise bad("chunk-shape-zero", f"chunk_shape[{i}] is 0")
        if i > 0 and c > max(shape[i], 1):
            raise bad("chunk-shape-larger", f"chunk_shape[{i}] = {c} is larger than the axis")
    if shape[0] != UNKNOWN and chunk_shape[0] > max(shape[0], 1):  # axis 0 after the others
        raise bad("chunk-shape-larger", f"chunk_shape[0] = {chunk_shape[0]} is larger than the axis")
    if _prod(chunk_shape) * _prod(shape[k:]) > 1 << 31:
        raise bad("chunk-too-large", "one chunk holds more than 2^31 elements")
    axes = []
    for raw in axes_raw:
        name = raw.decode("latin-1")
        if not AXIS.fullmatch(name):
            raise bad("axis-name", f"axis name {name!r}")
        axes.append(name)
    if len(set(axes)) != r:
        raise bad("axis-duplicate", f"axis names {axes} are not unique")
    ids = []
    for raw, _ in codecs_raw:
        if not 1 <= len(raw) <= 32 or any(b > 127 for b in raw):
            raise bad("codec-id", f"codec id {raw!r}")
        ids.append(raw.decode("ascii"))
    codecs = list(zip(ids, configs))
    check_pipeline(codecs)
    known = ("compact-records", "prior", "keyed-checks", "message-ends")
    names = [raw.decode("ascii") for _, raw, _ in exts]
    for flags, raw, data_ in exts:  # extension by extension, each through every rule
        name = raw.decode("ascii")
        if not 1 <= len(raw) <= 64:
            raise bad("extension-name", f"extension name {raw!r}")
        if name not in known:
            if flags & 1:
                raise bad("extension-unknown-required", f"unknown required extension {name!r}")
            continue
        if not flags & 1:
            raise bad("extension-not-required", f"extension {name} lacks its required bit")
        if names.count(name) > 1:
            raise bad("extension-repeated", f"extension {name} appears more than once")
        if name in ("compact-records", "keyed-checks", "message-ends") and data_:
            raise bad("extension-data", f"the {name} extension carries no data")
    if "keyed-checks" in names and "compact-records" not in names:
        raise bad("keyed-checks-classic", "keyed-checks without compact-records")
    if "message-ends" in names and "compact-records" not in names:
        raise bad("message-ends-classic", "message-ends without compact-records")
    ext = {name: data_ for (_, _, data_), name in zip(exts, names) if name in known}
    array_id, array_cfg = codecs[0]
    if "prior" in ext and "prior" not in array_cfg:
        raise bad("prior-extension-unneeded", f"the header holds a prior, but codec {array_id} names none")
    hdr.prior = None
    if "prior" in array_cfg:
        digest = array_cfg["prior"]
        if "prior" in ext:
            if hashlib.sha256(ext["prior"]).hexdigest() != digest:
                raise bad("prior-embedded-digest", f"the embedded prior is not prior {digest}")
            hdr.prior = load_prior(ext["prior"], where=16)
        elif digest in priors:
            hdr.prior = priors[digest]
        else:
            raise bad("prior-missing", f"codec {array_id} names prior {digest}, which was not given")
        check_prior(hdr.prior, array_id, 16)  # codec, layout for its own geometry, values
    hdr.rank, hdr.bits, hdr.k = r, bits, k
    hdr.shape, hdr.chunk_shape, hdr.axes, hdr.codecs = shape, chunk_shape, axes, codecs
    hdr.compact = "compact-records" in ext
    hdr.keyed = "keyed-checks" in ext
    hdr.message_ends = "message-ends" in ext
    return hdr


class Record:
    def __init__(self, offset, row_start, height, j, payload_at, P, spike_count=None):
        self.offset, self.row_start, self.height, self.j = offset, row_start, height, j
        self.payload_at, self.P, self.spike_count = payload_at, P, spike_count


class Rows:
    """Section 4.2 bookkeeping: which chunk comes next; `place` checks a record's row height."""

    def __init__(self, hdr):
        self.hdr = hdr
        self.counts, self.G = hdr.grid()
        self.total = 0     # sum of the heights of the rows begun so far
        self.j = 0         # the next chunk's position in its row
        self.start = 0
        self.height = None
        self.rows = []     # (start, height) of rows begun

    def place(self, row_start, height, offset, start_code="chunk-order"):
        """Take the next chunk, stated at row `row_start` (None: implied) with `height`."""
        hdr = self.hdr
        if self.G == 0:
            raise Problem("empty-array-chunks", offset, "an array with an empty axis holds no chunks")
        if self.j == 0:
            if row_start is not None and row_start != self.total:
                raise Problem(start_code, offset, f"chunk at row {row_start} is out of order (expected {self.total})")
            if not 1 <= height <= hdr.chunk_shape[0]:
                raise Problem("row-height", offset, f"chunk height {height} is outside 1..{hdr.chunk_shape[0]}")
            end = hdr.shape[0] if hdr.shape[0] != UNKNOWN else 2**62 - 1  # 4.1: the extent limit, for an unknown length
            if self.total + height > end:
                raise Problem("row-past-shape", offset, f"row {self.total}..{self.total + height} passes past "
                              f"shape[0] = {end}")
            self.start, self.height = self.total, height
            self.total += height
            self.rows.append((self.start, height))
        else:
            if row_start is not None and row_start != self.start:
                raise Problem(start_code, offset, f"chunk at row {row_start} is out of order (expected {self.start})")
            if height != self.height:
                raise Problem("row-height-differs", offset, f"chunk height {height}, its row's is {self.height}")
        j = self.j
        self.j = (self.j + 1) % self.G
        return self.start, j

    def finish(self, offset):
        if self.j != 0:
            raise Problem("row-incomplete", offset, "the chunks end inside a row")
        shape0 = self.hdr.shape[0]
        if self.G >= 1 and shape0 != UNKNOWN and self.total != shape0:
            raise Problem("rows-total", offset, f"chunks cover {self.total} of the {shape0} rows")


def _bound(hdr, height, j):
    return 2 * packed_size(_prod(hdr.chunk_shape_of(height, j)), hdr.bits) + 65536


def compact_record(data, pos, hdr, rows, ordinal, end_code="records-end-early"):
    """Read and check one compact record at `pos` (5.2) without decoding; returns a Record, or
    None at a size field of value 0 when `end_code` is None."""
    v, p = read_varint(data, pos, pos)
    if v == 0:
        if end_code is None:
            return None
        raise Problem(end_code, pos, "end of records where a record is expected")
    P, f, e = (v - 1) >> 1, (v - 1) & 1, 0
    if hdr.message_ends:  # 1.9: v = 4 P + 2 e + f + 1
        P, e = (v - 1) >> 2, ((v - 1) >> 1) & 1
    height = hdr.chunk_shape[0]
    if f:
        height, p = read_varint(data, p, pos)
        if not 1 <= height < hdr.chunk_shape[0]:
            raise Problem("compact-height", pos, f"row height {height} is outside 1..{hdr.chunk_shape[0] - 1}")
    start, j = rows.place(None, height, pos)
    if P > _bound(hdr, height, j):
        raise Problem("payload-size", pos, f"payload of {P} bytes is more than the bound")
    check = 2 if P < 256 else 4
    if p + P + check > len(data):
        raise Problem("record-truncated", pos, "the file ends inside the record")
    place = hdr.header_crc + ordinal.to_bytes(8, "little")
    if hdr.keyed:  # 1.7: the CRC of the record's bytes, XOR the first bytes of BLAKE2b of its place
        crc = crc16_xmodem(bytes(data[pos:p + P])) if P < 256 else crc32(bytes(data[pos:p + P]))
        want = crc ^ int.from_bytes(hashlib.blake2b(place, digest_size=check).digest(), "little")
    else:
        covered = place + bytes(data[pos:p + P])
        want = crc16_xmodem(covered) if P < 256 else crc32(covered)
    if u(data, p + P, check) != want:
        raise Problem("compact-check", pos, "compact record check mismatch")
    rec = Record(pos, start, height, j, p, P)
    rec.ends_message = bool(e)
    return rec, p + P + check


def classic_head(data, pos, hdr):
    k = hdr.k
    if pos + 16 + 16 * k > len(data):
        raise Problem("record-truncated", pos, "the file ends inside the record head")
    if data[pos:pos + 4] != b"SPKC":
        raise Problem("record-magic", pos, "expected chunk magic SPKC")
    P, sc = u(data, pos + 4, 4), u(data, pos + 8, 8)
    origin = [u(data, pos + 16 + 8 * i, 8) for i in range(k)]
    extent = [u(data, pos + 16 + 8 * k + 8 * i, 8) for i in range(k)]
    return P, sc, origin, extent


def classic_tail(data, pos, hdr, P, height, j):
    k = hdr.k
    if P > _bound(hdr, height, j):
        raise Problem("payload-size", pos, f"payload of {P} bytes is more than the bound")
    end = pos + 16 + 16 * k + P + 4
    if end > len(data):
        raise Problem("record-truncated", pos, "the file ends inside the record")
    if crc32(data[pos:end - 4]) != u(data, end - 4, 4):
        raise Problem("chunk-crc", pos, "chunk CRC mismatch")
    return end


def read_records(data, hdr):
    """Steps 4, 5 and 7's checks before decoding: the trailer, the index and every record."""
    size, D = len(data), hdr.D
    if size < D + 24 or data[size - 4:] != b"SPKT":
        raise Problem("trailer-magic", size - 24 if size >= D + 24 else size, "no trailer")
    T = size - 24
    if crc32(data[T:T + 16]) != u(data, T + 16, 4):
        raise Problem("trailer-crc", T + 16, "trailer CRC mismatch")
    io, isz = u(data, T, 8), u(data, T + 8, 8)
    smallest = 1 if hdr.compact else 16  # a compact index holds its end byte; a classic one 12 + 4 bytes
    if io < D or io + isz != T or isz < smallest:
        raise Problem("trailer-index", T, "the trailer does not point to an index ending at the trailer")
    rows = Rows(hdr)
    records = []
    k = hdr.k
    if not hdr.compact:
        if isz < 4 or data[io:io + 4] != b"SPKI":
            raise Problem("index-magic", io, "expected index magic SPKI")
        m = u(data, io + 4, 8) if isz >= 12 else None
        if m is None or 12 + 40 * m + 4 != isz:
            raise Problem("index-size", io, "the index size does not match its count")
        crc_at = io + 12 + 40 * m
        if crc32(data[io:crc_at]) != u(data, crc_at, 4):
            raise Problem("index-crc", crc_at, "index CRC mismatch")
        expected = D
        entries = []
        for i in range(m):
            e = io + 12 + 40 * i
            off, sz, rs, rl, sc = (u(data, e + 8 * f, 8) for f in range(5))
            if rows.G == 0:
                raise Problem("empty-array-chunks", io, "an array with an empty axis holds no chunks")
            if off < expected:
                raise Problem("index-overlap", io, f"index entry {i} overlaps the previous chunk")
            if off > expected:
                raise Problem("index-gap", io, f"index entry {i} leaves a gap after the previous chunk")
            if sz < 16 + 16 * k + 4:
                raise Problem("index-entry-size", io, f"index entry {i} is smaller than a record")
            expected = off + sz
            _, j = rows.place(rs, rl, io)
            entries.append((off, sz, rs, rl, sc, j))
        if expected != io:
            raise Problem("index-end", io, "the last chunk does not end where the index starts")
        rows.finish(io)
        # Step 7: each record is read - its head, place and CRC checked, then decoded - before the
        # next one is read, so the records' checks run when they are decoded (classic_record).
        return rows, [(off, sz, rs, rl, sc, j) for off, sz, rs, rl, sc, j in entries]
    if isz < 1 or data[io] != 0:
        raise Problem("index-end-marker", io, "the compact index does not start with 00")
    m, p = read_varint(data, io + 1, io)
    total, p = read_varint(data, p, io)
    if p + 4 > size or crc32(data[io:p]) != u(data, p, 4):
        raise Problem("index-crc", p, "index CRC mismatch")
    if p + 4 - io != isz:
        raise Problem("index-size", io, "the index size is not the trailer's")
    pos = D
    while pos < io:  # the walk ends at the index's start or at a size field of value 0 before it
        got = compact_record(data, pos, hdr, rows, len(records), end_code=None)
        if got is None:
            break
        rec, pos = got
        records.append(rec)
    if rows.j != 0:  # the walk ended inside a row: where it ended
        raise Problem("row-incomplete", pos, "the chunks end inside a row")
    if pos != io:  # reported where the walked records end
        raise Problem("index-end", pos, "the last record does not end where the index starts")
    if m != len(records) or total != sum(h for _, h in rows.rows):
        raise Problem("index-count", io, f"the index counts {m} records and {total} rows, the file holds "
                      f"{len(records)} and {sum(h for _, h in rows.rows)}")
    rows.finish(io)
    return rows, records


def classic_record(data, hdr, entry):
    """Step 7's checks of the classic record an index entry locates; its Record."""
    off, sz, rs, rl, sc, j = entry
    P, rsc, origin, extent = classic_head(data, off, hdr)
    o, x = hdr.chunk_place(j)
    if origin != [rs] + o or extent != [rl] + x:
        raise Problem("index-record-mismatch", off, f"chunk origin {origin} extent {extent} is not "
                      "where the index puts it")
    if rsc != sc or 16 + 16 * hdr.k + P + 4 != sz:
        raise Problem("index-record-mismatch", off, "chunk spike count or size is not the index's")
    classic_tail(data, off, hdr, P, rl, j)
    return Record(off, rs, rl, j, off + 16 + 16 * hdr.k, P, sc)


def _decode(data, hdr, rec):
    shape = hdr.chunk_shape_of(rec.height, rec.j)
    payload = data[rec.payload_at:rec.payload_at + rec.P]
    out = decode_chunk(hdr.codecs, payload, shape, hdr.axes, hdr.bits, hdr.prior, rec.offset)
    if rec.spike_count is not None and int(out.sum(dtype=np.uint64)) != rec.spike_count:
        raise Problem("spike-count", rec.offset, f"chunk holds {int(out.sum())} spikes, its header says "
                      f"{rec.spike_count}")
    return out


def _assemble(hdr, length, decoded):
    out = np.zeros([length] + hdr.shape[1:], dtype=np.uint8)
    for rec, arr in decoded:
        o, x = hdr.chunk_place(rec.j)
        index = [slice(rec.row_start, rec.row_start + rec.height)]
        index += [slice(a, a + b) for a, b in zip(o, x)]
        out[tuple(index)] = arr
    return out


def read(data, priors=None):
    """Read a whole file as section 10 says; returns the array or raises Problem."""
    data = memoryview(bytes(data))
    hdr = parse_header(data, priors or {})
    rows, records = read_records(data, hdr)
    decoded = []
    for rec in records:  # compact records were walked (checked) in step 5; classic ones are read now
        rec = rec if isinstance(rec, Record) else classic_record(data, hdr, rec)
        decoded.append((rec, _decode(data, hdr, rec)))
    if rows.G >= 1:
        length = rows.total
    else:
        length = 0 if hdr.shape[0] == UNKNOWN else hdr.shape[0]
    return _assemble(hdr, length, decoded)


def recover(data, priors=None):
    """Recovery of section 10: walk the records from D, keep complete rows, decode until a chunk
    fails. Returns the recovered array (its axis 0 possibly 0 long). Recovery is for a file that
    fails: one that reads without a problem recovers to what reading gives, so a complete file
    with G = 0 keeps its header's shape[0] rows (the walk finds no row to keep)."""
    try:
        return read(data, priors)
    except Problem:
        pass
    data = memoryview(bytes(data))
    hdr = parse_header(data, priors or {})
    rows = Rows(hdr)
    walked, pos, size, k = [], hdr.D, len(data), hdr.k
    try:
        while pos < size:
            if hdr.compact:
                got = compact_record(data, pos, hdr, rows, len(walked), end_code=None)
                if got is None:
                    break
                rec, pos = got
            else:
                if size - pos >= 4 and data[pos:pos + 4] == b"SPKI":
                    break
                P, sc, origin, extent = classic_head(data, pos, hdr)
                if rows.G and origin[1:] != hdr.chunk_place(rows.j)[0]:  # the origin first, on every axis
                    raise Problem("chunk-order", pos, "chunk is not where section 4.2 puts the next one")
                start, j = rows.place(origin[0], extent[0], pos)
                if extent[1:] != hdr.chunk_place(j)[1]:
                    raise Problem("chunk-extent", pos, "chunk's extent is not the grid's (section 4.1)")
                end = classic_tail(data, pos, hdr, P, extent[0], j)
                rec = Record(pos, start, extent[0], j, pos + 16 + 16 * k, P, sc)
                pos = end
            walked.append(rec)
    except Problem:
        pass
    G = rows.G
    kept = walked[:len(walked) // G * G] if G else []
    decoded = []
    for rec in kept:
        try:
            decoded.append((rec, _decode(data, hdr, rec)))
        except Problem:
            decoded = [(r, a) for r, a in decoded if r.row_start < rec.row_start]
            kept = [r for r, _ in decoded]
            break
    length = sum(rec.height for rec in kept if rec.j == 0)
    return _assemble(hdr, length, decoded)
