"""A numcodecs codec (``{"id": "spikecodec"}``) that codes each chunk with spikecodec's entropy coders.

numcodecs' ``PackBits`` packs bools 8 to a byte but loses the chunk's shape (numcodecs #517) and
knows nothing of spikes; this codec keeps the chunk's shape and dtype, and ``ctxmix`` learns from
every timestep of each neuron in the chunk. A chunk is stored in one of two framings:

* ``framing="file"`` (the default): a self-describing spike file with compact records (about 160
  bytes of header, index and CRCs, 240 with a prior): ``spikecodec.decode`` reads it alone.
* ``framing="message"``: a few bytes naming the chunk's shape and dtype, then one chunk message
  (FORMAT.md 5.2: the payload and 3 to 5 bytes), for small chunks. numcodecs gives a codec no
  hook to keep a header per array (its configuration is fixed before it sees a chunk, and
  ``decode`` gets no shape), so the header message is derived, at encoding and decoding alike,
  from the configuration and the chunk's shape and element type (:meth:`SpikeParams.make_header`).
  That makes these chunks depend on the header being a pure function of those in format 1.3, as
  it is in this version; the record check covers the header's CRC, so a version that derived
  another header would refuse the chunks (FormatError), never decode them wrongly. The first
  byte (:data:`MESSAGE_TAG`) names this derivation, for a later version to keep reproducing it.
  Prefer the zarr v3 codec (:mod:`spikecodec.integrations.zarr`), which stores the header's exact
  bytes in the array's metadata, and where small chunks live in shards.

::

    import numcodecs
    from spikecodec.integrations.numcodecs import SpikeCodec

    codec = SpikeCodec(codec="ctxmix", axes="TNCHW")
    data = codec.encode(spikes)              # bool or uint8, any shape
    back = codec.decode(data)                # same shape and dtype, bit-exact
    numcodecs.get_codec(codec.get_config())  # the same codec, in any process

The codec is registered through the ``numcodecs.codecs`` entry point, so ``numcodecs.get_codec``
finds it in every process (dask workers included) without importing this module first; importing
it registers it too.
"""

from __future__ import annotations

import binascii
import math
import os
from typing import Any, Mapping

import numcodecs
import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray_like, ensure_ndarray_like

from .. import layout
from ..container.reader import BytesCursor
from ..container.records import read_varint, varint
from ..elements import ELEMENT_BITS, as_elements, to_numpy
from ..errors import FormatError, LimitError
from ..limits import DEFAULT_MAX_DECODED_BYTES, MAX_RANK
from ._core import DTYPE_KEY, ORDER_KEY, SpikeParams, chunk_dtype_name, values_of_a_chunk

__all__ = ["MESSAGE_TAG", "SpikeCodec"]

#: The first byte of a chunk in message framing: a chunk message whose header is derived from
#: the configuration and the chunk's shape and element type as format 1.3 and this version do
#: (:meth:`SpikeParams.make_header`). Then a varint ``8 rank + 2 b + d`` (``b``: the element
#: type's index in (1, 2, 4, 8) bits; ``d``: 1 for a bool chunk), ``rank`` varints of the chunk's
#: extents (a 0-d chunk has rank 0 and is coded as one element), and the chunk message. Those
#: first bytes pick the header, whose CRC the message's check covers: damage to them fails the
#: check. A chunk that holds no element has no message; a CRC-16/XMODEM (``u16``) of the bytes
#: before it checks them instead.
MESSAGE_TAG = 0xB1

#: What a failed check of a chunk message may also mean here.
_HINT = ("; or it was coded by a SpikeCodec of another configuration, or by a version of spikecodec "
         "that derives another header")


