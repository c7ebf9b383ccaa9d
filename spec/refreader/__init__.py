"""The spec's own reader of spike files, written from FORMAT.md and spec/README.md alone: it
imports nothing of spikecodec, so the conformance vectors test the text, not the library.

Modules: common (problems, CRCs, JSON, varints, packing), container (sections 2 - 7, 10),
codecs (9.1 - 9.3 and the pipeline), rans (9.4.2 - 9.4.8), ctxmix (9.4.9), mix (9.4.10),
winmix, countmix, chanmix and framemix (9.4.11, 9.4.13 - 9.4.15), ctxfast (9.4.12), neuronmix (9.4.17),
priors (14), vectors (checking spec/manifest.json).
"""
from .common import Problem
from .container import read, recover
from .priors import bind, load_prior

__all__ = ["Problem", "read", "recover", "load_prior", "bind"]
