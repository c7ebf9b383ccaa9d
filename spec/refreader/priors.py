"""Prior files (FORMAT.md section 14): loading a file and binding its tables to a codec."""
import hashlib

import numpy as np
import zstandard

from .common import Problem, crc32, parse_json, u

SIGNATURE = bytes([0x8A, 0x53, 0x50, 0x50, 0x0D, 0x0A, 0x1A, 0x0A])


class Prior:
    def __init__(self, codec, geometry, tables, data, digest):
        self.codec = codec
        self.geometry = geometry
        self.tables = tables  # [(name, type, count)]
        self.data = data      # bytes of the tables, 4 bytes an entry, little-endian
        self.digest = digest
        self._bound = {}


def load_prior(blob, where=None):
    """Parse a prior file. Problems carry offsets inside the file, or `where` when given (an
    embedded prior's problems are the header's)."""
    blob = bytes(blob)

    def fail(code, offset, message):
        raise Problem(code, offset if where is None else where, message)

    # The checks in the order of FORMAT.md 14: the fixed fields (16 + 8 + 4 bytes) first, the
    # minor version not at all, the CRC before the description, the description (all but the
    # distinct table names) before the table data's size, the table data, the names last.
    size = len(blob)
    if size < 28:
        fail("prior-file-truncated", 0, "prior file shorter than its fixed fields")
    if blob[:8] != SIGNATURE:
        fail("prior-file-magic", 0, "bad prior signature")
    if blob[8] != 1:
        fail("prior-file-major", 8, f"prior major version {blob[8]}")
    if u(blob, 10, 2) != 0:
        fail("prior-file-reserved", 10, "prior reserved field is not zero")
    J = u(blob, 12, 4)
    if not 1 <= J <= 1 << 20 or 16 + J + 8 + 4 > size:
        fail("prior-file-description-size", 12, f"description size {J}")
    if crc32(blob[:size - 4]) != u(blob, size - 4, 4):
        fail("prior-file-crc", size - 4, "prior CRC mismatch")
    try:
        desc = parse_json(blob[16:16 + J], 16, "prior description")
    except Problem as problem:
        fail("prior-file-description", 16, problem.message)
    if set(desc) != {"codec", "geometry", "tables", "info"}:
        fail("prior-file-description", 16, f"description keys {sorted(desc)}")
    codec, geometry, tables, info = desc["codec"], desc["geometry"], desc["tables"], desc["info"]
    if not isinstance(codec, str) or not isinstance(geometry, dict) or not isinstance(info, dict):
        fail("prior-file-description", 16, "codec, geometry or info of the wrong type")
    for key, value in geometry.items():
        if type(value) is not int or not 0 <= value < 1 << 62:
            fail("prior-file-description", 16, f"geometry {key} is not an integer 0 .. 2^62 - 1")
    if not isinstance(tables, list) or not tables:
        fail("prior-file-description", 16, "tables is not a non-empty list")
    layout = []
    need = 0
    for table in tables:
        if not isinstance(table, dict) or set(table) != {"name", "type", "count"}:
            fail("prior-file-description", 16, "a table entry without exactly name, type, count")
        name, kind, count = table["name"], table["type"], table["count"]
        if not isinstance(name, str) or kind not in ("u32", "i32") or type(count) is not int \
                or not 0 <= count < 1 << 62:
            fail("prior-file-description", 16, f"bad table entry {table}")
        layout.append((name, kind, count))
        need += 4 * count
        if need > 1 << 30:  # the running total, entry by entry
            fail("prior-file-tables-size", 16, f"tables of more than {1 << 30} bytes")
    Z = u(blob, 16 + J, 8)
    if 24 + J + Z + 4 != size:
        fail("prior-file-table-data", 16 + J, f"table data size {Z} does not end the file at its CRC")
    frame = blob[24 + J:24 + J + Z]
    try:
        if frame[:4] != bytes([0x28, 0xB5, 0x2F, 0xFD]):  # a skippable frame is not a Zstandard frame
            raise zstandard.ZstdError("not a Zstandard frame's magic number")
        params = zstandard.get_frame_parameters(frame)
    except zstandard.ZstdError as error:
        fail("prior-file-table-data", 24 + J, f"table data is not a Zstandard frame: {error}")
    if params.content_size != need:
        fail("prior-file-table-data", 24 + J,
             f"the tables need {need} bytes, the frame's content size is {params.content_size}")
    try:
        dobj = zstandard.ZstdDecompressor().decompressobj()
        data = dobj.decompress(frame)
        complete, rest = dobj.eof, dobj.unused_data
    except zstandard.ZstdError as error:
        fail("prior-file-table-data", 24 + J, f"table data does not decode: {error}")
    if not complete or rest or len(data) != need:
        fail("prior-file-table-data", 24 + J, "table data is not exactly one frame of the tables")
    if len({name for name, _, _ in layout}) != len(layout):
        fail("prior-file-description", 16, "table names are not distinct")
    return Prior(codec, geometry, layout, data, hashlib.sha256(blob).hexdigest())


