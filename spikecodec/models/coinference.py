"""Edge-cloud co-inference: images -> edge half -> spike file bytes -> cloud half -> logits.

The edge writes one spike file whose axes are N, T, C, H, W: a row of chunks is a batch of
images, encoded and flushed as soon as the edge half has run on it, so the cloud can read it
(:class:`CloudStream`) while the edge is still working on the next. The file's metadata names
the model, so the cloud knows which half to run::

    import io
    from spikecodec.models import CloudStream, cloud_logits, edge_encode, edge_write

    data = edge_encode(images)                  # uint8 (N, 28, 28) -> bytes (default reference)
    logits = cloud_logits(data)                 # -> (N, 10) float tensor

    with open("feats.spk", "wb") as f:          # or a socket's file object, or a pipe
        edge_write(images, f, batch_size=256)   # each batch is flushed as soon as it is coded
    with CloudStream("feats.spk", wait=5.0) as cloud:   # may start before the edge has finished
        for logits in cloud:                    # one batch of logits per batch of images
            ...

Torch is imported by the functions that run a model, never by importing this module.
"""

from __future__ import annotations

import functools
import io
import os
from typing import Any, BinaryIO, Iterable, Iterator

import numpy as np

from ..codecs import DEFAULT_CODEC
from ..codecs.registry import CodecLike
from ..container.stream import SpikeStream
from ..container.writer import SpikeWriter
from .reference import DEFAULT_REFERENCE, reference_path

EDGE_AXES = ("N", "T", "C", "H", "W")  # a row of the file is a batch of images
MODEL_AXES = ("T", "N", "C", "H", "W")  # what the networks' halves take and return
DEFAULT_BATCH = 256  # images per batch, and per chunk of the file


@functools.lru_cache(maxsize=4)
def load_split(name: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The shipped model ``name`` (default: the default reference) and what its spike files say
    about it: ``{"model", "split", "neuron": {"tau", "v_th", "T"}, "code_shape", "input_shape"}``,
    ``code_shape`` being one image's spikes (T, C, H, W) and ``input_shape`` one image (C, H, W).
    Unknown names raise ``KeyError``."""
    import torch

    from .checkpoint import load_model, read_checkpoint

    name = name or DEFAULT_REFERENCE
    path = reference_path(name)
    config = read_checkpoint(path)["config"]
    model = load_model(path)
    size = config["image_size"]
    input_shape = [config["in_channels"], size, size]
    with torch.inference_mode():
        code = model.edge(torch.zeros(1, *input_shape, dtype=torch.uint8))
    info = {
        "model": name,
        "split": config["split"],
        "neuron": {"tau": config["neuron"]["tau"], "v_th": config["neuron"]["v_th"], "T": config["timesteps"]},
        "code_shape": [code.shape[0], *code.shape[2:]],
        "input_shape": input_shape,
    }
    return model, info


def as_images(images: Any, input_shape: list[int]) -> np.ndarray:
    """``images`` (numpy or torch, uint8, (N, H, W) or (N, C, H, W)) as a uint8 (N, C, H, W) array
    of the model's input shape; anything else raises ``ValueError`` saying what was expected."""
    if hasattr(images, "detach"):  # a torch tensor
        images = images.detach().cpu().numpy()
    images = np.asarray(images)
    given = images.shape
    c, h, w = input_shape
    want = f"uint8 images (N, {h}, {w})" + (" or" if c == 1 else ", i.e.") + f" (N, {c}, {h}, {w})"
    if images.dtype != np.uint8:
        raise ValueError(f"got {images.dtype} values; the model takes {want}")
    if images.ndim == 3 and c == 1:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1:] != (c, h, w):
        raise ValueError(f"got an array shaped {given}; the model takes {want}")
    return images


