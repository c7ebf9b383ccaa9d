"""Reading images and labels for the edge and cloud halves: IDX files, .npy arrays, PNG folders.

IDX is the format of MNIST and Fashion-MNIST (``t10k-images-idx3-ubyte[.gz]``): a 4-byte magic
(0, 0, element type, rank), the sizes as big-endian uint32, then the values in C order. Only
uint8 IDX files are read; they may be gzipped. A folder of PNG images is read with Pillow in
sorted file-name order (``img_0002.png`` before ``img_0010.png``; plain ``2.png`` sorts after
``10.png``), 8-bit grayscale or RGB, all of one size.

Every reader checks the size its input declares against ``max_bytes`` before it allocates or
decompresses: an IDX header's shape (and a gzip stream is inflated in bounded pieces, never past
what the header declares), a .npy header, each PNG's width x height x channels and their total.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
import zlib
from typing import Any, BinaryIO, Callable

import numpy as np

from spikecodec.limits import DEFAULT_MAX_DECODED_BYTES

from .io_formats import READ_PIECE, check_size, limit_error, load_npy, one_line, open_regular, read_into

GZIP_MAGIC = b"\x1f\x8b"
IDX_UBYTE = 0x08
PNG_SUFFIX = ".png"


class _Gunzip:
    """The inflated bytes of a gzip file (one member or several), read in bounded pieces: a read
    of ``n`` bytes never inflates more than ``n``, so a gzip bomb costs only what is asked of it.
    A truncated or corrupt stream, or a bad CRC, is a ValueError."""

    def __init__(self, f: BinaryIO):
        self.f = f
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def read(self, n: int) -> bytes:
        out = bytearray()
        try:
            while len(out) < n:
                if self.inflate.eof:  # a member ended: another may follow
                    data = self.inflate.unused_data or self.f.read(READ_PIECE)
                    if not data:
                        break
                    self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                elif self.inflate.unconsumed_tail:
                    data = self.inflate.unconsumed_tail
                else:
                    data = self.f.read(READ_PIECE)
                    if not data:
                        raise ValueError("corrupt gzip data (truncated: the file ends inside the compressed stream)")
                out += self.inflate.decompress(data, n - len(out))
        except zlib.error as exc:
            raise ValueError(f"corrupt gzip data ({exc})") from None
        return bytes(out)


def read_idx(path: str, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> np.ndarray:
    """A uint8 IDX file (gzipped or not) as an array of the rank and sizes its header gives."""
    with open_regular(path) as f:
        gzipped = f.read(2) == GZIP_MAGIC
        f.seek(0)
        src: Any = _Gunzip(f) if gzipped else f
        head = src.read(4)
        if len(head) < 4 or head[:2] != b"\0\0":
            raise ValueError("not an IDX file (no 00 00 magic), a .npy file or a folder of PNG images")
        kind, rank = head[2], head[3]
        if kind != IDX_UBYTE:
            raise ValueError(f"IDX element type 0x{kind:02x}; only unsigned bytes (0x08) are read")
        sizes = src.read(4 * rank)
        if rank == 0 or len(sizes) < 4 * rank:
            raise ValueError(f"corrupt IDX header (rank {rank}, {4 + len(sizes)} bytes)")
        shape = tuple(int.from_bytes(sizes[4 * i : 4 * i + 4], "big") for i in range(rank))
        size = math.prod(shape)
        shape_text = "x".join(map(str, shape)) if rank <= 8 else f"rank-{rank}"
        check_size(f"the IDX header's shape {shape_text}", size, max_bytes)
        if not gzipped:
            held = os.fstat(f.fileno()).st_size - 4 - 4 * rank
            if held != size:
                raise ValueError(f"corrupt IDX file: header says {shape_text} = {size} values, file holds {held}")
        out = np.empty(size, np.uint8)
        try:
            read_into(src, out, "the IDX file")
        except ValueError as exc:
            if not str(exc).startswith("truncated"):
                raise
            raise ValueError(f"corrupt IDX file: header says {shape_text} = {size} values, the file holds fewer") from None
        if src.read(1):
            raise ValueError(f"corrupt IDX file: header says {shape_text} = {size} values, the file holds more")
    return out.reshape(shape)


def _png_layout(img: Any, name: str) -> tuple[int, ...]:
    """The array shape an opened (not yet decoded) PNG will have: (H, W) or (H, W, 3)."""
    if img.format != "PNG" or img.mode not in ("L", "RGB"):
        raise ValueError(f"{name}: {img.format} image of mode {img.mode}; expected 8-bit grayscale (L) or RGB PNG")
    width, height = img.size
    return (height, width) if img.mode == "L" else (height, width, 3)


def read_png_folder(folder: str, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> np.ndarray:
    """Every ``*.png`` in ``folder``, in sorted name order: (N, H, W) grayscale or (N, 3, H, W) RGB.

    Each image is opened lazily (its header only) and its size, and all of theirs together,
    checked against ``max_bytes`` before any pixels are decoded; Pillow's own guard against
    decompression bombs is set to the same limit and can be neither off nor looser here."""
    from PIL import Image  # only for PNG folders

    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(PNG_SUFFIX))
    if not names:
        raise ValueError("folder holds no .png images")
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max(1, max_bytes)  # pixels: at least a byte each
    try:
        with warnings.catch_warnings():  # a warning would be a second line on stderr; a bomb's is an error
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _read_pngs(Image, folder, names, max_bytes)
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _read_pngs(Image: Any, folder: str, names: list[str], max_bytes: int) -> np.ndarray:
    out: np.ndarray | None = None
    for i, name in enumerate(names):
        with contextlib.ExitStack() as stack:
            f = _pillow(Image, name, lambda: stack.enter_context(open_regular(os.path.join(folder, name))))
            img = stack.enter_context(_pillow(Image, name, lambda: Image.open(f, formats=["PNG"])))
            layout = _png_layout(img, name)
            check_size(f"{name}: a {img.size[0]}x{img.size[1]} {img.mode} image", math.prod(layout), max_bytes)
            if out is None:
                check_size(f"{len(names)} images of {'x'.join(map(str, layout))}", len(names) * math.prod(layout), max_bytes)
                out = np.empty((len(names), *layout), np.uint8)
            elif layout != out.shape[1:]:
                raise ValueError(f"{name} is {layout}, but {names[0]} is {out.shape[1:]}: all images need one size")
            _pillow(Image, name, img.load)
            out[i] = np.asarray(img)
    assert out is not None
    return out.transpose(0, 3, 1, 2) if out.ndim == 4 else out


def _pillow(Image: Any, name: str, call: Callable[[], Any]) -> Any:
    """``call()``, with what Pillow (or opening the file) raises as one line naming the image."""
    try:
        return call()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise limit_error(f"{name}: {one_line(exc).rstrip('.')} (raise the limit with --max-bytes)") from None
    except Image.UnidentifiedImageError:
        raise ValueError(f"{name}: not a PNG image (or a broken one)") from None
    except OSError as exc:  # "image file is truncated", permission denied, a directory...
        raise ValueError(f"{name}: {exc.strerror or one_line(exc)}") from None
    except MemoryError:
        raise
    except ValueError as exc:
        raise ValueError(f"{name}: {one_line(exc)}") from None
    except Exception as exc:  # Pillow reports some broken PNGs as SyntaxError, struct.error, ...
        raise ValueError(f"{name}: a broken PNG ({one_line(exc)})") from None


def read_images(source: str, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> np.ndarray:
    """uint8 images from an IDX file, a .npy file ((N, H, W) or (N, C, H, W)) or a PNG folder,
    none larger than ``max_bytes``."""
    if os.path.isdir(source):
        return read_png_folder(source, max_bytes)
    if source.lower().endswith(".npy"):
        array = load_npy(source, max_bytes)
    else:
        array = read_idx(source, max_bytes)
    if array.dtype != np.uint8 or array.ndim not in (3, 4):
        raise ValueError(f"holds {array.dtype} {array.shape}; expected uint8 images (N, H, W) or (N, C, H, W)")
    return array


def read_labels(source: str, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> np.ndarray:
    """Integer class labels (N,) from an IDX file or a .npy file, none larger than ``max_bytes``
    (counted as the int64 array they are returned as); a negative one is refused (see
    :func:`check_labels`: the number of classes is known once the model is)."""
    if source.lower().endswith(".npy"):
        labels = load_npy(source, max_bytes, mmap=False)
    else:
        labels = read_idx(source, max_bytes)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"holds {labels.dtype} {labels.shape}; expected integer labels (N,)")
    check_size(f"{len(labels)} labels as int64", 8 * len(labels), max_bytes)
    check_labels(labels)  # before the cast: a uint64 label over 2**63 would turn negative
    return labels.astype(np.int64)


def check_labels(labels: np.ndarray, classes: int | None = None) -> None:
    """Refuse a label that names no class (negative, or ``classes`` or more), by its index and
    value: the accuracy against it would be silently wrong."""
    top = np.iinfo(np.int64).max if classes is None else classes - 1
    bad = (labels < 0) | (labels > top)
    if bad.any():
        i = int(np.argmax(bad))
        within = f"in [0, {classes})" if classes is not None else "(0 or more)"
        raise ValueError(f"labels[{i}] is {labels[i].item()}: labels are class numbers {within}")
