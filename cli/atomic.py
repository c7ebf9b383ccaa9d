"""The library's atomic outputs (:mod:`spikecodec.output`), as the commands use them."""

from spikecodec.output import STDIO, atomic_path, binary_output, terminate_cleanly, write_file

__all__ = ["STDIO", "atomic_path", "binary_output", "terminate_cleanly", "write_file"]
