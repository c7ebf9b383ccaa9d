"""Build the conformance vectors in spec/vectors/ and their manifest.

Published vectors never change: run with ``--write`` only to add new ones (existing files are
left alone unless ``--force``). ``build_valid(params, array)`` is also what the conformance
tests call to check that re-encoding reproduces each valid vector byte for byte.

Priors (spec/vectors/priors/CODEC.prior) are trained only when their file does not exist yet,
and read from their file ever after: a prior's SHA-256 is its identity, and its bytes (a zstd
frame inside) may differ between library versions, so a retrained prior is another prior.
spec/tables/ lists the integer tables of ``ctxmix`` (FORMAT.md 9.4.9).

    python spec/generate.py --write
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import io
import json
import struct
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import zstandard

import spikecodec
from spikecodec import layout
from spikecodec.container.header import Extension, Header, encode_header
from spikecodec.container.reader import BytesCursor
from spikecodec.container.records import (
    CompactRecords,
    IndexEntry,
    check_size,
    compact_check,
    encode_chunk,
    encode_compact_index,
    encode_index,
    encode_trailer,
    varint,
)

HERE = Path(__file__).parent
VECTORS = HERE / "vectors"
TABLES = HERE / "tables"

# name -> (array recipe, encode parameters). Arrays come from a fixed-seed generator.
VALID: dict[str, dict] = {
    "spikes-raw": {"array": {"shape": [2, 2, 3, 4, 5], "bits": 1, "rate": 0.2, "seed": 1}, "encode": {"codec": "raw", "chunk": [1]}},
    "spikes-zstd": {
        "array": {"shape": [4, 3, 8, 7, 7], "bits": 1, "rate": 0.15, "seed": 2},
        "encode": {"codec": {"id": "zstd", "level": 3}, "chunk": [1], "metadata": {"model": "example", "split": "layer2", "dt": 0.001, "neuron": {"tau": 0.25, "v_th": 0.5}}},
    },
    "counts2-raw": {"array": {"shape": [3, 4, 5], "bits": 2, "rate": 0.3, "seed": 3}, "encode": {"codec": "raw", "axes": ["T", "N", "F"]}},
    "counts4-zstd": {"array": {"shape": [2, 5, 9], "bits": 4, "rate": 0.4, "seed": 4}, "encode": {"codec": "zstd", "axes": ["T", "N", "F"], "chunk": [1, 2]}},
    "counts8-raw": {"array": {"shape": [2, 3, 7], "bits": 8, "rate": 0.5, "seed": 5}, "encode": {"codec": "raw", "axes": ["T", "N", "F"]}},
    "chunks-2d": {
        "array": {"shape": [3, 5, 3, 2, 2], "bits": 1, "rate": 0.25, "seed": 6},
        "encode": {"codec": "raw", "chunk": [2, 2], "metadata": {"note": "partial rows and edge chunks"}},
    },
    "rank1-padding": {"array": {"shape": [13], "bits": 1, "rate": 0.5, "seed": 7}, "encode": {"codec": "raw", "axes": ["T"], "chunk": [5]}},
    "rank8": {"array": {"shape": [2, 1, 2, 1, 2, 1, 2, 3], "bits": 1, "rate": 0.5, "seed": 8}, "encode": {"codec": "raw", "chunk": [1, 1, 2]}},
    "empty-axis": {"array": {"shape": [2, 0, 4], "bits": 1, "rate": 0.0, "seed": 9}, "encode": {"codec": "raw", "axes": ["T", "N", "F"], "chunk": [1]}},
    "streamed": {
        "array": {"shape": [5, 2, 3, 3], "bits": 1, "rate": 0.3, "seed": 10},
        "stream": {"codec": "raw", "axes": ["T", "N", "C", "L"], "chunk": [2], "flush_after": [1]},
    },
    # A stream given no chunk shape and no axis names (the writer's defaults: chunk [1], T N C), and
    # a stream of frames with an empty axis, which no vector wrote before (its chunk is [1], k = 1, so
# G = 1: each row is one chunk of no element, FORMAT.md 4.2, not G = 0 as this said at first).
    "streamed-default-chunk": {
        "array": {"shape": [3, 2, 5], "bits": 1, "rate": 0.4, "seed": 115},
        "stream": {"codec": "raw", "flush_after": []},
    },
    "streamed-empty-inner-axis": {
        "array": {"shape": [2, 0, 3], "bits": 1, "rate": 0.0, "seed": 116},
        "stream": {"codec": "raw", "axes": ["T", "N", "F"], "flush_after": [0]},
    },
    "optional-extension": {
        "array": {"shape": [2, 3, 4], "bits": 1, "rate": 0.3, "seed": 11},
        "encode": {"codec": "raw", "axes": ["T", "N", "F"]},
        "extensions": [{"name": "x-vendor-note", "required": False, "data_hex": "68656c6c6f"}],
    },
}
# Added later (format unchanged): a zstd frame whose Window_Descriptor says a window log of 31, the
# largest a reader accepts (FORMAT.md 9.3: any window size up to it, however much it exceeds the
# content size); each chunk's frame is one raw block.
VALID["zstd-window-log-31"] = {"array": {"shape": [2, 2, 3, 4, 5], "bits": 1, "rate": 0.2, "seed": 191},
                               "encode": {"codec": "zstd", "chunk": [1]}, "zstd_window_log": 31}
# The entropy coders (FORMAT.md 9.4) on spikes correlated over time (each neuron mostly repeats
# its pattern), counts and an all-zero chunk, with chunks that hold every timestep.
for _codec in ("order0", "context", "auto"):
    for _case, _bits, _chunk, _rate in (("spikes", 1, [3, 2], 0.3), ("counts2", 2, [3], 0.3), ("counts8", 8, [1], 0.3), ("zeros", 1, [3], 0.0)):
        VALID[f"{_codec}-{_case}"] = {
            "array": {"shape": [3, 3, 4, 6, 6], "bits": _bits, "rate": _rate, "seed": 12, "correlated": True},
            "encode": {"codec": _codec, "chunk": _chunk},
        }
# Added with format 1.1: the optional ``countctx`` codec (FORMAT.md 9.4.7), on the same arrays and
# a 4-bit one whose escape tree holds large values.
for _case, _bits, _chunk, _rate in (("spikes", 1, [3, 2], 0.3), ("counts2", 2, [3], 0.3), ("counts4", 4, [3], 0.3), ("counts8", 8, [1], 0.3), ("zeros", 1, [3], 0.0)):
    VALID[f"countctx-{_case}"] = {
        "array": {"shape": [3, 3, 4, 6, 6], "bits": _bits, "rate": _rate, "seed": 12, "correlated": True},
        "encode": {"codec": "countctx", "chunk": _chunk},
    }

# Added with format 1.2: the optional ``ctxlanes`` codec (FORMAT.md 9.4.8): four lanes of 7 x 7
# planes (the lockstep coder), two lanes of 2-bit counts, one lane (C odd), and all zeros.
for _case, _shape, _bits, _chunk, _rate in (("spikes", [3, 3, 8, 7, 7], 1, [3, 2], 0.3), ("counts2", [3, 3, 6, 6, 6], 2, [3], 0.3),
                                            ("one-lane", [3, 2, 5, 6, 6], 1, [3], 0.3), ("zeros", [3, 3, 8, 7, 7], 1, [3], 0.0)):
    VALID[f"ctxlanes-{_case}"] = {
        "array": {"shape": _shape, "bits": _bits, "rate": _rate, "seed": 13, "correlated": True},
        "encode": {"codec": "ctxlanes", "chunk": _chunk},
    }

# Added later (format unchanged): lanes of more than 256 channels (C = 1032: four lanes of 258,
# 5 x 5 planes, so the lockstep coder runs), whose channel groups wrap within the lane (j mod G,
# FORMAT.md 9.4.2). The lockstep coder indexed group j itself, past its lane's table.
VALID["ctxlanes-wide-lanes"] = {"array": {"shape": [2, 1, 1032, 5, 5], "bits": 1, "rate": 0.3, "seed": 17, "correlated": True},
                                "encode": {"codec": "ctxlanes", "chunk": [2]}}

# Added with format 1.3: the optional ``ctxmix`` codec (FORMAT.md 9.4.9) on the countctx arrays;
# a chunk whose coding does not pay (the payload is the packed elements); a plane large enough
# that model A's contexts (and the position weight sets) are hashed.
for _case, _bits, _chunk, _rate in (("spikes", 1, [3, 2], 0.3), ("counts2", 2, [3], 0.3), ("counts4", 4, [3], 0.3), ("counts8", 8, [1], 0.3), ("zeros", 1, [3], 0.0)):
    VALID[f"ctxmix-{_case}"] = {
        "array": {"shape": [3, 3, 4, 6, 6], "bits": _bits, "rate": _rate, "seed": 12, "correlated": True},
        "encode": {"codec": "ctxmix", "chunk": _chunk},
    }
VALID["ctxmix-packed"] = {"array": {"shape": [2, 2, 3, 4, 4], "bits": 1, "rate": 0.5, "seed": 20}, "encode": {"codec": "ctxmix", "chunk": [1]}}
VALID["ctxmix-hashed"] = {
    "array": {"shape": [1, 1, 1, 260, 260], "bits": 1, "rate": 0.1, "seed": 21},
    "encode": {"codec": "ctxmix", "axes": ["T", "N", "C", "H", "W"]},
}
# Compact records (FORMAT.md 5.2, 6.2): a stream with a flushed short row (the one record that
# states its height), a payload of 256 bytes or more (its check is a CRC-32) and small chunks
# (CRC-16 checks).
VALID["compact-streamed"] = {
    "array": {"shape": [5, 2, 3, 3], "bits": 1, "rate": 0.3, "seed": 23},
    "stream": {"codec": "raw", "axes": ["T", "N", "C", "L"], "chunk": [2], "flush_after": [2], "records": "compact-unkeyed"},
}
# The writer's default chunk shape when the array has more than P = 2^20 elements (FORMAT.md 13,
# "chunk shape"): [S, floor(P / (S I))] = [2, 524] over axes 1.. of 600 and 1000 (no vector had
# a default of two axes). Sparse spikes: the .npy is 1.2 MB, which git stores compressed.
VALID["default-chunk-two-axes"] = {
    "array": {"shape": [2, 600, 1000], "bits": 1, "rate": 0.01, "seed": 124},
    "encode": {"codec": "zstd"},
}
# Version 1.6: the stream-id extension (FORMAT.md 3.2), the last of the header's extensions, its
# required bit clear; readers skip it, and it makes the header CRC (so every record's check) its own.
VALID["compact-stream-id"] = {
    "array": {"shape": [4, 2, 3, 3], "bits": 1, "rate": 0.3, "seed": 121},
    "stream": {"codec": "ctxmix", "axes": ["T", "N", "H", "W"], "chunk": [1], "flush_after": [], "records": "compact-unkeyed",
               "stream_id": "000102030405060708090a0b0c0d0e0f"},
}
VALID["compact-ctxmix-crc32"] = {
    "array": {"shape": [1, 1, 8, 24, 24], "bits": 1, "rate": 0.3, "seed": 22},
    "encode": {"codec": "ctxmix", "chunk": [1], "records": "compact-unkeyed"},
}
VALID["compact-ctxmix-small"] = {
    "array": {"shape": [6, 2, 4, 6, 6], "bits": 1, "rate": 0.3, "seed": 24, "correlated": True},
    "encode": {"codec": "ctxmix", "axes": ["N", "T", "C", "H", "W"], "chunk": [1], "records": "compact-unkeyed"},
}
# Priors (FORMAT.md 14): one per trainable codec, in spec/vectors/priors/CODEC.prior. Each was
# trained once, by ``train_prior`` on the array recipe below (another seed than the vectors'),
# and is read back from its file ever after: its bytes (a zstd frame inside) are its identity.
PRIORS: dict[str, dict] = {
    "order0": {"array": {"shape": [3, 30, 4, 6, 6], "bits": 2, "rate": 0.3, "seed": 16, "correlated": True}, "chunk": [3, 1]},
    "context": {"array": {"shape": [3, 30, 4, 6, 6], "bits": 1, "rate": 0.3, "seed": 16, "correlated": True}, "chunk": [3, 1]},
    "countctx": {"array": {"shape": [3, 30, 4, 6, 6], "bits": 4, "rate": 0.3, "seed": 16, "correlated": True}, "chunk": [3, 1]},
    "ctxlanes": {"array": {"shape": [3, 30, 8, 6, 6], "bits": 1, "rate": 0.3, "seed": 16, "correlated": True}, "chunk": [3, 1]},
    "ctxmix": {"array": {"shape": [3, 30, 2, 4, 4], "bits": 2, "rate": 0.3, "seed": 16, "correlated": True}, "chunk": [3, 1]},
}
for _codec, _train in PRIORS.items():  # files that name their prior by digest (the reader is given it)
    VALID[f"prior-{_codec}-named"] = {
        "array": {**_train["array"], "shape": [3, 3, *_train["array"]["shape"][2:]], "seed": 15},
        "encode": {"codec": _codec, "chunk": [3, 1], "prior": f"priors/{_codec}.prior"},
    }
VALID["prior-ctxmix-embedded"] = {  # the header holds the prior file
    "array": {"shape": [3, 3, 2, 4, 4], "bits": 2, "rate": 0.3, "seed": 17, "correlated": True},
    "encode": {"codec": "ctxmix", "chunk": [3, 1], "prior": "priors/ctxmix.prior", "embed_prior": True},
}
VALID["prior-ctxmix-compact"] = {  # one sample a record, compact, from a named prior
    "array": {"shape": [3, 4, 2, 4, 4], "bits": 2, "rate": 0.3, "seed": 18, "correlated": True},
    "encode": {"codec": "ctxmix", "chunk": [3, 1], "prior": "priors/ctxmix.prior", "records": "compact-unkeyed"},
}

# Issue 23: rules no vector above reaches. Histories at t >= 3 (T = 5 in one chunk); counters
# halved (one context of one channel group sees more than 1024 decisions); the canonical view's
# transpose with merged axes (N, S fold into N, C before T); a missing H or W axis; the magnitude
# group cap Gm = 64 of 8-bit elements (C = 70); G = 256 for C = 300; a classic stream with rows
# flushed short mid-stream (rows 1, 3, 1, 2 of chunk 3, two chunks a row); a chunked axis of
# extent 0 (G = 0: no chunk at all, FORMAT.md 4.2).
VALID["context-history"] = {"array": {"shape": [5, 2, 3, 4, 4], "bits": 1, "rate": 0.4, "seed": 30, "correlated": True}, "encode": {"codec": "context", "chunk": [5]}}
VALID["countctx-history"] = {"array": {"shape": [5, 2, 3, 4, 4], "bits": 2, "rate": 0.4, "seed": 31, "correlated": True}, "encode": {"codec": "countctx", "chunk": [5]}}
VALID["order0-halving"] = {"array": {"shape": [1, 1, 1, 48, 48], "bits": 2, "rate": 0.6, "seed": 32}, "encode": {"codec": "order0"}}
VALID["context-halving"] = {"array": {"shape": [1, 1, 1, 64, 64], "bits": 1, "rate": 0.05, "seed": 33}, "encode": {"codec": "context"}}
VALID["context-merged-axes"] = {
    "array": {"shape": [2, 3, 2, 3, 4, 5], "bits": 2, "rate": 0.3, "seed": 34, "correlated": True},
    "encode": {"codec": "context", "axes": ["N", "C", "T", "S", "H", "W"], "chunk": [2]},
}
VALID["context-no-h"] = {"array": {"shape": [4, 2, 3, 10], "bits": 1, "rate": 0.3, "seed": 35, "correlated": True}, "encode": {"codec": "context", "axes": ["T", "N", "C", "W"], "chunk": [4]}}
VALID["countctx-no-w"] = {"array": {"shape": [4, 3, 9], "bits": 4, "rate": 0.3, "seed": 36, "correlated": True}, "encode": {"codec": "countctx", "axes": ["T", "C", "H"], "chunk": [4]}}
VALID["order0-gm-cap"] = {"array": {"shape": [2, 1, 70, 3, 3], "bits": 8, "rate": 0.5, "seed": 37}, "encode": {"codec": "order0", "chunk": [2]}}
VALID["context-c300"] = {"array": {"shape": [1, 1, 300, 2, 2], "bits": 1, "rate": 0.3, "seed": 38}, "encode": {"codec": "context"}}
VALID["streamed-flush"] = {
    "array": {"shape": [7, 2, 3], "bits": 1, "rate": 0.4, "seed": 39},
    "stream": {"codec": "raw", "axes": ["T", "N", "F"], "chunk": [3, 1], "flush_after": [0, 4]},
}
VALID["empty-inner-axis"] = {"array": {"shape": [3, 0, 4], "bits": 1, "rate": 0.0, "seed": 40}, "encode": {"codec": "raw", "axes": ["T", "N", "F"], "chunk": [1, 1]}}
# An extent of 0 makes the element count 0 whatever the others (FORMAT.md 3.2): 2 x 2^40 x 0 is
# empty, not over the element limit (the library refused it, stopping at a partial product).
VALID["empty-huge-extent"] = {"array": {"shape": [2, 1 << 40, 0], "bits": 1, "rate": 0.0, "seed": 41}, "encode": {"codec": "raw", "axes": ["T", "N", "F"], "chunk": [1]}}

# Added with format 1.4: the optional ``mix`` codec (FORMAT.md 9.4.10). Spikes with T = 4 (the
# history and p2 matter) and C = 8 (two groups of 4 channels: the lines of D and E); counts of 2,
# 4 and 8 bits (the escape tree; 8-bit keys hash table G); a chunk whose coding does not pay
# (packed); several chunks of 2 samples; a plane of more than 2^18 positions (hb = 22, tables C
# and G hashed); one sample a compact record; chunks coded from a prior, named and embedded.
VALID["mix-spikes"] = {"array": {"shape": [4, 6, 8, 5, 5], "bits": 1, "rate": 0.3, "seed": 50, "correlated": True}, "encode": {"codec": "mix", "chunk": [4]}}
VALID["mix-counts2"] = {"array": {"shape": [3, 6, 6, 4, 4], "bits": 2, "rate": 0.3, "seed": 51, "correlated": True}, "encode": {"codec": "mix", "chunk": [3]}}
VALID["mix-counts4"] = {"array": {"shape": [3, 6, 6, 4, 4], "bits": 4, "rate": 0.3, "seed": 52, "correlated": True}, "encode": {"codec": "mix", "chunk": [3]}}
VALID["mix-counts8"] = {"array": {"shape": [2, 6, 5, 4, 4], "bits": 8, "rate": 0.3, "seed": 53, "correlated": True}, "encode": {"codec": "mix", "chunk": [2]}}
VALID["mix-packed"] = {"array": {"shape": [2, 2, 3, 4, 4], "bits": 1, "rate": 0.5, "seed": 54}, "encode": {"codec": "mix", "chunk": [1]}}
VALID["mix-chunks"] = {"array": {"shape": [3, 8, 6, 5, 5], "bits": 1, "rate": 0.2, "seed": 55, "correlated": True}, "encode": {"codec": "mix", "chunk": [3, 2]}}
VALID["mix-hashed"] = {
    "array": {"shape": [1, 1, 1, 512, 513], "bits": 2, "rate": 0.01, "seed": 41},
    "encode": {"codec": "mix", "axes": ["T", "N", "C", "H", "W"]},
}
VALID["compact-mix"] = {
    "array": {"shape": [3, 4, 8, 6, 6], "bits": 1, "rate": 0.15, "seed": 57, "correlated": True},
    "encode": {"codec": "mix", "axes": ["N", "T", "C", "H", "W"], "chunk": [1], "records": "compact-unkeyed"},
}
PRIORS["mix"] = {"array": {"shape": [3, 10, 4, 2, 2], "bits": 2, "rate": 0.3, "seed": 16, "correlated": True}, "chunk": [3, 1]}
VALID["prior-mix-named"] = {
    "array": {**PRIORS["mix"]["array"], "shape": [3, 3, 4, 2, 2], "seed": 15},
    "encode": {"codec": "mix", "chunk": [3, 1], "prior": "priors/mix.prior"},
}
VALID["prior-mix-embedded"] = {
    "array": {**PRIORS["mix"]["array"], "shape": [3, 3, 4, 2, 2], "seed": 17},
    "encode": {"codec": "mix", "chunk": [3, 1], "prior": "priors/mix.prior", "embed_prior": True},
}

# Added after 1.4 was published, where an implementation of 9.4.10 written from FORMAT.md alone
# passed every vector above with misreadings that these catch: all-zero chunks (the coder ends
# with high = 2^32 - 1 and writes no final byte; 3 elements whose coding, 0 bytes, is shorter than
# their packed byte); T = 12 (tp capped at 3, the history byte wrapping after step 8); C = 80
# (channel groups wrap at 64); 8-bit counts with G TP = 64 (table F hashed); the canonical view
# of merged and reordered axes, of rank 3, and of an empty axis; embedded priors: a 1-bit one (no
# magnitude tables) serving chunks of T = 6, and one whose weights lie beyond the clamp (accepted as stored;
# its chunks, coded so badly from such weights, are stored packed).
VALID["mix-zeros"] = {"array": {"shape": [4, 3, 8, 5, 5], "bits": 1, "rate": 0.0, "seed": 60}, "encode": {"codec": "mix", "chunk": [4]}}
VALID["mix-zeros-tiny"] = {"array": {"shape": [1, 1, 3, 1, 1], "bits": 1, "rate": 0.0, "seed": 61}, "encode": {"codec": "mix"}}
VALID["mix-long-t"] = {"array": {"shape": [12, 3, 4, 3, 3], "bits": 1, "rate": 0.35, "seed": 62, "correlated": True}, "encode": {"codec": "mix", "chunk": [12]}}
VALID["mix-wide-c"] = {"array": {"shape": [2, 2, 80, 2, 2], "bits": 1, "rate": 0.3, "seed": 63, "correlated": True}, "encode": {"codec": "mix", "chunk": [2]}}
VALID["mix-f-hashed"] = {"array": {"shape": [4, 2, 16, 2, 2], "bits": 8, "rate": 0.4, "seed": 64, "correlated": True}, "encode": {"codec": "mix", "chunk": [4]}}
VALID["mix-merged-axes"] = {
    "array": {"shape": [2, 3, 2, 3, 4, 5], "bits": 1, "rate": 0.3, "seed": 65, "correlated": True},
    "encode": {"codec": "mix", "axes": ["N", "C", "T", "S", "H", "W"], "chunk": [2]},
}
VALID["mix-rank3"] = {"array": {"shape": [3, 6, 5], "bits": 2, "rate": 0.3, "seed": 66, "correlated": True}, "encode": {"codec": "mix", "axes": ["N", "W", "C"]}}
VALID["mix-empty-axis"] = {"array": {"shape": [2, 0, 4, 3, 3], "bits": 1, "rate": 0.0, "seed": 67}, "encode": {"codec": "mix", "chunk": [1]}}
PRIORS["mix-bits1"] = {"codec": "mix", "array": {"shape": [4, 10, 4, 3, 3], "bits": 1, "rate": 0.3, "seed": 16, "correlated": True}, "chunk": [4, 1]}
VALID["prior-mix-bits1-long-t"] = {
    "array": {"shape": [6, 3, 4, 3, 3], "bits": 1, "rate": 0.3, "seed": 68, "correlated": True},
    "encode": {"codec": "mix", "chunk": [6, 1], "prior": "priors/mix-bits1.prior", "embed_prior": True},
}
# Added after an outside implementation of 9.4.9 and of compact records (5.2) passed every vector
# above with misreadings these catch: ctxmix over T = 10 (tp and the history capped), C = 260
# (channel groups wrap at 256), a plane of exactly 2^16 positions (ps direct), packed payloads of
# transposed axes for ctxmix and mix (unpacked in the chunk's C order, not the canonical one), and
# compact records of payloads of 256 and 255 bytes (CRC-32 from P = 256, CRC-16 below).
VALID["ctxmix-long-t"] = {"array": {"shape": [10, 2, 3, 4, 4], "bits": 2, "rate": 0.3, "seed": 70, "correlated": True}, "encode": {"codec": "ctxmix", "chunk": [10]}}
VALID["ctxmix-wide-c"] = {"array": {"shape": [2, 1, 260, 3, 3], "bits": 2, "rate": 0.3, "seed": 71, "correlated": True}, "encode": {"codec": "ctxmix", "chunk": [2]}}
VALID["ctxmix-pc-65536"] = {"array": {"shape": [1, 1, 1, 256, 256], "bits": 1, "rate": 0.1, "seed": 72}, "encode": {"codec": "ctxmix"}}
VALID["ctxmix-packed-transposed"] = {"array": {"shape": [2, 3, 4, 4], "bits": 1, "rate": 0.5, "seed": 73}, "encode": {"codec": "ctxmix", "axes": ["N", "T", "H", "W"], "chunk": [2]}}
VALID["mix-packed-transposed"] = {"array": {"shape": [2, 3, 4, 4], "bits": 1, "rate": 0.5, "seed": 74}, "encode": {"codec": "mix", "axes": ["N", "T", "H", "W"], "chunk": [2]}}
VALID["compact-check-boundary"] = {"array": {"shape": [1, 4088], "bits": 1, "rate": 0.5, "seed": 75}, "encode": {"codec": "raw", "axes": ["T", "F"], "chunk": [1, 2048], "records": "compact-unkeyed"}}
# Priors made from another prior's tables (not trained): written once, read from their file ever after.
DERIVED_PRIORS: dict[str, str] = {
    "mix-extreme-weights": "the mix prior with its weights set, in turn, to 2^20, -2^20, 2^20 + 1, -2^20 - 1, 2^31 - 1 and -2^31",
}
VALID["prior-mix-extreme-weights"] = {
    "array": {**PRIORS["mix"]["array"], "shape": [3, 3, 4, 2, 2], "seed": 69},
    "encode": {"codec": "mix", "chunk": [3, 1], "prior": "priors/mix-extreme-weights.prior", "embed_prior": True},
}
# Added after a second round of the outside implementation of 9.4.9 and of compact records: chunks
# coded from a ctxmix prior, where the tables' layout and the prior's values matter. A prior of
# T = min(6, 4) = 4 serving chunks of T = 6 (trained); a chunk of a short last row, whose geometry
# is not the prior's, stored packed (no model starts: the prior is not checked against it); and
# priors made by hand (DERIVED_PRIORS): weights beyond the clamp, a first significance decision
# whose two dot products sum to -1 (floor(-1 / 2) = -1, not 0), a plane of more than 2^16
# positions (512 + 2^16 significance sets), and model A of exactly 2^22 keys (direct, not hashed).
PRIORS["ctxmix-long-t"] = {"codec": "ctxmix", "array": {"shape": [6, 10, 2, 4, 4], "bits": 2, "rate": 0.3, "seed": 16, "correlated": True},
                           "chunk": [6, 1]}
VALID["prior-ctxmix-long-t"] = {
    "array": {"shape": [6, 3, 2, 4, 4], "bits": 2, "rate": 0.3, "seed": 80, "correlated": True},
    "encode": {"codec": "ctxmix", "chunk": [6, 1], "prior": "priors/ctxmix-long-t.prior", "embed_prior": True},
}
VALID["prior-ctxmix-packed-short-row"] = {  # the last row (T = 1) as the packed elements, the rows before coded
    "array": {"shape": [4, 3, 2, 4, 4], "bits": 2, "rate": 0.3, "seed": 81, "correlated": True},
    "encode": {"codec": "ctxmix", "chunk": [3, 1], "prior": "priors/ctxmix.prior", "embed_prior": True},
    "packed_last_row": True,
}
DERIVED_PRIORS["ctxmix-extreme-weights"] = (
    "the ctxmix prior's geometry; every state p = 2^21 - 2^14 (a prediction of -4) with n = 5; each significance set's "
    "model weights 2^20 + 50000 (A), 19661 or -2^20 - 30000 (B, in even and odd sets), 2^20 + 70000 (C), 19661 (D); "
    "each magnitude set's 2^20 + 40000 (E), -2^20 - 20000 (F); every bias 0")
DERIVED_PRIORS["ctxmix-odd-sum"] = (
    "the ctxmix prior's geometry; fresh tables but model A's states, each p = 2^21 + 2^11 (a prediction of 1), and "
    "the A weight of each position set, -19662: a first significance decision has dot(a) + dot(b) = 19661 - 19662 = -1")
DERIVED_PRIORS["ctxmix-hashed"] = (
    "geometry bits 1, T 1, C 1, H 260, W 260 (PC = 67600 > 2^16); fresh tables but the bias weight of position set i, "
    "4096 ((i mod 7) - 3)")
DERIVED_PRIORS["ctxmix-a-direct"] = (
    "geometry bits 1, T 1, C 1, H 64, W 64 (K_A = 4096 * 1024 = 2^22, direct); fresh tables but model A's states of "
    "keys 1024 pos (no neighbour fired), each p = 2^16 (a prediction of -1061) with n = 30")
VALID["prior-ctxmix-extreme-weights"] = {
    "array": {"shape": [3, 2, 2, 4, 4], "bits": 2, "rate": 0.05, "seed": 82},
    "encode": {"codec": "ctxmix", "chunk": [3], "prior": "priors/ctxmix-extreme-weights.prior", "embed_prior": True},
}
VALID["prior-ctxmix-odd-sum"] = {
    "array": {"shape": [3, 3, 2, 4, 4], "bits": 2, "rate": 0.05, "seed": 83},
    "encode": {"codec": "ctxmix", "chunk": [3], "prior": "priors/ctxmix-odd-sum.prior", "embed_prior": True},
}
VALID["prior-ctxmix-hashed"] = {
    "array": {"shape": [1, 1, 1, 260, 260], "bits": 1, "rate": 0.1, "seed": 84},
    "encode": {"codec": "ctxmix", "axes": ["T", "N", "C", "H", "W"], "prior": "priors/ctxmix-hashed.prior"},
}
VALID["prior-ctxmix-a-direct"] = {
    "array": {"shape": [1, 1, 1, 64, 64], "bits": 1, "rate": 0.05, "seed": 85},
    "encode": {"codec": "ctxmix", "axes": ["T", "N", "C", "H", "W"], "prior": "priors/ctxmix-a-direct.prior"},
}
# Added after the outside implementation of 9.4.10 was run again with the vectors above: two of
# its misreadings still passed, both only visible in chunks coded from a prior whose values
# matter. Priors made by hand for mix: weights beyond the clamp in every set a chunk of sparse
# counts uses (each update's result is clamped to 2^20 or -2^20: a reader that never clamps, or
# that clamps the prior's weights before their first use, decodes other bits), and 8-bit
# elements with G TP = 64 (table F hashed) whose F states are set, at the hashed slots of the
# keys the chunk's level and escape decisions use, to the bit each decision codes (a reader
# that hashes F another way reads fresh states there). And weights that rest at the clamp's bound,
# 2^20, while the mixer's sum stays near 0 (the bound is inclusive: a reader that clamps to
# 2^20 - 1, or to the 21-bit range -2^20 .. 2^20 - 1, codes other probabilities).
DERIVED_PRIORS["mix-clamp-update"] = (
    "the mix prior's geometry; every state p = 2^21 - 2^14 (a prediction of -4) with n = 5; each significance set's "
    "model weights 2^20 + 50000 (A), 19661 or -2^20 - 30000 (B, in even and odd sets), 2^20 + 70000 (C), 19661 (D), "
    "-2^20 - 10000 (E); each magnitude set's 2^20 + 40000 (F), -2^20 - 20000 (G); every bias 0")
DERIVED_PRIORS["mix-f-hashed"] = (
    "geometry bits 8, T 4, C 16, H 2, W 2 (K_F = 64 x 257 x 256 > 2^22: F hashed); fresh tables but the F states at "
    "the hashed slots of the keys of the level and escape decisions of VALID['prior-mix-f-hashed']'s array, each "
    "p = 2^22 - 2^18 (a decision of 1) or 2^18 (of 0), the bit the slot's first decision codes, with n = 20")
DERIVED_PRIORS["mix-clamp-bound"] = (
    "the mix prior's geometry; every state p = 968 x 2^10 (a prediction of -300) with n = 1023 (the slowest rate); each "
    "significance set's model weights 2^20 + 50000 (A, C), -2^20 + 2000 (B, D), 0 (E); each magnitude set's 2^20 + 50000 (F), "
    "-2^20 + 2000 (G); every bias 0: A and C rest at 2^20 after their first update while d stays near 0, so a clamp "
    "to 2^20 - 1 shifts d's sum by -q_A - q_C, often across a multiple of 2^16")
# Added after an outside implementation of 9.4.10 - 9.4.11 clamped the low side to -2^20 + 1 and
# still passed every vector: the mirror of mix-clamp-bound, whose A and C rest at -2^20.
DERIVED_PRIORS["mix-clamp-bound-low"] = (
    "the mix prior's geometry; every state p = 968 x 2^10 (a prediction of -300) with n = 1023; each significance set's "
    "model weights -2^20 - 50000 (A, C), 2^20 - 2000 (B, D), 0 (E); each magnitude set's -2^20 - 50000 (F), "
    "2^20 - 2000 (G); every bias 0: A and C rest at -2^20 after their first update while d stays near 0, so a clamp "
    "to -2^20 + 1 shifts d's sum by q_A + q_C")
DERIVED_PRIORS["winmix-clamp-bound-low"] = (
    "the winmix prior's geometry; every state p = 968 x 2^10 (a prediction of -300) with n = 1023; each significance "
    "set's model weights -2^20 - 50000 (A, C), 2^20 - 2000 (B, E), 0 (W, X, Y); each magnitude set's -2^20 - 50000 (F), "
    "2^20 - 2000 (G); every bias 0 (the mirror of winmix-clamp-bound)")
VALID["prior-mix-clamp-bound-low"] = {
    "array": {"shape": [3, 16, 4, 2, 2], "bits": 2, "rate": 0.05, "seed": 122},
    "encode": {"codec": "mix", "chunk": [3], "prior": "priors/mix-clamp-bound-low.prior", "embed_prior": True},
}
VALID["prior-winmix-clamp-bound-low"] = {
    "array": {"shape": [3, 16, 4, 2, 2], "bits": 2, "rate": 0.05, "seed": 123},
    "encode": {"codec": "winmix", "chunk": [3], "prior": "priors/winmix-clamp-bound-low.prior", "embed_prior": True},
}
VALID["prior-mix-clamp-update"] = {
    "array": {"shape": [3, 4, 4, 2, 2], "bits": 2, "rate": 0.05, "seed": 86},
    "encode": {"codec": "mix", "chunk": [3], "prior": "priors/mix-clamp-update.prior", "embed_prior": True},
}
VALID["prior-mix-clamp-bound"] = {
    "array": {"shape": [3, 16, 4, 2, 2], "bits": 2, "rate": 0.05, "seed": 88},
    "encode": {"codec": "mix", "chunk": [3], "prior": "priors/mix-clamp-bound.prior", "embed_prior": True},
}
VALID["prior-mix-f-hashed"] = {
    "array": {"shape": [4, 1, 16, 2, 2], "bits": 8, "rate": 0.4, "seed": 87, "correlated": True},
    "encode": {"codec": "mix", "axes": ["T", "N", "C", "H", "W"], "chunk": [4], "prior": "priors/mix-f-hashed.prior"},
}

# Added with format 1.5: the optional ``winmix`` codec (FORMAT.md 9.4.11). Spikes with T = 4 and
# C = 8 (two groups of 4 channels: the lines of E, X and Y); counts of 2, 4 and 8 bits (the escape
# tree; 8-bit with G TP = 64, so table F is hashed); a chunk whose coding does not pay (packed);
# several chunks; a plane of more than 2^18 positions (hb = 22, tables C and G hashed); C = 260
# (channel groups wrap at 256; keyX and keyY carry c + 1 and c + 2 past 255 into run's bits) and
# C = 80 (groups that wrap at 64 in mix but not here); T = 12 (tp capped, the history wrapping);
# chunks of 49152 significance decisions (the learning rate recomputed at each of 48 multiples of
# 1024: 42, 41 from D = 1024, 40 from D = 38912; D, rate and run start afresh in the second
# chunk); all-zero chunks (no final byte; 0 bytes); merged and reordered axes, coded and packed;
# one sample a compact record; chunks coded from a prior, named and embedded; a prior of
# T = min(6, 4) = 4 serving chunks of T = 6; a prior made by hand whose X states hold counts of
# every confidence and whose significance sets' bias weights differ by confidence.
VALID["winmix-spikes"] = {"array": {"shape": [4, 6, 8, 5, 5], "bits": 1, "rate": 0.3, "seed": 90, "correlated": True}, "encode": {"codec": "winmix", "chunk": [4]}}
VALID["winmix-counts2"] = {"array": {"shape": [3, 6, 6, 4, 4], "bits": 2, "rate": 0.3, "seed": 91, "correlated": True}, "encode": {"codec": "winmix", "chunk": [3]}}
VALID["winmix-counts4"] = {"array": {"shape": [3, 6, 6, 4, 4], "bits": 4, "rate": 0.3, "seed": 92, "correlated": True}, "encode": {"codec": "winmix", "chunk": [3]}}
VALID["winmix-counts8"] = {"array": {"shape": [4, 2, 16, 2, 2], "bits": 8, "rate": 0.4, "seed": 93, "correlated": True}, "encode": {"codec": "winmix", "chunk": [4]}}
VALID["winmix-packed"] = {"array": {"shape": [2, 2, 3, 4, 4], "bits": 1, "rate": 0.5, "seed": 94}, "encode": {"codec": "winmix", "chunk": [1]}}
VALID["winmix-chunks"] = {"array": {"shape": [3, 8, 6, 5, 5], "bits": 1, "rate": 0.2, "seed": 95, "correlated": True}, "encode": {"codec": "winmix", "chunk": [3, 2]}}
VALID["winmix-hashed"] = {
    "array": {"shape": [1, 1, 1, 512, 513], "bits": 2, "rate": 0.01, "seed": 96},
    "encode": {"codec": "winmix", "axes": ["T", "N", "C", "H", "W"]},
}
VALID["winmix-wide-c"] = {"array": {"shape": [2, 1, 300, 3, 3], "bits": 2, "rate": 0.05, "seed": 97, "correlated": True}, "encode": {"codec": "winmix", "chunk": [2]}}
VALID["winmix-mid-c"] = {"array": {"shape": [2, 2, 80, 2, 2], "bits": 1, "rate": 0.3, "seed": 98, "correlated": True}, "encode": {"codec": "winmix", "chunk": [2]}}
VALID["winmix-long-t"] = {"array": {"shape": [12, 3, 4, 3, 3], "bits": 1, "rate": 0.35, "seed": 99, "correlated": True}, "encode": {"codec": "winmix", "chunk": [12]}}
VALID["winmix-rate"] = {"array": {"shape": [4, 24, 16, 8, 8], "bits": 1, "rate": 0.2, "seed": 100, "correlated": True}, "encode": {"codec": "winmix", "chunk": [4, 12]}}
VALID["winmix-zeros"] = {"array": {"shape": [4, 3, 8, 5, 5], "bits": 1, "rate": 0.0, "seed": 101}, "encode": {"codec": "winmix", "chunk": [4]}}
VALID["winmix-zeros-tiny"] = {"array": {"shape": [1, 1, 3, 1, 1], "bits": 1, "rate": 0.0, "seed": 102}, "encode": {"codec": "winmix"}}
VALID["winmix-merged-axes"] = {
    "array": {"shape": [2, 3, 2, 3, 4, 5], "bits": 1, "rate": 0.15, "seed": 103, "correlated": True},
    "encode": {"codec": "winmix", "axes": ["N", "C", "T", "S", "H", "W"], "chunk": [2]},
}
VALID["winmix-packed-transposed"] = {"array": {"shape": [2, 3, 4, 4], "bits": 1, "rate": 0.5, "seed": 104}, "encode": {"codec": "winmix", "axes": ["N", "T", "H", "W"], "chunk": [2]}}
VALID["compact-winmix"] = {
    "array": {"shape": [3, 4, 8, 6, 6], "bits": 1, "rate": 0.15, "seed": 105, "correlated": True},
    "encode": {"codec": "winmix", "axes": ["N", "T", "C", "H", "W"], "chunk": [1], "records": "compact-unkeyed"},
}
PRIORS["winmix"] = {"array": {"shape": [3, 10, 4, 2, 2], "bits": 2, "rate": 0.3, "seed": 16, "correlated": True}, "chunk": [3, 1]}
VALID["prior-winmix-named"] = {
    "array": {**PRIORS["winmix"]["array"], "shape": [3, 3, 4, 2, 2], "seed": 106},
    "encode": {"codec": "winmix", "chunk": [3, 1], "prior": "priors/winmix.prior"},
}
VALID["prior-winmix-embedded"] = {
    "array": {**PRIORS["winmix"]["array"], "shape": [3, 3, 4, 2, 2], "seed": 107},
    "encode": {"codec": "winmix", "chunk": [3, 1], "prior": "priors/winmix.prior", "embed_prior": True},
}
PRIORS["winmix-long-t"] = {"codec": "winmix", "array": {"shape": [6, 10, 2, 4, 4], "bits": 2, "rate": 0.3, "seed": 16, "correlated": True},
                           "chunk": [6, 1]}
VALID["prior-winmix-long-t"] = {
    "array": {"shape": [6, 3, 2, 4, 4], "bits": 2, "rate": 0.3, "seed": 108, "correlated": True},
    "encode": {"codec": "winmix", "chunk": [6, 1], "prior": "priors/winmix-long-t.prior", "embed_prior": True},
}
DERIVED_PRIORS["winmix-conf"] = (
    "the winmix prior's geometry; fresh tables but every state of table X, entry i, p = 2^21 + 2^17 ((i mod 5) - 2) with "
    "n = 0, 1, 2, 3, 11 or 12 for i mod 6 = 0 .. 5 (conf 0, 1, 1, 2, 2, 3: each bound of conf from both sides); each "
    "significance set's bias weight 10240 (2 conf - 3), "
    "conf = (set mod 64) div 16 (d moved by -120, -40, 40, 120)")
VALID["prior-winmix-conf"] = {
    "array": {"shape": [3, 4, 4, 2, 2], "bits": 2, "rate": 0.2, "seed": 109, "correlated": True},
    "encode": {"codec": "winmix", "chunk": [3], "prior": "priors/winmix-conf.prior", "embed_prior": True},
}
# Added after the outside implementation of 9.4.11: the winmix twin of prior-ctxmix-packed-short-row,
# chunks coded from the winmix prior (T = min(3, 4) = 3) but the short last row (T = 1, not the
# prior's geometry) stored packed: no model starts, so the prior is not checked against it.
VALID["prior-winmix-packed-short-row"] = {  # the last row (T = 1) as the packed elements, the rows before coded
    "array": {**PRIORS["winmix"]["array"], "shape": [4, 3, 4, 2, 2], "seed": 110},
    "encode": {"codec": "winmix", "chunk": [3, 1], "prior": "priors/winmix.prior", "embed_prior": True},
    "packed_last_row": True,
}

# Added after the outside implementations of 9.4.4 - 9.4.11 were run again with every vector above:
# rules that none of them made matter (mutating the rule still decoded every vector).
# winmix (9.4.11): the twins of prior-mix-clamp-update and prior-mix-clamp-bound, priors made by hand
# whose weights lie beyond the clamp in every set a chunk of sparse counts uses (each update's
# result is clamped; the weights' first use is as stored) or rest at its bound 2^20 while d stays
# near 0 (a reader that never clamps, clamps to 2^20 - 1 or to -2^20 .. 2^20 - 1 decodes other
# bits); and table F hashed, of 8-bit elements (G TP = 64) and of 4-bit ones (C = 241, so
# G TP = 964 and G TP 17 x 256 > 2^22, the fewest channels that hash F there), whose prior's F states
# are set at the hashed slots of the chunk's keys (fresh tables hold no state a reader that hashes
# F another way, such as key mod Z_F, could miss: these do).
DERIVED_PRIORS["winmix-clamp-update"] = (
    "the winmix prior's geometry; every state p = 2^21 - 2^14 (a prediction of -4) with n = 5; each significance set's "
    "model weights 2^20 + 50000 (A), 19661 or -2^20 - 30000 (B, in even and odd sets), 2^20 + 70000 (C), 19661 (E), "
    "2^20 + 10000 (W), 2^20 + 60000 (X), -2^20 - 40000 (Y); each magnitude set's 2^20 + 40000 (F), -2^20 - 20000 (G); "
    "every bias 0")
DERIVED_PRIORS["winmix-clamp-bound"] = (
    "the winmix prior's geometry; every state p = 968 x 2^10 (a prediction of -300) with n = 1023 (the slowest rate); "
    "each significance set's model weights 2^20 + 50000 (A, C), -2^20 + 2000 (B, E), 0 (W, X, Y); each magnitude set's "
    "2^20 + 50000 (F), -2^20 + 2000 (G); every bias 0: A and C rest at 2^20 after their first update while d stays "
    "near 0, so a clamp to 2^20 - 1 shifts d's sum by -q_A - q_C, often across a multiple of 2^16")
DERIVED_PRIORS["winmix-f-hashed"] = (
    "geometry bits 8, T 4, C 16, H 2, W 2 (K_F = 64 x 257 x 256 > 2^22: F hashed); fresh tables but the F states at "
    "the hashed slots of the keys of the level and escape decisions of VALID['prior-winmix-f-hashed']'s array, each "
    "p = 2^22 - 2^18 (a decision of 1) or 2^18 (of 0), the bit the slot's first decision codes, with n = 20")
DERIVED_PRIORS["winmix-f-hashed-bits4"] = (
    "geometry bits 4, T 4, C 241, H 2, W 2 (K_F = 241 x 4 x 17 x 256 > 2^22: F hashed); fresh tables but the F states "
    "at the hashed slots of the keys of the level and escape decisions of VALID['prior-winmix-f-hashed-bits4']'s array, "
    "each p = 2^22 - 2^18 (a decision of 1) or 2^18 (of 0), the bit the slot's first decision codes, with n = 20")
VALID["prior-winmix-clamp-update"] = {
    "array": {"shape": [3, 4, 4, 2, 2], "bits": 2, "rate": 0.05, "seed": 111},
    "encode": {"codec": "winmix", "chunk": [3], "prior": "priors/winmix-clamp-update.prior", "embed_prior": True},
}
VALID["prior-winmix-clamp-bound"] = {
    "array": {"shape": [3, 16, 4, 2, 2], "bits": 2, "rate": 0.05, "seed": 112},
    "encode": {"codec": "winmix", "chunk": [3], "prior": "priors/winmix-clamp-bound.prior", "embed_prior": True},
}
VALID["prior-winmix-f-hashed"] = {
    "array": {"shape": [4, 1, 16, 2, 2], "bits": 8, "rate": 0.4, "seed": 113, "correlated": True},
    "encode": {"codec": "winmix", "axes": ["T", "N", "C", "H", "W"], "chunk": [4], "prior": "priors/winmix-f-hashed.prior"},
}
VALID["prior-winmix-f-hashed-bits4"] = {
    "array": {"shape": [4, 1, 241, 2, 2], "bits": 4, "rate": 0.4, "seed": 114, "correlated": True},
    "encode": {"codec": "winmix", "axes": ["T", "N", "C", "H", "W"], "chunk": [4], "prior": "priors/winmix-f-hashed-bits4.prior"},
}
# ctxmix (9.4.9): 8-bit elements, C = 64 and PC = 64 x 66 x 66 > 2^18 positions, so that tables B
# (PC 16 keys), E (PC 257 x 4) and F (64 x 257 x 256) are hashed as well as A and the position sets
# (C, of exactly 2^22 keys, and D stay direct), from a prior whose B, E and F states are set at the
# hashed slots of the chunk's keys (a reader that hashes one of them another way reads other states).
DERIVED_PRIORS["ctxmix-hashed-bef"] = (
    "geometry bits 8, T 1, C 64, H 66, W 66 (PC = 278784 > 2^18: A, B, E and F hashed, C and D direct); fresh tables "
    "but the states of B, E and F at the hashed slots of the keys of VALID['prior-ctxmix-hashed-bef']'s array (B of "
    "its significance decisions, E and F of its level and escape decisions), each p = 2^22 - 2^18 (a decision of 1) "
    "or 2^18 (of 0), the bit the slot's first decision codes, with n = 20")
VALID["prior-ctxmix-hashed-bef"] = {
    "array": {"shape": [1, 1, 64, 66, 66], "bits": 8, "rate": 0.05, "seed": 115},
    "encode": {"codec": "ctxmix", "axes": ["T", "N", "C", "H", "W"], "prior": "priors/ctxmix-hashed-bef.prior"},
}
# The context family (9.4.4 - 9.4.8): an entropy coder's payload through zstd (the pipeline run
# backwards, 9.1); priors embedded in the header, for order0, context, countctx and ctxlanes; compact
# records (5.2) of context, countctx and ctxlanes payloads (of 256 bytes or more: CRC-32, and fewer:
# CRC-16); countctx of C = 300 (channel groups wrap at 256); auto storing chunks of transposed axes
# raw (mode 0: the packed elements in the chunk's own C order, not the canonical view's).
VALID["context-zstd"] = {
    "array": {"shape": [3, 3, 4, 6, 6], "bits": 1, "rate": 0.3, "seed": 116, "correlated": True},
    "encode": {"codec": ["context", {"id": "zstd", "level": 3}], "chunk": [3, 2]},
}
for _codec in ("order0", "context", "countctx", "ctxlanes"):
    VALID[f"prior-{_codec}-embedded"] = {
        "array": {**PRIORS[_codec]["array"], "shape": [3, 3, *PRIORS[_codec]["array"]["shape"][2:]], "seed": 117},
        "encode": {"codec": _codec, "chunk": [3, 1], "prior": f"priors/{_codec}.prior", "embed_prior": True},
    }
for _codec, _bits, _rate in (("context", 1, 0.3), ("countctx", 2, 0.15), ("ctxlanes", 1, 0.3)):
    VALID[f"compact-{_codec}"] = {
        "array": {"shape": [3, 5, 8, 8, 8], "bits": _bits, "rate": _rate, "seed": 118, "correlated": True},
        "encode": {"codec": _codec, "chunk": [3, 2], "records": "compact-unkeyed"},
    }
VALID["countctx-c300"] = {"array": {"shape": [2, 1, 300, 2, 2], "bits": 2, "rate": 0.3, "seed": 119, "correlated": True}, "encode": {"codec": "countctx", "chunk": [2]}}
VALID["auto-raw-transposed"] = {"array": {"shape": [2, 3, 4, 4], "bits": 1, "rate": 0.5, "seed": 120}, "encode": {"codec": "auto", "axes": ["N", "T", "H", "W"], "chunk": [2]}}
# Version 1.7: keyed checks (FORMAT.md 5.2, the keyed-checks extension): compact records whose
# check is the CRC of their bytes XOR a BLAKE2b key of the header CRC and the ordinal - small
# chunks (2-byte checks), payloads of 256 and 255 bytes (4- and 2-byte), and a stream with an id
# and a flushed short row.
VALID["keyed-ctxmix-small"] = {
    "array": {"shape": [6, 2, 4, 6, 6], "bits": 1, "rate": 0.3, "seed": 125, "correlated": True},
    "encode": {"codec": "ctxmix", "axes": ["N", "T", "C", "H", "W"], "chunk": [1], "records": "compact"},
}
VALID["keyed-check-boundary"] = {"array": {"shape": [1, 4088], "bits": 1, "rate": 0.5, "seed": 126},
                                 "encode": {"codec": "raw", "axes": ["T", "F"], "chunk": [1, 2048], "records": "compact"}}
VALID["keyed-stream-id"] = {
    "array": {"shape": [5, 2, 3, 3], "bits": 1, "rate": 0.3, "seed": 127},
    "stream": {"codec": "ctxmix", "axes": ["T", "N", "H", "W"], "chunk": [2], "flush_after": [2], "records": "compact",
               "stream_id": "101112131415161718191a1b1c1d1e1f"},
}
# Version 1.9: message ends (FORMAT.md 5.2, 11, the message-ends extension): the size field of a
# compact record also says whether it ends a message (a flush); rows of 2, two flushed short rows.
VALID["message-ends-stream"] = {
    "array": {"shape": [6, 2, 3, 3], "bits": 1, "rate": 0.3, "seed": 128},
    "stream": {"codec": "ctxmix", "axes": ["T", "N", "H", "W"], "chunk": [2], "flush_after": [2, 3], "records": "compact",
               "message_ends": True, "stream_id": "202122232425262728292a2b2c2d2e2f"},
}
# Version 1.8: the optional ``ctxfast`` codec (FORMAT.md 9.4.12): four sample lanes of equal
# size (the lockstep coder), lanes of unequal size (N = 6: 1, 2, 1, 2 samples; N = 5: the last
# lane longer), one lane (N = 1) and three (N = 3), counts of 2, 4 and 8 bits (the magnitude
# stream), the previous channels c - 1 .. c - 5 (C = 9), channel groups that wrap (C = 300),
# planes of one pixel and one row, all zeros, transposed axes, a prior named and embedded, and
# compact records.
for _case, _shape, _bits, _chunk, _rate in (
        ("spikes", [3, 8, 9, 7, 7], 1, [3, 4], 0.3), ("unequal-lanes", [3, 6, 5, 4, 4], 1, [3], 0.3),
        ("last-lane-longer", [2, 5, 4, 5, 3], 1, [2], 0.4), ("one-lane", [4, 1, 6, 6, 6], 1, [4], 0.3),
        ("three-lanes", [2, 3, 7, 5, 5], 1, [2], 0.3), ("counts2", [3, 4, 6, 6, 6], 2, [3], 0.3),
        ("counts4", [3, 5, 4, 5, 5], 4, [3], 0.3), ("counts8", [2, 4, 3, 4, 4], 8, [2], 0.3),
        ("c300", [2, 4, 300, 2, 2], 1, [2], 0.3), ("pixels", [5, 6, 8, 1, 1], 2, [5], 0.3),
        ("rows", [3, 4, 4, 1, 9], 1, [3], 0.3), ("zeros", [3, 4, 8, 7, 7], 1, [3], 0.0)):
    VALID[f"ctxfast-{_case}"] = {
        "array": {"shape": _shape, "bits": _bits, "rate": _rate, "seed": 128, "correlated": True},
        "encode": {"codec": "ctxfast", "chunk": _chunk},
    }
VALID["ctxfast-transposed"] = {
    "array": {"shape": [6, 3, 4, 5, 5], "bits": 1, "rate": 0.3, "seed": 129, "correlated": True},
    "encode": {"codec": "ctxfast", "axes": ["N", "T", "C", "H", "W"], "chunk": [2]},
}
PRIORS["ctxfast"] = {"array": {"shape": [3, 30, 8, 6, 6], "bits": 2, "rate": 0.3, "seed": 16, "correlated": True}, "chunk": [3, 4]}
VALID["prior-ctxfast-named"] = {
    "array": {**PRIORS["ctxfast"]["array"], "shape": [3, 6, 8, 6, 6], "seed": 130},
    "encode": {"codec": "ctxfast", "chunk": [3, 1], "prior": "priors/ctxfast.prior"},
}
VALID["prior-ctxfast-embedded"] = {
    "array": {**PRIORS["ctxfast"]["array"], "shape": [3, 6, 8, 6, 6], "seed": 131},
    "encode": {"codec": "ctxfast", "chunk": [3, 5], "prior": "priors/ctxfast.prior", "embed_prior": True},
}
VALID["compact-ctxfast"] = {
    "array": {"shape": [3, 6, 8, 8, 8], "bits": 1, "rate": 0.3, "seed": 132, "correlated": True},
    "encode": {"codec": "ctxfast", "chunk": [3, 2], "records": "compact"},
}
# Version 1.10: the optional ``countmix`` codec (FORMAT.md 9.4.13), winmix with the models H and I
# for the level and escape decisions, keyed by the counts (capped at 7) of the channels c - 1 and
# c - 2 and of the pixels left and above. The array of winmix-spikes (1-bit: no level or escape
# decisions, so the payload is winmix-spikes' byte for byte); counts of 2, 4 and 8 bits (the
# escape tree; 8-bit with G TP = 64, so table F is hashed as in winmix-counts8); 4-bit counts, a
# quarter of them above 7 (U's cap); C = 1 (u1 = u2 = 0) and C = 2 (u2 = 0 at channel 1, u1 = 0
# at channel 0); several chunks; a chunk whose coding does not pay (packed); T = 12 (tp wraps);
# 8-bit counts with G TP = 260, whose table H has G TP NN 64 = 4276480 > 2^22 keys and so is
# hashed into 2^22 entries (coded from fresh tables here; prior-countmix-h-hashed seeds the hashed
# slots); all-zero 1-bit chunks (for the end rule's invalid vectors); chunks coded from a 4-bit
# prior, named and embedded.
for _case, _shape, _bits, _chunk, _rate, _seed in (
        ("spikes", [4, 6, 8, 5, 5], 1, [4], 0.3, 90), ("counts2", [3, 6, 6, 4, 4], 2, [3], 0.3, 133),
        ("counts4", [3, 6, 6, 4, 4], 4, [3], 0.3, 134), ("counts8", [4, 2, 16, 2, 2], 8, [4], 0.4, 135),
        ("above7", [3, 4, 8, 4, 4], 4, [3], 0.5, 136), ("c1", [4, 4, 1, 6, 6], 4, [4], 0.4, 137),
        ("c2", [4, 4, 2, 5, 5], 4, [4], 0.4, 138), ("chunks", [3, 8, 6, 5, 5], 2, [3, 2], 0.2, 139),
        ("long-t", [12, 3, 4, 3, 3], 2, [12], 0.35, 141), ("h-large", [4, 2, 65, 2, 2], 8, [4], 0.5, 145)):
    VALID[f"countmix-{_case}"] = {
        "array": {"shape": _shape, "bits": _bits, "rate": _rate, "seed": _seed, "correlated": True},
        "encode": {"codec": "countmix", "chunk": _chunk},
    }
VALID["countmix-packed"] = {"array": {"shape": [2, 2, 3, 4, 4], "bits": 2, "rate": 0.9, "seed": 140}, "encode": {"codec": "countmix", "chunk": [1]}}
VALID["countmix-zeros"] = {"array": {"shape": [4, 3, 8, 5, 5], "bits": 1, "rate": 0.0, "seed": 142}, "encode": {"codec": "countmix", "chunk": [4]}}
PRIORS["countmix"] = {"array": {"shape": [3, 6, 4, 2, 2], "bits": 4, "rate": 0.3, "seed": 16, "correlated": True}, "chunk": [3, 1]}
VALID["prior-countmix-named"] = {
    "array": {**PRIORS["countmix"]["array"], "shape": [3, 3, 4, 2, 2], "seed": 143},
    "encode": {"codec": "countmix", "chunk": [3, 1], "prior": "priors/countmix.prior"},
}
VALID["prior-countmix-embedded"] = {
    "array": {**PRIORS["countmix"]["array"], "shape": [3, 3, 4, 2, 2], "seed": 146},
    "encode": {"codec": "countmix", "chunk": [3, 1], "prior": "priors/countmix.prior", "embed_prior": True},
}
DERIVED_PRIORS["countmix-h-hashed"] = (
    "geometry bits 8, T 4, C 65, H 2, W 2 (K_H = 260 x 257 x 64 > 2^22: H hashed); fresh tables but the H states at "
    "the hashed slots of the keys of the level and escape decisions of VALID['prior-countmix-h-hashed']'s array, each "
    "p = 2^22 - 2^18 (a decision of 1) or 2^18 (of 0), the bit the slot's first decision codes, with n = 20")
VALID["prior-countmix-h-hashed"] = {
    "array": {"shape": [4, 1, 65, 2, 2], "bits": 8, "rate": 0.5, "seed": 147, "correlated": True},
    "encode": {"codec": "countmix", "axes": ["T", "N", "C", "H", "W"], "chunk": [4], "prior": "priors/countmix-h-hashed.prior"},
}
# Version 1.11: the optional ``chanmix`` codec (FORMAT.md 9.4.14), countmix with table E keyed by
# bits 32..47 of the run and a per-channel weight set averaged with the significance set. The
# arrays of countmix's cases (1-bit spikes; counts of 2, 4 and 8 bits, table F hashed for 8-bit
# with G TP = 64; C = 1 and C = 2, where c1 and c2 read below channel 0; several chunks; T = 12);
# C = 300, whose channel sets wrap at 256 (cg = c mod 256); a chunk whose coding does not pay
# (packed); all-zero 1-bit chunks (for the end rule's invalid vectors); chunks coded from a 4-bit
# prior, named and embedded.
for _case, _shape, _bits, _chunk, _rate, _seed in (
        ("spikes", [4, 6, 8, 5, 5], 1, [4], 0.3, 150), ("counts2", [3, 6, 6, 4, 4], 2, [3], 0.3, 151),
        ("counts4", [3, 6, 6, 4, 4], 4, [3], 0.3, 153), ("counts8", [4, 2, 16, 2, 2], 8, [4], 0.4, 163),
        ("c1", [4, 4, 1, 6, 6], 1, [4], 0.4, 154), ("c2", [4, 4, 2, 5, 5], 4, [4], 0.4, 155),
        ("c300", [2, 3, 300, 2, 2], 1, [2], 0.3, 156), ("chunks", [3, 8, 6, 5, 5], 2, [3, 2], 0.2, 157),
        ("long-t", [12, 3, 4, 3, 3], 1, [12], 0.35, 158)):
    VALID[f"chanmix-{_case}"] = {
        "array": {"shape": _shape, "bits": _bits, "rate": _rate, "seed": _seed, "correlated": True},
        "encode": {"codec": "chanmix", "chunk": _chunk},
    }
VALID["chanmix-packed"] = {"array": {"shape": [2, 2, 3, 4, 4], "bits": 2, "rate": 0.9, "seed": 159}, "encode": {"codec": "chanmix", "chunk": [1]}}
VALID["chanmix-zeros"] = {"array": {"shape": [4, 3, 8, 5, 5], "bits": 1, "rate": 0.0, "seed": 160}, "encode": {"codec": "chanmix", "chunk": [4]}}
PRIORS["chanmix"] = {"array": {"shape": [3, 6, 4, 2, 2], "bits": 4, "rate": 0.3, "seed": 17, "correlated": True}, "chunk": [3, 1]}
VALID["prior-chanmix-named"] = {
    "array": {**PRIORS["chanmix"]["array"], "shape": [3, 3, 4, 2, 2], "seed": 161},
    "encode": {"codec": "chanmix", "chunk": [3, 1], "prior": "priors/chanmix.prior"},
}
VALID["prior-chanmix-embedded"] = {
    "array": {**PRIORS["chanmix"]["array"], "shape": [3, 3, 4, 2, 2], "seed": 162},
    "encode": {"codec": "chanmix", "chunk": [3, 1], "prior": "priors/chanmix.prior", "embed_prior": True},
}

# Version 1.12: the optional ``framemix`` codec (FORMAT.md 9.4.15), chanmix with two more
# significance models: P, the previous sample of the chunk around the element, and L, the
# neuron's last 15 significances. chanmix's kinds of case, and: samples that repeat exactly and
# samples that change a little from one to the next (P's key reads the sample before); T = 20
# (long keeps its last 15 steps); H = W = 1 (every Q but the element's own is outside the plane);
# several chunks, each starting without a sample before.
for _case, _shape, _bits, _chunk, _rate, _seed, _more in (
        ("spikes", [4, 6, 8, 5, 5], 1, [4], 0.3, 170, {}), ("counts2", [3, 6, 6, 4, 4], 2, [3], 0.3, 171, {}),
        ("counts4", [3, 6, 6, 4, 4], 4, [3], 0.3, 172, {}), ("counts8", [4, 2, 16, 2, 2], 8, [4], 0.4, 173, {}),
        ("c1", [4, 4, 1, 6, 6], 1, [4], 0.4, 174, {}), ("c300", [2, 3, 300, 2, 2], 1, [2], 0.3, 175, {}),
        ("hw1", [4, 8, 24, 1, 1], 1, [4], 0.3, 176, {}), ("chunks", [3, 8, 6, 5, 5], 2, [3, 3], 0.2, 177, {"frames": 4}),
        ("long-t", [20, 3, 4, 3, 3], 1, [20], 0.35, 178, {}),
        ("repeated", [2, 8, 6, 5, 5], 1, [2], 0.3, 179, {"frames": 2}),
        ("frames", [2, 8, 6, 5, 5], 4, [2], 0.3, 180, {"frames": 4, "redraw": 0.05})):
    VALID[f"framemix-{_case}"] = {
        "array": {"shape": _shape, "bits": _bits, "rate": _rate, "seed": _seed, "correlated": True, **_more},
        "encode": {"codec": "framemix", "chunk": _chunk},
    }
VALID["framemix-packed"] = {"array": {"shape": [2, 2, 3, 4, 4], "bits": 2, "rate": 0.9, "seed": 181}, "encode": {"codec": "framemix", "chunk": [1]}}
VALID["framemix-zeros"] = {"array": {"shape": [4, 3, 8, 5, 5], "bits": 1, "rate": 0.0, "seed": 182}, "encode": {"codec": "framemix", "chunk": [4]}}
PRIORS["framemix"] = {"array": {"shape": [3, 6, 4, 2, 2], "bits": 4, "rate": 0.3, "seed": 18, "correlated": True, "frames": 2,
                                "redraw": 0.1}, "chunk": [3, 2]}
VALID["prior-framemix-named"] = {
    "array": {**PRIORS["framemix"]["array"], "shape": [3, 4, 4, 2, 2], "seed": 183},
    "encode": {"codec": "framemix", "chunk": [3, 2], "prior": "priors/framemix.prior"},
}
VALID["prior-framemix-embedded"] = {  # one sample a chunk, as _short_last_row takes it
    "array": {**PRIORS["framemix"]["array"], "shape": [3, 3, 4, 2, 2], "seed": 184},
    "encode": {"codec": "framemix", "chunk": [3, 1], "prior": "priors/framemix.prior", "embed_prior": True},
}

# Added after outside implementations of the codecs written from FORMAT.md alone broke rules that
# no vector above reached (each vector fails a reader that breaks its rule; spec/README.md):
# ctxmix's decision test `code <= mid` (a chunk whose coder ends with high = 2^32 - 1 after a
# 1-decision: the code then equals mid at that decision; found among seeds 190..); the magnitude
# tables' channel groups Gm = 64, not G = 70, of 8-bit context and ctxfast (C = 70 > 2^(14 - 8));
# countctx's level and escape tables by G = 70, not Gm = 64; ctxfast's updates of a step lane 0
# first, where the significance counters of context 0 reach 1024 inside a step whose lanes code
# different bits (seed 190: a reader updating lane 3 first decodes other values); framemix from an
# embedded prior with four samples a chunk in runs of four (P's Q, a and agree terms).
# No vector pins ctxmix's check of E between elements against a reader that leaves it out: once E
# reaches the payload's length, `code` holds four bytes past the end (0xFF), above every mid, so
# every later decision is 0, no later element can be above the top, and the end check fails as
# the skipped check would have (ctxmix-end, same offset). A reader checking E >= length instead
# fails valid/ctxmix-zeros.
VALID["ctxmix-code-at-mid"] = {"array": {"shape": [1, 1, 1, 24, 24], "bits": 2, "rate": 0.005, "seed": 195}, "encode": {"codec": "ctxmix"}}
VALID["context-gm-cap"] = {"array": {"shape": [2, 1, 70, 3, 3], "bits": 8, "rate": 0.5, "seed": 196}, "encode": {"codec": "context", "chunk": [2]}}
VALID["ctxfast-gm-cap"] = {"array": {"shape": [2, 1, 70, 3, 3], "bits": 8, "rate": 0.5, "seed": 197}, "encode": {"codec": "ctxfast", "chunk": [2]}}
VALID["countctx-g-not-gm"] = {"array": {"shape": [2, 1, 70, 3, 3], "bits": 8, "rate": 0.5, "seed": 198}, "encode": {"codec": "countctx", "chunk": [2]}}
VALID["ctxfast-halving-in-step"] = {"array": {"shape": [1, 4, 1, 24, 24], "bits": 1, "rate": 0.05, "seed": 190}, "encode": {"codec": "ctxfast"}}
VALID["prior-framemix-embedded-samples"] = {
    "array": {**PRIORS["framemix"]["array"], "shape": [3, 8, 4, 2, 2], "seed": 185, "frames": 4},
    "encode": {"codec": "framemix", "chunk": [3, 4], "prior": "priors/framemix.prior", "embed_prior": True},
}

# Version 1.13: the optional ``neuronmix`` codec (FORMAT.md 9.4.17), neuron by neuron: a flag, then
# a firing neuron's steps, then for counts each firing step's value. 1-bit spikes; 2-, 4- and
# 8-bit counts; T = 1 (every firing neuron's one step is forced: flags and values only); T = 20
# (tq stops at 15); C = 1; C = 70 (g wraps at 64, c mod MG at 16, recf and recs keep 12
# channels); C = 300 (gf wraps at 256); H = W = 1; several chunks (each starts without a sample before); samples that
# repeat (F3 and B4 read the sample before); a plane of 725 x 725 whose tables F2 and B2 are
# hashed; the packed fallback; all zeros (one flag a neuron).
for _case, _shape, _bits, _chunk, _rate, _seed, _more in (
        ("spikes", [4, 6, 8, 5, 5], 1, [4], 0.3, 200, {}), ("counts2", [3, 6, 6, 4, 4], 2, [3], 0.3, 201, {}),
        ("counts4", [3, 6, 6, 4, 4], 4, [3], 0.3, 202, {}), ("counts8", [4, 2, 16, 2, 2], 8, [4], 0.4, 203, {}),
        ("t1", [1, 8, 6, 5, 5], 4, [1], 0.4, 204, {}), ("long-t", [20, 3, 4, 3, 3], 1, [20], 0.35, 205, {}),
        ("c1", [4, 4, 1, 6, 6], 1, [4], 0.4, 206, {}), ("c70", [3, 3, 70, 2, 2], 2, [3], 0.3, 207, {}),
        ("c300", [2, 3, 300, 2, 2], 1, [2], 0.3, 214, {}),
        ("hw1", [4, 8, 24, 1, 1], 1, [4], 0.3, 208, {}), ("chunks", [3, 8, 6, 5, 5], 1, [3, 3], 0.2, 209, {"frames": 4}),
        ("repeated", [2, 8, 6, 5, 5], 1, [2], 0.3, 210, {"frames": 2}),
        ("hashed", [2, 1, 1, 725, 725], 1, [2], 0.01, 211, {})):
    VALID[f"neuronmix-{_case}"] = {
        "array": {"shape": _shape, "bits": _bits, "rate": _rate, "seed": _seed, "correlated": True, **_more},
        "encode": {"codec": "neuronmix", "chunk": _chunk},
    }
VALID["neuronmix-packed"] = {"array": {"shape": [2, 2, 3, 4, 4], "bits": 2, "rate": 0.9, "seed": 212}, "encode": {"codec": "neuronmix", "chunk": [1]}}
VALID["neuronmix-zeros"] = {"array": {"shape": [4, 3, 8, 5, 5], "bits": 1, "rate": 0.0, "seed": 213}, "encode": {"codec": "neuronmix", "chunk": [4]}}
# Added later (format unchanged), rules of 9.4.17 that an outside implementation misread and still
# passed every vector above: the mixer's weight clamp at 2^20 (a flag weight set's bias falls by 1
# a decision while a plane is silent and P12 is 1: 2^20 silent neurons before a sparse last row;
# a reader clamping at 2^19, or not at all, then decodes that row otherwise; the bias falls by
# rounding at most 1 a decision and a set takes at most one decision an element, so this way no
# input of fewer than 2^20 elements does it); a value's P12 kept at least 1 (2-bit counts all 1:
# M's state for the first bit falls below p = 2^10, p >> 10 = 0); a table of exactly 2^22 keys
# indexed directly (B2's K is 2^22 at C H W TQ = 2^18: a reader hashing it mixes up keys); pos
# = (c H + h) W + w in a hashed table with C = 2 (with direct indexing any other layout of pos
# only renames entries); and the canonical view (9.4.1) of axes other than T, N, C, H, W: in
# another order (chunked along N), others merged into N in their order (`t` is not T), no T.
VALID["neuronmix-weight-clamp"] = {"array": {"shape": [1, 1, 1, 1026, 1024], "bits": 1, "rate": 0.2, "seed": 215, "quiet": 1025 * 1024},
                                   "encode": {"codec": "neuronmix", "chunk": [1]}}
VALID["neuronmix-value-p-floor"] = {"array": {"shape": [1, 1, 1, 1, 1100], "bits": 2, "rate": 1.0, "seed": 218, "value": 1},
                                    "encode": {"codec": "neuronmix", "chunk": [1]}}
VALID["neuronmix-k-at-cap"] = {"array": {"shape": [16, 1, 1, 128, 128], "bits": 1, "rate": 0.3, "seed": 216, "correlated": True},
                               "encode": {"codec": "neuronmix", "chunk": [16]}}
VALID["neuronmix-hashed-c2"] = {"array": {"shape": [16, 1, 2, 91, 91], "bits": 1, "rate": 0.3, "seed": 217, "correlated": True},
                                "encode": {"codec": "neuronmix", "chunk": [16]}}
VALID["neuronmix-axes-order"] = {"array": {"shape": [4, 3, 5, 2, 3], "bits": 2, "rate": 0.3, "seed": 219, "correlated": True},
                                 "encode": {"codec": "neuronmix", "axes": ["N", "H", "W", "C", "T"], "chunk": [2]}}
VALID["neuronmix-axes-merged"] = {"array": {"shape": [3, 2, 3, 4, 3, 3], "bits": 1, "rate": 0.3, "seed": 220, "correlated": True},
                                  "encode": {"codec": "neuronmix", "axes": ["T", "S", "t", "C", "H", "W"], "chunk": [3]}}
VALID["neuronmix-axes-no-t"] = {"array": {"shape": [6, 5, 4, 4], "bits": 4, "rate": 0.4, "seed": 221, "correlated": True},
                                "encode": {"codec": "neuronmix", "axes": ["N", "C", "H", "W"], "chunk": [6]}}
# Added later (format unchanged), rules of 9.4.15 and those it builds on that an outside decoder of
# framemix planted errors in and still passed every framemix vector above (spec/README.md): the
# decision test `code <= mid` (found among seeds 190..391: a reader testing `<` fails the end check);
# the canonical view of reordered and of merged axes; compact records. The exact end against a
# trailing 0xFF byte: invalid/framemix-trailing-ff.
VALID["framemix-code-at-mid"] = {"array": {"shape": [1, 1, 1, 24, 24], "bits": 2, "rate": 0.005, "seed": 391},
                                 "encode": {"codec": "framemix", "chunk": [1]}}
VALID["framemix-axes-order"] = {"array": {"shape": [4, 3, 5, 2, 3], "bits": 2, "rate": 0.3, "seed": 222, "correlated": True},
                                "encode": {"codec": "framemix", "axes": ["N", "H", "W", "C", "T"], "chunk": [2]}}
VALID["framemix-axes-merged"] = {"array": {"shape": [3, 2, 3, 4, 3, 3], "bits": 1, "rate": 0.3, "seed": 223, "correlated": True},
                                 "encode": {"codec": "framemix", "axes": ["T", "S", "t", "C", "H", "W"], "chunk": [3]}}
VALID["framemix-compact"] = {"array": {"shape": [2, 6, 4, 3, 3], "bits": 1, "rate": 0.3, "seed": 224, "correlated": True},
                             "encode": {"codec": "framemix", "chunk": [2, 2], "records": "compact"}}
# Added later (format unchanged), rules of 9.4.12 that an outside implementation of ctxfast
# misread and still passed every vector above: the magnitude groups' cap of 256 with bits > 1
# (Gm = min(C, 256, 2^(14 - bits)): C = 257 of 2-bit counts, channel 256 in group 0, not 256; a
# reader without the cap decodes other values), and a chunk without elements (no lanes, the empty
# payload: not R word counts of 0; invalid/ctxfast-empty-chunk-words is one with words).
VALID["ctxfast-gm-cap-bits2"] = {"array": {"shape": [1, 1, 257, 1, 1], "bits": 2, "rate": 0.9, "seed": 224}, "encode": {"codec": "ctxfast"}}
VALID["ctxfast-empty-axis"] = {"array": {"shape": [2, 0, 4, 3, 3], "bits": 1, "rate": 0.0, "seed": 225}, "encode": {"codec": "ctxfast", "chunk": [1]}}
# Also hs at t >= 3 (7 + S(t-1) + 2 S(t-2) + 4 S(t-3), 9.4.5), which only a prior can pin: fresh
# tables make any order of those terms a renaming of contexts, and the ctxfast prior (T = 3)
# never trained hs >= 7. A prior trained on chunks of T = 6 and a chunk of T = 6 coded from it
# (a reader ordering the terms otherwise decodes other values).
PRIORS["ctxfast-long-t"] = {"codec": "ctxfast", "array": {"shape": [6, 8, 4, 5, 5], "bits": 2, "rate": 0.3, "seed": 17, "correlated": True},
                            "chunk": [6, 4]}
VALID["prior-ctxfast-long-t"] = {"array": {"shape": [6, 4, 4, 5, 5], "bits": 2, "rate": 0.3, "seed": 226, "correlated": True},
                                 "encode": {"codec": "ctxfast", "chunk": [6], "prior": "priors/ctxfast-long-t.prior", "embed_prior": True}}
# Added later (format unchanged): chunk grids of at least 2 x 2 on two or more chunked axes after
# axis 0 (FORMAT.md 4.2: within a row, C order of the origins on axes 1..k-1, the last chunked axis
# fastest), which rank8's 1 x 1 grid left open: k = 3 with edge chunks on every axis and rows of 2
# and 1 (classic records, G = 2 x 2 = 4), and k = 4 with a 2 x 2 x 2 grid of chunks of one shape
# (compact records, which state no origin: a reader that orders a row's chunks otherwise decodes
# another array without any error).
VALID["chunks-3d"] = {"array": {"shape": [3, 4, 5, 6], "bits": 1, "rate": 0.3, "seed": 214},
                      "encode": {"codec": "raw", "chunk": [2, 2, 3]}}
VALID["chunks-4d-compact"] = {"array": {"shape": [3, 4, 4, 6, 2], "bits": 2, "rate": 0.4, "seed": 215},
                              "encode": {"codec": "raw", "chunk": [2, 2, 2, 3], "records": "compact"}}
# Metadata numbers at the edge of section 1's rule (a number too large for a double counts as
# Infinity: 2^1024 - 2^970 or more): the largest double, and the largest integer literal below the
# limit (309 digits), which rounds to the largest double; both are valid JSON a reader MUST accept
# (invalid/metadata-integer-309-digits-infinite is the limit itself).
VALID["metadata-largest-double"] = {"array": {"shape": [2, 3], "bits": 1, "rate": 0.5, "seed": 217},
                                    "encode": {"codec": "raw", "axes": ["T", "N"],
                                               "metadata": {"a": 1.7976931348623157e308, "b": -1.7976931348623157e308}}}
VALID["metadata-integer-309-digits"] = {"array": {"shape": [2, 3], "bits": 1, "rate": 0.5, "seed": 218},
                                        "encode": {"codec": "raw", "axes": ["T", "N"],
                                                   "metadata": {"a": 2**1024 - 2**970 - 1, "b": -(2**1024 - 2**970 - 1)}}}

_loaded_priors: dict[str, spikecodec.Prior] = {}


def prior_file(rel: str) -> Path:
    """A prior named in a vector's parameters (``priors/NAME.prior``, relative to spec/vectors)."""
    return VECTORS / rel


