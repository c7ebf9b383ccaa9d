"""Writing a decoded array (``spikecodec decode``): .npy, .npz, .pt, .h5 or ``-``, through
:mod:`spikecodec.output` like every output."""

from __future__ import annotations

import io
import json
from typing import Any, Sequence

import numpy as np

from ..atomic import output_file, written_through
from .checks import DATASET, OUTPUT_FORMATS, file_format


def array_format(path: str) -> str | None:
    """The format of an array output by its extension (None if none); ``-`` (stdout) is .npy, and
    so is a device or FIFO that no extension names (``-o /dev/null``, a named pipe), written through."""
    fmt = file_format(path)
    return "npy" if fmt is None and written_through(path) else fmt


def output_format(path: str) -> str:
    """The format of a decode output (:func:`array_format`); an unknown one is a ValueError."""
    fmt = array_format(path)
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format (expected .{', .'.join(OUTPUT_FORMATS)}, or - for .npy on stdout)")
    return fmt


def write_array(path: str, array: np.ndarray, axes: tuple[str, ...], metadata: dict[str, Any], bits: int,
                inputs: Sequence[str] = ()) -> None:
    """Write a decoded array where :mod:`spikecodec.output` puts every output: ``-`` is .npy on
    stdout, a device or FIFO is written through, a file (or a symbolic link's target) is replaced
    atomically; ``inputs`` are files the output must not be."""
    fmt = output_format(path)
    with output_file(path, inputs) as f:
        if fmt in ("h5", "pt"):
            # HDF5 and torch write into memory, and their bytes go out through our checked writes:
            # the HDF5 library crashes (SIGSEGV) after a write of its own fails on a full disk, and
            # torch's zip writer turns a failed write (EFBIG, ENOSPC) into a RuntimeError.
            image = io.BytesIO()
            if fmt == "h5":
                _write_h5(image, array, axes, metadata, bits)
            else:
                import torch

                torch.save(torch.from_numpy(array), image)
            f.write(image.getbuffer())
            return
        if fmt == "npy":
            # On a pipe numpy writes in pieces with write() (not ndarray.tofile), so a closed pipe is a BrokenPipeError.
            np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)
        else:
            # Into memory too: numpy's zip writer takes a file object without seek() (a FIFO, a
            # device) for a path name (a TypeError traceback).
            image = io.BytesIO()
            np.savez_compressed(image, **{DATASET: array, "axes": np.array(axes, dtype=str), "metadata": np.array(json.dumps(metadata))})
            f.write(image.getbuffer())


def _write_h5(target: Any, array: np.ndarray, axes: tuple[str, ...], metadata: dict[str, Any], bits: int) -> None:
    import h5py

    with h5py.File(target, "w") as f:
        # A 0-d array (every axis selected by one index) is a scalar dataset, which takes no filters.
        options = {"compression": "gzip", "shuffle": True} if array.ndim and array.size else {}
        ds = f.create_dataset(DATASET, data=array, **options)
        ds.attrs["axes"] = np.array(axes, dtype=h5py.string_dtype())
        # HDF5 attributes have no nested JSON types; the metadata object is kept exact as JSON text.
        ds.attrs["metadata"] = json.dumps(metadata)
        ds.attrs["bits"] = bits
