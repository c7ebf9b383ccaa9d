"""``.h5`` files: links to other files, external storage and virtual datasets refused; sizes,
filters and compressed chunks checked before HDF5 reads anything."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .checks import (
    Loaded,
    MAX_H5_CHUNKS,
    MAX_H5_DATASETS,
    MAX_INPUT_RANK,
    SIDE_BYTES,
    array_text,
    check_dtype,
    check_regular,
    check_size,
    limit_error,
    one_line,
)
from .checks import _pick
from .stored import parse_axes, parse_bits, parse_metadata

# --- .h5 -----------------------------------------------------------------------------------------------

_H5_FILTERS_READ = {1: "gzip", 2: "shuffle", 3: "fletcher32", 32000: "lzf"}
_DEFLATE_GROWTH = 1032  # the most a deflate stream expands (HDF5 grows its buffer to fit)
_LZF_GROWTH = 100  # lzf: at most about 88


def _read_h5(path: str, key: str | None, max_bytes: int) -> Loaded:
    check_regular(path)
    import h5py

    try:
        with warnings.catch_warnings(), h5py.File(path, "r") as f:
            warnings.simplefilter("ignore")
            return _read_h5_file(h5py, f, key, max_bytes)
    except (ValueError, KeyError):
        raise
    except RecursionError:
        raise ValueError("nests too deeply to be read") from None
    except Exception as exc:  # h5py and HDF5 raise OSError, RuntimeError, TypeError... for bad files
        raise ValueError(f"HDF5: {one_line(exc)}") from None


def _resolve_h5(h5py: Any, f: Any, key: str) -> str:
    """The path of hard links that ``key`` leads to, following soft links inside the file only:
    a path through an external link (to another file) is refused, never followed."""
    parts = [p for p in key.split("/") if p not in ("", ".")]
    current, hops = "/", 0
    while parts:
        name = parts.pop(0)
        group = f[current]
        if not isinstance(group, h5py.Group):
            raise KeyError(f"no dataset {key!r} ({current!r} is a dataset, not a group)")
        link = group.get(name, getlink=True)
        if link is None:
            raise KeyError(f"no dataset {key!r}")
        if isinstance(link, h5py.ExternalLink):
            raise ValueError(f"{key!r} leads through an external link (to {link.path!r} in file {link.filename!r}): "
                             "links to other files are never followed")
        if isinstance(link, h5py.SoftLink):
            hops += 1
            if hops > 64:
                raise ValueError(f"{key!r} leads through more than 64 soft links (a cycle?)")
            target = link.path
            parts[:0] = [p for p in target.split("/") if p not in ("", ".")]
            if target.startswith("/"):
                current = "/"
            continue
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"{key!r} leads through a {type(link).__name__}, which is not followed")
        current = current.rstrip("/") + "/" + name
    return current


def _h5_datasets(h5py: Any, f: Any) -> list[str]:
    """Every dataset reached by hard links (the visit never crosses soft or external links)."""
    names: list[str] = []

    def visit(name: str, obj: Any) -> bool | None:
        if isinstance(obj, h5py.Dataset):
            names.append(name)
        return True if len(names) > MAX_H5_DATASETS else None

    f.visititems(visit)
    if len(names) > MAX_H5_DATASETS:
        raise ValueError(f"holds more than {MAX_H5_DATASETS} datasets; name one as FILE:KEY")
    if not names:
        raise ValueError("holds no datasets (links to other files are never followed); name one as FILE:KEY")
    return names


def _check_h5_dataset(h5py: Any, ds: Any, key: str, max_bytes: int) -> None:
    """Refuse a dataset whose data would come from another file, or would take more than
    ``max_bytes`` (the whole, one chunk, or what one stored chunk could inflate to)."""
    if ds.is_virtual:
        raise ValueError(f"dataset {key!r} is a virtual dataset (its data is in other datasets or files): virtual datasets are never read")
    external = ds.external
    if external:
        raise ValueError(f"dataset {key!r} keeps its data in external file {external[0][0]!r}: external storage is never read")
    if ds.shape is None:
        raise ValueError(f"dataset {key!r} is empty (a null dataspace)")
    try:
        dtype = ds.dtype
    except TypeError as exc:
        raise ValueError(f"dataset {key!r} has an HDF5 type numpy has no equivalent of ({one_line(exc)})") from None
    if dtype.kind == "O":
        raise ValueError(f"dataset {key!r} holds variable-length or reference values (dtype object); expected numbers")
    check_dtype(dtype, what=f"dataset {key!r}")
    if len(ds.shape) > MAX_INPUT_RANK:
        raise ValueError(f"dataset {key!r} has {len(ds.shape)} dimensions (at most {MAX_INPUT_RANK} are read)")
    check_size(f"dataset {key!r}: {array_text(ds.shape, dtype)}", math.prod(ds.shape) * dtype.itemsize, max_bytes)
    if ds.chunks is None:
        return
    chunk_bytes = math.prod(ds.chunks) * dtype.itemsize
    check_size(f"a chunk {ds.chunks} of dataset {key!r}", chunk_bytes, max_bytes)
    plist = ds.id.get_create_plist()
    filters = [plist.get_filter(i) for i in range(plist.get_nfilters())]
    if not filters:
        return
    growth = 1
    for code, _flags, values, name in filters:
        if code not in _H5_FILTERS_READ:
            name = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
            raise ValueError(f"dataset {key!r} is stored with HDF5 filter {code}{f' ({name[:40]!r})' if name else ''}; "
                             f"only {', '.join(_H5_FILTERS_READ.values())} are read")
        if code == 1:
            growth *= _DEFLATE_GROWTH
        elif code == 32000:
            growth *= _LZF_GROWTH
            if len(values) >= 3 and values[2] > chunk_bytes:
                raise ValueError(f"dataset {key!r}: its lzf filter declares chunks of {values[2]} bytes, its chunks hold {chunk_bytes}")
    _check_h5_chunks(ds, key, filters, chunk_bytes, growth, max_bytes)


def _check_h5_chunks(ds: Any, key: str, filters: list[Any], chunk_bytes: int, growth: int, max_bytes: int) -> None:
    """HDF5 grows its buffer while a filter's output does not fit, so a stored chunk of a few
    megabytes can inflate to gigabytes whatever the chunk's size: a chunk that could pass
    ``max_bytes`` is inflated here first, bounded, to see that it fits its chunk (gzip outermost)."""
    count = ds.id.get_num_chunks()
    if count > MAX_H5_CHUNKS:
        raise ValueError(f"dataset {key!r} is stored in {count} chunks (at most {MAX_H5_CHUNKS} are read)")
    risky: list[Any] = []

    def visit(info: Any) -> None:
        if info.size * growth > max_bytes:
            risky.append(info)

    if hasattr(ds.id, "chunk_iter"):  # HDF5 1.14: one pass
        ds.id.chunk_iter(visit)
    else:
        for i in range(count):
            visit(ds.id.get_chunk_info(i))
    codes = [code for code, *_ in filters]
    for info in risky:
        active = [c for j, c in enumerate(codes) if not info.filter_mask & (1 << j)]  # a chunk may skip filters
        checksum = 4 if active and active[-1] == 3 else 0
        outer = active[: len(active) - 1] if checksum else active
        growing = [c for c in outer if c in (1, 32000)]
        if not growing:
            continue  # shuffle and fletcher32 do not grow it
        if len(growing) != 1 or outer[-1] != 1:
            raise limit_error(f"dataset {key!r}: a stored chunk of {info.size} bytes could decode to more than the limit of "
                              f"{max_bytes} bytes (raise it with --max-bytes)")
        import zlib

        _mask, raw = ds.id.read_direct_chunk(info.chunk_offset)
        inflate = zlib.decompressobj()
        try:
            size = len(inflate.decompress(raw[: len(raw) - checksum], chunk_bytes + 1))
        except zlib.error as exc:
            raise ValueError(f"dataset {key!r}: the chunk at {info.chunk_offset} is corrupt ({one_line(exc)})") from None
        if size > chunk_bytes:
            raise ValueError(f"dataset {key!r}: the chunk at {info.chunk_offset} inflates past its {chunk_bytes} bytes "
                             "(a decompression bomb)")


def _read_h5_file(h5py: Any, f: Any, key: str | None, max_bytes: int) -> Loaded:
    if key is None:
        key = where = _pick(_h5_datasets(h5py, f), None, "dataset")
    else:
        where = _resolve_h5(h5py, f, key)
    ds = f[where]
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{key!r} is a {'group' if isinstance(ds, h5py.Group) else type(ds).__name__}, not a dataset")
    _check_h5_dataset(h5py, ds, key, max_bytes)
    array = ds[()]
    loaded = Loaded(np.asarray(array))
    attrs = ds.attrs
    for name in ("axes", "metadata", "bits"):
        if name not in attrs:
            continue
        spec = attrs.get_id(name)
        if spec.shape is None or math.prod(spec.shape) > 64 or (spec.dtype.kind != "O" and spec.get_storage_size() > SIDE_BYTES):
            raise ValueError(f"the stored {name!r} attribute of {key!r} is not a small value")
        value = attrs[name]
        what = f"the stored {name!r} attribute of {key!r}"
        if name == "axes":
            loaded.axes = parse_axes(value, loaded.array.ndim, what)
        elif name == "metadata":
            loaded.metadata = parse_metadata(value, what)
        else:
            loaded.bits = parse_bits(value, what)
    return loaded
