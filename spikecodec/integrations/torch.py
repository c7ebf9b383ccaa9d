"""A ``torch.utils.data.Dataset`` over the samples of one or many spike files.

::

    from torch.utils.data import DataLoader
    from spikecodec.integrations.torch import SpikeDataset

    ds = SpikeDataset(["a.spk", "b.spk"])          # item i: the i-th sample (axis "N") of them all
    x = ds[0]                                      # uint8 tensor, e.g. (T, C, H, W)
    loader = DataLoader(ds, batch_size=64, num_workers=4)

Each file's sample count is read from its header when the dataset is made; the files are opened
again, lazily, in each process that reads items (a DataLoader worker, forked or spawned), so the
dataset pickles as its paths (made absolute when it is made). Importing this module imports
torch; ``import spikecodec`` and ``import spikecodec.integrations`` do not.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..container.reader import SpikeReader
from ..elements import DTypeOverflowError, check_fits
from ..limits import count_option
from ..prior import Prior, PriorLike, as_priors

__all__ = ["SpikeDataset"]

DEFAULT_CACHE_BYTES = 64 << 20


class SpikeDataset(Dataset):
    """The samples of spike files, in order: item ``i`` is the ``i``-th index along the sample
    axis of the files one after the other, as a tensor without that axis.

    ``files``: one path or a sequence of paths. ``axis``: the sample axis, by name (default
    ``"N"``: axis 1 of a T, N, C, H, W file, axis 0 of the edge's N, T, C, H, W streams) or by
    position (e.g. 0). ``transform``: a callable applied to each item's tensor. ``priors``: the
    prior(s) (objects, paths or bytes) files coded from a prior they do not embed need, as
    :func:`spikecodec.open`'s ``priors=`` (shipped priors and $SPIKECODEC_PRIOR_PATH are searched
    anyway). ``dtype``: the items' torch dtype, default ``torch.uint8`` (``torch.float32`` for a
    network's input). ``cache_bytes``: each process keeps the blocks of samples it decoded last
    (one chunk's worth along the sample axis), up to this many bytes, so that reading a file's
    samples in order decodes each chunk once; random order over large chunks decodes a chunk
    per item - write such files with small chunks along the sample axis (and a prior).
    """

    def __init__(self, files: str | os.PathLike | Sequence[str | os.PathLike], axis: int | str = "N",
                 transform: Callable[[torch.Tensor], Any] | None = None,
                 priors: PriorLike | Iterable[PriorLike] | None = None, *, dtype: torch.dtype | None = None,
                 cache_bytes: int = DEFAULT_CACHE_BYTES):
        if isinstance(files, (str, bytes, os.PathLike)):
            files = [files]
        elif hasattr(files, "read"):  # iterable, but by its lines: each line was taken for a path
            raise TypeError(f"SpikeDataset: files are given by path (each process opens its own), got a file object "
                            f"({type(files).__name__}): pass its path")
        try:
            files = list(files)
        except TypeError:
            raise TypeError(f"SpikeDataset: files must be a path or a sequence of paths, got {type(files).__name__}") from None
        # A path as bytes is a path (the reader would take bytes for a file's contents). Made
        # absolute: the files are opened later, lazily, in each process - after a chdir, a
        # relative path named another file there (or none), read as these files' samples.
        self.files = [os.path.abspath(os.fsdecode(_path(f))) for f in files]
        if not self.files:
            raise ValueError("SpikeDataset: no files given")
        if dtype is not None and not isinstance(dtype, torch.dtype):
            raise TypeError(f"SpikeDataset: dtype must be a torch dtype, got {dtype!r}")
        if dtype is not None and (dtype.is_complex or dtype in _NOT_NUMBERS):
            raise TypeError(f"SpikeDataset: dtype {dtype} cannot hold spike counts")
        self.cache_bytes = count_option(cache_bytes, "SpikeDataset: cache_bytes")  # as the readers' cache_bytes
        if transform is not None and not callable(transform):  # found now, not as "'int' object is not callable" at each item
            raise TypeError(f"SpikeDataset: transform must be callable (it is called with each item's tensor), "
                            f"got {type(transform).__name__}")
        self.transform = transform
        self.dtype = dtype
        # Kept as bytes and paths (a Prior object carries per-thread state that does not pickle).
        self._prior_sources = [p.data for p in as_priors(priors)] if priors is not None else []
        self.axes: list[int] = []  # the sample axis of each file
        self._axis_names: list[str] = []  # its name there
        self.counts: list[int] = []
        self.bits: list[int] = []  # each file's element bits
        self.sample_shapes: list[tuple[int, ...]] = []
        self._blocks: list[int] = []  # samples per cached block, each file
        self._opened: list[dict[str, Any]] = []  # each file as the dataset counted it (SpikeReader._same_file)
        given = self._priors()  # parsed once for every file
        for path in self.files:
            with SpikeReader(path, priors=given) as r:
                self._opened.append(r._file_as_opened())
                ax = _sample_axis(axis, r.axes, path)
                self.axes.append(ax)
                self._axis_names.append(r.axes[ax])
                self.counts.append(r.shape[ax])
                self.bits.append(r.bits)
                self.sample_shapes.append(r.shape[:ax] + r.shape[ax + 1:])
                self._blocks.append(r.chunk_shape[ax] if ax < len(r.chunk_shape) else max(r.shape[ax], 1))
        self._ends = np.cumsum(self.counts)
        self._local: dict[str, Any] | None = None  # this process's readers and cache

    def __len__(self) -> int:
        return int(self._ends[-1])

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        i = _item_index(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"SpikeDataset: index {index} out of range for {n} samples")
        f = int(np.searchsorted(self._ends, i, "right"))
        j = i - (int(self._ends[f - 1]) if f else 0)
        values = self._sample(f, j)
        item = torch.from_numpy(values)
        if self.dtype is not None:
            # As load(dtype=) checks: a count never wraps (int8), rounds (float8) or turns into
            # "any spike" (bool).
            try:
                check_fits(values, self.bits[f], exact_top(self.dtype), f"{self.dtype}", self.dtype == torch.bool)
            except DTypeOverflowError as exc:
                raise DTypeOverflowError(f"SpikeDataset: {self.files[f]}, sample {j}: {exc}") from None
            item = item.to(self.dtype)
        return self.transform(item) if self.transform is not None else item

    def _state(self) -> dict[str, Any]:
        local = self._local
        if local is None or local["pid"] != os.getpid():  # first use in this process (or a fork)
            local = self._local = {"pid": os.getpid(), "readers": {}, "cache": OrderedDict(), "bytes": 0,
                                   "lock": threading.Lock()}
        return local

    def _priors(self) -> list[Prior]:
        return as_priors(self._prior_sources) if self._prior_sources else []

    def _reader(self, local: dict[str, Any], f: int) -> SpikeReader:
        reader = local["readers"].get(f)
        if reader is None:
            if "priors" not in local:
                local["priors"] = self._priors()
            reader = SpikeReader(self.files[f], priors=local["priors"])
            self._check_unchanged(reader, f)
            local["readers"][f] = reader
        return reader

    def _check_unchanged(self, reader: SpikeReader, f: int) -> None:
        """ValueError (the reader closed) unless the file opened in this process holds the
        samples the dataset counted when it was made (or more: a file appended to): a file
        replaced in between by a shorter one, or one of other samples, read past its end - an
        IndexError deep in numpy - or gave items of another shape than the dataset's."""
        ax = self.axes[f]
        shape = tuple(reader.shape)
        now = (shape[ax], shape[:ax] + shape[ax + 1:]) if ax < len(shape) else None
        name = self.__dict__.get("_axis_names", reader.axes)[f]  # (a dataset pickled before it kept them)
        if now is None or now[0] < self.counts[f] or now[1] != self.sample_shapes[f] or reader.axes[ax] != name:
            reader.close()
            said = (f"{now[0]} samples of {now[1]}" if now is not None else f"shape {shape}")
            raise ValueError(f"SpikeDataset: {self.files[f]} changed since the dataset was made: it held "
                             f"{self.counts[f]} samples of {self.sample_shapes[f]}, now {said}; make the dataset again")
        opened = self.__dict__.get("_opened")
        if opened is not None and not reader._same_file(opened[f]):  # of the same shape, other samples
            reader.close()
            raise ValueError(f"SpikeDataset: {self.files[f]} changed since the dataset was made (its size, header, "
                             "chunks or last bytes differ): its samples are another file's; make the dataset again")

    def _sample(self, f: int, j: int) -> np.ndarray:
        local = self._state()
        with local["lock"]:
            ax, size = self.axes[f], self._blocks[f]
            lo = j // size * size
            key = (f, lo)
            block = local["cache"].get(key)
            reader = self._reader(local, f)
            if block is None:
                hi = min(lo + size, self.counts[f])
                nbytes = (hi - lo) * int(np.prod(self.sample_shapes[f], dtype=np.int64))
                if nbytes > self.cache_bytes:  # too large to keep: this sample alone
                    return reader[(slice(None),) * ax + (j,)]
                block = reader[(slice(None),) * ax + (slice(lo, hi),)]
                local["cache"][key] = block
                local["bytes"] += block.nbytes
                while local["bytes"] > self.cache_bytes:
                    _, old = local["cache"].popitem(last=False)
                    local["bytes"] -= old.nbytes
            else:
                local["cache"].move_to_end(key)
            return np.asarray(np.take(block, j - lo, axis=ax))  # a copy: the cache keeps its block (a 0-d array, not a scalar, of a 1-D one)

    def close(self) -> None:
        """Close this process's open files (they reopen on the next item)."""
        local, self._local = self._local, None
        if local is not None and local["pid"] == os.getpid():
            # Under the readers' lock, and forgotten there: a thread reading an item meanwhile
            # (a prefetching thread) raised "read from a closed spike file".
            with local["lock"]:
                readers = list(local["readers"].values())
                local["readers"].clear()
                local["cache"].clear()
                local["bytes"] = 0
                for reader in readers:
                    reader.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_local"] = None  # open files stay in the process that opened them
        return state

    def __repr__(self) -> str:
        return f"<SpikeDataset {len(self)} samples from {len(self.files)} file(s)>"


def _path(f: Any) -> str | bytes:
    if not isinstance(f, (str, bytes, os.PathLike)):
        raise TypeError(f"SpikeDataset: a file must be given as a path, got {type(f).__name__}")
    return os.fspath(f)


def _item_index(index: Any) -> int:
    """``index`` as an int: an integer (Python, numpy, or a one-element integer tensor); a bool,
    a float, a string, a slice or a list raise TypeError. ``int()`` took 2.7 as item 2 and "3" as
    item 3, and a slice failed inside ``int()``."""
    if isinstance(index, (bool, np.bool_)) or (isinstance(index, torch.Tensor) and index.dtype == torch.bool):
        raise TypeError(f"SpikeDataset: an item's index is an integer, got the bool {index!r}")
    if isinstance(index, (int, np.integer)):
        return int(index)
    if isinstance(index, torch.Tensor) and index.numel() == 1 and not index.is_floating_point() and not index.is_complex():
        return int(index.item())
    if isinstance(index, np.ndarray) and index.size == 1 and index.dtype.kind in "iu":
        return int(index.reshape(()).item())
    what = type(index).__name__
    if isinstance(index, (slice, list, tuple, range)) or (isinstance(index, (np.ndarray, torch.Tensor)) and index.ndim):
        raise TypeError(f"SpikeDataset: an item's index is one integer, got a {what}; for several items use "
                        "torch.utils.data.Subset or a DataLoader")
    raise TypeError(f"SpikeDataset: an item's index is an integer, got {what} {index!r:.40}")


def _sample_axis(axis: int | str, axes: Sequence[str], path: str) -> int:
    if isinstance(axis, str):
        if axis not in axes:
            raise ValueError(f"SpikeDataset: {path} has no axis {axis!r} (its axes: {''.join(axes) if all(len(a) == 1 for a in axes) else list(axes)}); pass axis=")
        return list(axes).index(axis)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"SpikeDataset: axis must be an axis name or an index, got {axis!r}")
    rank = len(axes)
    if not -rank <= int(axis) < rank:
        raise ValueError(f"SpikeDataset: axis {axis} is out of range for {path}, of rank {rank}")
    return int(axis) % rank


_NOT_NUMBERS = {d for d in (getattr(torch, n, None) for n in ("quint8", "qint8", "qint32", "quint4x2", "quint2x4")) if d is not None}


def exact_top(dtype: torch.dtype) -> int | None:
    """The largest n such that ``dtype`` holds every integer 0 .. n exactly (None: all of 0 .. 255)."""
    if dtype == torch.bool:
        return 1
    if dtype.is_floating_point:
        info = torch.finfo(dtype)
        mantissa = round(-np.log2(info.eps))  # fraction bits: integers up to 2**(mantissa + 1) are exact
        top = min(2 ** (mantissa + 1), int(info.max))
        return None if top >= 255 else top
    top = int(torch.iinfo(dtype).max)
    return None if top >= 255 else top
