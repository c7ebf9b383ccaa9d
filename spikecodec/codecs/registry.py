"""The one registry of codecs by string id, and the pipeline that chains them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from ..elements import count_spikes
from ..limits import MAX_CODECS, codec_id_problem
from .base import ArrayCodec, BytesCodec, ChunkSpec, Codec
from .raw import Raw

if TYPE_CHECKING:
    from ..prior import Prior

_REGISTRY: dict[str, type[Codec]] = {}

CodecLike = str | dict | Codec
DIRECT_MIN = 1 << 20  # elements of an 8-bit chunk from which zstd decompresses into the output


def register_codec(cls: type[Codec]) -> type[Codec]:
    """Make ``cls`` available under ``cls.codec_id`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Codec)):
        raise TypeError(f"register_codec takes a Codec subclass (ArrayCodec or BytesCodec), got {cls!r:.60}")
    problem = codec_id_problem(getattr(cls, "codec_id", None))
    if problem is not None:  # an id no header can hold stays out of the registry
        raise ValueError(f"{cls.__name__}: {problem}")
    existing = _REGISTRY.get(cls.codec_id)
    if existing is not None and existing is not cls:
        raise ValueError(f"codec id {cls.codec_id!r} is already registered to {existing.__name__}")
    _REGISTRY[cls.codec_id] = cls
    return cls


def registered_codecs() -> dict[str, type[Codec]]:
    """Every codec id known to this process (built-in and registered), with its class."""
    return dict(_REGISTRY)


def get_codec(spec: CodecLike) -> Codec:
    """A codec from an instance, an id (``"zstd"``) or a config (``{"id": "zstd", "level": 19}``)."""
    if isinstance(spec, Codec):
        return spec
    if isinstance(spec, str):
        spec = {"id": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("id"), str):
        raise ValueError(f"a codec is given as an id string or a dict with an 'id', got {spec!r}")
    params = {k: v for k, v in spec.items() if k != "id"}
    cls = _REGISTRY.get(spec["id"])
    if cls is None:
        raise ValueError(f"unknown codec id {spec['id']!r} (known: {', '.join(sorted(_REGISTRY))})")
    return cls.from_config(params)


class Pipeline:
    """One array codec followed by zero or more bytes codecs, applied to every chunk."""

    def __init__(self, codecs: Iterable[CodecLike]):
        codecs = list(codecs)
        if len(codecs) > MAX_CODECS:  # the header's rule (FORMAT.md 3.2), refused before any work, not at the write
            raise ValueError(f"{len(codecs)} codecs; a pipeline has 1..{MAX_CODECS}")
        self.codecs: list[Codec] = [get_codec(c) for c in codecs]
        if not self.codecs or not isinstance(self.codecs[0], ArrayCodec):
            raise ValueError("a codec pipeline starts with an array codec (such as 'raw')")
        for c in self.codecs[1:]:
            if not isinstance(c, BytesCodec):
                raise ValueError(f"codec {c.codec_id!r} codes arrays and can only come first in a pipeline")

    @classmethod
    def from_user(cls, codec: "CodecLike | list[CodecLike] | Pipeline") -> "Pipeline":
        """The pipeline a user means: a bytes codec alone (``"zstd"``) gets ``raw`` packing in front."""
        if isinstance(codec, Pipeline):
            return codec
        stages = list(codec) if isinstance(codec, (list, tuple)) else [codec]
        first = get_codec(stages[0]) if stages else None
        if isinstance(first, BytesCodec):
            stages = ["raw", *stages]
        return cls(stages)

    def get_config(self) -> list[dict[str, Any]]:
        return [{"id": c.codec_id, **c.get_config()} for c in self.codecs]

    @property
    def format_minor(self) -> int:
        """The lowest format minor version that defines every codec of the pipeline."""
        return max(c.minor_needed() for c in self.codecs)

    @property
    def chunk_elements(self) -> int:
        """About how many elements a default chunk holds: the array codec's choice."""
        return self.codecs[0].chunk_elements

    @property
    def chunk_samples(self) -> int:
        """The fewest samples a default chunk holds where it can: the array codec's choice."""
        return self.codecs[0].chunk_samples

    @property
    def array_codec(self) -> ArrayCodec:
        return self.codecs[0]  # type: ignore[return-value]

    def with_prior(self, prior: "Prior | None") -> "Pipeline":
        """The same pipeline with its array codec coding from ``prior`` (a trainable codec only)."""
        first = self.codecs[0]
        if not getattr(first, "trainable", False):
            stages = ",".join(c.codec_id for c in self.codecs)
            raise ValueError(f"codec {first.codec_id!r}{f' (the first stage of {stages})' if len(self.codecs) > 1 else ''} "
                             f"has no model state for a prior (trainable codecs: "
                             f"{', '.join(sorted(k for k, c in _REGISTRY.items() if c.trainable))})")
        pipeline = Pipeline([first.with_prior(prior), *self.codecs[1:]])  # type: ignore[attr-defined]
        return pipeline

    def working_bytes(self, spec: ChunkSpec) -> int:
        """What decoding a chunk like ``spec`` allocates beside its output and grows with it: the
        array codec's (:meth:`~.base.ArrayCodec.working_bytes`)."""
        return self.array_codec.working_bytes(spec)

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> tuple[bytes | memoryview, int]:
        """The chunk's payload and its spike count."""
        array_codec, *byte_codecs = self.codecs
        data, count = array_codec.encode_counted(chunk, spec)
        for c in byte_codecs:
            data = c.encode(data)
        return data, count

    def decode(self, payload: bytes | memoryview, spec: ChunkSpec, out: np.ndarray | None = None) -> tuple[np.ndarray, int]:
        """The chunk's elements and their spike count; ``out`` (uint8, ``spec.shape``), when
        given, receives the elements (the array codec writes straight into it) and is returned."""
        codecs = self.codecs
        if spec.bits == 8 and spec.size >= DIRECT_MIN and len(codecs) == 2 and isinstance(codecs[0], Raw) and hasattr(codecs[1], "decode_into"):
            # 8-bit raw elements are their packed bytes: the bytes codec (zstd) decompresses
            # straight into the output, no packed copy beside it (a read costs the output).
            # Small chunks keep the one-shot path (~1 us less; their copy is a constant).
            if out is None:
                out = np.empty(spec.shape, np.uint8)
            if out.shape == spec.shape and out.dtype == np.uint8 and out.flags.c_contiguous \
                    and codecs[1].decode_into(payload, memoryview(out.reshape(-1)), spec.max_payload):
                return out, count_spikes(out, 8)
        data = payload
        for c in codecs[:0:-1]:  # the bytes codecs, last first
            data = c.decode(data, spec.max_payload)
        if out is None:
            out = np.empty(spec.shape, np.uint8)
        elif out.shape != spec.shape or out.dtype != np.uint8:
            raise ValueError(f"output array is {out.shape} {out.dtype}, expected {spec.shape} uint8")
        return out, codecs[0].decode_into(data, spec, out)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pipeline) and self.get_config() == other.get_config()

    def __repr__(self) -> str:
        return f"Pipeline({json.dumps(self.get_config())})"