class SpikeCodec(Codec):
    """Chunks of spikes (bool) or spike counts (uint8) as spike files.

    ``codec``: a spikecodec codec id (``"auto"``, the default; ``"ctxmix"`` codes smallest;
    ``"context"``, ``"ctxlanes"``, ``"countctx"`` for counts, ``"order0"``, ``"zstd"``, ``"raw"``).
    ``axes``: the chunk's axis names (``"TNCHW"``, or a list), default spikecodec's for its rank
    (T, N, C, H, W; the coders take the neuron's history along ``T``). ``bits``: the element type
    (1, 2, 4, 8), default the narrowest that holds the chunk; a value that does not fit raises
    ValueError. ``prior``: a prior file's path (:func:`spikecodec.train_prior`) for a trainable
    codec, so that small chunks code as well as large ones; its digest is kept in the
    configuration (``prior_digest``), and a decoder that cannot read the path finds the prior by
    digest among spikecodec's shipped priors and the folders of ``$SPIKECODEC_PRIOR_PATH``.

    ``framing``: ``"file"`` (each chunk a spike file) or ``"message"`` (a chunk message, for
    small chunks): see the module; a configuration without it means ``"file"``.

    Chunks must be bool or uint8 (other dtypes raise ValueError); a bool chunk decodes to bool
    (the spike file's metadata, or the message's first bytes, say so). A chunk given in Fortran
    order decodes in Fortran order again (zarr format 2 reads a compressor's or filter's output in
    the array's memory order: an ``order="F"`` array read its chunks back transposed); the
    spike file's metadata says so. Chunk messages have no room for it and refuse such a chunk. A malformed payload raises
    :class:`spikecodec.FormatError` (a ValueError) saying what is wrong.
    """

    codec_id = "spikecodec"

    def __init__(self, codec: str = "auto", axes: str | list[str] | None = None, bits: int | None = None,
                 prior: str | os.PathLike | None = None, prior_digest: str | None = None, framing: str = "file"):
        self._params = SpikeParams("spikecodec (numcodecs)", codec, axes, bits, prior, prior_digest, framing)

    # The parameters, read-only (numcodecs compares codecs by their configuration).
    codec = property(lambda self: self._params.codec)
    axes = property(lambda self: self._params.axes)
    bits = property(lambda self: self._params.bits)
    prior = property(lambda self: self._params.prior)
    prior_digest = property(lambda self: self._params.prior_digest)
    framing = property(lambda self: self._params.framing)

    def encode(self, buf: Any) -> bytes:
        """One chunk (a bool or uint8 array of any shape; a bytes-like object is a 1-D uint8
        chunk) as the bytes of a spike file, or of a chunk message (``framing``)."""
        arr = _chunk_array(buf, self._params.who)
        fortran = arr.ndim > 1 and arr.flags.f_contiguous and not arr.flags.c_contiguous
        if self._params.framing == "message":
            if fortran:  # a message has no room to say so; zarr v2 would read its values transposed
                raise ValueError(f"{self._params.who}: framing='message' codes C-ordered chunks; this one is in "
                                 "Fortran order (a zarr format 2 array of order='F'?): use order='C', or framing='file'")
            return self._encode_message(arr)
        metadata = {DTYPE_KEY: "bool"} if arr.dtype == np.dtype(bool) else {}
        if fortran:  # decoded into Fortran order again: zarr format 2 reads a chunk in its memory order
            metadata[ORDER_KEY] = "F"
        return self._params.encode(arr, metadata or None)

    def decode(self, buf: Any, out: Any = None) -> np.ndarray:
        """The chunk that :meth:`encode` coded in ``buf`` (any buffer), in its shape and dtype.
        ``out``: an array of that shape (or of its size, contiguous) and dtype, or a writable
        buffer of its byte count, to copy it into (and return)."""
        if isinstance(buf, np.ndarray) and not (buf.flags.c_contiguous or buf.flags.f_contiguous):
            buf = np.ascontiguousarray(buf)  # a strided view of the bytes (was refused as "got ndarray")
        try:
            data = ensure_contiguous_ndarray_like(buf)
        except (TypeError, ValueError):  # was numcodecs' "memoryview: a bytes-like object is required, not 'NoneType'"
            raise TypeError(f"{self._params.who}: a chunk to decode is the encoded bytes (any buffer), got "
                            f"{type(buf).__name__}") from None
        if self._params.framing == "message":
            chunk = self._decode_message(data, _out_nbytes(out))
        else:
            try:
                values, metadata = self._params.decode(data)
            except LimitError:
                raise
            except FormatError as exc:
                if _first_byte(data) == MESSAGE_TAG:  # before: only "bad signature" or "too short"
                    raise FormatError(f"{exc.message} (the chunk begins with {MESSAGE_TAG:02x}, as a chunk message "
                                      "does: was it written with framing='message'?)", exc.offset, exc.where,
                                      code=exc.code) from None
                raise
            chunk = self._params.finish(values, metadata)
            if isinstance(metadata, Mapping) and metadata.get(ORDER_KEY) == "F":
                chunk = np.asfortranarray(chunk)
        if out is None:
            return chunk
        return _copy_into(chunk, out)

    # -- message framing -----------------------------------------------------------------------
    def _encode_message(self, arr: np.ndarray) -> bytes:
        params = self._params
        name = chunk_dtype_name(arr.dtype, params.who)
        coded = arr.shape or (1,)  # a 0-d chunk is coded as one element
        params.check_axes(coded)
        with values_of_a_chunk(params.who, arr.shape):
            values, bits = as_elements(arr, params.bits)  # bits: the narrowest that holds the chunk, as a file's
        head = bytes([MESSAGE_TAG]) + varint(8 * arr.ndim + 2 * ELEMENT_BITS.index(bits) + (name == "bool"))
        head += b"".join(varint(n) for n in arr.shape)
        if values.size == 0:
            return head + binascii.crc_hqx(head, 0).to_bytes(2, "little")
        return head + params.derived_framing(coded, bits, name).encode(values.reshape(coded))

    def _decode_message(self, data: Any, limit: int | None) -> np.ndarray:
        params, who = self._params, self._params.who
        view = memoryview(data).cast("B") if memoryview(data).c_contiguous else memoryview(bytes(data))
        if not len(view) or view[0] != MESSAGE_TAG:
            said = " (it is a spike file: was it written with framing='file'?)" if bytes(view[:8]) == layout.SIGNATURE else ""
            raise FormatError(f"{who}: not a chunk message of this codec (framing='message'): it begins with "
                              f"{bytes(view[:4]).hex(' ') or 'nothing'}, not {MESSAGE_TAG:02x}{said}", 0, code="integration-framing")
        cursor = BytesCursor(view, 0)
        cursor.read(1)
        try:
            kind, _ = read_varint(cursor, cursor.pos, "the chunk's kind")
            rank, bits, is_bool = kind >> 3, (kind >> 1) & 3, kind & 1
            if rank > MAX_RANK:
                raise FormatError(f"the chunk message names rank {rank}, over {MAX_RANK}", 1, code="rank-range")
            shape = tuple(read_varint(cursor, cursor.pos, f"the chunk's extent {i}")[0] for i in range(rank))
        except FormatError as exc:
            raise FormatError(f"{who}: {exc.message.replace('file ends', 'the chunk ends')}", exc.offset, code=exc.code) from None
        cap = DEFAULT_MAX_DECODED_BYTES if limit is None else limit
        if math.prod(shape) > cap:  # before anything is derived or allocated
            raise LimitError(f"{who}: the chunk message names a chunk of {shape}, over the "
                             f"{'out= buffer' if limit is not None else 'max_bytes'} of {cap} bytes", 1, code="limit-bytes")
        message = view[cursor.pos :]
        coded = shape or (1,)
        if math.prod(shape) == 0:
            if bytes(message) != binascii.crc_hqx(view[: cursor.pos], 0).to_bytes(2, "little"):
                raise FormatError(f"{who}: the chunk message of an empty chunk {shape} fails its check: damaged or "
                                  "truncated", cursor.pos, code="compact-check")
            values = np.zeros(shape, np.uint8)
        else:
            try:
                framing = params.derived_framing(coded, ELEMENT_BITS[bits], "bool" if is_bool else "uint8")
            except ValueError as exc:
                raise FormatError(f"{who}: the chunk message names a chunk this configuration cannot code ({exc})", 1, code="codec-pipeline") from None
            values = framing.decode(message, coded, _HINT, start=cursor.pos)
        return params.finish(values.reshape(shape), {}, "bool" if is_bool else "uint8")

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, **self._params.config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "SpikeCodec":
        who = "spikecodec (numcodecs)"
        if not isinstance(config, Mapping):
            raise TypeError(f"{who}: a configuration is a dict such as {{'id': 'spikecodec', 'codec': 'ctxmix'}}, "
                            f"got {type(config).__name__}")
        config = dict(config)
        codec_id = config.pop("id", cls.codec_id)
        if codec_id != cls.codec_id:
            raise ValueError(f"{who}: the configuration is for codec {codec_id!r}, not {cls.codec_id!r}")
        unknown = sorted(str(k) for k in set(config) - _CONFIG_KEYS)
        if unknown:
            raise ValueError(f"{who}: unknown configuration keys {unknown} (known: {sorted(_CONFIG_KEYS)})")
        return cls(**config)

    def __repr__(self) -> str:
        return f"SpikeCodec({self._params!r})"


