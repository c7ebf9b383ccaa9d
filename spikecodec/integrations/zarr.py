"""A zarr v3 array-to-bytes codec (``{"name": "spikecodec"}``) that codes each chunk with spikecodec.

It takes the place of zarr's ``bytes`` codec (``serializer=``), alone or inside zarr's sharding
codec (``shards=``: many small chunks in one object, each decodable on its own)::

    import zarr
    from spikecodec.integrations.zarr import SpikeZarrCodec

    z = zarr.create_array("spikes.zarr", shape=(2, 10000, 4, 7, 7), chunks=(2, 1, 4, 7, 7),
                          shards=(2, 2048, 4, 7, 7), dtype="bool", compressors=None,
                          serializer=SpikeZarrCodec(codec="ctxmix", axes="TNCHW", prior=prior_path))
    z[:] = spikes
    zarr.open_array("spikes.zarr")[:, 5]     # any process: found through the zarr.codecs entry point

Parameters as :class:`spikecodec.integrations.numcodecs.SpikeCodec`: ``codec``, ``axes``,
``bits``, ``prior`` (a prior file's path) and ``prior_digest``; and ``framing``:

* ``"message"`` (the default): a chunk is one chunk message (FORMAT.md 5.2: its entropy-coded
  payload and 3 to 5 bytes) against a header message that the codec makes once, when the array
  is created, and keeps in the array's metadata (``header``, base64), so that the chunks decode
  from those exact bytes in any later version. zarr 3.1 gives the codec the shape of the chunks
  it will code only inside a sharding codec (the inner chunks); outside one it gives the array's
  shape, so there the header fits the chunks only when the array is one chunk. A chunk the
  header does not fit (see :meth:`MessageFraming.fits`) is stored as a spike file, at encoding and
  decoding alike; so is every chunk when no header can be made for that shape (over 2^31
  elements, a prior trained for other chunks): the codec then keeps ``framing: "file"``.
* ``"file"``: each chunk a self-describing spike file with compact records (about 160 bytes of
  header, index and CRCs, 240 with a prior): ``spikecodec.decode(chunk_bytes)`` reads it
  without zarr. A configuration without ``framing`` (stores written before it existed) means this.

The array's dtype must be bool or uint8; with ``framing="message"`` the header fixes the element
type (:meth:`SpikeParams.header_bits`: a uint8 array without ``bits`` codes 8-bit elements unless
its prior says otherwise; give ``bits=1`` for uint8 spikes). The configuration is kept in the
array's metadata (zarr.json), so a reader in another process needs only spikecodec installed (and
the prior, by path or on spikecodec's search path). Leave ``compressors`` off (``None``): the
chunks are already entropy coded.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import functools
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from zarr.abc.codec import ArrayBytesCodec
from zarr.core.common import parse_named_configuration
from zarr.registry import register_codec

from .. import layout
from ..codecs.registry import Pipeline
from ..container.link import parse_header_message
from ..container.writer import default_axes
from ..elements import ElementRangeError, clean_bools
from ..limits import MAX_RANK
from ..errors import FormatError, LimitError
from ._core import MessageFraming, SpikeParams, chunk_dtype_name

if TYPE_CHECKING:
    from typing import Self

    from zarr.core.array_spec import ArraySpec
    from zarr.core.buffer import Buffer, NDBuffer

__all__ = ["CODEC_NAME", "SpikeZarrCodec"]

CODEC_NAME = "spikecodec"
_WHO = "spikecodec (zarr)"
_KEYS = {"codec", "axes", "bits", "prior", "prior_digest", "framing", "header"}

#: What a failed check of a chunk message may also mean here.
_HINT = "; or the chunk was coded against another header than this array's"


@dataclass(frozen=True)
class SpikeZarrCodec(ArrayBytesCodec):
    """Each chunk (bool or uint8) as a chunk message against the array's header, or as a spike
    file: see the module. ``header``: the header message (base64, or its bytes), which the codec
    makes itself when the array is created; given, it must be one (copied from a store's metadata)
    made with this configuration's codec, axes, bits and prior (else ValueError saying which differ:
    the chunks would be coded as the header says)."""

    is_fixed_size = False

    codec: str
    axes: str | tuple[str, ...] | None
    bits: int | None
    prior: str | None
    prior_digest: str | None
    framing: str
    header: str | None

    def __init__(self, *, codec: str = "auto", axes: str | list[str] | tuple[str, ...] | None = None,
                 bits: int | None = None, prior: str | os.PathLike | None = None, prior_digest: str | None = None,
                 framing: str = "message", header: str | bytes | None = None):
        params = SpikeParams(_WHO, codec, axes, bits, prior, prior_digest, framing)
        if header is not None:
            if framing != "message":
                raise ValueError(f"{_WHO}: a header goes with framing='message', not {framing!r}")
            header = _header_text(header)
            params.message_framing(_header_bytes(header))  # a header message, else ValueError
            # The chunks are coded as the header says, whatever the configuration names: a header
            # copied from another array (or a configuration edited by hand) made every chunk of
            # codec="ctxmix" a raw one, say, while zarr.json went on naming ctxmix.
            _check_header_matches(params.codec, params.axes if params.axes is None else tuple(params.axes),
                                  params.bits, params.prior_digest, header)
        object.__setattr__(self, "codec", params.codec)
        object.__setattr__(self, "axes", tuple(params.axes) if isinstance(params.axes, list) else params.axes)
        object.__setattr__(self, "bits", params.bits)
        object.__setattr__(self, "prior", params.prior)
        object.__setattr__(self, "prior_digest", params.prior_digest)
        object.__setattr__(self, "framing", params.framing)
        object.__setattr__(self, "header", header)

    @property
    def _params(self) -> SpikeParams:
        # Kept outside the instance, so that pickling the codec - dask ships it to its workers -
        # carries only its configuration.
        return _params_for(self.codec, self.axes, self.bits, self.prior, self.prior_digest, self.framing)

    @property
    def _messages(self) -> MessageFraming | None:
        """The message framing of the stored header; None for file framing."""
        if self.framing != "message":
            return None
        if self.header is None:
            raise ValueError(f"{_WHO}: framing='message' codes chunks against the header the codec makes when "
                             "a zarr array is created (evolve_from_array_spec); this codec has none")
        return self._params.message_framing(_header_bytes(self.header))

    # -- metadata ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        _, configuration = parse_named_configuration(data, CODEC_NAME, require_configuration=False)
        configuration = dict(configuration or {})
        unknown = set(configuration) - _KEYS
        if unknown:
            raise ValueError(f"{_WHO}: unknown configuration keys {sorted(unknown)}")
        configuration.setdefault("framing", "file")  # stored before framing existed: spike files
        return cls(**configuration)

    def to_dict(self) -> dict[str, Any]:
        configuration: dict[str, Any] = {"codec": self.codec}
        if self.axes is not None:
            configuration["axes"] = list(self.axes) if isinstance(self.axes, tuple) else self.axes
        for key in ("bits", "prior", "prior_digest"):
            if getattr(self, key) is not None:
                configuration[key] = getattr(self, key)
        # "file" is left out: a configuration without framing means it, also to versions before it.
        if self.framing != "file":
            configuration["framing"] = self.framing
        if self.header is not None:
            configuration["header"] = self.header
        return {"name": CODEC_NAME, "configuration": configuration}

    def evolve_from_array_spec(self, array_spec: ArraySpec) -> Self:
        """With ``framing="message"`` and no header yet: the codec with the header message for
        chunks of ``array_spec`` (zarr calls this when it makes the array's metadata, and the
        sharding codec for its inner chunks). A header, once made, is kept: the stored chunks
        were coded against it. Where none can be made for that shape, the codec with file framing."""
        native = array_spec.dtype.to_native_dtype() if hasattr(array_spec.dtype, "to_native_dtype") else array_spec.dtype
        # Checked here too: inside zarr's sharding codec this codec's validate() is never called,
        # and an int16 array or axes of another rank were accepted, every write then failing
        # (message framing: "this codec has none", of the header). No chunk of such an array can
        # have been written, so refusing it when it is opened loses nothing.
        name = chunk_dtype_name(native, _WHO)  # bool or uint8, else ValueError
        if self.axes is not None and len(self.axes) != max(len(array_spec.shape), 1):
            raise ValueError(f"{_WHO}: axes {self.axes!r} name {len(self.axes)} axes, the array has "
                             f"{len(array_spec.shape)}")  # its chunks have its rank, sharded or not
        if len(array_spec.shape) > MAX_RANK:  # no chunk of it could be written (a spike file has at most 8 axes)
            raise ValueError(f"{_WHO}: arrays of rank {len(array_spec.shape)} exceed the format's {MAX_RANK} axes")
        if self.framing != "message" or self.header is not None:
            return self
        params = self._params
        bits = params.header_bits(name)  # a missing prior raises here
        shape = tuple(array_spec.shape) or (1,)  # a 0-d array's chunk is coded as one element
        try:
            header = params.make_header(shape, bits, stream_id=True)  # the array's own: another's chunks fail their check
        except ValueError:
            return dataclasses.replace(self, framing="file")
        return dataclasses.replace(self, header=_header_text(header))

    def validate(self, *, shape: tuple[int, ...], dtype: Any, chunk_grid: Any) -> None:
        native = dtype.to_native_dtype() if hasattr(dtype, "to_native_dtype") else dtype
        name = chunk_dtype_name(native, _WHO)  # bool or uint8, else ValueError
        if self.axes is not None and len(self.axes) != len(shape):
            raise ValueError(f"{_WHO}: axes {self.axes!r} name {len(self.axes)} axes, the array has {len(shape)}")
        if self.bits is not None and native == np.dtype(bool) and self.bits != 1:
            raise ValueError(f"{_WHO}: a bool array takes bits=1 (or None), got bits={self.bits}")
        if self.framing == "message" and self.header is not None:
            messages = self._messages
            assert messages is not None
            if len(messages.chunk_shape) != max(len(shape), 1):
                raise ValueError(f"{_WHO}: the header is for chunks of rank {len(messages.chunk_shape)}, the array "
                                 f"has rank {len(shape)}")
            if name == "bool" and messages.bits != 1:
                raise ValueError(f"{_WHO}: the header codes {messages.bits}-bit elements, a bool array 1-bit ones")

    def compute_encoded_size(self, input_byte_length: int, chunk_spec: ArraySpec) -> int:
        raise NotImplementedError  # variable-sized, as zstd's

    # -- chunks --------------------------------------------------------------------------------
    def _encode_sync(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        arr = np.asarray(chunk_array.as_numpy_array())
        messages = self._messages
        shape = arr.shape or (1,)
        try:
            if messages is not None and messages.fits(shape):
                chunk_dtype_name(arr.dtype, _WHO)
                data = messages.encode(clean_bools(arr).reshape(shape).view(np.uint8))
            else:
                data = self._params.encode(arr)
        except ValueError as exc:
            hint = _fill_value_hint(chunk_spec, self.bits if messages is None else messages.bits)
            if hint and isinstance(exc, ElementRangeError) and "does not fit" in str(exc):
                raise ElementRangeError(f"{exc}{hint}") from None
            raise
        return chunk_spec.prototype.buffer.from_bytes(data)

    def _decode_sync(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        params = self._params
        want = tuple(chunk_spec.shape)
        dtype = chunk_dtype_name(chunk_spec.dtype.to_native_dtype(), _WHO)
        messages = self._messages
        if messages is not None and messages.fits(want or (1,)):
            values = messages.decode(chunk_bytes.as_numpy_array(), want or (1,), _HINT)
            chunk = params.finish(values.reshape(want), {}, dtype)
        else:
            # A chunk decodes to its shape's bytes, never more: a hostile one is refused before it allocates.
            limit = max(math.prod(want), 1)
            data = chunk_bytes.as_numpy_array()
            try:
                values, metadata = params.decode(data, max_bytes=limit)
            except LimitError:
                raise
            except FormatError as exc:
                if messages is None and bytes(data[: len(layout.SIGNATURE)]) != layout.SIGNATURE:
                    raise FormatError(f"{exc.message} (the chunk is not a spike file: was the array written with "
                                      "framing='message', and its configuration has lost the header?)", exc.offset,
                                      exc.where, code=exc.code) from None
                raise
            chunk = params.finish(values, metadata, dtype)
        if chunk.shape != want:
            raise FormatError(f"{_WHO}: the chunk decodes to shape {chunk.shape}, the array's chunks are {want}", code="decoded-shape")
        return chunk_spec.prototype.nd_buffer.from_numpy_array(chunk)

    async def _encode_single(self, chunk_array: NDBuffer, chunk_spec: ArraySpec) -> Buffer | None:
        return await asyncio.to_thread(self._encode_sync, chunk_array, chunk_spec)

    async def _decode_single(self, chunk_bytes: Buffer, chunk_spec: ArraySpec) -> NDBuffer:
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)


def _fill_value_hint(chunk_spec: ArraySpec, bits: int | None) -> str:
    """What to add to a "does not fit" error when the array's fill value is itself over the
    element type: zarr fills the unwritten part of a chunk with it, so a chunk written in part
    cannot be coded however small the values written."""
    try:
        fill = int(np.asarray(chunk_spec.fill_value).item())
    except (TypeError, ValueError):
        return ""
    if bits is None or fill < (1 << bits):
        return ""
    return (f" (the array's fill_value {fill} does not fit the {bits}-bit element type: zarr writes it into "
            "every chunk written in part; make the array with a fill_value that fits, or a wider bits=)")


def _header_text(header: str | bytes) -> str:
    """A header message as the configuration keeps it: base64 text (given as such, or as bytes)."""
    if isinstance(header, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(header)).decode("ascii")
    if not isinstance(header, str):
        raise ValueError(f"{_WHO}: header must be base64 text, got {type(header).__name__}")
    _header_bytes(header)
    return header


@functools.lru_cache(maxsize=64)
def _header_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{_WHO}: header is not base64 text: {text[:40]!r}") from None


@functools.lru_cache(maxsize=64)
def _check_header_matches(codec: str, axes: str | tuple[str, ...] | None, bits: int | None, prior_digest: str | None,
                          header: str) -> None:
    """ValueError unless the header message ``header`` (base64) codes chunks as the configuration
    says: the codec stages (by id: a stage's parameters may get new defaults in a later version,
    a header keeps the ones it was made with), the axes (spikecodec's default for the header's
    rank when None), the element type (when ``bits`` is given) and the prior. A header the codec
    made itself always matches; this refuses one given with other options (``header=``, or a
    zarr.json edited by hand), saying which, so that the configuration can be made the header's."""
    h, _ = parse_header_message(_header_bytes(header))  # a header message: checked by the caller
    problems = []
    want_ids = [stage["id"] for stage in Pipeline.from_user(codec).get_config()]
    have_ids = [stage.get("id") for stage in h.codecs]
    if want_ids != have_ids:
        problems.append(f"codec {'+'.join(map(str, have_ids))!r} (the configuration names {codec!r})")
    want_axes = tuple(axes) if axes is not None else default_axes(len(h.shape))
    if tuple(h.axes) != want_axes:
        problems.append(f"axes {_axes_text(h.axes)!r} (the configuration names {_axes_text(want_axes)!r})")
    if bits is not None and h.bits != bits:
        problems.append(f"{h.bits}-bit elements (the configuration names bits={bits})")
    have_prior = h.codecs[0].get("prior") if h.codecs and isinstance(h.codecs[0], dict) else None
    if have_prior != prior_digest:
        problems.append(f"prior {have_prior or 'none'} (the configuration names {prior_digest or 'none'})")
    if problems:
        raise ValueError(f"{_WHO}: the header codes chunks with {'; '.join(problems)}: chunks are coded as the "
                         "header says, so give the header's own options (in zarr.json too), or no header to have "
                         "one made")


def _axes_text(axes: tuple[str, ...]) -> str | list[str]:
    return "".join(axes) if all(len(a) == 1 for a in axes) else list(axes)


@functools.lru_cache(maxsize=64)
def _params_for(codec: str, axes: str | tuple[str, ...] | None, bits: int | None, prior: str | None,
                prior_digest: str | None, framing: str) -> SpikeParams:
    return SpikeParams(_WHO, codec, list(axes) if isinstance(axes, tuple) else axes, bits, prior, prior_digest, framing)


register_codec(CODEC_NAME, SpikeZarrCodec)  # the fallback where the entry point is not installed
