"""The codec pipeline of FORMAT.md section 9: validation of a header's codec list, the canonical
view (9.4.1) and decoding one chunk's payload."""
import re

import numpy as np
import zstandard

from .common import Problem, packed_limit, packed_size, unpack
from .ctxfast import decode_ctxfast
from .ctxmix import decode_ctxmix
from .mix import decode_mix
from .neuronmix import decode_neuronmix
from .priors import bind
from .rans import decode_context, decode_countctx, decode_ctxlanes
from .winmix import decode_chanmix, decode_countmix, decode_framemix, decode_winmix

ARRAY = {"raw", "order0", "context", "auto", "countctx", "ctxlanes", "ctxmix", "mix", "winmix", "ctxfast", "countmix", "chanmix", "framemix", "neuronmix"}
BYTES = {"zstd"}
PRIOR_CODECS = {"order0", "context", "countctx", "ctxlanes", "ctxmix", "mix", "winmix", "ctxfast", "countmix", "chanmix", "framemix"}
# The context-mixing codecs (9.4.9 - 9.4.11, 9.4.13 - 9.4.15, 9.4.17): a payload of at most the packed elements,
# exactly that many bytes the packed elements; the problem codes' prefix (winmix's, countmix's, chanmix's and framemix's
# problems are mix's, 9.4.11, 9.4.13 - 9.4.15). Those of PRIOR_CODECS have a prior geometry T = min(T, 4), C, H, W;
# neuronmix (9.4.17) takes no parameter, so no prior (check_pipeline rejects any), and never reaches geometry().
MIXING = {"ctxmix": "ctxmix", "mix": "mix", "winmix": "mix", "countmix": "mix", "chanmix": "mix", "framemix": "mix",
          "neuronmix": "neuronmix"}
DIGEST = re.compile(r"[0-9a-f]{64}")


def check_pipeline(codecs, offset=16):
    """9.1: every codec known with its parameters in range; an array codec first, bytes after."""
    for cid, cfg in codecs:
        if cid not in ARRAY | BYTES:
            raise Problem("codec-pipeline", offset, f"unknown codec id {cid!r}")
        allowed = {"zstd": {"level"}}.get(cid, {"prior"} if cid in PRIOR_CODECS else set())
        extra = set(cfg) - allowed
        if extra:
            raise Problem("codec-pipeline", offset, f"codec {cid} has no parameter {sorted(extra)}")
        if cid == "zstd" and "level" in cfg:
            level = cfg["level"]
            if type(level) is not int or not -7 <= level <= 22:
                raise Problem("codec-pipeline", offset, f"zstd level {level!r} is outside -7..22")
        if "prior" in cfg and not (isinstance(cfg["prior"], str) and DIGEST.fullmatch(cfg["prior"])):
            raise Problem("codec-pipeline", offset, f"codec {cid}: prior {cfg['prior']!r} is not a SHA-256 digest")
    if codecs[0][0] not in ARRAY:
        raise Problem("codec-pipeline", offset, "a pipeline starts with an array codec")
    for cid, _ in codecs[1:]:
        if cid in ARRAY:
            raise Problem("codec-pipeline", offset, f"array codec {cid} can only come first")


def canonical(shape, axes):
    """9.4.1: (perm, dims) with the chunk transposed by perm and reshaped to dims (T, N, C, H, W)."""
    role = {name: i for i, name in enumerate(axes) if name in ("T", "C", "H", "W")}
    others = [i for i, name in enumerate(axes) if name not in role]
    perm = ([role["T"]] if "T" in role else []) + others + [role[a] for a in ("C", "H", "W") if a in role]
    ext = {a: shape[role[a]] if a in role else 1 for a in ("T", "C", "H", "W")}
    n = 1
    for i in others:
        n *= shape[i]
    return perm, (ext["T"], n, ext["C"], ext["H"], ext["W"])


def geometry(codec, dims, bits):
    T, _, C, H, W = dims
    if codec in MIXING:
        return {"bits": bits, "T": min(T, 4), "C": C, "H": H, "W": W}
    return {"bits": bits, "C": C}


ZSTD_MAGIC = bytes([0x28, 0xB5, 0x2F, 0xFD])  # RFC 8878 3.1.1; a skippable frame is not a Zstandard frame


def zstd_decode(data, bound, offset):
    if bytes(data[:4]) != ZSTD_MAGIC:
        raise Problem("zstd-frame", offset, "not a Zstandard frame (its magic number)")
    try:
        params = zstandard.get_frame_parameters(data)
    except zstandard.ZstdError as error:
        raise Problem("zstd-frame", offset, f"not a Zstandard frame: {error}") from None
    size = params.content_size
    if size == zstandard.CONTENTSIZE_UNKNOWN:
        raise Problem("zstd-no-content-size", offset, "the frame does not record its content size")
    if size > bound:
        raise Problem("zstd-content-too-large", offset, f"frame content {size} bytes is more than the {bound} bound")
    try:
        dobj = zstandard.ZstdDecompressor().decompressobj()
        out = dobj.decompress(data)
    except zstandard.ZstdError as error:
        raise Problem("zstd-frame", offset, f"invalid frame: {error}") from None
    if not dobj.eof:
        raise Problem("zstd-frame", offset, "the frame is incomplete")
    if dobj.unused_data:
        raise Problem("zstd-trailing-bytes", offset, "bytes after the end of the frame")
    if len(out) != size:
        raise Problem("zstd-frame", offset, f"frame decodes to {len(out)} bytes, not {size}")
    return out


