"""Edge-cloud co-inference: images -> edge half -> spike messages -> cloud half -> logits.

What crosses the link is a spike stream with axes N, T, C, H, W: a header once, then one
compact record per image (or per batch of ``batch_size`` images) coded by ``ctxmix`` from the
model's shipped prior, flushed as soon as the edge half has run, so the cloud reads it
(:class:`CloudStream`) while the edge is still working. The stream's metadata names the model,
so the cloud knows which half to run. For a transport of your own, :class:`EdgeEncoder` and
:class:`CloudDecoder` make and take the messages one by one::

    from spikecodec.models import CloudDecoder, CloudStream, EdgeEncoder, cloud_logits, edge_encode, edge_write

    data = edge_encode(images)                  # uint8 (N, 28, 28) -> bytes, ~28 bytes an image
    logits = cloud_logits(data)                 # -> (N, 10) float tensor

    with open("feats.spk", "wb") as f:          # or a socket's file object, or a pipe
        edge_write(images, f)                   # each image is flushed as soon as it is coded
    with CloudStream("feats.spk", wait=5.0) as cloud:   # may start before the edge has finished
        for logits in cloud:                    # logits of the images that have arrived
            ...

    edge = EdgeEncoder()                        # one message per call
    send(edge.header)
    send(edge.encode(image))
    cloud = CloudDecoder(receive())             # the header message
    logits = cloud.decode(receive())

Torch is imported by the functions that run a model, never by importing this module.
"""

from __future__ import annotations

import functools
import io
import os
from typing import Any, BinaryIO, Iterable, Iterator

import numpy as np

from ..codecs import get_codec
from ..codecs.registry import CodecLike
from ..errors import FormatError
from ..container.link import LINK_CODEC, LinkDecoder, LinkEncoder
from ..container.stream import SpikeStream
from ..container.writer import COMPACT_RECORDS, SpikeWriter
from ..limits import ReadLimits, count_option
from ..prior import Prior, PriorLike, load_prior
from .reference import DEFAULT_REFERENCE, REFERENCE_DIR, reference_path

EDGE_AXES = ("N", "T", "C", "H", "W")  # a row of the stream is an image
MODEL_AXES = ("T", "N", "C", "H", "W")  # what the networks' halves take and return
DEFAULT_BATCH = 1  # images per chunk (message): one at a time, as a real link sends them
CLOUD_BATCH = 256  # most images the cloud half runs at once (fewer when no more have arrived)
LINK_RECORDS = "compact"
SHIPPED = "shipped"  # prior=SHIPPED: the model's shipped prior for the codec, when there is one


@functools.lru_cache(maxsize=8)
def shipped_prior(name: str | None = None, codec: str = LINK_CODEC) -> Prior | None:
    """The prior shipped with model ``name`` for ``codec`` (``<name>.prior`` beside its
    checkpoint, trained on its training images only), or None."""
    path = REFERENCE_DIR / f"{name or DEFAULT_REFERENCE}.prior"
    if not path.exists():
        return None
    prior = load_prior(path)
    return prior if prior.codec == codec else None


def resolve_prior(prior: PriorLike | str | None, model: str, codec: CodecLike | list[CodecLike]) -> Prior | None:
    """What ``prior=`` means for a model's link: SHIPPED the model's shipped prior for the codec
    (none when it has none), None no prior, else that prior."""
    if prior is None:
        return None
    if isinstance(prior, str) and prior == SHIPPED:
        first = codec[0] if isinstance(codec, (list, tuple)) else codec
        cid = get_codec(first).codec_id
        return shipped_prior(model, cid)
    return load_prior(prior)


