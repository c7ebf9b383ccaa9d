"""Adaptive codecs whose initial model state a prior can set (FORMAT.md 14).

Every adaptive codec keeps its model state in a few integer tables, sized by the chunk's
*geometry* (element bits, channels, ... - each codec says which numbers), and starts each chunk
from them: all zero, or the tables of a prior. One mechanism serves them all:

* ``prior`` is the codec's one optional parameter: the prior's digest (FORMAT.md 14), stored
  in the file with the codec; :meth:`TrainableCodec.with_prior` binds the prior itself;
* :meth:`TrainableCodec.fresh_tables` gives a geometry's zero state and
  :meth:`TrainableCodec.train` runs the model over a chunk, carrying the tables on: training a
  prior is coding sample chunks one after the other without resetting (spikecodec/training.py);
* each chunk is coded from :meth:`TrainableCodec.start_tables` - fresh ones, or a copy of the
  prior's (this thread's working copy, see :class:`~spikecodec.prior.WorkingTables`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import FormatError
from ..prior import Prior, describe_geometry, is_digest
from . import workspace
from .base import ArrayCodec, ChunkSpec

PRIOR_MINOR = 3  # the format minor version that defines the ``prior`` parameter


MAX_GEOMETRY = 1 << 31  # no count in a geometry exceeds a chunk's elements


def aligned_zeros(count: int, dtype: np.dtype) -> np.ndarray:
    """``np.zeros(count, dtype)`` starting on a 64-byte boundary (numpy's large arrays start 16
    bytes into a page). The context models keep a context's 16 spatial variants in 64 bytes,
    which are then one cache line, not two. Pages stay zeroed lazily, as numpy's."""
    size = count * np.dtype(dtype).itemsize
    buf = np.zeros(size + 64, np.uint8)
    off = -buf.ctypes.data % 64
    return buf[off:off + size].view(dtype)


def check_geometry(codec_id: str, geometry: dict[str, int], keys: tuple[str, ...]) -> None:
    """Raise ValueError unless ``geometry`` has exactly ``keys``, element bits of the format and
    counts of 1 .. 2**31 (a chunk's most elements) - before any size is computed from them."""
    if tuple(sorted(geometry)) != tuple(sorted(keys)):
        raise ValueError(f"{codec_id}: a prior's geometry names {sorted(geometry)}, this codec's {sorted(keys)}")
    for k, v in geometry.items():
        if type(v) is not int or not (v in (1, 2, 4, 8) if k == "bits" else 1 <= v <= MAX_GEOMETRY):
            raise ValueError(f"{codec_id}: geometry {k}={v!r} is out of range")


