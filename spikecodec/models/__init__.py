"""Reference SpikeBottleNet networks (torch): spiking backbones split by a spiking bottleneck.

Edge-cloud co-inference: `edge_write` / `edge_encode` (images -> spike messages, one image at a
time by default, coded from the model's shipped prior), `CloudStream` / `cloud_logits` (spikes
-> logits, as the bytes arrive), and `EdgeEncoder` / `CloudDecoder` (one message at a time, for
a transport of your own).

Importing this package does not import torch; `load_reference`, the functions that run a model
and the submodules do
(`spikecodec.models.resnet`, `.mobilenet`, `.bottleneck`, `.baselines`, `.energy`, `.train`, ...).
"""

from .coinference import CloudDecoder, CloudStream, EdgeEncoder, cloud_logits, edge_encode, edge_write, load_split, shipped_prior
from .reference import REFERENCE_DIR, list_references, load_reference

__all__ = [
    "REFERENCE_DIR",
    "CloudDecoder",
    "CloudStream",
    "EdgeEncoder",
    "cloud_logits",
    "edge_encode",
    "edge_write",
    "list_references",
    "load_reference",
    "load_split",
    "shipped_prior",
]
