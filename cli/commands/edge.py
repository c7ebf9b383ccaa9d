"""``spikecodec edge``: images -> a shipped model's edge half -> spike messages, one image at a time."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from spikecodec.container.writer import COMPACT_RECORDS

from ..atomic import STDIO, output_file, reads_back
from ..errors import CliError, about, describe, printable
from ..images import read_images
from ..io_formats import array_format, display_name
from ..progress import bar
from ..text import path_text
from .common import add_limit_options, add_prior_option, load_model, parse_codec, parse_meta, refuse_array_output, read_files

HELP = "run a model's edge half on images and write its spikes, one message per image"
EPILOG = """\
examples:
  spikecodec edge --images t10k-images-idx3-ubyte.gz -o feats.spk        # the default model
  spikecodec edge --images photos/ --model snn-resnet-fmnist -o - | nc server 9000
  spikecodec edge --images x.npy -o feats.spk --batch 256 --prior none
  spikecodec edge --images x.npy --connect server:8000 --token-file tokens.txt -o preds.npy

The output is a spike stream with axes N,T,C,H,W: a header, then one compact record per image
(or per --batch N images), each written and flushed as soon as the edge half has run, then the
index. To standard output (-o -) each record goes out as soon as it is made, so `edge -o - |
spikecodec cloud -` predicts image by image; a file (-o FILE) is written beside its name and
renamed into place when the edge ends (an earlier FILE is never half-replaced), so a `cloud`
reading FILE meanwhile reads the earlier one. Records are coded by ctxmix
from the model's shipped prior (trained on its training images only), so one image costs about
what it costs inside a large batch; the stream names the prior by digest and the cloud finds
the shipped one itself. --prior FILE uses another (`spikecodec train-prior`), --prior none
none; --embed-prior puts the prior in the header (a reader then needs nothing else).

The metadata holds the model, split, neuron parameters (tau, v_th, T), code shape (T, C, H, W)
and input shape (C, H, W). SRC: an IDX file, gzipped or not (MNIST style), a .npy array (N, H, W)
or (N, C, H, W), or a folder of .png images read in sorted file-name order (8-bit grayscale or
RGB, one size).