class TrainableCodec(ArrayCodec):
    """An adaptive array codec with model tables a prior can initialise."""

    trainable: ClassVar[bool] = True
    #: The numbers that size the tables: the keys of :meth:`geometry`.
    GEOMETRY: ClassVar[tuple[str, ...]] = ("bits", "C")

    def __init__(self, prior: str | None = None):
        if prior is not None and not is_digest(prior):
            raise ValueError(f"codec {self.codec_id!r}: prior must be a digest of 64 lowercase hex digits, got {prior!r}")
        self.prior_id = prior
        self._prior: Prior | None = None
        self._fits: dict[ChunkSpec, dict[str, int]] = {}  # geometries of specs already checked

    def get_config(self) -> dict[str, Any]:
        return {"prior": self.prior_id} if self.prior_id else {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "TrainableCodec":
        # FORMAT.md 14: the parameter is a digest or absent; JSON null is neither (None is the
        # constructor's "no prior", which a config says by leaving the key out).
        if "prior" in config and config["prior"] is None:
            raise ValueError(f"codec {cls.codec_id!r}: prior is null (a config without a prior leaves the key out)")
        return super().from_config(config)  # type: ignore[return-value]

    def minor_needed(self) -> int:
        return max(self.format_minor, PRIOR_MINOR if self.prior_id else 0)

    # -- the prior ---------------------------------------------------------------------------
    @property
    def prior(self) -> Prior | None:
        """The bound prior (None without one, or while only its digest is known)."""
        return self._prior

    def with_prior(self, prior: Prior | None) -> "TrainableCodec":
        """This codec coding from ``prior`` (None: from zero). A prior of another codec raises
        ``ValueError``; its geometry is checked against each chunk."""
        if prior is not None:
            if self.prior_id and prior.digest != self.prior_id:  # two priors asked for: neither wins silently
                raise ValueError(f"codec {self.codec_id!r} names prior {self.prior_id[:12]}, but prior {prior.digest[:12]} "
                                 "was given: give one")
            self.check_tables(prior)
        codec = type(self)(prior.digest if prior is not None else None)
        codec._prior = prior
        return codec

    def trial(self, prior: Prior) -> "TrainableCodec":
        """This codec coding from ``prior`` without naming it: its payloads are those of
        :meth:`with_prior`, its configuration names no prior. For measuring bytes only (the
        softening trials of ``train_prior``), it spares the prior's digest (zstd-19 of its
        tables: about 1 s for 40 MB)."""
        self.check_tables(prior)
        codec = type(self)(None)
        codec._prior = prior
        return codec

    # -- what each codec defines ---------------------------------------------------------------
    def geometry(self, spec: ChunkSpec) -> dict[str, int]:
        """The numbers that size this codec's tables for chunks like ``spec``."""
        raise NotImplementedError

    def table_layout(self, geometry: dict[str, int]) -> list[tuple[str, np.dtype, int]]:
        """(name, type, entries) of each of the model's tables for ``geometry``, in order."""
        raise NotImplementedError

    def fresh_tables(self, geometry: dict[str, int]) -> dict[str, np.ndarray]:
        """The model's tables before any decision, for ``geometry`` (all zero unless a codec
        says otherwise)."""
        return {name: aligned_zeros(n, dtype) for name, dtype, n in self.table_layout(geometry)}

    def chunk_tables(self, geometry: dict[str, int], elements: int) -> dict[str, np.ndarray]:
        """Zero tables for coding one chunk of ``elements``, which the caller may change and must
        not keep past the chunk. A chunk with fewer elements than its tables have entries gets
        :meth:`fresh_tables`: their pages are zeroed as the model first touches them, and a small
        chunk touches few. A larger chunk touches most of them, and a first touch costs a page
        fault (about 1-5 ms for 8 MB, measured: up to 1 ns an element of an 8M chunk), so it gets
        this thread's tables of its last such chunk (:mod:`.workspace`), filled with zeros again
        (warm: about 0.3 ms).
        For codecs whose fresh tables are all zero (that keep :meth:`fresh_tables`)."""
        if type(self).fresh_tables is not TrainableCodec.fresh_tables:
            raise TypeError(f"{self.codec_id}: chunk_tables refills with zeros; this codec's fresh tables are not all zero")
        layout = self.table_layout(geometry)
        if elements < sum(n for _, _, n in layout):
            return self.fresh_tables(geometry)
        key = (type(self), tuple((name, np.dtype(dtype).str, n) for name, dtype, n in layout))
        slot = workspace.kept_tables(key) or workspace.keep_tables(key, lambda: self.fresh_tables(geometry))
        if slot.dirty:
            for table in slot.tables.values():
                table.fill(0)
        slot.dirty = True  # the caller changes them
        return slot.tables

    def train(self, chunk: np.ndarray, spec: ChunkSpec, tables: dict[str, np.ndarray]) -> None:
        """Run the model over ``chunk`` as the encoder would, updating ``tables`` in place."""
        raise NotImplementedError

    #: How far :meth:`soften` goes: training tries levels 0 .. SOFTEN_LEVELS.
    SOFTEN_LEVELS: ClassVar[int] = 6

    def soften(self, tables: dict[str, np.ndarray], level: int) -> dict[str, np.ndarray]:
        """The tables with their evidence weighed down ``level`` times (level 0: unchanged): a
        softer prior adapts sooner to a chunk unlike the samples, a harder one predicts a chunk
        like them from its first decision. Training picks the level on held-out samples."""
        raise NotImplementedError

    # -- shared --------------------------------------------------------------------------------
    def check_prior_fits(self, spec: ChunkSpec) -> dict[str, int]:
        """The chunk's geometry; a bound prior made for another raises FormatError."""
        known = self._fits.get(spec)
        if known is not None:  # a stream's chunks mostly share a few specs: check each once
            return known
        geometry = self.geometry(spec)
        prior = self._prior
        if self.prior_id and prior is None:
            raise FormatError(f"{self.codec_id}: needs prior {self.prior_id}, which was not given", code="prior-missing")
        if prior is not None and prior.geometry != geometry:
            raise FormatError(f"{self.codec_id}: prior {prior.digest[:12]} was trained for chunks with "
                              f"{describe_geometry(prior.geometry)}; this chunk has {describe_geometry(geometry)}", code="prior-mismatch")
        if len(self._fits) < 64:
            self._fits[spec] = geometry
        return geometry

    def start_tables(self, spec: ChunkSpec) -> dict[str, np.ndarray]:
        """Tables to code one chunk from, the caller's to change: fresh, or a copy of the prior's."""
        geometry = self.check_prior_fits(spec)
        if self._prior is None:
            return self.fresh_tables(geometry)
        return {k: v.copy() for k, v in self._prior.tables.items()}

    def check_values(self, tables: dict[str, np.ndarray]) -> None:
        """Raise ValueError for a table value the model can never reach (a codec whose every
        value is a valid state checks nothing)."""

    def check_tables(self, prior: Prior) -> None:
        """Raise ValueError unless ``prior`` is this codec's and its tables are laid out as
        :meth:`fresh_tables` makes them for its geometry (names, order, types, sizes) and hold only
        reachable values: a prior's tables are indexed without bounds checks by the compiled loops."""
        if any(v.ndim != 1 for v in prior.tables.values()):
            raise ValueError(f"{self.codec_id}: prior tables must be 1-D")
        self.check_layout(prior.codec, prior.geometry, [(k, v.dtype, v.size) for k, v in prior.tables.items()])
        self.check_values(prior.tables)

    def check_layout(self, codec: str, geometry: dict[str, int], layout: list[tuple[str, np.dtype, int]]) -> None:
        """Raise ValueError unless a prior of ``codec`` for ``geometry`` with tables ``layout``
        ((name, type, entries) each) can serve this codec: what :func:`~spikecodec.prior.parse_prior`
        asks before it decompresses a prior's tables."""
        if codec != self.codec_id:
            raise ValueError(f"a prior of codec {codec!r} cannot serve codec {self.codec_id!r} "
                             f"(code with codec {codec!r}, or train a prior for {self.codec_id!r})")
        check_geometry(self.codec_id, geometry, self.GEOMETRY)
        want = [(k, np.dtype(t).str, (n,)) for k, t, n in self.table_layout(geometry)]
        got = [(k, np.dtype(t).str, (n,)) for k, t, n in layout]
        if got != want:
            raise ValueError(f"{self.codec_id}: prior tables {got} do not fit geometry {geometry} (want {want})")