def get_prior(rel: str) -> spikecodec.Prior:
    """The prior file ``rel``, read from disk (once); ``ensure_priors`` may have put an unsaved
    one here when run without ``--write``."""
    if rel not in _loaded_priors:
        _loaded_priors[rel] = spikecodec.load_prior(prior_file(rel))
    return _loaded_priors[rel]


def ensure_priors(write: bool) -> dict[str, spikecodec.Prior]:
    """Each prior of PRIORS and DERIVED_PRIORS: read from its file when it exists (it is never
    made again), else made now and, with ``write``, saved and read back."""
    out = {}
    for name in [*PRIORS, *DERIVED_PRIORS]:
        rel = f"priors/{name}.prior"
        path = prior_file(rel)
        if not path.exists():
            prior = _derived_prior(name) if name in DERIVED_PRIORS else _trained_prior(name)
            if write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(prior.data)
                _loaded_priors.pop(rel, None)
            else:
                _loaded_priors[rel] = prior
        out[name] = get_prior(rel)
    return out


def _trained_prior(name: str) -> spikecodec.Prior:
    recipe = PRIORS[name]
    codec = recipe.get("codec", name)
    return spikecodec.train_prior(make_array(recipe["array"]), codec, chunk=tuple(recipe["chunk"]),
                                  bits=recipe["array"]["bits"], info={"conformance": f"spec/generate.py PRIORS[{name!r}]"})


