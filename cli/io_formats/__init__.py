"""Reading and writing the user's array files: .npy, .npz, .pt, .h5/.hdf5 (and .spk as an input).

Only the format glue lives here; torch and h5py are imported when a file of theirs is touched.
A file written by ``spikecodec decode`` keeps the spike file's axes and metadata where its format
has room for them (.npz: arrays ``axes`` and ``metadata``; .h5: attributes of ``spikes``), and
``spikecodec encode`` picks them up again from there.

Inputs may be careless or hostile, so every reader checks before it reads: the array's size as
its file declares it against ``max_bytes`` (the same default as spike files), before anything is
allocated or decompressed; only regular files are opened (not directories, FIFOs or devices);
nothing is ever unpickled; HDF5 external links, external storage and virtual datasets are never
followed (they would read other files); stored axes, metadata and bits are checked like a spike
file's header. Every refusal is a ``ValueError`` (or a ``LimitError`` for a size over the limit)
of one line.
"""

from __future__ import annotations

from spikecodec.container.source import binary_stdin  # the library's rule for stdin

from .checks import (
    DATASET,
    INPUT_FORMATS,
    OUTPUT_FORMATS,
    Loaded,
    array_text,
    check_dtype,
    check_regular,
    check_size,
    display_name,
    file_format,
    limit_error,
    one_line,
    open_regular,
    over_limit,
    READ_PIECE,
    read_exact,
    read_into,
    split_key,
)
from .npy import load_npy, read_npy_header
from .read import read_input
from .stored import parse_axes, parse_bits, parse_metadata
from .write import array_format, output_format, write_array

__all__ = [
    "array_format",
    "READ_PIECE",
    "read_into",
    "DATASET",
    "INPUT_FORMATS",
    "Loaded",
    "OUTPUT_FORMATS",
    "array_text",
    "binary_stdin",
    "check_dtype",
    "check_regular",
    "check_size",
    "display_name",
    "file_format",
    "limit_error",
    "load_npy",
    "one_line",
    "open_regular",
    "output_format",
    "over_limit",
    "parse_axes",
    "parse_bits",
    "parse_metadata",
    "read_exact",
    "read_input",
    "read_npy_header",
    "split_key",
    "write_array",
]
