"""``ctxmix``: several adaptive context models mixed in the logistic domain, arithmetic coded
(FORMAT.md 9.4.9; parameter ``prior``, FORMAT.md 14).

Each binary decision's probability is a learned mix of model predictions: two models keyed by
the element's position (timestep, channel, row, column) with its causal neighbours, one by
channel and step with a wider neighbourhood, one by the neuron's own spike history; counts are
coded as level decisions with two models of the neighbours' values. The position models learn
what one network at one split emits where, so they pay off across many samples - a batch, or a
*prior* trained on sample spikes, from which a single image's spikes code in about what they
cost inside a batch of thousands. The coder writes bytes and ends in at most one byte, so small
chunks carry no word padding. A payload of exactly the chunk's bit-packed size holds the packed
elements instead (when coding does not pay). Added in format version 1.3.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

from .._kernel_cache import load_kernels
from ..elements import pack
from ..errors import FormatError
from . import workspace
from ._entropy_model import canonical_shape, canonical_view, coded_or_packed, decode_packed_payload, from_canonical, to_canonical
from .base import ChunkSpec, DecodingIntoCodec
from .trainable import TrainableCodec


# How a chunk gets its states. Fresh ones (np.zeros) cost a page fault for every page the coding
# touches: about 20 ms for a chunk of 1024 elements among tens of MB of states, whatever its
# bytes, which a file of many small chunks multiplied into seconds per KB. So without a prior a
# thread keeps the zeroed states of the last geometry it coded a chunk of (:mod:`.workspace`; one
# whose states outnumber its decisions KEEP_RATIO times or more: a large chunk of a new geometry
# takes fresh ones, not kept), as it keeps a working copy of a prior's. A chunk coded on kept states either
# journals its writes and undoes them after it - when the states outnumber the journal's entries
# JOURNAL_RATIO times (entries of its significance decisions) - or leaves the states to be zeroed
# (or copied from the prior) in one pass before their next use. Measured on this machine (ctxmix
# on 8-bit, winmix on 1-bit chunks) the two ways cost the same at about 10 states an entry; the
# journal used down to 8 states a decision before took winmix 1.3-2x as long, and fresh states
# for every middling chunk took ctxmix 1.4-3x as long.
KEEP_RATIO = 8
JOURNAL_RATIO = 10


@contextlib.contextmanager
def _zeroed_kept_clean(states: np.ndarray) -> Iterator[None]:
    """A coding that did not end (its journal not undone) leaves the thread's kept zeroed states
    forgotten, never used again unclean."""
    try:
        yield
    except BaseException:
        workspace.forget_tables(states)
        raise


class ContextMixing(TrainableCodec, DecodingIntoCodec):
    """Context mixing of position, neighbourhood and history models (parameter: ``prior``)."""

    codec_id = "ctxmix"
    format_minor = 3
    #: The module of the compiled loops, loaded on first use (numba): a subclass with other
    #: models and the same interface (``mix``) names its own.
    kernels_module = "spikecodec.codecs.kernels.ctxmix"
    #: Problem codes (FORMAT.md appendix A) of a payload longer than the packed chunk, and of one
    #: that does not end as the encoder ends it: each codec's section names its own.
    too_long_code = "ctxmix-too-long"
    end_code = "ctxmix-end"
    GEOMETRY = ("bits", "T", "C", "H", "W")

    def geometry(self, spec: ChunkSpec) -> dict[str, int]:
        (T, _, C, H, W), _ = canonical_shape(spec.shape, spec.axes)
        return {"bits": spec.bits, "T": min(T, load_kernels(self.kernels_module).TPOS), "C": C, "H": H, "W": W}

    def table_layout(self, geometry: dict[str, int]) -> list[tuple[str, np.dtype, int]]:
        k = load_kernels(self.kernels_module)
        T, C, H, W, bits = (geometry[a] for a in ("T", "C", "H", "W", "bits"))
        if C * H * W > 1 << 31:  # (a T above TPOS is laid out as TPOS: FORMAT.md 14 lets it pass here, to match no chunk)
            raise ValueError(f"{self.codec_id}: geometry {geometry} describes no chunk (C H W <= 2**31)")
        return [("states", np.dtype(np.uint32), int(k.table_sizes(T, C, H, W, bits).sum())),
                ("weights", np.dtype(np.int32), k.weight_count(T, C, H, W, bits))]

    def fresh_tables(self, geometry: dict[str, int]) -> dict[str, np.ndarray]:
        k = load_kernels(self.kernels_module)
        T, C, H, W, bits = (geometry[a] for a in ("T", "C", "H", "W", "bits"))
        return {"states": np.zeros(int(k.table_sizes(T, C, H, W, bits).sum()), np.uint32),
                "weights": k.initial_weights(T, C, H, W, bits)}

    def soften(self, tables: dict[str, np.ndarray], level: int) -> dict[str, np.ndarray]:
        """Each state's count capped at 1024 / 2**level - 1: its next updates move it faster."""
        states = tables["states"]
        softened = np.bitwise_and(states, np.uint32(1023))
        np.minimum(softened, np.uint32((1024 >> level) - 1), out=softened)
        softened |= states & ~np.uint32(1023)
        return {"states": softened, "weights": tables["weights"].copy()}

    def train(self, chunk: np.ndarray, spec: ChunkSpec, tables: dict[str, np.ndarray]) -> None:
        canon = to_canonical(np.asarray(chunk, np.uint8), spec.axes, writable=True)  # its one kernel also decodes: it writes
        # Only the tables' learning is wanted: a buffer of no bytes, the coder counting past it.
        self._code_into(canon, spec, tables["states"], tables["weights"], False, np.empty(0, np.uint8))

    def _tables(self, spec: ChunkSpec) -> tuple[np.ndarray, np.ndarray, bool]:
        """(states, weights, journal) to code one chunk from: with a prior, this thread's working
        copy of its states - journalled (the chunk's writes undone after it) when the chunk is
        small next to them, else refreshed before its next use - and a copy of its weights;
        without one, this thread's kept zeroed states, journalled or zeroed again in the same
        way (KEEP_RATIO, JOURNAL_RATIO above), or fresh ones for a large chunk of another
        geometry."""
        geometry = self.check_prior_fits(spec)
        decisions = spec.size * self._decisions_per_element(spec.bits)
        if self._prior is None:
            key = (self.codec_id, tuple(geometry.items()))
            slot = workspace.kept_tables(key)
            if slot is None:
                fresh = self.fresh_tables(geometry)
                if decisions * KEEP_RATIO >= fresh["states"].size:  # a large chunk: its own states, not kept
                    return fresh["states"], fresh["weights"], False
                slot = workspace.keep_tables(key, lambda: fresh)
            states = slot.tables["states"]
            if slot.dirty:
                states.fill(0)
            journal = self._journal_entries(spec) * JOURNAL_RATIO < states.size
            slot.dirty = not journal
            return states, slot.tables["weights"].copy(), journal
        work = self._prior.working_tables()
        states = work.clean()["states"]
        journal = self._journal_entries(spec) * JOURNAL_RATIO < states.size
        if not journal:
            work.dirty = True
        return states, self._prior.tables["weights"].copy(), journal

    def _code_into(self, canon: np.ndarray, spec: ChunkSpec, states: np.ndarray, weights: np.ndarray, journal: bool,
                   out: np.ndarray) -> int:
        """Code ``canon`` (writable: to_canonical's writable=True) into ``out``; its byte count."""
        with _zeroed_kept_clean(states):
            return int(load_kernels(self.kernels_module).encode(canon, spec.bits, states, weights, out, journal))

    def encode(self, chunk: np.ndarray, spec: ChunkSpec) -> bytes:
        if spec.packed_nbytes == 0:  # no elements: the empty payload, as the kernel ends it (it still
            return b""               # walked the other axes: a chunk of shape (2, 2**40, 0) never ended)
        if self._prior is not None and self._prior.geometry != self.geometry(spec):
            # A chunk its prior was not made for (a short last row, a row flushed early, an edge
            # chunk): its packed elements, which start no model (FORMAT.md 9.4.9, 13
            # packed_last_row). A writer refuses a prior that fits none of a file's full chunks.
            return pack(chunk, spec.bits)
        canon = to_canonical(np.asarray(chunk, np.uint8), spec.axes, writable=True)  # its one kernel also decodes: it writes
        states, weights, journal = self._tables(spec)
        return coded_or_packed(chunk, spec, lambda out: self._code_into(canon, spec, states, weights, journal, out))

    def decode_into(self, data: bytes | memoryview, spec: ChunkSpec, out: np.ndarray) -> int:
        count = decode_packed_payload(data, spec, out, self.codec_id, self.too_long_code)
        if count is not None:  # the packed elements (FORMAT.md 9.4.9)
            return count
        states, weights, journal = self._tables(spec)
        view = canonical_view(out, spec.axes)  # decode in place when the output allows it
        canon = view if view is not None and view.flags.c_contiguous else np.empty(canonical_shape(spec.shape, spec.axes)[0], np.uint8)
        with _zeroed_kept_clean(states):
            status = load_kernels(self.kernels_module).decode_into(np.frombuffer(data, np.uint8), canon, spec.bits, states, weights, journal)
        if status == 2:
            raise FormatError(f"{self.codec_id}: decoded a value that does not fit {spec.bits}-bit elements", code="symbol-above-top")
        if status:
            raise FormatError(f"{self.codec_id}: corrupt payload (its length or last byte is not what the decoded values code to)",
                              code=self.end_code)
        if canon is not view:
            out[...] = from_canonical(canon, spec.shape, spec.axes)
        return int(np.count_nonzero(canon)) if spec.bits == 1 else int(canon.sum(dtype=np.uint64))

    def _journal_entries(self, spec: ChunkSpec) -> int:
        """The journal entries of a chunk's significance decisions: one a model and element (its
        magnitude decisions, as many as its nonzero elements need, add fewer on spikes)."""
        return spec.size * load_kernels(self.kernels_module).SIG_MODELS

    @staticmethod
    def _decisions_per_element(bits: int) -> int:
        return 1 if bits == 1 else 3 + bits