#: The keys of a configuration besides ``id`` (SpikeCodec's parameters).
_CONFIG_KEYS = frozenset({"codec", "axes", "bits", "prior", "prior_digest", "framing"})


def _chunk_array(buf: Any, who: str) -> np.ndarray:
    """A chunk as a numpy array: an array, or anything with ``__array__`` (a torch tensor, a
    dask or zarr array: read there), or a buffer (a 1-D uint8 chunk). Anything else raises a
    TypeError saying what was given; a masked array is refused (its mask would be dropped)."""
    if isinstance(buf, np.ndarray) or hasattr(buf, "__array__") or (hasattr(buf, "detach") and hasattr(buf, "numpy")):
        try:
            arr = to_numpy(buf)
        except TypeError as exc:  # a masked array, a tensor numpy cannot view: said as this codec's, not anonymously
            raise TypeError(f"{who}: {exc}") from None
    else:
        try:
            arr = ensure_ndarray_like(buf)
        except (TypeError, ValueError):
            raise TypeError(f"{who}: a chunk must be a numpy array (or a tensor, or a buffer), got "
                            f"{type(buf).__name__}") from None
        arr = to_numpy(arr)
    if arr.dtype == np.dtype(object):
        raise TypeError(f"{who}: a chunk must be a numpy array of bool or uint8, got {type(buf).__name__} of objects")
    if not isinstance(buf, np.ndarray) and hasattr(buf, "dtype"):  # a tensor: its dtype said, not numpy's stand-in
        chunk_dtype_name(arr.dtype, who, given=str(buf.dtype))
    return arr