def _derived_prior(name: str) -> spikecodec.Prior:
    info = {"conformance": f"spec/generate.py DERIVED_PRIORS[{name!r}]"}
    if name.startswith("ctxmix-"):
        return _derived_ctxmix_prior(name, info)
    if name in ("mix-clamp-update", "mix-clamp-bound", "mix-clamp-bound-low", "mix-f-hashed"):
        return _derived_mix_prior(name, info)
    if name.startswith("winmix-"):
        return _derived_winmix_prior(name, info)
    if name == "countmix-h-hashed":
        return _derived_countmix_prior(name, info)
    assert name == "mix-extreme-weights"
    base = get_prior("priors/mix.prior")
    weights = base.tables["weights"].copy()
    extremes = np.array([1 << 20, -(1 << 20), (1 << 20) + 1, -(1 << 20) - 1, (1 << 31) - 1, -(1 << 31)], np.int64)
    weights[:] = extremes[np.arange(weights.size) % extremes.size]
    return spikecodec.Prior(base.codec, dict(base.geometry), {**base.tables, "weights": weights}, info)


def _ctxmix_state(p: int, n: int) -> int:
    """A ctxmix state word (FORMAT.md 9.4.9) of probability p (in units of 2^-22) and count n."""
    return ((p ^ (1 << 21)) << 10) | n


def _derived_ctxmix_prior(name: str, info: dict) -> spikecodec.Prior:
    """The ctxmix priors of DERIVED_PRIORS, made from fresh tables (9.4.9: the tables of models
    A .. F one after another; the 512 context sets and the position sets of 5 weights, then the
    magnitude sets of 3)."""
    from spikecodec.codecs.kernels import binary
    from spikecodec.codecs.kernels import ctxmix as kernels

    geometry = {"ctxmix-hashed": {"bits": 1, "T": 1, "C": 1, "H": 260, "W": 260},
                "ctxmix-a-direct": {"bits": 1, "T": 1, "C": 1, "H": 64, "W": 64},
                "ctxmix-hashed-bef": {"bits": 8, "T": 1, "C": 64, "H": 66, "W": 66}}.get(name) or dict(get_prior("priors/ctxmix.prior").geometry)
    T, C, H, W, bits = (geometry[a] for a in ("T", "C", "H", "W", "bits"))
    codec = spikecodec.get_codec("ctxmix")
    tables = codec.fresh_tables(geometry)
    states, weights = tables["states"].copy(), tables["weights"].astype(np.int64)
    sizes = [int(z) for z in kernels.table_sizes(T, C, H, W, bits)]
    nsig = 512 + kernels.position_sets(T, C, H, W)
    sig = weights[: 5 * nsig].reshape(nsig, 5)
    mag = weights[5 * nsig :].reshape(-1, 3)
    if name == "ctxmix-extreme-weights":
        p = (1 << 21) - (1 << 14)
        assert binary.STRETCH[p >> 10] == -4
        states[:] = _ctxmix_state(p, 5)
        sig[:, 0] = (1 << 20) + 50000
        sig[:, 1] = np.where(np.arange(nsig) % 2, -(1 << 20) - 30000, 19661)
        sig[:, 2] = (1 << 20) + 70000
        mag[:, 0] = (1 << 20) + 40000
        mag[:, 1] = -(1 << 20) - 20000
    elif name == "ctxmix-odd-sum":
        p = (1 << 21) + (1 << 11)
        assert binary.STRETCH[p >> 10] == 1 and binary.STRETCH[(1 << 21) >> 10] == 0
        states[: sizes[0]] = _ctxmix_state(p, 0)
        sig[512:, 0] = -19662
    elif name == "ctxmix-hashed":
        sig[512:, 4] = 4096 * (np.arange(nsig - 512) % 7 - 3)
    elif name == "ctxmix-a-direct":
        assert T * C * H * W * 1024 == sizes[0] == 1 << 22
        p = 1 << 16
        assert binary.STRETCH[p >> 10] == -1061
        states[: sizes[0] : 1024] = _ctxmix_state(p, 30)
    elif name == "ctxmix-hashed-bef":
        counts = [int(k) for k in kernels.context_counts(T, C, H, W, bits)]
        keys = {1: T * C * H * W * 16, 4: T * C * H * W * ((1 << bits) + 1) * 4, 5: min(C, 256) * ((1 << bits) + 1) * 256}
        assert all(keys[m] > sizes[m] == 1 << 22 for m in keys) and sizes[2] == 1 << 22 and T * C * H * W > 1 << 18
        assert all(counts[m] == keys[m] for m in keys)
        recipe = VALID["prior-ctxmix-hashed-bef"]
        assert recipe["encode"]["axes"] == ["T", "N", "C", "H", "W"] and recipe["array"]["bits"] == bits
        x = make_array(recipe["array"])
        assert list(x.shape) == [T, 1, C, H, W]
        _seed_first_bits(states, ((sum(sizes[:m]) + _slot22(key), y) for m, key, y in _ctxmix_bef_keys(x, bits)))
    else:
        raise AssertionError(name)
    return spikecodec.Prior("ctxmix", geometry, {"states": states, "weights": weights.astype(np.int32)}, info)


def _slot22(key: int) -> int:
    """The entry of a table hashed into 2^22 entries that ``key`` selects (9.4.9: the top 22 bits
    of key * 0x9E3779B97F4A7C15 mod 2^64)."""
    return ((key * 0x9E3779B97F4A7C15) % (1 << 64)) >> 42


def _seed_first_bits(states: np.ndarray, entries) -> None:
    """Set each state entry of ``entries`` ((entry, bit) in coding order) to a confident state
    (p = 2^22 - 2^18 or 2^18, n = 20) for the bit its first decision codes: a prior whose hashed
    table matters only where the hash puts the chunk's keys."""
    first: dict[int, int] = {}
    for entry, y in entries:
        first.setdefault(entry, y)
    for entry, y in first.items():
        states[entry] = _ctxmix_state((1 << 22) - (1 << 18) if y else 1 << 18, 20)


def _level_decisions(x: np.ndarray, bits: int, groups_cap: int):
    """(t, n, c, h, w, ct, node, bit) of every level and escape decision of the canonical (T, N,
    C, H, W) array ``x`` (FORMAT.md 9.4.10), in coding order; ``groups_cap`` 64 (mix) or 256."""
    T, N, C, H, W = x.shape
    TP, G = min(T, 4), max(1, min(C, groups_cap))
    for n, t, h, w, c in np.ndindex(N, T, H, W, C):
        value = int(x[t, n, c, h, w])
        if not value:
            continue
        ct = (c % G) * TP + min(t, 3)
        decisions = [(0, int(value > 1))] + ([(1, int(value > 2))] if value > 1 else [])
        if value > 2 and bits > 2:
            tree = 1
            for k in range(bits - 1, -1, -1):
                y = ((value - 3) >> k) & 1
                decisions.append((1 + tree, y))
                tree = 2 * tree + y
        for node, y in decisions:
            yield t, n, c, h, w, ct, node, y


def _mix_f_keys(x: np.ndarray, bits: int, groups_cap: int = 64) -> list[tuple[int, int]]:
    """(key, bit) of table F (FORMAT.md 9.4.10) of every level and escape decision of the
    canonical (T, N, C, H, W) array ``x``, in coding order; ``groups_cap`` 256 for winmix's F
    (9.4.11: G = max(1, min(C, 256)))."""
    NN = (1 << bits) + 1

    def v(t, n, c, h, w):
        return min(int(x[t, n, c, h, w]), 3) if t >= 0 and h >= 0 and w >= 0 else 0

    return [((ct * NN + node) * 256 + v(t - 1, n, c, h, w) + 4 * v(t - 2, n, c, h, w) + 16 * v(t, n, c, h, w - 1)
             + 64 * v(t, n, c, h - 1, w), y) for t, n, c, h, w, ct, node, y in _level_decisions(x, bits, groups_cap)]


def _countmix_h_keys(x: np.ndarray, bits: int) -> list[tuple[int, int]]:
    """(key, bit) of table H (FORMAT.md 9.4.13) of every level and escape decision of ``x``, in
    coding order."""
    NN = (1 << bits) + 1

    def u(t, n, c, h, w):
        return min(int(x[t, n, c, h, w]), 7) if c >= 0 else 0

    return [((ct * NN + node) * 64 + u(t, n, c - 1, h, w) + 8 * u(t, n, c - 2, h, w), y)
            for t, n, c, h, w, ct, node, y in _level_decisions(x, bits, 256)]


def _ctxmix_bef_keys(x: np.ndarray, bits: int) -> list[tuple[int, int, int]]:
    """(model, key, bit) of tables B (1), E (4) and F (5) of FORMAT.md 9.4.9 of every decision of
    the canonical (T, N, C, H, W) array ``x`` (B of the significance decisions, E and F of the level
    and escape ones), in coding order (t, n, c, h, w)."""
    T, N, C, H, W = x.shape
    G, NN = max(1, min(C, 256)), (1 << bits) + 1 if bits > 1 else 0
    xi = x.astype(np.int64)

    def s(t, n, c, h, w):
        return int(t >= 0 and 0 <= c < C and 0 <= h < H and 0 <= w < W and xi[t, n, c, h, w] > 0)

    def v(t, n, c, h, w):
        return min(int(xi[t, n, c, h, w]), 3) if t >= 0 and h >= 0 and w >= 0 else 0

    out = []
    for t, n, c, h, w in np.ndindex(T, N, C, H, W):
        value, tp = int(xi[t, n, c, h, w]), min(t, 3)
        pos = ((tp * C + c) * H + h) * W + w
        out.append((1, pos * 16 + s(t, n, c, h, w - 1) + 2 * s(t, n, c, h - 1, w) + 4 * s(t - 1, n, c, h, w) + 8 * s(t, n, c - 1, h, w),
                    int(value > 0)))
        if not value or bits == 1:
            continue
        v1 = v(t - 1, n, c, h, w)
        f = v1 + 4 * v(t - 2, n, c, h, w) + 16 * v(t, n, c, h, w - 1) + 64 * v(t, n, c, h - 1, w)
        decisions = [(0, int(value > 1))] + ([(1, int(value > 2))] if value > 1 else [])
        if value > 2 and bits > 2:
            tree = 1
            for k in range(bits - 1, -1, -1):
                y = ((value - 3) >> k) & 1
                decisions.append((1 + tree, y))
                tree = 2 * tree + y
        for node, y in decisions:
            out += [(4, (pos * NN + node) * 4 + v1, y), (5, ((c % G) * NN + node) * 256 + f, y)]
    return out


def _rest_at_the_clamp(states: np.ndarray, sig: np.ndarray, mag: np.ndarray, side: int) -> None:
    """The clamp-bound priors of mix and winmix (DERIVED_PRIORS), ``side`` 1 for the bound 2^20
    and -1 for -2^20: every state a prediction of -300 at the slowest rate; in each significance
    set (its weights one row of ``sig``, the bias last) the first and third models at
    side (2^20 + 50000), the second and fourth at -side (2^20 - 2000), the others 0; in each
    magnitude set F at side (2^20 + 50000), G at -side (2^20 - 2000)."""
    from spikecodec.codecs.kernels import binary

    p = 968 << 10
    assert binary.STRETCH[p >> 10] == -300 and binary.COUNT_LIMIT == 1023
    states[:] = _ctxmix_state(p, 1023)
    sig[:, 0] = sig[:, 2] = side * ((1 << 20) + 50000)
    sig[:, 1] = sig[:, 3] = -side * ((1 << 20) - 2000)
    sig[:, 4:-1] = 0
    mag[:, 0] = side * ((1 << 20) + 50000)
    mag[:, 1] = -side * ((1 << 20) - 2000)


def _derived_mix_prior(name: str, info: dict) -> spikecodec.Prior:
    """The mix priors of DERIVED_PRIORS, made from fresh tables (9.4.10: the tables of models
    A .. G one after another; the significance sets of 6 weights, then the magnitude sets of 3)."""
    from spikecodec.codecs.kernels import binary
    from spikecodec.codecs.kernels import mix as kernels

    geometry = {"mix-f-hashed": {"bits": 8, "T": 4, "C": 16, "H": 2, "W": 2}}.get(name) or dict(get_prior("priors/mix.prior").geometry)
    T, C, H, W, bits = (geometry[a] for a in ("T", "C", "H", "W", "bits"))
    tables = spikecodec.get_codec("mix").fresh_tables(geometry)
    states, weights = tables["states"].copy(), tables["weights"].astype(np.int64)
    sizes = [int(z) for z in kernels.table_sizes(T, C, H, W, bits)]
    counts = [int(k) for k in kernels.context_counts(T, C, H, W, bits)]
    nsig = int(kernels.groups(C)) * min(T, 4) * 16
    sig = weights[: 6 * nsig].reshape(nsig, 6)
    mag = weights[6 * nsig :].reshape(-1, 3)
    if name == "mix-clamp-update":
        p = (1 << 21) - (1 << 14)
        assert binary.STRETCH[p >> 10] == -4
        states[:] = _ctxmix_state(p, 5)
        sig[:, 0] = (1 << 20) + 50000
        sig[:, 1] = np.where(np.arange(nsig) % 2, -(1 << 20) - 30000, 19661)
        sig[:, 2] = (1 << 20) + 70000
        sig[:, 4] = -(1 << 20) - 10000
        mag[:, 0] = (1 << 20) + 40000
        mag[:, 1] = -(1 << 20) - 20000
    elif name in ("mix-clamp-bound", "mix-clamp-bound-low"):
        _rest_at_the_clamp(states, sig, mag, -1 if name.endswith("-low") else 1)
    elif name == "mix-f-hashed":
        assert counts[5] > sizes[5] == 1 << 22  # F hashed into 2^22 entries
        f0 = sum(sizes[:5])
        recipe = VALID["prior-mix-f-hashed"]
        assert recipe["encode"]["axes"] == ["T", "N", "C", "H", "W"] and recipe["array"]["bits"] == bits
        x = make_array(recipe["array"])
        assert list(x.shape) == [T, 1, C, H, W]
        _seed_first_bits(states, ((f0 + _slot22(key), y) for key, y in _mix_f_keys(x, bits)))
    else:
        raise AssertionError(name)
    return spikecodec.Prior("mix", geometry, {"states": states, "weights": weights.astype(np.int32)}, info)


def _derived_winmix_prior(name: str, info: dict) -> spikecodec.Prior:
    """The winmix priors of DERIVED_PRIORS, made from fresh tables (9.4.11: the tables A, B, C, E,
    F, G, W, X, Y one after another; 64 TP significance sets of 8 weights, then the magnitude sets
    of 3)."""
    from spikecodec.codecs.kernels import winmix as kernels

    geometry = {"winmix-f-hashed": {"bits": 8, "T": 4, "C": 16, "H": 2, "W": 2},
                "winmix-f-hashed-bits4": {"bits": 4, "T": 4, "C": 241, "H": 2, "W": 2}}.get(name) or dict(get_prior("priors/winmix.prior").geometry)
    T, C, H, W, bits = (geometry[a] for a in ("T", "C", "H", "W", "bits"))
    tables = spikecodec.get_codec("winmix").fresh_tables(geometry)
    states, weights = tables["states"].copy(), tables["weights"].astype(np.int64)
    sizes = [int(z) for z in kernels.table_sizes(T, C, H, W, bits)]
    if name != "winmix-conf":
        from spikecodec.codecs.kernels import binary

        nsig = min(T, 4) * 64
        sig = weights[: 8 * nsig].reshape(nsig, 8)  # A, B, C, E, W, X, Y, bias
        mag = weights[8 * nsig :].reshape(-1, 3)  # F, G, bias
        if name == "winmix-clamp-update":
            p = (1 << 21) - (1 << 14)
            assert binary.STRETCH[p >> 10] == -4
            states[:] = _ctxmix_state(p, 5)
            sig[:, 0] = (1 << 20) + 50000
            sig[:, 1] = np.where(np.arange(nsig) % 2, -(1 << 20) - 30000, 19661)
            sig[:, 2] = (1 << 20) + 70000
            sig[:, 4] = (1 << 20) + 10000
            sig[:, 5] = (1 << 20) + 60000
            sig[:, 6] = -(1 << 20) - 40000
            mag[:, 0] = (1 << 20) + 40000
            mag[:, 1] = -(1 << 20) - 20000
        elif name in ("winmix-clamp-bound", "winmix-clamp-bound-low"):
            _rest_at_the_clamp(states, sig, mag, -1 if name.endswith("-low") else 1)
        elif name in ("winmix-f-hashed", "winmix-f-hashed-bits4"):
            counts = [int(k) for k in kernels.context_counts(T, C, H, W, bits)]
            assert counts[4] > sizes[4] == 1 << 22  # F hashed into 2^22 entries
            f0 = sum(sizes[:4])
            recipe = VALID[f"prior-{name}"]
            assert recipe["encode"]["axes"] == ["T", "N", "C", "H", "W"] and recipe["array"]["bits"] == bits
            x = make_array(recipe["array"])
            assert list(x.shape) == [T, 1, C, H, W]
            _seed_first_bits(states, ((f0 + _slot22(key), y) for key, y in _mix_f_keys(x, bits, groups_cap=256)))
        else:
            raise AssertionError(name)
        return spikecodec.Prior("winmix", geometry, {"states": states, "weights": weights.astype(np.int32)}, info)
    x0 = sum(sizes[:7])
    i = np.arange(sizes[7], dtype=np.int64)
    p = (1 << 21) + (1 << 17) * (i % 5 - 2)
    n = np.array([0, 1, 2, 3, 11, 12], np.int64)[i % 6]
    states[x0 : x0 + sizes[7]] = (((p ^ (1 << 21)) << 10) | n).astype(np.uint32)
    nsig = min(T, 4) * 64
    sig = weights[: 8 * nsig].reshape(nsig, 8)
    conf = (np.arange(nsig) % 64) // 16
    sig[:, 7] = 10240 * (2 * conf - 3)
    return spikecodec.Prior("winmix", geometry, {"states": states, "weights": weights.astype(np.int32)}, info)


def _derived_countmix_prior(name: str, info: dict) -> spikecodec.Prior:
    """The countmix prior of DERIVED_PRIORS: fresh tables (9.4.13: A, B, C, E, F, G, W, X, Y, H, I
    one after another) but the H states at the hashed slots of the recipe array's keys."""
    from spikecodec.codecs.kernels import countmix as kernels

    assert name == "countmix-h-hashed"
    geometry = {"bits": 8, "T": 4, "C": 65, "H": 2, "W": 2}
    T, C, H, W, bits = (geometry[a] for a in ("T", "C", "H", "W", "bits"))
    tables = spikecodec.get_codec("countmix").fresh_tables(geometry)
    states = tables["states"].copy()
    sizes = [int(z) for z in kernels.table_sizes(T, C, H, W, bits)]
    counts = [int(k) for k in kernels.context_counts(T, C, H, W, bits)]
    assert counts[9] > sizes[9] == 1 << 22  # H hashed into 2^22 entries
    recipe = VALID[f"prior-{name}"]
    x = make_array(recipe["array"])
    assert list(x.shape) == [T, 1, C, H, W] and recipe["array"]["bits"] == bits
    h0 = sum(sizes[:9])
    _seed_first_bits(states, ((h0 + _slot22(key), y) for key, y in _countmix_h_keys(x, bits)))
    return spikecodec.Prior("countmix", geometry, {"states": states, "weights": tables["weights"]}, info)


