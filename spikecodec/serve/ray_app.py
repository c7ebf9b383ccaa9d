"""The cloud half as a Ray Serve deployment: scale-out across the machines of a Ray cluster, with
request batching (``@serve.batch``) inside each replica. Needs the ``ray`` extra
(``pip install "spikecodec[ray]"``); docs/serve.md says how to run it on a cluster.

    serve run spikecodec.serve.ray_app:app                       # a local Ray, HTTP on :8000
    serve run spikecodec.serve.ray_app:build_app max_batch=128 num_replicas=4

A request is a *spike stream*: a link stream's header message and one or more one-image chunk
messages, in order (what one edge sends for a clip; a single image is a header and one message).
Unlike ``spikecodec serve``'s WebSocket streams, a request carries its own header, so it needs no
replica affinity: Ray may route any request to any replica on any machine. Each replica decodes
a request's messages with a decoder of its own (the link decoder is stateful, so one request's
messages are decoded in order, by one replica), and runs the images of all the requests that
arrived together through the cloud half in one batch. The answers are the offline cloud half's
(``spikecodec cloud`` on the same messages as one spike file).

* from Python (a deployment handle, anywhere in the cluster):
  ``handle.predict.remote(header, messages).result()`` gives ``{"classes": int64 (n,),
  "logits": float32 (n, classes)}``;
* over HTTP: ``POST /`` with a complete spike file (``spikecodec edge -o clip.spk``: header,
  messages, end message) as the body gives JSON ``{"classes": [...], "logits": [[...]]}``;
  a file that does not decode is answered 400 with a one-line reason.

This module imports ray; ``import spikecodec`` and ``import spikecodec.serve`` never import it.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from ray import serve

MAX_BATCH = 64  # images per cloud-half batch (requests are batched, then split by their images)
MAX_WAIT_S = 0.005
MAX_IMAGES = 4096  # images one request may carry: a replica's memory for a request is bounded by it


class CloudHalf:
    """One replica: the model's cloud half, its shipped prior, and a batched forward."""

    def __init__(self, model: str | None = None, torch_threads: int | None = None, max_batch: int = MAX_BATCH,
                 max_wait_s: float = MAX_WAIT_S, max_images: int = MAX_IMAGES) -> None:
        import torch

        from ..limits import ReadLimits
        from ..models.coinference import EDGE_AXES, MODEL_AXES, load_split, shipped_prior

        self.forward.set_max_batch_size(max_batch)
        self.forward.set_batch_wait_timeout_s(max_wait_s)
        self.perm = [EDGE_AXES.index(a) for a in MODEL_AXES]  # the streams' N, T, C, H, W to the model's order

        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.net, self.info = load_split(model)
        self.axes = EDGE_AXES
        self.prior = shipped_prior(self.info["model"])
        # One message is one image: a message that would decode to more is refused before decoding.
        self.limits = ReadLimits(max_bytes=math.prod(self.info["code_shape"]))
        # A request's images, however few bytes code them (a 2 KB file of zeros declared a
        # million images, 373 MiB decoded, then one forward over all of them): refused past this.
        self.max_images = max_images
        self.file_limits = ReadLimits(max_bytes=max_images * math.prod(self.info["code_shape"]))
        self.batch_sizes: list[int] = []  # images per forward, for tests and tuning

    def decode(self, header: bytes, messages: Sequence[bytes]) -> np.ndarray:
        """The images of one stream, (n, T, C, H, W) uint8; ValueError (one line) for a header
        or message that does not decode, or a message that is not exactly one image."""
        from ..errors import FormatError, LimitError
        from ..models.coinference import CloudDecoder

        if len(messages) > self.max_images:
            raise ValueError(f"{len(messages)} images in one request; at most {self.max_images} (max_images)")
        try:
            decoder = CloudDecoder(bytes(header), self.info["model"], priors=[self.prior] if self.prior else None, limits=self.limits)
        except FormatError as exc:
            raise ValueError(f"bad header message: {exc.message}") from None
        if decoder.link.axes != self.axes:
            raise ValueError(f"axes {''.join(decoder.link.axes)}; this deployment takes {''.join(self.axes)} streams")
        frames = []
        for i, message in enumerate(messages):
            try:
                f = decoder.link.decode(bytes(message))
            except LimitError:
                raise ValueError(f"image {i}: the message decodes to more than one image; one image per message") from None
            except FormatError as exc:
                raise ValueError(f"image {i}: bad message: {exc.message}") from None
            if f.shape[0] != 1:
                raise ValueError(f"image {i}: the message holds {f.shape[0]} images; one image per message")
            frames.append(f)
        if not frames:
            return np.zeros((0, *self.info["code_shape"]), np.uint8)
        return np.concatenate(frames)

    def decode_file(self, data: bytes) -> np.ndarray:
        """The images of a complete spike file (header, messages, end message), as :meth:`decode`."""
        from ..container.stream import SpikeStream
        from ..errors import FormatError, LimitError

        too_many = f"more than {self.max_images} images in one request (max_images)"
        try:
            with SpikeStream(data, priors=[self.prior] if self.prior else None, limits=self.file_limits) as stream:
                if tuple(stream.axes) != tuple(self.axes) or tuple(stream.frame_shape) != tuple(self.info["code_shape"]):
                    raise ValueError(f"spikes of axes {''.join(stream.axes)} and frames {tuple(stream.frame_shape)}; this "
                                     f"deployment takes {''.join(self.axes)} streams of {tuple(self.info['code_shape'])}")
                rows, images = [], 0
                for row in stream:
                    images += len(row)
                    if images > self.max_images:
                        raise ValueError(too_many)
                    rows.append(row)
        except LimitError as exc:  # a row of more images than a request may carry (or an embedded prior over it), before decoding
            raise ValueError(f"over this deployment's limits: {exc.message} (at most {self.max_images} images a request: "
                             "max_images)") from None
        except FormatError as exc:
            raise ValueError(f"bad spike file: {exc.message}") from None
        if not rows:
            return np.zeros((0, *self.info["code_shape"]), np.uint8)
        return np.concatenate(rows)

    @serve.batch(max_batch_size=MAX_BATCH, batch_wait_timeout_s=MAX_WAIT_S)
    async def forward(self, requests: list[np.ndarray]) -> list[np.ndarray]:
        """The cloud half over the images of every request that arrived together, in one batch;
        each request's logits (n_i, classes), float32. ``max_batch_size`` counts requests."""
        from ..models.coinference import _run_cloud

        sizes = [len(r) for r in requests]
        self.batch_sizes.append(sum(sizes))
        logits = _run_cloud(self.net, np.concatenate(requests), self.perm).float().numpy()
        ends = np.cumsum(sizes)[:-1]
        return np.split(logits, ends)

    async def predict(self, header: bytes, messages: Sequence[bytes]) -> dict[str, np.ndarray]:
        """Classes and logits of a stream's images: ``{"classes": (n,) int64, "logits": (n, classes) float32}``."""
        frames = self.decode(header, messages)
        logits = await self.forward(frames) if len(frames) else np.zeros((0, 0), np.float32)
        return {"classes": logits.argmax(1).astype(np.int64) if len(frames) else np.zeros(0, np.int64), "logits": logits}

    def stats(self) -> dict[str, Any]:
        """Images per forward so far (a test checks that requests were batched together)."""
        return {"batches": len(self.batch_sizes), "images": int(sum(self.batch_sizes)),
                "largest": max(self.batch_sizes, default=0)}

    async def __call__(self, request: Any) -> Any:
        """HTTP: a complete spike file as the body; JSON classes and logits, or 400 and a reason."""
        from starlette.responses import JSONResponse

        try:
            frames = self.decode_file(await request.body())
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        logits = await self.forward(frames) if len(frames) else np.zeros((0, 0), np.float32)
        return JSONResponse({"classes": logits.argmax(1).tolist() if len(frames) else [], "logits": logits.tolist()})


