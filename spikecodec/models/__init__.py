"""Reference SpikeBottleNet networks (torch): spiking backbones split by a spiking bottleneck.

Importing this package does not import torch; `load_reference` and the submodules do
(`spikecodec.models.resnet`, `.mobilenet`, `.bottleneck`, `.baselines`, `.energy`, `.train`, ...).
"""

from .reference import REFERENCE_DIR, list_references, load_reference

__all__ = ["REFERENCE_DIR", "list_references", "load_reference"]