--connect HOST:PORT sends the messages to a `spikecodec serve` server instead (its model's
shipped prior; --tls-ca CA.pem for TLS, --token-file with the token on its first line) and
writes the predicted classes it answers, as int64 .npy, to OUT.
"""

LONG_WORK_IMAGES = 2000  # below this many images a run takes a few seconds: no progress bar


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("edge", help=HELP, description=HELP, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", metavar="SRC", required=True, help="images: an IDX file, a .npy array or a folder of PNGs")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="spike stream to write, or - (stdout)")
    p.add_argument("--model", metavar="NAME", help="the shipped model (default: the default reference; see `spikecodec models`)")
    p.add_argument("--batch", type=int, default=1, metavar="N", help="images per message (chunk); default 1")
    p.add_argument("--records", choices=COMPACT_RECORDS, default="compact",
                   help="compact records with keyed checks (format 1.7, the default), or unkeyed for a cloud of format 1.3-1.6")
    p.add_argument("--codec", metavar="ID", help="codec id or pipeline (default ctxmix)")
    p.add_argument("--level", type=int, metavar="N", help="compression level of the (last) codec")
    add_prior_option(p, "the prior to code from: a prior file, or 'none' (default: the model's shipped prior, which is for the default codec, ctxmix: another --codec codes without one)")
    p.add_argument("--embed-prior", action="store_true", help="put the prior in the stream's header")
    p.add_argument("--meta", metavar="KEY=VALUE", nargs="+", action="extend", help="more metadata (values that parse as JSON keep their type)")
    p.add_argument("--connect", metavar="HOST:PORT", help="send to a `spikecodec serve` server; OUT gets its predictions (.npy)")
    p.add_argument("--token-file", metavar="F", help="with --connect: the token (first line of F)")
    p.add_argument("--tls-ca", metavar="C", help="with --connect: TLS, verifying the server with CA certificate C")
    add_limit_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no summary line, no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from spikecodec.models.coinference import LINK_CODEC, SHIPPED, as_images, edge_write, resolve_prior, stream_metadata

    if args.batch < 1:
        raise CliError("--batch", f"expected a positive number of images, got {args.batch}", 2)
    if args.connect is not None:
        return run_connected(args)
    for option, given in (("--token-file", args.token_file), ("--tls-ca", args.tls_ca)):
        if given is not None:
            raise CliError(option, "only with --connect", 2)
    refuse_array_output(args.output, "edge", "predictions (.npy) come with --connect, or from `spikecodec cloud`")
    codec = parse_codec(args.codec or LINK_CODEC, args.level)
    meta = parse_meta(args.meta)
    _, info = load_model(args.model)
    try:  # before any work: a key of the model's own would misname the stream's producer
        stream_metadata(info, meta)
    except ValueError as exc:
        raise CliError("--meta", str(exc), 2) from None
    if args.prior is None:
        prior = SHIPPED
    elif args.prior == ["none"]:
        prior = None
    elif len(args.prior) > 1:
        raise CliError("--prior", "edge codes from one prior", 2)
    else:
        prior = args.prior[0]
    with about(prior if isinstance(prior, str) and prior != SHIPPED else "--prior"):
        used = resolve_prior(prior, info["model"], codec)
    if args.embed_prior and used is None:
        raise CliError("--embed-prior", "there is no prior to embed", 2)
    src = args.images
    with about(src):
        images = as_images(read_images(src, max_bytes=args.max_bytes), info["input_shape"])
        if len(images) == 0:
            raise ValueError("holds no images")
    out = display_name(args.output, "<stdout>")
    metadata = {"source": path_text(os.path.basename(os.path.normpath(src))), **meta}
    try:
        with output_file(args.output, read_files(args, src)) as f, bar(len(images), "edge", args.quiet, unit="img", long_work=LONG_WORK_IMAGES) as progress:
            n = edge_write(images, f, info["model"], batch_size=args.batch, codec=codec, prior=used,
                           embed_prior=args.embed_prior, metadata=metadata, progress=progress.update, records=args.records)
    except OSError as exc:
        raise CliError(out, describe(exc)) from exc
    except ValueError as exc:  # codec parameters or a prior that do not fit
        raise CliError(src, describe(exc)) from exc
    if not args.quiet and reads_back(args.output):  # a pipe, device or FIFO has no size to tell
        size = os.path.getsize(args.output)
        shape = "x".join(map(str, info["code_shape"]))
        how = f"prior {used.digest[:12]}" if used is not None else "no prior"
        print(
            f"{printable(out)}: {n} images -> {info['model']} edge half (split {info['split']}) -> spikes {shape} (TCHW) each, "
            f"{min(args.batch, n)} per message, {how}; {size} bytes = {size / n:.1f} bytes/image",
            file=sys.stderr,
        )
    return 0


def run_connected(args: argparse.Namespace) -> int:
    """``--connect``: the edge half here, one message per image to a server; its answers to OUT."""
    from spikecodec.models.coinference import as_images
    from spikecodec.serve import ClientTimeout, ServeClient, ServeError, ServerProtocolError, parse_address, read_tokens

    given = [o for o, v in (("--batch", args.batch != 1), ("--codec", args.codec), ("--level", args.level),
                            ("--prior", args.prior), ("--embed-prior", args.embed_prior), ("--meta", args.meta)) if v]
    if given:
        raise CliError(given[0], "not with --connect: the client sends each image as one message, coded by the server's "
                       "model's link (ctxmix from its prior), with the model's own metadata", 2)
    if args.output != STDIO and array_format(args.output) != "npy":
        raise CliError(args.output, "with --connect, OUT is the predictions, written as .npy", 2)
    try:
        parse_address(args.connect)
    except ValueError as exc:
        raise CliError("--connect", str(exc), 2) from None
    token = None
    if args.token_file is not None:
        with about(args.token_file):
            token = read_tokens(args.token_file)[0]
    if args.tls_ca is not None:  # its problems are the file's, said before the server is named
        import ssl

        with about(args.tls_ca):
            ssl.create_default_context(cafile=args.tls_ca)
    _, info = load_model(args.model)
    src = args.images
    with about(src):
        images = as_images(read_images(src, max_bytes=args.max_bytes), info["input_shape"])
        if len(images) == 0:
            raise ValueError("holds no images")
    where = args.connect
    out = display_name(args.output, "<stdout>")
    # OUT is opened before the first image goes out, as without --connect: a missing folder or a
    # read-only place was found only after the server had run every image. Written only once the
    # last answer is in (an earlier OUT is never half-replaced).
    with about(out), output_file(args.output, read_files(args, src)) as f:
        try:
            with ServeClient(args.connect, token=token, model=info["model"], tls_ca=args.tls_ca) as client, \
                    bar(len(images), "edge", args.quiet, unit="img", long_work=LONG_WORK_IMAGES) as progress:
                def counted():
                    for image in images:
                        yield image
                        progress.update(1)
                result = client.predict(counted())
                sent = client.bytes_sent
        except (ServerProtocolError, ClientTimeout) as exc:  # this client ended the stream: its own words
            raise CliError(where, str(exc)) from exc
        except ServeError as exc:
            raise CliError(where, f"{exc.reason or 'connection closed'} (close code {exc.code})") from exc
        except (OSError, ValueError) as exc:  # cannot connect, TLS failures, a bad CA file
            raise CliError(where, describe(exc)) from exc
        np.lib.format.write_array(f, result.classes.astype(np.int64), allow_pickle=False)
    if not args.quiet:
        print(f"{printable(out)}: {len(result)} images -> {info['model']} edge half here -> cloud half at {where}; "
              f"{sent} bytes of messages = {sent / max(len(result), 1):.1f} bytes/image", file=sys.stderr)
    return 0
