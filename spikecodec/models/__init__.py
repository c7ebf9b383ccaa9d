"""Reference SpikeBottleNet networks (torch): spiking backbones split by a spiking bottleneck.

Edge-cloud co-inference on spike files: `edge_write` / `edge_encode` (images -> spikes, batch
by batch) and `CloudStream` / `cloud_logits` (spikes -> logits, as the bytes arrive).

Importing this package does not import torch; `load_reference`, the functions that run a model
and the submodules do
(`spikecodec.models.resnet`, `.mobilenet`, `.bottleneck`, `.baselines`, `.energy`, `.train`, ...).
"""

from .coinference import CloudStream, cloud_logits, edge_encode, edge_write, load_split
from .reference import REFERENCE_DIR, list_references, load_reference

__all__ = [
    "REFERENCE_DIR",
    "CloudStream",
    "cloud_logits",
    "edge_encode",
    "edge_write",
    "list_references",
    "load_reference",
    "load_split",
]
