"""Reading images and labels for the edge and cloud halves: IDX files, .npy arrays, PNG folders.

IDX is the format of MNIST and Fashion-MNIST (``t10k-images-idx3-ubyte[.gz]``): a 4-byte magic
(0, 0, element type, rank), the sizes as big-endian uint32, then the values in C order. Only
uint8 IDX files are read; they may be gzipped. A folder of PNG images is read with Pillow in
sorted file-name order (``img_0002.png`` before ``img_0010.png``; plain ``2.png`` sorts after
``10.png``), 8-bit grayscale or RGB, all of one size.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
IDX_UBYTE = 0x08
PNG_SUFFIX = ".png"


def read_idx(path: str) -> np.ndarray:
    """A uint8 IDX file (gzipped or not) as an array of the rank and sizes its header gives."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"corrupt gzip data ({exc})") from None
    if len(data) < 4 or data[:2] != b"\0\0":
        raise ValueError("not an IDX file (no 00 00 magic), a .npy file or a folder of PNG images")
    kind, rank = data[2], data[3]
    if kind != IDX_UBYTE:
        raise ValueError(f"IDX element type 0x{kind:02x}; only unsigned bytes (0x08) are read")
    head = 4 + 4 * rank
    if rank == 0 or len(data) < head:
        raise ValueError(f"corrupt IDX header (rank {rank}, {len(data)} bytes)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    size = int(np.prod(shape, dtype=np.int64))
    if len(data) - head != size:
        raise ValueError(f"corrupt IDX file: header says {'x'.join(map(str, shape))} = {size} values, file holds {len(data) - head}")
    return np.frombuffer(data, np.uint8, size, head).reshape(shape)


def read_png_folder(folder: str) -> np.ndarray:
    """Every ``*.png`` in ``folder``, in sorted name order: (N, H, W) grayscale or (N, 3, H, W) RGB."""
    from PIL import Image  # only for PNG folders

    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(PNG_SUFFIX))
    if not names:
        raise ValueError("folder holds no .png images")
    images = []
    for name in names:
        path = os.path.join(folder, name)
        with Image.open(path) as img:
            if img.format != "PNG" or img.mode not in ("L", "RGB"):
                raise ValueError(f"{name}: {img.format} image of mode {img.mode}; expected 8-bit grayscale (L) or RGB PNG")
            array = np.asarray(img)
        if images and array.shape != images[0].shape:
            raise ValueError(f"{name} is {array.shape}, but {names[0]} is {images[0].shape}: all images need one size")
        images.append(array)
    stacked = np.stack(images)
    return stacked.transpose(0, 3, 1, 2) if stacked.ndim == 4 else stacked


def read_images(source: str) -> np.ndarray:
    """uint8 images from an IDX file, a .npy file ((N, H, W) or (N, C, H, W)) or a PNG folder."""
    if os.path.isdir(source):
        return read_png_folder(source)
    if source.lower().endswith(".npy"):
        array = np.load(source, mmap_mode="r", allow_pickle=False)
    else:
        array = read_idx(source)
    if array.dtype != np.uint8 or array.ndim not in (3, 4):
        raise ValueError(f"holds {array.dtype} {array.shape}; expected uint8 images (N, H, W) or (N, C, H, W)")
    return array


def read_labels(source: str) -> np.ndarray:
    """Integer class labels (N,) from an IDX file or a .npy file."""
    if source.lower().endswith(".npy"):
        labels = np.load(source, allow_pickle=False)
    else:
        labels = read_idx(source)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"holds {labels.dtype} {labels.shape}; expected integer labels (N,)")
    return labels.astype(np.int64)