def deployment(*, num_replicas: int | str = 1, num_cpus: float = 1, max_ongoing_requests: int = 256) -> Any:
    """The deployment with these settings (``num_replicas="auto"`` autoscales). Each replica
    reserves ``num_cpus`` CPUs of the cluster."""
    return serve.deployment(CloudHalf, name="SpikecodecCloudHalf", num_replicas=num_replicas,
                            max_ongoing_requests=max_ongoing_requests, ray_actor_options={"num_cpus": num_cpus})


def build_app(args: dict[str, str] | None = None) -> Any:
    """The application, for ``serve run spikecodec.serve.ray_app:build_app key=value ...`` or a
    Serve config file (``import_path`` and ``args``): ``model``, ``max_batch``, ``max_wait_ms``,
    ``max_images`` (per request), ``num_replicas`` (a number or ``auto``), ``num_cpus`` (per
    replica), ``torch_threads``."""
    args = dict(args or {})
    replicas = args.get("num_replicas", "1")
    num_cpus = float(args.get("num_cpus", 1))
    threads = int(args["torch_threads"]) if "torch_threads" in args else max(1, int(num_cpus))
    dep = deployment(num_replicas=replicas if replicas == "auto" else int(replicas), num_cpus=num_cpus)
    return dep.bind(model=args.get("model") or None, torch_threads=threads, max_batch=int(args.get("max_batch", MAX_BATCH)),
                    max_wait_s=float(args.get("max_wait_ms", MAX_WAIT_S * 1000)) / 1000,
                    max_images=int(args.get("max_images", MAX_IMAGES)))


app = build_app()
