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
from .mix import PixelMixing
from .winmix import WindowMixing
from .countmix import CountMixing
from .chanmix import ChannelMixing
from .framemix import FrameMixing
from .ctxfast import FastContext
from .neuronmix import NeuronMixing
from .trainable import TrainableCodec

# What save/encode/SpikeWriter and the command line use unless told otherwise: context mixing
# with window models and per-channel weight sets, under paq9a and zpaq on spikes of networks it
# was not tuned on (benchmarks/results/peers.md), with models of the neighbours' values for
# counts, of the previous sample and of a neuron's long history: one codec for both (format
# 1.12; benchmarks/results/stress.md). ``ctxfast`` is the fast choice; ``chanmix``, ``winmix``
# and ``countmix``, the defaults before, write files that readers of 1.11, 1.5 and 1.10 read.
DEFAULT_CODEC = "framemix"
DEFAULT_COUNTS_CODEC = "framemix"


def default_codec(bits: int) -> str:
    """The default codec for elements of ``bits`` bits: ``framemix`` for spikes and counts."""
    return DEFAULT_CODEC if bits == 1 else DEFAULT_COUNTS_CODEC

register_codec(Raw)
register_codec(Zstd)
register_codec(Order0)
register_codec(Context)
register_codec(Auto)
register_codec(CountContext)
register_codec(ContextLanes)
register_codec(ContextMixing)
register_codec(PixelMixing)
register_codec(WindowMixing)
register_codec(CountMixing)
register_codec(ChannelMixing)
register_codec(FrameMixing)
register_codec(FastContext)
register_codec(NeuronMixing)

__all__ = [
    "DEFAULT_CODEC",
    "DEFAULT_COUNTS_CODEC",
    "ArrayCodec",
    "BytesCodec",
    "ChannelMixing",
    "ChunkSpec",
    "Codec",
    "CountMixing",
    "FrameMixing",
    "NeuronMixing",
    "Pipeline",
    "PixelMixing",
    "Raw",
    "TrainableCodec",
    "WindowMixing",
    "Zstd",
    "default_codec",
    "get_codec",
    "register_codec",
    "registered_codecs",
]


def warm_up() -> None:
    """Compile (and cache) every compiled kernel the codecs use, so that a first command after
    installing runs at full speed instead of waiting for numba: each registered array codec
    codes a small chunk of each element type, from zero and from a prior; decoders whose output
    has no canonical view transpose in place (the kernel is compiled here too)."""
    import numpy as np

    from .._kernel_cache import load_kernels
    from ..prior import Prior
    from ..training import train_prior

    load_kernels("spikecodec.codecs.kernels.transpose").transpose_in_place(np.arange(6, dtype=np.uint8), (2, 3), (1, 0))

    rng = np.random.default_rng(0)
    for bits in (1, 2, 4, 8):
        shape = (3, 2, 4, 5, 5)
        x = np.where(rng.random(shape) < 0.3, rng.integers(1, 1 << bits, shape), 0).astype(np.uint8)
        spec = ChunkSpec(shape, ("T", "N", "C", "H", "W"), bits)
        for codec_id, cls in registered_codecs().items():
            codec = get_codec(codec_id)
            if not isinstance(codec, ArrayCodec):
                continue
            codec.decode(codec.encode(x, spec), spec)
            if cls.trainable:
                prior: Prior = train_prior([x], codec_id, bits=bits)
                primed = codec.with_prior(prior)
                primed.decode(primed.encode(x, spec), spec)
