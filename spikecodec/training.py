"""Training priors: a trainable codec's model run over sample chunks without resetting.

A prior (FORMAT.md 14) is what an adaptive codec has learned after coding sample spikes of one
network at one split, kept as the initial state of every later chunk. Training is coding: each
sample chunk is run through the codec's model in file order, carrying the tables from one chunk
to the next, so a prior trained on files written like the ones it will code (the same axes,
chunking and element type) starts each chunk exactly where that stream's statistics lead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Iterable, Iterator

import numpy as np

from .codecs import ChunkSpec, get_codec
from .codecs.registry import CodecLike, registered_codecs
from .container.reader import SpikeReader
from .container.source import IN_MEMORY
from .container.writer import array_chunks
from .elements import as_elements, to_numpy
from .errors import FormatError
from .limits import ReadLimits
from .prior import Prior, PriorLike

Sample = Any  # an array (numpy or torch), a spike file (its path, bytes or binary file object), or an iterable of those


def sample_chunks(samples: Sample, *, axes: Any = None, chunk: Any = None, bits: int | None = None,
                  priors: Iterable[PriorLike] | None = None, limits: ReadLimits | None = None
                  ) -> Iterator[tuple[np.ndarray, ChunkSpec]]:
    """Each sample's chunks with their specs, in order: a spike file's as stored, an array's as
    :func:`spikecodec.encode` would cut it (``axes``, ``chunk``, ``bits`` as there)."""
    if isinstance(samples, (str, os.PathLike, *IN_MEMORY)) or hasattr(samples, "read"):  # a spike file: path, bytes, file object
        with SpikeReader(samples, priors=priors, limits=limits) as r:
            for i in range(len(r.entries)):
                try:
                    chunk = r.read_chunk(i), r.chunk_spec(i)
                except FormatError as exc:  # which file, among the samples
                    raise exc if exc.where else exc.located(r.name) from None
                yield chunk
        return
    if hasattr(samples, "shape") or hasattr(samples, "__array__"):
        values, b = as_elements(to_numpy(samples), bits)
        if values.ndim == 0:
            raise ValueError("a sample array needs at least one axis")
        yield from array_chunks(values, b, axes, chunk)
        return
    if isinstance(samples, Mapping) or not isinstance(samples, Iterable):
        raise TypeError("samples are spike arrays, spike files (paths or their bytes) or an iterable of them, "
                        f"got {type(samples).__name__}")
    for index, sample in enumerate(samples):
        try:
            yield from sample_chunks(sample, axes=axes, chunk=chunk, bits=bits, priors=priors, limits=limits)
        except FormatError:
            raise  # names its file
        except ValueError as exc:  # an array's fault (a value that does not fit): say which sample
            if isinstance(exc, SampleError):
                raise
            raise SampleError(index, f"sample {index}: {exc}") from None


class SampleError(ValueError):
    """A sample of several that cannot be trained on; ``index`` says which (0-based)."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


HOLDOUT_EVERY = 10  # every 10th sample chunk is held out to choose how hard the prior is ...
HOLDOUT_BYTES = 64 << 20  # ... while the held-out chunks fit in this much memory


def trainable_codec(codec: Any) -> Any:
    """The codec ``codec`` names, when it has a model state to train; ValueError otherwise."""
    trainer = get_codec(codec)
    if not trainer.trainable:
        trainable = ", ".join(sorted(k for k, c in registered_codecs().items() if c.trainable))
        raise ValueError(f"codec {trainer.codec_id!r} has no model state to train (trainable: {trainable})")
    return trainer