def make_array(recipe: dict) -> np.ndarray:
    rng = np.random.default_rng(recipe["seed"])
    shape, bits, rate = recipe["shape"], recipe["bits"], recipe["rate"]
    if recipe.get("correlated"):  # a pattern per neuron, repeated over axis 0 with 10% flips
        fire = (rng.random(shape[1:]) < rate)[None] ^ (rng.random(shape) < 0.1 * (rate > 0))
    else:
        fire = rng.random(shape) < rate
    x = fire.astype(np.uint8) if bits == 1 else np.where(fire, rng.integers(1, 1 << bits, shape), 0).astype(np.uint8)
    if recipe.get("value"):  # every firing element this value
        x = fire.astype(np.uint8) * np.uint8(recipe["value"])
    if recipe.get("quiet"):  # the first `quiet` elements (C order) 0
        x.reshape(-1)[: recipe["quiet"]] = 0
    if recipe.get("frames"):  # samples (axis 1) in runs of `frames`: each the one before, but `redraw` of it as drawn
        redraw = rng.random(shape) < recipe.get("redraw", 0.0)
        for n in range(1, shape[1]):
            if n % recipe["frames"]:
                x[:, n] = np.where(redraw[:, n], x[:, n], x[:, n - 1])
    return x


def _chunk_arg(params: dict) -> dict:
    p = dict(params)
    if "chunk" in p:
        p["chunk"] = tuple(p["chunk"])
    if "prior" in p:  # a prior file, relative to spec/vectors
        p["prior"] = get_prior(p["prior"])
    if "stream_id" in p:  # the stream-id extension's 16 bytes, as hex
        p["stream_id"] = bytes.fromhex(p["stream_id"])
    return p


def build_valid(spec: dict, array: np.ndarray) -> bytes:
    """The bytes of a valid vector: the library's own encoding, plus any hand-made extension."""
    if "stream" in spec:
        opts = _chunk_arg(spec["stream"])
        flush_after = set(opts.pop("flush_after", []))
        buf = io.BytesIO()
        with spikecodec.SpikeWriter(buf, bits=spec["array"]["bits"], **opts) as w:
            for t, frame in enumerate(array):
                w.append(frame)
                if t in flush_after:
                    w.flush()
        return buf.getvalue()
    if spec.get("packed_last_row"):
        return _with_packed_last_row(spec, array)
    data = spikecodec.encode(array, bits=spec["array"]["bits"], **_chunk_arg(spec["encode"]))
    if "zstd_window_log" in spec:  # each chunk's zstd frame remade: one raw block, a window of this log
        body, ents = _rebuild_chunks(data, lambda i, o, x, s, p: (o, x, s, _zstd_frame_window_log(
            zstandard.ZstdDecompressor().decompress(bytes(p)), spec["zstd_window_log"])))
        data = _finish(body, ents)
    if "extensions" not in spec:
        return data
    with spikecodec.open(data) as r:
        header = r.header
    exts = tuple(Extension(e["name"], bytes.fromhex(e["data_hex"]), e["required"]) for e in spec["extensions"])
    new_head = encode_header(Header(**{**header.__dict__, "extensions": exts}))
    return _relocate(data, new_head)


def _with_packed_last_row(spec: dict, array: np.ndarray) -> bytes:
    """``encode``'s file of every row but the last (shorter than ``chunk[0]``), with that row
    added as classic records whose payloads are the packed elements (FORMAT.md 8), as an
    encoder writes a chunk whose coding does not pay - or that its prior, made for the other
    rows' geometry, cannot code."""
    bits, params = spec["array"]["bits"], _chunk_arg(spec["encode"])
    height = array.shape[0] % params["chunk"][0]
    assert height and "records" not in params
    data = spikecodec.encode(array[:-height], bits=bits, **params)
    h, start, ents = _parts(data)
    head = encode_header(Header(**{**h.__dict__, "shape": tuple(array.shape)}))
    shift = len(head) - start
    body = bytearray(head + data[start : ents[-1].offset + ents[-1].size])
    moved = [IndexEntry(e.offset + shift, e.size, e.row_start, e.row_length, e.spike_count) for e in ents]
    row = array.shape[0] - height
    inner = [range(0, array.shape[a], h.chunk_shape[a]) for a in range(1, h.chunk_rank)]
    for corner in np.ndindex(*[len(r) for r in inner]):
        origin = (row, *[r[i] for r, i in zip(inner, corner)])
        extent = (height, *[min(h.chunk_shape[a + 1], array.shape[a + 1] - o) for a, o in enumerate(origin[1:])])
        part = array[tuple(slice(o, o + e) for o, e in zip(origin, extent))]
        record = b"".join(encode_chunk(origin, extent, int(part.sum()), spikecodec.elements.pack(part, bits)))
        moved.append(IndexEntry(len(body), len(record), row, height, int(part.sum())))
        body += record
    return _finish(bytes(body), moved)


def _relocate(data: bytes, new_head: bytes) -> bytes:
    """Replace a file's header, shifting the chunk offsets in the index to match."""
    _, old_start, entries = _parts(data)
    shift = len(new_head) - old_start
    chunks = data[old_start : entries[-1].offset + entries[-1].size] if entries else b""
    moved = [IndexEntry(e.offset + shift, e.size, e.row_start, e.row_length, e.spike_count) for e in entries]
    return _finish(new_head + chunks, moved)


def _with_first_payload(data: bytes, new_payload) -> bytes:
    """``data`` (a file of classic records) with chunk 0's payload replaced by ``new_payload(payload)``,
    the records, index and trailer rebuilt around it."""
    body, entries = _rebuild_chunks(data, lambda i, o, e, s, p: (o, e, s, new_payload(bytes(p)) if i == 0 else p))
    return _finish(body, entries)


def _finish(body: bytes, entries: list[IndexEntry]) -> bytes:
    index = encode_index(entries)
    return body + index + encode_trailer(len(body), len(index))


def _crc(b: bytes) -> bytes:
    return struct.pack("<I", layout.crc32(b))


def header_codecs(data: bytes) -> list[str]:
    """The codec ids a file's header names, in pipeline order (the manifest's ``codecs``): [] when
    the file fails FORMAT.md section 10 before the header body's values are read (step 1, step 2,
    or the body's structure in steps 3.1 - 3.2), so that its header cannot be parsed."""
    if len(data) < 16 or data[:8] != layout.SIGNATURE or data[8] != 1 or data[10:12] != b"\0\0":
        return []
    size = struct.unpack_from("<I", data, 12)[0]
    if not 1 <= size <= 1 << 20 or len(data) < 16 + size + 4 or _crc(data[: 16 + size]) != data[16 + size : 20 + size]:
        return []
    body, pos = data[16 : 16 + size], 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > size:
            raise ValueError("past the body")
        pos += n
        return body[pos - n : pos]

    def count(n: int) -> int:
        return int.from_bytes(take(n), "little")

    def text() -> str:
        raw = take(count(1))
        if not raw.isascii():
            raise ValueError("not ASCII")
        return raw.decode("ascii")

    try:
        rank, _, k, reserved = take(4)
        if not 1 <= rank <= 8 or not 1 <= k <= rank or reserved:
            return []
        take(8 * rank + 8 * k)
        for _ in range(rank):
            text()
        ids = []
        for _ in range(count(1)):
            ids.append(text())
            take(count(4))
        take(count(4))
        for _ in range(count(2)):
            take(1)
            text()
            take(count(4))
    except ValueError:
        return []
    return ids if pos == size else []


# -- invalid vectors ----------------------------------------------------------------------------
# Each returns (bytes, offset of the problem, text the reported problem must contain).


def _parts(data: bytes):
    with spikecodec.open(data, priors=[get_prior(f"priors/{name}.prior") for name in [*PRIORS, *DERIVED_PRIORS]]) as r:
        return r.header, r._data_start, list(r.entries)


def _set_header(data: bytes, **changes) -> bytes:
    h, _, _ = _parts(data)
    return _relocate(data, encode_header(Header(**{**h.__dict__, **changes})))


def _patch_header_body(data: bytes, at: int, value: bytes) -> bytes:
    """Overwrite header-body bytes and fix the header CRC, so only the value itself is wrong."""
    size = struct.unpack_from("<I", data, 12)[0]
    b = bytearray(data)
    b[16 + at : 16 + at + len(value)] = value
    b[16 + size : 20 + size] = _crc(bytes(b[: 16 + size]))
    return bytes(b)


def _rebuild_chunks(data: bytes, change) -> tuple[bytes, list[IndexEntry]]:
    """Re-emit every chunk record through ``change(i, origin, extent, spikes, payload)``."""
    h, start, entries = _parts(data)
    k = h.chunk_rank
    hs = layout.chunk_header_size(k)
    out = bytearray(data[:start])
    new_entries = []
    for i, e in enumerate(entries):
        rec = data[e.offset : e.offset + e.size]
        parsed = layout.ChunkHeader.parse(rec[:hs], chunk_rank=k)
        origin, extent, spikes, payload = list(parsed.origin), list(parsed.extent), parsed.spike_count, rec[hs:-4]
        origin, extent, spikes, payload = change(i, origin, extent, spikes, payload)
        record = b"".join(encode_chunk(origin, extent, spikes, payload))
        new_entries.append(IndexEntry(len(out), len(record), origin[0], extent[0], spikes))
        out += record
    return bytes(out), new_entries