def _context_tables(C, bits, ks, km):
    G = max(1, min(C, 256))
    Gm = max(1, min(C, 256, 1 << max(14 - bits, 0)))
    return [("sig_group", G * ks), ("sig_shared", ks), ("mag_group", Gm * km), ("mag_shared", km)]


def context_km(codec, bits):
    """Km of FORMAT.md 9.4.2. For bits = 1 there are no magnitude decisions and a prior's
    tables hold Km = 1 entry a group (spec/vectors/priors/context.prior, ctxlanes.prior)."""
    if bits == 1:
        return 1
    return 1 << bits if codec == "order0" else 256 << bits


def ctxmix_sizes(T, C, H, W, bits):
    """Z_m of models A..F and the weight count of FORMAT.md 9.4.9 for one geometry."""
    PC = min(T, 4) * C * H * W
    G = max(1, min(C, 256))
    NN = 0 if bits == 1 else (1 << bits) + 1
    K = [PC * 1024, PC * 16, G * 65536, G * 16384]
    if NN:
        K += [PC * NN * 4, G * NN * 256]
    PS = min(PC, 1 << 16)
    return K, [min(k, 1 << 22) for k in K], (512 + PS) * 5 + NN * 4 * 3


def _mix_common(T, C, H, W, bits, groups_cap):
    """TP, G, NN, PC and hb of FORMAT.md 9.4.10 (groups_cap 64) or 9.4.11 (256)."""
    TP = min(T, 4)
    G = max(1, min(C, groups_cap))
    NN = 0 if bits == 1 else (1 << bits) + 1
    PC = TP * C * H * W
    k = 0
    while (1 << k) < PC:
        k += 1
    return TP, G, NN, PC, min(22, max(16, k + 6))


def _entries(K, zbits):
    """Z_m: a key count capped at 2^z_m, or 2^z_m for a line-indexed table (K_m None)."""
    return [1 << zb if k_m is None else min(k_m, 1 << zb) for k_m, zb in zip(K, zbits)]


def mix_sizes(T, C, H, W, bits):
    """Of FORMAT.md 9.4.10 for one geometry: the key counts K_m of models A..G (None for the
    line-indexed D, E), the entries Z_m, the bits z_m a hashed key keeps, hb, and the weight
    count."""
    TP, G, NN, PC, hb = _mix_common(T, C, H, W, bits, 64)
    K = [G * TP * 4096, G * TP * 4096, PC * 16, None, None, G * TP * NN * 256, PC * NN * 4]
    zbits = [22, 22, hb, hb, hb, 22, hb]
    return K, _entries(K, zbits), zbits, hb, 96 * G * TP + 12 * NN


def winmix_sizes(T, C, H, W, bits):
    """Of FORMAT.md 9.4.11 for one geometry, as mix_sizes: tables A, B, C, E, F, G, W, X, Y (E,
    X, Y line-indexed: K None; W direct, at most 2^22 keys; X, Y of 2^20 entries)."""
    TP, G, NN, PC, hb = _mix_common(T, C, H, W, bits, 256)
    K = [G * TP * 4096, G * TP * 4096, PC * 16, None, G * TP * NN * 256, PC * NN * 4, G * TP * 4096, None, None]
    zbits = [22, 22, hb, hb, 22, hb, 22, 20, 20]
    return K, _entries(K, zbits), zbits, hb, 512 * TP + 12 * NN


def countmix_sizes(T, C, H, W, bits):
    """Of FORMAT.md 9.4.13 for one geometry, as winmix_sizes: winmix's tables A .. Y, then H
    (K_H = G TP NN 64, hashed into 2^22 entries when larger: 8-bit elements with G TP >= 256) and
    I (K_I = NN 512, always direct), and the weight count 512 TP + 20 NN (magnitude sets of 5: F,
    G, H, I, bias)."""
    TP, G, NN, _, _ = _mix_common(T, C, H, W, bits, 256)
    K, _, zbits, hb, _ = winmix_sizes(T, C, H, W, bits)
    K = K + [G * TP * NN * 64, NN * 512]
    zbits = zbits + [22, 22]
    return K, _entries(K, zbits), zbits, hb, 512 * TP + 20 * NN


def chanmix_sizes(T, C, H, W, bits):
    """Of FORMAT.md 9.4.14 for one geometry, as countmix_sizes (the same tables), and the weight
    count 512 TP + 20 NN + 32 G (countmix's, then G 4 channel sets of 8)."""
    G = _mix_common(T, C, H, W, bits, 256)[1]
    K, Z, zbits, hb, weights = countmix_sizes(T, C, H, W, bits)
    return K, Z, zbits, hb, weights + 32 * G


