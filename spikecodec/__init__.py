"""spikecodec: a container and codecs for multi-timestep spike tensors.

Numpy first; torch tensors are accepted wherever an array is, but ``import spikecodec`` never
imports torch (the networks live in :mod:`spikecodec.models`, imported on demand).
"""

from .api import decode, encode, load, open, save
from .codecs import get_codec, register_codec, registered_codecs
from .container.link import LinkDecoder, LinkEncoder
from .container.reader import SpikeReader
from .container.stream import SpikeStream
from .container.validate import Problem, ValidationReport, validate
from .container.writer import SpikeWriter
from .errors import FormatError, LimitError
from .layout import MAJOR_VERSION, MINOR_VERSION
from .limits import ReadLimits
from .output import OutputError
from .prior import Prior, load_prior
from .training import train_prior

__version__ = "0.1.0"
FORMAT_VERSION = (MAJOR_VERSION, MINOR_VERSION)

__all__ = [
    "FORMAT_VERSION",
    "FormatError",
    "LimitError",
    "LinkDecoder",
    "LinkEncoder",
    "OutputError",
    "Prior",
    "Problem",
    "ReadLimits",
    "SpikeReader",
    "SpikeStream",
    "SpikeWriter",
    "ValidationReport",
    "decode",
    "encode",
    "get_codec",
    "load",
    "load_prior",
    "open",
    "register_codec",
    "registered_codecs",
    "save",
    "train_prior",
    "validate",
]
