"""Pieces several subcommands share: opening spike files, streaming one out, parsing options."""

from __future__ import annotations

import argparse
from typing import Any, Callable, Sequence

import numpy as np

import spikecodec
from spikecodec.codecs.registry import CodecLike
from spikecodec.container.header import axis_names
from spikecodec.container.source import read_stream
from spikecodec.json_text import strict_json
from spikecodec.container.writer import normalize_chunk
from spikecodec.limits import DEFAULT_MAX_DECODED_BYTES, ReadLimits

from ..atomic import STDIO, output_file
from ..errors import CliError, about, describe
from ..io_formats import OUTPUT_FORMATS, binary_stdin, file_format
from ..progress import bar
from ..text import is_utf8

BLOCK_ELEMENTS = 1 << 22  # frames are streamed in blocks of about this many elements


def open_spike(name: str, *, recover: bool = False, priors: Any = None,
               limits: ReadLimits | None = None) -> tuple[spikecodec.SpikeReader, int]:
    """Open a spike file (``-``: stdin, read whole since a reader needs the trailer); also its size."""
    if name == STDIO:  # read as the library reads a pipe: refused at its first bytes if they start no spike file, within --max-bytes
        data = read_stream(binary_stdin(), (limits or ReadLimits()).max_bytes)
        return spikecodec.open(data, recover=recover, priors=priors, limits=limits), len(data)
    reader = spikecodec.open(name, recover=recover, priors=priors, limits=limits)
    return reader, reader.file_bytes  # a named pipe's size is what was read, not its stat's 0


SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``1073741824``, ``512M``, ``2G`` (binary units, an optional trailing B or iB)."""
    t = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = t[-1:] if t[-1:] in SIZE_UNITS else ""
    number = t[: len(t) - len(unit)]
    shown = repr(text if len(text) <= 40 else text[:37] + "...")
    try:
        value: int | float = int(number) if number.isdigit() else float(number)  # digits exactly, at any length
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a size like 1073741824, 512M or 2G, got {shown}") from None
    if not 0 <= value < float("inf"):  # negative, NaN, or inf (1e400): int() of it raised OverflowError
        raise argparse.ArgumentTypeError(f"expected a non-negative size, got {shown}")
    size = value * SIZE_UNITS[unit]
    if size != int(size):  # 1.5 was taken as 1 without a word (0.5G is 512M: whole)
        raise argparse.ArgumentTypeError(f"expected a whole number, got {shown}")
    return int(size)


def seconds(text: str) -> float:
    """An argparse type: a number of seconds as :func:`spikecodec.container.stream.wait_seconds`
    takes it (at least 0; ``inf``: as long as it takes; never NaN)."""
    from spikecodec.container.stream import wait_seconds

    try:
        return wait_seconds(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds of at least 0, got {text!r}") from None


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def add_limit_options(parser: Any) -> None:
    """--max-bytes and --max-work: the reader's limits (spikecodec.ReadLimits); a file over
    them is refused with exit status 3."""
    parser.add_argument("--max-bytes", type=parse_size, metavar="SIZE", default=DEFAULT_MAX_DECODED_BYTES,
                        help="most bytes one read may decode to, e.g. 4G (default 1G); over it: exit 3")
    parser.add_argument("--max-work", type=parse_size, metavar="N", default=None,
                        help="most decoded elements per stored byte of a chunk (default: no limit); over it: exit 3")


def read_limits(args: argparse.Namespace) -> ReadLimits:
    return ReadLimits(max_bytes=args.max_bytes, max_work=args.max_work)


def add_prior_option(parser: Any, help: str = "a prior file the spike file may name (repeatable)") -> None:
    parser.add_argument("--prior", metavar="FILE", action="append", help=help)


def stdin_once(names: Sequence[str]) -> None:
    """A usage error when ``-`` (standard input) is named more than once: the second read found
    it empty, and said so as if it were an empty file."""
    if list(names).count(STDIO) > 1:
        raise CliError(STDIO, "standard input can be read once: name it once", 2)


def read_files(args: Any, *named: str) -> list[str]:
    """Every file a command reads - ``named`` (its inputs), and the files its options name
    (--prior, --labels, --token-file, --tls-ca) - for the check that its output is none of them:
    an output naming the --prior file replaced the prior, and the file written needed it."""
    files = [n for n in named if n is not None]
    files += [p for p in getattr(args, "prior", None) or () if p != "none"]
    files += [f for f in (getattr(args, o, None) for o in ("labels", "token_file", "tls_ca")) if isinstance(f, str)]
    return files


def load_priors(paths: Sequence[str] | None, max_bytes: int | None = None) -> list[Any]:
    """The priors named by --prior, each read and checked (a bad one is that file's error), their
    tables within ``max_bytes`` (--max-bytes) when given."""
    from spikecodec.prior import load_prior

    priors = []
    for path in paths or ():
        if not path:  # open("") said only "No such file or directory", naming no file and no option
            raise CliError("--prior", "an empty name names no file", 2)
        with about(path):
            priors.append(load_prior(path, max_bytes))
    return priors


def model_name(name: str | None) -> str:
    """The shipped model ``name`` names (default: the default reference), checked without loading
    it (nor torch); an unknown name is the fault of the option naming it."""
    from spikecodec.models.reference import DEFAULT_REFERENCE, reference_path

    try:
        reference_path(name)
    except KeyError as exc:
        raise CliError("--model", describe(exc), 2) from None
    return name or DEFAULT_REFERENCE


def load_model(name: str | None) -> tuple[Any, dict[str, Any]]:
    """A shipped model and its metadata; an unknown name is the fault of the option naming it."""
    from spikecodec.models.coinference import load_split

    try:
        return load_split(name)
    except KeyError as exc:
        raise CliError("--model", describe(exc), 2) from None


def rows_per_block(frame_shape: Sequence[int]) -> int:
    return max(1, BLOCK_ELEMENTS // max(1, int(np.prod(frame_shape))))


def _block_rows(shape: tuple[int, ...], chunk: Sequence[int] | None) -> int:
    """Frames :func:`write_spike` hands the writer at a time: about BLOCK_ELEMENTS, in whole rows
    of chunks (``chunk[0]`` frames), so that the writer never has to keep a partial row and join
    its blocks into a copy. A row taller than a block goes whole: the writer codes whole rows, so
    it holds one anyway, and ``frames`` may give it as a view (a 1-D array is a single row)."""
    step = rows_per_block(shape[1:])
    try:
        row = normalize_chunk(chunk, shape)[0]
    except (ValueError, TypeError, OverflowError):
        return step  # a chunk that does not fit: the writer says why
    return row if row >= step else step // row * row


def write_spike(
    output: str,
    frames: Callable[[int, int], np.ndarray],
    shape: tuple[int, ...],
    *,
    codec: CodecLike | list[CodecLike] | None,
    axes: Sequence[str] | None,
    chunk: Sequence[int] | None,
    metadata: dict[str, Any] | None,
    bits: int,
    quiet: bool,
    inputs: Sequence[str] = (),
    **options: Any,
) -> None:
    """Write a spike file whose rows ``a:b`` are ``frames(a, b)``, block by block with a progress bar.

    The bytes are those of :func:`spikecodec.save` with the same options (the same writer, fed in
    blocks); a path is replaced atomically, ``-`` streams to stdout (:mod:`spikecodec.output`);
    ``inputs`` are files the output must not be.
    """
    n = shape[0]
    step = _block_rows(shape, chunk)
    with output_file(output, inputs) as f, bar(int(np.prod(shape)), "encode", quiet) as progress:
        with spikecodec.SpikeWriter(f, codec=codec, axes=axes, chunk=chunk, metadata=metadata, bits=bits, length=n, **options) as w:
            for a in range(0, max(n, 1), step):  # an empty array still writes its (empty) frames once
                block = frames(a, min(a + step, n))
                w.write_frames(block)
                progress.update(block.size)


def parse_axes(text: str | None) -> tuple[str, ...] | None:
    """``TNCHW`` (one letter per axis) or ``time,batch,ch`` (comma-separated names)."""
    if text is None:
        return None
    names = axis_names(text)
    if not names or not all(names):
        raise CliError("--axes", f"empty axis name in {text!r}", 2)
    return names


def parse_chunk(text: str | None) -> tuple[int, ...] | None:
    """``1`` or ``1,16``: chunk sizes along the leading axes."""
    if text is None:
        return None
    try:
        sizes = tuple(int(p) for p in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise CliError("--chunk", f"expected positive sizes like 1 or 1,16, got {text!r}", 2)
    return sizes


def parse_meta(items: Sequence[str] | None) -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON (number, bool, list, null) keeps its type."""
    meta: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError("--meta", f"expected key=value, got {item!r} (put INPUT before --meta)", 2)
        if not is_utf8(item):  # bytes of another encoding in the argument: metadata is UTF-8 JSON
            raise CliError("--meta", f"{ascii(item)} is not UTF-8 text", 2)
        if key in meta:  # as in any JSON text of the format (json_text): the last one silently won
            raise CliError("--meta", f"a key appears twice: {key!r}", 2)
        try:
            meta[key] = strict_json(value)
        except ValueError as exc:
            if str(exc) == "nested too deeply" or value.lstrip()[:1] in ("[", "{"):
                raise CliError("--meta", f"{key}: the value is not valid JSON ({exc})", 2) from None
            meta[key] = value  # plain text
    return meta


def check_output_name(output: str) -> None:
    """A usage error for ``-o ''``: it was "an empty name names no file" (decode: "unknown output
    format") with neither the option nor exit status 2 of a usage error."""
    if output == "":
        raise CliError("-o", "an empty name names no file", 2)


def refuse_array_output(output: str, command: str, hint: str = "to write an array file use `spikecodec decode`") -> None:
    """A command that writes a spike file refuses an OUT named as an array file (.npy, .npz, .pt,
    .h5) before any work: the spike file under that name would be no such file."""
    if output != STDIO and file_format(output) in OUTPUT_FORMATS:
        raise CliError(output, f"{command} writes a spike file (.spk); {hint}", 2)


def parse_codec(text: str | None, level: int | None) -> CodecLike | list[CodecLike] | None:
    """``zstd``, ``raw,zstd`` (a pipeline) or JSON (``{"id": "zstd", "level": 19}``); ``--level``
    sets the level of the last stage. Checked against the codec registry before any work. None
    (no ``--codec``): the library's default - the ``--prior``'s codec, else the element type's,
    which the input decides."""
    from spikecodec.codecs import Pipeline, default_codec

    codec: Any
    if text is None:
        if level is None:
            return None
        codec = default_codec(1)  # for --level's error: no default codec takes a level
    elif text.lstrip().startswith(("{", "[")):
        try:
            codec = strict_json(text)
        except ValueError as exc:  # deep nesting included (json.loads raised RecursionError)
            raise CliError("--codec", f"bad JSON: {exc}", 2) from None
    else:
        stages = [s.strip() for s in text.split(",")]
        codec = stages if len(stages) > 1 else stages[0]
    try:
        Pipeline.from_user(codec)
    except (ValueError, TypeError) as exc:
        raise CliError("--codec", str(exc), 2) from None
    if level is not None:  # checked by the same registry, after the codec itself: a codec without a level is --level's error
        stages = list(codec) if isinstance(codec, list) else [codec]
        last = stages[-1]
        stages[-1] = {**(last if isinstance(last, dict) else {"id": last}), "level": level}
        codec = stages if len(stages) > 1 else stages[0]
        try:
            Pipeline.from_user(codec)
        except (ValueError, TypeError) as exc:
            raise CliError("--level", str(exc), 2) from None
    return codec
