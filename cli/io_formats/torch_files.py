"""``.pt`` files: the archive's sizes checked before ``torch.load(weights_only=True)``, and the
tensor's before it is materialised."""

from __future__ import annotations

import re
import warnings

from .checks import (
    Loaded,
    MAX_INPUT_RANK,
    PT_MEMBER_BYTES,
    check_size,
    one_line,
    open_regular,
)
from .checks import _pick
from .npy import open_zip

# --- .pt -----------------------------------------------------------------------------------------------

_TORCH_STORAGE = re.compile(r"(?:[^/]*/)?data/[^/]+\Z")
_TORCH_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
                 "float16", "bfloat16", "float32", "float64")


def _check_torch_archive(path: str, max_bytes: int) -> None:
    """torch.save writes a zip archive: its tensor storages (``*/data/N``) are what torch.load
    allocates, so their uncompressed sizes are checked before it runs."""
    with open_regular(path) as f:
        if f.read(4) != b"PK\x03\x04":
            raise ValueError("not a tensor file torch.load(weights_only=True) accepts: not a zip archive "
                             "(files in torch's legacy format, before torch 1.6, are not read)")
        with open_zip(f, ".pt archive") as zf:
            storages = 0
            for info in zf.infolist():
                if _TORCH_STORAGE.match(info.filename):
                    storages += info.file_size
                elif info.file_size > PT_MEMBER_BYTES:
                    raise ValueError(f"member {info.filename!r} declares {info.file_size} bytes (at most {PT_MEMBER_BYTES} are read)")
            check_size("its tensor data", storages, max_bytes)


def _read_torch(path: str, key: str | None, max_bytes: int) -> Loaded:
    _check_torch_archive(path, max_bytes)
    import torch  # only for .pt files: `import spikecodec` and the CLI otherwise run without torch

    try:
        with warnings.catch_warnings():  # a warning would be a second line on stderr
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # torch reports bad or unsafe files with many exception types
        raise ValueError(f"not a tensor file torch.load(weights_only=True) accepts: {one_line(exc)}") from None
    if isinstance(obj, dict):
        names = {str(k): k for k in obj}
        name = _pick(list(names), key, "tensor")
        if len(names) != len(obj) and sum(str(k) == name for k in obj) > 1:  # {1: a, "1": b}: one was taken silently
            alike = ", ".join(repr(k) for k in obj if str(k) == name)
            raise ValueError(f"holds several tensors under the key {name!r} (keys {alike}): a key must name one tensor")
        obj = obj[names[name]]
    elif key is not None:
        raise ValueError(f"holds a {type(obj).__name__}, not a dict: drop ':{key}'")
    if not isinstance(obj, torch.Tensor):
        raise ValueError(f"holds a {type(obj).__name__}, not a tensor")
    if obj.layout != torch.strided or obj.is_quantized or obj.device.type != "cpu":
        raise ValueError(f"holds a {obj.layout} {obj.device.type} tensor{' (quantized)' if obj.is_quantized else ''}; expected a dense one")
    dtype = str(obj.dtype).removeprefix("torch.")
    if dtype not in _TORCH_DTYPES:
        raise ValueError(f"holds a tensor of dtype {dtype}; expected a numeric or boolean one")
    if obj.dim() > MAX_INPUT_RANK:
        raise ValueError(f"holds a tensor of {obj.dim()} dimensions (at most {MAX_INPUT_RANK} are read)")
    # A view (expand, stride 0) may stand for far more elements than its storage holds: its size
    # is what encoding would materialise.
    check_size(f"the tensor {tuple(obj.shape)} {dtype}", obj.numel() * obj.element_size(), max_bytes)
    try:
        tensor = obj.detach().resolve_conj().resolve_neg()
        if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16; whole numbers up to 256 are exact in float32
            check_size(f"the tensor {tuple(obj.shape)} as float32", obj.numel() * 4, max_bytes)
            tensor = tensor.float()
        return Loaded(tensor.numpy())
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"holds a tensor numpy cannot take: {one_line(exc)}") from None