def framemix_sizes(T, C, H, W, bits):
    """Of FORMAT.md 9.4.15 for one geometry, as countmix_sizes with P (K_P = 4096, direct) and L
    (2^22 entries, hashed: K None) after I, and the weight count 640 TP + 20 NN + 40 G
    (chanmix's sets with 10 significance weights)."""
    TP, G, NN, _, _ = _mix_common(T, C, H, W, bits, 256)
    K, _, zbits, hb, _ = countmix_sizes(T, C, H, W, bits)
    K = K + [4096, None]
    zbits = zbits + [22, 22]
    return K, _entries(K, zbits), zbits, hb, 640 * TP + 20 * NN + 40 * G


def expected_layout(codec, geometry):
    bits, C = geometry["bits"], geometry["C"]
    if codec in ("order0", "context"):
        ks = 1 if codec == "order0" else 1024
        return [(n, "u32", c) for n, c in _context_tables(C, bits, ks, context_km(codec, bits))]
    if codec == "countctx":
        e = 1 << bits if bits > 2 else 1
        G = max(1, min(C, 256))
        counts = [("sig_group", G * 10176), ("sig_shared", 10176), ("level_group", G * 1696),
                  ("level_shared", 1696), ("escape_group", G * e), ("escape_shared", e)]
        return [(n, "u32", c) for n, c in counts]
    if codec == "ctxlanes":
        L = 4 if C % 4 == 0 else 2 if C % 2 == 0 else 1
        lane = _context_tables(C // L, bits, 1024, context_km("context", bits))
        return [(n, "u32", c * L) for n, c in lane]
    if codec == "ctxfast":  # 9.4.12: context's four tables with Ks = 15360, shared by the lanes
        return [(n, "u32", c) for n, c in _context_tables(C, bits, 15360, context_km("context", bits))]
    if codec == "ctxmix":
        _, Z, weights = ctxmix_sizes(geometry["T"], C, geometry["H"], geometry["W"], bits)
        return [("states", "u32", sum(Z)), ("weights", "i32", weights)]
    if codec in ("mix", "winmix", "countmix", "chanmix", "framemix"):
        sizes = {"mix": mix_sizes, "winmix": winmix_sizes, "countmix": countmix_sizes, "chanmix": chanmix_sizes,
                 "framemix": framemix_sizes}[codec]
        _, Z, _, _, weights = sizes(geometry["T"], C, geometry["H"], geometry["W"], bits)
        return [("states", "u32", sum(Z)), ("weights", "i32", weights)]
    raise Problem("prior-mismatch", None, f"codec {codec} takes no prior")


MIXING = ("ctxmix", "mix", "winmix", "countmix", "chanmix", "framemix")  # geometry bits, T = min(T, 4), C, H, W; every state and weight valid
GEOMETRY = {codec: ("bits", "T", "C", "H", "W") for codec in MIXING}


def check_prior(prior, codec, offset=None):
    """What section 14 checks when the header names the prior (problems at `offset`, 16): its
    codec, its geometry's keys and ranges, its tables laid out for its own geometry, and their
    values. Returns the tables as {name: numpy array}."""
    if prior.codec != codec:
        raise Problem("prior-mismatch", offset, f"a prior of codec {prior.codec}, not {codec}")
    geometry = prior.geometry
    if sorted(geometry) != sorted(GEOMETRY.get(codec, ("bits", "C"))):
        raise Problem("prior-mismatch", offset, f"prior geometry {geometry} lacks or adds a key")
    for key, value in geometry.items():
        if not (value in (1, 2, 4, 8) if key == "bits" else 1 <= value <= 1 << 31):
            raise Problem("prior-mismatch", offset, f"prior geometry {key}={value} is out of range")
    want = expected_layout(codec, geometry)
    if prior.tables != want:
        raise Problem("prior-mismatch", offset, f"prior tables {prior.tables} do not fit geometry {geometry}: {want}")
    out, start = {}, 0
    for name, kind, count in want:
        arr = np.frombuffer(prior.data, dtype="<u4" if kind == "u32" else "<i4", count=count, offset=start)
        start += 4 * count
        if codec not in MIXING:
            n, ones = arr >> 16, arr & 0xFFFF
            if (n >= 1024).any() or (ones > n).any():
                raise Problem("prior-mismatch", offset, f"table {name} holds a counter outside the model's range")
        out[name] = arr
    prior._checked = out
    return out


def bind(prior, codec, geometry, offset=None):
    """The prior's tables for a chunk of `geometry` coded by `codec` (FORMAT.md 14), as
    {name: numpy array}: the header's checks (check_prior) and then, at the record (`offset`),
    the prior's geometry against the chunk's."""
    tables = getattr(prior, "_checked", None)
    if tables is None:
        tables = check_prior(prior, codec, offset)
    if prior.geometry != geometry:
        raise Problem("prior-mismatch", offset, f"prior geometry {prior.geometry} is not the chunk's {geometry}")
    return tables
