"""The server's Prometheus metrics, in a registry of their own (one per app, so that two servers
in one process, as in the tests, count apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    """What ``/metrics`` shows: images answered, batches run and their sizes, per-image latency
    (frame received to answer sent), errors by kind, streams and the queue."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.images = Counter("spikecodec_serve_images", "images answered", registry=r)
        self.batches = Counter("spikecodec_serve_batches", "batches run through the cloud half", registry=r)
        self.batch_size = Histogram("spikecodec_serve_batch_size", "images per batch", buckets=BATCH_BUCKETS, registry=r)
        self.latency = Histogram("spikecodec_serve_latency_seconds", "per image: frame received to answer sent",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.errors = Counter("spikecodec_serve_errors", "streams ended by an error, by kind", ["kind"], registry=r)
        self.streams_opened = Counter("spikecodec_serve_streams_opened", "streams whose header was accepted (model work may start)", registry=r)
        self.streams = Gauge("spikecodec_serve_streams", "open streams", registry=r)
        self.queued = Gauge("spikecodec_serve_queued_images", "images waiting for the cloud half", registry=r)

    def observe_latencies(self, now: float, received: list[float]) -> None:
        """Each image's latency: ``now`` (its answer sent) minus when it was received."""
        observe = self.latency.observe
        for t0 in received:
            observe(now - t0)

    def text(self) -> bytes:
        """The Prometheus text exposition format."""
        return generate_latest(self.registry)
