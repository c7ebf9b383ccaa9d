"""The library's outputs (:mod:`spikecodec.output`), as the commands use them."""

from spikecodec.output import (
    STDIO,
    OutputError,
    atomic_path,
    binary_output,
    interrupting_signal,
    output_file,
    output_path,
    reads_back,
    refuse_inputs,
    terminate_cleanly,
    write_file,
    written_through,
)

__all__ = ["STDIO", "OutputError", "atomic_path", "binary_output", "interrupting_signal", "output_file", "output_path", "reads_back", "refuse_inputs",
           "terminate_cleanly", "write_file", "written_through"]
