"""Statistics of a spike file: firing rates, sizes and compression (what ``spikecodec inspect`` shows).

Rates are computed chunk by chunk, so a file of any size is summarised in the memory of one chunk.
For 1-bit spikes a rate is the fraction of ones; for 2/4/8-bit spike counts it is the mean count
per element. Imports numpy only (no torch, no matplotlib).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from .container.reader import SpikeReader
from .elements import packed_nbytes


@dataclass
class Rates:
    """Firing rates of a whole file, overall and along its time and channel axes."""

    elements: int
    spikes: int
    overall: float
    time_axis: int | None  # axis the per-timestep rates run along (named T, else axis 0)
    per_timestep: list[float] = field(default_factory=list)
    channel_axis: int | None = None  # axis named C, when there is one
    per_channel: list[float] = field(default_factory=list)
    per_chunk: list[int] = field(default_factory=list)  # spikes of each chunk, in file order
    time_bin: int = 1  # indices of the time axis that each per_timestep value averages (see MAX_RATES)
    channel_bin: int = 1


MAX_RATES = 4096  # values of per_timestep or per_channel at most: a longer axis is averaged in bins of
# consecutive indices (the rates of an axis of 2**24 timesteps, one value each, took 1 GB to report)


def _find_axis(axes: tuple[str, ...], name: str) -> int | None:
    for i, a in enumerate(axes):
        if a.upper() == name:
            return i
    return None


SUM_BLOCK = 1 << 16  # indices of an axis whose sums firing_rates holds at once


def firing_rates(reader: SpikeReader, progress: Callable[[int], Any] | None = None) -> Rates:
    """Decode every chunk once (checking it) and accumulate spike sums per timestep and channel.

    ``progress(n)`` is called with the number of elements of each chunk as it is done.
    """
    shape = reader.shape
    axes = reader.axes
    t_axis = _find_axis(axes, "T")
    if t_axis is None and len(shape) > 0:
        t_axis = 0
    c_axis = _find_axis(axes, "C")
    elements = math.prod(shape)
    bins = {a: -(-shape[a] // MAX_RATES) for a in {t_axis, c_axis} if a is not None and elements}
    sums = {a: np.zeros(-(-shape[a] // b), np.float64) for a, b in bins.items()}
    total = 0
    per_chunk = []
    # Every chunk is decoded: they count together, and a file over the cap is refused before any work.
    reader.limits.check_bytes(reader.size, "the whole file")
    for i in range(len(reader.entries)):
        values = reader.read_chunk(i)
        origin = reader.chunk_origin(i)
        per_chunk.append(int(values.sum(dtype=np.uint64)))
        total += per_chunk[-1]
        for a, acc in sums.items():
            start = origin[a] if a < len(origin) else 0
            others = tuple(j for j in range(values.ndim) if j != a)
            # In blocks of the axis: its sums are 8 bytes an index, and a chunk of 2**28 channels
            # took 4.6 GB beside its 256 MB for them and their bins' indices.
            for lo in range(0, values.shape[a], SUM_BLOCK):
                part = values[(slice(None),) * a + (slice(lo, lo + SUM_BLOCK),)]
                along = part.sum(axis=others, dtype=np.uint64)
                if bins[a] == 1:  # one value an index: a slice (np.add.at made inspect --stats of many chunks 40% slower)
                    acc[start + lo : start + lo + along.size] += along
                else:
                    np.add.at(acc, (start + lo + np.arange(along.size)) // bins[a], along)
        if progress is not None:
            progress(values.size)
        del values  # before the next chunk is decoded: one chunk held at a time

    def per(a: int | None) -> list[float]:
        if a is None or elements == 0:
            return []
        indices = np.minimum(bins[a], shape[a] - np.arange(sums[a].size) * bins[a])  # the last bin may be short
        return (sums[a] / (indices * (elements // shape[a]))).tolist()

    return Rates(
        elements=elements,
        spikes=total,
        overall=total / elements if elements else 0.0,
        time_axis=t_axis,
        per_timestep=per(t_axis),
        channel_axis=c_axis,
        per_channel=per(c_axis),
        per_chunk=per_chunk,
        time_bin=bins.get(t_axis, 1) if t_axis is not None else 1,
        channel_bin=bins.get(c_axis, 1) if c_axis is not None else 1,
    )


def sizes(shape: tuple[int, ...], bits: int, file_size: int) -> dict[str, Any]:
    """The file's size against the plain representations of the same array.

    ``vs_X`` is how many times smaller the file is than representation X (above 1 is a gain).
    ``bitpacked`` packs at the file's element width (equal to ``packed_1bit`` for 1-bit spikes).
    """
    n = math.prod(shape)
    ref = {
        "packed_1bit": packed_nbytes(n, 1),
        "bitpacked": packed_nbytes(n, bits),
        "uint8": n,
        "float32": 4 * n,
    }
    out: dict[str, Any] = {
        "elements": n,
        "file_bytes": file_size,
        "bits_per_element": 8 * file_size / n if n else None,
    }
    for name, nbytes in ref.items():
        out[f"{name}_bytes"] = nbytes
        out[f"vs_{name}"] = nbytes / file_size if file_size else None
    return out


def indexed_spikes(reader: SpikeReader) -> int | None:
    """The file's spike count as its index states it (None for compact records: they do not)."""
    total = 0
    for e in reader.entries:
        if e.spike_count is None:
            return None
        total += e.spike_count
    return total


def chunk_table(reader: SpikeReader, spikes: list[int] | None = None, chunks: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """One row per chunk (``chunks``, default all) in file order: where it starts, its size,
    extent and spike count (as the index states it, else from ``spikes``, counted by decoding:
    compact records state none)."""
    rows = []
    for i in range(len(reader.entries)) if chunks is None else chunks:
        e = reader.entries[i]
        spec = reader.chunk_spec(i)
        rows.append(
            {
                "chunk": i,
                "origin": list(reader.chunk_origin(i)),
                "shape": list(spec.shape),
                "offset": e.offset,
                "bytes": e.size,
                "spikes": e.spike_count if e.spike_count is not None else (spikes[i] if spikes else None),
            }
        )
    return rows


def raster(reader: SpikeReader, max_neurons: int = 256, max_steps: int = MAX_RATES) -> tuple[np.ndarray, str]:
    """A (neurons x time) slice for a spike raster, and a label saying what was sampled.

    Time is axis 0, its first ``max_steps`` shown. With an N (sample) axis at position 1 only
    sample 0 is shown; the remaining axes are flattened into neurons, of which at most
    ``max_neurons`` evenly spaced are kept.
    """
    steps = min(reader.shape[0], max_steps) if reader.ndim else 0
    first = f"timesteps 0..{steps - 1} of {reader.shape[0]}, " if reader.ndim and steps < reader.shape[0] else ""
    if reader.ndim == 1:
        return reader[:steps].reshape(1, -1), first + "the only neuron"
    n_axis = _find_axis(reader.axes, "N")
    label = first
    if n_axis == 1 and reader.ndim >= 3 and reader.shape[1] > 0:
        values = reader[:steps, 0]
        label += "sample 0, "
    else:
        values = reader[:steps]
    flat = values.reshape(values.shape[0], math.prod(values.shape[1:]))  # (-1 cannot be inferred for 0 elements)
    m = flat.shape[1]
    step = max(1, math.ceil(m / max_neurons))
    picked = flat[:, ::step]
    label += f"{picked.shape[1]} of {m} neurons" + (f" (1 in {step})" if step > 1 else "")
    return np.ascontiguousarray(picked.T), label