def edge_write(
    images: Any,
    file: str | os.PathLike | BinaryIO,
    model: str | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
    codec: CodecLike | list[CodecLike] = DEFAULT_CODEC,
    metadata: dict[str, Any] | None = None,
    progress: Any = None,
) -> int:
    """Run the edge half of ``model`` on ``images`` and write its spikes to ``file``, batch by batch.

    ``images``: an array (see :func:`as_images`), or an iterable of such batches (a camera, a
    queue). Each batch becomes one row of chunks and is flushed at once: a reader of ``file``
    (:class:`CloudStream`) gets it before the next batch is computed. ``metadata`` is added to
    the model's. ``progress(n)`` is called after each batch of n images. Returns the image count.

    >>> with open("feats.spk", "wb") as f:
    ...     edge_write(images, f)
    """
    import torch

    net, info = load_split(model)
    if hasattr(images, "shape"):  # one array: the whole length is known and goes in the header
        images = as_images(images, info["input_shape"])
        batches: Iterable[Any] = (images[a : a + batch_size] for a in range(0, len(images), batch_size))
        length: int | None = len(images)
    else:
        batches, length = images, None
    count = 0
    meta = {**info, **(metadata or {})}
    with SpikeWriter(file, codec=codec, axes=EDGE_AXES, chunk=batch_size, metadata=meta, length=length) as w:
        for batch in batches:
            batch = as_images(batch, info["input_shape"])
            with torch.inference_mode():
                spikes = net.edge(batch)
            w.write_frames(spikes.to(torch.uint8).transpose(0, 1).numpy())
            w.flush()
            count += len(batch)
            if progress is not None:
                progress(len(batch))
        if count == 0:
            raise ValueError("no images to encode")
    return count


def edge_encode(images: Any, model: str | None = None, **options: Any) -> bytes:
    """The bytes of the spike file :func:`edge_write` would write (same options).

    >>> data = edge_encode(images)          # uint8 (N, 28, 28) -> bytes
    """
    buf = io.BytesIO()
    edge_write(images, buf, model, **options)
    return buf.getvalue()


class CloudStream:
    """Logits of the cloud half, batch by batch, as the spike file or stream arrives.

    ``source``: bytes, a path or a binary file object (a pipe or socket blocks until bytes come;
    a file that an edge is still writing is waited on for up to ``wait`` seconds at a time).
    ``model``: the shipped model to run; default the one the file's metadata names. A file whose
    spikes are not shaped like the model's code raises ``ValueError`` before anything runs.
    Iterating yields float logits tensors (n, classes), one per row of the file; files written
    with T as their first axis (``spikecodec.save(path, model.edge(x))``) yield once, at the end.

    >>> with CloudStream(sock.makefile("rb")) as cloud:
    ...     for logits in cloud:
    ...         print(logits.argmax(1))
    """

    def __init__(self, source: str | os.PathLike | bytes | BinaryIO, model: str | None = None, *, wait: float = 0.0):
        self.spikes = SpikeStream(source, wait=wait)
        try:
            name = model or self.spikes.metadata.get("model")
            if not isinstance(name, str):
                raise ValueError("the file's metadata names no model (no 'model' field): name one (--model, model=)")
            self.model, self.info = load_split(name)
            axes = self.spikes.axes
            if sorted(axes) != sorted(MODEL_AXES) or axes[0] not in ("N", "T"):
                raise ValueError(f"spikes with axes {''.join(axes)}; the cloud reads NTCHW or TNCHW files")
            self._perm = [axes.index(a) for a in MODEL_AXES]
            shape = dict(zip(axes[1:], self.spikes.frame_shape))
            code_axes = [a for a in ("T", "C", "H", "W") if a in shape]  # T is missing when it leads
            code = [shape[a] for a in code_axes]
            want = self.info["code_shape"][len(self.info["code_shape"]) - len(code) :]
            if code != want:
                axes_text = ", ".join(code_axes)
                raise ValueError(f"spikes of {axes_text} = {tuple(code)} per image; model {name!r} takes {tuple(want)}")
        except BaseException:
            self.spikes.close()
            raise
        self.images_read = 0

    def __iter__(self) -> Iterator[Any]:
        if self.spikes.axes[0] == "N":
            for rows in self.spikes:
                yield self._run(rows)
        else:  # rows are timesteps: the cloud needs all of them
            rows = list(self.spikes)
            yield self._run(np.concatenate(rows) if rows else np.zeros((0, *self.spikes.frame_shape), np.uint8))

    def _run(self, block: np.ndarray) -> Any:
        import torch

        spikes = np.ascontiguousarray(block.transpose(self._perm))
        with torch.inference_mode():
            logits = self.model.cloud(spikes)
        self.images_read += spikes.shape[1]
        return logits

    @property
    def bytes_read(self) -> int:
        return self.spikes.bytes_read

    def close(self) -> None:
        self.spikes.close()

    def __enter__(self) -> "CloudStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cloud_logits(source: str | os.PathLike | bytes | BinaryIO, model: str | None = None) -> Any:
    """All logits (N, classes) of a complete spike file or byte string (see :class:`CloudStream`).

    >>> logits = cloud_logits(edge_encode(images))
    """
    import torch

    with CloudStream(source, model) as cloud:
        return torch.cat(list(cloud))
