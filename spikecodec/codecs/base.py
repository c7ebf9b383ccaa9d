"""What a codec is: a small class with ``encode``/``decode``/``get_config`` (numcodecs style).

A chunk passes through a pipeline of codecs: exactly one :class:`ArrayCodec` first (element
array -> bytes), then any number of :class:`BytesCodec` (bytes -> bytes). Codecs are named in a
file by string id with a JSON object of parameters, never by position in a table.

Decoders receive untrusted bytes. They must raise :class:`~spikecodec.FormatError` (or
``ValueError``) on anything malformed and must never allocate more than the chunk's declared
size allows: the container hands them the bound.
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..elements import count_spikes, packed_nbytes
from ..errors import FormatError
from ..limits import payload_cap


@dataclass(frozen=True)
class ChunkSpec:
    """What a codec knows about the chunk it codes: its shape, axis names and element bits."""

    shape: tuple[int, ...]
    axes: tuple[str, ...]
    bits: int

    # Derived sizes, computed once per spec (a reader asks for them for every chunk it decodes).
    size: int = field(init=False, repr=False, compare=False)
    packed_nbytes: int = field(init=False, repr=False, compare=False)
    max_payload: int = field(init=False, repr=False, compare=False)
    """Largest encoded size any stage of the pipeline may produce or accept for this chunk."""

    def __post_init__(self) -> None:
        size = 1
        for s in self.shape:
            size *= s
        object.__setattr__(self, "size", size)  # frozen: set once, here
        object.__setattr__(self, "packed_nbytes", packed_nbytes(size, self.bits))
        object.__setattr__(self, "max_payload", payload_cap(self.packed_nbytes))


class Codec(ABC):
    """Base of all codecs. Subclasses set ``codec_id`` and accept their parameters as keywords."""

    codec_id: ClassVar[str]
    #: The format minor version that defined this codec id; a file that uses it declares at
    #: least this minor version in its preamble (FORMAT.md 3.1), so version-1.0 files stay 1.0.
    format_minor: ClassVar[int] = 0
    #: True for codecs whose initial model state a prior can set (:mod:`.trainable`).
    trainable: ClassVar[bool] = False
    #: Default chunks (a writer given no chunk shape) hold about this many elements: codecs
    #: whose models learn across samples ask for more.
    chunk_elements: ClassVar[int] = 1 << 20
    #: ... and at least this many samples (axis 1) where the chunk limit allows: a codec that
    #: codes samples side by side (``ctxfast``'s lanes) runs one chain a sample below it.
    chunk_samples: ClassVar[int] = 1

    def minor_needed(self) -> int:
        """The lowest format minor version that defines this codec with its parameters."""
        return self.format_minor

    def get_config(self) -> dict[str, Any]:
        """JSON-able parameters, as stored in the file (without the id)."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Codec":
        """Rebuild from :meth:`get_config`; unknown or invalid parameters raise ``ValueError``."""
        takes = _keywords(cls)
        if takes is not None:
            unknown = [k for k in config if k not in takes]
            if unknown:
                have = f"its parameters: {', '.join(takes)}" if takes else "it has none"
                raise ValueError(f"codec {cls.codec_id!r}: bad parameters {config!r}: no parameter {unknown[0]!r} ({have})")
        try:
            return cls(**config)
        except TypeError as exc:  # unexpected keyword
            raise ValueError(f"codec {cls.codec_id!r}: bad parameters {config!r} ({exc})") from None

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((self.codec_id, tuple(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({params})"


@functools.cache
def _keywords(cls: type) -> tuple[str, ...] | None:
    """The keywords ``cls``'s constructor takes (a codec's parameters), None if it takes any.
    Once a class: inspecting a signature costs about 45 us, twice a call of ``encode``."""
    params = inspect.signature(cls).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


class ArrayCodec(Codec):
    """First stage: a chunk's uint8 element array (C-contiguous, ``spec.shape``) <-> bytes."""

    # True when encoding refuses any value wider than ``spec.bits`` with ElementRangeError (as
    # ``raw``'s packing kernels do in their one pass): writers that can take back what they wrote
    # then skip their own pass over the values.
    checks_range: ClassVar[bool] = False

    @abstractmethod
    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytes: ...

    @abstractmethod
    def decode(self, data: bytes, spec: ChunkSpec) -> np.ndarray:
        """Return a uint8 array of ``spec.shape`` with values below ``2**spec.bits``."""

    def working_bytes(self, spec: ChunkSpec) -> int:
        """Bytes of working memory beside its output that decoding a chunk like ``spec`` takes and
        that grow with the chunk's geometry (model tables of a capped size are a constant, not
        counted): a reader refuses a chunk whose figure is over its ``max_bytes``. 0 unless a codec
        says otherwise."""
        return 0

    # The container stores each chunk's spike count. Codecs that get it more cheaply than a pass
    # over the elements (``raw``: the packing kernels count as they go) override these two.
    def encode_counted(self, chunk: np.ndarray, spec: ChunkSpec) -> tuple[bytes | memoryview, int]:
        return self.encode(chunk, spec), count_spikes(chunk, spec.bits)

    def decode_into(self, data: bytes | memoryview, spec: ChunkSpec, out: np.ndarray) -> int:
        """Decode into ``out`` (uint8, ``spec.shape``, any strides); return the spike count.

        This default checks what :meth:`decode` returned - shape, dtype and that no value is
        wider than ``spec.bits`` - before copying it: decoders of untrusted bytes are not trusted.
        """
        values = self.decode(data, spec)
        if values.shape != spec.shape or values.dtype != np.uint8:
            raise FormatError(f"codec {self.codec_id!r} decoded {values.shape} {values.dtype}, expected {spec.shape} uint8", code="decoded-shape")
        if spec.bits < 8 and values.size and int(values.max()) >> spec.bits:
            raise FormatError(f"codec {self.codec_id!r} decoded a value wider than {spec.bits} bits", code="symbol-above-top")
        out[...] = values
        return count_spikes(values, spec.bits)


class DecodingIntoCodec(ArrayCodec):
    """An array codec whose decoder writes into the caller's output (:meth:`decode_into`, which
    each such codec defines); :meth:`decode` gives it a fresh array."""

    def decode(self, data: bytes, spec: ChunkSpec) -> np.ndarray:
        out = np.empty(spec.shape, np.uint8)
        self.decode_into(data, spec, out)
        return out

    @abstractmethod
    def decode_into(self, data: bytes | memoryview, spec: ChunkSpec, out: np.ndarray) -> int: ...


class BytesCodec(Codec):
    """Later stages: bytes <-> bytes."""

    @abstractmethod
    def encode(self, data: bytes) -> bytes: ...

    @abstractmethod
    def decode(self, data: bytes, max_size: int) -> bytes:
        """Inverse of encode; output longer than ``max_size`` is an error, found before allocating it."""