def train_prior(samples: Sample, codec: CodecLike = "ctxmix", *, axes: Any = None, chunk: Any = None,
                bits: int | None = None, info: dict[str, Any] | None = None,
                priors: Iterable[PriorLike] | None = None, limits: ReadLimits | None = None) -> Prior:
    """Train a prior for ``codec`` on ``samples`` (see :func:`sample_chunks`).

    Every sample chunk must have the same geometry (the numbers the codec sizes its tables by,
    e.g. element bits and channels): a prior serves chunks of one geometry. ``info`` is stored
    with it (model, split, what it was trained on).

    Every tenth chunk is held out: the model is trained on the others, then its state is
    softened by each level the codec offers (:meth:`~.codecs.trainable.TrainableCodec.soften`)
    and the level that codes the held-out chunks in the fewest bytes is kept (``info``
    records the level and those bytes; the level past the last is the fresh state, for samples
    that teach nothing that helps). With fewer than ten chunks nothing is held out.

    >>> prior = spikecodec.train_prior("train-spikes.spk")          # chunks as the file holds them
    >>> spikecodec.save("feats.spk", spikes, codec="ctxmix", prior=prior)
    """
    if info is not None and not isinstance(info, Mapping):  # refused before the training, not after it
        raise TypeError(f"info is a dict stored with the prior, got {type(info).__name__}")
    trainer = trainable_codec(codec)
    if info is not None:
        # The prior's own check of what it stores (JSON, string keys, depth, size), run on a
        # one-entry stand-in now: a set or NaN in info was refused only after the whole training.
        info = dict(info)
        Prior(trainer.codec_id, {}, {"info": np.zeros(1, np.uint32)}, info)
    tables: dict[str, np.ndarray] | None = None
    geometry: dict[str, int] | None = None
    chunks = elements = 0
    held: list[tuple[np.ndarray, ChunkSpec]] = []
    held_bytes = 0
    for values, spec in sample_chunks(samples, axes=axes, chunk=chunk, bits=bits, priors=priors, limits=limits):
        g = trainer.geometry(spec)  # type: ignore[attr-defined]
        if tables is None:
            geometry, tables = g, trainer.fresh_tables(g)  # type: ignore[attr-defined]
        elif g != geometry:
            raise ValueError(f"sample chunk {chunks} has geometry {g}, the first had {geometry}: a prior serves one geometry")
        chunks += 1
        elements += values.size
        if chunks % HOLDOUT_EVERY == 0 and held_bytes + values.nbytes <= HOLDOUT_BYTES:
            held.append((values, spec))
            held_bytes += values.nbytes
            continue
        trainer.train(values, spec, tables)  # type: ignore[attr-defined]
    if tables is None or geometry is None:
        raise ValueError("no sample chunks to train on")
    if not elements:  # a prior of fresh tables would pass for a trained one
        raise ValueError(f"the {chunks} sample chunks hold no element: nothing to train on")
    details: dict[str, Any] = {"chunks": chunks, "held_out": len(held)}
    if held:
        level, costs = _choose_softening(trainer, geometry, tables, held)
        if level > trainer.SOFTEN_LEVELS:  # the samples teach nothing that helps: start from zero
            tables = trainer.fresh_tables(geometry)  # type: ignore[attr-defined]
        else:
            tables = trainer.soften(tables, level)  # type: ignore[attr-defined]
        details.update(soften=level, held_out_bytes=costs)
    return Prior(trainer.codec_id, geometry, tables, {**details, **(info or {})})


def _choose_softening(trainer: Any, geometry: dict[str, int], tables: dict[str, np.ndarray],
                      held: list[tuple[np.ndarray, ChunkSpec]]) -> tuple[int, list[int]]:
    """The softening level whose prior codes the held-out chunks in the fewest bytes, and the
    bytes each level took (ties go to the harder prior); the level after the codec's last
    stands for no evidence at all (the codec's fresh tables)."""
    costs = []
    for level in range(trainer.SOFTEN_LEVELS + 2):
        candidate = trainer.soften(tables, level) if level <= trainer.SOFTEN_LEVELS else trainer.fresh_tables(geometry)
        codec = trainer.trial(Prior(trainer.codec_id, geometry, candidate))
        costs.append(sum(len(codec.encode(values, spec)) for values, spec in held))
    return int(np.argmin(costs)), costs