def _uses_model(cid, payload, n, bits, dims, offset):
    """The length checks an array codec makes before it starts its model (9.4.4, 9.4.7, 9.4.8, 9.4.12),
    raising their problems; whether it then starts it. A ctxmix, mix, winmix, countmix, chanmix or framemix payload reaches
    here only coded: decode_array has applied its length rule (9.4.9 - 9.4.11, 9.4.13) and unpacked a packed one."""
    if cid in MIXING:
        return True
    if len(payload) % 4:
        raise Problem("rans-partial-word", offset, f"{cid}: payload is not a whole number of 32-bit words")
    if cid == "countctx":
        most = 1 if bits == 1 else 3 if bits == 2 else 3 + bits
        bound = n * most + 2
    elif cid == "ctxlanes":
        bound = n * (1 + bits) + 12
    elif cid == "ctxfast":  # at most 5 word counts and 5 streams' 2 initial words (9.4.12)
        bound = n * (1 + bits) + 15
    else:
        bound = n * (1 + bits) + 2
    if len(payload) // 4 > bound:
        raise Problem("rans-too-long", offset, f"{cid}: {len(payload) // 4} words, more than {bound}")
    return n > 0


def decode_array(cid, cfg, payload, shape, axes, bits, prior, offset):
    n = 1
    for e in shape:
        n *= e
    if cid == "raw":
        return unpack(payload, n, bits, offset).reshape(shape)
    if cid == "auto":
        if not payload:
            raise Problem("auto-empty", offset, "auto: empty payload")
        mode = payload[0]
        if mode not in (0, 1, 2):
            raise Problem("auto-mode", offset, f"auto: unknown mode {mode}")
        cid, cfg, payload = ("raw", "order0", "context")[mode], {}, payload[1:]
        return decode_array(cid, cfg, payload, shape, axes, bits, None, offset)
    if cid in MIXING and len(payload) == packed_limit(cid, payload, n, bits, offset, MIXING[cid]):
        # 9.4.9 - 9.4.11, 9.4.13 - 9.4.15, 9.4.17: exactly B bytes are the packed elements of section 8, in the chunk's own
        # C order (not the canonical view's), and start no model.
        return unpack(payload, n, bits, offset).reshape(shape)
    perm, dims = canonical(shape, axes)
    tables = None
    if "prior" in cfg and _uses_model(cid, payload, n, bits, dims, offset):
        # Section 14: the prior's geometry against the chunk's, once the payload's length checks
        # pass and only when the codec starts its model (a chunk with elements; ctxmix, mix, winmix,
        # countmix, chanmix, framemix: a coded payload, not the packed elements).
        tables = bind(prior, cid, geometry(cid, dims, bits), offset)
    payload = bytes(payload)
    if cid in ("order0", "context"):
        canon = decode_context(payload, dims, bits, cid, tables, offset)
    elif cid == "countctx":
        canon = decode_countctx(payload, dims, bits, tables, offset)
    elif cid == "ctxlanes":
        canon = decode_ctxlanes(payload, dims, bits, tables, offset)
    elif cid == "ctxfast":
        canon = decode_ctxfast(payload, dims, bits, tables, offset)
    elif cid == "mix":
        canon = decode_mix(payload, dims, bits, tables, offset)
    elif cid == "winmix":
        canon = decode_winmix(payload, dims, bits, tables, offset)
    elif cid == "countmix":
        canon = decode_countmix(payload, dims, bits, tables, offset)
    elif cid == "chanmix":
        canon = decode_chanmix(payload, dims, bits, tables, offset)
    elif cid == "framemix":
        canon = decode_framemix(payload, dims, bits, tables, offset)
    elif cid == "neuronmix":  # no parameters, so never a prior (9.4.17)
        canon = decode_neuronmix(payload, dims, bits, offset)
    else:
        canon = decode_ctxmix(payload, dims, bits, tables, offset)
    moved = canon.reshape([shape[i] for i in perm])
    return np.transpose(moved, np.argsort(perm)).reshape(shape)


def decode_chunk(codecs, payload, shape, axes, bits, prior, offset):
    """Run the pipeline backwards on one payload; every stage within 2 B + 65536 bytes."""
    n = 1
    for e in shape:
        n *= e
    bound = 2 * packed_size(n, bits) + 65536
    data = bytes(payload)
    for cid, cfg in reversed(codecs[1:]):
        data = zstd_decode(data, bound, offset)
    cid, cfg = codecs[0]
    out = decode_array(cid, cfg, data, list(shape), axes, bits, prior, offset)
    if list(out.shape) != list(shape):
        raise Problem("decoded-shape", offset, f"decoded shape {out.shape}, expected {shape}")
    return out
