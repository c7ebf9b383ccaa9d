"""Codecs, looked up by string id in one registry (see :mod:`.registry`)."""

from .base import ArrayCodec, BytesCodec, ChunkSpec, Codec
from .raw import Raw
from .registry import Pipeline, get_codec, register_codec, registered_codecs
from .zstd import Zstd

register_codec(Raw)
register_codec(Zstd)

__all__ = [
    "ArrayCodec",
    "BytesCodec",
    "ChunkSpec",
    "Codec",
    "Pipeline",
    "Raw",
    "Zstd",
    "get_codec",
    "register_codec",
    "registered_codecs",
]