@functools.lru_cache(maxsize=4)
def load_split(name: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The shipped model ``name`` (default: the default reference) and what its spike files say
    about it: ``{"model", "split", "neuron": {"tau", "v_th", "T"}, "code_shape", "input_shape"}``,
    ``code_shape`` being one image's spikes (T, C, H, W) and ``input_shape`` one image (C, H, W).
    Unknown names raise ``KeyError``. The model is cached, one object shared by every helper here
    (``EdgeEncoder().net`` too), each of which puts it in eval mode before running it: train a
    copy (``copy.deepcopy``), not it."""
    import torch

    from .checkpoint import load_model, read_checkpoint

    name = DEFAULT_REFERENCE if name is None else name
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
    images = np.ascontiguousarray(images)  # torch takes no negative strides (images[::-1])
    given = images.shape
    c, h, w = input_shape
    want = f"uint8 images (N, {h}, {w})" + (" or" if c == 1 else ", i.e.") + f" (N, {c}, {h}, {w})"
    if images.dtype != np.uint8:
        raise ValueError(f"got {images.dtype} values; the model takes {want}")
    if images.ndim == 3 and c == 1:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1:] != (c, h, w):
        if images.ndim == 4 and images.shape[2:] == (h, w) and images.shape[1] != c:
            raise ValueError(f"got {given[0]} images of {given[1]} channels{' (RGB)' if given[1] == 3 else ''}; the model "
                             f"takes {c}-channel{' (grayscale)' if c == 1 else ''} {want}")
        raise ValueError(f"got an array shaped {given}; the model takes {want}")
    return images


#: Images the edge half runs through the network at once. Its activations take far more memory
#: than its spikes (the reference model's peak grew 508 MB for 1024 images), so a message of many images
#: (``--batch 100000``) is computed in runs of this many: memory stays bounded whatever its size.
EDGE_RUN = 256


def edge_spikes(net: Any, images: Any) -> np.ndarray:
    """The edge half's spikes of a batch of checked images (:func:`as_images`), (N, T, C, H, W)
    uint8, computed :data:`EDGE_RUN` images at a time (the same spikes: every image is its own)."""
    import torch

    runs = []
    with torch.inference_mode():
        for a in range(0, max(len(images), 1), EDGE_RUN):
            spikes = net.eval().edge(images[a : a + EDGE_RUN])  # eval: the cached net is shared (see load_split)
            runs.append(spikes.to(torch.uint8).transpose(0, 1).numpy())
    return runs[0] if len(runs) == 1 else np.concatenate(runs)


def edge_write(
    images: Any,
    file: str | os.PathLike | BinaryIO,
    model: str | None = None,
    *,
    batch_size: int = DEFAULT_BATCH,
    codec: CodecLike | list[CodecLike] = LINK_CODEC,
    prior: PriorLike | str | None = SHIPPED,
    embed_prior: bool = False,
    records: str = LINK_RECORDS,
    metadata: dict[str, Any] | None = None,
    progress: Any = None,
    stream_id: bytes | bool = True,
) -> int:
    """Run the edge half of ``model`` on ``images`` and write its spikes to ``file``, a chunk of
    ``batch_size`` images (default one) at a time, each flushed at once: a reader of ``file``
    (:class:`CloudStream`) gets it before the next is computed.

    ``images``: an array (see :func:`as_images`), or an iterable of such batches (a camera, a
    queue). ``codec`` (default ``ctxmix``) codes from ``prior``: the model's shipped prior by
    default, None for none, or a prior object or file (``embed_prior`` puts it in the header).
    ``records``: compact (default) or classic chunk records. ``metadata`` is added to the
    model's. ``progress(n)`` is called after each batch of n images. ``stream_id``: as
    :class:`~spikecodec.LinkEncoder`'s (compact records: True draws 16 random bytes, so that two
    cameras' streams of one model cannot be spliced into each other unnoticed). Returns the
    image count.

    >>> with open("feats.spk", "wb") as f:
    ...     edge_write(images, f)
    """
    net, info = load_split(model)
    batch_size = count_option(batch_size, "batch_size", 1)
    if hasattr(images, "shape"):  # one array: the whole length is known and goes in the header
        images = as_images(images, info["input_shape"])
        batches: Iterable[Any] = (images[a : a + batch_size] for a in range(0, len(images), batch_size))
        length: int | None = len(images)
    else:
        batches, length = images, None
    count = 0
    meta = stream_metadata(info, metadata)
    used = resolve_prior(prior, info["model"], codec)
    if records not in COMPACT_RECORDS and stream_id is True:
        stream_id = None  # classic records do not check their stream: a drawn id would only make the file 1.6
    w = SpikeWriter(file, codec=codec, axes=EDGE_AXES, chunk=batch_size, metadata=meta, length=length,
                    prior=used, embed_prior=embed_prior and used is not None, records=records, stream_id=stream_id)
    try:
        for batch in batches:
            batch = as_images(batch, info["input_shape"])
            w.write_frames(edge_spikes(net, batch))
            w.flush()
            count += len(batch)
            if progress is not None:
                progress(len(batch))
        if count == 0:
            raise ValueError("no images to encode")
    except BaseException:  # a source that broke off (or a batch refused): the stream is left unfinished, not ended
        w.abandon()        # as complete - a reader says its writer did not finish; recover reads what was flushed
        raise
    w.close()
    return count


def edge_encode(images: Any, model: str | None = None, **options: Any) -> bytes:
    """The bytes of the spike stream :func:`edge_write` would write (same options).

    >>> data = edge_encode(images)          # uint8 (N, 28, 28) -> bytes
    """
    buf = io.BytesIO()
    edge_write(images, buf, model, **options)
    return buf.getvalue()


def stream_metadata(info: dict[str, Any], metadata: dict[str, Any] | None) -> dict[str, Any]:
    """A stream's metadata: the model's own (``info``: model, split, neuron, shapes), which the
    cloud half reads to pick its model and check the spikes, plus the caller's ``metadata``. A key
    of the model's given another value is a ValueError: the stream would misname its producer."""
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata is a dict (a JSON object), got {type(metadata).__name__}")
    clash = next((k for k, v in (metadata or {}).items() if k in info and v != info[k]), None)
    if clash is not None:
        raise ValueError(f"metadata key {clash!r} is the model's own ({info[clash]!r}): choose another key")
    return {**info, **(metadata or {})}


class EdgeEncoder:
    """The edge half as a message maker, for a transport of your own: ``header`` once, then
    ``encode(images)`` per image or batch (one message: run through the edge half, coded), then
    ``end()``. Options as :func:`edge_write`."""

    def __init__(self, model: str | None = None, *, codec: CodecLike | list[CodecLike] = LINK_CODEC,
                 prior: PriorLike | str | None = SHIPPED, embed_prior: bool = False, metadata: dict[str, Any] | None = None):
        self.net, self.info = load_split(model)
        used = resolve_prior(prior, self.info["model"], codec)
        self.link = LinkEncoder(self.info["code_shape"], codec=codec, prior=used, embed_prior=embed_prior and used is not None,
                                axes=EDGE_AXES, metadata=stream_metadata(self.info, metadata))
        self.header: bytes = self.link.header

    def encode(self, images: Any) -> bytes:
        """The message for one image (H, W) / (C, H, W), or a batch of them."""
        return self.link.encode(self._spikes(images))

    def numbered(self, images: Any) -> tuple[int, bytes]:
        """(record number, message) for ``images``, as ``LinkEncoder.numbered``: for a transport
        that numbers its messages (``CloudDecoder.decode(message, record=number)``)."""
        return self.link.numbered(self._spikes(images))

    def _spikes(self, images: Any) -> np.ndarray:
        """The edge half's spikes of one image or a batch, (N, T, C, H, W) uint8."""
        array = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
        c, h, w = self.info["input_shape"]
        # One image is (H, W), or (C, H, W) for C > 1; (N, H, W) is a batch of one-channel images.
        single = array.ndim == 2 or (array.ndim == 3 and c > 1 and array.shape == (c, h, w))
        return edge_spikes(self.net, as_images(array[None] if single else array, self.info["input_shape"]))

    def end(self) -> bytes:
        """The end message: the stream is complete."""
        return self.link.end()


def _model_for(axes: tuple[str, ...], frame_shape: tuple[int, ...], metadata: dict[str, Any], model: str | None,
               bits: int = 1, length: int | None = None):
    """The shipped model a spike stream is for (``model``, else the one its metadata names), its
    info, and the permutation of the stream's axes to the model's T, N, C, H, W. A stream whose
    spikes are not shaped like the model's code (``length``: its axis 0, when known), or that
    holds counts, not 1-bit spikes, raises ``ValueError`` before anything runs."""
    name = model or metadata.get("model")
    if not isinstance(name, str):
        raise ValueError("the file's metadata names no model (no 'model' field): name one (--model, model=)")
    try:
        net, info = load_split(name)
    except KeyError as exc:  # a name the stream gave (remote data): a stream that does not fit, as the others
        if model is not None:
            raise
        raise ValueError(f"the stream's metadata names model {name!r}: {exc.args[0]}") from None
    if bits != 1:  # counts 0..3, 0..15 or 0..255 run as spikes gave predictions, and no error
        raise ValueError(f"the stream holds {bits}-bit spike counts; model {name!r} takes 1-bit spikes")
    if axes and axes[0] == "T" and length is not None:
        check_timesteps(length, info, name)
    if sorted(axes) != sorted(MODEL_AXES) or axes[0] not in ("N", "T"):
        raise ValueError(f"spikes with axes {''.join(axes)}; the cloud reads NTCHW or TNCHW files")
    perm = [axes.index(a) for a in MODEL_AXES]
    shape = dict(zip(axes[1:], frame_shape))
    code_axes = [a for a in ("T", "C", "H", "W") if a in shape]  # T is missing when it leads
    code = [shape[a] for a in code_axes]
    want = info["code_shape"][len(info["code_shape"]) - len(code) :]
    if code != want:
        raise ValueError(f"spikes of {', '.join(code_axes)} = {tuple(code)} per image; model {name!r} takes {tuple(want)}")
    return net, info, perm


def check_timesteps(steps: int, info: dict[str, Any], name: str) -> None:
    """ValueError unless a stream whose rows are timesteps (T leads) holds the model's T of them:
    the per-image shape leaves T out there, and T = 1 or 5 ran through a T = 2 network."""
    if steps != info["code_shape"][0]:
        raise ValueError(f"spikes of T = {steps} timesteps; model {name!r} takes T = {info['code_shape'][0]}")


def _run_cloud(net: Any, block: np.ndarray, perm: list[int]) -> Any:
    import torch

    spikes = np.ascontiguousarray(block.transpose(perm))
    with torch.inference_mode():
        return net.eval().cloud(spikes)


class CloudDecoder:
    """The cloud half as a message taker: built from the header message, ``decode(message)``
    gives the logits of its images; ``end(message)`` checks the end message. ``priors``: the
    prior the stream names, when it neither embeds it nor is the model's shipped one."""

    def __init__(self, header: bytes, model: str | None = None, *, priors: Any = None, limits: ReadLimits | None = None):
        self.link = LinkDecoder(header, priors=priors, limits=limits)
        self.model, self.info, self._perm = _model_for(self.link.axes, self.link.frame_shape, self.link.metadata, model,
                                                       self.link.header.bits)
        if self.link.axes[0] != "N":
            raise ValueError("a message stream has one image (N) per row: axes N, T, C, H, W")

    def decode(self, message: bytes, *, record: int | None = None) -> Any:
        """Logits (images, classes) of the images in ``message``; ``record`` as in
        :meth:`spikecodec.LinkDecoder.decode` (the message's number, to go on after lost ones)."""
        return self.run(self.link.decode(message, record=record))

    def run(self, frames: np.ndarray) -> Any:
        """Logits (images, classes) of decoded frames, as ``self.link.decode`` gives them; frames of
        several streams with the same axes and model may be stacked and run in one batch."""
        return _run_cloud(self.model, frames, self._perm)

    def end(self, message: bytes) -> None:
        self.link.end(message)


class CloudStream:
    """Logits of the cloud half as the spike file or stream arrives.

    ``source``: bytes, a path or a binary file object (a pipe or socket blocks until bytes come;
    a file that an edge is still writing is waited on for up to ``wait`` seconds at a time).
    ``model``: the shipped model to run; default the one the file's metadata names. A file whose
    spikes are not shaped like the model's code raises ``ValueError`` before anything runs.
    Iterating yields float logits tensors (n, classes): the images that have arrived, up to
    ``batch_size`` at a time (the cloud batches what is there, never waits to fill a batch);
    files written with T as their first axis yield once, at the end.

    >>> with CloudStream(sock.makefile("rb")) as cloud:
    ...     for logits in cloud:
    ...         print(logits.argmax(1))
    """

    def __init__(self, source: str | os.PathLike | bytes | BinaryIO, model: str | None = None, *, wait: float = 0.0,
                 priors: Any = None, batch_size: int = CLOUD_BATCH, limits: ReadLimits | None = None):
        self.spikes = SpikeStream(source, wait=wait, priors=priors, limits=limits)
        self.batch_size = batch_size
        try:
            self.model, self.info, self._perm = _model_for(self.spikes.axes, self.spikes.frame_shape, self.spikes.metadata, model,
                                                           self.spikes.bits, self.spikes.length)
        except BaseException:
            self.spikes.close()
            raise
        self.images_read = 0

    def __iter__(self) -> Iterator[Any]:
        if self.spikes.axes[0] == "N":
            pending: list[np.ndarray] = []
            count = 0
            stream = iter(self.spikes)
            while True:
                try:
                    rows = next(stream)
                except StopIteration:
                    break
                except FormatError:  # a stream cut short: the images decoded before it are run first, then it is raised
                    if pending:
                        yield self._run(np.concatenate(pending))
                    raise
                pending.append(rows)
                count += len(rows)
                if count >= self.batch_size or not self.spikes.ready():
                    yield self._run(np.concatenate(pending) if len(pending) > 1 else pending[0])
                    pending, count = [], 0
            if pending:
                yield self._run(np.concatenate(pending))
        else:  # rows are timesteps: the cloud needs all of them
            rows = list(self.spikes)
            check_timesteps(sum(len(r) for r in rows), self.info, self.info["model"])
            yield self._run(np.concatenate(rows) if rows else np.zeros((0, *self.spikes.frame_shape), np.uint8))

    def _run(self, block: np.ndarray) -> Any:
        logits = _run_cloud(self.model, block, self._perm)
        self.images_read += logits.shape[0]
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


def cloud_logits(source: str | os.PathLike | bytes | BinaryIO, model: str | None = None, *, priors: Any = None) -> Any:
    """All logits (N, classes) of a complete spike file or byte string (see :class:`CloudStream`).

    >>> logits = cloud_logits(edge_encode(images))
    """
    import torch

    with CloudStream(source, model, priors=priors) as cloud:
        parts = list(cloud)
        if not parts:  # a stream of no images: no logits, of the model's classes
            parts = [cloud._run(np.zeros((0, *cloud.spikes.frame_shape), np.uint8))]
        return torch.cat(parts)
