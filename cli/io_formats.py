"""Reading and writing the user's array files: .npy, .npz, .pt, .h5/.hdf5 (and .spk as an input).

Only the format glue lives here; torch and h5py are imported when a file of theirs is touched.
A file written by ``spikecodec decode`` keeps the spike file's axes and metadata where its format
has room for them (.npz: arrays ``axes`` and ``metadata``; .h5: attributes of ``spikes``), and
``spikecodec encode`` picks them up again from there.
"""

from __future__ import annotations

import io
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

import spikecodec

from .atomic import STDIO, atomic_path

INPUT_FORMATS = ("npy", "npz", "pt", "h5", "spk")
OUTPUT_FORMATS = ("npy", "npz", "pt", "h5")
_KEYED = ("npz", "pt", "h5")  # formats holding several arrays: `file.npz:key`
DATASET = "spikes"  # the array's name in .npz and .h5 outputs


@dataclass
class Loaded:
    """An input array and what its file said about it (None where it said nothing)."""

    array: Any
    axes: tuple[str, ...] | None = None
    metadata: dict[str, Any] | None = None
    bits: int | None = None


def display_name(path: str, stdio: str = "<stdin>") -> str:
    return stdio if path == STDIO else path


def file_format(path: str) -> str | None:
    """``npy``, ``npz``, ``pt``, ``h5`` or ``spk`` by extension (``-`` is .npy); None if unknown."""
    if path == STDIO:
        return "npy"
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    ext = {"hdf5": "h5", "pth": "pt"}.get(ext, ext)
    return ext if ext in INPUT_FORMATS else None


def split_key(spec: str) -> tuple[str, str | None]:
    """``file.npz:key`` -> (``file.npz``, ``key``); a path that exists as given is never split."""
    if spec == STDIO or os.path.exists(spec) or ":" not in spec:
        return spec, None
    path, key = spec.rsplit(":", 1)
    if file_format(path) in _KEYED and key:
        return path, key
    return spec, None


def read_input(spec: str) -> Loaded:
    """Load the array named by ``spec`` (a path, ``path:key`` or ``-`` for .npy on stdin)."""
    path, key = split_key(spec)
    fmt = file_format(path)
    if fmt is None:
        raise ValueError(f"unknown input format (expected one of .{', .'.join(INPUT_FORMATS)}, or - for .npy on stdin)")
    if key is not None and fmt not in _KEYED:
        raise ValueError(f"a .{fmt} file holds one array; drop ':{key}'")
    if path == STDIO:
        return _from_numpy(np.load(io.BytesIO(sys.stdin.buffer.read()), allow_pickle=False), None)
    if fmt == "npy":
        # Memory-mapped: only the uint8 copy made for encoding is held in memory.
        return Loaded(np.load(path, mmap_mode="r", allow_pickle=False))
    if fmt == "npz":
        return _from_numpy(np.load(path, allow_pickle=False), key)
    if fmt == "pt":
        return _read_torch(path, key)
    if fmt == "h5":
        return _read_h5(path, key)
    with spikecodec.open(path) as r:
        return Loaded(r.read(), r.axes, r.metadata, r.bits)


def _pick(keys: list[str], key: str | None, what: str) -> str:
    if key is not None:
        if key not in keys:
            raise KeyError(f"no {what} {key!r} (it holds: {', '.join(keys) or 'nothing'})")
        return key
    if len(keys) == 1:
        return keys[0]
    if DATASET in keys:
        return DATASET
    raise ValueError(f"holds {len(keys)} {what}s ({', '.join(keys)}); name one as FILE:KEY")


def _from_numpy(obj: Any, key: str | None) -> Loaded:
    if isinstance(obj, np.ndarray):
        return Loaded(obj)
    with obj:  # an NpzFile
        name = _pick(list(obj.files), key, "array")
        loaded = Loaded(obj[name])
        if name == DATASET and key is None:  # written by `spikecodec decode`: keep its axes/metadata
            if "axes" in obj.files:
                loaded.axes = tuple(str(a) for a in obj["axes"])
            if "metadata" in obj.files:
                loaded.metadata = json.loads(str(obj["metadata"]))
        return loaded


def _read_torch(path: str, key: str | None) -> Loaded:
    import torch  # only for .pt files: `import spikecodec` and the CLI otherwise run without torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # torch reports bad or unsafe files with many exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"not a tensor file torch.load(weights_only=True) accepts: {first}") from None
    if isinstance(obj, dict):
        name = _pick([str(k) for k in obj], key, "tensor")
        obj = obj[name]
    elif key is not None:
        raise ValueError(f"holds a {type(obj).__name__}, not a dict: drop ':{key}'")
    if not isinstance(obj, torch.Tensor):
        raise ValueError(f"holds a {type(obj).__name__}, not a tensor")
    return Loaded(obj)


def _read_h5(path: str, key: str | None) -> Loaded:
    import h5py

    with h5py.File(path, "r") as f:
        if key is None:
            names: list[str] = []
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            key = _pick(names, None, "dataset")
        if key not in f:
            raise KeyError(f"no dataset {key!r}")
        ds = f[key]
        if not isinstance(ds, h5py.Dataset):
            raise ValueError(f"{key!r} is a group, not a dataset")
        loaded = Loaded(ds[()])
        if "axes" in ds.attrs:
            loaded.axes = tuple(str(a) for a in np.atleast_1d(ds.attrs["axes"]))
        if "metadata" in ds.attrs:
            loaded.metadata = json.loads(ds.attrs["metadata"])
        if "bits" in ds.attrs:
            loaded.bits = int(ds.attrs["bits"])
        return loaded


def output_format(path: str) -> str:
    """The format of a decode output; ``-`` (stdout) is .npy."""
    fmt = file_format(path)
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format (expected .{', .'.join(OUTPUT_FORMATS)}, or - for .npy on stdout)")
    return fmt


def write_array(path: str, array: np.ndarray, axes: tuple[str, ...], metadata: dict[str, Any], bits: int) -> None:
    """Write a decoded array; a path is replaced atomically, ``-`` writes .npy to stdout."""
    fmt = output_format(path)
    if path == STDIO:
        # Through a plain write() (not ndarray.tofile, which turns a closed pipe into a vague OSError).
        np.lib.format.write_array(_Pipe(sys.stdout.buffer), np.asanyarray(array), allow_pickle=False)
        sys.stdout.buffer.flush()
        return
    with atomic_path(path) as tmp:
        if fmt == "h5":
            _write_h5(tmp, array, axes, metadata, bits)
            return
        with open(tmp, "wb") as f:
            if fmt == "npy":
                np.save(f, array, allow_pickle=False)
            elif fmt == "npz":
                np.savez_compressed(f, **{DATASET: array, "axes": np.array(axes, dtype=str), "metadata": np.array(json.dumps(metadata))})
            else:
                import torch

                torch.save(torch.from_numpy(array), f)


class _Pipe:
    """Only ``write``: numpy then writes in pieces with write(), which raises BrokenPipeError."""

    def __init__(self, f: Any):
        self.write = f.write


def _write_h5(path: str, array: np.ndarray, axes: tuple[str, ...], metadata: dict[str, Any], bits: int) -> None:
    import h5py

    with h5py.File(path, "w") as f:
        options = {"compression": "gzip", "shuffle": True} if array.size else {}
        ds = f.create_dataset(DATASET, data=array, **options)
        ds.attrs["axes"] = np.array(axes, dtype=h5py.string_dtype())
        # HDF5 attributes have no nested JSON types; the metadata object is kept exact as JSON text.
        ds.attrs["metadata"] = json.dumps(metadata)
        ds.attrs["bits"] = bits