def _first_byte(data: Any) -> int | None:
    try:
        view = memoryview(data)
        return view.cast("B")[0] if view.nbytes and view.c_contiguous else None
    except (TypeError, ValueError):
        return None


def _out_nbytes(out: Any) -> int | None:
    """The bytes ``out`` (an array or a buffer, or None) holds: what a chunk may decode to."""
    if out is None:
        return None
    if isinstance(out, np.ndarray):
        return out.nbytes
    try:
        return memoryview(out).nbytes
    except TypeError:
        return None  # _copy_into says what is wrong with it


def _copy_into(chunk: np.ndarray, out: Any) -> Any:
    if isinstance(out, np.ndarray):
        if not out.flags.writeable:
            raise ValueError(f"spikecodec (numcodecs): out= is a read-only array ({out.dtype} {out.shape})")
        if out.dtype != chunk.dtype:
            raise ValueError(f"spikecodec (numcodecs): out= has dtype {out.dtype}, the decoded chunk is "
                             f"{chunk.dtype} {chunk.shape}")
        if out.shape != chunk.shape:
            if out.size != chunk.size or not (out.flags.c_contiguous or out.flags.f_contiguous):
                raise ValueError(f"spikecodec (numcodecs): out= has shape {out.shape}, the decoded chunk is "
                                 f"{chunk.shape} ({chunk.dtype})")
            np.copyto(out.reshape(-1, order="A"), chunk.reshape(-1, order="A"), casting="no")  # memory order, as zarr 2
            return out
        np.copyto(out, chunk, casting="no")
        return out
    try:
        view = memoryview(out)
    except TypeError:
        raise TypeError(f"spikecodec (numcodecs): out= must be an array or a writable buffer, got {type(out).__name__}") from None
    if view.readonly or not view.contiguous or view.nbytes != chunk.nbytes:
        raise ValueError(f"spikecodec (numcodecs): out= is a {'read-only ' if view.readonly else ''}buffer of "
                         f"{view.nbytes} bytes, the decoded chunk is {chunk.dtype} {chunk.shape} ({chunk.nbytes} bytes)")
    np.frombuffer(view.cast("B"), np.uint8)[...] = chunk.reshape(-1, order="A").view(np.uint8)  # memory order
    return out


numcodecs.register_codec(SpikeCodec)  # the fallback where the entry point is not installed
