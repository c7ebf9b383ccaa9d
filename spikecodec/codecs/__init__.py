"""Codecs, looked up by string id in one registry (see :mod:`.registry`)."""

from .base import ArrayCodec, BytesCodec, ChunkSpec, Codec
from .raw import Raw
from .registry import Pipeline, get_codec, register_codec, registered_codecs
from .zstd import Zstd
from .order0 import Order0
from .context import Context
from .auto import Auto
from .countctx import CountContext
from .ctxlanes import ContextLanes
from .ctxmix import ContextMixing
from .trainable import TrainableCodec

# What save/encode/SpikeWriter and the command line use unless told otherwise: the smallest of
# raw, order0 and context per chunk.
DEFAULT_CODEC = "auto"

register_codec(Raw)
register_codec(Zstd)
register_codec(Order0)
register_codec(Context)
register_codec(Auto)
register_codec(CountContext)
register_codec(ContextLanes)
register_codec(ContextMixing)

__all__ = [
    "DEFAULT_CODEC",
    "ArrayCodec",
    "BytesCodec",
    "ChunkSpec",
    "Codec",
    "Pipeline",
    "Raw",
    "TrainableCodec",
    "Zstd",
    "get_codec",
    "register_codec",
    "registered_codecs",
]
