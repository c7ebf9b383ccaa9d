"""The stable problem codes of spike files: which rule of FORMAT.md a problem breaks.

Every :class:`~spikecodec.errors.FormatError` carries one of these codes, so that tools that
validate files in batch can count, filter and explain problems without parsing English
messages. ``CODES`` is the one table: code -> (FORMAT.md section, the rule in one line).
FORMAT.md's appendix "Problem codes" lists the same table; a test keeps the two, and the raise
sites, in step.

Codes are stable: once published a code keeps its meaning; a new check gets a new code. This
module imports nothing from the package (it sits at the bottom of the layering).
"""

from __future__ import annotations

from typing import NamedTuple


class ProblemCode(NamedTuple):
    """Where FORMAT.md states a rule (a section number such as "6.1") and the rule itself."""

    section: str
    rule: str


_TABLE: dict[str, tuple[str, str]] = {
    # JSON text (1)
    "json-invalid": ("1", "JSON text is UTF-8 without a byte-order mark, with no repeated key, NaN or infinity"),
    "json-not-object": ("1", "a JSON text of the header is a single object"),
    # The file's layout (2)
    "bytes-after-trailer": ("2", "nothing follows the trailer"),
    # Preamble (3.1)
    "preamble-truncated": ("3.1", "a file holds at least the 16-byte preamble"),
    "preamble-magic": ("3.1", "the signature is 8A 53 50 4B 0D 0A 1A 0A"),
    "major-version": ("3.1", "the major version is one the reader implements"),
    "preamble-reserved": ("3.1", "the preamble's reserved field is 0"),
    "header-size": ("3.1", "the header body size H is 1 .. 1,048,576"),
    # Header body (3.2)
    "header-truncated": ("3.2", "the file holds the whole header body and its CRC"),
    "header-crc": ("3.2", "the header CRC is the CRC-32 of the preamble and header body"),
    "header-malformed": ("3.2", "the header body parses as its fields and ends exactly after the last one"),
    "header-reserved": ("3.2", "the header body's reserved field is 0"),
    "rank-range": ("3.2", "the rank r is 1 .. 8"),
    "chunk-rank-range": ("3.2", "the chunk rank k is 1 .. r"),
    "element-bits": ("3.2", "element_bits is 1, 2, 4 or 8"),
    "shape-extent": ("3.2", "every extent is at most 2^62 - 1 (shape[0] may be 2^64 - 1, unknown)"),
    "shape-too-large": ("3.2", "the array holds at most 2^62 elements"),
    "chunk-shape-zero": ("3.2", "every chunk_shape entry is at least 1"),
    "chunk-shape-larger": ("3.2", "chunk_shape[i] <= max(shape[i], 1)"),
    "chunk-too-large": ("3.2", "one chunk holds at most 2^31 elements"),
    "axis-count": ("3.2", "there is one axis name per axis"),
    "axis-name": ("3.2", "an axis name is 1 .. 16 characters of [A-Za-z0-9_]"),
    "axis-duplicate": ("3.2", "axis names are pairwise distinct"),
    "codec-count": ("3.2", "a pipeline has 1 .. 8 codecs"),
    "codec-id": ("3.2", "a codec id is 1 .. 32 ASCII characters"),
    "codec-config-id": ("3.2", "a codec's configuration does not contain the key id"),
    "extension-count": ("3.2", "a header has at most 64 extensions"),
    "extension-flags": ("3.2", "an extension's flag bits 1-7 are 0"),
    "extension-name": ("3.2", "an extension name is 1 .. 64 ASCII characters"),
    "extension-unknown-required": ("3.2", "every required extension is one the reader knows"),
    "extension-not-required": ("3.2", "a known extension has its required bit set"),
    "extension-repeated": ("3.2", "a known extension appears at most once"),
    "extension-data": ("3.2", "the compact-records, keyed-checks and message-ends extensions carry no data"),
    "keyed-checks-classic": ("3.2", "the keyed-checks extension only goes with compact records"),
    "message-ends-classic": ("3.2", "the message-ends extension only goes with compact records"),
    "prior-extension-unneeded": ("3.2", "a prior extension only when the array codec names a prior"),
    # Chunking (4)
    "chunk-extent": ("4.1", "a chunk's extent on axes 1..k-1 is the grid's (reported by recovery's walk, section 10; reading with the index reports `index-record-mismatch`)"),
    "row-height": ("4.1", "a row's height is 1 .. chunk_shape[0]"),
    "row-height-differs": ("4.2", "every chunk of a row has the row's height"),
    "chunk-order": ("4.2", "chunks follow each other row by row, in C order of their origins"),
    "row-past-shape": ("4.2", "rows end at or before a known shape[0], or 2^62 - 1 when it is unknown"),
    "row-incomplete": ("4.2", "a file holds every chunk of every row: none ends inside a row"),
    "rows-total": ("4.2", "the rows cover exactly a known shape[0]"),
    "empty-array-chunks": ("4.2", "an array with an empty axis holds no chunks"),
    # Chunk records (5)
    "record-truncated": ("5", "the file holds the whole chunk record"),
    "payload-size": ("5", "a chunk's payload size is at most 2 B + 65536"),
    "payload-undecodable": ("5", "the payload decodes through the pipeline to exactly the chunk's shape (for a failure that no rule of section 9 codes: an implementation's safety net; no conforming reader of a vector reports it)"),
    "spike-count": ("5", "a classic record's decoded values sum to its spike_count"),
    "record-magic": ("5.1", "a classic record starts with the magic SPKC"),
    "chunk-crc": ("5.1", "a classic record's CRC is the CRC-32 of its bytes before it"),
    "varint-truncated": ("5.2", "the file holds the whole varint"),
    "varint-overlong": ("5.2", "a varint is minimally encoded"),
    "varint-too-large": ("5.2", "a varint's value is below 2^64"),
    "varint-too-long": ("5.2", "a varint is at most 10 bytes"),
    "compact-height": ("5.2", "a stated row height is 1 .. chunk_shape[0] - 1"),
    "compact-check": ("5.2", "a compact record's check covers the header CRC, its ordinal and its bytes (keyed by them from 1.7)"),
    "records-end-early": ("5.2", "no end of records where a record is expected"),
    # Index (6)
    "index-magic": ("6.1", "the index starts with the magic SPKI"),
    "index-size": ("6", "the index's size is what its count makes it, and what the trailer says"),
    "index-crc": ("6", "the index CRC is the CRC-32 of the index's bytes before it"),
    "index-truncated": ("6", "the file holds the whole index (found in a message, section 11: in a file a compact index, at most 25 bytes, starts before the trailer's 24 bytes (step 4), so it is read to its end, into the trailer if need be, and a wrong length is `index-size`)"),
    "index-overlap": ("6.1", "an index entry starts where the previous chunk ends, not before"),
    "index-gap": ("6.1", "an index entry starts where the previous chunk ends, not after"),
    "index-entry-size": ("6.1", "an index entry's size is at least a record's header and CRC"),
    "index-end": ("6", "the last chunk ends where the index starts"),
    "index-record-mismatch": ("6.1", "an index entry agrees with its record's size, place, height and spike count"),
    "index-end-marker": ("6.2", "the compact index starts with the end-of-records byte 00"),
    "index-count": ("6", "the index counts exactly the records and rows the file holds"),
    # Trailer (7)
    "trailer-magic": ("7", "the file ends with a 24-byte trailer whose magic is SPKT"),
    "trailer-crc": ("7", "the trailer CRC is the CRC-32 of its first 16 bytes"),
    "trailer-index": ("7", "the trailer points to the index that ends where the trailer starts"),
    # Element packing (8)
    "packed-size": ("8", "packed elements are exactly ceil(n b / 8) bytes"),
    "padding-bits": ("8", "the padding bits after the last element are zero"),
    # Codecs (9)
    "codec-pipeline": ("9.1", "every codec, parameter and value is one the reader implements and allows"),
    "decoded-shape": ("9.1", "the pipeline decodes to exactly the chunk's shape"),
    "symbol-above-top": ("9.4", "a decoded value fits element_bits"),
    "zstd-frame": ("9.3", "the payload is exactly one whole, valid Zstandard frame"),
    "zstd-no-content-size": ("9.3", "the frame header records its content size"),
    "zstd-content-too-large": ("9.3", "the frame's content size is within the section 5 bound"),
    "zstd-content-size": ("9.3", "retired: a frame that decodes to another size than its content size is `zstd-frame` (9.3); not reported"),
    "zstd-trailing-bytes": ("9.3", "nothing follows the frame"),
    "rans-partial-word": ("9.4.4", "an rANS payload is a whole number of 32-bit words"),
    "rans-too-long": ("9.4.4", "an rANS payload has at most size * D + 2 words, D the most decisions of one element: 1 + bits (`order0`, `context`, `auto`), 1, 3 or 3 + bits for 1-, 2- and wider elements (`countctx`, 9.4.7); `ctxlanes` at most size * (1 + bits) + 12 words in all, `ctxfast` size * (1 + bits) + 15 (9.4.8, 9.4.12)"),
    "rans-final-state": ("9.4.3", "the last word is not 0, and the decoder ends with every word read and the state 0"),
    "auto-empty": ("9.4.6", "an auto payload holds its mode byte"),
    "auto-mode": ("9.4.6", "the auto mode is 0, 1 or 2"),
    "lanes-word-counts": ("9.4.8", "the stream word counts (lanes; `ctxfast` also magnitudes, 9.4.12) are there and add up to the payload"),
    "lanes-too-long": ("9.4.8", "a stream is no longer than any encoding of its lane (or, `ctxfast`, of the magnitudes: 9.4.12)"),
    "ctxmix-too-long": ("9.4.9", "a ctxmix payload is at most the chunk's packed size"),
    "ctxmix-end": ("9.4.9", "a coded ctxmix payload ends exactly as the encoder ends it (and no element starts after the bytes shifted out pass its length)"),
    "mix-too-long": ("9.4.10", "a payload of mix, winmix, countmix, chanmix or framemix is at most the chunk's packed size"),
    "mix-end": ("9.4.10", "a coded payload of mix, winmix, countmix, chanmix or framemix ends exactly as the encoder ends it (and no element starts after the bytes shifted out pass its length)"),
    "neuronmix-too-long": ("9.4.17", "a neuronmix payload is at most the chunk's packed size"),
    "neuronmix-end": ("9.4.17", "a coded neuronmix payload ends exactly as the encoder ends it (and no neuron starts after the bytes shifted out pass its length)"),
    # Streams and messages (11)
    "stream-unfinished": ("11", "a stream goes on to its index and trailer (a sequential reader of a file from a pipe or socket, whose input ended; a message receiver, which cannot tell a stream still under way from one abandoned, does not report it)"),
    "message-size": ("11", "a message holds exactly its part of the file"),
    "message-truncated": ("11", "with message-ends, a chunk message's last record ends a message (else the message was cut short)"),
    "message-joined": ("11", "with message-ends, no record but a chunk message's last ends a message (else two messages were sent as one)"),
    "integration-framing": ("11", "a chunk an integration (numcodecs, zarr) frames has its framing's tag and element type (the integration's rule)"),
    # Limits (12)
    "limit-bytes": ("12", "a read decodes at most the reader's max_bytes (a reader's limit, not a format rule)"),
    "limit-work": ("12", "a chunk stands for at most max_work elements a stored byte (a reader's limit)"),
    "numpy-shape": ("12", "the array's shape is one numpy can represent (an implementation limit)"),
    "limit-memory": ("12", "a chunk's decoding gets the memory it needs from the machine (an implementation limit, not a format rule)"),
    # Versions (13)
    "minor-too-low": ("13", "a writer sets minor to at least the lowest that defines every feature the file uses (a warning: readers accept the file)"),
    # Priors (14)
    "prior-missing": ("14", "the prior a codec names is embedded or supplied"),
    "prior-embedded-digest": ("14", "an embedded prior's SHA-256 is the digest the codec names"),
    "prior-mismatch": ("14", "a prior is of the codec, of the chunk's geometry, with tables laid out and in range"),
    "prior-file-truncated": ("14", "a prior file holds at least its fixed fields"),
    "prior-file-magic": ("14", "a prior file's signature is 8A 53 50 50 0D 0A 1A 0A"),
    "prior-file-major": ("14", "a prior file's major version is 1"),
    "prior-file-reserved": ("14", "a prior file's reserved field is 0"),
    "prior-file-description-size": ("14", "the description size J is 1 .. 1,048,576 and fits the file"),
    "prior-file-crc": ("14", "a prior file's CRC is the CRC-32 of every byte before it"),
    "prior-file-description": ("14", "the description is JSON with exactly the keys and table entries of section 14"),
    "prior-file-tables-size": ("14", "a prior's tables hold at most 2^30 bytes"),
    "prior-file-table-data": ("14", "the table data is one Zstandard frame whose content is exactly the tables"),
}

CODES: dict[str, ProblemCode] = {code: ProblemCode(*entry) for code, entry in _TABLE.items()}

# Published codes that no check reports any more (a code keeps its meaning, so it is not reused).
RETIRED = frozenset({"zstd-content-size"})

# The severities a validation problem has: non-conformance, a conforming-so-far file that the
# reader's limits stopped, and a remark that does not make the file non-conforming.
SEVERITIES = ("error", "limit", "warning")


def section(code: str) -> str:
    """The FORMAT.md section ``code`` enforces; KeyError for an unknown code."""
    return CODES[code].section