def invalid_vectors(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int | None, str]]:
    base = valid["spikes-raw"]
    zbase = valid["spikes-zstd"]
    h, start, entries = _parts(base)
    last = entries[-1]
    size = len(base)
    hsize = struct.unpack_from("<I", base, 12)[0]
    out: dict[str, tuple[bytes, int | None, str]] = {}

    out["truncated"] = (base[: last.offset + last.size // 2], last.offset + last.size // 2 - 24, "no trailer")
    out["empty-file"] = (b"", 0, "too short")
    out["bad-signature"] = (b"\x89PNG\r\n\x1a\n" + base[8:], 0, "bad signature")
    out["unknown-major"] = (base[:8] + b"\x02" + base[9:], 8, "unsupported major version")
    out["header-size-huge"] = (base[:12] + struct.pack("<I", 0xFFFFFFFF) + base[16:], 12, "header size")
    b = bytearray(base)
    b[16 + hsize] ^= 0xFF
    out["header-crc"] = (bytes(b), 16 + hsize, "header CRC mismatch")
    out["rank-too-large"] = (_patch_header_body(base, 0, b"\x09"), 16, "rank 9 is outside")
    out["element-bits-3"] = (_patch_header_body(base, 1, b"\x03"), 16, "element bits 3")
    # shape = 2^40 x 2^40 x ...: every extent legal, the product overflows 2^62.
    out["shape-overflow"] = (_patch_header_body(base, 4, struct.pack("<QQ", 1 << 40, 1 << 40)), 16, "more than")
    out["header-trailing-bytes"] = (_set_metadata_raw(base, trailing=b"\x00"), 16, "malformed header body")
    out["duplicate-axes"] = (_set_header(base, axes=("T", "T", "C", "H", "W")), 16, "not unique")
    out["unknown-codec"] = (_set_header(base, codecs=({"id": "lzma9"},)), 16, "unknown codec id")
    out["bad-codec-parameter"] = (_set_header(zbase, codecs=({"id": "raw"}, {"id": "zstd", "level": 99})), 16, "zstd level")
    out["metadata-nan"] = (_set_metadata_raw(base, metadata=b'{"dt": NaN}'), 16, "metadata is not valid JSON")
    out["metadata-not-object"] = (_set_metadata_raw(base, metadata=b"[1, 2]"), 16, "metadata must be a JSON object")
    out["required-extension"] = (
        _set_header(base, extensions=(Extension("x-must-understand", b"", True),)),
        16,
        "required extension",
    )

    b = bytearray(base)
    b[entries[1].offset + layout.chunk_header_size(h.chunk_rank)] ^= 0x01
    out["chunk-crc"] = (bytes(b), entries[1].offset, "chunk CRC mismatch")

    b = bytearray(base)
    b[last.offset + last.size + 12] ^= 0x01  # first index entry's offset field
    out["index-crc"] = (bytes(b), last.offset + last.size + 12 + 40 * len(entries), "index CRC mismatch")
    b = bytearray(base)
    b[size - 24] ^= 0x01
    out["trailer-crc"] = (bytes(b), size - 8, "trailer CRC mismatch")
    out["trailing-garbage"] = (base + b"\x00", size + 1 - 24, "no trailer")

    chunks = base[start : last.offset + last.size]
    idx_entries = [IndexEntry(e.offset, e.size, e.row_start, e.row_length, e.spike_count) for e in entries]
    overl = list(idx_entries)
    overl[1] = IndexEntry(overl[1].offset - 8, overl[1].size, overl[1].row_start, overl[1].row_length, overl[1].spike_count)
    out["overlapping-chunks"] = (_finish(base[:start] + chunks, overl), start + len(chunks), "overlaps")
    gap_body = base[: entries[1].offset] + b"\x00" * 8 + base[entries[1].offset : last.offset + last.size]
    gapped = [idx_entries[0]] + [IndexEntry(e.offset + 8, e.size, e.row_start, e.row_length, e.spike_count) for e in idx_entries[1:]]
    out["gap-between-chunks"] = (_finish(gap_body, gapped), len(gap_body), "leaves a gap")

    def swap_rows(i, origin, extent, spikes, payload):
        origin[0] = 1 - origin[0] if origin[0] < 2 else origin[0]
        return origin, extent, spikes, payload

    body, ents = _rebuild_chunks(base, swap_rows)
    out["chunk-out-of-order"] = (_finish(body, ents), len(body), "out of order")

    def wrong_count(i, origin, extent, spikes, payload):
        return origin, extent, spikes + (1 if i == 0 else 0), payload

    body, ents = _rebuild_chunks(base, wrong_count)
    out["spike-count-mismatch"] = (_finish(body, ents), start, "spikes, its header says")

    def bad_padding(i, origin, extent, spikes, payload):
        if i == 0:
            payload = payload[:-1] + bytes([payload[-1] | 0x01])
        return origin, extent, spikes, payload

    rbase = valid["rank1-padding"]
    body, ents = _rebuild_chunks(rbase, bad_padding)
    out["nonzero-padding"] = (_finish(body, ents), _parts(rbase)[1], "non-zero padding")

    import zstandard

    _, zstart, zents = _parts(zbase)
    zspec_bytes = np.prod(_parts(zbase)[0].frame_shape) // 8
    bomb = zstandard.ZstdCompressor(level=19).compress(b"\x00" * (2 * int(zspec_bytes) + 65536 + 1))

    def decompression_bomb(i, origin, extent, spikes, payload):
        return origin, extent, 0 if i == 0 else spikes, bomb if i == 0 else payload

    body, ents = _rebuild_chunks(zbase, decompression_bomb)
    out["decompression-bomb"] = (_finish(body, ents), zstart, "more than the")

    def zstd_trailing(i, origin, extent, spikes, payload):
        return origin, extent, spikes, payload + (b"\x00" if i == 0 else b"")

    body, ents = _rebuild_chunks(zbase, zstd_trailing)
    out["zstd-trailing-bytes"] = (_finish(body, ents), zstart, "after the end of the frame")

    b = bytearray(base)
    b[entries[0].offset + 4 : entries[0].offset + 8] = struct.pack("<I", 0xFFFFFFF0)
    out["payload-size-huge"] = (bytes(b), entries[0].offset, "chunk")

    cbase = valid["context-spikes"]
    cstart = _parts(cbase)[1]

    def cut_byte(i, origin, extent, spikes, payload):
        return origin, extent, spikes, payload[:-1] if i == 0 else payload

    def flip_bit(i, origin, extent, spikes, payload):
        return origin, extent, spikes, bytes([payload[0] ^ 1]) + payload[1:] if i == 0 else payload

    body, ents = _rebuild_chunks(cbase, cut_byte)
    out["context-partial-word"] = (_finish(body, ents), cstart, "not a whole number of 32-bit words")
    body, ents = _rebuild_chunks(cbase, flip_bit)
    out["context-corrupt-stream"] = (_finish(body, ents), cstart, "corrupt stream")

    lbase = valid["ctxlanes-spikes"]
    lstart = _parts(lbase)[1]

    def longer_lane(i, origin, extent, spikes, payload):  # lane 0 claims one word more
        return origin, extent, spikes, struct.pack("<I", struct.unpack_from("<I", payload)[0] + 1) + payload[4:] if i == 0 else payload

    def flip_lane_bit(i, origin, extent, spikes, payload):  # lane 1's first word (read last)
        at = 16 + 4 * struct.unpack_from("<I", payload)[0]
        return origin, extent, spikes, payload[:at] + bytes([payload[at] ^ 1]) + payload[at + 1:] if i == 0 else payload

    body, ents = _rebuild_chunks(lbase, longer_lane)
    out["ctxlanes-lane-counts"] = (_finish(body, ents), lstart, "lane word counts add up")
    body, ents = _rebuild_chunks(lbase, flip_lane_bit)
    out["ctxlanes-corrupt-lane"] = (_finish(body, ents), lstart, "corrupt stream")
    out.update(_invalid_compact(valid))
    out.update(_invalid_priors_named(valid))
    out.update(_invalid_ctxmix(valid))
    out.update(_invalid_issue23(valid))
    out.update(_invalid_check_order(valid))
    out.update(_invalid_mix(valid))
    out.update(_invalid_mix_outside_reading(valid))
    out.update(_invalid_outside_second_round(valid))
    out.update(_invalid_winmix(valid))
    out.update(_invalid_outside_third_round(valid))
    out.update(_invalid_outside_fourth_round(valid))
    out.update(_invalid_end_before_top(valid))
    out.update(_invalid_keyed(valid))
    out.update(_invalid_ctxfast(valid))
    out.update(_invalid_countmix(valid))
    out.update(_invalid_chanmix(valid))
    out.update(_invalid_framemix(valid))
    out.update(_invalid_neuronmix(valid))
    out.update(_invalid_outside_fifth_round(valid))
    out.update(_invalid_outside_sixth_round(valid))
    out.update(_invalid_core_twins(valid))
    out.update(_invalid_codec_rules(valid))
    out.update(_invalid_outside_seventh_round(valid))
    out.update(_invalid_ctxfast_outside(valid))
    return out


def _invalid_ctxfast_outside(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Added later (format unchanged), the payload checks of ``ctxfast`` (FORMAT.md 9.4.12) that an
    outside implementation misread and still passed every vector before these, each in a chunk of
    one element (T = N = C = H = W = 1: L = 1, size = size_0 = 1) unless said otherwise: words in
    a chunk without elements (rans-final-state, not R = 4 counts of 0); counts whose sum
    overflows 32 bits (2^32 - 1 and 1: a reader summing modulo 2^32 finds 0, the words that
    follow); a payload of exactly the total bound size (1 + bits) + 15 = 17 words (a reader
    adding 12, 13 or 14 finds it too long, rans-too-long, not lanes-too-long) and of 6 words, over
    3R + size (1 + bits) = 5 (the total bound is not 3R); a lane of exactly size_l + 2 = 3 words
    and a 2-bit chunk's magnitude stream of exactly size * bits + 2 = 4 (within their bounds, so
    decoded: rans-final-state, where a bound of size_l + 1 or size * bits + 1 says lanes-too-long);
    and the prior's geometry checked before the word counts (the ctxfast prior, C = 8, embedded
    for a 2-bit chunk of C = 4: prior-mismatch with counts that are right, and with counts that
    are not)."""
    out: dict[str, tuple[bytes, int, str]] = {}

    def words(*ws: int) -> bytes:
        return struct.pack(f"<{len(ws)}I", *ws)

    empty = valid["ctxfast-empty-axis"]  # shape [2, 0, 4, 3, 3], chunk [1]: two records without elements
    assert _parts_payload(empty, 0) == b""
    out["ctxfast-empty-chunk-words"] = (_with_first_payload(empty, lambda p: bytes(16)), _parts(empty)[1], "corrupt stream")
    one = {bits: spikecodec.encode(np.zeros((1, 1, 1, 1, 1), np.uint8), codec="ctxfast", bits=bits) for bits in (1, 2)}
    for name, bits, payload, problem in (
            ("ctxfast-word-counts-overflow", 2, words(0xFFFFFFFF, 1), "stream word counts add up"),
            ("ctxfast-total-at-bound", 1, words(16, *[1] * 16), "lane 0 is longer than any encoding"),
            ("ctxfast-total-not-3r", 1, words(5, *[1] * 5), "lane 0 is longer than any encoding"),
            ("ctxfast-lane-at-bound", 1, words(3, 1, 1, 1), "corrupt stream"),
            ("ctxfast-magnitudes-at-bound", 2, words(0, 4, 1, 1, 1, 1), "corrupt stream")):
        out[name] = (_with_first_payload(one[bits], lambda p, payload=payload: payload), _parts(one[bits])[1], problem)
    prior = get_prior("priors/ctxfast.prior")
    assert prior.geometry == {"C": 8, "bits": 2}
    c4 = spikecodec.encode(np.zeros((1, 1, 4, 1, 1), np.uint8), codec="ctxfast", bits=2)
    c4 = _raw_header(c4, codecs=[(b"ctxfast", json.dumps({"prior": prior.digest}, separators=(",", ":")).encode())],
                     extensions=[(1, b"prior", prior.data)])
    for name, payload in (("ctxfast-prior-geometry", words(0, 0)), ("ctxfast-prior-geometry-before-counts", words(0, 1))):
        out[name] = (_with_first_payload(c4, lambda p, payload=payload: payload), _parts(c4)[1], "was trained for chunks with C=8")
    return out


def _invalid_outside_seventh_round(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Rules an implementer reading FORMAT.md alone could misread while passing every vector before
    these: the JSON rules of section 1, in the metadata and in a codec's parameters (a repeated
    key, also one repeated only once its escapes are decoded; a number that rounds to infinity; a
    byte-order mark; bytes that are not UTF-8; an integer parameter written with a fraction, an
    exponent or as true); the order of section 10 step 3 where a header breaks two rules; and of
    steps 5 and 7 for classic records (row heights of a row's other entries, index-end before
    row-incomplete, the index magic before its size, the payload-size cap)."""
    out: dict[str, tuple[bytes, int, str]] = {}
    base = valid["spikes-raw"]  # rank 5, k = 1, codec raw
    zbase = valid["spikes-zstd"]  # raw, zstd level 3

    # Section 1: JSON text (json-invalid at 16).
    out["metadata-duplicate-key"] = (_set_metadata_raw(base, b'{"a":1,"a":2}'), 16, "appears twice")
    out["metadata-duplicate-key-escaped"] = (_set_metadata_raw(base, b'{"a":1,"\\u0061":2}'), 16, "appears twice")
    out["metadata-duplicate-key-nested"] = (_set_metadata_raw(base, b'{"a":{"b":1,"b":1}}'), 16, "appears twice")
    out["metadata-number-1e999"] = (_set_metadata_raw(base, b'{"a":1e999}'), 16, "too large for a double")
    out["metadata-integer-309-digits-infinite"] = (_set_metadata_raw(base, b'{"a":%d}' % (2**1024 - 2**970)), 16,
                                                   "too large for a double")
    out["metadata-byte-order-mark"] = (_set_metadata_raw(base, b"\xef\xbb\xbf{}"), 16, "byte-order mark")
    out["metadata-invalid-utf8"] = (_set_metadata_raw(base, b'{"a":"\xff"}'), 16, "metadata is not valid JSON")
    out["metadata-utf8-surrogate"] = (_set_metadata_raw(base, b'{"a":"\xed\xa0\x80"}'), 16, "metadata is not valid JSON")
    # The same rules in a codec's parameters, checked (step 3.3) before the pipeline (step 3.4).
    out["codec-config-duplicate-key"] = (_raw_header(zbase, codecs=[(b"raw", b"{}"), (b"zstd", b'{"level":3,"level":3}')]), 16,
                                         "appears twice")
    out["codec-config-number-1e999"] = (_raw_header(zbase, codecs=[(b"raw", b"{}"), (b"zstd", b'{"level":1e999}')]), 16,
                                        "too large for a double")
    out["codec-config-byte-order-mark"] = (_raw_header(base, codecs=[(b"raw", b"\xef\xbb\xbf{}")]), 16, "byte-order mark")
    # An integer parameter (section 1: no fraction, no exponent, not true): codec-pipeline, as a
    # value out of range.
    out["zstd-level-fraction"] = (_raw_header(zbase, codecs=[(b"raw", b"{}"), (b"zstd", b'{"level":3.0}')]), 16, "zstd level")
    out["zstd-level-exponent"] = (_raw_header(zbase, codecs=[(b"raw", b"{}"), (b"zstd", b'{"level":3e0}')]), 16, "zstd level")
    out["zstd-level-true"] = (_raw_header(zbase, codecs=[(b"raw", b"{}"), (b"zstd", b'{"level":true}')]), 16, "zstd level")

    # Section 10 step 3: two problems, the one of the earlier step (or earlier in a step) first.
    pad65 = [(0, b"x-pad", b"")] * 65
    out["codec-count-before-extension-count"] = (_raw_header(base, codecs=[], extensions=pad65), 16, "0 codecs")
    out["metadata-json-before-extension-count"] = (_raw_header(base, metadata=b'{"a":1,"a":1}', extensions=pad65), 16,
                                                   "appears twice")
    out["extension-flags-before-element-bits"] = (
        _patch_header_body(_raw_header(base, extensions=[(2, b"x-pad", b"")]), 1, b"\x03"), 16, "undefined flag bits set")
    out["codec-id-before-pipeline"] = (_raw_header(base, codecs=[(b"lzma9", b"{}"), (b"x" * 33, b"{}")]), 16,
                                       "is not 1..32 ASCII characters")
    out["pipeline-before-extensions"] = (
        _raw_header(zbase, codecs=[(b"raw", b"{}"), (b"zstd", b'{"level":99}')], extensions=[(1, b"x-must-understand", b"")]),
        16, "zstd level")

    # Section 10 step 5, classic index: a row's other entries are held to the row's height
    # (row-height-differs), not to 1 .. chunk_shape[0] (row-height); index-end comes before
    # row-incomplete (the reverse of a compact walk's order); the magic before the size.
    grid = valid["chunks-2d"]  # shape [3, 5, ...], chunk [2, 2]: G = 3, rows of 2 and 1
    gh, gstart, gents = _parts(grid)
    gend = gents[-1].offset + gents[-1].size
    for name, height in (("row-height-differs-too-tall", 3), ("row-height-differs-zero", 0)):
        ents = list(gents)
        e = ents[1]  # the second entry of row 0
        ents[1] = IndexEntry(e.offset, e.size, e.row_start, height, e.spike_count)
        out[name] = (_finish(grid[:gend], ents), gend, "row")
    out["index-end-before-row-incomplete"] = (_finish(grid[:gend], gents[:-1]), gend, "chunks end at")
    h, start, ents = _parts(base)
    end = ents[-1].offset + ents[-1].size
    index = b"SPKX" + encode_index(ents)[4:-4]
    index = index[:4] + struct.pack("<Q", len(ents) + 1) + index[12:]
    index += _crc(index)
    out["index-magic-before-size"] = (base[:end] + index + encode_trailer(end, len(index)), end, "no index magic")

    # Section 10 step 7: a record's payload size over 2 B + 65536 (B = 15 bytes here), its index
    # entry in agreement and its CRC right: payload-size, at the record.
    cap = 2 * 15 + 65536

    def over_cap(i, o, e, s, p):
        assert i > 0 or len(p) == 15
        return o, e, s, bytes(cap + 1) if i == 0 else p

    body, gents2 = _rebuild_chunks(base, over_cap)
    out["payload-size-classic"] = (_finish(body, gents2), start, "exceeds the cap")
    return out


def _invalid_outside_sixth_round(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """What a sixth outside reader, written from FORMAT.md alone, found the text left open, now
    stated (9.3, 14): a Window_Descriptor's Exponent is a check of the frame header, before the
    content size, while a Dictionary_ID is found when the frame is decoded, after it; a mixing
    codec's prior of T above 4 has the tables of T = 4 (TP = min(T, 4)), so it is refused at a
    record, never at the header."""
    out: dict[str, tuple[bytes, int, str]] = {}
    zbase = valid["spikes-zstd"]
    content = zstandard.ZstdDecompressor().decompress(_parts_payload(zbase, 0))
    block = ((len(content) << 3) | 1).to_bytes(3, "little") + content  # the last block, raw
    magic = b"\x28\xb5\x2f\xfd"
    # Frame_Header_Descriptor 0x01: no content size, not single-segment, a 1-byte Dictionary_ID.
    dictionary = magic + bytes([0x01, 0x00, 0x05]) + block
    out["zstd-dictionary-no-content-size"] = (_with_first_payload(zbase, lambda p: dictionary), _parts(zbase)[1],
                                              "does not record its content size")
    # Window_Descriptor 0xB0: Exponent 22 (a window log of 32), and no content size either.
    window = magic + bytes([0x00, (32 - 10) << 3]) + block
    out["zstd-window-log-32-no-content-size"] = (_with_first_payload(zbase, lambda p: window), _parts(zbase)[1],
                                                 "not a zstd frame")
    long_t = valid["prior-ctxmix-long-t"]  # ctxmix, T = 6 in chunks [6, 1], the prior of T = min(6, 4) embedded
    prior = get_prior("priors/ctxmix-long-t.prior")
    desc, _ = _description(prior.data)
    t5 = _with_description(prior.data, {**desc, "geometry": {**desc["geometry"], "T": 5}})  # its tables as for T = 4
    h, start, _ = _parts(long_t)
    codec = {**h.codecs[0], "prior": hashlib.sha256(t5).hexdigest()}
    named = _set_header(long_t, codecs=(codec, *h.codecs[1:]),
                        extensions=tuple(Extension("prior", t5, True) if e.name == "prior" else e for e in h.extensions))
    first_record = 16 + struct.unpack_from("<I", named, 12)[0] + 4  # the header checks pass: chunk 0 refuses it
    out["prior-ctxmix-t-above-4"] = (named, first_record, "was trained for chunks with")
    return out


def _parts_payload(data: bytes, i: int) -> bytes:
    """Chunk ``i``'s payload of a file of classic records."""
    h, _, entries = _parts(data)
    e = entries[i]
    return data[e.offset + layout.chunk_header_size(h.chunk_rank) : e.offset + e.size - 4]


def _invalid_ctxfast(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Version 1.8, ``ctxfast`` (FORMAT.md 9.4.12): each payload check in its order - a partial
    word, too many words, too few for the stream counts, counts that do not add up, a lane and the
    magnitude stream longer than their bounds, a damaged lane, a magnitude above the top, words
    in a chunk without elements."""
    out = {}

    base = valid["ctxfast-spikes"]
    start = _parts(base)[1]
    with spikecodec.open(base) as r:
        spec = r.chunk_spec(0)
    longest = spec.size * 2 + 15  # bits = 1: size (1 + bits) + 15 words
    out["ctxfast-partial-word"] = (_with_first_payload(base, lambda p: p + b"\x00"), start, "not a whole number of 32-bit words")
    out["ctxfast-too-long"] = (_with_first_payload(base, lambda p: p + bytes(4 * (longest + 1 - len(p) // 4))), start, "longer than any encoding")
    out["ctxfast-too-few-words"] = (_with_first_payload(base, lambda p: p[:12]), start, "payload shorter than its 4 stream word counts")

    def count_plus_one(p: bytes) -> bytes:  # lane 0 claims one word more than follow
        return struct.pack("<I", struct.unpack_from("<I", p)[0] + 1) + p[4:]

    out["ctxfast-word-counts"] = (_with_first_payload(base, count_plus_one), start, "stream word counts add up")

    def long_lane(p: bytes) -> bytes:  # lane 0 padded past size_l + 2 words (and its count with it)
        counts = struct.unpack_from("<4I", p)
        lane = spec.size // 4
        extra = lane + 3 - counts[0]
        return struct.pack("<4I", counts[0] + extra, *counts[1:]) + p[16:16 + 4 * counts[0]] + bytes(4 * extra) + p[16 + 4 * counts[0]:]

    out["ctxfast-lane-too-long"] = (_with_first_payload(base, long_lane), start, "lane 0 is longer than any encoding")

    def flip_lane_bit(p: bytes) -> bytes:  # lane 2's first word (read last)
        counts = struct.unpack_from("<4I", p)
        at = 16 + 4 * (counts[0] + counts[1])
        return p[:at] + bytes([p[at] ^ 1]) + p[at + 1:]

    out["ctxfast-corrupt-lane"] = (_with_first_payload(base, flip_lane_bit), start, "corrupt stream")

    cbase = valid["ctxfast-counts2"]
    cstart = _parts(cbase)[1]
    with spikecodec.open(cbase) as r:
        cspec = r.chunk_spec(0)

    def long_magnitudes(p: bytes) -> bytes:  # the magnitude stream past size * bits + 2 words
        counts = struct.unpack_from("<5I", p)
        extra = cspec.size * 2 + 3 - counts[4]
        return struct.pack("<5I", *counts[:4], counts[4] + extra) + p[20:] + bytes(4 * extra)

    out["ctxfast-magnitudes-too-long"] = (_with_first_payload(cbase, long_magnitudes), cstart, "magnitude stream is longer")

    from spikecodec.codecs.kernels import fast

    first = spikecodec.decode(cbase)[: cspec.shape[0], : cspec.shape[1]]
    wide = np.ascontiguousarray(first).copy()
    wide.reshape(-1)[np.flatnonzero(wide.reshape(-1))[0]] = 4  # x = 4: m = 3, above the top level

    def above_top(p: bytes) -> bytes:  # x = 4 coded as m = 3 in 2 bits: the top, which no element holds
        return fast.encode(wide, 2).astype("<u4").tobytes()

    out["ctxfast-value-too-large"] = (_with_first_payload(cbase, above_top), cstart, "does not fit 2-bit elements")

    def above_top_and_lane_unfinished(p: bytes) -> bytes:  # lane 0 with a word it never reads
        words = fast.encode(wide, 2)
        words = np.concatenate([[words[0] + 1], words[1:5], [0xDEADBEEF], words[5:]]).astype(np.uint32)
        return words.astype("<u4").tobytes()

    # Found by an outside probe: the end checks come after the magnitude stream, so its value at
    # the top is the problem (the library checked the lanes' ends first).
    out["ctxfast-top-before-lane-end"] = (_with_first_payload(cbase, above_top_and_lane_unfinished), cstart, "does not fit 2-bit elements")
    return out


def _invalid_keyed(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Version 1.7, keyed checks (FORMAT.md 5.2, 3.2): a flipped payload bit and two swapped
    records (a keyed check fails there too); records checked as before 1.7 under a header that
    keys them (a reader that skips the extension takes them); the extension with data, and in a
    file of classic records."""
    out = {}
    head, h, chunks, recs, rows, at = _rebuilt_compact(valid["keyed-ctxmix-small"], keyed=True)
    flipped, swapped = _bit_flipped_and_swapped(head, recs, rows)
    out["keyed-check-mismatch"] = (flipped, at[1], "check mismatch")
    out["keyed-records-swapped"] = (swapped, at[0], "check mismatch")
    unkeyed = _compact_records(head, h, chunks, keyed=False)
    out["keyed-records-unkeyed"] = (_compact_file(head, unkeyed, len(recs), rows), at[0], "check mismatch")
    with_data = _given_data(h.extensions, "keyed-checks")
    new_head = encode_header(Header(**{**h.__dict__, "extensions": with_data}))
    out["keyed-extension-data"] = (_compact_file(new_head, _compact_records(new_head, h, chunks, keyed=True), len(recs), rows),
                                   layout.PREAMBLE_SIZE, "carries no data")
    out["keyed-checks-classic"] = (_set_header(valid["ctxmix-spikes"], extensions=(Extension("keyed-checks", b"", True),)),
                                   layout.PREAMBLE_SIZE, "compact records")
    # Version 1.9: the message-ends extension with data, and in a file of classic records.
    # (Only the header is replaced: a reader finds the problem there, before it looks further.)
    h, start, _ = _parts(valid["message-ends-stream"])
    ends_data = _given_data(h.extensions, "message-ends")
    out["message-ends-extension-data"] = (encode_header(Header(**{**h.__dict__, "extensions": ends_data}))
                                          + valid["message-ends-stream"][start:], layout.PREAMBLE_SIZE, "carries no data")
    out["message-ends-classic"] = (_set_header(valid["ctxmix-spikes"], extensions=(Extension("message-ends", b"", True),)),
                                   layout.PREAMBLE_SIZE, "compact records")
    return out


def _invalid_end_before_top(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Version 1.6 (an outside implementation of 9.4.9 found three readings of "MAY stop"): the end
    check is due before each element, not during one. A short coded payload whose last element's
    decisions take E past the payload's length and decode a value above the top is
    ``symbol-above-top`` (a decoder checking E at every byte shifted out reported ``ctxmix-end`` /
    ``mix-end``). Found by search: the first random short payload of one 4-bit chunk of
    4 x 1 x 3 x 5 x 5 that decodes above the top with E past the payload's length."""
    sys.path.insert(0, str(HERE))
    from refreader.common import Problem
    from refreader.container import read as reference_read
    from refreader.ctxmix import ByteDecoder

    def top_past_end(data: bytes) -> bool:
        """Whether the reference reader finds a value above the top while E is past the end."""
        coders: list = []
        decide = ByteDecoder.__call__

        def watched(self, p12):
            coders[:] = [self]
            return decide(self, p12)

        ByteDecoder.__call__ = watched
        try:
            reference_read(data)
        except Problem as problem:
            return problem.code == "symbol-above-top" and coders[0].shifted > len(coders[0].data)
        finally:
            ByteDecoder.__call__ = decide
        return False

    out = {}
    for codec in ("ctxmix", "mix", "winmix"):
        data = spikecodec.encode(np.zeros((4, 1, 3, 5, 5), np.uint8), codec=codec, bits=4)
        rng = np.random.default_rng(161)
        found = None
        for _ in range(5000):
            payload = rng.integers(0, 256, int(rng.integers(1, 12)), np.uint8).tobytes()
            body, ents = _rebuild_chunks(data, lambda i, o, e, s, p, payload=payload: (o, e, s, payload))
            candidate = _finish(body, ents)
            try:
                spikecodec.decode(candidate)
                continue
            except spikecodec.FormatError as error:
                if error.code != "symbol-above-top" or not top_past_end(candidate):
                    continue
            found = candidate
            break
        assert found is not None, codec
        out[f"{codec}-top-past-end"] = (found, _parts(data)[1], "does not fit 4-bit elements")
    return out


# -- version 1.3: compact records, priors, ctxmix ------------------------------------------------


def _compact_parts(data: bytes) -> tuple[bytes, Header, list[tuple[int, int, bytes]]]:
    """A compact-record file's header bytes (to its CRC), header, and (row start, height,
    payload) of each record."""
    with spikecodec.open(data) as r:
        h, start, entries, records = r.header, r._data_start, list(r.entries), r._records
    out = []
    for e in entries:
        head = records.read_head(BytesCursor(data[e.offset : e.offset + e.size], e.offset), e.offset)
        at = e.offset + len(head.head)
        out.append((e.row_start, e.row_length, data[at : at + head.payload_size]))
    return data[:start], h, out


def _compact_records(head: bytes, h: Header, chunks: list[tuple[int, int, bytes]], keyed: bool = False) -> list[bytes]:
    """Each chunk as the compact record of its ordinal, checked against ``head``'s CRC (with keyed
    checks, FORMAT.md 5.2, when ``keyed``)."""
    records = CompactRecords(tag=head[-4:], row_height=h.chunk_shape[0], keyed=keyed)
    return [b"".join(records.build(i, (row,), (height,), 0, payload)) for i, (row, height, payload) in enumerate(chunks)]


def _compact_file(head: bytes, records: list[bytes], count: int, rows: int) -> bytes:
    body = head + b"".join(records)
    index = encode_compact_index(count, rows)
    return body + index + encode_trailer(len(body), len(index))


def _rows(chunks: list[tuple[int, int, bytes]]) -> int:
    return sum({row: height for row, height, _ in chunks}.values())


def _rebuilt_compact(data: bytes, keyed: bool = False):
    """A compact-record file taken apart and its records rebuilt (checked to give ``data`` back):
    (header bytes, header, chunks, records, rows, where each record starts and the records end)."""
    head, h, chunks = _compact_parts(data)
    recs = _compact_records(head, h, chunks, keyed=keyed)
    rows = _rows(chunks)
    assert _compact_file(head, recs, len(recs), rows) == data
    at = [len(head) + sum(len(r) for r in recs[:i]) for i in range(len(recs) + 1)]
    return head, h, chunks, recs, rows, at


def _given_data(extensions, name: str) -> tuple:
    """``extensions`` with the one named ``name`` given a data byte (an extension that carries none)."""
    return tuple(Extension(e.name, b"\x00" if e.name == name else e.data, e.required) for e in extensions)


def _bit_flipped_and_swapped(head: bytes, recs: list[bytes], rows: int) -> tuple[bytes, bytes]:
    """The file with a payload bit of record 1 flipped (its check as it was), and with records 0
    and 1 swapped (each record's check is valid for the other's ordinal only)."""
    flipped = list(recs)
    r1 = bytearray(recs[1])
    assert r1[0] < 0x80 and not (r1[0] - 1) & 1  # a one-byte size field, no height
    r1[1] ^= 0x01  # its size field is one byte: the payload starts at byte 1
    flipped[1] = bytes(r1)
    return (_compact_file(head, flipped, len(recs), rows),
            _compact_file(head, [recs[1], recs[0], *recs[2:]], len(recs), rows))


def _invalid_compact(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    out = {}
    head, h, chunks, recs, rows, at = _rebuilt_compact(valid["compact-ctxmix-small"])
    flipped, swapped = _bit_flipped_and_swapped(head, recs, rows)
    out["compact-check-mismatch"] = (flipped, at[1], "check mismatch")
    out["compact-records-swapped"] = (swapped, at[0], "check mismatch")
    out["compact-index-count"] = (_compact_file(head, recs, len(recs) + 1, rows), at[-1], "the index counts")

    head, h, chunks, recs, rows, at = _rebuilt_compact(valid["compact-streamed"])  # rows of 2, 1 (flushed), 2
    tag, full = head[-4:], h.chunk_shape[0]

    def record(ordinal: int, size_field: bytes, payload: bytes) -> bytes:
        """A record with the given size (and height) bytes and the check they make."""
        return size_field + payload + compact_check(tag, ordinal, size_field, payload, check_size(len(payload)))

    payload2 = chunks[2][2]
    tall = list(recs)  # record 2 (a full row) states its height, which must then be below full
    tall[2] = record(2, varint(2 * len(payload2) + 2) + varint(full), payload2)
    out["compact-height-full"] = (_compact_file(head, tall, len(recs), rows), at[2], f"row height {full} is outside")
    v = 2 * len(payload2) + 1
    assert v < 0x80
    overlong = list(recs)  # record 2's size field as two bytes, the second 0x00
    overlong[2] = record(2, bytes([v | 0x80, 0x00]), payload2)
    out["compact-varint-overlong"] = (_compact_file(head, overlong, len(recs), rows), at[2], "not minimally encoded")
    # Added later (an outside implementation passed every vector above without these checks): a
    # stated height of 0, and a compact index with a CRC that holds but an end byte of 01, or a
    # rows count one short.
    zero = list(recs)
    zero[2] = record(2, varint(2 * len(payload2) + 2) + varint(0), payload2)
    out["compact-height-zero"] = (_compact_file(head, zero, len(recs), rows), at[2], "row height 0 is outside")
    body = head + b"".join(recs)

    def with_index(index: bytes) -> bytes:
        index += _crc(index)
        return body + index + encode_trailer(len(body), len(index))

    out["compact-index-end-byte"] = (with_index(b"\x01" + varint(len(recs)) + varint(rows)), len(body), "end-of-records marker")
    out["compact-index-rows"] = (with_index(b"\x00" + varint(len(recs)) + varint(rows - 1)), len(body), f"in {rows - 1} rows")
    new_head = encode_header(Header(**{**h.__dict__, "extensions": (Extension("compact-records", b"\x00", True),)}))
    out["compact-extension-data"] = (
        _compact_file(new_head, _compact_records(new_head, h, chunks), len(recs), rows),
        layout.PREAMBLE_SIZE,
        "carries no data",
    )
    return out


NO_SUCH_PRIOR = hashlib.sha256(b"spikecodec conformance: a prior that does not exist").hexdigest()


def _invalid_priors_named(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    out = {}
    named = valid["prior-context-named"]
    digest = get_prior("priors/context.prior").digest.encode()
    hsize = struct.unpack_from("<I", named, 12)[0]
    at = named.index(digest, 16, 16 + hsize) - 16
    out["prior-missing"] = (_patch_header_body(named, at, NO_SUCH_PRIOR.encode()), layout.PREAMBLE_SIZE, "which was not given")
    embedded = valid["prior-ctxmix-embedded"]
    other = Extension("prior", get_prior("priors/context.prior").data, True)  # not the ctxmix prior the codec names
    out["prior-embedded-wrong"] = (_set_header(embedded, extensions=(other,)), layout.PREAMBLE_SIZE, "the embedded prior is not prior")
    unneeded = Extension("prior", get_prior("priors/ctxmix.prior").data, True)
    out["prior-extension-unneeded"] = (_set_header(valid["ctxmix-spikes"], extensions=(unneeded,)), layout.PREAMBLE_SIZE,
                                       "holds a prior, but codec")
    return out


def _invalid_payload_lengths(valid: dict[str, bytes], cid: str) -> dict[str, tuple[bytes, int, str]]:
    """The context-mixing codecs' (9.4.9, 9.4.10) length rules broken in ``cid``'s spikes vector:
    a payload one byte longer than the packed elements, and a coded payload with a byte after it."""
    base = valid[f"{cid}-spikes"]
    start = _parts(base)[1]
    with spikecodec.open(base) as r:
        packed = r.chunk_spec(0).packed_nbytes

    def too_long(i, origin, extent, spikes, payload):  # one byte more than the packed size
        return origin, extent, spikes, payload + b"\x00" * (packed + 1 - len(payload)) if i == 0 else payload

    def extra_byte(i, origin, extent, spikes, payload):  # a coded payload and one byte after it
        assert len(payload) + 1 < packed
        return origin, extent, spikes, payload + b"\x00" if i == 0 else payload

    out = {}
    body, ents = _rebuild_chunks(base, too_long)
    out[f"{cid}-payload-too-long"] = (_finish(body, ents), start, "longer than the chunk packed")
    body, ents = _rebuild_chunks(base, extra_byte)
    out[f"{cid}-corrupt-end"] = (_finish(body, ents), start, "corrupt payload")
    return out


def _invalid_ctxmix(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    out = _invalid_payload_lengths(valid, "ctxmix")

    def flip_first(i, origin, extent, spikes, payload):  # decodes to an escape value above 15
        return origin, extent, spikes, bytes([payload[0] ^ 0x01]) + payload[1:] if i == 0 else payload

    cbase = valid["ctxmix-counts4"]
    body, ents = _rebuild_chunks(cbase, flip_first)
    out["ctxmix-value-too-large"] = (_finish(body, ents), _parts(cbase)[1], "does not fit 4-bit elements")

    # Added later: the end rule both ways on a coded chunk - a 0xFF byte appended (it decodes the
    # same, as bytes past the end read as 0xFF: only the length rule rejects it), and the final
    # byte changed to the first other value that the end rule rejects.
    base = valid["ctxmix-spikes"]
    start = _parts(base)[1]
    body, ents = _rebuild_chunks(base, lambda i, o, e, s, p: (o, e, s, p + b"\xff" if i == 0 else p))
    out["ctxmix-extra-final-byte"] = (_finish(body, ents), start, "corrupt payload")
    for b in range(256):
        body, ents = _rebuild_chunks(base, lambda i, o, e, s, p, b=b: (o, e, s, p[:-1] + bytes([b]) if i == 0 and p[-1] != b else p))
        data = _finish(body, ents)
        try:
            spikecodec.decode(data)
        except spikecodec.FormatError as error:
            if error.code == "ctxmix-end":
                out["ctxmix-final-byte-not-low"] = (data, start, "corrupt payload")
                break
    assert "ctxmix-final-byte-not-low" in out
    return out


def _invalid_mix(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Version 1.4, ``mix`` (FORMAT.md 9.4.10): a payload longer than the packed elements, coded
    payloads that do not end as the encoder ends them (one byte more; the final byte changed),
    and one that decodes to an escape value above 2^bits - 1."""
    out = _invalid_payload_lengths(valid, "mix")
    base = valid["mix-spikes"]
    start = _parts(base)[1]

    def last_byte(i, origin, extent, spikes, payload):
        # The last byte made 0xFF, what a decoder reads past the end: the chunk decodes (to other
        # values) as if the payload ended a byte earlier, so the payload is a byte too long.
        # (Other changes of the last byte, or cutting it, happen to decode to values that end
        # consistently; only the spike count catches them.)
        assert payload[-1] != 0xFF
        return origin, extent, spikes, payload[:-1] + b"\xff" if i == 0 else payload

    body, ents = _rebuild_chunks(base, last_byte)
    out["mix-corrupt-last-byte"] = (_finish(body, ents), start, "corrupt payload")

    cbase = valid["mix-counts4"]
    out["mix-value-too-large"] = (_escape_above_top(cbase), _parts(cbase)[1], "does not fit 4-bit elements")
    return out


def _escape_above_top(base: bytes) -> bytes:
    """``base`` with the low bit of one byte of its first chunk's payload flipped: the first
    such byte after which the chunk decodes to an escape above 2^bits - 1 (symbol-above-top)."""
    for at in range(64):
        body, ents = _rebuild_chunks(base, lambda i, o, e, s, p, at=at: (o, e, s, p[:at] + bytes([p[at] ^ 0x01]) + p[at + 1:] if i == 0 else p))
        data = _finish(body, ents)
        try:
            spikecodec.decode(data)
        except spikecodec.FormatError as error:
            if error.code == "symbol-above-top":
                return data
    raise AssertionError("no flip of the first 64 bytes decodes to a value above top")


def _fresh_decode(kernels: ModuleType, payload: bytes, shape: tuple[int, ...], bits: int) -> tuple[int, np.ndarray]:
    """(status, values) of a mix-family kernel module decoding the ``bits``-bit ``payload`` of a
    chunk of canonical ``shape`` (T, N, C, H, W) from fresh tables."""
    T, N, C, H, W = shape
    tabs = np.zeros(int(kernels.table_sizes(T, C, H, W, bits).sum()), np.uint32)
    got = np.zeros(shape, np.uint8)
    status = kernels.decode_into(np.frombuffer(payload, np.uint8), got, bits, tabs, kernels.initial_weights(T, C, H, W, bits), False)
    return int(status), got


def _decodes_as(kernels: ModuleType, payload: bytes, canon: np.ndarray, bits: int = 1) -> bool:
    """Whether a mix-family kernel module decodes the ``bits``-bit ``payload`` from fresh tables to
    the canonical array ``canon``, its end check ignored (its status is not read)."""
    return bool(np.array_equal(_fresh_decode(kernels, payload, canon.shape, bits)[1], canon))


def _end_check_fails(kernels: ModuleType, payload: bytes, shape: tuple[int, ...], bits: int) -> bool:
    """Whether a mix-family kernel module, decoding ``payload`` as the first chunk of ``shape``
    (T, N, C, H, W; one row's chunk of the zeros vectors) from fresh tables, reports the end
    check failing (status 1)."""
    return _fresh_decode(kernels, payload, shape, bits)[0] == 1


def _end_rule_vectors(valid: dict[str, bytes], codec: str, kernels: ModuleType, zeros: str, base: str) -> dict[str, tuple[bytes, int, str]]:
    """The end rule of a mix-family codec both ways: ``{codec}-extra-final-byte`` (a final byte
    after the coding of ``zeros``, which ends without one) and ``{codec}-final-byte-not-low`` (the
    one-chunk vector ``base``'s final byte replaced by another that decodes to the same values;
    ``base``'s arrays are T, N, C, H, W, of any element bits)."""
    out: dict[str, tuple[bytes, int, str]] = {}
    start = _parts(valid[zeros])[1]
    # The first byte value that leaves the end check failing: 0 for every codec but framemix, whose
    # models turn the zeros' payload + 0x00 into a coding of other values that ends as encoded.
    first: list[bytes] = []
    _rebuild_chunks(valid[zeros], lambda i, o, e, s, p: (first.append(bytes(p)) if i == 0 else None, (o, e, s, p))[1])
    zero_shape = make_array(VALID[zeros]["array"]).shape
    extra = next(b for b in range(256) if _end_check_fails(kernels, first[0] + bytes([b]), zero_shape, VALID[zeros]["array"]["bits"]))
    body, ents = _rebuild_chunks(valid[zeros], lambda i, o, e, s, p: (o, e, s, p + bytes([extra]) if i == 0 else p))
    out[f"{codec}-extra-final-byte"] = (_finish(body, ents), start, "corrupt payload")

    start = _parts(valid[base])[1]
    canon = make_array(VALID[base]["array"])
    payloads: list[bytes] = []
    _rebuild_chunks(valid[base], lambda i, o, e, s, p: (payloads.append(bytes(p)), (o, e, s, p))[1])
    payload = payloads[0]
    bits = VALID[base]["array"]["bits"]
    assert _decodes_as(kernels, payload, canon, bits)
    other = next(b for b in range(256) if b not in (payload[-1], 0xFF) and _decodes_as(kernels, payload[:-1] + bytes([b]), canon, bits))
    body, ents = _rebuild_chunks(valid[base], lambda i, o, e, s, p: (o, e, s, p[:-1] + bytes([other]) if i == 0 else p))
    out[f"{codec}-final-byte-not-low"] = (_finish(body, ents), start, "corrupt payload")
    return out


def _invalid_mix_outside_reading(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Added after 1.4 was published (see the valid mix vectors of that time): the end rule both
    ways (a final byte after a coding that ends without one; a final byte other than low >> 24
    that decodes to the same values), an escape above 255 in 8-bit elements, a mix prior's
    geometry against a short last row, a mix codec naming and embedding a ctxmix prior, and an
    embedded prior whose file is damaged."""
    from spikecodec.codecs.kernels import mix as kernels

    # mix-wide-c: one chunk, the whole T, N, C, H, W array, with such a final byte
    out = _end_rule_vectors(valid, "mix", kernels, "mix-zeros", "mix-wide-c")

    cbase = valid["mix-counts8"]
    out["mix-value-too-large-8bit"] = (_escape_above_top(cbase), _parts(cbase)[1], "does not fit 8-bit elements")

    data, short_at = _short_last_row(valid["prior-mix-embedded"])
    out["mix-prior-short-row"] = (data, short_at, "was trained for chunks with")
    ctxmix = get_prior("priors/ctxmix.prior")
    out["mix-prior-of-ctxmix"] = (
        _raw_header(valid["prior-mix-embedded"], codecs=[(b"mix", json.dumps({"prior": ctxmix.digest}, separators=(",", ":")).encode())],
                    extensions=[(1, b"prior", ctxmix.data)]), 16, "cannot serve codec 'mix'")
    # An embedded prior file's own problem (here its CRC) is the header's, at 16 (section 10 step 3.6).
    broken = bytearray(get_prior("priors/mix.prior").data)
    broken[-1] ^= 0x01
    out["prior-embedded-file-crc"] = (
        _raw_header(valid["prior-mix-embedded"], codecs=[(b"mix", json.dumps({"prior": hashlib.sha256(broken).hexdigest()}, separators=(",", ":")).encode())],
                    extensions=[(1, b"prior", bytes(broken))]), 16, "the embedded prior, at its byte")
    return out


def _invalid_winmix(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Version 1.5, ``winmix`` (FORMAT.md 9.4.11; its problems are mix's): a payload one byte
    longer than the packed elements; coded payloads that do not end as the encoder ends them (a
    byte after a coded payload; a final byte after a coding that ends without one; a final byte
    other than low >> 24 that decodes to the same values); escapes above 15 and 255; a winmix
    prior's geometry against a short last row; a winmix codec naming and embedding a mix prior."""
    from spikecodec.codecs.kernels import winmix as kernels

    # winmix-long-t: one chunk, the whole T, N, C, H, W array, with a final byte
    out = _window_mixing_rules(valid, "winmix", kernels, "winmix-long-t", "mix")

    # Added after the outside implementation of 9.4.11: as ctxmix-extra-final-byte, a 0xFF byte
    # appended to a coded payload (still shorter than B). It decodes to the same values, as bytes
    # past the end read as 0xFF: only the exact-end rule rejects it.
    out["winmix-trailing-ff"] = _trailing_ff(valid, "winmix-spikes", kernels)
    return out


def _trailing_ff(valid: dict[str, bytes], name: str, kernels: ModuleType) -> tuple[bytes, int, str]:
    """The valid vector ``name`` (a mix-family codec's spikes) with a 0xFF byte appended to its
    first chunk's coded payload (still shorter than B): it decodes to the same values, as bytes
    past the end read as 0xFF, so only the exact-end rule rejects it."""
    base = valid[name]
    start = _parts(base)[1]
    with spikecodec.open(base) as r:
        packed = r.chunk_spec(0).packed_nbytes
    first: list[bytes] = []
    _rebuild_chunks(base, lambda i, o, e, s, p: (first.append(bytes(p)) if i == 0 else None, (o, e, s, p))[1])
    assert len(first[0]) + 1 < packed
    canon = make_array(VALID[name]["array"])[: VALID[name]["encode"]["chunk"][0]]
    assert _decodes_as(kernels, first[0], canon) and _decodes_as(kernels, first[0] + b"\xff", canon)
    body, ents = _rebuild_chunks(base, lambda i, o, e, s, p: (o, e, s, p + b"\xff" if i == 0 else p))
    return _finish(body, ents), start, "corrupt payload"


def _chunk_payloads(data: bytes) -> list[bytes]:
    """The payloads of a classic-record file's chunks, in file order."""
    payloads: list[bytes] = []
    _rebuild_chunks(data, lambda i, o, e, s, p: (payloads.append(bytes(p)), (o, e, s, p))[1])
    return payloads


def _invalid_countmix(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Version 1.10, ``countmix`` (FORMAT.md 9.4.13; its problems are mix's, as winmix's): a payload
    one byte longer than the packed elements; coded payloads that do not end as the encoder ends
    them (a byte after a coded payload; a final byte after a coding that ends without one; a final
    byte other than low >> 24 that decodes to the same values); escapes above 15 and 255; a
    countmix prior's geometry against a short last row; a countmix codec naming and embedding a
    winmix prior. First, 9.4.13's rule for 1-bit elements: countmix-spikes (winmix-spikes' array)
    codes to winmix-spikes' payloads byte for byte."""
    from spikecodec.codecs.kernels import countmix as kernels

    assert VALID["countmix-spikes"]["array"] == VALID["winmix-spikes"]["array"]
    assert VALID["countmix-spikes"]["encode"]["chunk"] == VALID["winmix-spikes"]["encode"]["chunk"]
    assert _chunk_payloads(valid["countmix-spikes"]) == _chunk_payloads(valid["winmix-spikes"])

    # countmix-counts4: one chunk, the whole T, N, C, H, W array of 4-bit counts, with a final byte
    # that other values replace and decode the same (countmix-spikes' has none)
    return _window_mixing_rules(valid, "countmix", kernels, "countmix-counts4", "winmix")


def _invalid_chanmix(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Version 1.11, ``chanmix`` (FORMAT.md 9.4.14; its problems are mix's): countmix's kinds of
    invalid vector (:func:`_window_mixing_rules`), its prior's of a countmix prior."""
    from spikecodec.codecs.kernels import chanmix as kernels

    return _window_mixing_rules(valid, "chanmix", kernels, "chanmix-counts4", "countmix")


def _invalid_framemix(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Version 1.12, ``framemix`` (FORMAT.md 9.4.15; its problems are mix's): chanmix's kinds of
    invalid vector (:func:`_window_mixing_rules`), its prior's of a chanmix prior."""
    from spikecodec.codecs.kernels import framemix as kernels

    out = _window_mixing_rules(valid, "framemix", kernels, "framemix-spikes", "chanmix")
    out["framemix-trailing-ff"] = _trailing_ff(valid, "framemix-spikes", kernels)  # added later: see VALID["framemix-code-at-mid"]
    return out


def _invalid_neuronmix(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Version 1.13, ``neuronmix`` (FORMAT.md 9.4.17): a payload one byte longer than the packed
    elements and a coded one with a byte after it; the end rule both ways (a final byte after the
    coding of the zeros, which ends without one; a final byte replaced by another that decodes to
    the same values); values above 15 and 255; a parameter (it takes none)."""
    from spikecodec.codecs.kernels import neuronmix as kernels

    def decoded(payload: bytes, name: str) -> tuple[int, np.ndarray]:
        canon = make_array(VALID[name]["array"])
        T, N, C, H, W = canon.shape
        neurons = np.zeros((N, H, W, C, T), np.uint8)
        status = kernels.decode_into(np.frombuffer(payload, np.uint8), neurons, VALID[name]["array"]["bits"])
        return int(status), neurons.transpose(4, 0, 3, 1, 2)

    def first_payload(name: str) -> bytes:
        got: list[bytes] = []
        _rebuild_chunks(valid[name], lambda i, o, e, s, p: (got.append(bytes(p)) if i == 0 else None, (o, e, s, p))[1])
        return got[0]

    out = _invalid_payload_lengths(valid, "neuronmix")
    zeros = first_payload("neuronmix-zeros")
    extra = next(b for b in range(256) if decoded(zeros + bytes([b]), "neuronmix-zeros")[0] == 1)
    body, ents = _rebuild_chunks(valid["neuronmix-zeros"], lambda i, o, e, s, p: (o, e, s, p + bytes([extra]) if i == 0 else p))
    out["neuronmix-extra-final-byte"] = (_finish(body, ents), _parts(valid["neuronmix-zeros"])[1], "corrupt payload")
    # Added later: the byte after them that the other end rule asks for (low >> 24, when high is
    # not 2^32 - 1): still refused, since high is 2^32 - 1 at the end of the zeros.
    from spikecodec.codecs.kernels import binary

    canon = make_array(VALID["neuronmix-zeros"]["array"])
    _, st = kernels._code(np.ascontiguousarray(canon.transpose(1, 3, 4, 2, 0)), 1, np.zeros(len(zeros) + 8, np.uint8), np.zeros(0, np.uint8), True)
    assert st[binary.HIGH] == 0xFFFFFFFF and st[binary.SHIFTED] == len(zeros)
    low = int(st[binary.LOW]) >> 24
    assert decoded(zeros + bytes([low]), "neuronmix-zeros")[0] == 1
    body, ents = _rebuild_chunks(valid["neuronmix-zeros"], lambda i, o, e, s, p: (o, e, s, p + bytes([low]) if i == 0 else p))
    out["neuronmix-extra-final-byte-low"] = (_finish(body, ents), _parts(valid["neuronmix-zeros"])[1], "corrupt payload")
    # The first one-chunk vector (in this order) whose final byte another can replace and decode
    # to the same values: then only the end rule tells them apart.
    for name in ("neuronmix-spikes", "neuronmix-long-t", "neuronmix-c1", "neuronmix-hw1", "neuronmix-counts2", "neuronmix-c70"):
        payload = first_payload(name)
        canon = make_array(VALID[name]["array"])
        assert np.array_equal(decoded(payload, name)[1], canon)
        other = next((b for b in range(256) if b not in (payload[-1], 0xFF)
                      and np.array_equal(decoded(payload[:-1] + bytes([b]), name)[1], canon)), None)
        if other is not None:
            break
    body, ents = _rebuild_chunks(valid[name], lambda i, o, e, s, p: (o, e, s, p[:-1] + bytes([other]) if i == 0 else p))
    out["neuronmix-final-byte-not-low"] = (_finish(body, ents), _parts(valid[name])[1], "corrupt payload")
    for cname, bits in (("neuronmix-counts4", 4), ("neuronmix-counts8", 8)):
        cbase = valid[cname]
        out[f"neuronmix-value-too-large-{bits}bit"] = (_escape_above_top(cbase), _parts(cbase)[1], f"does not fit {bits}-bit elements")
    out["neuronmix-parameter"] = (_raw_header(valid["neuronmix-spikes"], codecs=[(b"neuronmix", b'{"prior":"' + b"0" * 64 + b'"}')]),
                                  16, "bad parameters")
    return out


def _window_mixing_rules(valid: dict[str, bytes], cid: str, kernels: ModuleType, ended: str,
                         other: str) -> dict[str, tuple[bytes, int, str]]:
    """The invalid vectors winmix, countmix, chanmix and framemix share, named ``<cid>-...``: a payload one byte
    longer than the packed elements; the end rules (on ``<cid>-zeros`` and ``ended``, a coded
    chunk with a final byte); escapes above 15 and 255 (``<cid>-counts4``, ``-counts8``); the
    prior of ``prior-<cid>-embedded`` against a short last row; a ``cid`` codec naming and
    embedding the prior of codec ``other``."""
    out = _invalid_payload_lengths(valid, cid)
    out.update(_end_rule_vectors(valid, cid, kernels, f"{cid}-zeros", ended))
    for cname, bits in ((f"{cid}-counts4", 4), (f"{cid}-counts8", 8)):
        cbase = valid[cname]
        out[f"{cid}-value-too-large-{bits}bit"] = (_escape_above_top(cbase), _parts(cbase)[1], f"does not fit {bits}-bit elements")
    embedded = valid[f"prior-{cid}-embedded"]
    data, short_at = _short_last_row(embedded)
    out[f"{cid}-prior-short-row"] = (data, short_at, "was trained for chunks with")
    prior = get_prior(f"priors/{other}.prior")
    out[f"{cid}-prior-of-{other}"] = (
        _raw_header(embedded, codecs=[(cid.encode(), json.dumps({"prior": prior.digest}, separators=(",", ":")).encode())],
                    extensions=[(1, b"prior", prior.data)]), 16, f"cannot serve codec '{cid}'")
    return out


def _invalid_outside_second_round(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Added with the valid vectors of the second round (see them above): a ctxmix payload one
    byte longer than the packed elements in the short last row of a prior's file (the length is
    checked before the prior's geometry); compact records whose head breaks a rule before the
    rest does - a stated height of chunk_shape[0] with the check left as it was, a size of P =
    2^40 that also runs past the file's end, a 10-byte size (2^63 + 1: the payload bound, not
    the varint's length), 10 bytes of value 2^64 + 1, and 11 bytes whose first 10 already
    exceed 2^64 (too long, whatever the value); compact indexes checked in the order of section
    10 step 5 - an overlong count with the CRC left as it was (the varints first), a wrong CRC
    and one byte more than the index holds (the CRC before the size), a count varint that the
    trailer's index_size cuts (read on, into the trailer: there it is overlong) - and a size
    field of 0 after the first of a row's two records (the row is incomplete where the walk
    ends, before the index is found elsewhere)."""
    out: dict[str, tuple[bytes, int, str]] = {}
    base = valid["prior-ctxmix-packed-short-row"]
    _, _, ents = _parts(base)
    short = next(i for i, e in enumerate(ents) if e.row_length == 1)
    body, new_ents = _rebuild_chunks(base, lambda i, o, e, s, p: (o, e, s, p + b"\x00" if i == short else p))
    out["prior-ctxmix-too-long-short-row"] = (_finish(body, new_ents), ents[short].offset, "longer than the chunk packed")

    head, h, chunks = _compact_parts(valid["compact-streamed"])  # rows of 2, 1 (flushed), 2
    recs = _compact_records(head, h, chunks)
    rows = _rows(chunks)
    at = [len(head) + sum(len(r) for r in recs[:i]) for i in range(len(recs) + 1)]
    full = h.chunk_shape[0]
    size_field = varint(2 * len(chunks[1][2]) + 2)
    assert recs[1][: len(size_field) + 1] == size_field + varint(1)  # record 1 states its height, 1
    stale = list(recs)
    stale[1] = size_field + varint(full) + recs[1][len(size_field) + 1 :]
    out["compact-height-before-check"] = (_compact_file(head, stale, len(recs), rows), at[1], f"row height {full} is outside")
    last = recs[2]
    assert last[0] < 0x80 and not (last[0] - 1) & 1  # a one-byte size field, no height
    for name, field, problem in (
        ("compact-payload-size-huge", varint(2 * (1 << 40) + 1), "exceeds the cap"),
        ("compact-varint-10-bytes", b"\x81" + b"\x80" * 8 + b"\x01", "exceeds the cap"),
        ("compact-varint-too-large", b"\x81" + b"\x80" * 8 + b"\x02", "is above 2**64 - 1"),
        ("compact-varint-too-long", b"\x81" + b"\x80" * 8 + b"\x82\x01", "is longer than 10 bytes"),
    ):
        out[name] = (_compact_file(head, [*recs[:2], field + last[1:]], len(recs), rows), at[2], problem)

    body = head + b"".join(recs)
    index = encode_compact_index(len(recs), rows)
    assert index[1] == len(recs) < 0x80
    overlong = index[:1] + bytes([0x80 | len(recs), 0x00]) + index[2:]  # the CRC is the minimal index's
    out["compact-index-varint-stale-crc"] = (body + overlong + encode_trailer(len(body), len(overlong)), len(body),
                                             "not minimally encoded")
    bad_crc = index[:-4] + bytes(4) + b"\x00"
    assert index[-4:] != bytes(4)
    out["compact-index-crc-before-size"] = (body + bad_crc + encode_trailer(len(body), len(bad_crc)), len(body) + len(index) - 4,
                                            "index CRC mismatch")
    cut = index[:1] + bytes([0x80 | len(recs)])  # the trailer's first bytes go on: 0x87 (0x80 + its low byte), 0x00
    assert 0x80 <= len(body) < 0x100
    out["compact-index-varint-past-size"] = (body + cut + encode_trailer(len(body), len(cut)), len(body), "not minimally encoded")

    head, h, chunks = _compact_parts(valid["compact-check-boundary"])  # one row of two chunks
    recs = _compact_records(head, h, chunks)
    assert len(recs) == 2 and _compact_file(head, recs, 2, _rows(chunks)) == valid["compact-check-boundary"]
    out["compact-zero-inside-row"] = (_compact_file(head, [recs[0], b"\x00" + recs[1]], 2, _rows(chunks)), len(head) + len(recs[0]),
                                      "end inside a row")
    return out


# -- issue 23: codec errors, record and index structure, reserved fields --------------------------


def _order0_words(values: np.ndarray, bits: int) -> bytes:
    """An ``order0`` payload (FORMAT.md 9.4.2-9.4.4) of a canonical (T, N, C, H, W) uint8 array,
    coded here in plain Python from the text alone, so that it can code a value the library's
    encoder refuses (x = 2^bits: m = 2^bits - 1)."""
    C = values.shape[2]
    G, GM = max(1, min(C, 256)), max(1, min(C, 256, 1 << max(14 - bits, 0)))
    tables: dict = {}
    decisions = []

    def decide(bit: int, group: tuple, shared: tuple) -> None:
        c1, cn = tables.get(group, (0, 0))
        g1, gn = tables.get(shared, (0, 0))
        qg = ((2 * g1 + 1) << 24) // (2 * gn + 2)
        decisions.append((bit, ((c1 << 24) + 4 * qg) // (cn + 4)))
        for key, (one, n) in ((group, (c1, cn)), (shared, (g1, gn))):
            one, n = one + bit, n + 1
            if n >= 1024:
                one, n = (one + 1) >> 1, (n + 1) >> 1
            tables[key] = (one, n)

    for (t, n, c, h, w), x in np.ndenumerate(values):
        decide(int(x > 0), ("s", c % G, 0), ("S", 0))
        if bits > 1 and x > 0:
            node = 1
            for j in range(bits - 1, -1, -1):
                bit = ((int(x) - 1) >> j) & 1
                decide(bit, ("m", c % GM, node), ("M", node))
                node = 2 * node + bit
    x, words = 0, []
    for bit, q in reversed(decisions):  # rANS (9.4.3), decisions in reverse order
        w, cum = (q, (1 << 24) - q) if bit else ((1 << 24) - q, 0)
        if (x >> 40) >= w:
            words.append(x & 0xFFFFFFFF)
            x >>= 32
        x = ((x // w) << 24) + (x % w) + cum
    if x:
        words.append(x & 0xFFFFFFFF)
        if x >> 32:
            words.append(x >> 32)
    return struct.pack(f"<{len(words)}I", *words)


def _invalid_issue23(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    out: dict[str, tuple[bytes, int, str]] = {}

    def _with_first_payload(base: bytes, new_payload) -> bytes:
        """``base`` with chunk 0's payload replaced by ``new_payload(payload)`` (CRC and index fixed)."""
        body, ents = _rebuild_chunks(base, lambda i, o, e, s, p: (o, e, s, new_payload(bytes(p)) if i == 0 else p))
        return _finish(body, ents)

    # Codec errors (FORMAT.md 9.3, 9.4).
    obase = valid["order0-counts2"]
    ospec = VALID["order0-counts2"]
    arr = make_array(ospec["array"])
    first = arr[: ospec["encode"]["chunk"][0]]  # chunk 0 (T N C H W: already canonical)
    e0 = _parts(obase)[2][0]
    assert _order0_words(first, 2) == obase[e0.offset + layout.chunk_header_size(1) : e0.offset + e0.size - 4]  # the library's bytes
    wide = first.copy()
    wide.reshape(-1)[np.flatnonzero(wide.reshape(-1))[0]] = 4  # x = 4: m = 3, above the top level
    out["order0-value-too-large"] = (_with_first_payload(obase, lambda p: _order0_words(wide, 2)), _parts(obase)[1], "does not fit 2-bit elements")
    cbase = valid["context-spikes"]
    out["context-last-word-zero"] = (_with_first_payload(cbase, lambda p: p + b"\x00" * 4), _parts(cbase)[1], "corrupt stream")
    abase = valid["auto-spikes"]
    out["auto-bad-mode"] = (_with_first_payload(abase, lambda p: b"\x03" + p[1:]), _parts(abase)[1], "unknown mode 3")
    out["auto-empty-payload"] = (_with_first_payload(abase, lambda p: b""), _parts(abase)[1], "auto: empty payload")
    lbase = valid["ctxlanes-spikes"]
    out["ctxlanes-too-few-words"] = (_with_first_payload(lbase, lambda p: p[:4]), _parts(lbase)[1], "payload shorter than its 4 lane word counts")
    import zstandard

    zbase = valid["spikes-zstd"]
    no_size = zstandard.ZstdCompressor(level=3, write_content_size=False)
    out["zstd-no-content-size"] = (_with_first_payload(zbase, lambda p: no_size.compress(zstandard.ZstdDecompressor().decompress(p))),
                                   _parts(zbase)[1], "does not record its content size")

    # Record and index structure (FORMAT.md 4, 5.1, 6.1).
    base = valid["chunks-2d"]  # shape 3 x 5 x ..., chunks 2 x 2: rows of 3 chunks
    _, start, entries = _parts(base)

    def moved(field: str):
        def change(i, origin, extent, spikes, payload):
            if i == 1:
                (origin if field == "origin" else extent)[1] -= 1
            return origin, extent, spikes, payload
        body, ents = _rebuild_chunks(base, change)
        return _finish(body, ents)

    out["chunk-origin-misplaced"] = (moved("origin"), entries[1].offset, "not where the index puts it")
    out["chunk-extent-mismatch"] = (moved("extent"), entries[1].offset, "not where the index puts it")
    b = bytearray(base)
    at = entries[1].offset
    b[at : at + 4] = b"SPKX"
    b[at + entries[1].size - 4 : at + entries[1].size] = _crc(bytes(b[at : at + entries[1].size - 4]))
    out["chunk-bad-magic"] = (bytes(b), at, "expected chunk magic")

    rbase = valid["rank1-padding"]  # 13 one-bit elements, chunks of 5: rows 5, 5, 3
    rh, rstart, _ = _parts(rbase)
    values = make_array(VALID["rank1-padding"]["array"])
    body, ents = bytearray(rbase[:rstart]), []
    for row, height in ((0, 6), (6, 4), (10, 3)):  # a first row of 6 > chunk_shape[0] = 5
        part = values[row : row + height]
        record = b"".join(encode_chunk((row,), (height,), int(part.sum()), spikecodec.elements.pack(part, 1)))
        ents.append(IndexEntry(len(body), len(record), row, height, int(part.sum())))
        body += record
    out["row-taller-than-chunk"] = (_finish(bytes(body), ents), len(body), "chunk height 6 is outside 1..5")
    sbase = valid["spikes-raw"]  # shape[0] = 2, rows of 1
    _, sstart, sents = _parts(sbase)
    short = sbase[: sents[0].offset + sents[0].size]
    out["rows-short-of-shape"] = (_finish(short, sents[:1]), len(short), "chunks cover 1 of the 2 rows")
    out["rows-past-shape"] = (_patch_header_body(sbase, 4, struct.pack("<Q", 1)), sents[-1].offset + sents[-1].size,
                              "past shape[0] = 1")

    # Reserved fields and flag bits (FORMAT.md 3).
    pre = bytearray(sbase)
    pre[10] = 0x01
    hsize = struct.unpack_from("<I", sbase, 12)[0]
    pre[16 + hsize : 20 + hsize] = _crc(bytes(pre[: 16 + hsize]))
    out["preamble-reserved"] = (bytes(pre), 10, "reserved preamble field is not zero")
    out["header-reserved"] = (_patch_header_body(sbase, 3, b"\x01"), 16, "reserved header field is not zero")
    ebase = valid["optional-extension"]
    ehsize = struct.unpack_from("<I", ebase, 12)[0]
    flags_at = ebase.index(b"\x00\x0dx-vendor-note", 16, 16 + ehsize) - 16
    out["extension-flag-bits"] = (_patch_header_body(ebase, flags_at, b"\x02"), 16, "undefined flag bits set")

    # Pipelines (FORMAT.md 9.1): an array codec first, bytes codecs after it.
    out["pipeline-no-array-codec"] = (_set_header(zbase, codecs=({"id": "zstd", "level": 3},)), 16, "starts with an array codec")
    out["pipeline-two-array-codecs"] = (_set_header(sbase, codecs=({"id": "raw"}, {"id": "raw"})), 16, "can only come first")
    return out



# -- the check order of FORMAT.md 10 and the offsets of appendix A, where a reader could guess ----


def _raw_header(data: bytes, *, shape=None, chunk=None, axes=None, codecs=None, metadata=None, extensions=None,
                trailing: bytes = b"", head_only: bool = False) -> bytes:
    """``data``'s header rebuilt from raw fields (bytes, not checked: any of them may break a
    rule), the chunks moved after it (``head_only``: the header bytes alone). ``codecs``: [(id,
    config)], ``extensions``: [(flags, name, data)]."""
    h, _, _ = _parts(data)
    body = struct.pack("<BBBB", h.rank, h.bits, h.chunk_rank, 0)
    body += struct.pack(f"<{h.rank}Q", *(shape or [(1 << 64) - 1 if s is None else s for s in h.shape]))
    body += struct.pack(f"<{h.chunk_rank}Q", *(chunk or h.chunk_shape))
    for name in axes or [a.encode() for a in h.axes]:
        body += bytes([len(name)]) + name
    codecs = codecs if codecs is not None else [(c["id"].encode(), json.dumps({k: v for k, v in c.items() if k != "id"},
                                                 separators=(",", ":"), sort_keys=True).encode()) for c in h.codecs]
    body += bytes([len(codecs)]) + b"".join(bytes([len(i)]) + i + struct.pack("<I", len(c)) + c for i, c in codecs)
    meta = metadata if metadata is not None else json.dumps(h.metadata, separators=(",", ":"), sort_keys=True).encode()
    body += struct.pack("<I", len(meta)) + meta
    exts = extensions if extensions is not None else [(int(e.required), e.name.encode(), e.data) for e in h.extensions]
    body += struct.pack("<H", len(exts)) + b"".join(bytes([f]) + bytes([len(n)]) + n + struct.pack("<I", len(d)) + d for f, n, d in exts)
    body += trailing
    pre = data[:12] + struct.pack("<I", len(body))
    if head_only:
        return pre + body + _crc(pre + body)
    return _relocate(data, pre + body + _crc(pre + body))


def _short_last_row(embedded: bytes) -> tuple[bytes, int]:
    """``embedded`` (one row of chunks of T = 3 along axis 0, one sample each, coded from an
    embedded ctxmix or mix prior with T = 3) with a last row of height 1 added: its chunks have
    T = 1, so min(T, 4) differs from the prior's T. Each is a 1-byte payload, shorter than the
    packed elements, so coded. Returns (file, offset of the first added record)."""
    h, start, ents = _parts(embedded)
    assert h.shape[0] == 3 and h.chunk_shape == (3, 1)
    head = encode_header(Header(**{**h.__dict__, "shape": (4, *h.shape[1:])}))
    shift = len(head) - start
    body = bytearray(head + embedded[start : ents[-1].offset + ents[-1].size])
    moved = [IndexEntry(e.offset + shift, e.size, e.row_start, e.row_length, e.spike_count) for e in ents]
    short_at = len(body)
    for n in range(h.shape[1]):
        record = b"".join(encode_chunk((3, n), (1, 1), 0, b"\x00"))
        moved.append(IndexEntry(len(body), len(record), 3, 1, 0))
        body += record
    return _finish(bytes(body), moved), short_at


def _invalid_check_order(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    out: dict[str, tuple[bytes, int, str]] = {}
    base = valid["spikes-raw"]  # rank 5, k = 1, codec raw
    hsize = struct.unpack_from("<I", base, 12)[0]

    # Section 10 step 2: a file that ends inside the header CRC is reported at 16, like one that
    # ends inside the body.
    out["header-truncated-in-crc"] = (base[: 16 + hsize + 2], 16, "file ends inside the")

    # Step 3: the body's structure - every str8 is ASCII - before the rules on the values; the
    # structure (trailing bytes) before the codec count and the JSON texts; the chunk extents axis
    # by axis; the extensions one after another, each through every rule.
    out["axis-name-not-ascii"] = (_raw_header(base, axes=[b"T\xc3", b"N", b"C", b"H", b"W"]), 16, "malformed header body")
    out["codec-id-not-ascii"] = (_raw_header(base, codecs=[(b"r\xe1w", b"{}")]), 16, "malformed header body")
    out["header-trailing-bytes-first"] = (_raw_header(base, codecs=[], metadata=b'{"dt": NaN}', trailing=b"\x00"), 16,
                                          "malformed header body")
    r8 = valid["rank8"]  # shape [2, 1, 2, ...], chunk [1, 1, 2]: chunk_shape[1] too large, then chunk_shape[2] = 0
    out["chunk-shape-axis-by-axis"] = (_raw_header(r8, chunk=[1, 2, 0]), 16, "is larger than shape[1]")
    out["extension-by-extension"] = (
        _raw_header(base, extensions=[(0, b"prior", b""), (1, b"x-must-understand", b"")]), 16, "must be marked required")

    # Section 14: where a prior's geometry is checked. The prior's tables against its own geometry
    # (and their values) with the header; its geometry against each chunk's when the chunk is
    # decoded, at the record: ctxmix's T = min(T, 4) of a short last row differs from the prior's.
    bad = invalid_priors()["prior-geometry-tables"][0]  # a context prior whose tables fit C = 4, not its C = 8
    named = valid["prior-context-named"]
    out["prior-tables-misfit-embedded"] = (
        _raw_header(named, codecs=[(b"context", json.dumps({"prior": hashlib.sha256(bad).hexdigest()}, separators=(",", ":")).encode())],
                    extensions=[(1, b"prior", bad)]), 16, "do not fit geometry")
    data, short_at = _short_last_row(valid["prior-ctxmix-embedded"])  # shape [3, 3, 2, 4, 4], chunk [3, 1]
    out["prior-geometry-short-row"] = (data, short_at, "was trained for chunks with")

    # ctxlanes (9.4.8): the word checks of order0 come first, with their codes.
    lbase = valid["ctxlanes-spikes"]
    lstart = _parts(lbase)[1]
    out["ctxlanes-partial-word"] = (_with_first_payload(lbase, lambda p: p + b"\x00"), lstart, "not a whole number of 32-bit words")
    with spikecodec.open(lbase) as r:
        lspec = r.chunk_spec(0)
    longest = lspec.size * 2 + 12  # bits = 1: size (1 + bits) + 12 words
    out["ctxlanes-too-long"] = (_with_first_payload(lbase, lambda p: p + bytes(4 * (longest + 1 - len(p) // 4))), lstart,
                                "longer than any encoding")

    # zstd (9.3): a frame whose blocks do not decode to its content size is not a valid frame,
    # which is found before bytes after it.
    zbase = valid["spikes-zstd"]

    def wrong_size(p: bytes) -> bytes:
        assert p[4] == 0x20  # single segment, a 1-byte content size at byte 5
        return p[:5] + bytes([p[5] + 1]) + p[6:] + b"\x00"

    out["zstd-content-size-before-trailing-bytes"] = (_with_first_payload(zbase, wrong_size), _parts(zbase)[1], "corrupt frame")

    # The compact index (6.2): its varints' problems at the index's first byte; records walked up to
    # where the index starts: a record running past it fails its check, a 00 before it ends the
    # records early (index-end where the walk stopped).
    head, ch, chunks = _compact_parts(valid["compact-streamed"])
    recs = _compact_records(head, ch, chunks)
    rows = _rows(chunks)
    body = head + b"".join(recs)
    index = b"\x00" + bytes([0x80 | len(recs), 0x00]) + varint(rows)
    index += _crc(index)
    out["compact-index-varint-overlong"] = (body + index + encode_trailer(len(body), len(index)), len(body), "not minimally encoded")
    early = body + b"\x00"
    out["compact-zero-before-index"] = (_compact_file(early, [], len(recs), rows), len(body), "chunks end at")
    tag = head[-4:]
    last = recs[-1]
    v = last[0]
    assert v < 0x80 and not (v - 1) & 1  # a one-byte size field, no height
    payload = last[1:-check_size((v - 1) >> 1)]
    longer = varint(v + 4) + payload  # states two bytes more than it holds: it runs into the index
    longer += compact_check(tag, len(recs) - 1, longer[:1], payload, check_size(len(payload)))
    out["compact-record-past-index"] = (_compact_file(head, [*recs[:-1], longer], len(recs), rows),
                                        len(body) - len(last), "check mismatch")
    return out

def _invalid_outside_third_round(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Where the library accepted what FORMAT.md forbids (found reading the spec as an outside
    implementer would): a skippable frame read as a zstd frame (9.3), a prior parameter of null
    (14), an integer literal beyond a double in the metadata (1)."""
    out: dict[str, tuple[bytes, int, str]] = {}
    zbase = valid["spikes-zstd"]
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"abcd"
    body, ents = _rebuild_chunks(zbase, lambda i, o, e, s, p: (o, e, s, skippable + bytes(p) if i == 0 else p))
    out["zstd-skippable-frame"] = (_finish(body, ents), _parts(zbase)[1], "not a zstd frame")
    out["prior-null"] = (_raw_header(valid["context-history"], codecs=[(b"context", b'{"prior":null}')]), 16, "prior is null")
    out["metadata-integer-past-double"] = (_set_metadata_raw(valid["spikes-raw"], b'{"a":1' + b"0" * 400 + b"}"), 16,
                                           "too large for a double")

    # Section 10's order where a file breaks two rules (the first one found is reported):
    # classic records are read - checked, then decoded - one after another (step 7), so a
    # padding problem in record 0 comes before a bad CRC in record 1; a record's CRC comes before
    # the spike count its decoding would check; with G = 0 the first index entry, or the first
    # compact record, is empty-array-chunks before anything else about it; a spike count an
    # entry cannot hold (2^62) is the record's index-record-mismatch, not an index problem.
    base = spikecodec.encode(np.array([[1, 0, 1], [0, 1, 1]], np.uint8), codec="raw", chunk=[1])  # 5 padding bits a record
    start = _parts(base)[1]

    def padded_then_bad_crc(i, o, e, sc, p):
        return o, e, sc, bytes(p[:-1]) + bytes([p[-1] | 1]) if i == 0 else p

    body, ents = _rebuild_chunks(base, padded_then_bad_crc)
    second = ents[1].offset
    b = bytearray(_finish(body, ents))
    b[second + ents[1].size - 1] ^= 0xFF  # record 1's CRC
    out["read-in-order-padding-before-next-crc"] = (bytes(b), start, "padding")
    body, ents = _rebuild_chunks(base, lambda i, o, e, sc, p: (o, e, 10**6 if i == 0 else sc, p))
    b = bytearray(_finish(body, [IndexEntry(x.offset, x.size, x.row_start, x.row_length, x.spike_count) for x in ents]))
    b[start + ents[0].size - 1] ^= 0xFF  # record 0's CRC, its spike count impossible too
    out["crc-before-impossible-spike-count"] = (bytes(b), start, "CRC")
    body, ents = _rebuild_chunks(base, lambda i, o, e, sc, p: (o, e, sc, p))
    ents[1] = IndexEntry(ents[1].offset, ents[1].size, ents[1].row_start, ents[1].row_length, 1 << 62)
    out["entry-spike-count-2-62"] = (_finish(body, ents), ents[1].offset, "spike count")
    empty = valid["empty-inner-axis"]  # shape [3, 0, 4], chunk [1, 1]: G = 0
    head = empty[: _parts(empty)[1]]
    record = b"".join(encode_chunk([0, 0], [1, 0], 0, b""))
    body = head + record
    out["empty-array-entry-first"] = (_finish(body, [IndexEntry(len(head) + 1, len(record), 0, 1, 0)]), len(body),
                                      "may hold no chunks")
    cempty = spikecodec.encode(np.zeros((3, 0, 4), np.uint8), codec="raw", chunk=[1, 1], records="compact-unkeyed")
    chead = cempty[: _parts(cempty)[1]]
    crec = b"".join(CompactRecords(tag=chead[-4:], row_height=1).build(0, (0,), (1,), 0, b""))
    out["empty-array-compact-record"] = (_compact_file(chead, [crec], 1, 1), len(chead), "may hold no chunks")
    return out


def _zstd_frame_window_log(content: bytes, window_log: int) -> bytes:
    """A zstd frame of ``content`` in one raw block, with a Window_Descriptor of ``window_log``
    (Exponent = window_log - 10, Mantissa 0) and a 4-byte content size (RFC 8878 3.1.1.1)."""
    descriptor = bytes([(window_log - 10) << 3])
    block = ((len(content) << 3) | 1).to_bytes(3, "little")  # last block, raw
    return b"\x28\xb5\x2f\xfd" + bytes([0x80]) + descriptor + struct.pack("<I", len(content)) + block + content


def _invalid_outside_fourth_round(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """What three clean-room implementations of FORMAT.md found the text left open, now rules:
    a classic file of no record has its index at D (10 step 5); rows of a stream of unknown
    length end at or before 2^62 - 1 (4.1); JSON nests at most 512 deep (1); a zstd window log
    above 31 is not a valid frame (9.3)."""
    out: dict[str, tuple[bytes, int, str]] = {}
    empty = valid["empty-inner-axis"]  # shape [3, 0, 4], chunk [1, 1]: G = 0, no record
    head = empty[: _parts(empty)[1]]
    out["no-record-bytes-before-index"] = (_finish(head + b"JUNK", []), len(head) + 4, "index starts")
    classic = spikecodec.encode(np.zeros((2, 0), np.uint8), codec="raw", chunk=[1])  # chunks of no element
    tall = _raw_header(classic, shape=[(1 << 64) - 1, 0], chunk=[1 << 62], extensions=[(1, b"compact-records", b"")])
    chead = tall[: 16 + struct.unpack_from("<I", tall, 12)[0] + 4]  # the header alone (its records were classic)
    rec = b"".join(CompactRecords(tag=chead[-4:], row_height=1 << 62).build(0, (0,), (1 << 62,), 0, b""))
    out["stream-rows-past-2-62"] = (_compact_file(chead, [rec], 1, 1 << 62), len(chead), "extent limit")
    # The same limit met by two rows of classic records, each of them within it (2^61 + 2^61): an
    # outside writer found the reference reader's check of a whole index missed the sum.
    half = _raw_header(classic, shape=[(1 << 64) - 1, 0], chunk=[1 << 61])
    hhead = half[: _parts(half)[1]]
    recs = [b"".join(encode_chunk((r,), (1 << 61,), 0, b"")) for r in (0, 1 << 61)]
    ents = [IndexEntry(len(hhead) + i * len(recs[0]), len(recs[0]), r, 1 << 61, 0) for i, r in enumerate((0, 1 << 61))]
    body = hhead + b"".join(recs)
    out["classic-rows-past-2-62"] = (_finish(body, ents), len(body), "extent limit")
    out["metadata-nested-513"] = (_set_metadata_raw(valid["spikes-raw"], b'{"a":' + b"[" * 512 + b"]" * 512 + b"}"), 16,
                                  "nested")
    zbase = valid["spikes-zstd"]

    def window_log_32(i, o, e, s, p):
        return o, e, s, _zstd_frame_window_log(zstandard.ZstdDecompressor().decompress(bytes(p)), 32) if i == 0 else p

    body, ents = _rebuild_chunks(zbase, window_log_32)
    out["zstd-window-log-32"] = (_finish(body, ents), _parts(zbase)[1], "zstd")
    return out


# -- the fifth round (an outside reader written from FORMAT.md alone) ---------------------------


def _raw_head(data: bytes, **fields) -> bytes:
    """The header bytes (preamble to CRC) that :func:`_raw_header` puts before ``data``'s chunks."""
    return _raw_header(data, **fields, head_only=True)


def _compact_under(data: bytes, head: bytes, keyed: bool = False) -> bytes:
    """A compact-record file's records rebuilt under another header ``head`` (each record's check
    made against ``head``'s CRC), with its index and trailer: only what ``head`` says is wrong."""
    _, h, chunks = _compact_parts(data)
    return _compact_file(head, _compact_records(head, h, chunks, keyed=keyed), len(chunks), _rows(chunks))


def _fresh_compact(records: str) -> bytes:
    """spikes-raw's array (shape [2, 2, 3, 4, 5], 1-bit) as compact records of codec raw, chunk [1]:
    two records of 8-byte payloads, each with a one-byte size field and no height."""
    return spikecodec.encode(make_array(VALID["spikes-raw"]["array"]), codec="raw", chunk=[1], records=records)


def _invalid_outside_fifth_round(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """What an outside reader written from FORMAT.md alone found no vector for: every problem code
    of appendix A that a reader of a file reports, each with its first check in the order of
    section 10 (and where that order is subtle, the case that pins it)."""
    out: dict[str, tuple[bytes, int, str]] = {}
    base = valid["spikes-raw"]  # shape [2, 2, 3, 4, 5], chunk [1], axes T N C H W, codec raw, classic records
    h, start, ents = _parts(base)

    # Step 3.1: the chunk rank, before the structure it sizes (k = 6 would need a longer body).
    out["chunk-rank-zero"] = (_patch_header_body(base, 2, b"\x00"), 16, "chunk rank 0 is outside")
    out["chunk-rank-above-rank"] = (_patch_header_body(base, 2, b"\x06"), 16, "chunk rank 6 is outside")
    # Step 3.3: the codec count (none, nine) before any codec's JSON; each codec in turn, its JSON
    # then the key id (so codec 0's id before codec 1's broken JSON; keys compared decoded); the
    # extension count before each extension's flag bits.
    out["codec-count-zero"] = (_raw_header(base, codecs=[]), 16, "0 codecs")
    out["codec-count-nine"] = (_raw_header(base, codecs=[(b"raw", b"{}")] + [(b"zstd", b"{}")] * 8), 16, "9 codecs")
    out["codec-config-id"] = (_raw_header(base, codecs=[(b"raw", b'{"id":"raw"}')]), 16, "may not contain the key 'id'")
    out["codec-config-id-before-next-json"] = (_raw_header(base, codecs=[(b"raw", b'{"id":1}'), (b"zstd", b"{")]), 16,
                                               "may not contain the key 'id'")
    out["codec-config-id-escaped"] = (_raw_header(base, codecs=[(b"raw", b'{"\\u0069d":1}')]), 16,
                                      "may not contain the key 'id'")
    out["extension-count-65"] = (_raw_header(base, extensions=[(2, b"x-pad", b"")] + [(0, b"x-pad", b"")] * 64), 16,
                                 "65 extension fields")
    # Step 3.4: each extent, axis 0 first (an extent too large before the element count it makes
    # too large); a chunk_shape entry of 0 (axis 1) before chunk_shape[0] larger than shape[0];
    # the chunk's element count; the axis names' characters before their distinctness; the codec
    # ids before the pipeline.
    out["shape-extent"] = (_raw_header(base, shape=[2, 1 << 62, 3, 4, 5]), 16, "is outside 0..")
    out["shape-extent-axis-0"] = (_raw_header(base, shape=[(1 << 64) - 2, 2, 3, 4, 5]), 16, "is outside 0..")
    c2 = valid["chunks-2d"]  # shape [3, 5, 3, 2, 2], chunk [2, 2]
    out["chunk-shape-zero"] = (_raw_header(base, chunk=[0]), 16, "chunk_shape[0] is zero")
    out["chunk-shape-zero-before-axis-0"] = (_raw_header(c2, chunk=[9, 0]), 16, "chunk_shape[1] is zero")
    out["chunk-too-large"] = (_raw_header(base, shape=[2, 3, 1 << 30, 1, 1]), 16, "more than 2147483648 elements")
    out["axis-name"] = (_raw_header(base, axes=[b"T", b"N-1", b"C", b"H", b"W"]), 16, "is not 1-16 characters")
    out["axis-name-empty"] = (_raw_header(base, axes=[b"T", b"", b"C", b"H", b"W"]), 16, "is not 1-16 characters")
    out["axis-name-17"] = (_raw_header(base, axes=[b"T", b"N" * 17, b"C", b"H", b"W"]), 16, "is not 1-16 characters")
    out["axis-name-before-duplicate"] = (_raw_header(base, axes=[b"T", b"T", b"C", b"H", b"W!"]), 16, "is not 1-16 characters")
    out["codec-id-33"] = (_raw_header(base, codecs=[(b"r" * 33, b"{}")]), 16, "is not 1..32 ASCII characters")
    out["codec-id-empty"] = (_raw_header(base, codecs=[(b"", b"{}")]), 16, "is not 1..32 ASCII characters")
    # Step 3.5: an extension's name before its required bit; a known extension that appears twice
    # fails at its first appearance, whatever the second's bit, and before its data is looked at.
    out["extension-name-empty"] = (_raw_header(base, extensions=[(1, b"", b"")]), 16, "is not 1..64 ASCII characters")
    out["extension-name-65"] = (_raw_header(base, extensions=[(0, b"x" * 65, b"")]), 16, "is not 1..64 ASCII characters")
    cs = valid["compact-streamed"]  # raw, compact records (unkeyed), chunk [2], rows of 2, 1, 2
    out["extension-repeated"] = (
        _compact_under(cs, _raw_head(cs, extensions=[(1, b"compact-records", b""), (0, b"compact-records", b"")])), 16,
        "appears more than once")
    out["extension-repeated-before-data"] = (
        _compact_under(cs, _raw_head(cs, extensions=[(1, b"compact-records", b"\x00"), (1, b"compact-records", b"")])), 16,
        "appears more than once")
    # After every extension's own rules (its data among them), keyed-checks without compact records,
    # then message-ends without them; stream-id has no rule: with its required bit, an unknown one.
    out["extension-data-before-keyed-checks-classic"] = (
        _raw_header(base, extensions=[(1, b"keyed-checks", b""), (1, b"message-ends", b"\x00")]), 16, "carries no data")
    out["keyed-checks-classic-before-message-ends"] = (
        _raw_header(base, extensions=[(1, b"message-ends", b""), (1, b"keyed-checks", b"")]), 16, "keys compact records")
    out["stream-id-required"] = (_raw_header(base, extensions=[(1, b"stream-id", bytes(range(16)))]), 16,
                                 "is not understood by this reader")

    # Step 4: the trailer's pointer - at or after D, ending at the trailer (computed without
    # overflow), and room for the smallest index (16 bytes classic; 1 byte compact).
    size = len(base)
    T = size - 24
    io = ents[-1].offset + ents[-1].size
    out["trailer-index-before-data"] = (base[:T] + encode_trailer(0, T), T, "not ending at the trailer")
    out["trailer-index-not-at-trailer"] = (base[:T] + encode_trailer(io, T - io + 1), T, "not ending at the trailer")
    out["trailer-index-wraps"] = (base[:T] + encode_trailer(T + 1, (1 << 64) - 1), T, "not ending at the trailer")
    out["trailer-index-classic-12"] = (base[:T] + encode_trailer(T - 12, 12), T, "not ending at the trailer")
    cT = len(cs) - 24
    out["trailer-index-compact-empty"] = (cs[:cT] + encode_trailer(cT, 0), cT, "not ending at the trailer")

    # Step 5: the index's magic, then its size against its count (also a count whose 12 + 40 m + 4
    # wraps to the size mod 2^64), then its CRC; each entry's size after its offset.
    b = bytearray(base)
    b[io + 3] = ord("X")
    out["index-magic"] = (bytes(b), io, "no index magic")
    b = bytearray(base)
    b[io + 4 : io + 12] = struct.pack("<Q", len(ents) + 1)
    out["index-size"] = (bytes(b), io, "entries but is")
    b = bytearray(base)
    b[io + 4 : io + 12] = struct.pack("<Q", len(ents) + (1 << 61))
    assert (12 + 40 * (len(ents) + (1 << 61)) + 4) % (1 << 64) == T - io
    out["index-size-count-wraps"] = (bytes(b), io, "entries but is")
    small = [IndexEntry(ents[0].offset, 4, ents[0].row_start, ents[0].row_length, ents[0].spike_count), *ents[1:]]
    out["index-entry-size"] = (_finish(base[:io], small), io, "is below the minimum")
    # The other chunks of a row have the row's height: in the index (chunks-2d: rows of 3 chunks),
    # and in compact records (a record that states a height its row's first chunk did not).
    _, c2start, c2ents = _parts(c2)
    c2io = c2ents[-1].offset + c2ents[-1].size
    differs = list(c2ents)
    differs[1] = IndexEntry(differs[1].offset, differs[1].size, differs[1].row_start, 1, differs[1].spike_count)
    out["row-height-differs"] = (_finish(c2[:c2io], differs), c2io, "differs from its row's")
    c2compact = spikecodec.encode(make_array(VALID["chunks-2d"]["array"]), codec="raw", chunk=[2, 2], records="compact-unkeyed")
    head, ch, chunks = _compact_parts(c2compact)
    recs = _compact_records(head, ch, chunks)
    payload1 = chunks[1][2]
    size_field = varint(2 * len(payload1) + 2) + varint(1)  # f = 1, height 1: its row's first record states none (2)
    recs[1] = size_field + payload1 + compact_check(head[-4:], 1, size_field, payload1, check_size(len(payload1)))
    out["compact-row-height-differs"] = (_compact_file(head, recs, len(recs), _rows(chunks)), len(head) + len(recs[0]), "differs from its row's")

    # Step 7, raw (9.2, 8): a payload one byte short of or past the packed size; a zstd frame
    # whose content is not the packed size is raw's problem, not zstd's.
    out["packed-size-short"] = (_with_first_payload(base, lambda p: p[:-1]), start, "packed data is 14 bytes")
    out["packed-size-long"] = (_with_first_payload(base, lambda p: p + b"\x00"), start, "packed data is 16 bytes")
    zbase = valid["spikes-zstd"]

    def content(p: bytes, change) -> bytes:
        return zstandard.ZstdCompressor(level=3, write_content_size=True).compress(change(zstandard.ZstdDecompressor().decompress(p)))

    out["zstd-content-short-packed-size"] = (_with_first_payload(zbase, lambda p: content(p, lambda c: c[:-1])), _parts(zbase)[1], "packed data is 146 bytes")
    out["zstd-content-long-packed-size"] = (_with_first_payload(zbase, lambda p: content(p, lambda c: c + b"\x00")), _parts(zbase)[1], "packed data is 148 bytes")
    return out


def _invalid_codec_rules(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Added with VALID["ctxmix-code-at-mid"] and the others of its round: countctx's payload
    problems (FORMAT.md 9.4.7): a partial word; more than size * D + 2 words (D = 3 + bits), and
    exactly that many (the last 0: rans-final-state, not the length of order0's bound); an
    escape with 3 + e above the top, found as ``_escape_above_top`` finds mix's (the first byte of
    the first chunk's payload, counted from its end, whose low bit flipped decodes so)."""
    out: dict[str, tuple[bytes, int, str]] = {}

    base = valid["countctx-counts4"]
    start = _parts(base)[1]
    with spikecodec.open(base) as r:
        size = r.chunk_spec(0).size
    longest = size * (3 + 4) + 2
    out["countctx-partial-word"] = (_with_first_payload(base, lambda p: p + b"\x00"), start, "not a whole number of 32-bit words")
    out["countctx-too-long"] = (_with_first_payload(base, lambda p: p + bytes(4 * (longest + 1 - len(p) // 4))), start, "payload longer than any encoding")
    # Exactly size * D + 2 words, the last 0: within the bound (not order0's size * (1 + bits) + 2),
    # so the problem is the stream's, found when it is opened (9.4.3).
    out["countctx-words-at-bound"] = (_with_first_payload(base, lambda p: p + bytes(4 * (longest - len(p) // 4))), start, "corrupt stream")
    found = None
    for back in range(1, 65):
        data = _with_first_payload(base, lambda p, back=back: p[:-back] + bytes([p[-back] ^ 0x01]) + p[len(p) - back + 1:])
        try:
            spikecodec.decode(data)
        except spikecodec.FormatError as error:
            if error.code == "symbol-above-top":
                found = data
                break
    assert found is not None
    out["countctx-value-too-large"] = (found, start, "does not fit 4-bit elements")
    return out


def _invalid_core_twins(valid: dict[str, bytes]) -> dict[str, tuple[bytes, int, str]]:
    """Twins, with the codecs every reader implements (raw; context where a prior is needed), of the
    vectors of container rules built on optional codecs (ctxmix, mix), so that a reader of raw,
    zstd, order0, context and auto alone reaches those rules (FORMAT.md 9.1: it would report
    codec-pipeline for the others)."""
    out: dict[str, tuple[bytes, int, str]] = {}

    def flipped_and_swapped(data: bytes, keyed: bool):
        head, h, chunks, recs, rows, at = _rebuilt_compact(data, keyed=keyed)
        payload1 = chunks[1][2]
        r1 = bytearray(recs[1])
        r1[len(r1) - check_size(len(payload1)) - 1] ^= 0x01  # the payload's last byte; its check as it was
        flipped = _compact_file(head, [recs[0], bytes(r1), *recs[2:]], len(recs), rows)
        swapped = _compact_file(head, [recs[1], recs[0], *recs[2:]], len(recs), rows)
        return head, h, chunks, recs, rows, at, flipped, swapped

    # compact-streamed: raw, compact records checked as in 1.3 - 1.6; record 1 (a flushed row) states its height.
    head, h, chunks, recs, rows, at, flipped, swapped = flipped_and_swapped(valid["compact-streamed"], keyed=False)
    out["compact-check-mismatch-raw"] = (flipped, at[1], "check mismatch")
    out["compact-records-swapped-raw"] = (swapped, at[0], "check mismatch")
    out["compact-index-count-raw"] = (_compact_file(head, recs, len(recs) + 1, rows), at[-1], "the index counts")

    keyed = _fresh_compact("compact")
    head, h, chunks, recs, rows, at, flipped, swapped = flipped_and_swapped(keyed, keyed=True)
    out["keyed-check-mismatch-raw"] = (flipped, at[1], "check mismatch")
    out["keyed-records-swapped-raw"] = (swapped, at[0], "check mismatch")
    unkeyed = _compact_records(head, h, chunks, keyed=False)
    out["keyed-records-unkeyed-raw"] = (_compact_file(head, unkeyed, len(recs), rows), at[0], "check mismatch")
    with_data = _given_data(h.extensions, "keyed-checks")
    new_head = encode_header(Header(**{**h.__dict__, "extensions": with_data}))
    out["keyed-extension-data-raw"] = (_compact_under(keyed, new_head, keyed=True), layout.PREAMBLE_SIZE, "carries no data")
    spikes = valid["spikes-raw"]
    out["keyed-checks-classic-raw"] = (_set_header(spikes, extensions=(Extension("keyed-checks", b"", True),)),
                                       layout.PREAMBLE_SIZE, "compact records")
    # A raw stream with message ends, its header's message-ends extension given data (only the
    # header is replaced: a reader finds the problem there, before it looks further).
    frames = make_array(VALID["spikes-raw"]["array"])
    link_head, link_msgs, link_end = _link_stream(frames.shape[1:], frames, [1, 1], codec="raw", records="compact", message_ends=True)
    stream = link_head + b"".join(link_msgs) + link_end
    lh, lstart, _ = _parts(stream)
    ends_data = _given_data(lh.extensions, "message-ends")
    out["message-ends-extension-data-raw"] = (encode_header(Header(**{**lh.__dict__, "extensions": ends_data})) + stream[lstart:],
                                              layout.PREAMBLE_SIZE, "carries no data")
    out["message-ends-classic-raw"] = (_set_header(spikes, extensions=(Extension("message-ends", b"", True),)),
                                       layout.PREAMBLE_SIZE, "compact records")
    # Priors (14) with context: a prior extension where the codec names none; an embedded prior
    # file whose CRC is damaged; an embedded prior that is not the one the codec names; a prior of
    # another codec (order0's, named and embedded).
    cspikes = valid["context-spikes"]
    out["prior-extension-unneeded-context"] = (
        _set_header(cspikes, extensions=(Extension("prior", get_prior("priors/context.prior").data, True),)),
        layout.PREAMBLE_SIZE, "holds a prior, but codec")
    embedded = valid["prior-context-embedded"]
    broken = bytearray(get_prior("priors/context.prior").data)
    broken[-1] ^= 0x01
    out["prior-embedded-file-crc-context"] = (
        _raw_header(embedded, codecs=[(b"context", json.dumps({"prior": hashlib.sha256(broken).hexdigest()}, separators=(",", ":")).encode())],
                    extensions=[(1, b"prior", bytes(broken))]), 16, "the embedded prior, at its byte")
    other = Extension("prior", get_prior("priors/order0.prior").data, True)
    out["prior-embedded-wrong-context"] = (_set_header(embedded, extensions=(other,)), layout.PREAMBLE_SIZE,
                                           "the embedded prior is not prior")
    order0 = get_prior("priors/order0.prior")
    out["context-prior-of-order0"] = (
        _raw_header(embedded, codecs=[(b"context", json.dumps({"prior": order0.digest}, separators=(",", ":")).encode())],
                    extensions=[(1, b"prior", order0.data)]), 16, "cannot serve codec 'context'")
    # The prior's geometry against each chunk's, at the record (section 10 step 7): the context
    # prior (C = 4) for chunks cut along C (chunk [3, 1, 3]: C = 3, then 1), their payloads coded
    # without a prior (whole words, within the bound: the length checks come first).
    context = get_prior("priors/context.prior")
    plain = spikecodec.encode(make_array(VALID["prior-context-embedded"]["array"]), codec="context", chunk=[3, 1, 3])
    cut = _raw_header(plain, codecs=[(b"context", json.dumps({"prior": context.digest}, separators=(",", ":")).encode())],
                      extensions=[(1, b"prior", context.data)])
    cut = _patch_header_body(cut[:9] + b"\x03" + cut[10:], 0, cut[16:17])  # minor 3 (priors), the header CRC made again
    out["context-prior-geometry-at-record"] = (cut, _parts(cut)[1], "was trained for chunks with C=4")
    return out


# -- messages (FORMAT.md 11) ----------------------------------------------------------------------
# A stream as a receiver gets it over its own transport, message by message: each vector is the
# messages in the order delivered (vectors/messages/NAME.msgs: each a u32 length, then its bytes),
# the header message first and, when "end", the end message last; a receiver checks each on
# arrival and reports the first problem at its offset in the concatenated stream (or none), and
# the rows it decoded before it are NAME.npy.


def _messages_blob(messages: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(m)) + m for m in messages)


def _link_stream(frame_shape, frames, batches, **options) -> tuple[bytes, list[bytes], bytes]:
    """(header, chunk messages, end message) of ``frames`` sent in messages of ``batches`` frames
    (without a stream id unless ``stream_id`` gives one: a vector's bytes are fixed)."""
    enc = spikecodec.LinkEncoder(frame_shape, **{"stream_id": False, "records": "compact-unkeyed", "message_ends": False, **options})
    messages, at = [], 0
    for n in batches:
        messages.append(enc.encode(frames[at : at + n]))
        at += n
    return enc.header, messages, enc.end()


def _received(messages: list[bytes], end: bool) -> tuple[np.ndarray | None, int | None, str | None]:
    """What the library's LinkDecoder makes of the messages: the rows decoded before the first
    problem, its offset and its code and message (None: none)."""
    try:
        dec = spikecodec.LinkDecoder(messages[0])
    except spikecodec.FormatError as exc:  # no header: no rows
        return None, exc.offset, f"{exc.code}: {exc.message}"
    rows: list[np.ndarray] = []
    try:
        for m in messages[1 : len(messages) - 1 if end else len(messages)]:
            rows.append(dec.decode(m))
        if end:
            dec.end(messages[-1])
    except spikecodec.FormatError as exc:
        got = np.concatenate(rows) if rows else np.zeros((0, *dec.frame_shape), np.uint8)
        return got, exc.offset, f"{exc.code}: {exc.message}"
    return np.concatenate(rows), None, None


def _received_numbered(messages: list[bytes], end: bool, records: list[int]) -> tuple[np.ndarray, int | None, str | None]:
    """What a LinkDecoder given each chunk message's number makes of the messages: the rows of
    the records it took before the first problem, in record order, and the problem (a message it
    does not take, ValueError, is the receiver's state and no problem)."""
    dec = spikecodec.LinkDecoder(messages[0])
    taken: dict[int, np.ndarray] = {}
    problem = None
    try:
        for m, k in zip(messages[1 : len(messages) - 1 if end else len(messages)], records):
            try:
                frames = dec.decode(m, record=k)
            except ValueError as exc:
                if isinstance(exc, spikecodec.FormatError):
                    raise
                continue
            if len(frames):
                taken[k] = frames
        if end:
            dec.end(messages[-1])
    except spikecodec.FormatError as exc:
        problem = exc
    rows = np.concatenate([taken[k] for k in sorted(taken)]) if taken else np.zeros((0, *dec.frame_shape), np.uint8)
    return rows, problem and problem.offset, problem and f"{problem.code}: {problem.message}"


def _colliding_stream_ids(frame_shape, codec: str = "ctxmix") -> tuple[bytes, bytes]:
    """The first two stream ids (SHA-256 of 0, 1, 2, ... cut to 16 bytes) whose ctxmix link headers
    have header CRCs A and B with CRC-16/XMODEM(A XOR B) = 0: under the checks of versions 1.3 - 1.6
    (a CRC over the header CRC, the ordinal and the record) every record of either stream then
    passes in the other, whatever its bytes."""
    seen: dict[int, bytes] = {}
    for i in range(1 << 20):
        sid = hashlib.sha256(i.to_bytes(8, "little")).digest()[:16]
        tag = spikecodec.LinkEncoder(frame_shape, codec=codec, stream_id=sid, message_ends=False).header[-4:]
        got = seen.setdefault(binascii.crc_hqx(tag, 0), sid)
        if got is not sid:
            return got, sid
    raise AssertionError("no colliding pair")


def _first_compact_record(message: bytes) -> int:
    """The length of the first compact record of ``message`` (5.2: a one-byte size field and a
    payload under 256 bytes, so a CRC-16 check)."""
    v = message[0]
    assert v < 0x80 and not (v - 1) & 1 and (v - 1) >> 1 < 256
    return 1 + ((v - 1) >> 1) + 2


def _first_record_ending(message: bytes) -> int:
    """As :func:`_first_compact_record`, in a stream with message ends (5.2: v = 4 P + 2 e + f + 1)."""
    v, n = 0, 0
    while True:  # LEB128
        v |= (message[n] & 0x7F) << (7 * n)
        n += 1
        if not message[n - 1] & 0x80:
            break
    assert not (v - 1) & 1 and not (v - 1) & 2 and (v - 1) >> 2 < 256  # no height, not the message's end
    return n + ((v - 1) >> 2) + 2


def _raw_message_twins(frames: np.ndarray, big: np.ndarray) -> tuple[dict, dict]:
    """The message vectors of a refused message, with codec raw instead of ctxmix (named
    ``...-raw``), so that a receiver of the codecs every reader implements reaches each rule of
    section 11: (cases, numbered cases) as :func:`message_vectors` builds them."""
    header, msgs, end = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="raw")
    _, other, _ = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="raw", metadata={"camera": 2})
    session_header, session, _ = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="raw", stream_id=bytes(range(16)))
    _, other_session, _ = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="raw", stream_id=bytes(range(16, 32)))
    id_a, id_b = _colliding_stream_ids(frames.shape[1:], codec="raw")
    collide_a = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="raw", stream_id=id_a, records="compact")
    collide_b = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="raw", stream_id=id_b, records="compact")
    ends_header, ends, _ = _link_stream(frames.shape[1:], frames, [2, 3], codec="raw", stream_id=bytes(range(80, 96)),
                                        records="compact", message_ends=True)
    cases = {
        "reordered-raw": ([header, msgs[0], msgs[2], msgs[1]], False, "out of order", "compact-check"),
        "replayed-raw": ([header, msgs[0], msgs[0]], False, "out of order", "compact-check"),
        "other-stream-raw": ([header, other[0]], False, "another", "compact-check"),
        "truncated-raw": ([header, msgs[0], msgs[1][:-1]], False, "ends inside", "record-truncated"),
        "byte-after-records-raw": ([header, msgs[0] + b"\0"], False, "end", "records-end-early"),
        "end-early-raw": ([header, *msgs[:3], end], True, "ended after", "index-count"),
        "end-extra-byte-raw": ([header, *msgs, end + b"\0"], True, "end message is", "message-size"),
        "header-extra-byte-raw": ([header + b"\0", *msgs], False, "header message is", "message-size"),
        "end-bad-trailer-crc-raw": ([header, *msgs, end[:-8] + bytes([end[-8] ^ 1]) + end[-7:]], True, "CRC", "trailer-crc"),
        "end-empty-raw": ([header, *msgs, b""], True, "marker", "index-end-marker"),
        "other-session-raw": ([session_header, session[0], other_session[1]], False, "another", "compact-check"),
        "keyed-colliding-session-raw": ([collide_a[0], collide_a[1][0], collide_b[1][1]], False, "another", "compact-check"),
        "message-ends-truncated-raw": ([ends_header, ends[0], ends[1][: _first_record_ending(ends[1])]], False, "cut short",
                                       "message-truncated"),
        "message-ends-joined-raw": ([ends_header, ends[0] + ends[1]], False, "two messages", "message-joined"),
    }
    nh, nm, _ = _link_stream(big.shape[1:], big, [1] * 6, codec="raw", stream_id=bytes(range(48, 64)), records="compact")
    _, _, short_end = _link_stream(big.shape[1:], big, [1] * 2, codec="raw", stream_id=bytes(range(64, 80)), records="compact")
    eh, em, _ = _link_stream(big.shape[1:], big, [2, 2, 2], codec="raw", stream_id=bytes(range(96, 112)), records="compact",
                             message_ends=True)
    numbered = {
        "numbered-wrong-number-raw": ([nh, nm[0], nm[2]], [0, 1], False, "expected record 1", "compact-check"),
        "numbered-end-fewer-raw": ([nh, nm[0], nm[1], nm[3], short_end], [0, 1, 3], True, "ended after 2 records", "index-count"),
        "numbered-message-ends-truncated-raw": ([eh, em[0], em[1][: _first_record_ending(em[1])], em[2]], [0, 2, 4], False,
                                                "cut short", "message-truncated"),
    }
    return cases, numbered


def message_vectors() -> dict[str, tuple[list[bytes], bool, np.ndarray | None, int | None, str | None, str | None, list[int] | None]]:
    """(messages, whether the last is the end message, rows decoded before the problem, the
    problem's offset, a phrase of it, its code, and each chunk message's record number when the
    messages are numbered) of every message vector."""
    rng = np.random.default_rng(117)
    frames = (rng.random((5, 2, 3, 4, 4)) < 0.3).astype(np.uint8)
    header, msgs, end = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="ctxmix")
    other_header, other, _ = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="ctxmix", metadata={"camera": 2})
    split_header, split, split_end = _link_stream(frames.shape[1:], frames, [1, 1], codec="raw", chunk=(1, 1))
    base = rng.random((2, 4, 7, 7)) < 0.1
    big = (base[None] ^ (rng.random((6, 2, 4, 7, 7)) < 0.05)).astype(np.uint8)
    coded_header, coded, coded_end = _link_stream(big.shape[1:], big, [1, 2, 1, 2], codec="ctxmix")
    # Two sessions of the same options, each with its stream id (version 1.6): only the ids differ.
    session_header, session, session_end = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="ctxmix", stream_id=bytes(range(16)))
    _, other_session, _ = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="ctxmix", stream_id=bytes(range(16, 32)))
    keyed_header, keyed, keyed_end = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="ctxmix", stream_id=bytes(range(32, 48)),
                                                  records="compact")
    id_a, id_b = _colliding_stream_ids(frames.shape[1:])
    collide_a = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="ctxmix", stream_id=id_a, records="compact")
    collide_b = _link_stream(frames.shape[1:], frames, [1, 2, 1, 1], codec="ctxmix", stream_id=id_b, records="compact")
    # Version 1.9, message ends: messages of 2 and 3 frames (one record each, rows of one frame).
    ends_header, ends, ends_end = _link_stream(frames.shape[1:], frames, [2, 3], codec="ctxmix", stream_id=bytes(range(80, 96)),
                                               records="compact", message_ends=True)
    # A raw stream whose size fields are two bytes (payloads of 64 bytes: v = 129), for the varints
    # a message ends inside (FORMAT.md 11: a file cannot end inside one, its trailer ends in SPKT).
    wide = (np.random.default_rng(118).random((2, 2, 4, 8, 8)) < 0.3).astype(np.uint8)
    wide_header, wide_msgs, wide_end = _link_stream(wide.shape[1:], wide, [1, 1], codec="raw")
    packed = (big[0].size + 7) // 8
    assert all(_first_compact_record(m) - 3 < packed for m in coded)  # every record coded, not stored packed
    cases = {
        "stream": ([header, *msgs, end], True, "", None),
        "without-end": ([header, *msgs[:2]], False, "", None),  # a receiver that has not yet had the end
        "reordered": ([header, msgs[0], msgs[2], msgs[1]], False, "out of order", "compact-check"),
        "replayed": ([header, msgs[0], msgs[0]], False, "out of order", "compact-check"),
        "other-stream": ([header, other[0]], False, "another", "compact-check"),
        "truncated": ([header, msgs[0], msgs[1][:-1]], False, "ends inside", "record-truncated"),
        "byte-after-records": ([header, msgs[0] + b"\0"], False, "end", "records-end-early"),
        "row-split": ([split_header, split[0][: _first_compact_record(split[0])]], False, "inside a row", "row-incomplete"),
        "end-early": ([header, *msgs[:3], end], True, "ended after", "index-count"),
        "end-extra-byte": ([header, *msgs, end + b"\0"], True, "end message is", "message-size"),
        "header-extra-byte": ([header + b"\0", *msgs], False, "header message is", "message-size"),
        "end-bad-trailer-crc": ([header, *msgs, end[:-8] + bytes([end[-8] ^ 1]) + end[-7:]], True, "CRC", "trailer-crc"),
        "end-empty": ([header, *msgs, b""], True, "marker", "index-end-marker"),
        # Chunks that ctxmix codes (those above are too small: stored packed), then one replayed.
        "coded": ([coded_header, *coded, coded_end], True, "", None),
        "coded-replayed": ([coded_header, coded[0], coded[1], coded[1]], False, "out of order", "compact-check"),
        "session": ([session_header, *session, session_end], True, "", None),
        "other-session": ([session_header, session[0], other_session[1]], False, "another", "compact-check"),
        # Version 1.7, keyed checks: a session, and a message of another session whose header CRC
        # collides with this one's under the checks of 1.3 - 1.6 (there, every message of either
        # passes in the other), refused.
        "keyed-session": ([keyed_header, *keyed, keyed_end], True, "", None),
        "keyed-colliding-session": ([collide_a[0], collide_a[1][0], collide_b[1][1]], False, "another", "compact-check"),
        # Version 1.9, message ends: a stream; its second message cut after its first record (every
        # record's check passes: before 1.9 that read as one frame, no error); two messages sent as one.
        "message-ends": ([ends_header, *ends, ends_end], True, "", None),
        "message-ends-truncated": ([ends_header, ends[0], ends[1][: _first_record_ending(ends[1])]], False, "cut short",
                                   "message-truncated"),
        "message-ends-joined": ([ends_header, ends[0] + ends[1]], False, "two messages", "message-joined"),
        # A chunk message that ends inside its record's size field; end messages that end inside
        # the count, before it (the end byte alone), inside the rows and inside the CRC.
        "varint-truncated": ([wide_header, wide_msgs[0], wide_msgs[1][:1]], False, "inside a record's size", "varint-truncated"),
        "end-varint-truncated": ([wide_header, *wide_msgs, b"\x00\x80"], True, "inside the index's record count", "varint-truncated"),
        "end-marker-only": ([wide_header, *wide_msgs, b"\x00"], True, "inside the index's record count", "varint-truncated"),
        "end-rows-varint-truncated": ([wide_header, *wide_msgs, b"\x00\x02\x80"], True, "inside the index's row count",
                                      "varint-truncated"),
        "end-crc-truncated": ([wide_header, *wide_msgs, wide_end[:6]], True, "ends inside the index", "index-truncated"),
    }
    # Numbered messages (FORMAT.md 11): each chunk message given with its record number, one
    # frame a message, keyed checks.
    nh, nm, nend = _link_stream(big.shape[1:], big, [1] * 6, codec="ctxmix", stream_id=bytes(range(48, 64)), records="compact")
    _, _, short_end = _link_stream(big.shape[1:], big, [1] * 2, codec="ctxmix", stream_id=bytes(range(64, 80)), records="compact")
    eh, em, _ = _link_stream(big.shape[1:], big, [2, 2, 2], codec="ctxmix", stream_id=bytes(range(96, 112)), records="compact",
                             message_ends=True)
    numbered = {
        "numbered-lost-and-late": ([nh, nm[0], nm[1], nm[3], nm[2], nm[5], nend], [0, 1, 3, 2, 5], True, "", None),
        "numbered-joined": ([nh, nm[3], nm[4], nm[5], nend], [3, 4, 5], True, "", None),
        "numbered-repeated": ([nh, nm[0], nm[1], nm[1], nm[0], nm[2], nm[3], nm[4], nm[5], nend], [0, 1, 1, 0, 2, 3, 4, 5],
                              True, "", None),
        "numbered-reordered-end": ([nh, nm[1], nm[0], nm[3], nm[2], nm[5], nm[4], nend], [1, 0, 3, 2, 5, 4], True, "", None),
        "numbered-last-lost": ([nh, nm[0], nm[1], nend], [0, 1], True, "", None),
        "numbered-wrong-number": ([nh, nm[0], nm[2]], [0, 1], False, "expected record 1", "compact-check"),
        "numbered-end-fewer": ([nh, nm[0], nm[1], nm[3], short_end], [0, 1, 3], True, "ended after 2 records", "index-count"),
        # Version 1.9, message ends: a numbered message cut short after its first record.
        "numbered-message-ends-truncated": ([eh, em[0], em[1][: _first_record_ending(em[1])], em[2]], [0, 2, 4], False, "cut short",
                                            "message-truncated"),
    }
    raw_cases, raw_numbered = _raw_message_twins(frames, big)
    cases.update(raw_cases)
    numbered.update(raw_numbered)
    out = {}
    for name, (messages, is_end, phrase, code) in cases.items():
        rows, offset, message = _received(messages, is_end)
        assert (offset is None) == (phrase == "") and (message is None or phrase in message), (name, message)
        assert message is None or message.startswith(f"{code}: "), (name, message)  # the library's code is the case's
        out[f"messages-{name}"] = (messages, is_end, rows, offset, phrase or None, code, None)
    for name, (messages, records, is_end, phrase, code) in numbered.items():
        rows, offset, message = _received_numbered(messages, is_end, records)
        assert (offset is None) == (phrase == "") and (message is None or phrase in message), (name, message)
        assert message is None or message.startswith(f"{code}: "), (name, message)
        out[f"messages-{name}"] = (messages, is_end, rows, offset, phrase or None, code, records)
    for name, (messages, is_end, phrase, code) in _message_cases_seventh_round().items():
        rows, offset, message = _received(messages, is_end)
        assert (offset is None) == (phrase == "") and (message is None or phrase in message), (name, message)
        assert message is None or message.startswith(f"{code}: "), (name, message)
        out[f"messages-{name}"] = (messages, is_end, rows, offset, phrase or None, code, None)
    return out


def _message_cases_seventh_round() -> dict[str, tuple[list[bytes], bool, str, str | None]]:
    """Rules of section 11 no message vector held before (codec raw): a chunk message of no bytes,
    accepted and changing nothing, with and without message ends; with message ends, a message cut
    at a record boundary inside a row (two records a row: chunk [1, 1] of frames of 2 samples) is
    message-truncated, checked before row-incomplete; an end message whose count is right and whose
    rows are not (index-count)."""
    frames = (np.random.default_rng(216).random((4, 2, 3, 4, 4)) < 0.3).astype(np.uint8)
    header, msgs, end = _link_stream(frames.shape[1:], frames, [1, 2, 1], codec="raw", chunk=(1, 1), records="compact",
                                     stream_id=bytes(range(112, 128)))
    eh, em, eend = _link_stream(frames.shape[1:], frames, [1, 2, 1], codec="raw", chunk=(1, 1), records="compact",
                                stream_id=bytes(range(128, 144)), message_ends=True)
    records = 2 * len(frames)  # two chunks a row, rows of one frame
    at = len(header) + sum(len(m) for m in msgs)
    index = b"\x00" + varint(records) + varint(len(frames) + 1)
    index += _crc(index)
    wrong_rows = index + encode_trailer(at, len(index))
    assert wrong_rows[:1 + len(varint(records))] == end[:1 + len(varint(records))] and wrong_rows != end
    return {
        "empty-message-raw": ([header, msgs[0], b"", msgs[1], b"", msgs[2], end], True, "", None),
        "message-ends-empty-message-raw": ([eh, em[0], b"", em[1], em[2], b"", eend], True, "", None),
        "message-ends-truncated-inside-row-raw": ([eh, em[0], em[1][: _first_record_ending(em[1])]], False, "cut short",
                                                  "message-truncated"),
        "end-rows-raw": ([header, *msgs, wrong_rows], True, "rows", "index-count"),
    }


# -- recovery (FORMAT.md 10) ----------------------------------------------------------------------
# Each returns (bytes, the array recovery gives, offset and text of the problem a reader that does
# not recover reports). Every one of these files MUST be rejected by a plain read.


def recovery_vectors(valid: dict[str, bytes]) -> dict[str, tuple[bytes, np.ndarray, int, str]]:
    out: dict[str, tuple[bytes, np.ndarray, int, str]] = {}
    base = valid["streamed-flush"]  # rows (start, height): (0, 1) (1, 3) (4, 1) (5, 2), two chunks a row
    values = make_array(VALID["streamed-flush"]["array"])
    _, start, ents = _parts(base)
    end = [e.offset + e.size for e in ents]
    cut = base[: ents[5].offset + ents[5].size // 2]  # inside record 5, the second chunk of row 4
    out["recover-truncated"] = (cut, values[:4], len(cut) - 24, "no trailer")
    cut = base[: end[4]]  # record 4 complete, its row (two chunks) not: row 4 is dropped
    out["recover-partial-row"] = (cut, values[:4], len(cut) - 24, "no trailer")
    junk = base[: end[3]] + b"JUNK" + bytes(60)  # two rows, then a record head's worth of bytes without the magic
    out["recover-bad-magic"] = (junk, values[:4], len(junk) - 24, "no trailer")

    def padding(i, origin, extent, spikes, payload):  # record 2 (row 1: 3 x 1 x 3 bits, 2 bytes): a padding bit
        return origin, extent, spikes, payload[:-1] + bytes([payload[-1] | 0x01]) if i == 2 else payload

    body, _ = _rebuild_chunks(base, padding)  # every record's CRC holds; record 2 does not decode
    out["recover-undecodable"] = (body, values[:1], len(body) - 24, "no trailer")
    index_at = end[-1]
    b = bytearray(base)
    b[index_at + 12] ^= 0x01
    out["recover-index-damaged"] = (bytes(b), values, index_at + 12 + 40 * len(ents), "index CRC mismatch")

    sbase = valid["spikes-raw"]  # shape[0] = 2 known, rows of 1
    svalues = make_array(VALID["spikes-raw"]["array"])
    _, _, sents = _parts(sbase)
    last = sents[-1]
    hs = layout.chunk_header_size(1)
    extra = b"".join(encode_chunk((2,), (1,), last.spike_count, sbase[last.offset + hs : last.offset + last.size - 4]))
    past = sbase[: last.offset + last.size] + extra  # a well-formed record of a row 2 that shape[0] = 2 leaves no room for
    out["recover-past-shape"] = (past, svalues, len(past) - 24, "no trailer")

    cbase = valid["compact-streamed"]  # compact records, rows of 2, 1 (flushed), 2
    cvalues = make_array(VALID["compact-streamed"]["array"])
    _, _, cents = _parts(cbase)
    cut = cbase[: cents[-1].offset + cents[-1].size // 2]
    # A file shorter than its header and a trailer is reported at its end, not 24 bytes before it.
    out["recover-compact-truncated"] = (cut, cvalues[:3], len(cut) - 24 if len(cut) - 24 >= _parts(cbase)[1] else len(cut), "no trailer")

    # G = 0 (3 x 0 x 4: no record), its trailer cut off: a damaged file of no records recovers to
    # 0 rows, where the complete one reads as its header's 3 (FORMAT.md 10).
    ebase = valid["empty-inner-axis"]
    cut = ebase[:-24]
    out["recover-empty-inner-axis-truncated"] = (cut, make_array(VALID["empty-inner-axis"]["array"])[:0],
                                                 len(cut) - 24 if len(cut) - 24 >= _parts(ebase)[1] else len(cut), "no trailer")
    return out


# Valid vectors listed again for recovery (manifest section ``recover_complete``): a file that
# reads without a problem recovers to exactly what reading gives (FORMAT.md 10), so a complete
# file with G = 0 (no record) has its header's shape[0] rows (empty-inner-axis: 3, where a walk of
# its records finds none); files whose rows are chunks of no element (G = 1: empty-axis, and the
# stream streamed-empty-inner-axis, shape[0] unknown) and one of several chunks a row all their rows.
RECOVER_COMPLETE = ["empty-inner-axis", "empty-axis", "streamed-empty-inner-axis", "chunks-3d"]


# -- broken prior files -------------------------------------------------------------------------
# Each returns (bytes, stage, offset, problem): stage "load" - parsing the file (load_prior)
# raises FormatError at ``offset``; stage "bind" - the file parses but binding it to its codec
# (get_codec(prior.codec).with_prior(prior)) raises ValueError.


def _prior_file(description: dict, raw_tables: bytes) -> bytes:
    """A prior file around ``description`` (canonical JSON) whose table data is one zstd frame
    of raw blocks, written by hand so that its bytes do not depend on a compressor."""
    desc = json.dumps(description, ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True).encode()
    frame = struct.pack("<IB", 0xFD2FB528, 0xE0) + struct.pack("<Q", len(raw_tables))  # single segment, 8-byte content size
    blocks = [raw_tables[i : i + (1 << 17)] for i in range(0, len(raw_tables), 1 << 17)] or [b""]
    for i, block in enumerate(blocks):
        frame += ((len(block) << 3) | int(i == len(blocks) - 1)).to_bytes(3, "little") + block  # raw block
    body = b"\x8aSPP\r\n\x1a\n" + struct.pack("<BBHI", 1, 0, 0, len(desc)) + desc + struct.pack("<Q", len(frame)) + frame
    return body + _crc(body)


def _description(data: bytes) -> tuple[dict, int]:
    size = struct.unpack_from("<I", data, 12)[0]
    return json.loads(data[16 : 16 + size]), 16 + size


def _with_description(data: bytes, description: dict) -> bytes:
    """``data`` with its description replaced (table data as it was), the CRC recomputed."""
    _, end = _description(data)
    desc = json.dumps(description, ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True).encode()
    body = data[:12] + struct.pack("<I", len(desc)) + desc + data[end:-4]
    return body + _crc(body)


def invalid_priors() -> dict[str, tuple[bytes, str, int | None, str]]:
    out: dict[str, tuple[bytes, str, int | None, str]] = {}
    order0 = get_prior("priors/order0.prior")
    data = order0.data
    b = bytearray(data)
    b[-1] ^= 0x01
    out["prior-crc"] = (bytes(b), "load", len(data) - 4, "prior CRC mismatch")
    desc, end = _description(data)
    longer = {**desc, "tables": [{**t, "count": t["count"] + (1 if i == 0 else 0)} for i, t in enumerate(desc["tables"])]}
    grown = _with_description(data, longer)  # the description needs 4 bytes more than the frame holds
    out["prior-content-size"] = (grown, "load", _description(grown)[1] + 8, "the tables need")
    cdesc, _ = _description(get_prior("priors/context.prior").data)
    wide = {**cdesc, "geometry": {**cdesc["geometry"], "C": 2 * cdesc["geometry"]["C"]}}
    out["prior-geometry-tables"] = (_with_description(get_prior("priors/context.prior").data, wide), "bind", None, "do not fit geometry")
    # A table's name and type are part of its layout, not only its count (FORMAT.md 14).
    renamed = {**cdesc, "tables": [{**t, "name": "sig_groups"} if i == 0 else t for i, t in enumerate(cdesc["tables"])]}
    out["prior-table-renamed"] = (_with_description(get_prior("priors/context.prior").data, renamed), "bind", None,
                                  "do not fit geometry")
    retyped = {**cdesc, "tables": [{**t, "type": "i32"} if i == 0 else t for i, t in enumerate(cdesc["tables"])]}
    out["prior-table-retyped"] = (_with_description(get_prior("priors/context.prior").data, retyped), "bind", None,
                                  "do not fit geometry")
    raw = b"".join(t.astype("<u4").tobytes() for t in order0.tables.values())
    bad = bytearray(raw)
    bad[0:4] = struct.pack("<I", (5 << 16) | 6)  # 6 ones in 5 decisions
    out["prior-counter-range"] = (_prior_file(desc, bytes(bad)), "bind", None, "holds a counter outside the model's range")

    # The order of the load checks (FORMAT.md 14): the fixed fields' size first; the minor version
    # is not checked; the CRC before the description, the description before the table data's size.
    def resealed(b: bytes | bytearray) -> bytes:
        return bytes(b[:-4]) + _crc(bytes(b[:-4]))

    out["prior-short"] = (data[:20], "load", 0, "too short for a prior")
    b = bytearray(grown)
    b[9] = 1  # minor 1 is read like minor 0: the problem is the table data's
    out["prior-minor-ignored"] = (resealed(b), "load", _description(grown)[1] + 8, "the tables need")
    b = bytearray(data)
    b[end : end + 8] = struct.pack("<Q", struct.unpack_from("<Q", data, end)[0] + 1)  # Z one byte too many
    out["prior-data-size"] = (resealed(b), "load", end, "does not end where the CRC starts")
    out["prior-data-size-stale-crc"] = (bytes(b), "load", len(data) - 4, "prior CRC mismatch")
    nodesc = _with_description(data, {k: v for k, v in desc.items() if k != "info"})
    _, nend = _description(nodesc)
    b = bytearray(nodesc)
    b[nend : nend + 8] = struct.pack("<Q", struct.unpack_from("<Q", nodesc, nend)[0] + 1)
    out["prior-description-before-data-size"] = (resealed(b), "load", 16, "exactly the keys")
    b = bytearray(nodesc)
    b[-1] ^= 0x01
    out["prior-crc-before-description"] = (bytes(b), "load", len(nodesc) - 4, "prior CRC mismatch")
    twice = {**desc, "tables": [*desc["tables"][:-1], {**desc["tables"][-1], "name": desc["tables"][0]["name"]}]}
    twice_data = _with_description(data, twice)  # a name twice, the tables as they were: found last
    out["prior-repeated-table-name"] = (twice_data, "load", 16, "appears twice")
    twice_grown = _with_description(grown, {**twice, "tables": [*longer["tables"][:-1], twice["tables"][-1]]})
    out["prior-table-data-before-names"] = (twice_grown, "load", _description(twice_grown)[1] + 8, "the tables need")
    # Added later (no vector had these codes): the signature, the major version, the reserved
    # field, each before the CRC (left as it was); the description's size, 0 and past the file's
    # end; the tables' size past 2^30, and the running total checked entry by entry, before a
    # later entry's own problem.
    b = bytearray(data)
    b[3] = ord("X")
    out["prior-magic"] = (bytes(b), "load", 0, "bad signature")
    b = bytearray(data)
    b[8] = 2
    out["prior-major"] = (bytes(b), "load", 8, "unsupported prior major version 2")
    b = bytearray(data)
    b[10] = 1
    out["prior-reserved"] = (bytes(b), "load", 10, "reserved field is not zero")
    b = bytearray(data)
    b[12:16] = struct.pack("<I", 0)
    out["prior-description-size-zero"] = (resealed(b), "load", 12, "description size 0 does not fit")
    b = bytearray(data)
    b[12:16] = struct.pack("<I", len(data) - 16 - 12 + 1)  # 16 + J + 12 is one byte past the file
    out["prior-description-size-past-end"] = (resealed(b), "load", 12, "does not fit the file")
    tables = desc["tables"]
    big = {**desc, "tables": [{**tables[0], "count": (1 << 28) + 1}, *tables[1:]]}
    out["prior-tables-size"] = (_with_description(data, big), "load", 16, "tables exceed 1073741824 bytes")
    running = {**desc, "tables": [{**tables[0], "count": 1 << 28}, tables[1], {**tables[2], "type": "u64"}, *tables[3:]]}
    out["prior-tables-size-running"] = (_with_description(data, running), "load", 16, "tables exceed 1073741824 bytes")
    return out


def _set_metadata_raw(data: bytes, metadata: bytes | None = None, trailing: bytes = b"") -> bytes:
    """Rebuild the header with raw metadata bytes (bypassing the JSON encoder) or trailing bytes."""
    h, _, _ = _parts(data)
    head = encode_header(h)
    body = bytearray(head[16:-4])
    if metadata is not None:
        old = json.dumps(h.metadata, separators=(",", ":"), sort_keys=True).encode()
        at = body.rindex(struct.pack("<I", len(old)) + old)
        body[at : at + 4 + len(old)] = struct.pack("<I", len(metadata)) + metadata
    body += trailing
    pre = head[:12] + struct.pack("<I", len(body))
    return _relocate(data, pre + bytes(body) + _crc(pre + bytes(body)))


# The problem code (spikecodec/problem_codes.py, FORMAT.md appendix "Problem codes") a validator
# reports for each invalid vector, at its offset; every invalid vector needs one.
INVALID_CODES = {
    "ctxfast-partial-word": "rans-partial-word",
    "ctxfast-too-long": "rans-too-long",
    "ctxfast-too-few-words": "lanes-word-counts",
    "ctxfast-word-counts": "lanes-word-counts",
    "ctxfast-lane-too-long": "lanes-too-long",
    "ctxfast-corrupt-lane": "rans-final-state",
    "ctxfast-magnitudes-too-long": "lanes-too-long",
    "ctxfast-value-too-large": "symbol-above-top",
    "ctxfast-top-before-lane-end": "symbol-above-top",
    "truncated": "trailer-magic",
    "empty-file": "preamble-truncated",
    "bad-signature": "preamble-magic",
    "unknown-major": "major-version",
    "header-size-huge": "header-size",
    "header-crc": "header-crc",
    "rank-too-large": "rank-range",
    "element-bits-3": "element-bits",
    "shape-overflow": "shape-too-large",
    "header-trailing-bytes": "header-malformed",
    "duplicate-axes": "axis-duplicate",
    "unknown-codec": "codec-pipeline",
    "bad-codec-parameter": "codec-pipeline",
    "metadata-nan": "json-invalid",
    "metadata-not-object": "json-not-object",
    "required-extension": "extension-unknown-required",
    "chunk-crc": "chunk-crc",
    "index-crc": "index-crc",
    "trailer-crc": "trailer-crc",
    "trailing-garbage": "trailer-magic",
    "overlapping-chunks": "index-overlap",
    "gap-between-chunks": "index-gap",
    "chunk-out-of-order": "chunk-order",
    "spike-count-mismatch": "spike-count",
    "nonzero-padding": "padding-bits",
    "decompression-bomb": "zstd-content-too-large",
    "zstd-trailing-bytes": "zstd-trailing-bytes",
    "payload-size-huge": "index-record-mismatch",
    "context-partial-word": "rans-partial-word",
    "context-corrupt-stream": "rans-final-state",
    "ctxlanes-lane-counts": "lanes-word-counts",
    "ctxlanes-corrupt-lane": "rans-final-state",
    "compact-check-mismatch": "compact-check",
    "compact-records-swapped": "compact-check",
    "compact-index-count": "index-count",
    "compact-height-full": "compact-height",
    "compact-varint-overlong": "varint-overlong",
    "compact-extension-data": "extension-data",
    "prior-missing": "prior-missing",
    "prior-embedded-wrong": "prior-embedded-digest",
    "prior-extension-unneeded": "prior-extension-unneeded",
    "ctxmix-payload-too-long": "ctxmix-too-long",
    "ctxmix-corrupt-end": "ctxmix-end",
    "ctxmix-value-too-large": "symbol-above-top",
    "ctxmix-top-past-end": "symbol-above-top",
    "mix-top-past-end": "symbol-above-top",
    "winmix-top-past-end": "symbol-above-top",
    "ctxmix-extra-final-byte": "ctxmix-end",
    "ctxmix-final-byte-not-low": "ctxmix-end",
    "order0-value-too-large": "symbol-above-top",
    "context-last-word-zero": "rans-final-state",
    "auto-bad-mode": "auto-mode",
    "auto-empty-payload": "auto-empty",
    "ctxlanes-too-few-words": "lanes-word-counts",
    "zstd-no-content-size": "zstd-no-content-size",
    "chunk-origin-misplaced": "index-record-mismatch",
    "chunk-extent-mismatch": "index-record-mismatch",
    "chunk-bad-magic": "record-magic",
    "row-taller-than-chunk": "row-height",
    "rows-short-of-shape": "rows-total",
    "rows-past-shape": "row-past-shape",
    "preamble-reserved": "preamble-reserved",
    "header-reserved": "header-reserved",
    "extension-flag-bits": "extension-flags",
    "pipeline-no-array-codec": "codec-pipeline",
    "pipeline-two-array-codecs": "codec-pipeline",
    "header-truncated-in-crc": "header-truncated",
    "axis-name-not-ascii": "header-malformed",
    "codec-id-not-ascii": "header-malformed",
    "header-trailing-bytes-first": "header-malformed",
    "chunk-shape-axis-by-axis": "chunk-shape-larger",
    "extension-by-extension": "extension-not-required",
    "prior-tables-misfit-embedded": "prior-mismatch",
    "prior-geometry-short-row": "prior-mismatch",
    "ctxlanes-partial-word": "rans-partial-word",
    "ctxlanes-too-long": "rans-too-long",
    "zstd-content-size-before-trailing-bytes": "zstd-frame",
    "zstd-skippable-frame": "zstd-frame",
    "prior-null": "codec-pipeline",
    "metadata-integer-past-double": "json-invalid",
    "no-record-bytes-before-index": "index-end",
    "stream-rows-past-2-62": "row-past-shape",
    "classic-rows-past-2-62": "row-past-shape",
    "metadata-nested-513": "json-invalid",
    "zstd-window-log-32": "zstd-frame",
    "zstd-dictionary-no-content-size": "zstd-no-content-size",
    "zstd-window-log-32-no-content-size": "zstd-frame",
    "prior-ctxmix-t-above-4": "prior-mismatch",
    "read-in-order-padding-before-next-crc": "padding-bits",
    "crc-before-impossible-spike-count": "chunk-crc",
    "entry-spike-count-2-62": "index-record-mismatch",
    "empty-array-entry-first": "empty-array-chunks",
    "empty-array-compact-record": "empty-array-chunks",
    "compact-index-varint-overlong": "varint-overlong",
    "compact-zero-before-index": "index-end",
    "compact-record-past-index": "compact-check",
    "compact-height-zero": "compact-height",
    "compact-index-end-byte": "index-end-marker",
    "compact-index-rows": "index-count",
    "mix-payload-too-long": "mix-too-long",
    "mix-corrupt-end": "mix-end",
    "mix-extra-final-byte": "mix-end",
    "mix-final-byte-not-low": "mix-end",
    "mix-value-too-large-8bit": "symbol-above-top",
    "mix-prior-short-row": "prior-mismatch",
    "mix-prior-of-ctxmix": "prior-mismatch",
    "prior-embedded-file-crc": "prior-file-crc",
    "mix-corrupt-last-byte": "mix-end",
    "mix-value-too-large": "symbol-above-top",
    "prior-ctxmix-too-long-short-row": "ctxmix-too-long",
    "compact-height-before-check": "compact-height",
    "compact-payload-size-huge": "payload-size",
    "compact-varint-10-bytes": "payload-size",
    "compact-varint-too-large": "varint-too-large",
    "compact-varint-too-long": "varint-too-long",
    "compact-index-varint-stale-crc": "varint-overlong",
    "compact-index-crc-before-size": "index-crc",
    "compact-index-varint-past-size": "varint-overlong",
    "compact-zero-inside-row": "row-incomplete",
    "winmix-payload-too-long": "mix-too-long",
    "winmix-corrupt-end": "mix-end",
    "winmix-extra-final-byte": "mix-end",
    "winmix-final-byte-not-low": "mix-end",
    "winmix-value-too-large-4bit": "symbol-above-top",
    "winmix-value-too-large-8bit": "symbol-above-top",
    "winmix-prior-short-row": "prior-mismatch",
    "winmix-prior-of-mix": "prior-mismatch",
    "winmix-trailing-ff": "mix-end",
    "countmix-payload-too-long": "mix-too-long",
    "countmix-corrupt-end": "mix-end",
    "countmix-extra-final-byte": "mix-end",
    "countmix-final-byte-not-low": "mix-end",
    "countmix-value-too-large-4bit": "symbol-above-top",
    "countmix-value-too-large-8bit": "symbol-above-top",
    "countmix-prior-short-row": "prior-mismatch",
    "countmix-prior-of-winmix": "prior-mismatch",
    "chanmix-payload-too-long": "mix-too-long",
    "chanmix-corrupt-end": "mix-end",
    "chanmix-extra-final-byte": "mix-end",
    "chanmix-final-byte-not-low": "mix-end",
    "chanmix-value-too-large-4bit": "symbol-above-top",
    "chanmix-value-too-large-8bit": "symbol-above-top",
    "chanmix-prior-short-row": "prior-mismatch",
    "chanmix-prior-of-countmix": "prior-mismatch",
    "framemix-payload-too-long": "mix-too-long",
    "framemix-corrupt-end": "mix-end",
    "framemix-trailing-ff": "mix-end",
    "framemix-extra-final-byte": "mix-end",
    "framemix-final-byte-not-low": "mix-end",
    "framemix-value-too-large-4bit": "symbol-above-top",
    "framemix-value-too-large-8bit": "symbol-above-top",
    "framemix-prior-short-row": "prior-mismatch",
    "framemix-prior-of-chanmix": "prior-mismatch",
    "neuronmix-payload-too-long": "neuronmix-too-long",
    "neuronmix-corrupt-end": "neuronmix-end",
    "neuronmix-extra-final-byte": "neuronmix-end",
    "neuronmix-extra-final-byte-low": "neuronmix-end",
    "neuronmix-final-byte-not-low": "neuronmix-end",
    "neuronmix-value-too-large-4bit": "symbol-above-top",
    "neuronmix-value-too-large-8bit": "symbol-above-top",
    "neuronmix-parameter": "codec-pipeline",
    "ctxfast-empty-chunk-words": "rans-final-state",
    "ctxfast-word-counts-overflow": "lanes-word-counts",
    "ctxfast-total-at-bound": "lanes-too-long",
    "ctxfast-total-not-3r": "lanes-too-long",
    "ctxfast-lane-at-bound": "rans-final-state",
    "ctxfast-magnitudes-at-bound": "rans-final-state",
    "ctxfast-prior-geometry": "prior-mismatch",
    "ctxfast-prior-geometry-before-counts": "prior-mismatch",
    "keyed-check-mismatch": "compact-check",
    "keyed-records-swapped": "compact-check",
    "keyed-records-unkeyed": "compact-check",
    "keyed-extension-data": "extension-data",
    "keyed-checks-classic": "keyed-checks-classic",
    "message-ends-extension-data": "extension-data",
    "message-ends-classic": "message-ends-classic",
    "chunk-rank-zero": "chunk-rank-range",
    "chunk-rank-above-rank": "chunk-rank-range",
    "codec-count-zero": "codec-count",
    "codec-count-nine": "codec-count",
    "codec-config-id": "codec-config-id",
    "codec-config-id-before-next-json": "codec-config-id",
    "codec-config-id-escaped": "codec-config-id",
    "extension-count-65": "extension-count",
    "shape-extent": "shape-extent",
    "shape-extent-axis-0": "shape-extent",
    "chunk-shape-zero": "chunk-shape-zero",
    "chunk-shape-zero-before-axis-0": "chunk-shape-zero",
    "chunk-too-large": "chunk-too-large",
    "axis-name": "axis-name",
    "axis-name-empty": "axis-name",
    "axis-name-17": "axis-name",
    "axis-name-before-duplicate": "axis-name",
    "codec-id-33": "codec-id",
    "codec-id-empty": "codec-id",
    "extension-name-empty": "extension-name",
    "extension-name-65": "extension-name",
    "extension-repeated": "extension-repeated",
    "extension-repeated-before-data": "extension-repeated",
    "extension-data-before-keyed-checks-classic": "extension-data",
    "keyed-checks-classic-before-message-ends": "keyed-checks-classic",
    "stream-id-required": "extension-unknown-required",
    "trailer-index-before-data": "trailer-index",
    "trailer-index-not-at-trailer": "trailer-index",
    "trailer-index-wraps": "trailer-index",
    "trailer-index-classic-12": "trailer-index",
    "trailer-index-compact-empty": "trailer-index",
    "index-magic": "index-magic",
    "index-size": "index-size",
    "index-size-count-wraps": "index-size",
    "index-entry-size": "index-entry-size",
    "row-height-differs": "row-height-differs",
    "compact-row-height-differs": "row-height-differs",
    "packed-size-short": "packed-size",
    "packed-size-long": "packed-size",
    "zstd-content-short-packed-size": "packed-size",
    "zstd-content-long-packed-size": "packed-size",
    "compact-check-mismatch-raw": "compact-check",
    "compact-records-swapped-raw": "compact-check",
    "compact-index-count-raw": "index-count",
    "keyed-check-mismatch-raw": "compact-check",
    "keyed-records-swapped-raw": "compact-check",
    "keyed-records-unkeyed-raw": "compact-check",
    "keyed-extension-data-raw": "extension-data",
    "keyed-checks-classic-raw": "keyed-checks-classic",
    "message-ends-extension-data-raw": "extension-data",
    "message-ends-classic-raw": "message-ends-classic",
    "prior-extension-unneeded-context": "prior-extension-unneeded",
    "prior-embedded-file-crc-context": "prior-file-crc",
    "prior-embedded-wrong-context": "prior-embedded-digest",
    "context-prior-of-order0": "prior-mismatch",
    "context-prior-geometry-at-record": "prior-mismatch",
    "countctx-partial-word": "rans-partial-word",
    "countctx-too-long": "rans-too-long",
    "countctx-words-at-bound": "rans-final-state",
    "countctx-value-too-large": "symbol-above-top",
}

INVALID_CODES.update({  # _invalid_outside_seventh_round
    "metadata-duplicate-key": "json-invalid",
    "metadata-duplicate-key-escaped": "json-invalid",
    "metadata-duplicate-key-nested": "json-invalid",
    "metadata-number-1e999": "json-invalid",
    "metadata-integer-309-digits-infinite": "json-invalid",
    "metadata-byte-order-mark": "json-invalid",
    "metadata-invalid-utf8": "json-invalid",
    "metadata-utf8-surrogate": "json-invalid",
    "codec-config-duplicate-key": "json-invalid",
    "codec-config-number-1e999": "json-invalid",
    "codec-config-byte-order-mark": "json-invalid",
    "zstd-level-fraction": "codec-pipeline",
    "zstd-level-exponent": "codec-pipeline",
    "zstd-level-true": "codec-pipeline",
    "codec-count-before-extension-count": "codec-count",
    "metadata-json-before-extension-count": "json-invalid",
    "extension-flags-before-element-bits": "extension-flags",
    "codec-id-before-pipeline": "codec-id",
    "pipeline-before-extensions": "codec-pipeline",
    "row-height-differs-too-tall": "row-height-differs",
    "row-height-differs-zero": "row-height-differs",
    "index-end-before-row-incomplete": "index-end",
    "index-magic-before-size": "index-magic",
    "payload-size-classic": "payload-size",
})

# The same for the recovery vectors: the problem a plain read reports (FORMAT.md 10).
RECOVER_CODES = {
    "recover-truncated": "trailer-magic",
    "recover-partial-row": "trailer-magic",
    "recover-bad-magic": "trailer-magic",
    "recover-undecodable": "trailer-magic",
    "recover-index-damaged": "index-crc",
    "recover-past-shape": "trailer-magic",
    "recover-compact-truncated": "trailer-magic",
    "recover-empty-inner-axis-truncated": "trailer-magic",
}

# The same for the broken prior files that fail to load (stage "load"); "bind" ones raise ValueError.
INVALID_PRIOR_CODES = {
    "prior-crc": "prior-file-crc",
    "prior-content-size": "prior-file-table-data",
    "prior-short": "prior-file-truncated",
    "prior-minor-ignored": "prior-file-table-data",
    "prior-data-size": "prior-file-table-data",
    "prior-data-size-stale-crc": "prior-file-crc",
    "prior-description-before-data-size": "prior-file-description",
    "prior-crc-before-description": "prior-file-crc",
    "prior-repeated-table-name": "prior-file-description",
    "prior-table-data-before-names": "prior-file-table-data",
    "prior-magic": "prior-file-magic",
    "prior-major": "prior-file-major",
    "prior-reserved": "prior-file-reserved",
    "prior-description-size-zero": "prior-file-description-size",
    "prior-description-size-past-end": "prior-file-description-size",
    "prior-tables-size": "prior-file-tables-size",
    "prior-tables-size-running": "prior-file-tables-size",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="write vectors that do not exist yet")
    ap.add_argument("--force", action="store_true", help="overwrite existing vectors (never for published ones)")
    args = ap.parse_args()
    priors = ensure_priors(args.write)
    valid_bytes = {}
    manifest: dict = {"format_version": list(spikecodec.FORMAT_VERSION), "valid": {}, "invalid": {}, "priors": {}, "invalid_priors": {}, "tables": {}}
    for name, prior in priors.items():
        made = {"trained_on": PRIORS[name]} if name in PRIORS else {"derived": DERIVED_PRIORS[name]}
        manifest["priors"][name] = {"prior": f"vectors/priors/{name}.prior", "codec": prior.codec, "geometry": prior.geometry,
                                    "sha256": prior.digest, **made}
    for name, spec in VALID.items():
        arr = make_array(spec["array"])
        data = build_valid(spec, arr)
        valid_bytes[name] = data
        manifest["valid"][name] = {"spk": f"vectors/valid/{name}.spk", "npy": f"vectors/valid/{name}.npy", "params": f"vectors/valid/{name}.json"}
        named = _params(spec).get("prior")
        if named:
            manifest["valid"][name]["priors"] = [f"vectors/{named}"]
        manifest["valid"][name]["codecs"] = header_codecs(data)
        if args.write:
            _put(VECTORS / "valid" / f"{name}.spk", data, args.force)
            buf = io.BytesIO()
            np.save(buf, arr)
            _put(VECTORS / "valid" / f"{name}.npy", buf.getvalue(), args.force)
            _put(VECTORS / "valid" / f"{name}.json", (json.dumps(spec, indent=2) + "\n").encode(), args.force)
    for name, (data, offset, problem) in invalid_vectors(valid_bytes).items():
        manifest["invalid"][name] = {"spk": f"vectors/invalid/{name}.spk", "offset": offset, "problem": problem,
                                     "code": INVALID_CODES.get(name),  # None: a code is missing (a test says so)
                                     "codecs": header_codecs(data)}
        if args.write:
            _put(VECTORS / "invalid" / f"{name}.spk", data, args.force)
    manifest["recover"] = {}
    for name, (data, recovered, offset, problem) in recovery_vectors(valid_bytes).items():
        manifest["recover"][name] = {"spk": f"vectors/recover/{name}.spk", "npy": f"vectors/recover/{name}.npy", "offset": offset, "problem": problem,
                                     "code": RECOVER_CODES.get(name),  # None: a code is missing (a test says so)
                                     "codecs": header_codecs(data)}
        if args.write:
            (VECTORS / "recover").mkdir(exist_ok=True)
            _put(VECTORS / "recover" / f"{name}.spk", data, args.force)
            buf = io.BytesIO()
            np.save(buf, recovered)
            _put(VECTORS / "recover" / f"{name}.npy", buf.getvalue(), args.force)
    manifest["recover_complete"] = {}
    for name in RECOVER_COMPLETE:  # valid vectors: recovering one gives what reading gives (FORMAT.md 10)
        data = valid_bytes[name]
        with spikecodec.open(data, recover=True) as r:
            assert not r.recovered and np.array_equal(r[:], make_array(VALID[name]["array"])), name
        manifest["recover_complete"][name] = {"spk": f"vectors/valid/{name}.spk", "npy": f"vectors/valid/{name}.npy",
                                              "codecs": header_codecs(data)}
    manifest["messages"] = {}
    for name, (messages, is_end, rows, offset, problem, code, records) in message_vectors().items():
        manifest["messages"][name] = {"msgs": f"vectors/messages/{name}.msgs", "end": is_end, "offset": offset,
                                      "problem": problem, "code": code}
        if records is not None:  # each chunk message's record number (FORMAT.md 11, numbered messages)
            manifest["messages"][name]["records"] = records
        if rows is not None:  # the rows decoded before the problem (none without a header)
            manifest["messages"][name]["npy"] = f"vectors/messages/{name}.npy"
        manifest["messages"][name]["codecs"] = header_codecs(messages[0])  # the header message's
        if args.write:
            (VECTORS / "messages").mkdir(exist_ok=True)
            _put(VECTORS / "messages" / f"{name}.msgs", _messages_blob(messages), args.force)
            if rows is not None:
                buf = io.BytesIO()
                np.save(buf, rows)
                _put(VECTORS / "messages" / f"{name}.npy", buf.getvalue(), args.force)
    for name, (data, stage, offset, problem) in invalid_priors().items():
        manifest["invalid_priors"][name] = {"prior": f"vectors/invalid-priors/{name}.prior", "stage": stage, "offset": offset, "problem": problem}
        if stage == "load":
            manifest["invalid_priors"][name]["code"] = INVALID_PRIOR_CODES.get(name)
        if args.write:
            (VECTORS / "invalid-priors").mkdir(exist_ok=True)
            _put(VECTORS / "invalid-priors" / f"{name}.prior", data, args.force)
    for name, values in tables().items():
        manifest["tables"][name] = {"file": f"tables/{name}.txt", "entries": len(values)}
        if args.write:
            TABLES.mkdir(exist_ok=True)
            _put(TABLES / f"{name}.txt", "".join(f"{v}\n" for v in values).encode(), args.force)
    text = json.dumps(manifest, indent=2) + "\n"
    if args.write:
        (HERE / "manifest.json").write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _params(spec: dict) -> dict:
    return spec.get("encode") or spec.get("stream") or {}


def tables() -> dict[str, list[int]]:
    """The integer tables of ``ctxmix`` (FORMAT.md 9.4.9): STRETCH[0..4095], SQUASH(d) for
    d = -2047..2047, RATE[0..1023]."""
    from spikecodec.codecs.kernels import binary as k

    return {"stretch": [int(v) for v in k.STRETCH], "squash": [int(v) for v in k.SQUASH], "rate": [int(v) for v in k.RATE]}


def _put(path: Path, data: bytes, force: bool) -> None:
    if path.exists() and not force:
        if path.read_bytes() != data:
            print(f"warning: {path} exists and differs; published vectors are not overwritten", file=sys.stderr)
        return
    path.write_bytes(data)


if __name__ == "__main__":
    sys.exit(main())
